"""The server-rendered site through Django's test client: every page, its links and headers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from newsdesk.news.models import Article, Source
from newsdesk.news.queries import encode_cursor
from newsdesk.web.middleware import CONTENT_SECURITY_POLICY
from newsdesk.web.pagination import MAX_NUMBERED, PER_PAGE
from tests.web.conftest import Corpus, make_article

pytestmark = pytest.mark.django_db


class Links(HTMLParser):
    """Collects what the assertions need: item blocks' primary links, canonical, tags seen."""

    def __init__(self) -> None:
        super().__init__()
        self.primary: list[str] = []
        self.canonical: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.items = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "a" and "data-primary-source" in a:
            self.primary.append(a["href"] or "")
        if tag == "link" and a.get("rel") == "canonical":
            self.canonical.append(a["href"] or "")
        if tag == "article" and "item" in (a.get("class") or "").split():
            self.items += 1


def parse(html: bytes) -> Links:
    p = Links()
    p.feed(html.decode())
    return p


def get_ok(client: Client, url: str) -> Links:
    r = client.get(url)
    assert r.status_code == 200, (url, r.status_code, r.content[:500])
    return parse(r.content)


def assert_items_link_sources(page: Links, expect: int | None = None) -> None:
    """Every listed item carries its own primary-source link (to the outlet, not to us)."""
    assert page.items > 0
    assert len(page.primary) == page.items
    assert all(h.startswith("https://") and "example/news/" in h for h in page.primary)
    if expect is not None:
        assert page.items == expect


# -- pages --------------------------------------------------------------------------------------
def test_front_page(client: Client, corpus: Corpus) -> None:
    r = client.get("/")
    page = parse(r.content)
    html = r.content.decode()
    assert r.status_code == 200 and "Top stories" in html
    assert_items_link_sources(page, PER_PAGE)
    newest = Article.objects.order_by("-sort_at", "-id")[0]
    assert page.primary[0] == newest.url  # newest first
    for src in corpus.sources:  # source name on items; category navigation; search box
        assert src.name in html
    for cat in corpus.categories:
        assert f'href="{cat.get_absolute_url()}"' in html
    assert 'role="search"' in html and 'name="q"' in html
    assert 'class="skip" href="#content"' in html and '<main id="content"' in html


def test_article_page(client: Client, corpus: Corpus) -> None:
    a = corpus.plain
    assert a is not None
    r = client.get(a.get_absolute_url())
    html = r.content.decode()
    page = parse(r.content)
    assert r.status_code == 200
    assert page.canonical == [a.canonical_url]
    assert a.url in page.primary and f"Read the original at {a.source.name}" in html
    assert "Residents welcomed the decision" in html and f"<h1>{a.title}</h1>" in html
    for person in a.authors.all():
        assert f'href="{person.get_absolute_url()}"' in html
    assert 'lang="en"' in html and "English" in html
    assert a.sort_at.strftime("%Y-%m-%d") in html


def test_article_markdown_table_list_and_links(client: Client, corpus: Corpus) -> None:
    assert corpus.table is not None
    html = client.get(corpus.table.get_absolute_url()).content.decode()
    assert "<table>" in html and "<th>Route</th>" in html and "<td>North pier</td>" in html
    assert "<li>earlier first ferry on weekdays</li>" in html
    assert "<h2>Ferry departures</h2>" in html
    # A relative link in the text resolves against the outlet, and gets rel=nofollow.
    assert ('<a href="https://coast-daily.example/timetables/2026" rel="nofollow noopener">'
            in html or '<a href="https://world-wire.example/timetables/2026" rel="nofollow noopener">'
            in html or '<a href="https://le-matin.example/timetables/2026" rel="nofollow noopener">'
            in html)


