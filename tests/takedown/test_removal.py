"""The removal engine: a verified takedown is gone from every surface at once, never re-ingested."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from newsdesk import conf
from newsdesk.devtools.replay import Page, ReplayServer, Site
from newsdesk.news import store
from newsdesk.news.models import Article, Author, Category, QueuedPage, Source
from newsdesk.pipeline.extract import Extracted
from newsdesk.runner.crawl import Crawler
from newsdesk.takedown.gone import NOTICE
from newsdesk.takedown.models import AuditLog, RemovedArticle, TakedownRequest, Tombstone
from newsdesk.takedown.removal import is_tombstoned, remove, removed_article, tombstoned_filter
from newsdesk.web.pages import CHOICES_CACHE_KEY, NAV_CACHE_KEY, navigation
from tests.web.conftest import Corpus, make_article, make_corpus

ATOM = "{http://www.w3.org/2005/Atom}"
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def takedown(kind: str, domain: str, urls: list[str] | None = None) -> TakedownRequest:
    return TakedownRequest.objects.create(kind=kind, domain=domain, urls=urls or [],
                                          name="Owner", email="owner@example.org")


@pytest.fixture
def apply(django_capture_on_commit_callbacks: Any) -> Callable[[TakedownRequest], int]:
    """remove() with its after-commit work run (the test transaction never commits)."""

    def run(request: TakedownRequest) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return remove(request, actor="admin:test")

    return run


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


@dataclasses.dataclass
class World:
    corpus: Corpus
    target: Article
    loner: Author  # writes only the target: orphaned by its removal
    shared: Author


@pytest.fixture
def world(db: None) -> World:
    corpus = make_corpus()
    wire = corpus.sources[1]
    # Fresh, so it is also on the front page and in the news sitemap (last 48 hours).
    target = make_article(wire, 99, timezone.now() - timedelta(hours=1),
                          title="Zanzibar dossier leaks from harbour office",
                          text="The zanzibar dossier names three officials.",
                          image="https://world-wire.example/img/dossier.jpg")
    loner = Author.get("Quentin Loner")
    shared = corpus.authors[0]
    target.authors.set([loner, shared])
    target.categories.set([corpus.categories[0]])
    return World(corpus, target, loner, shared)


def page_path(a: Article) -> str:
    return a.get_absolute_url()


def feed_guids(client: Client, path: str) -> dict[str, set[str]]:
    """The entry ids of a listing's Atom, RSS and JSON feeds (parsed, not grepped)."""
    atom = ET.fromstring(client.get(f"{path}feed.atom").content)
    rss = ET.fromstring(client.get(f"{path}feed.rss").content)
    js = json.loads(client.get(f"{path}feed.json").content)
    return {
        "atom": {e.findtext(f"{ATOM}id") or "" for e in atom.iter(f"{ATOM}entry")},
        "rss": {i.findtext("guid") or "" for i in rss.iter("item")},
        "json": {i["id"] for i in js["items"]},
    }


def sitemap_locs(client: Client, path: str) -> set[str]:
    response = client.get(path)
    assert response.status_code == 200
    return {e.text or "" for e in ET.fromstring(response.content).iter(f"{SM}loc")}


def api_ids(client: Client, query: str = "") -> set[int]:
    return {i["id"] for i in client.get(f"/api/articles?limit=200{query}").json()["items"]}


