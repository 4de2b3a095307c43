"""Tests for newsdesk.pipeline.fetch against real, hostile loopback servers.

Network safety: every server binds 127.0.0.1; system DNS is blocked for anything but 'localhost'
and numeric hosts (``no_real_dns``); SSRF refusal tests use a transport that fails if it is ever
called, or the real transport with a loopback server that must see zero connections. Tests that
need a "public" host route it through ``LoopbackRouter``, which can only ever reach 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import email.utils
import gc
import ipaddress
import pickle
import shutil
import socket
import ssl
import subprocess
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
import brotli
import httpx
import pytest

from newsdesk.pipeline import fetch as fetch_module
from newsdesk.pipeline.encoding import decode_body, sniff_declared_charset
from newsdesk.pipeline.fetch import (
    FetchConfig,
    Fetcher,
    FetchError,
    FetchResult,
    _AddressGuard,
    _GuardError,
    _PinnedResolver,
    _PinnedTransport,
)

MB = 1024 * 1024

# Small limits keep hostile tests fast; allow_private because the servers live on loopback.
BASE_CONFIG = FetchConfig(
    host_delay=0.0,
    connect_timeout=2.0,
    read_timeout=2.0,
    total_timeout=5.0,
    max_body=1 * MB,
    allow_private=True,
    respect_robots=False,
)


# --------------------------------------------------------------------------- loopback servers


@dataclass
class Req:
    method: str
    path: str
    headers: dict[str, str]


Handler = Callable[[Req, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Server:
    handler: Handler
    port: int = 0
    connections: int = 0
    requests: list[Req] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_connection, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):  # hostile handlers may sleep or stream forever
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _on_connection(self, reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            line, *header_lines = head.split("\r\n")
            method, path, _ = line.split(" ", 2)
            headers = {}
            for h in header_lines:
                if ":" in h:
                    name, value = h.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            self.requests.append(Req(method, path, headers))
            self.starts.append(time.monotonic())
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await self.handler(self.requests[-1], w)
            finally:
                self.in_flight -= 1
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            w.close()
            with contextlib.suppress(Exception):
                await w.wait_closed()


async def reply(
    w: asyncio.StreamWriter,
    status: int = 200,
    body: bytes = b"",
    headers: tuple[str, ...] = (),
) -> None:
    head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close", *headers]
    w.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
    await w.drain()


async def ok(req: Req, w: asyncio.StreamWriter) -> None:
    await reply(w, body=b"hello", headers=("Content-Type: text/plain",))


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[Server]]]:
    servers: list[Server] = []

    async def start(handler: Handler) -> Server:
        server = Server(handler)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def make_fetcher() -> AsyncIterator[Callable[..., Fetcher]]:
    fetchers: list[Fetcher] = []

    def make(
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Any = None,
        **overrides: Any,
    ) -> Fetcher:
        fetcher = Fetcher(replace(BASE_CONFIG, **overrides), transport=transport, resolver=resolver)
        fetchers.append(fetcher)
        return fetcher

    yield make
    for fetcher in fetchers:
        await fetcher.aclose()


def _transport(resolver: Any, *, allow_private: bool, max_idle: int = 4) -> _PinnedTransport:
    """The Fetcher's own transport (aiohttp, pinned to vetted addresses), small pool."""
    return _PinnedTransport(_AddressGuard(resolver, allow_private=allow_private),
                            max_connections=4, max_idle=max_idle, keepalive=5.0)


def _numeric_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        socket.inet_aton(host)  # "127.1", "2130706433": resolved locally, no DNS query
        return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def no_real_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may query real DNS: a lookup could leave the machine, and it would also mean
    the fetcher connected to a name without going through its (stubbed) resolver."""
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name != "localhost" and not _numeric_host(name):
            raise AssertionError(f"test attempted a real DNS lookup for {name!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


class ExplodingTransport(httpx.AsyncBaseTransport):
    """For refusal tests: being called at all means a request would have gone out."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        raise AssertionError(f"transport must never be reached, got {request.url}")


