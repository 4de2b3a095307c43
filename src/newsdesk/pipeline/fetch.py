"""Async, polite, guarded HTTP fetcher (framework-free).

Guards, in the order a request meets them:

* URL: only absolute http(s) URLs with a host (``bad_url``).
* SSRF: the host is resolved with the configured resolver and refused (``ssrf``) if *any* address
  is not public, before anything connects. The connection itself is then pinned to those checked
  addresses: the default transport runs on aiohttp with a resolver that only hands out vetted
  addresses (see ``_PinnedResolver``), so DNS rebinding between check and connect cannot redirect
  us, while the Host header, TLS SNI and certificate verification keep using the real hostname.
  Every redirect hop goes through the same check.
* robots.txt (protego, product token taken from the User-Agent, ``newsdesk`` by default).
* Politeness: per-host semaphore plus a minimum spacing between request starts.
* Limits: connect/read timeouts, a wall-clock budget per fetch (slow-loris), a body cap enforced on
  *decompressed* bytes with bounded-output decoders (compression bombs), manual redirects.

Why we do not use ``httpx.Response.aiter_bytes()``: httpx decompresses each network chunk in one
call with no output limit. 1.6 kB of brotli expands to 1 GB in a single call (measured: 2 GB RSS),
so counting afterwards is too late. We read ``aiter_raw()`` and decompress with
``zlib.decompressobj().decompress(data, max_length)`` and brotli's ``output_buffer_limit``
(brotli >= 1.2), checking the cap after every <= ~100 kB piece.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import logging
import math
import re
import socket
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol, Self

import aiohttp
import brotli
import httpx
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult
from protego import Protego

from newsdesk.pipeline.encoding import decode_body

__all__ = ["FetchConfig", "FetchError", "FetchResult", "Fetcher", "Resolver"]

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_RETRY_STATUSES = frozenset({429, 503})
_BACKOFF_BASE = 1.0  # seconds; doubled per attempt when the server sends no Retry-After
_CHUNK = 64 * 1024  # max output per decompression step
_DNS_TTL = 30.0  # how long a checked resolution is reused (also what pins check -> connect)
_ROBOTS_MAX = 512 * 1024  # RFC 9309 asks parsers to handle >= 500 KiB; the rest is ignored
_ROBOTS_TTL = 12 * 3600.0
_ROBOTS_RETRY_TTL = 600.0  # after 5xx/unreachable: allow for now, ask again soon
_MAX_CACHED = 4096  # bound for per-host/per-origin dictionaries
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Response header limits. h11 (httpx's parser) capped the whole header block at 100 kB; aiohttp's
# defaults (8190-byte lines, 128 headers) reject real sites' big CSP/Set-Cookie headers.
_MAX_HEADER_LINE = 100 * 1024
_MAX_HEADERS = 256
_KEEPALIVE = 5.0  # seconds an idle pooled connection is kept (httpx's default)
_MAX_IDLE = 128  # idle keep-alive connections kept in all (see _BoundedIdleConnector)


def _brotli_is_bounded() -> bool:
    # output_buffer_limit arrived in brotli 1.2. Without it a brotli body cannot be decoded
    # with bounded memory, so we then neither advertise nor accept "br".
    try:
        brotli.Decompressor().process(b"", output_buffer_limit=_CHUNK)
    except (TypeError, AttributeError, brotli.error):
        return False
    return True


_BROTLI_BOUNDED = _brotli_is_bounded()
_ACCEPT_ENCODING = "gzip, deflate, br" if _BROTLI_BOUNDED else "gzip, deflate"
_ACCEPT = (
    "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
    "application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.8"
)


@dataclass(frozen=True)
class FetchConfig:
    user_agent: str = "newsdesk/0.1 (+https://github.com/newsdesk/newsdesk)"
    host_concurrency: int = 2  # max concurrent requests per host
    host_delay: float = 1.0  # min seconds between request starts to one host (0 = none)
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    # Wall-clock budget for one fetch: all hops/attempts incl. bodies. Time spent queueing for
    # the per-host slot and sleeping for Retry-After is not charged (that is our politeness).
    total_timeout: float = 60.0
    max_redirects: int = 5
    max_body: int = 10 * 1024 * 1024  # on decompressed bytes
    allow_private: bool = False  # NEWSDESK_ALLOW_PRIVATE_NETWORKS
    respect_robots: bool = True
    max_retries: int = 2  # for 429/503
    max_retry_wait: float = 30.0  # longer Retry-After -> FetchError('rate_limited')


_DEFAULT_CONFIG = FetchConfig()

_REASON_TEXT = {
    "bad_url": "invalid or unsupported URL",
    "ssrf": "refused: host resolves to a non-public address",
    "dns": "could not resolve host",
    "connect": "connection failed",
    "timeout": "timed out",
    "too_large": "response body too large",
    "too_many_redirects": "too many redirects",
    "redirect_loop": "redirect loop",
    "robots": "disallowed by robots.txt",
    "rate_limited": "rate limited by the server",
    "protocol": "HTTP protocol error",
}


class FetchError(Exception):
    """A fetch failed; ``reason`` is a short stable code for programs, ``str()`` is for humans."""

    def __init__(
        self,
        reason: str,
        url: str,
        message: str = "",
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        # args carry the positional part and __dict__ the rest, so the error pickles intact.
        super().__init__(reason, url, message)
        self.reason = reason
        self.url = url
        self.message = message
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        text = self.message or _REASON_TEXT.get(self.reason, "")
        if not text:
            text = f"server answered HTTP {self.status}" if self.status else self.reason
        out = f"{text} [{self.reason}] fetching {self.url}"
        if self.retry_after is not None:
            out += f" (retry after {self.retry_after:.0f}s)"
        return out


@dataclass(frozen=True)
class FetchResult:
    url: str  # as requested
    final_url: str  # after redirects
    status: int  # 2xx, or 304 when not_modified
    headers: dict[str, str]  # lower-cased names, final response
    body: bytes  # decompressed; b"" on 304
    content_type: str | None  # media type only, lower-case
    charset: str | None  # charset parameter of Content-Type, lower-case
    etag: str | None
    last_modified: str | None
    not_modified: bool
    elapsed: float

    @property
    def noarchive(self) -> bool:
        """`X-Robots-Tag: noarchive` (or `none`), for everyone or for the `newsdesk` token."""
        return header_noarchive(self.headers.get("x-robots-tag", ""), "newsdesk")

    def text(self) -> str:
        return decode_body(self.body, self.charset, self.content_type)


# --------------------------------------------------------------------------- SSRF guard


_VALUED_ROBOTS_DIRECTIVES = {
    "unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"}


def header_noarchive(value: str, token: str) -> bool:
    """Whether an X-Robots-Tag header value forbids archiving for `token`.

    Values look like "noarchive", "googlebot: noarchive, nosnippet" or "newsdesk: none"; several
    headers arrive comma-joined, so a "name:" prefix starts a new agent's group.
    """
    agent: str | None = None
    for part in value.split(","):
        part = part.strip().lower()
        name, sep, rest = part.partition(":")
        name = name.strip()
        if sep and name and " " not in name and name not in _VALUED_ROBOTS_DIRECTIVES:
            agent, part = name, rest.strip()
        if part in {"noarchive", "none"} and agent in (None, token.lower()):
            return True
    return False


class _GuardError(Exception):
    """Raised by the address guard; turned into FetchError where the URL is known."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _is_forbidden(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        # Judge IPv4 embedded in IPv6 by the IPv4 it reaches (::ffff:10.0.0.1 is 10.0.0.1).
        if ip.ipv4_mapped is not None:
            return _is_forbidden(ip.ipv4_mapped)
        embedded = ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and _is_forbidden(embedded):
            return True
    # is_global alone misses multicast (224/4 counts as "global"), hence the explicit list.
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _parse_ip(value: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return None


async def _default_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _AddressGuard:
    """Resolves and vets hosts; the short-lived cache of vetted answers is what the connection
    backend reuses, so the address we connect to is exactly one we checked."""

    def __init__(self, resolver: Resolver, allow_private: bool) -> None:
        self._resolver = resolver
        self._allow_private = allow_private
        self._cache: dict[tuple[str, int], tuple[float, list[str]]] = {}

    async def addresses(self, host: str, port: int) -> list[str]:
        key = (host.lower(), port)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        checked = await self._resolve_checked(key[0], port)
        if len(self._cache) >= _MAX_CACHED:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        self._cache[key] = (now + _DNS_TTL, checked)
        return checked

    async def _resolve_checked(self, host: str, port: int) -> list[str]:
        literal = _parse_ip(host)
        if literal is not None:
            ips = [literal]
        else:
            try:
                answers = await self._resolver(host, port)
            except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
                raise _GuardError("dns", f"could not resolve {host}: {exc}") from exc
            ips = []
            for answer in answers:
                ip = _parse_ip(str(answer))
                if ip is None:  # fail closed on anything we cannot classify
                    raise _GuardError("ssrf", f"{host} resolved to unparseable {answer!r}")
                ips.append(ip)
            if not ips:
                raise _GuardError("dns", f"{host} has no addresses")
        if not self._allow_private:
            bad = [str(ip) for ip in ips if _is_forbidden(ip)]
            if bad:
                raise _GuardError("ssrf", f"{host} resolves to non-public address {', '.join(bad)}")
        return [str(ip) for ip in ips]


# --------------------------------------------------------------------------- transport


class _PinnedResolver(AbstractResolver):
    """aiohttp resolver that answers only with the guard's vetted addresses.

    aiohttp asks its resolver whenever it opens a new connection, so the TCP target is always an
    address we checked (DNS rebinding between check and connect cannot redirect us), while the
    Host header, TLS SNI and certificate verification keep using the real hostname. A refusal
    raises ``_GuardError``, which aiohttp passes through untouched (it only wraps OSError).
    """

    def __init__(self, guard: _AddressGuard) -> None:
        self._guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {
                "hostname": host,
                "host": ip,
                "port": port,
                "family": socket.AF_INET6 if ":" in ip else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for ip in (await self._guard.addresses(host, port))[:4]
        ]

    async def close(self) -> None:
        pass


# aiohttp error -> the httpx error httpx's own transport raises for the same failure, so that
# _transport_error keeps giving the same reasons. First match wins: subclasses before bases.
_AIOHTTP_ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (TimeoutError, httpx.ReadTimeout),  # aiohttp.SocketTimeoutError (sock_read) and kin
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, unreachable, TLS failures
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),  # truncated/malformed body
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # malformed status line/headers
    (aiohttp.ClientError, httpx.ReadError),  # resets and the rest
)


