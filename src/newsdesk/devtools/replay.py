"""Loopback replay web server: recorded real news pages served as live sites.

Why: end-to-end tests, benchmarks and the offline demo need real HTTP semantics
(validators, gzip, robots.txt, feeds, sitemaps, faults) without any network access.
Every site gets its own 127.0.0.1 port, i.e. its own origin, so per-host politeness
and robots rules are exercised exactly as against the real web.

Stdlib only. Corpus loaders read ``<repo>/../shared/data/web`` (see its DATA.md).

    with ReplayServer(load_big9(None)) as srv:
        srv.feed_url("bbc")            # -> http://127.0.0.1:PORT/feed.xml
        srv.set_fault("bbc", "/2005/iran.html", "status", code=500)

CLI: ``python -m newsdesk.devtools.replay --corpus big9`` prints feed URLs and serves.
"""

from __future__ import annotations

import argparse
import ast
import codecs
import contextlib
import gzip as gzip_lib
import hashlib
import html
import json
import os
import re
import selectors
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from xml.sax.saxutils import escape as xml_escape

__all__ = [
    "Page",
    "ReplayServer",
    "RequestRecord",
    "Site",
    "load_big9",
    "load_corpus",
    "load_fundus",
    "load_newspaper4k",
    "load_trafilatura_eval",
    "shared_data_dir",
]

DEFAULT_ROBOTS = "User-agent: *\nAllow: /\n"
FEED_PATHS = {"rss": "/feed.xml", "atom": "/feed.atom", "json": "/feed.json"}
SITEMAP_PATH = "/sitemap.xml"
ROBOTS_PATH = "/robots.txt"
GENERATED_PATHS = frozenset({"/", ROBOTS_PATH, SITEMAP_PATH, *FEED_PATHS.values()})
FAULT_KINDS = frozenset(
    {"status", "retry_after", "redirect", "redirect_loop", "slow", "lying_validators", "gone"}
)

# ---------------------------------------------------------------------------
# Public data model
# ---------------------------------------------------------------------------


@dataclass
class Page:
    """One recorded page. ``body`` holds the original bytes (original charset)."""

    path: str
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    published: datetime | None = None
    title: str | None = None
    gold_text: str | None = None
    # Known keys: corpus, url (original), authors, categories, description, language,
    # in_feed (False for homepages etc.), published_synthetic, plus per-corpus gold fields.
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Site:
    name: str
    pages: list[Page]
    robots_txt: str | None = DEFAULT_ROBOTS  # None -> /robots.txt is 404; "{origin}" expands
    feed_format: str = "rss"  # 'rss' | 'atom' | 'json': the one advertised on the home page
    ttl: int = 15  # minutes, emitted as RSS <ttl>
    title: str | None = None  # human name for feeds/home page; defaults to name


@dataclass(frozen=True)
class RequestRecord:
    site: str
    method: str
    path: str  # request target exactly as sent (path + query)
    headers: dict[str, str]  # lower-cased names
    status: int
    time: float  # time.time() when the request line was read


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def _utc(dt: datetime) -> datetime:
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return dt.replace(microsecond=0)  # HTTP dates have one-second resolution


def _now() -> datetime:
    return _utc(datetime.now(UTC))


def _later(prev: datetime) -> datetime:
    # Strictly increasing, so If-Modified-Since always sees an edit, even two in one second.
    return max(_now(), prev + timedelta(seconds=1))


def _http_date(dt: datetime) -> str:
    return format_datetime(_utc(dt), usegmt=True)


def _etag_of(body: bytes) -> str:
    return '"' + hashlib.sha1(body).hexdigest()[:20] + '"'


_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


def _norm_target(target: str) -> str:
    """Canonical percent-encoding of path+query: clients differ in what they escape."""
    if "://" in target.split("?", 1)[0]:  # absolute-form request target
        parts = urlsplit(target)
        target = parts.path + ("?" + parts.query if parts.query else "")
    target = target.split("#", 1)[0]
    path, sep, query = target.partition("?")
    # http.server collapses a leading "//" (CVE fix), so page paths must match that.
    path = "/" + quote(unquote(path), safe=_PATH_SAFE).lstrip("/")
    return path + (sep + quote(unquote(query), safe=_QUERY_SAFE) if query else "")


def _accepts_gzip(header: str | None) -> bool:
    if not header:
        return False
    star = False
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip().lower()
        q = 1.0
        m = re.search(r"q\s*=\s*([0-9.]+)", params)
        if m:
            with contextlib.suppress(ValueError):
                q = float(m.group(1))
        if coding in ("gzip", "x-gzip"):
            return q > 0
        if coding == "*":
            star = q > 0
    return star


def _etag_matches(header: str, etag: str) -> bool:
    # If-None-Match uses weak comparison (RFC 9110 13.1.2). The gzip and identity variants
    # share a core tag, so a client that changed Accept-Encoding still revalidates.
    if header.strip() == "*":
        return True

    def core(tag: str) -> str:
        return tag.strip().removeprefix("W/").strip('"').removesuffix("-gzip")

    return any(core(tag) == core(etag) for tag in header.split(","))


# ---------------------------------------------------------------------------
# Server internals
# ---------------------------------------------------------------------------


@dataclass
class _Resource:
    body: bytes
    content_type: str
    etag: str
    last_modified: datetime
    _gz: bytes | None = None

    def gzipped(self) -> bytes:
        # Compressed lazily and cached: most pages of a big corpus are never requested.
        if self._gz is None:
            self._gz = gzip_lib.compress(self.body, compresslevel=6, mtime=0)
        return self._gz


@dataclass
class _Fault:
    kind: str
    kw: dict[str, Any]
    remaining: int | None  # None = forever


