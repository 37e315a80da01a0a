"""Reading over HTTP(S): URL safety checks and a resumable, retrying streaming reader.

Network rules (:class:`RemotePolicy`)
    URLs a user gives may be ``http`` or ``https``. URLs *found inside files* (table-of-contents ``location``, 1.x
    remote provider references, redirects) are followed only over ``https`` unless ``allow_http_links``. No URL is
    fetched from a private, loopback, link-local, multicast or reserved address (checked on every address the host
    name resolves to, and the connection goes to the checked address, so DNS cannot change it in between) unless
    ``allow_private_hosts`` — tests set it for their server on 127.0.0.1. A URL's query string (signed-URL tokens)
    is never written to output: :func:`public_url` keeps scheme, host and path only.
"""

from __future__ import annotations

import gzip
import http.client
import io
import ipaddress
import json
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from benchmark.errors import PaybenchError
from benchmark.sources.limits import GZIP_MAGIC

_USER_AGENT = "payer-benchmark (TiC reader; +https://github.com)"
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})


class SourceError(PaybenchError, ValueError):
    """A source that cannot be opened (unsafe URL, HTTP error, bad archive); the message says why."""


@dataclass(frozen=True)
class RemotePolicy:
    """Rules for network access (see the module docstring)."""

    allow_private_hosts: bool = False
    allow_http_links: bool = False
    follow_provider_references: bool = True  # fetch 1.x remote provider-reference files a wanted rate needs
    timeout: float = 60.0
    retries: int = 5
    backoff: float = 0.5  # seconds before the first retry; doubles each time (capped at 30 s)
    max_redirects: int = 5
    max_reference_file_bytes: int = 256 << 20


def is_url(value: object) -> bool:
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