def _httpx_error(exc: BaseException) -> httpx.TransportError:
    target = next((t for s, t in _AIOHTTP_ERRORS if isinstance(exc, s)), httpx.ReadError)
    return target(str(exc) or type(exc).__name__)


class _AiohttpStream(httpx.AsyncByteStream):
    """Raw (still content-encoded) response body, read as it arrives."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _httpx_error(exc) from exc

    async def aclose(self) -> None:
        if self._response.content.is_eof():
            self._response.release()  # body complete: the connection goes back to the pool
        else:
            self._response.close()  # unread rest (too large, error, cancelled): hang up


class _BoundedIdleConnector(aiohttp.TCPConnector):
    """aiohttp's connector with a cap on idle keep-alive connections across all hosts.

    aiohttp limits connections in use but keeps every idle one until its keep-alive expires: a
    crawl of the replay corpus (1,262 sites) held ~1,060 sockets open at its peak, against the
    common 1024-descriptor limit (httpx kept 16 idle). Past the cap, the connection idle longest
    is closed. This reads aiohttp's private pool (``_conns``), hence the check at construction.
    """

    def __init__(self, *, max_idle: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(getattr(self, "_conns", None), dict):
            raise RuntimeError("unsupported aiohttp version: cannot bound the idle pool")
        self._max_idle = max_idle

    def _release(self, key: Any, protocol: Any, *, should_close: bool = False) -> None:
        super()._release(key, protocol, should_close=should_close)
        pool: dict[Any, deque[tuple[Any, float]]] = self._conns
        if sum(map(len, pool.values())) <= self._max_idle:
            return
        oldest = min(pool, key=lambda k: pool[k][0][1])  # each deque is oldest-first
        stale, _ = pool[oldest].popleft()
        if not pool[oldest]:
            del pool[oldest]
        stale.close()


class _PinnedTransport(httpx.AsyncBaseTransport):
    """httpx transport on aiohttp, whose connections go only to addresses the guard vetted.

    Why not httpx's own transport: httpcore + h11 (a pure-Python HTTP parser) + anyio were about
    a third of the crawler's CPU; aiohttp parses with llhttp (C). httpx stays the client API.
    The session is configured as a bare byte pipe: no redirects (Fetcher follows them itself,
    checking each hop), no decompression (Fetcher decodes with an output limit), no cookies,
    no proxies from the environment (a proxy would bypass the address pin).
    """

    def __init__(
        self, guard: _AddressGuard, *, max_connections: int, max_idle: int, keepalive: float
    ) -> None:
        self._guard = guard
        self._max_connections = max_connections
        self._max_idle = max_idle
        self._keepalive = keepalive
        self._ssl = httpx.create_ssl_context()  # honours SSL_CERT_FILE/SSL_CERT_DIR
        # Created on first use: an aiohttp session belongs to the event loop it is made in,
        # and a Fetcher may be constructed before the loop runs.
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = _BoundedIdleConnector(
                max_idle=self._max_idle,
                resolver=_PinnedResolver(self._guard),
                use_dns_cache=False,  # every new connection asks the guard (which caches)
                ssl=self._ssl,
                limit=self._max_connections,
                limit_per_host=0,  # per-host concurrency is the Fetcher's _HostGate
                keepalive_timeout=self._keepalive,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None),  # per-request values below
                max_line_size=_MAX_HEADER_LINE,
                max_field_size=_MAX_HEADER_LINE,
                max_headers=_MAX_HEADERS,
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        # Vet every request here too (a cache hit after the Fetcher's own check): aiohttp does
        # not consult the resolver for IP literals, so this is what pins those.
        port = url.port or _DEFAULT_PORTS.get(url.scheme, 0)
        await self._guard.addresses(url.raw_host.decode("ascii"), port)
        timeout: dict[str, float | None] = request.extensions.get("timeout", {})
        pool, connect = timeout.get("pool"), timeout.get("connect")
        body = await request.aread()
        try:
            response = await self._get_session().request(
                request.method,
                yarl.URL(str(url), encoded=True),  # httpx has already normalised and quoted it
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    # aiohttp's "connect" spans waiting for a pool slot plus connecting.
                    connect=None if pool is None or connect is None else pool + connect,
                    sock_connect=connect,
                    sock_read=timeout.get("read"),
                ),
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _httpx_error(exc) from exc
        return httpx.Response(
            response.status,
            headers=response.raw_headers,  # raw pairs: repeated headers stay separate
            stream=_AiohttpStream(response),
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


# --------------------------------------------------------------------------- decompression


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...


class _ZlibDecoder:
    def __init__(self, gzip: bool) -> None:
        self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
        self._sniff = not gzip

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._sniff and data:
            # "deflate" should be zlib-wrapped (RFC 9110) but raw deflate is common in the wild.
            self._sniff = False
            try:
                zlib.decompressobj().decompress(data[:2])
            except zlib.error:
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
        while not self._obj.eof:  # bytes after the end of the stream are ignored
            out = self._obj.decompress(data, _CHUNK)
            data = self._obj.unconsumed_tail
            if out:
                yield out
            # A full chunk may leave output pending inside zlib even with no input left.
            if not data and len(out) < _CHUNK:
                return


class _BrotliDecoder:
    def __init__(self) -> None:
        self._obj = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._obj.is_finished():
            return
        out = self._obj.process(data, output_buffer_limit=_CHUNK)
        while True:
            if out:
                yield out
            elif self._obj.can_accept_more_data():
                return
            else:  # cannot take input and produces nothing: would spin forever
                raise brotli.error("brotli decoder stalled")
            if self._obj.is_finished():
                return
            # can_accept_more_data() may turn True while output is still pending, so drain
            # with empty input until nothing comes out.
            out = self._obj.process(b"", output_buffer_limit=_CHUNK)


class _IdentityDecoder:
    def feed(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data


def _decoders_for(content_encoding: str) -> list[_Decoder] | None:
    """Decoders in decoding order, or None for an encoding we cannot decode boundedly."""
    decoders: list[_Decoder] = []
    for token in reversed([t.strip().lower() for t in content_encoding.split(",")]):
        if token in ("", "identity", "none"):
            continue
        if token in ("gzip", "x-gzip"):
            decoders.append(_ZlibDecoder(gzip=True))
        elif token == "deflate":
            decoders.append(_ZlibDecoder(gzip=False))
        elif token == "br" and _BROTLI_BOUNDED:
            decoders.append(_BrotliDecoder())
        else:
            return None
    return decoders or [_IdentityDecoder()]


def _decode_chain(decoders: list[_Decoder], data: bytes) -> Iterator[bytes]:
    if not decoders:
        yield data
        return
    for piece in decoders[0].feed(data):
        yield from _decode_chain(decoders[1:], piece)


# --------------------------------------------------------------------------- politeness


class _HostGate:
    """Per-host concurrency limit plus minimum spacing between request starts."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self._sem = asyncio.Semaphore(max(1, concurrency))
        self._delay = max(0.0, delay)
        self._next_start = 0.0
        self._users = 0  # holders and waiters; 0 means the gate may be dropped

    def defer(self, until: float) -> None:
        """Hold back every request to this host until ``until`` (Retry-After is host-wide)."""
        self._next_start = max(self._next_start, until)

    def idle(self, now: float) -> bool:
        return self._users == 0 and self._next_start <= now

    async def __aenter__(self) -> None:
        self._users += 1
        try:
            await self._sem.acquire()
        except BaseException:
            self._users -= 1
            raise
        try:
            # Reserve a start time before any await: asyncio cannot interleave here, and slots
            # are reserved in semaphore order, so consecutive starts are >= delay apart.
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self._delay
            if start > now:
                await asyncio.sleep(start - now)
        except BaseException:
            self._sem.release()
            self._users -= 1
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._sem.release()
        self._users -= 1