@dataclass
class _SiteState:
    site: Site
    created: datetime
    pages: dict[str, Page] = field(default_factory=dict)
    resources: dict[str, _Resource] = field(default_factory=dict)
    generated: dict[str, _Resource] = field(default_factory=dict)  # cache, cleared on change
    changed_at: datetime = field(default_factory=_now)
    faults: dict[str, _Fault] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    server: _SiteServer | None = None
    inflight: int = 0
    peak: int = 0
    counter: int = 0  # for lying validators' ever-fresh ETags

    @property
    def title(self) -> str:
        return self.site.title or self.site.name


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for idle keep-alive connections
    request_queue_size = 128  # benchmarks open many connections at once

    def __init__(self, replay: ReplayServer, state: _SiteState) -> None:
        self.replay = replay
        self.state = state
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return  # clients hanging up mid-response is normal (timeouts, slow faults)
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real news sites
    disable_nagle_algorithm = True  # headers+body are separate writes: avoid 40 ms stalls
    server_version = "newsdesk-replay/1.0"
    sys_version = ""
    timeout = 30  # idle keep-alive connections must not pin a thread forever
    server: _SiteServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the RequestRecord log replaces stderr noise

    def setup(self) -> None:
        super().setup()
        self.server.replay._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.replay._track(self.connection, False)

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        t0 = time.time()
        replay, state = self.server.replay, self.server.state
        with replay._inflight(state):
            target = _norm_target(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            fault = replay._take_fault(state, target)
            trickle = 0.0
            if fault is not None and fault.kind == "slow":
                delay = float(fault.kw.get("delay", 1.0))
                if fault.kw.get("during"):
                    trickle = delay
                else:
                    time.sleep(delay)
            status, out_headers, body = replay._respond(state, target, headers, fault)
            replay._log(
                RequestRecord(state.site.name, self.command, self.path, headers, status, t0)
            )
            try:
                self.send_response(status)
                for name, value in out_headers:
                    self.send_header(name, value)
                self.end_headers()
                if head or status == 304:
                    return
                if trickle > 0 and body:
                    self.wfile.flush()
                    n = min(10, len(body))
                    step = -(-len(body) // n)
                    for i in range(0, len(body), step):
                        self.wfile.write(body[i : i + step])
                        self.wfile.flush()
                        time.sleep(trickle / n)
                else:
                    self.wfile.write(body)
            except (ConnectionError, TimeoutError):
                self.close_connection = True


def _error_page(status: int, text: str) -> bytes:
    return f"<!doctype html><title>{status} {text}</title><h1>{status} {text}</h1>\n".encode()


class ReplayServer:
    """Serve ``sites`` on loopback, one port (origin) per site.

    ``gzip``/``etag``/``last_modified`` switch the corresponding HTTP features off to
    simulate plainer servers. Use as a context manager or call start()/stop().
    """

    def __init__(
        self,
        sites: Iterable[Site],
        *,
        gzip: bool = True,
        etag: bool = True,
        last_modified: bool = True,
    ) -> None:
        self.gzip = gzip
        self.etag = etag
        self.last_modified = last_modified
        self._lock = threading.RLock()
        self._log_entries: list[RequestRecord] = []
        self._conns: set[socket.socket] = set()
        self._thread: threading.Thread | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._states: dict[str, _SiteState] = {}
        created = _now()
        for site in sites:
            if site.name in self._states:
                raise ValueError(f"duplicate site name {site.name!r}")
            if site.feed_format not in FEED_PATHS:
                raise ValueError(f"feed_format must be one of {sorted(FEED_PATHS)}")
            # Copies, so update_page/add_page never mutate the caller's objects.
            state = _SiteState(site=replace(site, pages=[]), created=created)
            for page in site.pages:
                self._insert_page(state, page, None)
            lms = [r.last_modified for r in state.resources.values()]
            state.changed_at = max(lms) if lms else created
            self._states[site.name] = state

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> ReplayServer:
        if self._thread is not None:
            raise RuntimeError("ReplayServer already started")
        try:
            for state in self._states.values():
                state.server = _SiteServer(self, state)
                state.server.socket.setblocking(False)  # the shared accept loop must not block
        except BaseException:
            self._close_servers()
            raise
        self._wake = socket.socketpair()
        # One selector thread accepts for every site: a corpus has >1,000 sites and a
        # serve_forever() thread each would poll and make stop() take minutes.
        self._thread = threading.Thread(target=self._accept_loop, name="replay-accept", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        assert self._wake is not None
        with contextlib.suppress(OSError):
            self._wake[1].send(b"x")
        self._thread.join(timeout=10)
        self._thread = None
        self._close_servers()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:  # wake handler threads parked on keep-alive connections
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for s in self._wake:
            s.close()
        self._wake = None

    def __enter__(self) -> ReplayServer:
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _close_servers(self) -> None:
        for state in self._states.values():
            if state.server is not None:
                state.server.server_close()
                state.server = None

    def _accept_loop(self) -> None:
        assert self._wake is not None
        sel = selectors.DefaultSelector()
        sel.register(self._wake[0], selectors.EVENT_READ, None)
        for state in self._states.values():
            assert state.server is not None
            sel.register(state.server.socket, selectors.EVENT_READ, state.server)
        try:
            while True:
                for key, _ in sel.select():
                    srv: _SiteServer | None = key.data
                    if srv is None:
                        return
                    try:
                        request, addr = srv.get_request()
                    except OSError:  # BlockingIOError after a spurious wake-up, resets
                        continue
                    if not srv.verify_request(request, addr):
                        srv.shutdown_request(request)
                        continue
                    try:
                        srv.process_request(request, addr)  # ThreadingMixIn: thread per conn
                    except Exception:
                        srv.handle_error(request, addr)
                        srv.shutdown_request(request)
        finally:
            sel.close()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def precompress(self) -> int:
        """gzip every recorded resource now (normally done on its first request and cached),
        so that a timed run does not count the server's compression; returns how many."""
        n = 0
        for state in self._states.values():
            for res in state.resources.values():
                res.gzipped()
                n += 1
        return n

    # -- addressing --------------------------------------------------------

    @property
    def site_names(self) -> list[str]:
        return list(self._states)

    def site(self, site_name: str) -> Site:
        """The live Site (pages reflect add_page/update_page)."""
        return self._state(site_name).site

    def origin(self, site_name: str) -> str:
        state = self._state(site_name)
        if state.server is None:
            raise RuntimeError("ReplayServer not started")
        return f"http://127.0.0.1:{state.server.server_address[1]}"

    def url(self, site_name: str, path: str) -> str:
        return self.origin(site_name) + _norm_target(path)

    def feed_url(self, site_name: str, feed_format: str | None = None) -> str:
        fmt = feed_format or self._state(site_name).site.feed_format
        return self.origin(site_name) + FEED_PATHS[fmt]

    def sitemap_url(self, site_name: str) -> str:
        return self.origin(site_name) + SITEMAP_PATH

    def _state(self, site_name: str) -> _SiteState:
        try:
            return self._states[site_name]
        except KeyError:
            raise KeyError(f"unknown site {site_name!r}") from None

    # -- request log -------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Snapshot of every request so far, in the order their responses were decided."""
        with self._lock:
            return list(self._log_entries)

    def requests_for(self, site_name: str, path: str | None = None) -> list[RequestRecord]:
        want = _norm_target(path) if path is not None else None
        return [
            r
            for r in self.requests
            if r.site == site_name and (want is None or _norm_target(r.path) == want)
        ]

    def peak_concurrency(self, site_name: str) -> int:
        """Most simultaneous in-flight requests seen for a site (politeness checks)."""
        return self._state(site_name).peak

    def reset_log(self) -> None:
        with self._lock:
            self._log_entries.clear()
            for state in self._states.values():
                state.peak = state.inflight

    def _log(self, record: RequestRecord) -> None:
        with self._lock:
            self._log_entries.append(record)

    @contextlib.contextmanager
    def _inflight(self, state: _SiteState) -> Iterator[None]:
        with self._lock:
            state.inflight += 1
            state.peak = max(state.peak, state.inflight)
        try:
            yield
        finally:
            with self._lock:
                state.inflight -= 1

    # -- content mutation --------------------------------------------------

    def _insert_page(self, state: _SiteState, page: Page, lm: datetime | None) -> Page:
        path = _norm_target(page.path)
        if path in state.pages:
            raise ValueError(f"{state.site.name}: duplicate page path {path}")
        published = _utc(page.published) if page.published else None
        page = replace(page, path=path, published=published, meta=dict(page.meta))
        if lm is None:
            lm = published or state.created
        state.pages[path] = page
        state.site.pages.append(page)
        state.resources[path] = _Resource(page.body, page.content_type, _etag_of(page.body), lm)
        return page

    def _changed(self, state: _SiteState, at: datetime | None = None) -> None:
        state.changed_at = max(at or _now(), _later(state.changed_at))
        state.generated.clear()

    def update_page(self, site_name: str, path: str, body: bytes) -> None:
        """Simulate an edited article: new body, new ETag, later Last-Modified."""
        state = self._state(site_name)
        path = _norm_target(path)
        with self._lock:
            if path not in state.pages:
                raise KeyError(f"{site_name}: no page {path}")
            old = state.pages[path]
            new = replace(old, body=body)
            state.pages[path] = new
            state.site.pages[state.site.pages.index(old)] = new
            res = state.resources[path]
            lm = _later(res.last_modified)
            state.resources[path] = _Resource(body, res.content_type, _etag_of(body), lm)
            self._changed(state, lm)

    def add_page(self, site_name: str, page: Page) -> Page:
        """Simulate a new article: it appears at the top of feed, sitemap and home page."""
        state = self._state(site_name)
        with self._lock:
            lm = _later(state.changed_at)
            if page.published is None:
                page = replace(page, published=lm)
            added = self._insert_page(state, page, lm)
            self._changed(state, lm)
            return added

    # -- faults ------------------------------------------------------------

    def set_fault(self, site_name: str, path: str, kind: str, **kw: Any) -> None:
        """Inject a fault for one path of a site (``path="*"``: every path without its own).

        kinds and keywords (all accept ``times=N``: fault expires after N responses):
          status            code=404|410|500|...                      (default forever)
          gone              410 and the page leaves feed/sitemap/home  (forever)
          retry_after       code=429|503, seconds=N (Retry-After)       (default times=1)
          redirect          to="/path" or absolute URL, code=301
          redirect_loop     path <-> path?loop=1 forever, code=302
          slow              delay=seconds; during=True trickles the body over that time
          lying_validators  mode="always_200" (fresh ETag/Last-Modified every time,
                            conditionals ignored) | "always_304" (304 to any conditional
                            request, even after update_page)
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        state = self._state(site_name)
        target = path if path == "*" else _norm_target(path)
        times = kw.pop("times", 1 if kind == "retry_after" else None)
        if kind == "gone":
            times = None  # the page also left the feed; clear_fault() brings it back
        with self._lock:
            if kind == "redirect_loop":
                if target == "*":
                    raise ValueError("redirect_loop needs a concrete path")
                alt = target + ("&" if "?" in target else "?") + "loop=1"
                code = kw.get("code", 302)
                state.faults[target] = _Fault("redirect", {"to": alt, "code": code}, times)
                state.faults[alt] = _Fault("redirect", {"to": target, "code": code}, times)
                return
            if kind == "redirect" and "to" not in kw:
                raise ValueError("redirect fault needs to=...")
            if kind == "lying_validators" and kw.get("mode", "always_200") not in (
                "always_200",
                "always_304",
            ):
                raise ValueError("lying_validators mode must be 'always_200' or 'always_304'")
            state.faults[target] = _Fault(kind, kw, times)
            if kind == "gone" and target in state.pages:
                state.gone.add(target)
                self._changed(state)

    def clear_fault(self, site_name: str, path: str | None = None) -> None:
        """Remove one path's fault (None: all faults of the site); un-gone pages reappear."""
        state = self._state(site_name)
        with self._lock:
            if path is None:
                state.faults.clear()
                revived = bool(state.gone)
                state.gone.clear()
            else:
                target = path if path == "*" else _norm_target(path)
                state.faults.pop(target, None)
                revived = target in state.gone
                state.gone.discard(target)
            if revived:
                self._changed(state)

    def _take_fault(self, state: _SiteState, target: str) -> _Fault | None:
        with self._lock:
            key = target if target in state.faults else "*"
            fault = state.faults.get(key)
            if fault is None:
                return None
            if fault.remaining is not None:
                if fault.remaining <= 0:
                    del state.faults[key]
                    return None
                fault.remaining -= 1
                if fault.remaining == 0:
                    del state.faults[key]
            return fault

    # -- response planning -------------------------------------------------

    def _respond(
        self, state: _SiteState, target: str, req: dict[str, str], fault: _Fault | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        html_type = "text/html; charset=utf-8"
        if fault is not None:
            kind, kw = fault.kind, fault.kw
            if kind in ("status", "gone"):
                code = int(kw.get("code", 410 if kind == "gone" else 500))
                body = _error_page(code, "Error")
                return code, [("Content-Type", html_type), ("Content-Length", str(len(body)))], body
            if kind == "retry_after":
                code = int(kw.get("code", 503))
                body = _error_page(code, "Try again later")
                return (
                    code,
                    [
                        ("Retry-After", str(int(kw.get("seconds", 1)))),
                        ("Content-Type", html_type),
                        ("Content-Length", str(len(body))),
                    ],
                    body,
                )
            if kind == "redirect":
                to = str(kw["to"])
                location = to if "://" in to else self.origin(state.site.name) + _norm_target(to)
                body = _error_page(int(kw.get("code", 301)), "Moved")
                return (
                    int(kw.get("code", 301)),
                    [
                        ("Location", location),
                        ("Content-Type", html_type),
                        ("Content-Length", str(len(body))),
                    ],
                    body,
                )

        res = self._resource(state, target)
        if res is None:
            body = _error_page(404, "Not Found")
            return 404, [("Content-Type", html_type), ("Content-Length", str(len(body)))], body

        etag, lm = res.etag, res.last_modified
        lying = (
            fault.kw.get("mode", "always_200")
            if fault and fault.kind == "lying_validators"
            else None
        )
        if lying == "always_200":
            with self._lock:
                state.counter += 1
                etag = f'"{etag.strip(chr(34))}-{state.counter}"'
            lm = _now()

        # Pick the representation first: a 304 must carry the validator of the variant
        # the client would have received.
        use_gzip = self.gzip and bool(res.body) and _accepts_gzip(req.get("accept-encoding"))
        if use_gzip:
            etag = etag[:-1] + '-gzip"'  # different bytes, different strong ETag (RFC 9110)
        conditional = (self.etag and "if-none-match" in req) or (
            self.last_modified and "if-modified-since" in req
        )
        if lying == "always_304" and conditional:
            echo = req.get("if-none-match", etag) if self.etag else etag
            return 304, self._validator_headers(echo, lm), b""
        if lying is None and conditional and self._not_modified(req, etag, lm):
            return 304, self._validator_headers(etag, lm), b""

        body = res.gzipped() if use_gzip else res.body
        headers = [("Content-Type", res.content_type)]
        if use_gzip:
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        return 200, headers + self._validator_headers(etag, lm), body

    def _validator_headers(self, etag: str, lm: datetime) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.etag:
            out.append(("ETag", etag))
        if self.last_modified:
            out.append(("Last-Modified", _http_date(lm)))
        if self.gzip:
            out.append(("Vary", "Accept-Encoding"))
        return out

    def _not_modified(self, req: dict[str, str], etag: str, lm: datetime) -> bool:
        # RFC 9110 13.2.2: If-None-Match wins; If-Modified-Since only without it.
        if self.etag and "if-none-match" in req:
            return _etag_matches(req["if-none-match"], etag)
        if self.last_modified and "if-modified-since" in req:
            try:
                since = parsedate_to_datetime(req["if-modified-since"])
            except (TypeError, ValueError):
                return False
            return since is not None and lm <= _utc(since)
        return False

    def _resource(self, state: _SiteState, target: str) -> _Resource | None:
        with self._lock:
            if target in state.resources:  # a recorded page may shadow a generated one
                return state.resources[target]
            if target not in GENERATED_PATHS:
                return None
            cached = state.generated.get(target)
            if cached is None:
                cached = self._generate(state, target)
                if cached is not None:
                    state.generated[target] = cached
            return cached

    # -- generated documents -----------------------------------------------

    def _feed_pages(self, state: _SiteState) -> list[Page]:
        pages = [
            p
            for p in state.pages.values()
            if p.meta.get("in_feed", True) and p.path not in state.gone
        ]
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        pages.sort(key=lambda p: p.path)
        pages.sort(key=lambda p: p.published or epoch, reverse=True)  # newest first
        return pages

    def _generate(self, state: _SiteState, target: str) -> _Resource | None:
        origin = self.origin(state.site.name)
        lm = state.changed_at
        if target == ROBOTS_PATH:
            if state.site.robots_txt is None:
                return None
            body = state.site.robots_txt.replace("{origin}", origin).encode()
            ctype, lm = "text/plain; charset=utf-8", state.created
        elif target == "/":
            body, ctype = (
                _home_html(state, origin, self._feed_pages(state)),
                "text/html; charset=utf-8",
            )
        elif target == SITEMAP_PATH:
            body = _news_sitemap(state, origin, self._feed_pages(state))
            ctype = "application/xml; charset=utf-8"
        elif target == FEED_PATHS["rss"]:
            body = _rss(state, origin, self._feed_pages(state))
            ctype = "application/rss+xml; charset=utf-8"
        elif target == FEED_PATHS["atom"]:
            body = _atom(state, origin, self._feed_pages(state))
            ctype = "application/atom+xml; charset=utf-8"
        elif target == FEED_PATHS["json"]:
            body = _json_feed(state, origin, self._feed_pages(state))
            ctype = "application/feed+json; charset=utf-8"
        else:
            return None
        return _Resource(body, ctype, _etag_of(body), lm)


def _authors(page: Page, state: _SiteState) -> list[str]:
    authors = [str(a) for a in page.meta.get("authors") or [] if str(a).strip()]
    return authors or [f"{state.title} staff"]  # feeds should name someone per item


def _categories(page: Page) -> list[str]:
    return [str(c) for c in page.meta.get("categories") or [] if str(c).strip()] or ["news"]


def _summary(page: Page, limit: int = 280) -> str:
    text = page.meta.get("description") or page.gold_text or ""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + "…"
    return text


def _page_title(page: Page) -> str:
    return page.title or page.path


def _pub(page: Page, state: _SiteState) -> datetime:
    return page.published or state.created


def _home_html(state: _SiteState, origin: str, pages: list[Page]) -> bytes:
    fmt = state.site.feed_format
    types = {
        "rss": "application/rss+xml",
        "atom": "application/atom+xml",
        "json": "application/feed+json",
    }
    title = html.escape(state.title)
    items = "\n".join(
        f'<li><a href="{html.escape(p.path)}">{html.escape(_page_title(p))}</a> '
        f'<time datetime="{_pub(p, state).isoformat()}">{_pub(p, state):%Y-%m-%d}</time></li>'
        for p in pages
    )
    doc = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f"<title>{title}</title>\n"
        f'<link rel="alternate" type="{types[fmt]}" title="{title}" href="{FEED_PATHS[fmt]}">\n'
        f'<link rel="canonical" href="{origin}/">\n'
        f"</head><body>\n<header><h1>{title}</h1></header>\n<main><ul>\n{items}\n</ul></main>\n"
        "<footer>Replayed by newsdesk devtools</footer>\n</body></html>\n"
    )
    return doc.encode()


def _rss(state: _SiteState, origin: str, pages: list[Page]) -> bytes:
    e = xml_escape
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        f"<title>{e(state.title)}</title>\n<link>{origin}/</link>\n"
        f"<description>{e(state.title)} (replay)</description>\n"
        f'<atom:link href="{origin}{FEED_PATHS["rss"]}" rel="self" type="application/rss+xml"/>\n'
        f"<lastBuildDate>{_http_date(state.changed_at)}</lastBuildDate>\n"
        f"<ttl>{int(state.site.ttl)}</ttl>\n"
    ]
    for p in pages:
        url = e(origin + p.path)
        out.append(
            f"<item>\n<title>{e(_page_title(p))}</title>\n<link>{url}</link>\n"
            f'<guid isPermaLink="true">{url}</guid>\n'
            f"<pubDate>{_http_date(_pub(p, state))}</pubDate>\n"
            # dc:creator, not <author>: RSS 2.0 <author> must be an e-mail address.
            + "".join(f"<dc:creator>{e(a)}</dc:creator>\n" for a in _authors(p, state))
            + "".join(f"<category>{e(c)}</category>\n" for c in _categories(p))
            + f"<description>{e(_summary(p))}</description>\n</item>\n"
        )
    out.append("</channel>\n</rss>\n")
    return "".join(out).encode()


def _atom(state: _SiteState, origin: str, pages: list[Page]) -> bytes:
    e = xml_escape
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f"<id>{origin}/</id>\n<title>{e(state.title)}</title>\n"
        f"<updated>{state.changed_at.isoformat()}</updated>\n"
        f'<link rel="self" type="application/atom+xml" href="{origin}{FEED_PATHS["atom"]}"/>\n'
        f'<link rel="alternate" type="text/html" href="{origin}/"/>\n'
    ]
    for p in pages:
        url = e(origin + p.path, {'"': "&quot;"})
        updated = state.resources[p.path].last_modified
        out.append(
            f"<entry>\n<id>{url}</id>\n<title>{e(_page_title(p))}</title>\n"
            f'<link rel="alternate" type="text/html" href="{url}"/>\n'
            f"<published>{_pub(p, state).isoformat()}</published>\n"
            f"<updated>{max(updated, _pub(p, state)).isoformat()}</updated>\n"
            + "".join(f"<author><name>{e(a)}</name></author>\n" for a in _authors(p, state))
            + "".join(f'<category term="{e(c, {chr(34): "&quot;"})}"/>\n' for c in _categories(p))
            + f"<summary>{e(_summary(p))}</summary>\n</entry>\n"
        )
    out.append("</feed>\n")
    return "".join(out).encode()


def _json_feed(state: _SiteState, origin: str, pages: list[Page]) -> bytes:
    items = []
    for p in pages:
        updated = state.resources[p.path].last_modified
        items.append(
            {
                "id": origin + p.path,
                "url": origin + p.path,
                "title": _page_title(p),
                "summary": _summary(p),
                "content_text": _summary(p),
                "date_published": _pub(p, state).isoformat(),
                "date_modified": max(updated, _pub(p, state)).isoformat(),
                "authors": [{"name": a} for a in _authors(p, state)],
                "tags": _categories(p),
            }
        )
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": state.title,
        "home_page_url": origin + "/",
        "feed_url": origin + FEED_PATHS["json"],
        "items": items,
    }
    return json.dumps(doc, ensure_ascii=False, indent=1).encode()