def public_url(url: str) -> str:
    """A URL without query, fragment or credentials (safe to store and print)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def check_url(url: str, policy: RemotePolicy, *, is_link: bool) -> list[str]:
    """The addresses ``url`` may be fetched from under ``policy`` (raises :class:`SourceError` otherwise)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise SourceError(f"{public_url(url)}: only http(s) URLs are read (scheme {scheme!r})")
    if scheme == "http" and is_link and not policy.allow_http_links:
        raise SourceError(
            f"{public_url(url)}: a link found inside a file is only followed over https (RemotePolicy.allow_http_links)"
        )
    host = parts.hostname
    if not host:
        raise SourceError(f"{public_url(url)}: the URL has no host")
    port = parts.port or (443 if scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise SourceError(f"{public_url(url)}: cannot resolve host {host!r} ({error})") from error
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not policy.allow_private_hosts:
        for address in addresses:
            if not _is_public(address):
                raise SourceError(
                    f"{public_url(url)}: host {host!r} resolves to the non-public address {address}; refused "
                    "(RemotePolicy.allow_private_hosts)"
                )
    return addresses


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _RetryableError(Exception):
    pass


class HttpReader(io.RawIOBase):
    """A streamed HTTP(S) GET that survives dropped connections: it retries and resumes with ``Range``.

    Retries (``RemotePolicy.retries``, exponential backoff) cover connection errors, timeouts, truncated bodies and
    the statuses 408/425/429/5xx (``Retry-After`` honoured up to 30 s). A resume sends ``Range: bytes=N-`` with
    ``If-Range`` (the first response's ETag or Last-Modified): a server that answers 200 instead of 206 sends the
    whole body again, whose first N bytes are skipped — unless the validator changed, which is an error (the file
    was replaced during the download). Every redirect target passes :func:`check_url` as a link.
    """

    def __init__(self, url: str, policy: RemotePolicy, *, is_link: bool = False) -> None:
        super().__init__()
        self.url, self.policy, self.is_link = url, policy, is_link
        self.position = 0
        self.length: int | None = None
        self.resumes = 0
        self._validator: str | None = None
        self._response: http.client.HTTPResponse | None = None
        self._connection: http.client.HTTPConnection | None = None
        self._with_retries(lambda: self._request(0))

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._response is None:
            return 0
        attempt = 0
        while True:
            try:
                count = self._response.readinto(buffer)
                if count == 0 and self.length is not None and self.position < self.length:
                    raise http.client.IncompleteRead(b"", self.length - self.position)
                self.position += count
                return count
            except (http.client.HTTPException, OSError) as error:
                attempt += 1
                if attempt > self.policy.retries:
                    raise SourceError(
                        f"{public_url(self.url)}: download failed after {self.position:,} bytes and "
                        f"{self.policy.retries} retries ({error!r})"
                    ) from error
                self._sleep(attempt, None)
                self.resumes += 1
                self._with_retries(lambda: self._request(self.position))

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        if self._connection is not None:
            self._connection.close()
        self._response = self._connection = None
        super().close()

    # -- requests ---------------------------------------------------------------------------------------------------

    def _with_retries(self, request) -> None:
        attempt = 0
        while True:
            try:
                request()
                return
            except (_RetryableError, http.client.HTTPException, OSError) as error:
                if isinstance(error, SourceError):
                    raise
                attempt += 1
                if attempt > self.policy.retries:
                    raise SourceError(
                        f"{public_url(self.url)}: giving up after {self.policy.retries} retries ({error})"
                    ) from error
                self._sleep(attempt, getattr(error, "retry_after", None))

    def _sleep(self, attempt: int, retry_after: float | None) -> None:
        delay = retry_after if retry_after is not None else self.policy.backoff * 2 ** (attempt - 1)
        time.sleep(min(max(delay, 0.0), 30.0))

    def _request(self, start: int) -> None:
        if self._response is not None:
            self._response.close()
            if self._connection is not None:
                self._connection.close()
            self._response = self._connection = None
        url, is_link = self.url, self.is_link
        for _ in range(self.policy.max_redirects + 1):
            addresses = check_url(url, self.policy, is_link=is_link)
            parts = urlsplit(url)
            connection = _connection(parts, addresses[0], self.policy.timeout)
            headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
            if start:
                headers["Range"] = f"bytes={start}-"
                if self._validator:
                    headers["If-Range"] = self._validator
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
            connection.request("GET", target, headers=headers)
            response = connection.getresponse()
            if response.status in _REDIRECT_STATUS:
                location = response.getheader("Location")
                response.close()
                connection.close()
                if not location:
                    raise SourceError(f"{public_url(url)}: redirect without a Location header")
                url, is_link = urljoin(url, location), True
                continue
            if response.status in _RETRY_STATUS:
                response.close()
                connection.close()
                error = _RetryableError(f"HTTP {response.status} {response.reason}")
                error.retry_after = _retry_after(response.getheader("Retry-After"))  # type: ignore[attr-defined]
                raise error
            if response.status >= 400:
                response.close()
                connection.close()
                hint = " (an expired or unauthorized link?)" if response.status in (401, 403) else ""
                raise SourceError(f"{public_url(url)}: HTTP {response.status} {response.reason}{hint}")
            self._accept(response, start, url)
            self._connection = connection
            return
        raise SourceError(f"{public_url(self.url)}: more than {self.policy.max_redirects} redirects")

    def _accept(self, response: http.client.HTTPResponse, start: int, url: str) -> None:
        validator = response.getheader("ETag") or response.getheader("Last-Modified")
        if start == 0:
            self._validator = validator
            length = response.getheader("Content-Length")
            self.length = int(length) if length and length.isdigit() else None
            self._response = response
            return
        if response.status == 206:
            content_range = response.getheader("Content-Range") or ""
            if not content_range.startswith(f"bytes {start}-"):
                response.close()
                raise SourceError(f"{public_url(url)}: resume at byte {start:,} got Content-Range {content_range!r}")
            self._response = response
            return
        if self._validator and validator and validator != self._validator:
            response.close()
            raise SourceError(
                f"{public_url(url)}: the file changed during the download (validator "
                f"{self._validator!r} -> {validator!r})"
            )
        skip = start  # the server ignored Range: skip what was already read
        while skip:
            data = response.read(min(skip, 1 << 20))
            if not data:
                raise http.client.IncompleteRead(b"", skip)
            skip -= len(data)
        self._response = response


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address checked by :func:`check_url`, not to whatever DNS says next."""

    def __init__(self, host: str, port: int | None, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int | None, address: str, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def _connection(parts, address: str, timeout: float) -> http.client.HTTPConnection:
    kind = _PinnedHTTPSConnection if parts.scheme.lower() == "https" else _PinnedHTTPConnection
    return kind(parts.hostname, parts.port, address, timeout)


def fetch_json(url: str, policy: RemotePolicy, *, max_bytes: int) -> Any:
    """A small JSON document found by a link (a 1.x provider-reference file), gunzipped if needed, size-capped."""
    with HttpReader(url, policy, is_link=True) as reader:
        data = io.BufferedReader(reader).read(max_bytes + 1)
    if len(data) > max_bytes:
        raise SourceError(f"{public_url(url)}: larger than {max_bytes:,} bytes")
    if data.startswith(GZIP_MAGIC):
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as unpacked:
            data = unpacked.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise SourceError(f"{public_url(url)}: larger than {max_bytes:,} bytes once decompressed")
    try:
        return json.loads(data)
    except ValueError as error:
        raise SourceError(f"{public_url(url)}: not JSON ({error})") from error
