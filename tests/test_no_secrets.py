"""No credential or signed query string of a URL is written anywhere (issue 16, Must 3).

A local server (127.0.0.1 only) serves a synthetic sample TiC file; it is ingested from
``http://user:PASSWORD@127.0.0.1:PORT/...?X-Amz-Signature=SIGNATURE`` (one URL that loads, one that is rejected),
and every file written — the store's Parquet (decoded), the report folder (HTML, JSON, CSV, the executed notebook,
the zipped XLSX/PPTX members, the PDF's text and metadata as pypdf extracts them: its content streams are compressed
and its title UTF-16, so its bytes alone would never show a secret) — and every line printed is searched for the
password and the signature.
"""

from __future__ import annotations

import functools
import gzip
import io
import logging
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow.parquet as pq
import pypdf
import pytest

from benchmark import cli, config
from benchmark.sources.http import public_url, redact

PASSWORD = "Pw-d0-not-leak-7731"
SIGNATURE = "Sig-d0-not-leak-0f3e9a"
SECRETS = (PASSWORD, SIGNATURE)
F = sorted(config.SAMPLE_TIC_DIR.glob("*aetna*"))[0]


class _Files(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        if not self.path.split("?", 1)[0].endswith("/plan.json.gz"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def signed_urls():
    # the sample file's JSON, compressed again: other bytes (a file of its own in a store), the same rows
    _Files.body = gzip.compress(gzip.decompress(F.read_bytes()), compresslevel=1, mtime=0)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://user:{PASSWORD}@127.0.0.1:{httpd.server_address[1]}"
    query = f"?X-Amz-Signature={SIGNATURE}&X-Amz-Credential={PASSWORD}"
    try:
        yield f"{base}/mrf/plan.json.gz{query}", f"{base}/mrf/missing.json.gz{query}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _texts(folder: Path):
    """(file, decoded text) of every file under ``folder``: Parquet as its rows, zip-based files by member, a PDF as
    its pages' text and its metadata."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        yield path, data.decode("utf-8", "replace")
        if data[:5] == b"%PDF-":
            yield path, _pdf_text(data)
        if path.suffix == ".parquet" and data[:4] == b"PAR1":
            yield path, pq.read_table(path).to_pandas().to_csv()
        if data[:2] == b"PK":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for name in archive.namelist():
                    yield Path(f"{path}!{name}"), archive.read(name).decode("utf-8", "replace")


@functools.lru_cache(maxsize=2)  # the report's PDF is searched by a test and again by _leaks: read once (~1.5 s)
def _pdf_text(data: bytes) -> str:
    pdf = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join([*(page.extract_text() for page in pdf.pages), *map(str, (pdf.metadata or {}).values())])


def _leaks(folder: Path) -> list[str]:
    return [f"{path}: {secret}" for path, text in _texts(folder) for secret in SECRETS if secret in text]


def test_the_redaction_rule():
    url = f"https://user:{PASSWORD}@host.example:8443/a/b.json?X-Amz-Signature={SIGNATURE}#frag"
    assert public_url(url) == "https://host.example:8443/a/b.json"
    text = f"GET {url} failed; retry 'http://u:{PASSWORD}@[::1]/x?t={SIGNATURE}'"
    assert redact(text) == "GET https://host.example:8443/a/b.json failed; retry 'http://[::1]/x'"
    assert redact("no url here: a/b?c") == "no url here: a/b?c"
    # request targets as HTTP libraries print them, without scheme or host
    assert redact(f"Max retries exceeded with url: /f.json?X-Amz-Signature={SIGNATURE} (x)") == (
        "Max retries exceeded with url: /f.json (x)"
    )


def test_ingest_from_a_signed_url_writes_no_secret(tmp_path, signed_urls, capsys, caplog):
    good, missing = signed_urls
    store = tmp_path / "store"
    with caplog.at_level(logging.DEBUG, logger="benchmark"):
        status = cli.main(
            ["-vv", "ingest", good, missing, "--codes", "44320", "--out", str(store), "--allow-private-hosts"]
        )
    printed = capsys.readouterr()
    assert status == 1  # one file rejected
    assert "REJECTED" in printed.err and "missing.json.gz" in printed.err
    assert "1 read into the store" in printed.out
    assert [s for s in SECRETS if s in printed.out + printed.err + caplog.text] == []
    assert _leaks(store) == []
    from benchmark.store.rate_store import open_store

    manifest = open_store(store).manifest()
    assert set(manifest["source_path"]) == {public_url(good), public_url(missing)}


@pytest.mark.slow
def test_a_report_from_that_store_writes_no_secret(tmp_path, signed_urls, capsys):
    good, missing = signed_urls
    store = tmp_path / "store"
    sample = [str(config.SAMPLE_TIC_DIR), str(config.SAMPLE_HOSPITAL_DIR)]
    cli.main(["ingest", *sample, good, missing, "--codes", "44320", "--out", str(store), "--allow-private-hosts"])
    out = tmp_path / "report"
    assert cli.main(["report", "44320", "--source", str(store), "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert [s for s in SECRETS if s in printed.out + printed.err] == []
    assert (out / "report.html").is_file() and (out / "code_report.ipynb").is_file()
    assert (
        (out / "deck.pptx").is_file() and (out / "tables.xlsx").is_file() and (out / "tables" / "files.csv").is_file()
    )
    text = (out / "report.html").read_text()
    assert "missing.json.gz" in text  # the rejected file is listed as a data gap, without its secrets
    if (out / "report.pdf").is_file():  # (Chromium installed) the PDF's text is what is searched: it shows the gap
        assert "missing.json.gz" in _pdf_text((out / "report.pdf").read_bytes()).replace("\n", "")
    assert _leaks(out.resolve()) == [] and _leaks(store) == []