def _news_sitemap(state: _SiteState, origin: str, pages: list[Page]) -> bytes:
    e = xml_escape
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n'
    ]
    for p in pages:
        lm = max(state.resources[p.path].last_modified, _pub(p, state))
        lang = str(p.meta.get("language") or "en")
        out.append(
            f"<url>\n<loc>{e(origin + p.path)}</loc>\n<lastmod>{lm.isoformat()}</lastmod>\n"
            "<news:news>\n<news:publication>\n"
            f"<news:name>{e(state.title)}</news:name>\n<news:language>{e(lang)}</news:language>\n"
            "</news:publication>\n"
            f"<news:publication_date>{_pub(p, state).isoformat()}</news:publication_date>\n"
            f"<news:title>{e(_page_title(p))}</news:title>\n</news:news>\n</url>\n"
        )
    out.append("</urlset>\n")
    return "".join(out).encode()


# ---------------------------------------------------------------------------
# Corpus loaders (read ../shared/data/web; every loader returns [] when data is absent)
# ---------------------------------------------------------------------------


def shared_data_dir() -> Path | None:
    """``<repo>/../shared/data`` (or $NEWSDESK_SHARED_DATA); None if it does not exist."""
    env = os.environ.get("NEWSDESK_SHARED_DATA")
    if env:
        p = Path(env).expanduser()
        return p if p.is_dir() else None
    for base in [*Path(__file__).resolve().parents, *Path.cwd().resolve().parents]:
        candidate = base / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