class LoopbackRouter(httpx.AsyncBaseTransport):
    """Sends every request to one loopback server, whatever the URL says (Host is kept).

    Lets a test treat 'public.example' (stub-resolved to a public IP) as a real server, with
    no possibility of connecting anywhere but 127.0.0.1.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.seen: list[str] = []
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(str(request.url))
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def stub_resolver(mapping: dict[str, list[str]]) -> Callable[[str, int], Awaitable[list[str]]]:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in mapping:
            raise socket.gaierror(socket.EAI_NONAME, f"stub: unknown host {host}")
        return mapping[host]

    return resolve


async def fetch_error(fetcher: Fetcher, url: str, **kwargs: Any) -> FetchError:
    with pytest.raises(FetchError) as info:
        await fetcher.fetch(url, **kwargs)
    return info.value


# --------------------------------------------------------------------------- basics


async def test_simple_get(serve: Any, make_fetcher: Any) -> None:
    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await reply(
            w,
            body=b"<p>hi</p>",
            headers=(
                'Content-Type: Text/HTML; charset="ISO-8859-1"',
                'ETag: "v1"',
                "Last-Modified: Tue, 01 Oct 2024 10:00:00 GMT",
            ),
        )

    server = await serve(handler)
    fetcher = make_fetcher(user_agent="newsdesk-test/9")
    result = await fetcher.fetch(f"{server.base}/a#frag")
    assert isinstance(result, FetchResult)
    assert (result.status, result.body, result.not_modified) == (200, b"<p>hi</p>", False)
    assert result.url == f"{server.base}/a#frag"
    assert result.final_url == f"{server.base}/a"
    assert (result.content_type, result.charset) == ("text/html", "iso-8859-1")
    assert (result.etag, result.last_modified) == ('"v1"', "Tue, 01 Oct 2024 10:00:00 GMT")
    assert result.headers["etag"] == '"v1"'
    assert result.text() == "<p>hi</p>"
    req = server.requests[0]
    assert req.path == "/a" and req.headers["user-agent"] == "newsdesk-test/9"
    assert "gzip" in req.headers["accept-encoding"] and "br" in req.headers["accept-encoding"]
    assert fetcher.stats["requests"] == 1 and fetcher.stats["bytes"] == 9


@pytest.mark.parametrize("status", [404, 410, 500])
async def test_http_errors(serve: Any, make_fetcher: Any, status: int) -> None:
    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await reply(w, status, b"nope")

    server = await serve(handler)
    err = await fetch_error(make_fetcher(), f"{server.base}/x")
    assert (err.reason, err.status) == (f"http_{status}", status)
    assert str(status) in str(err) and f"{server.base}/x" in str(err)
    assert len(server.requests) == 1  # 500 is not a retry status


def test_fetch_error_pickles_and_reads_well() -> None:
    err = FetchError("rate_limited", "http://a.example/", status=429, retry_after=120.0)
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.reason, clone.url, clone.status, clone.retry_after) == (
        "rate_limited",
        "http://a.example/",
        429,
        120.0,
    )
    assert str(clone) == str(err)
    assert "rate limited" in str(err) and "http://a.example/" in str(err) and "120" in str(err)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/", "file:///etc/passwd", "http://", "not a url", "javascript:x", ""],
)
async def test_bad_url(make_fetcher: Any, url: str) -> None:
    transport = ExplodingTransport()
    err = await fetch_error(make_fetcher(transport=transport), url)
    assert err.reason == "bad_url"
    assert transport.calls == 0


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "deflate-raw", "br", "deflate, gzip"])
async def test_compressed_bodies_decode(serve: Any, make_fetcher: Any, encoding: str) -> None:
    plain = b"news " * 50_000  # 250 kB: several decompression steps

    def compress(data: bytes, coding: str) -> bytes:
        if coding == "gzip":
            return zlib.compress(data, wbits=31)
        if coding == "deflate":
            return zlib.compress(data)
        if coding == "deflate-raw":
            return zlib.compress(data, wbits=-15)
        return brotli.compress(data)

    payload = plain
    for coding in encoding.split(", "):
        payload = compress(payload, coding)
    header = encoding.replace("deflate-raw", "deflate")

    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await reply(w, body=payload, headers=(f"Content-Encoding: {header}",))

    server = await serve(handler)
    result = await make_fetcher().fetch(server.base + "/")
    assert result.body == plain


async def test_context_manager_and_defaults(serve: Any) -> None:
    server = await serve(ok)
    async with Fetcher(FetchConfig(allow_private=True, host_delay=0)) as fetcher:
        result = await fetcher.fetch(server.base + "/", check_robots=False)
    assert result.text() == "hello" and result.content_type == "text/plain"
    assert server.requests[0].headers["user-agent"].startswith("newsdesk/")


# --------------------------------------------------------------------------- body size guards


async def test_max_body_boundary(serve: Any, make_fetcher: Any) -> None:
    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        size = 1000 if req.path == "/exact" else 1001
        # No Content-Length: only the streaming counter can catch the extra byte.
        w.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * size)
        await w.drain()

    server = await serve(handler)
    fetcher = make_fetcher(max_body=1000)
    assert len((await fetcher.fetch(server.base + "/exact")).body) == 1000
    assert (await fetch_error(fetcher, server.base + "/over")).reason == "too_large"


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    """Tiny bodies that expand enormously (built incrementally: no huge buffer here)."""
    zeros = bytes(MB)
    out: dict[str, bytes] = {}
    for name, wbits, size_mb in (("gzip", 31, 128), ("deflate", 15, 128)):
        comp = zlib.compressobj(9, zlib.DEFLATED, wbits)
        out[name] = b"".join([comp.compress(zeros) for _ in range(size_mb)] + [comp.flush()])
    br = brotli.Compressor(quality=5)
    # 1 GiB from ~1.6 kB: httpx would inflate this in ONE decode call.
    out["br"] = b"".join([br.process(zeros) for _ in range(1024)] + [br.finish()])
    return out


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
async def test_compression_bomb_refused_with_bounded_memory(
    serve: Any, make_fetcher: Any, bombs: dict[str, bytes], encoding: str
) -> None:
    bomb = bombs[encoding]
    assert len(bomb) < 300_000  # the raw body is well under max_body

    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await reply(w, body=bomb, headers=(f"Content-Encoding: {encoding}",))

    server = await serve(handler)
    fetcher = make_fetcher()
    tracemalloc.start()
    try:
        err = await fetch_error(fetcher, server.base + "/bomb")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err.reason == "too_large"
    assert peak < 8 * MB, f"peak {peak / MB:.1f} MB while max_body is 1 MB"


async def test_endless_chunked_body(serve: Any, make_fetcher: Any) -> None:
    sent = 0

    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        nonlocal sent
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65536
        while True:
            w.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await w.drain()
            sent += len(chunk)

    server = await serve(handler)
    started = time.monotonic()
    err = await fetch_error(make_fetcher(), server.base + "/")
    assert err.reason == "too_large"
    assert time.monotonic() - started < 3
    await asyncio.sleep(0.1)
    assert sent < 20 * MB  # we hung up instead of draining the stream


async def test_huge_content_length_refused_before_reading(serve: Any, make_fetcher: Any) -> None:
    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 50000000000\r\n\r\nabc")
        await w.drain()
        await asyncio.sleep(30)  # a reader that waited for the body would time out instead

    server = await serve(handler)
    started = time.monotonic()
    err = await fetch_error(make_fetcher(), server.base + "/")
    assert err.reason == "too_large" and "50000000000" in str(err)
    assert time.monotonic() - started < 1


# --------------------------------------------------------------------------- timeouts


@pytest.mark.parametrize("phase", ["headers", "body"])
async def test_slow_loris_hits_total_timeout(serve: Any, make_fetcher: Any, phase: str) -> None:
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000

    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        start = 0 if phase == "headers" else response.index(b"\r\n\r\n") + 4
        w.write(response[:start])
        for i in range(start, len(response)):
            w.write(
                response[i : i + 1]
            )  # one byte per tick: never idle long enough to read-timeout
            await w.drain()
            await asyncio.sleep(0.1)

    server = await serve(handler)
    fetcher = make_fetcher(read_timeout=1.0, total_timeout=1.0)
    started = time.monotonic()
    err = await fetch_error(fetcher, server.base + "/")
    elapsed = time.monotonic() - started
    assert err.reason == "timeout"
    assert 0.9 < elapsed < 2.5


async def test_read_timeout(serve: Any, make_fetcher: Any) -> None:
    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12")
        await w.drain()
        await asyncio.sleep(30)

    server = await serve(handler)
    started = time.monotonic()
    err = await fetch_error(make_fetcher(read_timeout=0.3), server.base + "/")
    assert err.reason == "timeout" and time.monotonic() - started < 1.5


async def test_connection_refused(serve: Any, make_fetcher: Any) -> None:
    server = await serve(ok)
    port = server.port
    await server.stop()
    err = await fetch_error(make_fetcher(), f"http://127.0.0.1:{port}/")
    assert err.reason == "connect"


# --------------------------------------------------------------------------- redirects


async def test_redirect_chain_limit(serve: Any, make_fetcher: Any) -> None:
    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        n = int(req.path.rsplit("/", 1)[1])
        if n == 0:
            await reply(w, body=b"landed")
        else:  # relative Location on purpose
            await reply(w, 301 if n % 2 else 307, headers=(f"Location: /r/{n - 1}",))

    server = await serve(handler)
    fetcher = make_fetcher()  # max_redirects=5
    result = await fetcher.fetch(f"{server.base}/r/5")
    assert result.body == b"landed" and result.final_url == f"{server.base}/r/0"
    assert fetcher.stats["redirects"] == 5

    server.requests.clear()
    err = await fetch_error(fetcher, f"{server.base}/r/6")
    assert err.reason == "too_many_redirects"
    assert server.paths == [f"/r/{n}" for n in range(6, 0, -1)]  # /r/0 never requested


@pytest.mark.parametrize("loop", [["/a", "/b"], ["/self"]])
async def test_redirect_loop(serve: Any, make_fetcher: Any, loop: list[str]) -> None:
    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        target = loop[(loop.index(req.path) + 1) % len(loop)]
        await reply(w, 302, headers=(f"Location: http://127.0.0.1:{server.port}{target}",))

    server = await serve(handler)
    err = await fetch_error(make_fetcher(), server.base + loop[0])
    assert err.reason == "redirect_loop"
    assert server.paths == loop


async def test_redirect_to_other_scheme_is_bad_url(serve: Any, make_fetcher: Any) -> None:
    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await reply(w, 302, headers=("Location: file:///etc/passwd",))

    server = await serve(handler)
    err = await fetch_error(make_fetcher(), server.base + "/")
    assert err.reason == "bad_url"


# --------------------------------------------------------------------------- retries


async def test_429_retry_after_then_success(serve: Any, make_fetcher: Any) -> None:
    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        if len(server.requests) == 1:
            await reply(w, 429, headers=("Retry-After: 1",))
        else:
            await reply(w, body=b"finally")

    server = await serve(handler)
    fetcher = make_fetcher()
    started = time.monotonic()
    result = await fetcher.fetch(server.base + "/")
    assert result.body == b"finally"
    assert len(server.requests) == 2 and fetcher.stats["retries"] == 1
    assert server.starts[1] - server.starts[0] >= 0.95
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("kind", ["seconds", "http-date"])
async def test_retry_after_too_long_is_rate_limited(
    serve: Any, make_fetcher: Any, kind: str
) -> None:
    value = (
        "3600" if kind == "seconds" else email.utils.formatdate(time.time() + 86400, usegmt=True)
    )

    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await reply(w, 503, headers=(f"Retry-After: {value}",))

    server = await serve(handler)
    fetcher = make_fetcher()
    err = await fetch_error(fetcher, server.base + "/")
    assert (err.reason, err.status) == ("rate_limited", 503)
    assert err.retry_after is not None and 3500 < err.retry_after <= 86400
    assert len(server.requests) == 1  # gave up at once instead of sleeping
    assert fetcher.stats["rate_limited"] == 1


async def test_retries_exhausted(serve: Any, make_fetcher: Any) -> None:
    status = 429

    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await reply(w, status, headers=("Retry-After: 0",) if status == 429 else ())

    server = await serve(handler)
    fetcher = make_fetcher(max_retries=2)
    err = await fetch_error(fetcher, server.base + "/")
    assert (err.reason, err.status, len(server.requests)) == ("rate_limited", 429, 3)

    # 503 without Retry-After: exponential backoff (1 s), then reported as the HTTP error.
    status = 503
    server.requests.clear()
    started = time.monotonic()
    err = await fetch_error(make_fetcher(max_retries=1), server.base + "/")
    assert (err.reason, err.status, len(server.requests)) == ("http_503", 503, 2)
    assert time.monotonic() - started >= 0.95


# --------------------------------------------------------------------------- conditional GET


async def test_conditional_get_304(serve: Any, make_fetcher: Any) -> None:
    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        if req.headers.get("if-none-match") == '"v2"':
            await reply(w, 304, headers=('ETag: "v2"',))
        else:
            await reply(w, body=b"full", headers=('ETag: "v2"',))

    server = await serve(handler)
    fetcher = make_fetcher()
    lm = "Tue, 01 Oct 2024 10:00:00 GMT"
    result = await fetcher.fetch(server.base + "/feed", etag='"v2"', last_modified=lm)
    assert result.not_modified and result.status == 304 and result.body == b""
    assert result.etag == '"v2"' and result.last_modified == lm  # kept when 304 omits it
    assert server.requests[0].headers["if-none-match"] == '"v2"'
    assert server.requests[0].headers["if-modified-since"] == lm
    assert fetcher.stats["not_modified"] == 1

    plain = await fetcher.fetch(server.base + "/feed")
    assert not plain.not_modified and plain.body == b"full"
    assert "if-none-match" not in server.requests[1].headers


# --------------------------------------------------------------------------- robots.txt

ROBOTS = b"User-agent: *\nDisallow: /nothing\n\nUser-agent: newsdesk\nDisallow: /private\n"


async def test_robots_disallow(serve: Any, make_fetcher: Any) -> None:
    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        if req.path == "/robots.txt":
            await asyncio.sleep(0.1)  # let concurrent callers pile up on the cache
            await reply(w, body=ROBOTS, headers=("Content-Type: text/plain",))
        else:
            await reply(w, body=b"page")

    server = await serve(handler)
    fetcher = make_fetcher(respect_robots=True)
    errors = await asyncio.gather(
        *(fetcher.fetch(f"{server.base}/private/{i}") for i in range(5)), return_exceptions=True
    )
    assert all(isinstance(e, FetchError) and e.reason == "robots" for e in errors)
    assert server.paths == ["/robots.txt"]  # fetched once, the page server never asked
    assert fetcher.stats["robots_denied"] == 5

    assert (await fetcher.fetch(f"{server.base}/public")).body == b"page"
    assert await fetcher.robots_allowed(f"{server.base}/nothing")  # '*' group does not apply
    assert not await fetcher.robots_allowed(f"{server.base}/private/x")
    # Feeds are fetched with check_robots=False.
    assert (await fetcher.fetch(f"{server.base}/private/feed", check_robots=False)).body == b"page"
    assert server.paths == ["/robots.txt", "/public", "/private/feed"]


async def test_robots_token_follows_user_agent(serve: Any, make_fetcher: Any) -> None:
    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await reply(w, body=ROBOTS if req.path == "/robots.txt" else b"page")

    server = await serve(handler)
    other = make_fetcher(respect_robots=True, user_agent="OtherBot/2.0 (+https://x.example)")
    assert (await other.fetch(f"{server.base}/private/1")).body == b"page"
    err = await fetch_error(other, f"{server.base}/nothing")
    assert err.reason == "robots"


@pytest.mark.parametrize("status", [404, 403, 500, 503])
async def test_robots_unavailable_allows(serve: Any, make_fetcher: Any, status: int) -> None:
    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        if req.path == "/robots.txt":
            await reply(w, status, b"Disallow: /")
        else:
            await reply(w, body=b"page")

    server = await serve(handler)
    fetcher = make_fetcher(respect_robots=True, max_retries=0)
    assert (await fetcher.fetch(f"{server.base}/a")).body == b"page"
    assert (await fetcher.fetch(f"{server.base}/b")).body == b"page"
    assert server.paths == ["/robots.txt", "/a", "/b"]  # outcome cached either way


# --------------------------------------------------------------------------- politeness


async def test_host_concurrency_limit(serve: Any, make_fetcher: Any) -> None:
    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.2)
        await reply(w, body=b"ok")

    server = await serve(handler)
    fetcher = make_fetcher(host_concurrency=2)
    await asyncio.gather(*(fetcher.fetch(f"{server.base}/{i}") for i in range(6)))
    assert server.max_in_flight == 2  # capped, but still parallel


async def test_host_delay_spacing(serve: Any, make_fetcher: Any) -> None:
    server = await serve(ok)
    fetcher = make_fetcher(host_concurrency=4, host_delay=0.25)
    await asyncio.gather(*(fetcher.fetch(f"{server.base}/{i}") for i in range(4)))
    gaps = [b - a for a, b in zip(server.starts, server.starts[1:], strict=False)]
    assert len(gaps) == 3 and min(gaps) > 0.2, gaps


async def test_different_hosts_not_serialized(serve: Any, make_fetcher: Any) -> None:
    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.3)
        await reply(w, body=req.headers["host"].encode())

    server = await serve(handler)
    resolver = stub_resolver({"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]})
    fetcher = make_fetcher(resolver=resolver, host_concurrency=1, host_delay=5.0)
    started = time.monotonic()
    results = await asyncio.gather(
        fetcher.fetch(f"http://a.test:{server.port}/"),
        fetcher.fetch(f"http://b.test:{server.port}/"),
    )
    assert time.monotonic() - started < 0.9
    assert server.max_in_flight == 2
    assert [r.body for r in results] == [
        f"a.test:{server.port}".encode(),
        f"b.test:{server.port}".encode(),
    ]


# --------------------------------------------------------------------------- SSRF guard


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}/",
        "http://[::1]:{port}/",
        "http://localhost:{port}/",  # real (default) resolver, answered from /etc/hosts
        "http://0.0.0.0:{port}/",
        "http://127.1:{port}/",
        "http://2130706433:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "https://127.0.0.1:{port}/",
    ],
)
async def test_loopback_refused_before_connecting(
    serve: Any, make_fetcher: Any, template: str
) -> None:
    server = await serve(ok)
    url = template.format(port=server.port)
    # Real transport: proves the refusal happens before any socket is opened.
    fetcher = make_fetcher(allow_private=False)
    err = await fetch_error(fetcher, url, check_robots=False)
    assert err.reason == "ssrf", err
    assert fetcher.stats["ssrf_blocked"] == 1
    # Exploding transport: proves the request never even reaches the transport layer.
    transport = ExplodingTransport()
    err = await fetch_error(make_fetcher(allow_private=False, transport=transport), url)
    assert err.reason == "ssrf"
    assert transport.calls == 0
    assert server.connections == 0


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.0.0.5"],
        ["192.168.1.1"],
        ["169.254.169.254"],  # cloud metadata
        ["::ffff:10.0.0.1"],  # IPv4-mapped IPv6
        ["224.0.0.1"],  # multicast, which ipaddress counts as "global"
        ["100.64.0.1"],  # carrier-grade NAT
        ["fc00::1"],
        ["fe80::1"],
        ["::"],
        ["2002:a00:1::1"],  # 6to4 wrapping 10.0.0.1
        ["64:ff9b::a00:1"],  # NAT64 wrapping 10.0.0.1
        ["93.184.216.34", "10.0.0.5"],  # one bad address is enough
        ["not-an-ip"],
    ],
)
async def test_resolved_private_addresses_refused(make_fetcher: Any, addresses: list[str]) -> None:
    transport = ExplodingTransport()
    resolver = stub_resolver({"evil.example": addresses})
    fetcher = make_fetcher(allow_private=False, transport=transport, resolver=resolver)
    err = await fetch_error(fetcher, "http://evil.example/")
    assert err.reason == "ssrf"
    assert "evil.example" in str(err)
    assert transport.calls == 0


async def test_dns_failures(make_fetcher: Any) -> None:
    transport = ExplodingTransport()
    resolver = stub_resolver({"empty.example": []})
    fetcher = make_fetcher(allow_private=False, transport=transport, resolver=resolver)
    assert (await fetch_error(fetcher, "http://missing.example/")).reason == "dns"
    assert (await fetch_error(fetcher, "http://empty.example/")).reason == "dns"
    assert transport.calls == 0


async def test_public_host_allowed_and_redirect_to_private_refused(
    serve: Any, make_fetcher: Any
) -> None:
    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        if req.path == "/article":
            await reply(w, body=req.headers["host"].encode())
        elif req.path == "/to-internal":
            await reply(w, 302, headers=("Location: http://internal.example/admin",))
        else:
            await reply(w, 302, headers=(f"Location: http://127.0.0.1:{server.port}/article",))

    server = await serve(handler)
    router = LoopbackRouter(server.port)
    resolver = stub_resolver(
        {"public.example": ["93.184.216.34"], "internal.example": ["10.0.0.5"]}
    )
    fetcher = make_fetcher(allow_private=False, transport=router, resolver=resolver)

    result = await fetcher.fetch("http://public.example/article")
    assert result.body == b"public.example"  # the guard lets public addresses through

    err = await fetch_error(fetcher, "http://public.example/to-internal")
    assert err.reason == "ssrf" and "internal.example" in str(err)
    err = await fetch_error(fetcher, "http://public.example/to-loopback")
    assert err.reason == "ssrf"
    # Only the public hops ever reached the transport.
    assert router.seen == [
        "http://public.example/article",
        "http://public.example/to-internal",
        "http://public.example/to-loopback",
    ]
    assert server.paths == ["/article", "/to-internal", "/to-loopback"]


async def test_connection_pinned_to_checked_address(serve: Any, make_fetcher: Any) -> None:
    """DNS rebinding: a second lookup would answer differently; the connection must use the
    answer that was checked, not re-resolve (here 127.0.0.2, where nothing listens)."""
    server = await serve(ok)
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"] if len(calls) == 1 else ["127.0.0.2"]

    fetcher = make_fetcher(resolver=rebinding)
    result = await fetcher.fetch(f"http://rebind.test:{server.port}/")
    assert result.body == b"hello"
    assert calls == ["rebind.test"]
    assert server.requests[0].headers["host"] == f"rebind.test:{server.port}"


async def test_connection_layer_vets_addresses_itself(serve: Any) -> None:
    """Defence in depth: the transport re-checks every request with the guard (e.g. the vetted
    answer expired while the request queued behind host_delay or a Retry-After)."""
    server = await serve(ok)
    resolver = stub_resolver({"x.test": ["127.0.0.1"]})
    url = f"http://x.test:{server.port}/"
    strict = _transport(resolver, allow_private=False)
    try:
        # aiohttp never asks its resolver about IP literals: the transport's own check must.
        for target in (url, server.base + "/"):
            with pytest.raises(_GuardError) as info:
                await strict.handle_async_request(httpx.Request("GET", target))
            assert info.value.reason == "ssrf"
    finally:
        await strict.aclose()
    await asyncio.sleep(0.05)
    assert server.connections == 0

    lenient = _transport(resolver, allow_private=True)
    try:
        response = await lenient.handle_async_request(httpx.Request("GET", url))
        assert (response.status_code, await response.aread()) == (200, b"hello")
    finally:
        await lenient.aclose()
    assert server.connections == 1


async def test_aiohttp_connects_only_where_the_resolver_points(serve: Any) -> None:
    """The connection-time pin itself: aiohttp asks _PinnedResolver, and a refusal surfaces as
    the guard's own error (aiohttp does not wrap it) before any socket is opened."""
    server = await serve(ok)
    resolver = stub_resolver({"x.test": ["127.0.0.1"]})
    url = f"http://x.test:{server.port}/"

    def session(allow_private: bool) -> aiohttp.ClientSession:
        pinned = _PinnedResolver(_AddressGuard(resolver, allow_private=allow_private))
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=pinned, use_dns_cache=False)
        )

    async with session(allow_private=False) as strict:
        with pytest.raises(_GuardError) as info:
            await strict.get(url)
    assert info.value.reason == "ssrf"
    await asyncio.sleep(0.05)
    assert server.connections == 0

    async with session(allow_private=True) as lenient, lenient.get(url) as response:
        assert await response.read() == b"hello"
    assert server.connections == 1


