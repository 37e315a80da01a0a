"""Hostile and unlucky inputs (issue 16, Musts 4-10): each case of the issue reproduced, each kept to its file.

Every expected value is stated here by hand (row counts of the synthetic sample file F: 177 rows of 44320) or
comes from reading the untouched file.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest
from conftest import FIXTURES, process_alive

from benchmark import cli, config, safe_text
from benchmark.ingest import routing
from benchmark.ingest.routing import read_file
from benchmark.reporting import provenance
from benchmark.reporting.batch import BatchSpecError, load_batch
from benchmark.reporting.parent_watch import descendants
from benchmark.reporting.report import ReportParams
from benchmark.sources import http
from benchmark.sources.http import RemotePolicy, SourceError, check_url
from benchmark.store import pipeline as store_pipeline
from benchmark.store import rate_store as st

F = sorted(config.SAMPLE_TIC_DIR.glob("*aetna*"))[0]  # 177 rows of 44320
G = sorted(config.SAMPLE_TIC_DIR.glob("*cigna-ppo*"))[0]


# --------------------------------------------------------------------------------------------- Must 4: hashed bytes
def test_a_file_rewritten_while_it_is_read_is_rejected_not_stored_under_the_old_hash(tmp_path):
    path = tmp_path / "plan.json.gz"
    shutil.copyfile(F, path)

    def rewriting_reader(source, codes, *, is_synthetic=False):
        time.sleep(0.01)
        shutil.copyfile(G, path)  # the publisher replaces the file between hashing and reading
        return read_file(source, codes, is_synthetic=is_synthetic)

    run = store_pipeline.ingest([path], ["44320"], tmp_path / "s", reader=rewriting_reader)
    assert run.count("rejected") == 1 and run.count("loaded") == 0
    assert "changed while it was read" in run.rejected[0].reason
    store = st.open_store(tmp_path / "s")
    assert store.loaded_codes() == {} and len(store.read_rates()) == 0
    # read again, unchanged, it loads under the hash of the bytes it now has
    run = store_pipeline.ingest([path], ["44320"], tmp_path / "s")
    assert run.count("loaded") == 1
    assert store.manifest()["sha256"].tolist() == [provenance.sha256_file(path)]


# --------------------------------------------------------------------------------------------- Must 5: fingerprints
def test_a_report_fingerprint_changes_when_files_are_ingested_into_its_store(tmp_path):
    store = tmp_path / "s"
    store_pipeline.ingest([F], ["44320"], store)
    params = ReportParams(code="44320", data_source=str(store))
    before = provenance.run_inputs(params, code="c")
    assert provenance.run_inputs(params, code="c").fingerprint == before.fingerprint  # stable while unchanged
    store_pipeline.ingest([G], ["44320"], store)
    after = provenance.run_inputs(params, code="c")
    assert after.fingerprint != before.fingerprint
    assert any(key.endswith(st.MANIFEST) for key in after.input_checksums)


# --------------------------------------------------------------------------------------------- Must 6: links, addresses
def _toc(tmp_path: Path, locations: list[str]) -> Path:
    toc = {
        "reporting_entity_name": "Test Payer",
        "reporting_entity_type": "health insurance issuer",
        "reporting_structure": [
            {
                "reporting_plans": [
                    {"plan_name": "P", "plan_id_type": "EIN", "plan_id": "1", "plan_market_type": "group"}
                ],
                "in_network_files": [{"description": "d", "location": loc} for loc in locations],
            }
        ],
        "version": "1.0.0",
    }
    path = tmp_path / "index.json"
    path.write_text(json.dumps(toc))
    return path


def test_table_of_contents_links_to_local_files_are_rejected_never_read(tmp_path, monkeypatch):
    local = tmp_path / "local.json.gz"
    shutil.copyfile(F, local)
    monkeypatch.chdir(tmp_path)  # the relative entry names a file that exists here
    locations = [str(local), "local.json.gz", "/dev/zero", f"file://{local}", "ftp://example.com/x.json"]
    toc = _toc(tmp_path, locations)
    started = time.monotonic()
    run = store_pipeline.ingest([toc], ["44320"], None)
    assert time.monotonic() - started < 60, "/dev/zero must not be read"
    assert len(run.result.rates) == 0  # the 177 rows of the local file were not loaded
    assert len(run.rejected) == len(locations)
    assert all("not an https URL" in r.reason for r in run.rejected)


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a00:5",  # NAT64 of 10.0.0.5
        "2002:a00:5::1",  # 6to4 of 10.0.0.5
        "::10.0.0.5",  # IPv4-compatible
        "::ffff:10.0.0.5",  # IPv4-mapped
        "::ffff:127.0.0.1",
        "64:ff9b:1::808:808",  # local-use NAT64
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "127.0.0.1",
        "169.254.169.254",  # cloud metadata (link-local)
        "100.64.0.1",  # carrier-grade NAT
        "fd00::1",
        "fe80::1%2",
        "::1",
    ],
)
def test_every_non_global_address_is_refused(monkeypatch, address):
    monkeypatch.setattr(
        http.socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, 443))]
    )
    with pytest.raises(SourceError, match="non-public address"):
        check_url("https://files.example.com/x.json", RemotePolicy(), is_link=True)


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_global_addresses_pass(monkeypatch, address):
    monkeypatch.setattr(
        http.socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, 443))]
    )
    assert check_url("https://files.example.com/x.json", RemotePolicy(), is_link=True) == [address]


def test_links_found_in_files_are_https_only():
    with pytest.raises(SourceError, match="only followed over https"):
        check_url("http://files.example.com/x.json", RemotePolicy(), is_link=True)
    with pytest.raises(SourceError, match="only http"):
        check_url("file:///etc/passwd", RemotePolicy(), is_link=True)


# --------------------------------------------------------------------------------------------- Must 7: one bad file
def test_bad_files_are_rejected_one_by_one_and_the_others_load(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copyfile(F, folder / "good.json.gz")
    shutil.copyfile(G, os.fsencode(folder) + b"/bad-name-\xff.json.gz")
    (folder / "latin1.json").write_bytes(b'{"reporting_entity_name": "Caf\xe9", "in_network": []}')
    status = cli.main(["ingest", str(folder), "--codes", "44320", "--out", str(tmp_path / "s")])
    printed = capsys.readouterr()
    assert status == 1
    assert "1 read into the store" in printed.out and "2 rejected" in printed.out
    assert "file name is not valid UTF-8" in printed.err and "\\xff" in printed.err
    assert "latin1.json" in printed.err
    assert len(st.open_store(tmp_path / "s").read_rates()) == 177


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_an_unreadable_file_is_one_rejected_file(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copyfile(F, folder / "good.json.gz")
    locked = folder / "locked.json.gz"
    shutil.copyfile(G, locked)
    locked.chmod(0)
    status = cli.main(["ingest", str(folder), "--codes", "44320", "--out", str(tmp_path / "s")])
    printed = capsys.readouterr()
    assert status == 1 and "Permission denied" in printed.err
    assert len(st.open_store(tmp_path / "s").read_rates()) == 177


def test_a_file_that_cannot_be_opened_is_one_rejected_file(tmp_path, monkeypatch):
    """The chmod-000 case as root sees it: opening raises PermissionError."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copyfile(F, folder / "good.json.gz")
    shutil.copyfile(G, folder / "locked.json.gz")
    real = routing.head_bytes

    def head(path):
        if Path(path).name == "locked.json.gz":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(routing, "head_bytes", head)
    run = store_pipeline.ingest([folder], ["44320"], tmp_path / "s")
    assert run.count("loaded") == 1 and run.count("rejected") == 1
    assert "Permission denied" in run.rejected[0].reason