def _web_dir(data_dir: str | os.PathLike[str] | None) -> Path | None:
    # Accept the shared data dir (…/shared/data) or its web/ subfolder.
    base = Path(data_dir) if data_dir is not None else shared_data_dir()
    if base is None:
        return None
    if (base / "web").is_dir():
        return base / "web"
    return base if base.is_dir() else None


_CHARSET_RE = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_:.-]+)", re.I)
_TITLE_RE = re.compile(rb"<title[^>]*>(.*?)</title", re.I | re.S)


def _declared_charset(body: bytes) -> str | None:
    m = _CHARSET_RE.search(body[:16384])
    if not m:
        return None
    name = m.group(1).decode("ascii", "ignore").lower()
    try:
        codecs.lookup(name)
    except LookupError:
        return None
    return name


def _html_content_type(body: bytes) -> str:
    # Like a typical server config: announce the page's declared charset; undeclared
    # pages get utf-8 only if they really are, otherwise clients have to sniff.
    charset = _declared_charset(body)
    if charset is None:
        try:
            body.decode("utf-8")
            charset = "utf-8"
        except UnicodeDecodeError:
            return "text/html"
    return f"text/html; charset={charset}"


def _html_title(body: bytes) -> str | None:
    m = _TITLE_RE.search(body)
    if not m:
        return None
    raw = m.group(1)
    try:
        text = raw.decode(_declared_charset(body) or "utf-8")
    except (UnicodeDecodeError, LookupError):
        text = raw.decode("cp1252", "replace")
    text = " ".join(html.unescape(text).split())
    return text[:300] or None


