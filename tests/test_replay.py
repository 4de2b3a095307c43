"""Replay server: real HTTP over loopback (httpx/urllib), feeds parsed with feedparser."""

from __future__ import annotations

import gzip
import json
import re
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import httpx
import pytest

from newsdesk.devtools.replay import (
    Page,
    ReplayServer,
    Site,
    load_big9,
    load_corpus,
    load_fundus,
    load_newspaper4k,
    load_trafilatura_eval,
    shared_data_dir,
)

pytestmark = pytest.mark.timeout(60)


def _site(name: str, n: int = 5, **kw: object) -> Site:
    pages = [
        Page(
            path=f"/news/story-{i}.html",
            body=(
                f"<html><head><title>Story {i}</title></head><body><h1>Story {i}</h1>"
                + f"<p>Paragraph of story {i}. </p>" * 50
                + "</body></html>"
            ).encode(),
            published=datetime(2024, 1, i + 1, 12, tzinfo=UTC),
            title=f"Story {i}",
            gold_text=f"Paragraph of story {i}.",
            meta={"authors": [f"Author {i}"], "categories": ["world"]},
        )
        for i in range(n)
    ]
    return Site(name=name, pages=pages, **kw)  # type: ignore[arg-type]


@pytest.fixture
def srv() -> Iterator[ReplayServer]:
    sites = [_site("alpha"), _site("beta", n=3, robots_txt=None, feed_format="atom")]
    with ReplayServer(sites) as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def _raw(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """urllib: no automatic Accept-Encoding or decoding, so we see the wire bytes."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


# --- addressing, feeds, discovery -------------------------------------------------


def test_each_site_is_its_own_origin(srv: ReplayServer) -> None:
    a, b = srv.origin("alpha"), srv.origin("beta")
    assert a != b and a.startswith("http://127.0.0.1:") and b.startswith("http://127.0.0.1:")
    assert srv.url("alpha", "news/story-1.html") == a + "/news/story-1.html"
    assert srv.feed_url("alpha") == a + "/feed.xml"
    assert srv.feed_url("beta") == b + "/feed.atom"
    assert srv.sitemap_url("alpha") == a + "/sitemap.xml"


def test_rss_feed_lists_pages_newest_first(srv: ReplayServer, client: httpx.Client) -> None:
    r = client.get(srv.feed_url("alpha"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/rss+xml")
    fp = feedparser.parse(r.content)
    assert not fp.bozo, fp.get("bozo_exception")
    assert fp.version == "rss20" and fp.feed.ttl == "15"
    assert [e.title for e in fp.entries] == [f"Story {i}" for i in (4, 3, 2, 1, 0)]
    first = fp.entries[0]
    assert first.link == srv.url("alpha", "/news/story-4.html") == first.id
    assert first.author == "Author 4" and first.tags[0].term == "world"
    assert first.published_parsed[:3] == (2024, 1, 5)
    assert client.get(first.link).text.startswith("<html><head><title>Story 4")


def test_atom_and_json_feeds(srv: ReplayServer, client: httpx.Client) -> None:
    atom = feedparser.parse(client.get(srv.feed_url("beta")).content)
    assert atom.version == "atom10" and len(atom.entries) == 3
    assert atom.entries[0].link == srv.url("beta", "/news/story-2.html")
    doc = json.loads(client.get(srv.feed_url("alpha", "json")).content)
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert [it["title"] for it in doc["items"]][:2] == ["Story 4", "Story 3"]
    assert doc["items"][0]["authors"] == [{"name": "Author 4"}]


def test_home_page_advertises_feed_and_links_articles(
    srv: ReplayServer, client: httpx.Client
) -> None:
    home = client.get(srv.origin("alpha") + "/").text
    assert '<link rel="alternate" type="application/rss+xml"' in home
    assert 'href="/feed.xml"' in home
    assert len(re.findall(r'<a href="/news/story-\d\.html">', home)) == 5
    assert 'type="application/atom+xml"' in client.get(srv.origin("beta") + "/").text


def test_news_sitemap(srv: ReplayServer, client: httpx.Client) -> None:
    root = ET.fromstring(client.get(srv.sitemap_url("alpha")).content)
    ns = {
        "s": "http://www.sitemaps.org/schemas/sitemap/0.9",
        "n": "http://www.google.com/schemas/sitemap-news/0.9",
    }
    locs = [e.text for e in root.findall("s:url/s:loc", ns)]
    assert len(locs) == 5 and srv.url("alpha", "/news/story-0.html") in locs
    assert len(root.findall("s:url/n:news/n:publication_date", ns)) == 5


# --- HTTP semantics -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/news/story-1.html", "/feed.xml", "/", "/robots.txt"])
def test_validators_give_304(srv: ReplayServer, client: httpx.Client, path: str) -> None:
    url = srv.url("alpha", path)
    r = client.get(url)
    etag, lm = r.headers["etag"], r.headers["last-modified"]
    assert etag.startswith('"') and not etag.startswith("W/")
    r304 = client.get(url, headers={"If-None-Match": etag})
    assert r304.status_code == 304 and r304.content == b"" and r304.headers["etag"] == etag
    assert client.get(url, headers={"If-Modified-Since": lm}).status_code == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert client.get(url, headers={"If-Modified-Since": old}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110).
    both = {"If-None-Match": '"other"', "If-Modified-Since": lm}
    assert client.get(url, headers=both).status_code == 200


def test_head_and_content_length(srv: ReplayServer) -> None:
    url = srv.url("alpha", "/news/story-1.html")
    status, headers, body = _raw(url)
    assert status == 200 and int(headers["content-length"]) == len(body)
    req = urllib.request.Request(url, method="HEAD")
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200 and resp.read() == b""
        assert int(resp.headers["Content-Length"]) == len(body)
    assert srv.requests[-1].method == "HEAD"


def test_gzip_only_when_accepted(srv: ReplayServer) -> None:
    url = srv.url("alpha", "/news/story-2.html")
    _, plain_h, plain = _raw(url)
    assert "content-encoding" not in plain_h and plain.startswith(b"<html>")
    _, gz_h, raw = _raw(url, {"Accept-Encoding": "gzip, deflate"})
    assert gz_h["content-encoding"] == "gzip" and gz_h["vary"] == "Accept-Encoding"
    assert int(gz_h["content-length"]) == len(raw) < len(plain)
    assert gzip.decompress(raw) == plain
    assert gz_h["etag"] != plain_h["etag"]  # distinct bytes, distinct strong validator
    _, h, _ = _raw(url, {"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in h
    # The gzip variant's ETag still validates the resource.
    status, _, _ = _raw(url, {"Accept-Encoding": "gzip", "If-None-Match": gz_h["etag"]})
    assert status == 304
    with ReplayServer([_site("plain")], gzip=False) as plain_srv:
        _, h, _ = _raw(plain_srv.url("plain", "/news/story-2.html"), {"Accept-Encoding": "gzip"})
        assert "content-encoding" not in h


def test_precompress_serves_the_same_bytes() -> None:
    with ReplayServer([_site("pre")]) as s:
        assert s.precompress() == len(_site("pre").pages)
        url = s.url("pre", "/news/story-2.html")
        _, plain_h, plain = _raw(url)
        _, gz_h, raw = _raw(url, {"Accept-Encoding": "gzip"})
        assert gz_h["content-encoding"] == "gzip" and gzip.decompress(raw) == plain


def test_feature_flags_off() -> None:
    with ReplayServer([_site("old")], etag=False, last_modified=False) as s:
        url = s.url("old", "/news/story-0.html")
        status, h, _ = _raw(url, {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"})
        assert status == 200 and "etag" not in h and "last-modified" not in h


def test_unknown_path_404_and_robots(srv: ReplayServer, client: httpx.Client) -> None:
    assert client.get(srv.url("alpha", "/nope.html")).status_code == 404
    r = client.get(srv.url("alpha", "/robots.txt"))
    assert r.status_code == 200 and r.text == "User-agent: *\nAllow: /\n"
    assert r.headers["content-type"].startswith("text/plain")
    assert client.get(srv.url("beta", "/robots.txt")).status_code == 404


def test_original_bytes_and_charset_kept(client: httpx.Client) -> None:
    body = "<html><head><meta charset=iso-8859-1><title>Caf\xe9</title></head></html>"
    page = Page("/latin.html", body.encode("latin-1"), "text/html; charset=iso-8859-1")
    with ReplayServer([Site("latin", [page])]) as s:
        r = client.get(s.url("latin", "/latin.html"))
        assert r.content == body.encode("latin-1") and "iso-8859-1" in r.headers["content-type"]
        assert "Café" in r.text


def test_percent_encoded_paths_match(client: httpx.Client) -> None:
    page = Page("/a b/ü.html?x=1", b"<html>ok</html>")
    with ReplayServer([Site("enc", [page])]) as s:
        assert client.get(s.origin("enc") + "/a%20b/%C3%BC.html?x=1").status_code == 200
        assert client.get(s.url("enc", "/a b/ü.html?x=1")).content == b"<html>ok</html>"


# --- faults -------------------------------------------------------------------------


@pytest.mark.parametrize("code", [404, 410, 500])
def test_status_fault(srv: ReplayServer, client: httpx.Client, code: int) -> None:
    url = srv.url("alpha", "/news/story-1.html")
    srv.set_fault("alpha", "/news/story-1.html", "status", code=code, times=2)
    assert [client.get(url).status_code for _ in range(3)] == [code, code, 200]
    srv.set_fault("alpha", "/feed.xml", "status", code=code)
    assert [client.get(srv.feed_url("alpha")).status_code for _ in range(3)] == [code] * 3
    srv.clear_fault("alpha")
    assert client.get(srv.feed_url("alpha")).status_code == 200


def test_retry_after_then_ok(srv: ReplayServer, client: httpx.Client) -> None:
    url = srv.url("alpha", "/news/story-3.html")
    srv.set_fault("alpha", "/news/story-3.html", "retry_after", code=429, seconds=7, times=2)
    for _ in range(2):
        r = client.get(url)
        assert r.status_code == 429 and r.headers["retry-after"] == "7"
    assert client.get(url).status_code == 200
    srv.set_fault("alpha", "*", "retry_after", code=503, seconds=1)  # whole host, once
    assert client.get(srv.feed_url("alpha")).status_code == 503
    assert client.get(srv.feed_url("alpha")).status_code == 200


def test_redirects(srv: ReplayServer, client: httpx.Client) -> None:
    srv.set_fault("alpha", "/old.html", "redirect", to="/news/story-0.html", code=301)
    r = client.get(srv.url("alpha", "/old.html"))
    assert r.status_code == 301 and r.headers["location"] == srv.url("alpha", "/news/story-0.html")
    r = client.get(srv.url("alpha", "/old.html"), follow_redirects=True)
    assert r.status_code == 200 and str(r.url) == srv.url("alpha", "/news/story-0.html")
    # Cross-origin redirect to another replayed site.
    target = srv.url("beta", "/news/story-0.html")
    srv.set_fault("alpha", "/moved.html", "redirect", to=target, code=308)
    assert str(client.get(srv.url("alpha", "/moved.html"), follow_redirects=True).url) == target
    srv.set_fault("alpha", "/news/story-2.html", "redirect_loop")
    with pytest.raises(httpx.TooManyRedirects):
        client.get(srv.url("alpha", "/news/story-2.html"), follow_redirects=True)


def test_slow_fault(srv: ReplayServer) -> None:
    url = srv.url("alpha", "/news/story-4.html")
    srv.set_fault("alpha", "/news/story-4.html", "slow", delay=0.4, times=1)
    t = time.monotonic()
    assert httpx.get(url, timeout=5).status_code == 200
    assert time.monotonic() - t >= 0.4
    srv.set_fault("alpha", "/news/story-4.html", "slow", delay=1.0, times=1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(url, timeout=0.2)
    # during=True: headers arrive at once, the body trickles in.
    srv.set_fault("alpha", "/news/story-4.html", "slow", delay=0.5, during=True, times=1)
    t = time.monotonic()
    with httpx.stream("GET", url, timeout=5) as r:
        assert r.status_code == 200 and time.monotonic() - t < 0.3
        body = r.read()
    assert time.monotonic() - t >= 0.45 and body.startswith(b"<html>")


def test_gone_leaves_the_feed(srv: ReplayServer, client: httpx.Client) -> None:
    srv.set_fault("alpha", "/news/story-4.html", "gone")
    assert client.get(srv.url("alpha", "/news/story-4.html")).status_code == 410
    titles = [e.title for e in feedparser.parse(client.get(srv.feed_url("alpha")).content).entries]
    assert "Story 4" not in titles and len(titles) == 4


def test_lying_validators(srv: ReplayServer, client: httpx.Client) -> None:
    path = "/news/story-0.html"
    url = srv.url("alpha", path)
    srv.set_fault("alpha", path, "lying_validators", mode="always_200")
    first = client.get(url)
    second = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200 and second.headers["etag"] != first.headers["etag"]
    assert second.content == first.content
    srv.set_fault("alpha", path, "lying_validators", mode="always_304")
    etag = client.get(url).headers["etag"]
    srv.update_page("alpha", path, b"<html>changed</html>")
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304  # the lie
    assert client.get(url).content == b"<html>changed</html>"  # unconditional is honest


# --- live changes, log ----------------------------------------------------------------


def test_update_page_changes_validators(srv: ReplayServer, client: httpx.Client) -> None:
    path = "/news/story-1.html"
    before = client.get(srv.url("alpha", path))
    srv.update_page("alpha", path, b"<html><title>Story 1 (updated)</title></html>")
    after = client.get(srv.url("alpha", path), headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and b"updated" in after.content
    assert after.headers["etag"] != before.headers["etag"]
    lm = after.headers["last-modified"]
    since = client.get(srv.url("alpha", path), headers={"If-Modified-Since": lm})
    assert since.status_code == 304
    ims = {"If-Modified-Since": before.headers["last-modified"]}
    assert client.get(srv.url("alpha", path), headers=ims).status_code == 200


def test_add_page_appears_first_in_feed(srv: ReplayServer, client: httpx.Client) -> None:
    feed = client.get(srv.feed_url("alpha"))
    srv.add_page("alpha", Page("/news/breaking.html", b"<html>breaking</html>", title="Breaking"))
    again = client.get(srv.feed_url("alpha"), headers={"If-None-Match": feed.headers["etag"]})
    assert again.status_code == 200
    entries = feedparser.parse(again.content).entries
    assert len(entries) == 6 and entries[0].title == "Breaking"
    assert client.get(entries[0].link).content == b"<html>breaking</html>"
    with pytest.raises(ValueError):
        srv.add_page("alpha", Page("/news/breaking.html", b"dup"))


def test_request_log(srv: ReplayServer, client: httpx.Client) -> None:
    srv.reset_log()
    client.get(srv.feed_url("alpha"), headers={"User-Agent": "NewsdeskBot/1.0"})
    client.get(srv.url("alpha", "/missing"))
    log = srv.requests
    assert [(r.site, r.method, r.path, r.status) for r in log] == [
        ("alpha", "GET", "/feed.xml", 200),
        ("alpha", "GET", "/missing", 404),
    ]
    assert log[0].headers["user-agent"] == "NewsdeskBot/1.0" and log[0].time <= time.time()
    assert len(srv.requests_for("alpha", "/feed.xml")) == 1
    assert srv.peak_concurrency("alpha") == 1
    srv.reset_log()
    assert srv.requests == []


def test_input_validation() -> None:
    with pytest.raises(ValueError):
        ReplayServer([_site("x"), _site("x")])
    s = ReplayServer([_site("x")])
    with pytest.raises(ValueError):
        s.set_fault("x", "/", "explode")
    with pytest.raises(KeyError):
        s.set_fault("nope", "/", "status")
    with pytest.raises(RuntimeError):
        s.origin("x")  # not started


# --- corpus loaders -------------------------------------------------------------------


def test_loaders_tolerate_missing_data(tmp_path: Path) -> None:
    for loader in (load_big9, load_fundus, load_newspaper4k, load_trafilatura_eval, load_corpus):
        assert loader(tmp_path) == []
        assert loader(tmp_path / "absent") == []


def test_shared_data_dir_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEWSDESK_SHARED_DATA", str(tmp_path))
    assert shared_data_dir() == tmp_path
    monkeypatch.setenv("NEWSDESK_SHARED_DATA", str(tmp_path / "absent"))
    assert shared_data_dir() is None


@pytest.fixture(scope="module")
def data_dir() -> Path:
    d = shared_data_dir()
    if d is None or not (d / "web" / "site-level-big9" / "manifest.json").is_file():
        reason = "shared data (../shared/data/web) not found; set NEWSDESK_SHARED_DATA"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    return d


def test_big9_loader(data_dir: Path) -> None:
    sites = load_big9(data_dir)
    assert len(sites) == 6 and all(len(s.pages) == 40 for s in sites)
    pages = [p for s in sites for p in s.pages]
    assert len(pages) == 240 and all(p.gold_text and p.published and p.title for p in pages)
    assert all(re.fullmatch(r"/(2005|2009|2013|2017)/[a-z0-9-]+\.html", p.path) for p in pages)
    only = load_big9(data_dir, eras=[2005], sites=["bbc"])
    assert [s.name for s in only] == ["bbc"] and len(only[0].pages) == 10


def test_fundus_and_newspaper4k_loaders(data_dir: Path) -> None:
    fundus = load_fundus(data_dir)
    pages = [p for s in fundus for p in s.pages]
    assert len(fundus) == 181 and len(pages) == 258
    assert all(p.title and p.gold_text and p.published and p.meta["url"] for p in pages)
    ap = next(s for s in fundus if s.name == "APNews")
    assert [p.meta["gold_version"] for p in ap.pages] == ["V1", "V1_1"]
    assert ap.pages[0].published and ap.pages[0].published.year == 2023
    n4k = load_newspaper4k(data_dir)
    html_files = len(list((data_dir / "web" / "newspaper4k-pages" / "html").glob("*.html")))
    assert sum(len(s.pages) for s in n4k) == html_files - 1  # minus sample_rss.html
    cnn = next(s for s in n4k if s.name == "cnn.com")
    assert len(cnn.pages) >= 5 and sum(p.meta["homepage"] for p in cnn.pages) == 1


def test_corpus_serves_over_1000_pages(data_dir: Path, client: httpx.Client) -> None:
    sites = load_corpus(data_dir)
    assert sum(len(s.pages) for s in sites) >= 1000
    assert len({s.name for s in sites}) == len(sites)
    with ReplayServer(sites) as s:
        for site in (sites[0], sites[len(sites) // 2], sites[-1]):
            fp = feedparser.parse(client.get(s.feed_url(site.name)).content)
            assert len(fp.entries) == sum(p.meta.get("in_feed", True) for p in site.pages)


def test_big9_served_end_to_end(data_dir: Path, client: httpx.Client) -> None:
    sites = load_big9(data_dir, sites=["bbc", "cnn"])
    manifest = json.loads((data_dir / "web/site-level-big9/manifest.json").read_text())
    bbc_sources = {e["html"] for e in manifest if e["site"] == "bbc"}
    with ReplayServer(sites) as s:
        fp = feedparser.parse(client.get(s.feed_url("bbc")).content)
        assert len(fp.entries) == 40 and not fp.bozo
        by_path = {p.path: p for p in sites[0].pages}
        # Every feed item resolves to its recording, byte-identical (gzip is transport only).
        for entry in fp.entries:
            path = entry.link.removeprefix(s.origin("bbc"))
            r = client.get(entry.link)
            assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
            src = data_dir / "web/site-level-big9" / by_path[path].meta["source"]
            assert r.content == gzip.decompress(src.read_bytes())
            assert by_path[path].meta["source"] in bbc_sources
        assert {r.site for r in s.requests} == {"bbc"}