def test_article_xss_is_sanitized(client: Client, corpus: Corpus) -> None:
    assert corpus.xss is not None
    r = client.get(corpus.xss.get_absolute_url())
    html = r.content.decode()
    assert r.status_code == 200 and "Before the attack." in html
    page = parse(r.content)
    assert not [t for t, _ in page.tags if t in ("script", "iframe", "object", "embed")]
    assert not [a for _, attrs in page.tags for a in attrs if a.startswith("on")]
    assert "evil.example" not in html and "alert(1)" not in html
    # The title's markup is text, escaped, wherever it appears.
    assert "Suspicious markup test &lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html
    listing = client.get("/search?q=suspicious").content.decode()
    assert "&lt;b&gt;bold" in listing and "<b>bold</b>" not in listing


def test_article_slug_redirect_and_404(client: Client, corpus: Corpus) -> None:
    a = corpus.articles[0]
    r = client.get(reverse("article", args=[a.pk, "wrong-slug"]))
    assert r.status_code == 301 and r["Location"] == a.get_absolute_url()
    assert client.get(reverse("article", args=[999999, "x"])).status_code == 404


def test_unicode_slugs_route(client: Client, corpus: Corpus) -> None:
    chloe = next(p for p in corpus.authors if p.name == "Chloé Martin")
    assert chloe.slug == "chloé-martin"
    page = get_ok(client, chloe.get_absolute_url())
    assert_items_link_sources(page)


def test_category_source_author_pages(client: Client, corpus: Corpus) -> None:
    cat = corpus.categories[0]
    page = get_ok(client, cat.get_absolute_url())
    assert_items_link_sources(page, cat.articles.count())
    src = corpus.sources[2]
    r = client.get(src.get_absolute_url())
    assert "Le Matin" in r.content.decode() and src.site_url in r.content.decode()
    assert_items_link_sources(parse(r.content), src.articles.count())
    person = corpus.authors[1]
    r = client.get(person.get_absolute_url())
    html = r.content.decode()
    assert_items_link_sources(parse(r.content), person.articles.count())
    outlets = {a.source.name for a in person.articles.select_related("source")}
    assert all(name in html for name in outlets)  # the author's outlet(s)
    for url in ("/category/nope", "/source/999999", "/author/nobody"):
        assert client.get(url).status_code == 404


def test_archive_pages_and_calendar(client: Client, corpus: Corpus) -> None:
    r = client.get(reverse("archive_month", args=[2026, 2]))
    html = r.content.decode()
    feb = [a for a in corpus.articles if (a.sort_at.year, a.sort_at.month) == (2026, 2)]
    assert r.status_code == 200 and "February 2026" in html
    assert_items_link_sources(parse(r.content), len(feb))
    days = {a.sort_at.day for a in feb}
    for day in range(1, 29):  # calendar links exactly the days that have articles
        link = f'href="{reverse("archive_day", args=[2026, 2, day])}"'
        assert (link in html) == (day in days), day
    assert f'href="{reverse("archive_month", args=[2026, 1])}"' in html  # previous month
    assert f'href="{reverse("archive_month", args=[2026, 3])}"' in html  # next month

    day = min(days)
    r = client.get(reverse("archive_day", args=[2026, 2, day]))
    assert_items_link_sources(parse(r.content),
                              len([a for a in feb if a.sort_at.day == day]))
    r = client.get(reverse("archive_year", args=[2026]))
    html = r.content.decode()
    assert "January" in html and "March" in html
    assert_items_link_sources(parse(r.content), PER_PAGE)
    # No earlier month than January, so no "previous" link there.
    jan = client.get(reverse("archive_month", args=[2026, 1])).content.decode()
    assert 'rel="prev" href="/archive/' not in jan
    for bad in ("/archive/2026/13/", "/archive/2026/2/30/", "/archive/99999/", "/archive/2026/0/"):
        assert client.get(bad).status_code == 404, bad