async def test_transport_rechecks_at_connect_time(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the vetted answer has expired by the time aiohttp connects, its lookup goes through
    the guard again, and a bad answer then stops the connection."""
    monkeypatch.setattr(fetch_module, "_DNS_TTL", 0.0)  # every lookup reaches the resolver
    server = await serve(ok)
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"] if len(calls) == 1 else ["not-an-ip"]

    transport = _transport(rebinding, allow_private=True)
    try:
        with pytest.raises(_GuardError) as info:
            await transport.handle_async_request(
                httpx.Request("GET", f"http://rebind.test:{server.port}/")
            )
    finally:
        await transport.aclose()
    assert info.value.reason == "ssrf"
    assert calls == ["rebind.test", "rebind.test"]  # the transport's check, then aiohttp's
    await asyncio.sleep(0.05)
    assert server.connections == 0


@dataclass
class KeepAliveServer:
    """Answers any number of requests per connection (``Server`` closes after one)."""

    base: str = ""
    connections: int = 0
    closed: int = 0  # connections the client hung up
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    async def _on_connection(self, reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                body = b"x" * (2 * MB) if head.startswith(b"GET /big ") else b"ok"
                w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            self.closed += 1
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)
            w.close()


@pytest.fixture
async def keepalive_servers() -> AsyncIterator[Callable[[], Awaitable[KeepAliveServer]]]:
    servers: list[KeepAliveServer] = []

    async def start() -> KeepAliveServer:
        server = KeepAliveServer()
        server._server = await asyncio.start_server(server._on_connection, "127.0.0.1", 0)
        server.base = f"http://127.0.0.1:{server._server.sockets[0].getsockname()[1]}"
        servers.append(server)
        return server

    yield start
    for server in servers:
        assert server._server is not None
        server._server.close()
        for task in list(server._tasks):
            task.cancel()
        await asyncio.gather(*server._tasks, return_exceptions=True)


async def test_keepalive_pool_reuses_and_drops_unfinished(
    keepalive_servers: Any, make_fetcher: Any
) -> None:
    server = await keepalive_servers()
    fetcher = make_fetcher()
    assert (await fetcher.fetch(server.base + "/a")).body == b"ok"
    assert (await fetcher.fetch(server.base + "/b")).body == b"ok"
    assert server.connections == 1  # kept alive and reused
    assert (await fetch_error(fetcher, server.base + "/big")).reason == "too_large"
    assert (await fetcher.fetch(server.base + "/c")).body == b"ok"
    assert server.connections == 2  # the unread body's connection was hung up, not reused


async def test_idle_pool_is_bounded(keepalive_servers: Any) -> None:
    a, b, c = [await keepalive_servers() for _ in range(3)]
    transport = _transport(stub_resolver({}), allow_private=True, max_idle=1)

    async def get(server: KeepAliveServer) -> None:
        response = await transport.handle_async_request(httpx.Request("GET", server.base + "/"))
        assert await response.aread() == b"ok"
        await response.aclose()

    try:
        for server in (a, b, c, c):
            await get(server)
        await asyncio.sleep(0.05)
        # Only the most recently used idle connection is kept; the others were closed.
        assert [s.closed for s in (a, b, c)] == [1, 1, 0]
        assert c.connections == 1
        await get(a)
        assert a.connections == 2
    finally:
        await transport.aclose()


async def test_repeated_headers_kept_and_no_cookies(serve: Any, make_fetcher: Any) -> None:
    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await reply(
            w,
            body=req.headers.get("cookie", "no cookie").encode(),
            headers=(
                "Set-Cookie: a=1; Path=/",
                "Set-Cookie: b=2; Path=/",
                "X-Robots-Tag: googlebot: nofollow",
                "X-Robots-Tag: newsdesk: noarchive",
                "X-Big: " + "v" * 20_000,  # over aiohttp's default 8190-byte limit
            ),
        )

    server = await serve(handler)
    # A name, not an IP: cookie jars commonly refuse cookies for IP hosts anyway.
    fetcher = make_fetcher(resolver=stub_resolver({"news.test": ["127.0.0.1"]}))
    url = f"http://news.test:{server.port}/"
    first = await fetcher.fetch(url)
    assert first.headers["x-robots-tag"] == "googlebot: nofollow, newsdesk: noarchive"
    assert first.noarchive
    assert first.headers["set-cookie"] == "a=1; Path=/, b=2; Path=/"
    assert len(first.headers["x-big"]) == 20_000
    assert (await fetcher.fetch(url)).body == b"no cookie"

    transport = _transport(stub_resolver({}), allow_private=True)
    try:
        response = await transport.handle_async_request(httpx.Request("GET", server.base + "/"))
        await response.aclose()
    finally:
        await transport.aclose()
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]


async def test_proxy_environment_ignored(
    serve: Any, make_fetcher: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy would connect on our behalf and so bypass the address pin.
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # discard port: nothing listens
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    server = await serve(ok)
    result = await make_fetcher().fetch(server.base + "/direct")
    assert result.body == b"hello" and server.paths == ["/direct"]


async def test_tls_verified_against_ssl_cert_file(
    make_fetcher: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """Certificates are verified, for the real hostname although the socket is pinned to
    127.0.0.1, and SSL_CERT_FILE is honoured."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=news.test", "-addext",
         "subjectAltName=DNS:news.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def on_connection(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecure")
            await w.drain()
        w.close()

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0, ssl=context)
    url = f"https://news.test:{server.sockets[0].getsockname()[1]}/"
    resolver = stub_resolver({"news.test": ["127.0.0.1"]})
    loop = asyncio.get_running_loop()
    handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, _context: None)  # the refused handshake's log
    try:
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        assert (await fetch_error(make_fetcher(resolver=resolver), url)).reason == "connect"
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        assert (await make_fetcher(resolver=resolver).fetch(url)).body == b"secure"
    finally:
        loop.set_exception_handler(handler)
        server.close()