def _read_text(path: Path) -> str | None:
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")  # the big9 gold files are partly Windows-1252


def _read_page_bytes(path: Path) -> bytes | None:
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    if path.suffix == ".gz":
        try:
            return gzip_lib.decompress(raw)
        except (OSError, EOFError):
            return None
    return raw


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "page"


def _parse_date(value: Any) -> datetime | None:
    if not value or str(value) in ("None", "null"):
        return None
    s = str(value).strip().replace("Z", "+00:00")
    try:
        return _utc(datetime.fromisoformat(s))
    except ValueError:
        pass
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})", s)
    if m:
        with contextlib.suppress(ValueError):
            return datetime(int(m[1]), int(m[2]), int(m[3]), 12, tzinfo=UTC)
    return None


def _as_list(value: Any) -> list[str]:
    # Some gold files store lists as their Python repr ("['A', 'B']").
    if value is None:
        return []
    if isinstance(value, str):
        s = value.strip()
        if s.startswith("["):
            with contextlib.suppress(ValueError, SyntaxError):
                value = ast.literal_eval(s)
        else:
            return [s] if s and s != "None" else []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if v and str(v).strip()]
    return []


def _path_from_url(url: str) -> str | None:
    parts = urlsplit(url)
    # Drop "." and ".." segments: clients normalise them differently ("/a/." -> "/a" or
    # "/a/"), so the URLs we hand out must not contain any.
    segments: list[str] = []
    for seg in parts.path.split("/")[1:]:
        if seg == "..":
            if segments:
                segments.pop()
        elif seg != ".":
            segments.append(seg)
    path = "/" + "/".join(segments)
    if path == "/" and not parts.query:
        return None
    target = _norm_target(path + ("?" + parts.query if parts.query else ""))
    return None if target in GENERATED_PATHS else target