def test_search_with_snippets_and_filters(client: Client, corpus: Corpus) -> None:
    r = client.get("/search", {"q": "harbour"})
    html = r.content.decode()
    expected = [a for a in corpus.articles if "harbour" in (a.title + a.text).lower()]
    assert r.status_code == 200
    assert_items_link_sources(parse(r.content), len(expected))
    assert re.search(r"<mark>[Hh]arbour</mark>", html)
    # Filters: source, category, language, date range, order.
    le_matin = corpus.sources[2]
    page = get_ok(client, f"/search?q=story&source={le_matin.pk}&order=date")
    assert page.items and all("le-matin.example" in h for h in page.primary)
    page = get_ok(client, "/search?language=fr")
    assert page.items == Article.objects.filter(language="fr").count()
    cat = corpus.categories[1]
    page = get_ok(client, f"/search?category={cat.slug}")
    assert page.items == cat.articles.count()
    page = get_ok(client, "/search?since=2026-02-01&until=2026-02-28")
    feb = {a.url for a in corpus.articles if a.sort_at.month == 2}
    assert set(page.primary) == feb
    # Relevance and date order list the same matches.
    def all_pages(order: str) -> list[str]:
        return [u for n in (1, 2) for u in get_ok(
            client, f"/search?q=officials&order={order}&page={n}").primary]

    by_rel, by_date = all_pages("relevance"), all_pages("date")
    assert len(by_rel) == len(set(by_rel)) > PER_PAGE
    assert sorted(by_rel) == sorted(by_date)


def test_search_snippet_markup_is_escaped(client: Client, corpus: Corpus) -> None:
    html = client.get("/search", {"q": "attack"}).content.decode()
    assert "<mark>attack</mark>" in html
    assert "<script>" not in html and "<iframe" not in html


def test_search_empty_form_and_no_match(client: Client, corpus: Corpus) -> None:
    assert get_ok(client, "/search").items == 0
    r = client.get("/search?q=zzzyxq")
    assert r.status_code == 200 and "Nothing matches" in r.content.decode()


@pytest.mark.parametrize("query", [
    "page=abc", "page=0", "page=-1", f"page={MAX_NUMBERED + 1}", "page=5",
    "cursor=not-a-cursor!!", "cursor=e30",
])
def test_bad_page_or_cursor_is_400(client: Client, corpus: Corpus, query: str) -> None:
    for path in ("/", "/category/world", "/search?q=story&order=date&x=1"):
        url = f"{path}{'&' if '?' in path else '?'}{query}"
        r = client.get(url)
        assert r.status_code == 400, url
        assert "Bad request" in r.content.decode()


@pytest.mark.parametrize("query", [
    "since=yesterday", "until=2026-13-01", "source=abc", "order=random",
])
def test_bad_search_filter_is_400(client: Client, corpus: Corpus, query: str) -> None:
    assert client.get(f"/search?q=story&{query}").status_code == 400


def test_about_page(client: Client, corpus: Corpus) -> None:
    html = client.get("/about").content.decode()
    assert "primary source" in html and "24 hours" in html and "minutes" in html
    assert 'id="takedown"' in html