async def test_aclose_leaves_nothing_open(serve: Any) -> None:
    server = await serve(ok)
    problems: list[str] = []
    loop = asyncio.get_running_loop()
    handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: problems.append(context["message"]))
    try:
        fetcher = Fetcher(BASE_CONFIG)
        await fetcher.fetch(server.base + "/")
        await fetcher.aclose()
        del fetcher
        gc.collect()  # an unclosed aiohttp session/connector reports itself when collected
    finally:
        loop.set_exception_handler(handler)
    assert problems == []


# --------------------------------------------------------------------------- charsets

RUSSIAN = (
    "<html><head><title>Новости</title></head><body><p>Президент заявил во вторник, что "
    "правительство рассмотрит новые меры поддержки экономики и сельского хозяйства.</p></body>"
    "</html>"
)
FRENCH = (
    "<p>Le président a déclaré mardi que le gouvernement étudierait de nouvelles mesures "
    "pour l'économie française et les agriculteurs, déjà très éprouvés.</p>"
)


def test_decode_windows1251_mislabelled_utf8() -> None:
    assert decode_body(RUSSIAN.encode("cp1251"), "utf-8", "text/html") == RUSSIAN


def test_decode_latin1_without_label() -> None:
    assert decode_body(FRENCH.encode("iso-8859-1"), None, "text/html") == FRENCH