def test_url_request_removes_exactly_that_article_from_every_surface(
        client: Client, world: World, apply: Callable[[TakedownRequest], int]) -> None:
    t = world.target
    others = set(Article.objects.exclude(pk=t.pk).values_list("pk", flat=True))
    path, guid = page_path(t), t.canonical_url
    # Before: it is everywhere, and the validators of the feed and front page are noted.
    assert client.get(path).status_code == 200
    assert t.pk in api_ids(client) and t.pk in api_ids(client, "&q=zanzibar")
    front = client.get("/")
    assert path.encode() in front.content
    feed = client.get("/feed.atom")
    assert all(guid in ids for ids in feed_guids(client, "/").values())
    assert any(path in loc for loc in sitemap_locs(client, "/news-sitemap.xml"))
    navigation()
    assert cache.get(NAV_CACHE_KEY) is not None

    # The owner submits the http/www form with trackers; the canonical is https without www.
    submitted = guid.replace("https://", "http://www.") + "?utm_source=x&fbclid=1#top"
    req = takedown("urls", "world-wire.example", [submitted])
    assert apply(req) == 1

    # Exactly that article is gone, as a row; the others are untouched.
    assert not Article.objects.filter(pk=t.pk).exists()
    assert set(Article.objects.values_list("pk", flat=True)) == others
    assert not Article.authors.through.objects.filter(article_id=t.pk).exists()
    assert not Author.objects.filter(pk=world.loner.pk).exists()  # orphaned: deleted
    assert Author.objects.filter(pk=world.shared.pk).exists()  # has other articles: kept
    assert Category.objects.filter(pk=world.corpus.categories[0].pk).exists()
    assert cache.get(NAV_CACHE_KEY) is None and cache.get(CHOICES_CACHE_KEY) is None

    # Its page and API item answer 410 with the notice (any slug).
    for p in (path, f"/article/{t.pk}/some-other-slug"):
        r = client.get(p)
        assert r.status_code == 410 and escape(NOTICE) in r.content.decode()
    r = client.get(f"/api/articles/{t.pk}")
    assert r.status_code == 410 and r.json() == {"detail": NOTICE}
    assert client.get("/api/articles/999999").status_code == 404  # never existed: still 404

    # Listings, search, feeds and sitemaps no longer contain it.
    assert path.encode() not in client.get("/").content
    assert t.pk not in api_ids(client) and api_ids(client, "&q=zanzibar") == set()
    search = client.get("/search", {"q": "zanzibar dossier"})
    assert search.status_code == 200 and path.encode() not in search.content
    for listing in ("/category/world", f"/source/{t.source_id}", f"/author/{world.shared.slug}"):
        r = client.get(listing)
        assert r.status_code == 200 and path.encode() not in r.content, listing
    assert client.get(f"/author/{world.loner.slug}").status_code == 404
    for prefix in ("/", "/category/world/", f"/source/{t.source_id}/",
                   f"/author/{world.shared.slug}/"):
        for fmt, ids in feed_guids(client, prefix).items():
            assert guid not in ids and ids, (prefix, fmt)
    assert not feed_guids(client, "/search/")["atom"]
    search_feed = json.loads(client.get("/search/feed.json", {"q": "zanzibar"}).content)
    assert search_feed["items"] == []
    pages = sitemap_locs(client, "/sitemap.xml")
    locs = set().union(*(sitemap_locs(client, p.split("testserver", 1)[1]) for p in pages))
    assert len(locs) == len(others) and not any(f"/article/{t.pk}/" in x for x in locs)
    assert not any(path in loc for loc in sitemap_locs(client, "/news-sitemap.xml"))
    if connection.vendor == "sqlite":  # the FTS index followed the delete (trigger)
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM news_article_fts WHERE news_article_fts "
                        "MATCH 'zanzibar'")
            assert cur.fetchone()[0] == 0

    # Cached copies are not revalidated as fresh: the validators changed.
    assert client.get("/feed.atom", headers={"If-None-Match": feed["ETag"]}).status_code == 200
    assert client.get("/feed.atom", headers={
        "If-Modified-Since": feed["Last-Modified"]}).status_code == 200
    assert client.get("/", headers={"If-None-Match": front["ETag"]}).status_code == 200

    # The request, the tombstones and the audit trail.
    req.refresh_from_db()
    assert req.status == TakedownRequest.Status.REMOVED and req.removed_at
    assert req.removed_articles == 1
    gone = removed_article(t.pk)
    assert gone is not None and gone.tombstone.request_id == req.pk
    # One for the article's canonical URL, one for the submitted URL's canonical form.
    assert Tombstone.objects.filter(request=req, whole_domain=False).count() == 2
    audit = AuditLog.objects.get(request=req, action="removed")
    assert audit.actor == "admin:test"
    assert audit.detail["count"] == 1 and audit.detail["article_ids"] == [t.pk]


def test_removal_is_idempotent(world: World, apply: Callable[[TakedownRequest], int]) -> None:
    req = takedown("urls", "world-wire.example", [world.target.url])  # the url as stored
    assert apply(req) == 1
    counts = (Article.objects.count(), Tombstone.objects.count(), RemovedArticle.objects.count(),
              AuditLog.objects.count())
    removed_at = TakedownRequest.objects.get(pk=req.pk).removed_at
    assert apply(req) == 0
    assert apply(TakedownRequest.objects.get(pk=req.pk)) == 0
    assert counts == (Article.objects.count(), Tombstone.objects.count(),
                      RemovedArticle.objects.count(), AuditLog.objects.count())
    req.refresh_from_db()
    assert req.removed_at == removed_at and req.removed_articles == 1


