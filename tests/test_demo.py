"""`newsdesk demo`: the fictional news web it serves, and the command end to end."""

from __future__ import annotations

import contextlib
import html
import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsdesk.devtools.demo import DemoWeb, build
from newsdesk.devtools.replay import FEED_PATHS
from newsdesk.pipeline.extract import extract
from newsdesk.pipeline.feeds import parse_any
from tests.conftest import cli_env

# Real time: the extractor rightly ignores dates in the future.
NOW = datetime.now(UTC).replace(microsecond=0)
BOILERPLATE = ("ADVERTISEMENT", "Related stories", "Mehr zum Thema", "À lire aussi",
               "Noticias relacionadas", "More from the wire", "About the author", "cookies")


@pytest.fixture(scope="module")
def web() -> DemoWeb:
    return build(NOW)


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, "", b""


def words(markdown: str) -> int:
    return len(re.sub(r"[|#*_>-]", " ", markdown).split())


def test_outlets_articles_and_dates(web: DemoWeb) -> None:
    assert len(web.outlets) == 5
    assert {o.language for o in web.outlets} == {"en", "de", "fr", "es"}
    assert {o.feed for o in web.outlets} == {"rss", "atom", "json", "sitemap"}
    public = web.public()
    assert len(public) >= 30
    assert len({a.path for a in web.articles}) == len(web.articles)
    for a in web.articles:
        assert a.title and a.authors and a.section and a.description, a.ref
        assert 120 <= words(a.body_md) <= 420, (a.ref, words(a.body_md))
    # Published over the last ~10 days, relative to the build time: the demo always looks live.
    ages = [NOW - a.published for a in public]
    assert min(ages) < timedelta(days=1) and max(ages) <= timedelta(days=10)
    assert all(a.published > NOW for a in web.upcoming) and web.upcoming
    assert any("<table>" in web.pages[a.outlet.key][a.path].body.decode() for a in public)


def test_one_story_several_outlets_and_a_reprinted_wire_copy(web: DemoWeb) -> None:
    stories: dict[str, list] = defaultdict(list)
    for a in web.public():
        if a.story:
            stories[a.story].append(a)
    covered = max(stories.values(), key=len)
    assert len({a.outlet.key for a in covered}) >= 3
    assert len({a.body_md for a in covered}) == len(covered)  # each outlet wrote its own text

    reprints = [a for a in web.public() if a.reprint_of]
    by_wire: dict[str, list] = defaultdict(list)
    for a in reprints:
        by_wire[a.reprint_of].append(a)
    ref, copies = next(iter(by_wire.items()))
    assert len({a.outlet.key for a in copies}) == 2
    wire = next(a for a in web.articles if a.ref == ref)
    assert wire.outlet.key == "cpa-wire"
    for a in copies:
        body = web.pages[a.outlet.key][a.path].body.decode()
        assert a.body_md == wire.body_md and "This article was provided by Continental Press" in body
    frames = {web.pages[a.outlet.key][a.path].body.decode().split("VESSEN (CPA)")[0]
              for a in copies}
    assert len(frames) == 2  # each outlet's own boilerplate around the same text


def test_served_feeds_sitemap_robots_and_home_pages(web: DemoWeb) -> None:
    server = web.serve()
    try:
        for o in web.outlets:
            n = len(web.public(o))
            status, _, body = get(server.url(o.key, o.feed_path))
            assert status == 200, o.key
            parsed = parse_any(body, server.url(o.key, o.feed_path))
            assert len(parsed.entries) == n, o.key
            entry = parsed.entries[0]
            assert entry.title and entry.published
            if o.feed != "sitemap":
                assert entry.authors and entry.categories, o.key
            _, _, home = get(server.url(o.key, "/"))
            assert b"ADVERTISEMENT" in home
            _, _, robots = get(server.url(o.key, "/robots.txt"))
            assert robots.startswith(b"User-agent")
            if o.feed == "sitemap":
                assert f"Sitemap: {server.origin(o.key)}/sitemap.xml".encode() in robots
                assert b'rel="alternate"' not in home
                assert all(get(server.url(o.key, p))[0] == 404 for p in FEED_PATHS.values())
            else:
                assert f'href="{o.feed_path}"'.encode() in home

        # A held-back story goes live: feed, sitemap and home page show it.
        later = web.upcoming[0]
        web.release(server, later)
        o = later.outlet
        feed_url = server.url(o.key, o.feed_path)
        entries = parse_any(get(feed_url)[2], feed_url).entries
        assert server.url(o.key, later.path) in {e.url for e in entries}
        assert html.escape(later.title).encode() in get(server.url(o.key, "/"))[2]
    finally:
        server.stop()
        web.released.clear()


def test_every_article_extracts_cleanly(web: DemoWeb) -> None:
    for a in web.public():
        page = web.pages[a.outlet.key][a.path]
        ex = extract(page.body, "http://127.0.0.1:1" + a.path)
        assert ex.title == a.title and ex.language == a.language, a.ref
        assert ex.published and abs(ex.published - a.published) < timedelta(days=1), a.ref
        heading = re.search(r"^## (.+)$", a.body_md, re.M)
        first_words = " ".join(a.body_md.split("\n")[0].split()[:6]).replace("*", "")
        assert (heading.group(1) if heading else first_words) in ex.text, a.ref
        assert not [b for b in BOILERPLATE if b in ex.text], a.ref


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_command_crawls_serves_and_cleans_up(tmp_path: Path, web: DemoWeb) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsdesk.cli", "demo", "--port", str(port)],
        env=cli_env(TMPDIR=str(tmp)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    expected = len(web.public())
    try:
        end = time.monotonic() + 30
        articles = -1
        while time.monotonic() < end and articles != expected and proc.poll() is None:
            time.sleep(0.3)
            with contextlib.suppress(OSError, ValueError):
                articles = json.loads(get(f"{base}/healthz")[2])["articles"]
        assert articles == expected, proc.stderr.read() if proc.poll() is not None else articles
        assert [p.name for p in tmp.iterdir()][0].startswith("newsdesk-demo-")
        status, _, body = get(base + "/")
        assert status == 200
        front = html.unescape(body.decode())
        shown = [a.title for a in web.public() if a.title in front]
        assert len(shown) >= 10, shown
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert f"collected {expected} articles from 5" in out and base in out, out
    assert list(tmp.iterdir()) == []  # the throwaway data dir is gone