def _unique(path: str, used: set[str]) -> str:
    candidate, n = path, 2
    while candidate in used or candidate in GENERATED_PATHS:
        candidate = path + ("&" if "?" in path else "?") + f"v={n}"
        n += 1
    used.add(candidate)
    return candidate


def _synthetic_date(year: int, i: int) -> datetime:
    # Deterministic spread over the year so feeds have a stable newest-first order.
    return datetime(year, 1, 1, 8, tzinfo=UTC) + timedelta(days=1 + 36 * (i % 10), hours=i % 7)


def load_big9(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    eras: Iterable[str | int] | None = None,
    sites: Iterable[str] | None = None,
) -> list[Site]:
    """site-level-big9: 6 sites x 4 eras x 10 pages, human gold text in Page.gold_text.

    Paths are ``/<era>/<slug>.html``. Published dates: the Wayback capture time when the
    url_hint has one from the page's era, else synthesized deterministically within the era.
    """
    web = _web_dir(data_dir)
    base = web / "site-level-big9" if web else None
    if base is None or not (base / "manifest.json").is_file():
        return []
    try:
        entries = json.loads((base / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return []
    era_filter = {str(e) for e in eras} if eras is not None else None
    site_filter = set(sites) if sites is not None else None
    grouped: dict[str, list[Page]] = {}
    index: dict[tuple[str, str], int] = {}
    for entry in entries:
        era, name = str(entry.get("era")), str(entry.get("site"))
        if (era_filter is not None and era not in era_filter) or (
            site_filter is not None and name not in site_filter
        ):
            continue
        body = _read_page_bytes(base / entry["html"])
        if body is None:
            continue
        i = index[(name, era)] = index.get((name, era), -1) + 1
        stem = re.sub(r"\.(html?|htm)(\.gz)?$", "", Path(entry["html"]).name, flags=re.I)
        hint = entry.get("url_hint") or None
        published, synthetic = None, True
        m = re.search(r"/web/(\d{14})", hint or "")
        if m and m.group(1)[:4] == era:
            published, synthetic = _utc(datetime.strptime(m.group(1), "%Y%m%d%H%M%S")), False
        if published is None:
            published = _synthetic_date(int(era), i) if era.isdigit() else None
        gold_path = base / entry["gold"] if entry.get("gold") else None
        page = Page(
            path=f"/{era}/{_slug(stem)}.html",
            body=body,
            content_type=_html_content_type(body),
            published=published,
            title=_html_title(body),
            gold_text=_read_text(gold_path) if gold_path else None,
            meta={
                "corpus": "big9",
                "era": era,
                "source": entry["html"],
                "url": hint,
                "categories": [re.sub(r"\s*\(\d+\)$", "", stem)],  # file stems are topics
                "published_synthetic": synthetic,
            },
        )
        grouped.setdefault(name, []).append(page)
    return [Site(name=n, pages=p, title=n) for n, p in sorted(grouped.items())]


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v))


