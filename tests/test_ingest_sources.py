"""Where TiC files come from: URLs (served by a local HTTP server on 127.0.0.1), zips, tables of contents, safety rules.

The server is started by the tests, binds 127.0.0.1 only, and can drop a connection half-way, answer 503 once or 403,
and ignore Range requests, to exercise retries and resume. Nothing leaves the machine: private-address checks are
tested on IP literals, which are refused before any connection is made.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from benchmark import cli
from benchmark.ingest import routing as pipeline
from benchmark.ingest.routing import read_source
from benchmark.ingest.tic import toc as toc_reader
from benchmark.ingest.tic.reader import TicFileError, read_in_network
from benchmark.sources.http import RemotePolicy, SourceError, check_url
from benchmark.sources.limits import Limits
from benchmark.sources.source import Source
from benchmark.store import pipeline as store_pipeline

LOCAL = RemotePolicy(allow_private_hosts=True, allow_http_links=True, timeout=5, backoff=0.01, retries=3)


class _Handler(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    drop_after: dict[str, int] = {}  # path -> bytes sent before the connection is cut (once)
    status_once: dict[str, int] = {}  # path -> status answered once
    status_always: dict[str, int] = {}
    ignore_range: set[str] = set()
    requests: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        self.requests.append((self.path, self.headers.get("Range")))
        if path in self.status_always or path in self.status_once:
            code = self.status_always.get(path) or self.status_once.pop(path)
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path not in self.files:
            self.send_error(404)
            return
        body = self.files[path]
        start = 0
        wanted = self.headers.get("Range")
        if wanted and path not in self.ignore_range:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.send_header("ETag", '"v1"')
        self.end_headers()
        cut = self.drop_after.pop(path, None)
        self.wfile.write(body[start:] if cut is None else body[start : start + cut])
        if cut is not None:
            self.close_connection = True

    def log_message(self, *args) -> None:  # keep test output clean
        pass


@pytest.fixture
def server():
    _Handler.files, _Handler.drop_after, _Handler.status_once = {}, {}, {}
    _Handler.status_always, _Handler.ignore_range, _Handler.requests = {}, set(), []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def tic(shared_reference: Path) -> Path:
    return shared_reference / "tic"


def _frame(result) -> pd.DataFrame:
    return result.rates.drop(columns=["source_file", "source_sha256"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------------------------
# URLs


def test_url_is_streamed_with_the_same_rows_as_the_file(server, tic: Path) -> None:
    httpd, base = server
    local = tic / "v2" / "in-network-rates-multiple-plans-sample.json"
    _Handler.files["/mrf/plan.json.gz"] = gzip.compress(local.read_bytes())
    url = f"{base}/mrf/plan.json.gz?X-Amz-Signature=secret-token"
    result = read_in_network(url, remote=LOCAL)
    pd.testing.assert_frame_equal(_frame(result), _frame(read_in_network(local)))
    assert (result.rates["source_file"] == f"{base}/mrf/plan.json.gz").all()  # the signed query is not stored
    assert (result.rates["source_sha256"] == hashlib.sha256(_Handler.files["/mrf/plan.json.gz"]).hexdigest()).all()
    assert _Handler.requests[0][0].endswith("?X-Amz-Signature=secret-token")  # but it is sent


def test_private_addresses_need_an_explicit_allowance(server, tic: Path) -> None:
    httpd, base = server
    _Handler.files["/a.json"] = (tic / "v2" / "in-network-rates-no-npi.json").read_bytes()
    with pytest.raises(TicFileError, match="non-public address 127.0.0.1"):
        read_in_network(f"{base}/a.json")
    assert _Handler.requests == []  # refused before connecting
    assert len(read_in_network(f"{base}/a.json", remote=LOCAL).rates) == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://10.1.2.3/f.json",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/f.json",
        "https://192.168.0.10/f.json",
        "https://[fe80::1]/f.json",
    ],
)
def test_link_checks_refuse_private_and_link_local_addresses(url: str) -> None:
    with pytest.raises(SourceError, match="non-public address"):
        check_url(url, RemotePolicy(), is_link=True)


def test_links_found_in_files_must_be_https() -> None:
    with pytest.raises(SourceError, match="only followed over https"):
        check_url("http://127.0.0.1/x.json", RemotePolicy(allow_private_hosts=True), is_link=True)
    with pytest.raises(SourceError, match="only http"):
        check_url("file:///etc/passwd", RemotePolicy(), is_link=True)
    assert check_url("http://127.0.0.1/x.json", RemotePolicy(allow_private_hosts=True), is_link=False)


def test_a_dropped_connection_is_resumed_with_range(server, tic: Path) -> None:
    httpd, base = server
    body = gzip.compress((tic / "v2" / "in-network-rates-all-negotiated-types-sample.json").read_bytes())
    _Handler.files["/big.json.gz"] = body
    _Handler.drop_after["/big.json.gz"] = len(body) // 3
    result = read_in_network(f"{base}/big.json.gz", remote=LOCAL)
    assert len(result.rates) == 15
    assert [r[1] for r in _Handler.requests] == [None, f"bytes={len(body) // 3}-"]


def test_a_server_that_ignores_range_is_skipped_ahead(server, tic: Path) -> None:
    httpd, base = server
    body = (tic / "v2" / "in-network-rates-all-negotiated-types-sample.json").read_bytes()
    _Handler.files["/f.json"] = body
    _Handler.drop_after["/f.json"] = 1000
    _Handler.ignore_range.add("/f.json")
    assert len(read_in_network(f"{base}/f.json", remote=LOCAL).rates) == 15
    assert len(_Handler.requests) == 2


def test_retries_on_503_and_gives_a_clear_error_on_403(server, tic: Path) -> None:
    httpd, base = server
    _Handler.files["/f.json"] = (tic / "v2" / "in-network-rates-no-npi.json").read_bytes()
    _Handler.status_once["/f.json"] = 503
    assert len(read_in_network(f"{base}/f.json", remote=LOCAL).rates) == 1
    assert len(_Handler.requests) == 2
    _Handler.status_always["/expired.json.gz"] = 403
    result = pipeline.read_file(Source(f"{base}/expired.json.gz", policy=LOCAL))
    (rejected,) = result.rejected
    assert "HTTP 403" in rejected.reason and "expired" in rejected.reason and result.rates.empty
    _Handler.status_always["/down.json"] = 503
    with pytest.raises(TicFileError, match="giving up after 3 retries"):
        read_in_network(f"{base}/down.json", remote=LOCAL)


def test_an_html_error_page_from_a_url_is_rejected(server) -> None:
    httpd, base = server
    _Handler.files["/x.json.gz"] = b"<html><body>Request has expired</body></html>"
    with pytest.raises(TicFileError, match=r"named \.gz but is not gzip.*HTML"):
        read_in_network(f"{base}/x.json.gz", remote=LOCAL)


# ---------------------------------------------------------------------------------------------------------------------
# Tables of contents


def _toc(base: str, locations: list[list[str]]) -> dict:
    plans = [
        [
            {
                "plan_name": "Gold PPO",
                "plan_id_type": "EIN",
                "plan_id": "11-1111111",
                "plan_market_type": "group",
                "issuer_name": "Acme Issuer",
                "plan_sponsor_name": "Acme Corp",
            }
        ],
        [
            {
                "plan_name": "Silver HMO",
                "plan_id_type": "hios",
                "plan_id": "22222TX0010001",
                "plan_market_type": "individual",
                "issuer_name": "Acme Issuer",
            }
        ],
    ]
    return {
        "reporting_entity_name": "Acme Health",
        "reporting_entity_type": "health insurance issuer",
        "last_updated_on": "2024-01-01",
        "version": "2.0.0",
        "reporting_structure": [
            {
                "reporting_plans": plans[i],
                "in_network_files": [{"description": "rates", "location": f"{base}{path}"} for path in paths],
                "allowed_amount_file": {"description": "oon", "location": f"{base}/oon.json"},
            }
            for i, paths in enumerate(locations)
        ],
    }


def test_table_of_contents_expands_with_plan_metadata_on_every_row(server, tic: Path, tmp_path: Path) -> None:
    httpd, base = server
    multi = (tic / "v2" / "in-network-rates-multiple-plans-sample.json").read_bytes()  # no plan of its own
    single = (tic / "v2" / "in-network-rates-no-npi.json").read_bytes()  # its own plan "medicaid"
    _Handler.files.update({"/shared.json.gz": gzip.compress(multi), "/own.json": single})
    toc = tmp_path / "2024-01-01_acme_index.json"
    toc.write_text(json.dumps(_toc(base, [["/shared.json.gz"], ["/shared.json.gz", "/own.json"]])))

    listed = toc_reader.read_table_of_contents(toc)
    assert list(listed.files) == [f"{base}/shared.json.gz", f"{base}/own.json"]
    assert [p.plan_name for p in listed.files[f"{base}/shared.json.gz"].plans] == ["Gold PPO", "Silver HMO"]
    assert len(listed.skipped) == 2 and "allowed amounts" in listed.skipped[0]

    strict = pipeline.expand_sources([toc], policy=RemotePolicy(allow_private_hosts=True))
    assert all(isinstance(s, Source) and s.is_link for s in strict)
    refused = pipeline.read_file(strict[0])
    assert "only followed over https" in refused.rejected[0].reason  # links inside files: https only

    files = pipeline.expand_sources([toc], policy=LOCAL)
    result = store_pipeline.ingest(files, None)
    assert not result.rejected
    shared = result.result.rates[result.result.rates["source_file"] == f"{base}/shared.json.gz"]
    assert len(shared) == 12 and (shared["plan_count"] == 2).all()
    assert (shared["plan_raw"] == "Gold PPO|Silver HMO").all() and (shared["plan_id_type"] == "ein|hios").all()
    assert (shared["plan_id"] == "11-1111111|22222TX0010001").all() and (shared["issuer_name"] == "Acme Issuer").all()
    assert (shared["plan_market_type"] == "group|individual").all() and (
        shared["plan_sponsor_name"] == "Acme Corp"
    ).all()
    own = result.result.rates[result.result.rates["source_file"] == f"{base}/own.json"]
    assert list(own["plan_raw"]) == ["medicaid"] and list(own["plan_count"]) == [1]  # the file's own plan wins


def test_a_table_of_contents_url_is_expanded_when_read(server, tic: Path) -> None:
    httpd, base = server
    _Handler.files["/own.json"] = (tic / "v2" / "in-network-rates-no-npi.json").read_bytes()
    _Handler.files["/index.json"] = json.dumps(_toc(base, [["/own.json"]])).encode()
    result = read_source(f"{base}/index.json", policy=LOCAL)
    assert len(result.rates) == 1 and not result.rejected


def test_cms_table_of_contents_example(tic: Path) -> None:
    listed = toc_reader.read_table_of_contents(tic / "v2" / "table-of-contents-sample.json")
    assert list(listed.files) == [
        "https://www.some_site.com/files/in-network-file-123456.json",
        "https://www.some_site.com/files/behavioral-health-0000.json",
        "https://www.some_site.com/files/chip-in-network-file.json",
    ]
    first = listed.files["https://www.some_site.com/files/in-network-file-123456.json"]
    assert [(p.plan_name, p.plan_id, p.plan_id_type) for p in first.plans] == [
        ("medicaid", "1111111111", "hios"),
        ("medicare", "000000000", "hios"),
    ]


def test_remote_provider_references_are_fetched_when_allowed(server, tmp_path: Path) -> None:
    httpd, base = server
    _Handler.files["/pr/8.json"] = json.dumps(
        {
            "version": "1.0.0",
            "provider_groups": [
                {"npi": [1234567893], "tin": {"type": "ein", "value": "12-3456789"}},
                {"npi": [1111111112], "tin": {"type": "ein", "value": "98-7654321"}},
            ],
        }
    ).encode()
    document = {
        "reporting_entity_name": "Aetna Life Insurance Company",
        "reporting_entity_type": "issuer",
        "last_updated_on": "2024-01-01",
        "version": "1.3.1",
        "provider_references": [
            {"provider_group_id": 8, "location": f"{base}/pr/8.json"},
            {"provider_group_id": 9, "location": f"{base}/pr/missing.json"},
        ],
        "in_network": [
            {
                "negotiation_arrangement": "ffs",
                "name": "n",
                "billing_code_type": "CPT",
                "billing_code_type_version": "2024",
                "billing_code": "44320",
                "description": "d",
                "negotiated_rates": [
                    {
                        "provider_references": [8, 9],
                        "negotiated_prices": [
                            {
                                "negotiated_type": "negotiated",
                                "negotiated_rate": 1200.0,
                                "expiration_date": "9999-12-31",
                                "billing_class": "professional",
                                "service_code": ["21"],
                            }
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(document))
    offline = read_in_network(path)
    assert list(offline.quarantine["reason_code"]) == ["provider_reference_remote"] * 2
    fetched = read_in_network(path, remote=LOCAL)
    assert sorted(fetched.rates["provider_tin"]) == ["12-3456789", "98-7654321"]
    (failed,) = fetched.quarantine.itertuples()
    assert failed.reason_code == "provider_reference_fetch_failed" and "404" in failed.detail
    assert fetched.accounts[0].rows_seen == 3


# ---------------------------------------------------------------------------------------------------------------------
# Zip archives


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_zip_members_and_nested_zips_are_read(tic: Path, tmp_path: Path) -> None:
    plain = (tic / "v2" / "in-network-rates-all-negotiated-types-sample.json").read_bytes()
    other = (tic / "v1.6.2" / "in-network-rates-no-npi.json").read_bytes()
    archive = tmp_path / "mrf.zip"
    archive.write_bytes(
        _zip({"a/rates.json.gz": gzip.compress(plain), "notes.txt": b"hi", "inner.zip": _zip({"no-npi.json": other})})
    )
    files = pipeline.expand_sources([tmp_path])
    assert [f.name for f in files] == ["mrf.zip!a/rates.json.gz", "mrf.zip!inner.zip!no-npi.json"]
    run = store_pipeline.ingest(files, None)
    assert not run.rejected and len(run.result.rates) == 16
    assert set(run.result.rates["source_file"]) == {"mrf.zip!a/rates.json.gz", "mrf.zip!inner.zip!no-npi.json"}
    member = run.result.rates[run.result.rates["source_file"] == "mrf.zip!a/rates.json.gz"]
    with zipfile.ZipFile(archive) as opened:  # provenance: the sha256 of the member as stored in the archive
        assert (member["source_sha256"] == hashlib.sha256(opened.read("a/rates.json.gz")).hexdigest()).all()
    again = pipeline.read_file(str(files[1]))  # the spec string of a member reads the same
    assert len(again.rates) == 1
    single = tmp_path / "single.zip"
    single.write_bytes(_zip({"x.json": plain}))
    assert len(read_in_network(single).rates) == 15


def test_zip_bomb_members_are_rejected(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(_zip({"huge.json": b"{" + b" " * (100 << 20) + b"}"}))
    assert archive.stat().st_size < 1 << 20
    (rejected,) = pipeline.read_file(archive).rejected
    assert "compression ratio above 200:1" in rejected.reason and "zip bomb" in rejected.reason
    (capped,) = pipeline.expand([archive], limits=Limits(max_decompressed_bytes=1 << 20))
    assert "above the cap of 1,048,576" in capped.problem  # rejected when read, with this reason


def test_a_broken_zip_is_rejected_with_its_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    (source,) = pipeline.expand_sources([broken])
    (rejected,) = pipeline.read_file(source).rejected
    assert "zip" in rejected.reason


# ---------------------------------------------------------------------------------------------------------------------
# The command line


def test_cli_ingests_a_url_and_prints_a_summary(server, tic: Path, tmp_path: Path, capsys) -> None:
    httpd, base = server
    _Handler.files["/plan.json.gz"] = gzip.compress(
        (tic / "v2" / "in-network-rates-multiple-plans-sample.json").read_bytes()
    )
    assert cli.main(["ingest", f"{base}/plan.json.gz", "--out", str(tmp_path / "denied")]) == 1
    assert "non-public address" in capsys.readouterr().err
    status = cli.main(
        [
            "ingest",
            f"{base}/plan.json.gz",
            "--codes",
            "99201-99215",
            "--allow-private-hosts",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    assert "TiC JSON read:" in out and "rows:" in out
