"""Reading over HTTP(S): URL safety checks and a resumable, retrying streaming reader.

Network rules (:class:`RemotePolicy`)
    URLs a user gives may be ``http`` or ``https``. URLs *found inside files* (table-of-contents ``location``, 1.x
    remote provider references, redirects) are followed only over ``https`` unless ``allow_http_links``. No URL is
    fetched from a private, loopback, link-local, multicast or reserved address (checked on every address the host
    name resolves to, and the connection goes to the checked address, so DNS cannot change it in between) unless
    ``allow_private_hosts`` — tests set it for their server on 127.0.0.1. A URL's credentials and query string
    (signed-URL tokens) are never written to output: :func:`public_url` keeps scheme, host and path only, and
    :func:`redact` applies it to every URL inside a text (messages, reasons, log lines).

Transport (:class:`HttpReader`)
    urllib3, with proxies from the environment, every resolved address tried in turn, and ``Retry-After`` read in
    both forms (seconds, HTTP date).
"""

from __future__ import annotations

import gzip
import http.client
import io
import ipaddress
import json
import re
import socket
import ssl
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from benchmark.errors import PaybenchError
from benchmark.sources.limits import GZIP_MAGIC

if TYPE_CHECKING:
    import urllib3

# urllib3 is imported where a URL is fetched (_transient, _get, _pool), not with this module: ~30 ms of CPU that every
# process importing the URL rules (redact, is_url: the CLI, each report kernel, the store) paid for local files too.

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
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:  # an unparsable URL (bad port, bad brackets): keep only what precedes any secret
        return re.split(r"[?#@]", url, maxsplit=1)[0] if "@" not in url else url.split("://", 1)[0] + "://(redacted)"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
_PATH_QUERY = re.compile(r"((?<![\w.])/[^\s?'\"<>`]*)\?[^\s'\"<>`]+")


def redact(text: object) -> str:
    """``text`` with every URL in it replaced by its :func:`public_url` (no credentials, query or fragment).

    The one redaction rule: applied to what reaches the store's manifest, messages, logs and reports.
    """
    text = str(text)
    if "://" in text:
        text = _URL_IN_TEXT.sub(lambda match: public_url(match.group(0)), text)
    if "?" in text:  # a request target without scheme and host, as HTTP libraries print it ("url: /f?sig=...")
        text = _PATH_QUERY.sub(r"\1", text)
    return text


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


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known NAT64 prefix: the last 32 bits are an IPv4 address
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # local-use NAT64 (RFC 8215): a private network
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d form (and ::, ::1)


def _is_public(address: str) -> bool:
    """Whether a connection to ``address`` reaches the public internet only: a global unicast address, and for
    IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4, Teredo) a global IPv4 address inside too.
    IPv4-compatible (``::a.b.c.d``) and local-use NAT64 addresses are never public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _IPV4_COMPATIBLE or ip in _NAT64_LOCAL:
            return False
        embedded: list[ipaddress.IPv4Address] = []
        if ip.ipv4_mapped:
            embedded.append(ip.ipv4_mapped)
        if ip.sixtofour:
            embedded.append(ip.sixtofour)
        if ip.teredo:
            embedded += list(ip.teredo)
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if embedded:
            return all(v4.is_global and not v4.is_multicast for v4 in embedded)
    return ip.is_global and not ip.is_multicast


class _RetryableError(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _transient() -> tuple[type[BaseException], ...]:
    """What a dropped connection, a timeout or a truncated body raises (retried, resumed with Range)."""
    import urllib3  # lazy: start-up time only (see the imports)

    return (_RetryableError, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)


class HttpReader(io.RawIOBase):
    """A streamed HTTP(S) GET that survives dropped connections: it retries and resumes with ``Range``.

    The transport is urllib3. Every address the host name resolves to (all checked by :func:`check_url`) is tried
    in turn until one connects, and the connection goes to that address (TLS still checks the host name's
    certificate). Proxies come from the environment (``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY``, as curl
    reads them): the tunnel is opened to the checked address too. Retries (``RemotePolicy.retries``, exponential
    backoff) cover connection errors, timeouts, truncated bodies and the statuses 408/425/429/5xx (``Retry-After``
    honoured up to 30 s, as seconds or as an HTTP date). A resume sends ``Range: bytes=N-`` with ``If-Range`` (the
    first response's ETag or Last-Modified): a server that answers 200 instead of 206 sends the whole body again,
    whose first N bytes are skipped — unless the validator changed, which is an error (the file was replaced
    during the download). Every redirect target passes :func:`check_url` as a link.
    """

    def __init__(self, url: str, policy: RemotePolicy, *, is_link: bool = False) -> None:
        super().__init__()
        self.url, self.policy, self.is_link = url, policy, is_link
        self.position = 0
        self.length: int | None = None
        self.resumes = 0
        self._validator: str | None = None
        self._response: urllib3.BaseHTTPResponse | None = None
        self._pool: Any = None
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
            except _transient() as error:  # evaluated when an error is raised only
                attempt += 1
                if attempt > self.policy.retries:
                    raise SourceError(
                        f"{public_url(self.url)}: download failed after {self.position:,} bytes and "
                        f"{self.policy.retries} retries ({redact(repr(error))})"
                    ) from error
                self._sleep(attempt, None)
                self.resumes += 1
                self._with_retries(lambda: self._request(self.position))

    def close(self) -> None:
        self._release()
        super().close()

    # -- requests ---------------------------------------------------------------------------------------------------

    def _release(self) -> None:
        if self._response is not None:
            self._response.close()
        if self._pool is not None:
            self._pool.close()
        self._response = self._pool = None

    def _release_response(self, response: urllib3.BaseHTTPResponse) -> None:
        response.close()
        if self._pool is not None:
            self._pool.close()
        self._pool = None

    def _with_retries(self, request) -> None:
        attempt = 0
        while True:
            try:
                request()
                return
            except _transient() as error:  # evaluated when an error is raised only
                if isinstance(error, SourceError):
                    raise
                attempt += 1
                if attempt > self.policy.retries:
                    raise SourceError(
                        f"{public_url(self.url)}: giving up after {self.policy.retries} retries ({redact(error)})"
                    ) from error
                retry_after = error.retry_after if isinstance(error, _RetryableError) else None
                self._sleep(attempt, retry_after)

    def _sleep(self, attempt: int, retry_after: float | None) -> None:
        delay = retry_after if retry_after is not None else self.policy.backoff * 2 ** (attempt - 1)
        time.sleep(min(max(delay, 0.0), 30.0))

    def _request(self, start: int) -> None:
        self._release()
        url, is_link = self.url, self.is_link
        for _ in range(self.policy.max_redirects + 1):
            addresses = check_url(url, self.policy, is_link=is_link)
            headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
            if start:
                headers["Range"] = f"bytes={start}-"
                if self._validator:
                    headers["If-Range"] = self._validator
            self._pool, response = _get(url, addresses, headers, self.policy.timeout)
            if response.status in _REDIRECT_STATUS:
                location = response.headers.get("Location")
                self._release_response(response)
                if not location:
                    raise SourceError(f"{public_url(url)}: redirect without a Location header")
                url, is_link = urljoin(url, location), True
                continue
            if response.status in _RETRY_STATUS:
                self._release_response(response)
                raise _RetryableError(
                    f"HTTP {response.status} {response.reason}", retry_after(response.headers.get("Retry-After"))
                )
            if response.status >= 400:
                self._release_response(response)
                hint = " (an expired or unauthorized link?)" if response.status in (401, 403) else ""
                raise SourceError(f"{public_url(url)}: HTTP {response.status} {response.reason}{hint}")
            self._accept(response, start, url)
            return
        raise SourceError(f"{public_url(self.url)}: more than {self.policy.max_redirects} redirects")

    def _accept(self, response: urllib3.BaseHTTPResponse, start: int, url: str) -> None:
        validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        if start == 0:
            self._validator = validator
            length = response.headers.get("Content-Length")
            self.length = int(length) if length and length.isdigit() else None
            self._response = response
            return
        if response.status == 206:
            content_range = response.headers.get("Content-Range") or ""
            if not content_range.startswith(f"bytes {start}-"):
                self._release_response(response)
                raise SourceError(f"{public_url(url)}: resume at byte {start:,} got Content-Range {content_range!r}")
            self._response = response
            return
        if self._validator and validator and validator != self._validator:
            self._release_response(response)
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


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds (``120``) or an HTTP date
    (``Wed, 21 Oct 2015 07:28:00 GMT``, counted from ``now``); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def _proxy_for(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY`` / ``HTTP_PROXY``, not for ``NO_PROXY`` hosts)."""
    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme.lower())