@pytest.mark.parametrize(
    ("bom", "codec"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
    ],
)
def test_decode_bom_wins(bom: bytes, codec: str) -> None:
    body = bom + FRENCH.encode(codec)
    # BOM beats a wrong header label and a wrong meta declaration.
    assert decode_body(body, "windows-1251", "text/html") == FRENCH
    html = '<meta charset="koi8-r">' + FRENCH
    assert decode_body(bom + html.encode(codec), None, "text/html") == html


def test_decode_declarations() -> None:
    html = '<html><head><meta charset="koi8-r"></head>' + RUSSIAN
    # Both labels decode strictly (single-byte); the document's own declaration wins.
    assert decode_body(html.encode("koi8-r"), "windows-1251", "text/html") == html
    xml = '<?xml version="1.0" encoding="windows-1251"?><rss>' + RUSSIAN + "</rss>"
    assert decode_body(xml.encode("cp1251"), None, "application/rss+xml") == xml
    # Not markup: an embedded "meta" is not a declaration, the header is.
    text = '<meta charset="koi8-r"> ' + FRENCH
    assert decode_body(text.encode("cp1252"), "windows-1252", "text/plain") == text
    # Latin-1 labels mean windows-1252, as in browsers (curly quotes).
    quoted = "“Smart” quotes — and dashes"
    assert decode_body(quoted.encode("cp1252"), "iso-8859-1", "text/html") == quoted
    # Nonsense, dangerous or non-text labels are ignored.
    for label in ("x-bogus", "utf-7", "zlib", "base64"):
        assert decode_body(FRENCH.encode("utf-8"), label, "text/html") == FRENCH
    # utf-8 with one broken byte stays utf-8 rather than turning into mojibake.
    broken = ("Ölpreis steigt: " * 20).encode("utf-8") + b"\xff end"
    assert decode_body(broken, "utf-8", "text/html").startswith("Ölpreis steigt")
    assert decode_body(b"", "utf-8", None) == ""


