"""Discovery for crawlers: sitemap index + paged article sitemaps, a Google News sitemap,
robots.txt and an OpenSearch description.

XML is written directly rather than through Django's sitemap templates: a page holds 10,000 URLs
and string joins render it several times faster than the template engine.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

from django.db.models import Count, F, Max
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from newsdesk.news.models import Article
from newsdesk.news.queries import articles
from newsdesk.web.feeds_out import MAX_ID, SITE_NAME, conditional, outlet_name, site_base

PAGE_SIZE = 10_000  # URLs per article sitemap (the protocol allows 50,000; smaller is cheaper)
NEWS_WINDOW = timedelta(hours=48)  # Google News sitemaps list the last two days only
NEWS_MAX = 1000  # Google News sitemap limit
XML_TYPE = "application/xml; charset=utf-8"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"

# When our page last changed: its text changed, else when it appeared.
_LASTMOD = Coalesce("changed_at", "first_seen_at")


def _w3c(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def _xml(body: str) -> HttpResponse:
    return HttpResponse('<?xml version="1.0" encoding="UTF-8"?>\n' + body, content_type=XML_TYPE)


# Pages are id ranges, (n-1)*PAGE_SIZE < id <= n*PAGE_SIZE, not offsets in a sorted list: an
# article never moves to another page, so old pages keep their ETag and crawlers' caches stay
# valid while new articles only ever touch the last page. Deleted ids leave a page short, never
# long; a page with no article left is simply not listed.
def _page_of_id() -> CombinedExpression:
    return (F("id") - 1) / PAGE_SIZE + 1


@require_safe
def sitemap_index(request: HttpRequest) -> HttpResponse:
    pages = list(
        Article.objects.order_by()
        .annotate(page=_page_of_id())
        .values("page")
        .annotate(lastmod=Max(_LASTMOD), n=Count("id"), top=Max("id"))
        .order_by("page")
    )
    # An index needs at least one sitemap; on an empty site page 1 is an empty urlset.
    pages = pages or [{"page": 1, "lastmod": None, "n": 0, "top": 0}]
    newest = max((p["lastmod"] for p in pages if p["lastmod"]), default=None)

    def build() -> HttpResponse:
        base = site_base(request)
        rows = []
        for p in pages:
            loc = base + reverse("sitemap_articles", kwargs={"page": p["page"]})
            lastmod = f"<lastmod>{_w3c(p['lastmod'])}</lastmod>" if p["lastmod"] else ""
            rows.append(f"<sitemap><loc>{escape(loc)}</loc>{lastmod}</sitemap>")
        return _xml(f'<sitemapindex xmlns="{SITEMAP_NS}">\n' + "\n".join(rows)
                    + "\n</sitemapindex>\n")

    return conditional(request, ["index", [tuple(p.values()) for p in pages]], newest, build)


@require_safe
def sitemap_articles(request: HttpRequest, page: int) -> HttpResponse:
    if not 1 <= page <= MAX_ID // PAGE_SIZE:
        raise Http404("no such sitemap page")
    rows = list(
        Article.objects.filter(id__gt=(page - 1) * PAGE_SIZE, id__lte=page * PAGE_SIZE)
        .order_by("id")
        .annotate(lastmod=_LASTMOD)
        .only("id", "title")
    )
    if not rows and page > 1:
        raise Http404("no such sitemap page")
    newest = max((a.lastmod for a in rows), default=None)

    def build() -> HttpResponse:
        base = site_base(request)
        out = [f'<urlset xmlns="{SITEMAP_NS}">']
        out.extend(
            f"<url><loc>{escape(base + a.get_absolute_url())}</loc>"
            f"<lastmod>{_w3c(a.lastmod)}</lastmod></url>"
            for a in rows
        )
        out.append("</urlset>\n")
        return _xml("\n".join(out))

    # The title is part of each URL (its slug), so it is part of the validator.
    parts = ["articles", page, [(a.pk, a.lastmod, a.title) for a in rows]]
    return conditional(request, parts, newest, build)


def _news_language(a: Article) -> str:
    # Google wants an ISO 639 code (zh-cn/zh-tw being the exceptions); "und" when unknown.
    lang = (a.language or a.source.language or "").lower().replace("_", "-")
    if lang in ("zh-cn", "zh-tw"):
        return lang
    return lang.split("-")[0] or "und"


@require_safe
def news_sitemap(request: HttpRequest) -> HttpResponse:
    since = timezone.now() - NEWS_WINDOW
    rows = list(articles().filter(sort_at__gte=since)[:NEWS_MAX])
    newest = max((max(a.sort_at, a.changed_at or a.sort_at) for a in rows), default=None)

    def build() -> HttpResponse:
        base = site_base(request)
        out = [f'<urlset xmlns="{SITEMAP_NS}" xmlns:news="{NEWS_NS}">']
        for a in rows:
            # The publication is the outlet that published the story: the entry is our record
            # of its article, and the project's rule is that every item names its source.
            out.append(
                f"<url><loc>{escape(base + a.get_absolute_url())}</loc><news:news>"
                f"<news:publication><news:name>{escape(outlet_name(a))}</news:name>"
                f"<news:language>{escape(_news_language(a))}</news:language>"
                f"</news:publication>"
                f"<news:publication_date>{_w3c(a.published or a.sort_at)}"
                f"</news:publication_date>"
                f"<news:title>{escape(a.title or a.url)}</news:title></news:news></url>"
            )
        out.append("</urlset>\n")
        return _xml("\n".join(out))

    parts = ["news", [(a.pk, a.sort_at, a.changed_at, a.title, a.source_id) for a in rows]]
    return conditional(request, parts, newest, build)


@require_safe
def robots_txt(request: HttpRequest) -> HttpResponse:
    base = site_base(request)
    lines = [
        "User-agent: *",
        "Allow: /",
        "Disallow: /admin/",
        # The JSON API and its docs are for programs, not for search engines' indexes.
        "Disallow: /api/",
        "",
        f"Sitemap: {base}{reverse('sitemap_index')}",
        f"Sitemap: {base}{reverse('sitemap_news')}",
        "",
    ]
    response = HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_safe
def opensearch(request: HttpRequest) -> HttpResponse:
    base = site_base(request)
    # {searchTerms} must stay literal: build the templates by hand, not with urlencode.
    html = f"{base}{reverse('search')}?q={{searchTerms}}"
    atom = f"{base}{reverse('feed_search', kwargs={'fmt': 'atom'})}?q={{searchTerms}}"
    rss = f"{base}{reverse('feed_search', kwargs={'fmt': 'rss'})}?q={{searchTerms}}"
    self_url = f"{base}{reverse('opensearch')}"
    body = (
        '<OpenSearchDescription xmlns="http://a9.com/-/spec/opensearch/1.1/">\n'
        f"<ShortName>{SITE_NAME}</ShortName>\n"
        f"<Description>Search the news collected by {SITE_NAME}</Description>\n"
        "<InputEncoding>UTF-8</InputEncoding>\n"
        f'<Url type="text/html" method="get" template={quoteattr(html)}/>\n'
        f'<Url type="application/atom+xml" template={quoteattr(atom)}/>\n'
        f'<Url type="application/rss+xml" template={quoteattr(rss)}/>\n'
        f'<Url type="application/opensearchdescription+xml" rel="self" '
        f"template={quoteattr(self_url)}/>\n"
        "</OpenSearchDescription>\n"
    )
    response = _xml(body)
    response["Content-Type"] = "application/opensearchdescription+xml; charset=utf-8"
    response["Cache-Control"] = "public, max-age=3600"
    return response
