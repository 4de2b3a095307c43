"""Output feeds (Atom, RSS, JSON Feed), sitemaps, robots.txt and OpenSearch, through the client.

The data spans more than 48 hours (for the news sitemap) and three outlets: one with a feed, one
known from a sitemap, one with no name at all (its entries still name the outlet, from the host).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import feedparser
import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path, resolve, reverse
from django.utils import timezone

from newsdesk.news.models import Article, Author, Category, Source
from newsdesk.web import feeds_out, sitemaps

pytestmark = pytest.mark.django_db

SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"


# -- a URL map of its own: the feeds, plus stand-ins for the page routes models reverse, so these
# tests don't depend on the state of the HTML pages (test_real_urlconf checks the real map).
def _stub(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    return HttpResponse("page")


def _not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return HttpResponse("not found", status=404)  # the site's 404 page reverses more routes


handler404 = _not_found


urlpatterns = [
    path("", include("newsdesk.web.urls_feeds")),
    path("", _stub, name="index"),
    path("article/<int:id>/<str:slug>", _stub, name="article"),
    path("category/<str:slug>", _stub, name="category"),
    path("source/<int:id>", _stub, name="source"),
    path("author/<str:slug>", _stub, name="author"),
    path("search", _stub, name="search"),
]


@pytest.fixture(autouse=True)
def _urls(settings: Any) -> None:
    settings.ROOT_URLCONF = __name__


@dataclass
class World:
    coast: Source
    monde: Source
    bare: Source
    transport: Category
    economie: Category
    ana: Author
    by_key: dict[str, Article]

    @property
    def all(self) -> list[Article]:
        return list(self.by_key.values())


def ago(hours: float) -> datetime:
    return timezone.now() - timedelta(hours=hours)


@pytest.fixture
def world() -> World:
    coast = Source.objects.create(url="https://coast.example/feed.xml", name="Coast Daily",
                                  site_url="https://coast.example/", language="en")
    monde = Source.objects.create(url="https://monde.example/sitemap.xml", name="Le Monde Test",
                                  kind=Source.Kind.SITEMAP, language="fr")
    bare = Source.objects.create(url="https://bare.example/", kind=Source.Kind.PAGES)
    transport = Category.get("Transport")
    economie = Category.get("Économie")
    ana = Author.get("Ana Lima")
    long_text = "## Heading\n\n" + "**Bold** words and [a link](https://x.example/) " * 40
    specs: list[dict[str, Any]] = [
        dict(key="ferry", source=coast, title="Ferry timetable changes & <more>",
             text="New ferry times start on Monday.", language="en", published=ago(1),
             summary="<p>Ferry <b>times</b> change.</p>", authors=[ana], cats=[transport]),
        dict(key="bridge", source=coast, title="Harbour bridge reopens",
             text=long_text, language="en", published=ago(20), authors=[], cats=[transport]),
        dict(key="budget", source=monde, title="Le budget adopté", text="Le budget est adopté.",
             language="fr", published=ago(40), authors=[ana], cats=[economie]),
        dict(key="old", source=coast, title="Old ferry news", text="A ferry story from before.",
             language="en", published=ago(60), authors=[], cats=[]),
        dict(key="older", source=monde, title="Marché du port", text="Le marché du port ouvre.",
             language="fr", published=ago(24 * 10), authors=[], cats=[economie]),
        # No publication date: sorts (and counts as "news") by when it was first seen.
        dict(key="undated", source=bare, title="Bare page", text="Plain page text.",
             language="", published=None, first_seen=ago(2), authors=[], cats=[]),
    ]
    by_key = {}
    for s in specs:
        key = s["key"]
        a = Article.objects.create(
            source=s["source"], url=f"https://{s['source'].url.split('/')[2]}/{key}?utm=x&id=1",
            canonical_url=f"https://{s['source'].url.split('/')[2]}/{key}", title=s["title"],
            text=s["text"], summary=s.get("summary", ""), language=s["language"],
            published=s["published"], first_seen_at=s.get("first_seen", ago(70)),
            sitename="" if s["source"] is bare else s["source"].name,
            content_hash=key,
        )
        a.authors.set(s["authors"])
        a.categories.set(s["cats"])
        by_key[key] = a
    return World(coast, monde, bare, transport, economie, ana, by_key)


def outlet(a: Article) -> str:
    return a.sitename or a.source.name or a.url.split("/")[2]


def get(client: Client, url: str, **headers: str) -> Any:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, (url, response.status_code, response.content[:300])
    return response


def scopes(w: World) -> list[tuple[str, dict[str, Any], str, set[str]]]:
    """(URL name, kwargs, query string, keys of the articles the feed must list)."""
    return [
        ("feed_front", {}, "", set(w.by_key)),
        ("feed_category", {"slug": w.economie.slug}, "", {"budget", "older"}),
        ("feed_source", {"source_id": w.coast.pk}, "", {"ferry", "bridge", "old"}),
        ("feed_source", {"source_id": w.bare.pk}, "", {"undated"}),
        ("feed_author", {"slug": w.ana.slug}, "", {"ferry", "budget"}),
        ("feed_search", {}, "?q=ferry", {"ferry", "old"}),
        ("feed_search", {}, f"?q=ferry&source={w.coast.pk}", {"ferry", "old"}),
        ("feed_search", {}, "?q=port&language=FR", {"older"}),
        ("feed_search", {}, "?q=ferry&category=transport", {"ferry"}),
        ("feed_search", {}, "?q=", set()),
        ("feed_search", {}, "?q=%21%21%21", set()),  # no searchable words
        ("feed_search", {}, "?language=en", set()),  # filters alone are not a search
    ]


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_xml_feeds_parse_and_link_primary_sources(client: Client, world: World, fmt: str) -> None:
    for name, kwargs, query, keys in scopes(world):
        url = reverse(name, kwargs={**kwargs, "fmt": fmt}) + query
        response = get(client, url)
        assert response["Content-Type"].startswith(f"application/{fmt}+xml"), url
        parsed = feedparser.parse(response.content)
        assert parsed.bozo == 0, (url, parsed.get("bozo_exception"))
        assert parsed.version == ("atom10" if fmt == "atom" else "rss20")
        expected = [world.by_key[k] for k in keys]
        assert sorted(e.link for e in parsed.entries) == sorted(a.url for a in expected), url
        by_link = {a.url: a for a in expected}
        for e in parsed.entries:
            a = by_link[e.link]
            assert e.source.title == outlet(a), url  # atom:source / RSS <source>
            assert e.summary.startswith(f"{outlet(a)} — "), (url, e.summary)
            assert e.id == a.canonical_url
            related = [x.href for x in e.links if x.rel == "related"]
            assert related == [f"http://testserver{a.get_absolute_url()}"]
            assert e.title == a.title


def test_entry_details(client: Client, world: World) -> None:
    atom = feedparser.parse(get(client, "/feed.atom").content)
    entries = {e.link: e for e in atom.entries}
    ferry, bridge = world.by_key["ferry"], world.by_key["bridge"]
    e = entries[ferry.url]
    assert e.title == "Ferry timetable changes & <more>"  # escaped once, read back verbatim
    assert e.summary == "Coast Daily — Ferry times change."  # the feed's HTML summary, as text
    assert [a.name for a in e.authors] == ["Ana Lima"] and e.tags[0].term == "Transport"
    assert e.source.link == "https://coast.example/" and e.source.id == world.coast.url
    assert e.title_detail.language == "en"  # entry xml:lang
    # No summary: the start of the Markdown text, as plain text of about 300 characters.
    s = entries[bridge.url].summary.removeprefix("Coast Daily — ")
    assert s.startswith("Heading Bold words and a link") and s.endswith("…")
    assert "**" not in s and "](" not in s and len(s) <= 301
    # No byline: the outlet is the author of record (Atom entries need an author).
    assert [a.name for a in entries[bridge.url].authors] == ["Coast Daily"]
    # Newest first; an aggregate of many languages declares none at the feed level.
    assert [x.link for x in atom.entries][:2] == [ferry.url, world.by_key["undated"].url]
    assert "language" not in atom.feed
    rss = feedparser.parse(get(client, f"/source/{world.monde.pk}/feed.rss").content)
    assert rss.feed.language == "fr"
    # A sitemap source has no feed: <source url> falls back to the outlet's home page.
    assert rss.entries[0].source.href == "https://monde.example/"


def validate_json_feed(doc: dict[str, Any]) -> None:
    """The JSON Feed 1.1 required fields and types."""
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(doc["title"], str) and doc["title"]
    assert isinstance(doc["items"], list)
    ids = [i["id"] for i in doc["items"]]
    assert len(ids) == len(set(ids))
    for item in doc["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert isinstance(item.get("content_text") or item.get("content_html"), str)
        for author in item.get("authors", []):
            assert isinstance(author["name"], str)


def test_json_feeds(client: Client, world: World) -> None:
    for name, kwargs, query, keys in scopes(world):
        url = reverse(name, kwargs={**kwargs, "fmt": "json"}) + query
        response = get(client, url)
        assert response["Content-Type"].startswith("application/feed+json"), url
        doc = json.loads(response.content)
        validate_json_feed(doc)
        assert doc["feed_url"] == "http://testserver" + url
        expected = {world.by_key[k].url: world.by_key[k] for k in keys}
        assert sorted(i["url"] for i in doc["items"]) == sorted(expected), url
        for item in doc["items"]:
            a = expected[item["url"]]
            assert item["_newsdesk"]["outlet"]["name"] == outlet(a)
            assert item["summary"] and item["content_text"] == item["summary"]
            assert item["_newsdesk"]["page_url"] == f"http://testserver{a.get_absolute_url()}"
            assert "external_url" not in item
    item = json.loads(get(client, "/feed.json").content)["items"][0]
    assert item["title"] == "Ferry timetable changes & <more>"
    assert item["authors"] == [{"name": "Ana Lima"}] and item["tags"] == ["Transport"]
    assert item["language"] == "en"
    published = datetime.fromisoformat(item["date_published"])
    assert abs(published - world.by_key["ferry"].sort_at) < timedelta(seconds=1)


def test_feeds_hold_the_newest_fifty(client: Client, world: World) -> None:
    now = timezone.now()
    Article.objects.bulk_create(
        Article(source=world.coast, url=f"https://coast.example/n{i}",
                canonical_url=f"https://coast.example/n{i}", title=f"N{i}", content_hash="h",
                published=now - timedelta(minutes=i), sort_at=now - timedelta(minutes=i))
        for i in range(60)
    )
    for fmt in ("atom", "rss"):
        entries = feedparser.parse(get(client, f"/feed.{fmt}").content).entries
        assert [e.link for e in entries] == [f"https://coast.example/n{i}" for i in range(50)]
    assert len(json.loads(get(client, "/feed.json").content)["items"]) == 50


@pytest.mark.django_db(transaction=True)
def test_search_feed_sees_committed_articles(client: Client, world: World) -> None:
    # The FTS5 index is kept by triggers; committed writes (as the crawler makes them) match.
    doc = json.loads(get(client, "/search/feed.json?q=harbour+bridge").content)
    assert [i["url"] for i in doc["items"]] == [world.by_key["bridge"].url]


@pytest.mark.parametrize("url", [
    "/category/nope/feed.atom", "/author/nope/feed.rss", "/source/999999/feed.json",
    "/source/99999999999999999999999/feed.atom", "/feed.xml", "/feed.ATOM", "/feed.",
    "/search/feed.html?q=x", "/sitemaps/articles-0.xml", "/sitemaps/articles-2.xml",
    "/sitemaps/articles-99999999999999999999999.xml",
])
def test_bad_paths_are_404(client: Client, world: World, url: str) -> None:
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("query", ["source=abc", "source=-1", "source=%C2%B2",
                                   "source=99999999999999999999999", "category=a%00b"])
def test_bad_search_parameters_are_400(client: Client, world: World, query: str) -> None:
    assert client.get(f"/search/feed.atom?q=ferry&{query}").status_code == 400


@pytest.mark.parametrize("q", ['"', '"unclosed phrase', "AND OR NOT", "ferry*", "NEAR(a b)",
                               "x" * 5000, "ferry " * 100, "%", "'; DROP TABLE x; --"])
def test_odd_search_queries_never_fail(client: Client, world: World, q: str) -> None:
    for fmt in ("atom", "rss", "json"):
        url = reverse("feed_search", kwargs={"fmt": fmt})
        assert client.get(url, {"q": q, "language": "../x", "category": "?"}).status_code == 200


def test_only_safe_methods(client: Client, world: World) -> None:
    assert client.post("/feed.atom").status_code == 405
    assert client.head("/feed.atom").status_code == 200


@pytest.mark.parametrize("url", ["/feed.atom", "/feed.json", "/search/feed.rss?q=ferry",
                                 "/sitemap.xml", "/sitemaps/articles-1.xml",
                                 "/news-sitemap.xml"])
def test_conditional_get(client: Client, world: World, url: str) -> None:
    first = get(client, url)
    etag, last_modified = first["ETag"], first["Last-Modified"]
    assert first["Cache-Control"] == "public, max-age=300"
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again["ETag"] == etag and not again.content
    assert client.get(url, headers={"If-Modified-Since": last_modified}).status_code == 304
    assert get(client, url, **{"If-None-Match": '"other"'}).content == first.content
    # A new article changes the validators.
    Article.objects.create(source=world.coast, url="https://coast.example/new",
                           canonical_url="https://coast.example/new",
                           title="New ferry route", text="ferry", published=timezone.now())
    changed = get(client, url, **{"If-None-Match": etag})
    assert changed["ETag"] != etag


def test_last_modified_is_newest_item(client: Client, world: World) -> None:
    newest = world.by_key["ferry"].sort_at
    response = get(client, "/feed.atom")
    assert response["Last-Modified"] == feeds_out.http_date(newest.timestamp())


def sitemap_locs(client: Client) -> tuple[list[str], list[ET.Element]]:
    index = ET.fromstring(get(client, "/sitemap.xml").content)
    assert index.tag == f"{SM}sitemapindex"
    locs, urls = [], []
    for sm in index.iter(f"{SM}sitemap"):
        loc = sm.findtext(f"{SM}loc")
        assert loc and loc.startswith("http://testserver/sitemaps/articles-")
        page = ET.fromstring(get(client, loc.removeprefix("http://testserver")).content)
        assert page.tag == f"{SM}urlset"
        # A page's lastmod is its newest entry's (an empty site's one page has none).
        lastmods = [u.findtext(f"{SM}lastmod") for u in page.iter(f"{SM}url")]
        assert sm.findtext(f"{SM}lastmod") == max(lastmods, default=None)
        locs.append(loc)
        urls.extend(page.iter(f"{SM}url"))
    return locs, urls


@pytest.mark.parametrize("page_size", [10_000, 4, 1])
def test_sitemaps_list_every_article_once(client: Client, world: World, page_size: int,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sitemaps, "PAGE_SIZE", page_size)
    pages, urls = sitemap_locs(client)
    expected_pages = {(a.pk - 1) // page_size + 1 for a in world.all}
    assert pages == [f"http://testserver/sitemaps/articles-{n}.xml" for n in sorted(expected_pages)]
    listed = [u.findtext(f"{SM}loc") for u in urls]
    assert sorted(listed) == sorted(f"http://testserver{a.get_absolute_url()}"
                                    for a in world.all)
    for u in urls:
        lastmod = datetime.fromisoformat(u.findtext(f"{SM}lastmod") or "")
        assert lastmod.tzinfo is not None


def test_sitemap_pages_are_stable_id_ranges(client: Client, world: World,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sitemaps, "PAGE_SIZE", 2)
    ids = sorted(a.pk for a in world.all)
    first_page = (ids[0] - 1) // 2 + 1
    first = get(client, f"/sitemaps/articles-{first_page}.xml").content
    # Deleting every article of the last page leaves the others as they were and unlists it.
    last_page = (ids[-1] - 1) // 2 + 1
    Article.objects.filter(pk__gt=(last_page - 1) * 2).delete()
    assert get(client, f"/sitemaps/articles-{first_page}.xml").content == first
    pages, urls = sitemap_locs(client)
    assert f"http://testserver/sitemaps/articles-{last_page}.xml" not in pages
    assert len(urls) == Article.objects.count()
    assert client.get(f"/sitemaps/articles-{last_page}.xml").status_code == 404


def test_empty_site_sitemaps(client: Client) -> None:
    pages, urls = sitemap_locs(client)
    assert len(pages) == 1 and urls == []
    assert get(client, "/feed.atom") and get(client, "/news-sitemap.xml")


def test_news_sitemap_has_the_last_48_hours(client: Client, world: World) -> None:
    root = ET.fromstring(get(client, "/news-sitemap.xml").content)
    entries = {u.findtext(f"{SM}loc"): u for u in root.iter(f"{SM}url")}
    recent = [world.by_key[k] for k in ("ferry", "undated", "bridge", "budget")]
    assert sorted(entries) == sorted(f"http://testserver{a.get_absolute_url()}" for a in recent)
    for a in recent:
        news = entries[f"http://testserver{a.get_absolute_url()}"].find(f"{NEWS}news")
        assert news is not None
        assert news.findtext(f"{NEWS}publication/{NEWS}name") == outlet(a)
        assert news.findtext(f"{NEWS}title") == a.title
        when = datetime.fromisoformat(news.findtext(f"{NEWS}publication_date") or "")
        assert abs(when - (a.published or a.first_seen_at)) < timedelta(seconds=1)
    lang = {k: entries[f"http://testserver{world.by_key[k].get_absolute_url()}"]
            .findtext(f"{NEWS}news/{NEWS}publication/{NEWS}language")
            for k in ("ferry", "budget", "undated")}
    assert lang == {"ferry": "en", "budget": "fr", "undated": "und"}


def test_robots_txt(client: Client, world: World) -> None:
    response = get(client, "/robots.txt")
    assert response["Content-Type"].startswith("text/plain")
    lines = response.content.decode().splitlines()
    assert lines[0] == "User-agent: *"
    assert {"Allow: /", "Disallow: /admin/", "Disallow: /api/"} <= set(lines)
    assert "Sitemap: http://testserver/sitemap.xml" in lines
    assert "Sitemap: http://testserver/news-sitemap.xml" in lines


def test_opensearch(client: Client, world: World) -> None:
    response = get(client, "/opensearch.xml")
    assert response["Content-Type"].startswith("application/opensearchdescription+xml")
    root = ET.fromstring(response.content)
    ns = "{http://a9.com/-/spec/opensearch/1.1/}"
    assert root.tag == f"{ns}OpenSearchDescription" and root.findtext(f"{ns}ShortName")
    templates = {u.get("type"): u.get("template") for u in root.iter(f"{ns}Url")}
    assert templates["text/html"] == "http://testserver/search?q={searchTerms}"
    assert templates["application/atom+xml"] == (
        "http://testserver/search/feed.atom?q={searchTerms}")
    # The advertised feed answers a real query.
    url = templates["application/atom+xml"].replace("{searchTerms}", "ferry")
    parsed = feedparser.parse(get(client, url.removeprefix("http://testserver")).content)
    assert len(parsed.entries) == 2


def test_real_urlconf(client: Client, world: World, settings: Any) -> None:
    """The routes resolve in the site's own URL map too, and entries link the real pages."""
    settings.ROOT_URLCONF = "newsdesk.urls"
    for url, view in [("/feed.atom", feeds_out.front),
                      ("/category/économie/feed.rss", feeds_out.category),
                      ("/source/3/feed.json", feeds_out.source),
                      ("/author/ana-lima/feed.atom", feeds_out.author),
                      ("/search/feed.rss", feeds_out.search),
                      ("/sitemap.xml", sitemaps.sitemap_index),
                      ("/sitemaps/articles-2.xml", sitemaps.sitemap_articles),
                      ("/news-sitemap.xml", sitemaps.news_sitemap),
                      ("/robots.txt", sitemaps.robots_txt),
                      ("/opensearch.xml", sitemaps.opensearch)]:
        assert resolve(url).func is view, url
    parsed = feedparser.parse(get(client, "/feed.atom").content)
    assert parsed.bozo == 0 and len(parsed.entries) == len(world.all)
    for e in parsed.entries:
        page = next(x.href for x in e.links if x.rel == "related")
        assert resolve(page.removeprefix("http://testserver")).url_name == "article"
    assert client.get("/feed.xml").status_code == 404