def test_unknown_url_404_page(client: Client) -> None:
    r = client.get("/no/such/page")
    assert r.status_code == 404 and "Not found" in r.content.decode()
    assert r["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_empty_site(client: Client, db: None) -> None:
    r = client.get("/")
    assert r.status_code == 200 and "Nothing collected yet" in r.content.decode()


# -- headers, caching ---------------------------------------------------------------------------
def test_security_headers_everywhere(client: Client, corpus: Corpus) -> None:
    for url in ("/", corpus.articles[0].get_absolute_url(), "/search?q=x", "/about",
                "/admin/login/", "/static/web/site.css", "/healthz", "/nope", "/?page=x"):
        r = client.get(url)
        assert r["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, url
        assert "unsafe-inline" not in r["Content-Security-Policy"]
        assert r["X-Content-Type-Options"] == "nosniff"
        assert r["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert r["X-Frame-Options"] == "DENY"


def test_no_inline_scripts_or_styles(client: Client, corpus: Corpus) -> None:
    for url in ("/", corpus.table.get_absolute_url() if corpus.table else "/", "/archive/2026/2/",
                "/search?q=harbour", "/about"):
        page = parse(client.get(url).content)
        assert not [t for t, a in page.tags if t == "script" and "src" not in a]
        assert not [t for t, a in page.tags if t == "style" or "style" in a], url
        assert all(a.get("alt") is not None for t, a in page.tags if t == "img")


def test_etag_and_304(client: Client, corpus: Corpus) -> None:
    for url in ("/", corpus.articles[3].get_absolute_url(), "/archive/2026/3/"):
        r = client.get(url)
        assert r["Cache-Control"] == "public, max-age=60" or set(
            r["Cache-Control"].split(", ")) == {"public", "max-age=60"}
        etag = r["ETag"]
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    # A change to the page's content changes its ETag.
    a = corpus.articles[3]
    etag = client.get(a.get_absolute_url())["ETag"]
    a.text += "\n\nA correction was added."
    a.save()
    assert client.get(a.get_absolute_url(), headers={"If-None-Match": etag}).status_code == 200


def test_static_files(client: Client) -> None:
    r = client.get("/static/web/site.css?v=1")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/css")
    assert "immutable" in r["Cache-Control"]
    assert client.get("/static/admin/css/base.css").status_code == 200
    assert client.get("/static/web/../../settings.py").status_code in (400, 404)
    assert client.get("/static/other/x.css").status_code == 404


# -- pagination ---------------------------------------------------------------------------------
def _many(n: int, start: datetime) -> list[Article]:
    src = Source.objects.create(url="https://bulk.example/rss", name="Bulk News",
                                site_url="https://bulk.example/")
    return [make_article(src, i, start + timedelta(minutes=i), title=f"Bulk story {i}",
                         text=f"Bulk text {i}.") for i in range(n)]


def test_numbered_pages_then_cursor(client: Client, db: None) -> None:
    _many(PER_PAGE * (MAX_NUMBERED + 1) + 5, datetime(2026, 5, 1, tzinfo=UTC))
    seen: list[str] = []
    for n in range(1, MAX_NUMBERED + 1):
        r = client.get("/", {"page": n} if n > 1 else {})
        page = parse(r.content)
        assert page.items == PER_PAGE
        seen += page.primary
        html = r.content.decode()
        assert f'aria-current="page">{n}<' in html
    # Page 10's "Older" link is a keyset cursor; it continues exactly where page 10 stopped.
    older = re.search(r'rel="next" href="\?cursor=([\w-]+)"', html)
    assert older
    r = client.get("/", {"cursor": older.group(1)})
    page = parse(r.content)
    assert page.items == PER_PAGE and not set(page.primary) & set(seen)
    seen += page.primary
    nxt = re.search(r'rel="next" href="\?cursor=([\w-]+)"', r.content.decode())
    assert nxt
    last = parse(client.get("/", {"cursor": nxt.group(1)}).content)
    assert last.items == 5 and not set(last.primary) & set(seen)
    assert len(set(seen + last.primary)) == Article.objects.count()


def test_cursor_page_is_stable_under_new_arrivals(client: Client, db: None) -> None:
    start = datetime(2026, 5, 1, tzinfo=UTC)
    arts = _many(PER_PAGE * 3, start)
    newest_first = sorted(arts, key=lambda a: (a.sort_at, a.pk), reverse=True)
    cursor = encode_cursor(newest_first[PER_PAGE - 1])
    before = parse(client.get("/", {"cursor": cursor}).content).primary
    assert before == [a.url for a in newest_first[PER_PAGE:2 * PER_PAGE]]
    src = Source.objects.get(name="Bulk News")
    for i in range(7):  # newer articles arrive
        make_article(src, 1000 + i, start + timedelta(days=1, minutes=i), title=f"Fresh {i}",
                     text="Fresh.")
    assert parse(client.get("/", {"cursor": cursor}).content).primary == before
    # Numbered page 2 shifts (that's what numbered pages do); the cursor page did not.
    assert parse(client.get("/", {"page": 2}).content).primary != before


def test_pagination_keeps_filters(client: Client, db: None) -> None:
    _many(PER_PAGE + 3, datetime(2026, 5, 1, tzinfo=UTC))
    html = client.get("/search", {"q": "bulk", "order": "date", "language": ""}).content.decode()
    assert re.search(r'href="\?q=bulk&amp;order=date&amp;language=&amp;page=2"', html)
    page2 = get_ok(client, "/search?q=bulk&order=date&page=2")
    assert page2.items == 3


# -- admin --------------------------------------------------------------------------------------
def test_admin_requires_login_and_lists_sources(client: Client, corpus: Corpus,
                                                django_user_model: type) -> None:
    r = client.get("/admin/news/source/")
    assert r.status_code == 302 and "/admin/login/" in r["Location"]
    admin = django_user_model.objects.create_superuser("boss", "b@example.com", "pw")
    client.force_login(admin)
    corpus.sources[0].last_error_reason = "http_503"
    corpus.sources[0].consecutive_failures = 3
    corpus.sources[0].save()
    html = client.get("/admin/news/source/").content.decode()
    assert "http_503" in html and "Import OPML" in html and "Coast Daily" in html
    for url in ("/admin/news/article/", "/admin/news/article/?q=harbour",
                f"/admin/news/article/{corpus.articles[0].pk}/change/", "/admin/news/category/",
                "/admin/news/author/", "/admin/news/source/import-opml/", "/admin/news/story/",
                "/admin/takedown/takedownrequest/"):
        assert client.get(url).status_code == 200, url
    # Pause / resume actions.
    ids = [str(s.pk) for s in corpus.sources[:2]]
    client.post("/admin/news/source/", {"action": "pause", "_selected_action": ids})
    assert Source.objects.filter(active=False).count() == 2
    client.post("/admin/news/source/", {"action": "resume", "_selected_action": ids})
    assert Source.objects.filter(active=False).count() == 0


def test_admin_opml_import(client: Client, db: None, django_user_model: type) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(django_user_model.objects.create_superuser("boss", "b@x.example", "pw"))
    opml = b"""<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head><body>
      <outline text="World"><outline type="rss" text="Wire" xmlUrl="https://wire.example/rss"
        htmlUrl="https://wire.example/"/></outline></body></opml>"""
    r = client.post("/admin/news/source/import-opml/",
                    {"file": SimpleUploadedFile("feeds.opml", opml, "text/x-opml")})
    assert r.status_code == 302
    src = Source.objects.get(url="https://wire.example/rss")
    assert src.name == "Wire" and src.category and src.category.name == "World"
    r = client.post("/admin/news/source/import-opml/",
                    {"file": SimpleUploadedFile("bad.opml", b"not xml", "text/plain")})
    assert r.status_code == 200 and "errorlist" in r.content.decode()


@pytest.mark.django_db
def test_list_pages_advertise_their_feeds(client: Client, corpus: Corpus) -> None:
    import feedparser
    from lxml import html as lhtml

    cat = corpus.table.categories.first()
    pages = ["/", cat.get_absolute_url(), corpus.table.source.get_absolute_url(),
             "/search?q=harbour"]
    for url in pages:
        doc = lhtml.fromstring(client.get(url).content)
        hrefs = doc.xpath('//link[@rel="alternate"]/@href')
        assert len(hrefs) == 3, url
        for href in hrefs:  # each advertised feed exists and parses
            resp = client.get(href)
            assert resp.status_code == 200, href
            if not href.split("?")[0].endswith(".json"):
                assert not feedparser.parse(resp.content).bozo, href
        assert doc.xpath('//link[@rel="search"]/@href') == ["/opensearch.xml"]


@pytest.mark.django_db
def test_withheld_article_shows_the_notice_not_the_text(client: Client, corpus: Corpus) -> None:
    a = make_article(corpus.table.source, 999, datetime(2026, 3, 30, 9, tzinfo=UTC),
                     title="Opted out story", text="", withheld="noarchive")
    html = client.get(a.get_absolute_url()).content.decode()
    assert "withheld-notice" in html and 'class="prose"' not in html
    assert f'href="{a.url}"' in html  # the primary source is still linked, twice
    api = client.get(f"/api/articles/{a.pk}").json()
    assert api["withheld"] == "noarchive" and api["text"] == ""