# --------------------------------------------------------------------------- helpers


class _Budget:
    """Remaining wall-clock allowance of one fetch, charged only for time on the wire."""

    def __init__(self, total: float) -> None:
        self._left = total

    def remaining(self) -> float:
        return max(self._left, 0.0)

    def spend(self, seconds: float) -> None:
        self._left -= seconds


@dataclass
class _Exchange:
    status: int
    headers: httpx.Headers
    body: bytes


def _parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    media, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, val = param.partition("=")
        if name.strip().lower() == "charset":
            charset = val.strip().strip("\"'").lower() or None
    return media.strip().lower() or None, charset


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _robots_token(user_agent: str) -> str:
    match = re.match(r"[A-Za-z0-9_.-]+", user_agent.strip())
    return match.group(0).lower() if match else "newsdesk"


class _NoCookies(httpx.Cookies):
    def extract_cookies(self, response: httpx.Response) -> None:
        pass  # nothing is ever stored, so nothing is ever sent


class _CookielessClient(httpx.AsyncClient):
    """A stateless fetcher: no cookie leaks between fetches and no tracking/consent state.

    Done by replacing the jar httpx consults rather than with a rejecting cookie policy: httpx
    builds a urllib Request per response before the policy gets a say (~2% of the crawler's CPU).
    """

    @property
    def cookies(self) -> httpx.Cookies:
        return _NoCookies()