def test_tombstones_match_tracking_scheme_and_www_variants(
        world: World, apply: Callable[[TakedownRequest], int]) -> None:
    canon = world.target.canonical_url  # https://world-wire.example/news/99-…
    apply(takedown("urls", "world-wire.example", [canon]))
    same = [
        canon,
        canon + "?utm_source=rss&utm_medium=feed",
        canon + "?fbclid=abc#comments",
        canon.replace("https://", "http://"),
        canon.replace("https://", "https://www."),
        canon.replace("https://", "HTTP://WWW.").replace("world-wire", "World-Wire"),
    ]
    different = [canon + "-2", canon + "?page=2", canon.replace("world-wire", "world-wide"),
                 world.corpus.articles[1].url]
    for u in same:
        assert is_tombstoned(u), u
    for u in different:
        assert not is_tombstoned(u), u
    assert tombstoned_filter([*same, *different, ""]) == set(same)
    # Unrelated articles of the same outlet still ingest.
    assert not is_tombstoned("https://world-wire.example/news/100-new-story")


def test_urls_outside_the_verified_domain_are_ignored(
        world: World, apply: Callable[[TakedownRequest], int]) -> None:
    other = world.corpus.articles[0]  # Coast Daily
    req = takedown("urls", "world-wire.example", [world.target.url, other.url])
    assert apply(req) == 1
    assert Article.objects.filter(pk=other.pk).exists() and not is_tombstoned(other.url)
    detail = AuditLog.objects.get(request=req, action="removed").detail
    assert detail["skipped_urls"] == [other.url]


def test_a_public_suffix_is_never_a_takedown_domain(world: World) -> None:
    before = Article.objects.count()
    for bad in ("co.uk", "", "com"):
        with pytest.raises(ValueError):
            remove(takedown("domain", bad), actor="system")
    assert Article.objects.count() == before and not Tombstone.objects.exists()


def test_domain_request_pauses_sources_and_purges_the_domain(
        client: Client, world: World, apply: Callable[[TakedownRequest], int]) -> None:
    now = timezone.now()
    feed = Source.objects.create(url="https://feeds.coastdaily.co.uk/rss", name="Coast UK",
                                 site_url="https://www.coastdaily.co.uk/")
    sitemap = Source.objects.create(url="https://coastdaily.co.uk/news-sitemap.xml",
                                    kind=Source.Kind.SITEMAP, name="Coast UK sitemap",
                                    site_url="https://www.coastdaily.co.uk/")
    lookalike = Source.objects.create(url="https://notcoastdaily.co.uk/rss", name="Not Coast",
                                      site_url="https://notcoastdaily.co.uk/")
    wire = world.corpus.sources[1]
    doomed = [make_article(feed, n, now, title=f"Coast story {n}", text=f"Story {n}.")
              for n in range(3)]
    doomed.append(make_article(sitemap, 3, now, title="Sitemap story", text="Story 3."))
    # Carried by another outlet's feed but hosted on the domain: also the owner's content.
    doomed.append(Article.objects.create(
        source=wire, url="https://sport.coastdaily.co.uk/match?utm_source=wire",
        canonical_url="https://sport.coastdaily.co.uk/match", title="Match report",
        content_hash="x"))
    kept = make_article(lookalike, 4, now, title="Other site", text="Not theirs.")
    QueuedPage.objects.create(url="https://www.coastdaily.co.uk/queued", source=feed)
    QueuedPage.objects.create(url="https://coastdaily.co.uk/via-wire", source=wire)
    QueuedPage.objects.create(url="https://world-wire.example/stays", source=wire)
    before = set(Article.objects.values_list("pk", flat=True))

    req = takedown("domain", "coastdaily.co.uk")
    assert apply(req) == len(doomed)

    ids = {a.pk for a in doomed}
    assert set(Article.objects.values_list("pk", flat=True)) == before - ids
    assert Article.objects.filter(pk=kept.pk).exists()
    assert list(QueuedPage.objects.values_list("url", flat=True)) == [
        "https://world-wire.example/stays"]
    assert set(Source.objects.filter(active=False).values_list("pk", flat=True)) == {
        feed.pk, sitemap.pk}
    assert Source.objects.get(pk=lookalike.pk).active and Source.objects.get(pk=wire.pk).active
    due = {s.pk for s in Crawler._due_sources(None, due_only=False)}  # type: ignore[arg-type]
    assert feed.pk not in due and sitemap.pk not in due and wire.pk in due
    stone = Tombstone.objects.get(request=req)
    assert stone.whole_domain and stone.domain == "coastdaily.co.uk" and stone.url_hash is None
    assert set(RemovedArticle.objects.values_list("pk", flat=True)) == ids
    for u in ("https://coastdaily.co.uk/anything", "http://www.coastdaily.co.uk/x?y=1",
              "https://live.coastdaily.co.uk/"):
        assert is_tombstoned(u), u
    assert not is_tombstoned("https://notcoastdaily.co.uk/x")
    for a in doomed:
        assert client.get(f"/api/articles/{a.pk}").status_code == 410
        assert client.get(page_path(a)).status_code == 410
    assert client.get(page_path(kept)).status_code == 200
    audit = AuditLog.objects.get(request=req, action="removed").detail
    assert audit["whole_domain"] and audit["sources_paused"] == 2
    assert sorted(audit["article_ids"]) == sorted(ids) and audit["queued_dropped"] == 2
    assert apply(req) == 0  # idempotent for domains too