# --------------------------------------------------------------------------------------------- Must 8: killed batch
_PARENT = textwrap.dedent(
    """
    import os, subprocess, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context
    from benchmark.reporting.parent_watch import die_with_parent

    def work(path):
        kernel = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
        with open(path, "w") as out:
            out.write(f"{os.getpid()} {kernel.pid}")
        time.sleep(120)

    if __name__ == "__main__":
        with ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=die_with_parent,
                                 initargs=(os.getpid(),)) as pool:
            pool.submit(work, sys.argv[1]).result()
    """
)


def test_a_killed_batch_takes_its_workers_and_their_kernels_with_it(tmp_path):
    script, pids = tmp_path / "parent.py", tmp_path / "pids"
    script.write_text(_PARENT)
    parent = subprocess.Popen([sys.executable, str(script), str(pids)], cwd=config.PROJECT_ROOT)
    try:
        deadline = time.monotonic() + 120
        while not (pids.exists() and pids.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.1)
        worker, kernel = map(int, pids.read_text().split())
        assert kernel in descendants(worker)
        parent.kill()  # kill -9: no handler runs in the parent
        parent.wait(30)
        deadline = time.monotonic() + 30
        while (process_alive(worker) or process_alive(kernel)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not process_alive(worker) and not process_alive(kernel)
    finally:
        parent.kill()


# --------------------------------------------------------------------------------------------- Must 9: resources
def test_validate_on_a_fifo_or_device_returns_at_once(tmp_path, capsys):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    assert cli.main(["validate", str(fifo), "/dev/zero"]) == 1
    out = capsys.readouterr().out
    assert "FIFO (named pipe), not a regular file" in out and "character device" in out


def test_ingest_of_a_fifo_is_one_rejected_file(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    run = store_pipeline.ingest([fifo, F], ["44320"], tmp_path / "s")
    assert run.count("rejected") == 1 and run.count("loaded") == 1
    assert "FIFO" in run.rejected[0].reason


def test_a_fifo_inside_a_folder_is_one_rejected_file_not_skipped(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copyfile(F, folder / "a.json.gz")
    os.mkfifo(folder / "b.json")
    run = store_pipeline.ingest([folder], ["44320"], None)
    assert len(run.result.rates) == 177
    assert [Path(r.source_file).name for r in run.rejected] == ["b.json"] and "FIFO" in run.rejected[0].reason


def test_a_single_huge_line_is_refused_early_in_bounded_memory(tmp_path):
    from benchmark.ingest.hospital.csvtext import MAX_LINE_BYTES

    path = tmp_path / "one-line.csv"
    with open(path, "wb") as out:
        out.write(b"hospital_name,last_updated_on,version\n")
        out.write(b"x," * (MAX_LINE_BYTES // 2 + (4 << 20)) + b"\n")  # 24 MB in one line
    tracemalloc.start()
    try:
        result = read_file(path, ["44320"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.rejected and "longer than 16 MB" in result.rejected[0].reason
    assert peak < 8 * MAX_LINE_BYTES, f"peak {peak / 1e6:.0f} MB"


def test_a_full_disk_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    def full_disk(self, path, *args, **kwargs):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full_disk)
    assert cli.main(["ingest", str(F), "--out", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("paybench: error: No space left on device: ")
    assert str(tmp_path / "s") in err[0]


# --------------------------------------------------------------------------------------------- Must 10: the rest
def test_billion_laughs_is_refused_fast_without_expanding(tmp_path, capsys):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    lines.append("reports: *i")
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    with pytest.raises(BatchSpecError, match="anchors and aliases"):
        load_batch(path)
    assert cli.main(["batch", str(path), "--out", str(tmp_path / "out")]) == 2
    assert time.monotonic() - started < 10
    err = capsys.readouterr().err
    assert len(err) < 1000 and "lol" not in err
    assert not (tmp_path / "out").exists()


HOSTILE = ['=HYPERLINK("http://x","y")', "@SUM(1+1)", "+1", "-1", "\tx", "\rx", "A\u202eB", "\u2066x\u2069"]


def test_every_csv_the_tool_writes_is_formula_and_bidi_safe(tmp_path, monkeypatch, capsys):
    table = pd.DataFrame({"payer_raw": HOSTILE, "rows": range(len(HOSTILE))})
    monkeypatch.setattr("benchmark.analysis.payer_review.review_sources", lambda *a, **k: table)
    out = tmp_path / "review.csv"
    assert cli.main(["payers", "review", str(F), "--out", str(out)]) == 0
    capsys.readouterr()
    cells = pd.read_csv(out, dtype=str, keep_default_na=False)["payer_raw"].tolist()
    assert cells == [
        '\'=HYPERLINK("http://x","y")',
        "'@SUM(1+1)",
        "'+1",
        "'-1",
        "'\tx",
        "'\rx",
        "A[U+202E]B",
        "[U+2066]x[U+2069]",
    ]
    assert not any(ch in out.read_text() for ch in safe_text.BIDI_CONTROLS)
    assert pd.read_csv(out)["rows"].tolist() == list(range(len(HOSTILE)))  # numbers stay numbers


def test_bidi_controls_are_shown_not_obeyed_in_html():
    page = "<td>plan\u202etxt.exe</td><td>\u200f\u2067x\u2069</td>"
    assert safe_text.neutralize_html(page) == "<td>plan[U+202E]txt.exe</td><td>[U+200F][U+2067]x[U+2069]</td>"


def test_tic_format_check_finds_in_network_after_a_large_provider_references(tmp_path):
    document = json.loads(gzip.decompress(F.read_bytes()))
    references = [
        {
            "provider_group_id": 900_000 + i,
            "provider_groups": [{"npi": [1234567893], "tin": {"type": "ein", "value": "12-3456789"}}],
        }
        for i in range(3000)
    ]
    in_network = document.pop("in_network")
    document["provider_references"] = references
    document["in_network"] = in_network
    path = tmp_path / "late-in-network.json"
    path.write_text(json.dumps(document))
    assert path.stat().st_size > 4 * 64 * 1024
    head = path.read_bytes()[:65536]
    assert b'"in_network"' not in head and b'"provider_groups"' in head
    assert routing.detect_format(path) == routing.TIC_IN_NETWORK
    result = read_file(path, ["44320"])
    assert not result.rejected and len(result.rates) == 177


# ------------------------------------------------------------------------------------------ text for a terminal
def test_control_characters_from_a_file_never_reach_the_terminal(tmp_path, capsys):
    """A code cell holding an ANSI escape sequence (recolour, clear the screen), a NUL and a right-to-left override,
    in a file whose name holds one too: `paybench validate` prints each as a visible escape, on one line."""
    example = json.loads((FIXTURES / "reference/hpt/v3.0.0/v3_json_format_example.json").read_text())
    example["standard_charge_information"][0]["code_information"][0]["code"] = "611\x1b[2J\x1b[31mX\x00\u202eY\nZ"
    path = tmp_path / "hospital\x1b]0;owned\x07.json"
    path.write_text(json.dumps(example), encoding="utf-8")
    assert cli.main(["validate", str(path)]) in (0, 1)
    out = capsys.readouterr().out
    assert "611" in out and "\\x1b[2J" in out and "[U+202E]" in out  # the value is shown, as escapes
    assert not [c for c in out if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F or c == "\u202e"]
    assert not [line for line in out.splitlines() if line.startswith("Z")]  # no line of the file's making


@pytest.mark.parametrize(
    ("text", "shown", "one_line"),
    [
        ("a\x1b[31mb", "a\\x1b[31mb", False),
        ("nul\x00del\x7fcsi\x9b", "nul\\x00del\\x7fcsi\\x9b", False),
        ("tab\tnew\nline", "tab\tnew\nline", False),  # a message's own layout
        ("tab\tnew\nline", "tab\\x09new\\x0aline", True),
        ("txt\u202eexe", "txt[U+202E]exe", False),
        ("plain text, é, 日本", "plain text, é, 日本", True),
    ],
)
def test_text_for_a_terminal_shows_control_characters_as_escapes(text, shown, one_line):
    assert safe_text.neutralize_terminal(text, one_line=one_line) == shown


def test_code_cells_holding_nul_are_each_read_as_themselves(tmp_path):
    """Two (code, type) cells that the old "code\\x00type" key merged — ("A\\x00B", "HCPCS") and ("A",
    "B\\x00HCPCS") — stay two pairs: the first is quarantined naming its own code, the second read as it is (it was
    quarantined with the first one's code and detail). A NUL after the first 4 KB is not taken for a binary file."""
    example = FIXTURES / "reference" / "hpt" / "v3.0.0" / "V3.0.0_Tall_CSV_Format_Example.csv"
    lines = example.read_text(encoding="utf-8").splitlines()
    header, body = lines[:3], [line for line in lines[3:] if line.strip()]
    before, after = next(line for line in body if ",J1450,HCPCS," in line).split(",J1450,HCPCS,")
    crafted = [f"{before},A\x00B,HCPCS,{after}", f"{before},A,B\x00HCPCS,{after}"]  # a real row, other code cells
    path = tmp_path / "nul.csv"
    path.write_text("\n".join(header + body * 6 + crafted) + "\n", encoding="utf-8")
    assert path.read_bytes().index(b"\x00") > 4096
    first, second = f"line {len(header) + 6 * len(body) + 1}", f"line {len(header) + 6 * len(body) + 2}"
    result = read_file(path)
    quarantined = result.quarantine.set_index("source_locator")
    assert quarantined.loc[first, "reason_code"] == "invalid_code" and "'A\\x00B'" in quarantined.loc[first, "detail"]
    assert second not in quarantined.index
    loaded = result.rates.loc[result.rates["source_locator"] == second, ["billing_code", "billing_code_type"]]
    assert loaded.to_dict("records") == [{"billing_code": "A", "billing_code_type": "B\x00HCPCS"}]
    (account,) = result.accounts
    assert account.rows_seen == account.rows_loaded + account.rows_quarantined + account.rows_filtered_out + (
        account.rows_deduplicated
    )