def _transport_error(exc: Exception, url: str) -> FetchError:
    if isinstance(exc, httpx.TimeoutException):
        reason = "timeout"
    elif isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        reason = "bad_url"
    elif isinstance(exc, httpx.ProtocolError | httpx.DecodingError):
        reason = "protocol"
    else:  # ConnectError (incl. TLS failures), ReadError, WriteError, ...
        reason = "connect"
    return FetchError(reason, url, f"{type(exc).__name__}: {exc}" if str(exc) else "")


# --------------------------------------------------------------------------- fetcher


class Fetcher:
    """Shared, long-lived fetcher: one per process/worker, used concurrently by many tasks."""

    def __init__(
        self,
        config: FetchConfig = _DEFAULT_CONFIG,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.config = config
        self._guard = _AddressGuard(resolver or _default_resolver, config.allow_private)
        self._robots_token = _robots_token(config.user_agent)
        # An injected transport (tests, special deployments) bypasses the connection pin but
        # still gets the SSRF pre-check on every hop.
        self._client = _CookielessClient(
            transport=transport
            or _PinnedTransport(
                self._guard, max_connections=64, max_idle=_MAX_IDLE, keepalive=_KEEPALIVE
            ),
            timeout=httpx.Timeout(
                connect=config.connect_timeout,
                read=config.read_timeout,
                write=config.read_timeout,
                pool=config.connect_timeout,
            ),
            follow_redirects=False,  # manual, so each hop passes the SSRF guard
            trust_env=False,  # no env proxies/netrc: a proxy would bypass the address pin
            headers={
                "User-Agent": config.user_agent,
                "Accept": _ACCEPT,
                "Accept-Encoding": _ACCEPT_ENCODING,
            },
        )
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, tuple[float, Protego | None]] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self.stats: dict[str, int] = dict.fromkeys(
            (
                "requests",  # HTTP requests sent (hops, retries and robots.txt included)
                "fetched",  # successful fetch() calls with a body
                "not_modified",
                "bytes",  # decompressed body bytes returned by fetch()
                "errors",  # fetch() calls that raised FetchError
                "ssrf_blocked",
                "robots_denied",
                "robots_fetched",
                "retries",
                "redirects",
                "rate_limited",
            ),
            0,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # ------------------------------------------------------------------ public API

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        check_robots: bool = True,
    ) -> FetchResult:
        started = time.monotonic()
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            final_url, resp = await self._follow(
                self._parse_url(url, url),
                url,
                headers,
                limit=self.config.max_body,
                check_robots=check_robots and self.config.respect_robots,
            )
            if resp.status == 304:
                self.stats["not_modified"] += 1
            elif not 200 <= resp.status < 300:
                raise FetchError(f"http_{resp.status}", url, status=resp.status)
        except FetchError as exc:
            self.stats["errors"] += 1
            for reason, counter in (
                ("ssrf", "ssrf_blocked"),
                ("robots", "robots_denied"),
                ("rate_limited", "rate_limited"),
            ):
                if exc.reason == reason:
                    self.stats[counter] += 1
            raise

        not_modified = resp.status == 304
        if not not_modified:
            self.stats["fetched"] += 1
            self.stats["bytes"] += len(resp.body)
        content_type, charset = _parse_content_type(resp.headers.get("content-type"))
        return FetchResult(
            url=url,
            final_url=str(final_url),
            status=resp.status,
            headers=dict(resp.headers.items()),  # httpx lower-cases names, joins repeats
            body=resp.body,
            content_type=content_type,
            charset=charset,
            # A 304 may omit validators; the ones we sent are still current then.
            etag=resp.headers.get("etag") or (etag if not_modified else None),
            last_modified=resp.headers.get("last-modified")
            or (last_modified if not_modified else None),
            not_modified=not_modified,
            elapsed=time.monotonic() - started,
        )

    async def robots_allowed(self, url: str) -> bool:
        """May we fetch ``url``? Cached per origin.

        robots.txt 2xx -> its rules; 4xx (except 429) -> allow all (RFC 9309). 5xx, 429 and
        network/guard failures -> allow, re-checked after 10 minutes. RFC 9309 says to assume
        "disallow all" when unreachable; we deliberately do not, because we only fetch pages the
        site itself links from its feeds and a broken robots.txt (CDN/bot-challenge 5xx is
        common) would otherwise silently drop whole sites. Always True if respect_robots=False.
        """
        if not self.config.respect_robots:
            return True
        target = self._parse_url(url, url)
        origin = f"{target.scheme}://{target.netloc.decode('ascii')}"
        rules = await self._robots_for(origin)
        return rules is None or rules.can_fetch(str(target), self._robots_token)

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _parse_url(value: str | httpx.URL, original: str) -> httpx.URL:
        try:
            url = httpx.URL(value)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise FetchError("bad_url", original, f"invalid URL {str(value)!r}: {exc}") from None
        if url.scheme not in ("http", "https") or not url.raw_host:
            raise FetchError("bad_url", original, f"not an http(s) URL with a host: {str(value)!r}")
        return url.copy_with(fragment=None)

    async def _check_host(self, url: httpx.URL, original: str) -> None:
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            await self._guard.addresses(url.raw_host.decode("ascii"), port)
        except _GuardError as exc:
            raise FetchError(exc.reason, original, f"{exc} (while fetching {url})") from None

    @staticmethod
    def _host_key(url: httpx.URL) -> str:
        # The politeness unit is the authority (host:port), i.e. one web server: two ports are
        # two servers (and the replay benchmark serves each site on its own loopback port).
        return f"{url.host}:{url.port}" if url.port else url.host

    def _gate(self, host: str) -> _HostGate:
        gate = self._gates.get(host)
        if gate is None:
            if len(self._gates) >= _MAX_CACHED:
                now = time.monotonic()
                self._gates = {h: g for h, g in self._gates.items() if not g.idle(now)}
            gate = self._gates[host] = _HostGate(
                self.config.host_concurrency, self.config.host_delay
            )
        return gate

    async def _follow(
        self,
        url: httpx.URL,
        original: str,
        headers: dict[str, str],
        *,
        limit: int,
        check_robots: bool,
        truncate: bool = False,
    ) -> tuple[httpx.URL, _Exchange]:
        """GET with manual redirects; every hop is SSRF-checked (and robots-checked if asked)."""
        budget = _Budget(self.config.total_timeout)
        seen = {str(url)}
        redirects = 0
        while True:
            await self._check_host(url, original)
            if check_robots and not await self.robots_allowed(str(url)):
                raise FetchError("robots", original, f"robots.txt disallows {url}")
            resp = await self._get_with_retries(url, original, headers, budget, limit, truncate)
            location = resp.headers.get("location")
            if resp.status not in _REDIRECT_STATUSES or not location:
                return url, resp
            target = self._parse_url(self._join(url, location, original), original)
            if str(target) in seen:
                raise FetchError("redirect_loop", original, f"redirect loop at {target}")
            if redirects >= self.config.max_redirects:
                raise FetchError(
                    "too_many_redirects",
                    original,
                    f"more than {self.config.max_redirects} redirects (next: {target})",
                )
            seen.add(str(target))
            redirects += 1
            self.stats["redirects"] += 1
            url = target

    @staticmethod
    def _join(base: httpx.URL, location: str, original: str) -> httpx.URL:
        try:
            return base.join(location)
        except (httpx.InvalidURL, ValueError) as exc:
            raise FetchError("bad_url", original, f"bad redirect {location!r}: {exc}") from None

    async def _get_with_retries(
        self,
        url: httpx.URL,
        original: str,
        headers: dict[str, str],
        budget: _Budget,
        limit: int,
        truncate: bool,
    ) -> _Exchange:
        attempt = 0
        while True:
            resp = await self._exchange(url, original, headers, budget, limit, truncate)
            if resp.status not in _RETRY_STATUSES:
                return resp
            retry_after = _parse_retry_after(resp.headers.get("retry-after"))
            if retry_after is not None and retry_after > self.config.max_retry_wait:
                raise FetchError(
                    "rate_limited",
                    original,
                    f"HTTP {resp.status}, server asks to wait {retry_after:.0f}s",
                    status=resp.status,
                    retry_after=retry_after,
                )
            if attempt >= self.config.max_retries:
                if resp.status == 429 or retry_after is not None:
                    raise FetchError(
                        "rate_limited",
                        original,
                        f"HTTP {resp.status} after {attempt} retries",
                        status=resp.status,
                        retry_after=retry_after,
                    )
                return resp  # plain 503: reported as http_503 by the caller
            wait = retry_after
            if wait is None:
                wait = min(_BACKOFF_BASE * 2**attempt, self.config.max_retry_wait)
            attempt += 1
            self.stats["retries"] += 1
            log.debug("HTTP %s from %s, retrying in %.1fs", resp.status, url, wait)
            # The wait is imposed on the whole host (a 429 is about us, not one URL); the gate
            # makes the retry itself wait too.
            self._gate(self._host_key(url)).defer(time.monotonic() + wait)

    async def _exchange(
        self,
        url: httpx.URL,
        original: str,
        headers: dict[str, str],
        budget: _Budget,
        limit: int,
        truncate: bool,
    ) -> _Exchange:
        """One request/response under the host gate and the fetch's wall-clock budget."""
        async with self._gate(self._host_key(url)):
            started = time.monotonic()
            self.stats["requests"] += 1
            deadline = asyncio.timeout(budget.remaining())
            try:
                async with deadline:
                    response = await self._client.send(
                        self._client.build_request("GET", url, headers=headers), stream=True
                    )
                    try:
                        body = b""
                        if 200 <= response.status_code < 300:
                            body = await self._read_body(response, original, limit, truncate)
                    finally:
                        await response.aclose()
            except TimeoutError:
                if deadline.expired():
                    raise FetchError(
                        "timeout",
                        original,
                        f"no complete response within {self.config.total_timeout:g}s "
                        f"(while fetching {url})",
                    ) from None
                raise
            except _GuardError as exc:  # raised at connect time by _PinnedTransport
                raise FetchError(exc.reason, original, str(exc)) from None
            except httpx.HTTPError as exc:
                raise _transport_error(exc, original) from None
            finally:
                budget.spend(time.monotonic() - started)
        return _Exchange(response.status_code, response.headers, body)

    async def _read_body(
        self, response: httpx.Response, original: str, limit: int, truncate: bool
    ) -> bytes:
        encoding = response.headers.get("content-encoding", "")
        decoders = _decoders_for(encoding)
        if decoders is None:
            raise FetchError("protocol", original, f"unsupported Content-Encoding {encoding!r}")
        declared = response.headers.get("content-length", "")
        if not truncate and declared.isdigit() and int(declared) > limit:
            raise FetchError(
                "too_large", original, f"Content-Length {declared} exceeds limit of {limit} bytes"
            )
        body = bytearray()
        raw_total = 0
        try:
            async for raw in response.aiter_raw():
                raw_total += len(raw)
                for piece in _decode_chain(decoders, raw):
                    body += piece
                    if len(body) > limit:
                        if truncate:
                            return bytes(body[:limit])
                        raise FetchError(
                            "too_large", original, f"body exceeds limit of {limit} bytes"
                        )
                if raw_total > limit:  # compressed stream that never ends or yields nothing
                    if truncate:
                        return bytes(body)
                    raise FetchError(
                        "too_large", original, f"body exceeds limit of {limit} bytes (raw)"
                    )
        except (zlib.error, brotli.error) as exc:
            raise FetchError("protocol", original, f"corrupt {encoding} body: {exc}") from None
        return bytes(body)

    async def _robots_for(self, origin: str) -> Protego | None:
        cached = self._robots.get(origin)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:  # one robots.txt request per origin, however many callers wait
            now = time.monotonic()
            cached = self._robots.get(origin)
            if cached is not None and cached[0] > now:
                return cached[1]
            rules, ttl = await self._load_robots(origin)
            if len(self._robots) >= _MAX_CACHED:
                self._robots = {o: e for o, e in self._robots.items() if e[0] > now}
                self._robots_locks = {
                    o: lk for o, lk in self._robots_locks.items() if lk.locked() or o == origin
                }
            self._robots[origin] = (time.monotonic() + ttl, rules)
            return rules

    async def _load_robots(self, origin: str) -> tuple[Protego | None, float]:
        robots_url = f"{origin}/robots.txt"
        try:
            _, resp = await self._follow(
                self._parse_url(robots_url, robots_url),
                robots_url,
                {},
                limit=_ROBOTS_MAX,
                check_robots=False,
                truncate=True,
            )
        except FetchError as exc:
            log.info("robots.txt unavailable (%s), allowing: %s", exc.reason, exc)
            return None, _ROBOTS_RETRY_TTL
        self.stats["robots_fetched"] += 1
        if 200 <= resp.status < 300:
            try:
                return Protego.parse(resp.body.decode("utf-8", errors="replace")), _ROBOTS_TTL
            except Exception:  # protego on hostile input: treat like a missing file
                log.warning("unparseable robots.txt at %s, allowing", robots_url, exc_info=True)
                return None, _ROBOTS_TTL
        if 400 <= resp.status < 500 and resp.status != 429:
            return None, _ROBOTS_TTL
        log.info("robots.txt at %s answered HTTP %s, allowing for now", robots_url, resp.status)
        return None, _ROBOTS_RETRY_TTL
