"""Every item on every surface names its outlet and links its primary source.

Data-driven: each surface is a function that fetches what it serves and yields one `Seen` per
article occurrence (the surface, the article id, the link it gives as the original, and the text
that should name the outlet). One check applies to all of them. Adding a surface = adding a
function to SURFACES; a surface that yields nothing fails too (it would check nothing).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import feedparser
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import iri_to_uri
from lxml import etree, html

from newsdesk.news.export import export_jsonl
from newsdesk.news.models import Article, Author, Category, Source
from tests.web.conftest import Corpus, make_article, make_corpus

pytestmark = pytest.mark.django_db

OUR_ARTICLE = re.compile(r"^(?:https?://[^/]+)?/article/(\d+)/")

def _cls(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


SITEMAP_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9",
              "n": "http://www.google.com/schemas/sitemap-news/0.9"}

READ_ORIGINAL = f"//article[{_cls('story')}]//a[{_cls('read-original')}]"


@dataclass(frozen=True)
class Seen:
    surface: str  # where, e.g. "GET /category/world?page=2"
    article_id: int
    link: str | None  # the link offered as the original
    named: str  # text that must contain the outlet's name


@pytest.fixture
def corpus(db: None) -> Corpus:
    c = make_corpus()
    # The news sitemap lists the last 48 hours only: one article from just now.
    now = timezone.now() - timedelta(minutes=5)
    recent = make_article(c.sources[1], 99, now, title="Recent wire story",
                          text="Markets rallied, according to Reuters. Story number 99.")
    recent.categories.set([c.categories[0]])
    recent.authors.set([c.authors[0]])
    c.articles.append(recent)
    return c


def outlet_names(a: Article) -> set[str]:
    return {n for n in (a.source.name, a.sitename) if n}


def get(client: Client, url: str, status: int = 200) -> bytes:
    r = client.get(url)
    assert r.status_code == status, f"GET {url}: {r.status_code}"
    return b"".join(r.streaming_content) if r.streaming else r.content


# -- HTML pages -------------------------------------------------------------------------------
def html_items(client: Client, start: str, limit: int = 60) -> Iterator[Seen]:
    """Every link to one of our article pages on `start` and the pages its pager reaches.

    Each such link must sit in an item (<article>) that carries the primary-source link and the
    outlet's name, whatever the template looks like.
    """
    todo, done = [start], set()
    while todo and len(done) < limit:
        url = todo.pop(0)
        if url in done:
            continue
        done.add(url)
        doc = html.fromstring(get(client, url))
        for link in doc.iter("a"):
            m = OUR_ARTICLE.match(link.get("href", ""))
            if not m:
                continue
            item = next((e for e in link.iterancestors() if e.tag == "article"), None)
            primary = item.find(".//a[@data-primary-source]") if item is not None else None
            yield Seen(f"GET {url}", int(m.group(1)),
                       primary.get("href") if primary is not None else None,
                       item.text_content() if item is not None else "")
        path = urlsplit(url).path
        for a in doc.xpath(f"//nav[{_cls('pager')}]//a"):
            nxt = a.get("href", "")
            if nxt.startswith("?"):
                nxt = path + nxt
            if urlsplit(nxt).path == path and nxt not in done:
                todo.append(nxt)


def front_page(client: Client, c: Corpus) -> Iterator[Seen]:
    yield from html_items(client, "/")


def category_pages(client: Client, c: Corpus) -> Iterator[Seen]:
    for cat in Category.objects.all():
        yield from html_items(client, cat.get_absolute_url())


def source_pages(client: Client, c: Corpus) -> Iterator[Seen]:
    for src in Source.objects.all():
        yield from html_items(client, src.get_absolute_url())


def author_pages(client: Client, c: Corpus) -> Iterator[Seen]:
    for person in Author.objects.all():
        yield from html_items(client, person.get_absolute_url())


def archive_pages(client: Client, c: Corpus) -> Iterator[Seen]:
    years = {a.sort_at.year for a in c.articles}
    months = {(a.sort_at.year, a.sort_at.month) for a in c.articles}
    days = {(a.sort_at.year, a.sort_at.month, a.sort_at.day) for a in c.articles}
    for y in sorted(years):
        yield from html_items(client, reverse("archive_year", args=[y]))
    for y, m in sorted(months):
        yield from html_items(client, reverse("archive_month", args=[y, m]))
    for y, m, d in sorted(days):
        yield from html_items(client, reverse("archive_day", args=[y, m, d]))


def search_pages(client: Client, c: Corpus) -> Iterator[Seen]:
    for query in ("q=story", "q=ferry", "q=library&order=date", "order=date&language=en",
                  "order=date&language=fr"):
        yield from html_items(client, f"/search?{query}")


def article_pages(client: Client, c: Corpus) -> Iterator[Seen]:
    for a in Article.objects.all():
        url = a.get_absolute_url()
        doc = html.fromstring(get(client, url))
        story = doc.xpath(f"//article[{_cls('story')}]")[0]
        read = story.xpath(f".//a[{_cls('read-original')}]")[0]
        assert "Read the original" in read.text_content(), url
        canonical = doc.xpath("//link[@rel='canonical']")[0].get("href")
        # rel=canonical names the outlet's page (our identity key for it), never ours.
        assert canonical in (a.url, a.canonical_url), url
        assert urlsplit(canonical).hostname == urlsplit(a.url).hostname, url
        byline = story.xpath(f".//*[{_cls('byline-outlet')}]")[0].text_content()
        yield Seen(f"GET {url}", a.pk, read.get("href"), byline + read.text_content())
        # The "more from" items are links like any other.
        yield from html_items(client, url, limit=1)


# -- JSON API ---------------------------------------------------------------------------------
def _api_seen(surface: str, item: dict) -> Seen:
    return Seen(surface, item["id"], item["url"], (item.get("source") or {}).get("name") or "")


def api_list(client: Client, c: Corpus) -> Iterator[Seen]:
    url: str | None = "/api/articles?limit=7"
    while url:
        page = json.loads(get(client, url))
        for item in page["items"]:
            yield _api_seen(f"GET {url}", item)
        url = f"/api/articles?limit=7&cursor={page['next_cursor']}" if page["next_cursor"] \
            else None


def api_detail(client: Client, c: Corpus) -> Iterator[Seen]:
    for a in Article.objects.all():
        url = f"/api/articles/{a.pk}"
        yield _api_seen(f"GET {url}", json.loads(get(client, url)))


def api_authors(client: Client, c: Corpus) -> Iterator[Seen]:
    for person in Author.objects.all():
        url = f"/api/authors/{person.slug}"
        for item in json.loads(get(client, url))["latest"]:
            yield _api_seen(f"GET {url}", item)


# -- output feeds -----------------------------------------------------------------------------
def feed_urls() -> Iterator[str]:
    lists: list[tuple[str, dict[str, object], str]] = [("feed_front", {}, "")]
    lists += [("feed_category", {"slug": x.slug}, "") for x in Category.objects.all()]
    lists += [("feed_source", {"source_id": x.pk}, "") for x in Source.objects.all()]
    lists += [("feed_author", {"slug": x.slug}, "") for x in Author.objects.all()]
    lists += [("feed_search", {}, "?q=story")]
    for name, kwargs, query in lists:
        for fmt in ("atom", "rss", "json"):
            yield reverse(name, kwargs={**kwargs, "fmt": fmt}) + query


def by_canonical() -> dict[str, int]:
    return dict(Article.objects.values_list("canonical_url", "id"))


def feeds(client: Client, c: Corpus) -> Iterator[Seen]:
    ids = by_canonical()
    for url in feed_urls():
        body = get(client, url)
        if url.split("?")[0].endswith(".json"):
            for item in json.loads(body)["items"]:
                # JSON Feed: `url` is the entry's link; the outlet is named in its fields.
                yield Seen(f"GET {url}", ids[item["id"]], item.get("url"), json.dumps(
                    item, ensure_ascii=False))
        else:
            parsed = feedparser.parse(body)
            assert not parsed.bozo, (url, parsed.get("bozo_exception"))
            for entry in parsed.entries:
                source = entry.get("source") or {}
                yield Seen(f"GET {url}", ids[entry.id], entry.get("link"),
                           f"{source.get('title', '')} {entry.get('summary', '')}")


# -- export and discovery ---------------------------------------------------------------------
def export(client: Client, c: Corpus) -> Iterator[Seen]:
    out = io.StringIO()
    export_jsonl(out)
    for line in out.getvalue().splitlines():
        yield _api_seen("export_jsonl", json.loads(line))


def _our_page(client: Client, surface: str, loc: str, named: str = "") -> Seen:
    """A sitemap lists our pages: each must be an article page linking the original."""
    path = urlsplit(loc).path
    m = OUR_ARTICLE.match(path)
    assert m, f"{surface}: {loc} is not an article page"
    doc = html.fromstring(get(client, path))
    read = doc.xpath(READ_ORIGINAL)[0]
    return Seen(f"{surface} -> {path}", int(m.group(1)), read.get("href"),
                named or read.text_content())


def sitemaps(client: Client, c: Corpus) -> Iterator[Seen]:
    index = etree.fromstring(get(client, "/sitemap.xml"))
    for loc in index.iterfind("s:sitemap/s:loc", SITEMAP_NS):
        page = etree.fromstring(get(client, urlsplit(loc.text).path))
        for url in page.iterfind("s:url/s:loc", SITEMAP_NS):
            yield _our_page(client, "sitemap", url.text)


def news_sitemap(client: Client, c: Corpus) -> Iterator[Seen]:
    doc = etree.fromstring(get(client, "/news-sitemap.xml"))
    for url in doc.iterfind("s:url", SITEMAP_NS):
        publication = url.findtext("n:news/n:publication/n:name", "", SITEMAP_NS)
        yield _our_page(client, "news-sitemap", url.findtext("s:loc", "", SITEMAP_NS),
                        named=publication)


Surface = Callable[[Client, Corpus], Iterator[Seen]]
SURFACES: dict[str, Surface] = {
    "front page": front_page, "category pages": category_pages, "source pages": source_pages,
    "author pages": author_pages, "archive pages": archive_pages, "search pages": search_pages,
    "article pages": article_pages, "API list": api_list, "API detail": api_detail,
    "API authors": api_authors, "output feeds": feeds, "export JSONL": export,
    "sitemaps": sitemaps, "news sitemap": news_sitemap,
}
# Surfaces that must list every article somewhere (the others are filtered or windowed).
COMPLETE = {"front page", "archive pages", "article pages", "API list", "API detail",
            "export JSONL", "sitemaps", "category pages", "source pages"}


@pytest.mark.parametrize("name", list(SURFACES))
def test_every_item_names_and_links_its_primary_source(name: str, corpus: Corpus,
                                                       client: Client) -> None:
    articles = {a.pk: a for a in Article.objects.select_related("source")}
    seen = list(SURFACES[name](client, corpus))
    assert seen, f"{name}: no article found on this surface (the check would be empty)"
    problems = []
    for s in seen:
        a = articles.get(s.article_id)
        if a is None:
            problems.append(f"{s.surface}: unknown article {s.article_id}")
            continue
        # Feeds percent-encode what a URL cannot hold ("<" in a test title); same address.
        if s.link not in (a.url, iri_to_uri(a.url)):
            problems.append(f"{s.surface}: article {a.pk} links {s.link!r}, not {a.url!r}")
        if not any(n in s.named for n in outlet_names(a)):
            problems.append(f"{s.surface}: article {a.pk} does not name {a.source.name!r}")
    assert not problems, "\n".join(problems[:20])
    if name in COMPLETE:
        missing = set(articles) - {s.article_id for s in seen}
        assert not missing, f"{name}: articles never shown: {sorted(missing)}"


def test_article_page_shows_cited_outlets_linked_to_our_sources(corpus: Corpus,
                                                                 client: Client) -> None:
    a = corpus.articles[3]
    a.cited = ["world wire", "Reuters"]  # one of ours (any case), one not
    a.save()
    doc = html.fromstring(get(client, a.get_absolute_url()))
    cited = doc.xpath(f"//article[{_cls('story')}]//p[{_cls('cited')}]")[0]
    assert cited.text_content().strip() == "Citing: world wire, Reuters"
    links = {x.text_content(): x.get("href") for x in cited.iter("a")}
    assert links == {"world wire": corpus.sources[1].get_absolute_url()}
    item = json.loads(get(client, f"/api/articles/{a.pk}"))
    assert item["cited"] == ["world wire", "Reuters"]
    listed = json.loads(get(client, "/api/articles?limit=200"))["items"]
    assert all(isinstance(x["cited"], list) for x in listed)


def test_store_fills_cited_without_the_articles_own_outlet(db: None) -> None:
    from newsdesk.news.store import store_article
    from newsdesk.pipeline.extract import Extracted

    own = Source.objects.create(url="https://wire.example/feed", name="World Wire")
    Source.objects.create(url="https://rbc.example/feed", name="RBC-Ukraine")
    text = ("Talks failed, as stated in RBC-Ukraine. World Wire reported the same, "
            "according to Reuters. A spokesman told World Wire nothing more.")
    ex = Extracted(title="Talks", authors=(), published=None, updated=None, language="en",
                   sitename="World Wire", image=None, canonical_url=None, description=None,
                   categories=(), text=text)
    stored = store_article(own, "https://wire.example/a/1", "https://wire.example/a/1", ex)
    assert Article.objects.get(pk=stored.article_id).cited == ["RBC-Ukraine", "Reuters"]
    withheld = store_article(own, "https://wire.example/a/2", "https://wire.example/a/2", ex,
                             noarchive=True)
    assert Article.objects.get(pk=withheld.article_id).cited == []