def _get(
    url: str, addresses: list[str], headers: dict[str, str], timeout: float
) -> tuple[Any, urllib3.BaseHTTPResponse]:
    """GET ``url`` from the first of ``addresses`` that connects (each one checked), streamed, no retries or
    redirects of urllib3's own (the reader does those, checking every hop)."""
    import urllib3  # lazy: start-up time only (see the imports)

    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    port = parts.port or (443 if scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    proxy = _proxy_for(url)
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if parts.port is None else f"[{host}]:{parts.port}"
    last: Exception | None = None
    for address in addresses:
        pool = _pool(scheme, address, port, host, proxy, timeout)
        try:
            return pool, pool.urlopen(
                "GET",
                target if proxy is None or scheme == "https" else _absolute(scheme, address, port, target),
                headers={**headers, "Host": host_header},
                retries=False,
                redirect=False,
                preload_content=False,
                decode_content=False,
                assert_same_host=False,
            )
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError) as error:
            pool.close()
            last = error  # this address does not answer: try the next one
        except urllib3.exceptions.ProxyError as error:
            raise SourceError(
                f"{public_url(url)}: the proxy {public_url(proxy or '')} refused ({redact(error)})"
            ) from error
    assert last is not None
    raise last


def _absolute(scheme: str, address: str, port: int, target: str) -> str:
    shown = f"[{address}]" if ":" in address else address
    return f"{scheme}://{shown}:{port}{target}"


def _pool(scheme: str, address: str, port: int, host: str, proxy: str | None, timeout: float):
    """A one-connection pool to ``address`` (through ``proxy`` when set); TLS verifies the certificate of ``host``."""
    import urllib3  # lazy: start-up time only (see the imports)

    options: dict[str, Any] = {
        "timeout": urllib3.Timeout(connect=timeout, read=timeout),
        "maxsize": 1,
        "retries": False,
    }
    if scheme == "https":
        options.update(
            server_hostname=host,
            assert_hostname=host,
            cert_reqs="CERT_REQUIRED",
            ssl_context=ssl.create_default_context(),
        )
    if proxy:
        auth = urllib3.util.parse_url(proxy).auth
        proxy_headers = urllib3.make_headers(proxy_basic_auth=auth) if auth else None
        manager = urllib3.ProxyManager(proxy, num_pools=1, proxy_headers=proxy_headers, **options)
        return manager.connection_from_host(address, port, scheme)
    kind = urllib3.HTTPSConnectionPool if scheme == "https" else urllib3.HTTPConnectionPool
    return kind(address, port, **options)


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