def test_store_refuses_a_tombstoned_page_at_the_last_moment(
        world: World, apply: Callable[[TakedownRequest], int]) -> None:
    url = world.target.url
    source = world.target.source
    apply(takedown("urls", "world-wire.example", [url]))
    qp = QueuedPage.objects.create(url=url, source=source)  # queued before the request
    ex = Extracted(title="Zanzibar dossier", authors=(), published=None, updated=None,
                   language="en", sitename=None, image=None, canonical_url=None,
                   description=None, categories=(), text="The zanzibar dossier again.")
    stored = store.store_article(source, url, url, ex, queued_id=qp.pk)
    assert stored == store.Stored(store.TOMBSTONED, None)
    assert not QueuedPage.objects.exists() and not Article.objects.filter(url=url).exists()
    # A redirect to a removed URL is caught through the final URL as well.
    other = "https://world-wire.example/short/abc"
    assert store.store_article(source, other, url, ex).outcome == store.TOMBSTONED


# -- the crawler, against the loopback replay server ---------------------------------------------
def _html(title: str, n: int) -> bytes:
    paragraphs = "".join(
        f"<p>{title} — paragraph {i}. The harbour authority said on Monday that the works on "
        f"pier {n} would continue through the winter, and residents were told to expect "
        f"delays on the coastal road while the cranes are in place.</p>" for i in range(6))
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
            f"</head><body><article><h1>{title}</h1>{paragraphs}</article></body></html>"
            ).encode()


def _crawl(config: conf.Config) -> dict[str, Any]:
    async def once() -> dict[str, Any]:
        async with Crawler(config, workers=0) as crawler:
            return (await crawler.run_once(due_only=False)).as_dict()

    return asyncio.run(once())


@pytest.mark.django_db(transaction=True)
def test_crawler_never_queues_or_stores_a_removed_url() -> None:
    pages = [Page(path=f"/news/story-{n}.html", body=_html(f"Harbour story {n}", n),
                  title=f"Harbour story {n}") for n in range(3)]
    config = dataclasses.replace(conf.load(), allow_private_networks=True, host_delay=0.0,
                                 workers=0)
    with ReplayServer([Site("paper", pages)]) as server:
        source = Source.objects.create(url=server.feed_url("paper"), name="Paper")
        first = _crawl(config)
        assert first["new"] == 3 and first["errors"] == {}, first
        victim_url = server.url("paper", pages[0].path)
        victim = Article.objects.get(url=victim_url)

        req = takedown("urls", "127.0.0.1", [victim_url + "?utm_campaign=x"])
        assert remove(req, actor="admin:test") == 1

        # Polled again without validators, the feed lists the page: it is not queued again.
        Source.objects.filter(pk=source.pk).update(etag="", last_modified="")
        server.reset_log()
        again = _crawl(config)
        assert again["new"] == 0 and again["pages_fetched"] == 0, again
        assert not any(r.path == pages[0].path for r in server.requests)
        assert not Article.objects.filter(url=victim_url).exists()
        assert not QueuedPage.objects.exists()

        # A page queued before the takedown is dropped without being fetched.
        QueuedPage.objects.create(url=victim_url, source=source)
        third = _crawl(config)
        assert third["tombstoned"] == 1 and third["pages_fetched"] == 0, third
        assert not QueuedPage.objects.exists()

        # A queued URL that redirects to the removed page is fetched but never stored.
        server.set_fault("paper", "/go/1", "redirect", to=pages[0].path)
        QueuedPage.objects.create(url=server.url("paper", "/go/1"), source=source)
        fourth = _crawl(config)
        assert fourth["tombstoned"] == 1 and fourth["new"] == 0, fourth
        assert Article.objects.count() == 2 and not QueuedPage.objects.exists()
        assert removed_article(victim.pk) is not None