def test_sniff_declared_charset() -> None:
    assert sniff_declared_charset(b'<?xml version="1.0" encoding="ISO-8859-1"?><a/>') == (
        "iso-8859-1"
    )
    assert sniff_declared_charset(b"<html><head><META CHARSET=Shift_JIS>") == "shift_jis"
    assert (
        sniff_declared_charset(
            b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
        )
        == "windows-1251"
    )
    assert sniff_declared_charset(b'<meta charset="utf-16">') == "utf-8"  # cannot be true
    assert sniff_declared_charset(b"<html><p>charset=koi8-r</p>") is None
    assert sniff_declared_charset(b"x" * 5000 + b'<meta charset="koi8-r">') is None


async def test_fetch_result_text_uses_content(serve: Any, make_fetcher: Any) -> None:
    async def handler(req: Req, w: asyncio.StreamWriter) -> None:
        await reply(
            w,
            body=RUSSIAN.encode("cp1251"),
            headers=("Content-Type: text/html; charset=utf-8",),
        )

    server = await serve(handler)
    result = await make_fetcher().fetch(server.base + "/")
    assert result.charset == "utf-8"
    assert result.text() == RUSSIAN


@pytest.mark.parametrize(("value", "expected"), [
    ("noarchive", True),
    ("NOARCHIVE, nosnippet", True),
    ("none", True),
    ("newsdesk: noarchive", True),
    ("googlebot: noarchive", False),
    ("googlebot: noarchive, newsdesk: nofollow", False),
    ("googlebot: nofollow, newsdesk: noarchive", True),
    ("unavailable_after: 25 Jun 2010 15:00:00 PST, noarchive", True),
    ("max-snippet: 20", False),
    ("", False),
])
def test_x_robots_tag_noarchive(value: str, expected: bool) -> None:
    from newsdesk.pipeline.fetch import header_noarchive

    assert header_noarchive(value, "newsdesk") is expected