def _fundus_text(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    parts = list(body.get("summary") or [])
    for section in body.get("sections") or []:
        parts += list(section.get("headline") or []) + list(section.get("paragraphs") or [])
    text = "\n\n".join(str(p).strip() for p in parts if str(p).strip())
    return text or None


def load_fundus(data_dir: str | os.PathLike[str] | None = None) -> list[Site]:
    """fundus-news: one site per publisher (181), real URL paths, gold fields per page.

    Gold versions (V1, V1_1, V2, ...) pair in order with the publisher's dated HTML files.
    """
    web = _web_dir(data_dir)
    base = web / "fundus-news" if web else None
    if base is None or not base.is_dir():
        return []
    out: list[Site] = []
    for cc in sorted(p for p in base.iterdir() if p.is_dir()):
        try:
            info = json.loads((cc / "meta.info").read_text("utf-8"))
        except (OSError, ValueError):
            info = {}
        for gold_file in sorted(cc.glob("*.json")):
            publisher = gold_file.stem
            try:
                gold = json.loads(gold_file.read_text("utf-8"))
            except (OSError, ValueError):
                continue
            pattern = re.compile(re.escape(publisher) + r"_\d{4}_\d{2}_\d{2}\.html(\.gz)?")
            files = sorted(f for f in cc.iterdir() if pattern.fullmatch(f.name))
            used: set[str] = set()
            pages: list[Page] = []
            for version, html_file in zip(sorted(gold, key=_version_key), files, strict=False):
                body = _read_page_bytes(html_file)
                if body is None:
                    continue
                g = gold[version]
                url = str((info.get(html_file.name) or {}).get("url") or "")
                path = _path_from_url(url) or f"/{_slug(html_file.name.split('.')[0])}.html"
                published = _parse_date(g.get("publishing_date"))
                pages.append(
                    Page(
                        path=_unique(path, used),
                        body=body,
                        content_type=_html_content_type(body),
                        published=published,
                        title=g.get("title") or _html_title(body),
                        gold_text=_fundus_text(g.get("body")),
                        meta={
                            "corpus": "fundus",
                            "country": cc.name,
                            "source": f"{cc.name}/{html_file.name}",
                            "url": url or None,
                            "crawl_date": (info.get(html_file.name) or {}).get("crawl_date"),
                            "gold_version": version,
                            "authors": _as_list(g.get("authors")),
                            "categories": _as_list(g.get("topics")),
                            "gold": g,
                            "published_synthetic": published is None,
                        },
                    )
                )
            if pages:
                out.append(Site(name=publisher, pages=pages, title=publisher))
    return out


_SECOND_LEVEL = {"co", "com", "org", "net", "ac", "gov", "edu", "ne", "or"}


def _registrable(host: str) -> str:
    # Rough eTLD+1 without a suffix list: enough to merge edition.cnn.com into cnn.com.
    labels = host.lower().removeprefix("www.").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def load_newspaper4k(data_dir: str | os.PathLike[str] | None = None) -> list[Site]:
    """newspaper4k-pages grouped into sites by file-name prefix (al.com1/2 -> al.com).

    Named fixtures are grouped by their metadata URL's domain, CNN/Wired homepages join
    their domain (not in feeds), the rest go to ``newspaper4k-misc``. Gold text from txt/.
    """
    web = _web_dir(data_dir)
    base = web / "newspaper4k-pages" if web else None
    if base is None or not (base / "html").is_dir():
        return []
    rows: list[tuple[str, str, Path, dict[str, Any]]] = []  # (key, stem, file, metadata)
    for f in sorted((base / "html").glob("*.html")):
        stem = f.stem
        if stem == "sample_rss":  # an RSS document stored as .html, not a web page
            continue
        md: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            md = json.loads((base / "metadata" / f"{stem}.json").read_text("utf-8"))
        url = str(md.get("url") or "")
        m = re.fullmatch(r"(.+\.[a-z]{2,})(\d+)", stem)
        if m:
            key = _registrable(m.group(1))
        elif url.startswith("http") and urlsplit(url).hostname:
            key = _registrable(urlsplit(url).hostname or "")
        else:
            key = "?" + stem.split("_")[0]  # resolved below
        rows.append((key, stem, f, md))
    domains = {k for k, *_ in rows if not k.startswith("?")}
    grouped: dict[str, list[Page]] = {}
    used: dict[str, set[str]] = {}
    for i, (key, stem, f, md) in enumerate(rows):
        if key.startswith("?"):
            key = f"{key[1:]}.com" if f"{key[1:]}.com" in domains else "newspaper4k-misc"
        body = _read_page_bytes(f)
        if body is None:
            continue
        homepage = stem.endswith("_main_site")
        url = str(md.get("url") or "")
        path = (_path_from_url(url) if url.startswith("http") else None) or f"/{stem}.html"
        published = _parse_date(md.get("publish_date"))
        synthetic = published is None
        if published is None:  # most fixtures are from December 2014
            published = datetime(2014, 12, 1, 9, tzinfo=UTC) + timedelta(hours=7 * i)
        pages = grouped.setdefault(key, [])
        pages.append(
            Page(
                path=_unique(path, used.setdefault(key, set())),
                body=body,
                content_type=_html_content_type(body),
                published=published,
                title=md.get("title") or _html_title(body),
                gold_text=_read_text(base / "txt" / f"{stem}.txt"),
                meta={
                    "corpus": "newspaper4k",
                    "source": f"html/{f.name}",
                    "url": url or None,
                    "authors": _as_list(md.get("authors")),
                    "language": md.get("meta_lang") or md.get("language") or None,
                    "description": md.get("meta_description") or None,
                    "gold": md or None,
                    "homepage": homepage,
                    "in_feed": not homepage,
                    "published_synthetic": synthetic,
                },
            )
        )
    return [Site(name=k, pages=p, title=k) for k, p in sorted(grouped.items())]


_TLD_LIKE = re.compile(r"[a-z]{2}|com|net|org|gov|edu|info")


def _trafilatura_host(key: str) -> str | None:
    wayback = re.match(r"https?://web\.archive\.org/web/[^/]+/(.+)", key)
    if wayback:
        inner = wayback.group(1)
        key = inner if "://" in inner else "http://" + inner
    if "://" in key:
        host = urlsplit(key).hostname
        return host.removeprefix("www.") if host else None
    # "hard::jamaicaobserver.com-attacks.html" style keys: guess the host from the name.
    name = key.split("::", 1)[-1].removesuffix(".html").split("-")[0]
    labels = name.split(".")
    last = max((i for i, lab in enumerate(labels) if _TLD_LIKE.fullmatch(lab)), default=-1)
    return ".".join(labels[: last + 1]).removeprefix("www.") if last >= 1 else None


def load_trafilatura_eval(data_dir: str | os.PathLike[str] | None = None) -> list[Site]:
    """trafilatura-eval pages grouped by host (mostly one page per site).

    No full gold text; ``meta['with']``/``meta['without']`` hold must/must-not snippets.
    """
    web = _web_dir(data_dir)
    base = web / "trafilatura-eval" if web else None
    if base is None or not (base / "evaldata.json").is_file():
        return []
    try:
        evaldata: dict[str, dict[str, Any]] = json.loads(
            (base / "evaldata.json").read_text("utf-8")
        )
    except (OSError, ValueError):
        return []
    grouped: dict[str, list[Page]] = {}
    used: dict[str, set[str]] = {}
    for i, (key, e) in enumerate(evaldata.items()):
        file = str(e.get("file") or "")
        body = None
        for folder in ("eval", "cache"):
            for name in (file + ".gz", file):
                if body is None and (base / folder / name).is_file():
                    body = _read_page_bytes(base / folder / name)
        if body is None:
            continue
        host = _trafilatura_host(key) or "trafilatura-misc"
        wayback = re.match(r"https?://web\.archive\.org/web/[^/]+/(.+)", key)
        real = wayback.group(1) if wayback else key
        real = real if "://" in real else "http://" + real
        path = (_path_from_url(real) if "::" not in key else None) or f"/{_slug(file)}.html"
        published = _parse_date(e.get("date"))
        synthetic = published is None
        if published is None:
            published = _synthetic_date(2019, i) + timedelta(days=i % 300)
        grouped.setdefault(host, []).append(
            Page(
                path=_unique(path, used.setdefault(host, set())),
                body=body,
                content_type=_html_content_type(body),
                published=published,
                title=e.get("title") or _html_title(body),
                gold_text=None,
                meta={
                    "corpus": "trafilatura",
                    "source": file,
                    "url": key if key.startswith("http") else None,
                    "authors": [
                        a.strip() for a in str(e.get("author") or "").split(";") if a.strip()
                    ],
                    "categories": _as_list(e.get("categories")) + _as_list(e.get("tags")),
                    "description": e.get("description") or None,
                    "with": list(e.get("with") or []),
                    "without": list(e.get("without") or []),
                    "gold": e,
                    "published_synthetic": synthetic,
                },
            )
        )
    return [Site(name=k, pages=p, title=k) for k, p in sorted(grouped.items())]


def load_corpus(
    data_dir: str | os.PathLike[str] | None = None, min_pages: int = 1000
) -> list[Site]:
    """big9 + fundus + newspaper4k, plus trafilatura-eval when that is < min_pages pages.

    Site names are made unique across corpora (``name~corpus``) since every site gets
    its own origin.
    """
    sites = load_big9(data_dir) + load_fundus(data_dir) + load_newspaper4k(data_dir)
    if sum(len(s.pages) for s in sites) < min_pages:
        sites += load_trafilatura_eval(data_dir)
    seen: set[str] = set()
    for site in sites:
        if site.name in seen:
            corpus = site.pages[0].meta.get("corpus", "x") if site.pages else "x"
            site.name = f"{site.name}~{corpus}"
        seen.add(site.name)
    return sites


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def _opml(srv: ReplayServer) -> str:
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<opml version="2.0">',
        "<head><title>newsdesk replay</title></head>",
        "<body>",
    ]
    for name in srv.site_names:
        a = html.escape(name, quote=True)
        lines.append(
            f'<outline type="rss" text="{a}" title="{a}" '
            f'xmlUrl="{srv.feed_url(name)}" htmlUrl="{srv.origin(name)}/"/>'
        )
    lines += ["</body>", "</opml>", ""]
    return "\n".join(lines)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    loaders = {
        "big9": load_big9,
        "fundus": load_fundus,
        "newspaper4k": load_newspaper4k,
        "trafilatura": load_trafilatura_eval,
        "corpus": load_corpus,
        "all": lambda d: load_corpus(d, min_pages=sys.maxsize),
    }
    ap = argparse.ArgumentParser(
        prog="python -m newsdesk.devtools.replay", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--corpus", choices=sorted(loaders), default="big9")
    ap.add_argument("--data", type=Path, default=None, help="shared data dir (default: auto)")
    ap.add_argument("--no-gzip", action="store_true")
    ap.add_argument("--opml", type=Path, help="also write an OPML of all feed URLs here")
    args = ap.parse_args(argv)
    data = args.data or shared_data_dir()
    if data is None:
        print("shared data not found; set NEWSDESK_SHARED_DATA or pass --data", file=sys.stderr)
        return 2
    sites = loaders[args.corpus](data)
    if not sites:
        print(f"no pages found for corpus {args.corpus!r} under {data}", file=sys.stderr)
        return 2
    with ReplayServer(sites, gzip=not args.no_gzip) as srv:
        for site in sites:
            print(f"{site.name}\t{len(site.pages)} pages\t{srv.feed_url(site.name)}")
        print(f"# {len(sites)} sites, {sum(len(s.pages) for s in sites)} pages. Ctrl-C stops.")
        if args.opml:
            args.opml.write_text(_opml(srv), "utf-8")
            print(f"# OPML written to {args.opml}")
        sys.stdout.flush()
        # Stop cleanly on Ctrl-C and on SIGTERM (also when started in the background,
        # where the shell leaves SIGINT ignored).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _raise_interrupt)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
