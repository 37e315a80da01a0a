"""The HTTP transport on urllib3 (issue 14, Must 4): proxies from the environment, every resolved address tried,
both ``Retry-After`` forms; the connection still goes to a checked address. Servers bind 127.0.0.1 only."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchmark.sources import http
from benchmark.sources.http import HttpReader, RemotePolicy, SourceError, retry_after

LOCAL = RemotePolicy(allow_private_hosts=True, allow_http_links=True, timeout=5, backoff=0.01, retries=3)
BODY = b"0123456789" * 1000


class _Origin(BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]] = []
    status_once: list[tuple[int, str]] = []  # (status, Retry-After) answered before the body

    def do_GET(self) -> None:
        self.seen.append((self.requestline, self.headers.get("Host")))
        if self.status_once:
            status, after = self.status_once.pop(0)
            self.send_response(status)
            self.send_header("Retry-After", after)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def origin():
    _Origin.seen, _Origin.status_once = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def _resolve_to(monkeypatch, *addresses):
    def fake(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(http.socket, "getaddrinfo", fake)


def test_every_resolved_address_is_tried_until_one_connects(origin, monkeypatch):
    # 127.0.0.2 has nothing listening on the port (the server binds 127.0.0.1 only): refused, then the next address
    _resolve_to(monkeypatch, "127.0.0.2", "127.0.0.1")
    with HttpReader(f"http://files.example.test:{origin}/plan.json", LOCAL) as reader:
        assert reader.read() == BODY
    assert _Origin.seen == [("GET /plan.json HTTP/1.1", f"files.example.test:{origin}")]  # the name, not the IP


def test_all_addresses_refusing_is_a_clear_error_after_the_retries(monkeypatch):
    _resolve_to(monkeypatch, "127.0.0.2", "127.0.0.3")
    with pytest.raises(SourceError, match="giving up after 3 retries"):
        HttpReader("http://files.example.test:9/plan.json", LOCAL)


def test_the_proxy_from_the_environment_is_used_and_gets_a_checked_address(origin, monkeypatch):
    proxy_seen: list[str] = []

    class _Proxy(_Origin):
        def do_GET(self) -> None:
            proxy_seen.append(self.requestline)
            super().do_GET()

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    thread = threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.server_address[1]}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        _resolve_to(monkeypatch, "127.0.0.1")
        with HttpReader(f"http://files.example.test:{origin}/plan.json?sig=x", LOCAL) as reader:
            assert reader.read() == BODY
    finally:
        proxy.shutdown()
        proxy.server_close()
    # the proxy was asked for the checked address (not a name it would resolve itself), with the real Host header
    assert proxy_seen == [f"GET http://127.0.0.1:{origin}/plan.json?sig=x HTTP/1.1"]
    assert _Origin.seen[-1][1] == f"files.example.test:{origin}"


def test_no_proxy_hosts_are_reached_directly(origin, monkeypatch):
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("no_proxy", "files.example.test")
    _resolve_to(monkeypatch, "127.0.0.1")
    with HttpReader(f"http://files.example.test:{origin}/plan.json", LOCAL) as reader:
        assert reader.read() == BODY


def test_retry_after_in_seconds_and_as_an_http_date():
    now = datetime(2026, 12, 7, 1, 0, 0, tzinfo=UTC)
    assert retry_after("120") == 120.0
    assert retry_after("Mon, 07 Dec 2026 01:00:30 GMT", now) == 30.0
    assert retry_after("Sun, 06 Dec 2026 23:00:00 GMT", now) == 0.0  # a date in the past: no wait
    assert retry_after("soon", now) is None and retry_after(None) is None and retry_after("") is None


@pytest.mark.parametrize("form", ["seconds", "date"])
def test_a_503_is_retried_after_the_servers_delay(origin, monkeypatch, form):
    after = "2" if form == "seconds" else format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    _Origin.status_once = [(503, after)]
    slept: list[float] = []
    monkeypatch.setattr(http.time, "sleep", slept.append)
    with HttpReader(f"http://127.0.0.1:{origin}/plan.json", LOCAL) as reader:
        assert reader.read() == BODY
    assert len(slept) == 1
    assert slept[0] == 2.0 if form == "seconds" else 15.0 < slept[0] <= 20.0


@pytest.fixture
def tls_origin(tmp_path, monkeypatch):
    """An HTTPS server on 127.0.0.1 with a certificate for files.example.test, trusted through SSL_CERT_FILE."""
    import shutil
    import ssl
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=files.example.test", "-addext", "subjectAltName=DNS:files.example.test"],
        check=True, capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    _Origin.seen, _Origin.status_once = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_https_goes_to_the_checked_address_and_verifies_the_host_name(tls_origin, monkeypatch):
    _resolve_to(monkeypatch, "127.0.0.1")
    with HttpReader(f"https://files.example.test:{tls_origin}/plan.json", LOCAL) as reader:
        assert reader.read() == BODY
    assert _Origin.seen == [("GET /plan.json HTTP/1.1", f"files.example.test:{tls_origin}")]
    # the same address under another name: the certificate does not match, nothing is read
    with pytest.raises(SourceError):
        HttpReader(f"https://other.example.test:{tls_origin}/plan.json", LOCAL)
