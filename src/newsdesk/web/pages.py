"""The server-rendered site: front page, article, lists by category/source/author/date, search.

Every list goes through news.queries (one filter, one order) and web.pagination (numbered pages,
then keyset cursors). Reader mistakes (bad page, cursor, filter) are 400 pages; unknown things
are 404s. Public pages are cacheable for a minute and carry an ETag (ConditionalGetMiddleware).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control

from newsdesk.news.models import Article, Author, Category, Source, Story, name_key
from newsdesk.news.queries import ArticleFilter, BadQuery, articles, with_copies
from newsdesk.news.search import ranked_page, snippets
from newsdesk.takedown import gone
from newsdesk.web import archive
from newsdesk.web import render as md
from newsdesk.web.pagination import ArticlePage, paginate, paginate_offset

PUBLIC_MAX_AGE = 60
NAV_CACHE_SECONDS = 60
# Cleared by a takedown removal (newsdesk.takedown.removal), so keep the names in one place.
NAV_CACHE_KEY = "newsdesk:web:nav"
CHOICES_CACHE_KEY = "newsdesk:web:search-choices"

View = Callable[..., HttpResponseBase]


def bad_request(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "web/error.html",
                  {"title": "Bad request", "message": message, "status": 400}, status=400)


def public_page(view: View) -> View:
    """Cache-Control for anonymous, public pages; BadQuery becomes a 400 page, never a 500."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            response = view(request, *args, **kwargs)
        except BadQuery as exc:
            response = bad_request(request, str(exc))
        if response.status_code == 200:
            patch_cache_control(response, public=True, max_age=PUBLIC_MAX_AGE)
        return response

    return wrapper


def navigation() -> dict[str, Any]:
    """Sections, outlets and recent months for the header and sidebar (cached briefly: these
    aggregate the whole table and change slowly)."""

    def build() -> dict[str, Any]:
        sections = list(Category.objects.annotate(n=Count("articles")).filter(n__gt=0)
                        .order_by("-n", "name")[:12])
        outlets = list(Source.objects.annotate(n=Count("articles")).filter(n__gt=0)
                       .order_by("-n", "name")[:12])
        months = [d for d in Article.objects.dates("sort_at", "month", order="DESC")[:6]]
        return {"sections": sections, "outlets": outlets,
                "recent_months": [archive.MonthLink(d.strftime("%B %Y"),
                                                    archive.month_url(d.year, d.month))
                                  for d in months]}

    return cache.get_or_set(NAV_CACHE_KEY, build, NAV_CACHE_SECONDS)


FEED_TYPES = (("atom", "application/atom+xml", "Atom"), ("rss", "application/rss+xml", "RSS"),
              ("json", "application/feed+json", "JSON Feed"))


def feed_links(name: str, *args: Any, title: str, query: str = "") -> list[dict[str, str]]:
    """<link rel=alternate> entries for a list page's Atom/RSS/JSON feeds (autodiscovery)."""
    return [{"type": mime, "title": f"{title} ({label})",
             "href": reverse(name, args=[*args, fmt]) + (f"?{query}" if query else "")}
            for fmt, mime, label in FEED_TYPES]


def _page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    context.setdefault("feeds", feed_links("feed_front", title="newsdesk: latest"))
    return render(request, template, {**navigation(), **context})


# -- front page ---------------------------------------------------------------------------------
TOP_STORIES = 5


def top_stories(n: int = TOP_STORIES) -> list[Story]:
    """The stories ranked by score (breadth of coverage × freshness), with their original."""
    return list(Story.objects.filter(article_count__gt=0, original__isnull=False)
                .select_related("original__source").order_by("-score", "-id")[:n])


@public_page
def index(request: HttpRequest) -> HttpResponse:
    page = paginate(with_copies(articles()), request.GET)
    top: list[Article] = []
    stories: list[Story] = []
    latest = page.items
    if page.number == 1:
        stories = top_stories()
        if not stories:  # nothing grouped yet (a fresh install): the newest articles lead
            top, latest = page.items[:TOP_STORIES], page.items[TOP_STORIES:]
    return _page(request, "web/index.html",
                 {"page": page, "top": top, "stories": stories, "latest": latest})


# -- story --------------------------------------------------------------------------------------
STORY_MEMBERS = 500


@public_page
def story(request: HttpRequest, id: int) -> HttpResponse:
    """Full coverage: every outlet's article earliest first, copies under their original."""
    s = get_object_or_404(Story.objects.select_related("original__source"), pk=id)
    members = list(Article.objects.filter(story=s).select_related("source", "duplicate_of")
                   .defer("text", "duplicate_of__text").order_by("sort_at", "id")[:STORY_MEMBERS])
    present = {a.pk for a in members}
    groups: dict[int, dict[str, Any]] = {
        a.pk: {"article": a, "copies": []} for a in members if a.duplicate_of_id not in present}
    for a in members:
        if a.pk not in groups:
            groups[a.duplicate_of_id]["copies"].append(a)  # type: ignore[index]
    return _page(request, "web/story.html", {
        "story": s, "groups": list(groups.values()), "shown": len(members),
        "original": s.original,
    })


# -- article ------------------------------------------------------------------------------------
@public_page
def article(request: HttpRequest, id: int, slug: str) -> HttpResponseBase:
    try:
        a = get_object_or_404(Article.objects.select_related(
            "source", "duplicate_of__source", "story").defer("duplicate_of__text"), pk=id)
    except Http404:
        if gone.notice(id):  # removed at its owner's request: 410, whatever the slug
            return gone.page(request, navigation())
        raise
    if slug != a.slug:
        return redirect(a, permanent=True)
    more = list(articles(ArticleFilter(source=a.source_id)).exclude(pk=a.pk)[:5])
    return _page(request, "web/article.html", {
        "article": a,
        "body": md.markdown_to_html(a.text, base_url=a.url),
        "authors": list(a.authors.all()),
        "categories": list(a.categories.all()),
        "more": more,
        "cited": cited_links(a.cited),
    })


def cited_links(names: list[str]) -> list[tuple[str, int | None]]:
    """Each cited outlet with the id of our source of that name (case-insensitive), if any.

    Matched in Python: SQLite's lower() folds ASCII only ("РБК-Украина"). The name map is
    cached briefly, like the navigation, rather than queried per page view.
    """
    if not names:
        return []

    def build() -> dict[str, int]:
        ids: dict[str, int] = {}
        for pk, name in Source.objects.exclude(name="").order_by("id").values_list("id", "name"):
            ids.setdefault(name_key(name), pk)
        return ids

    ids = cache.get_or_set("newsdesk:web:source-ids-by-name", build, NAV_CACHE_SECONDS)
    return [(n, ids.get(name_key(n))) for n in names if isinstance(n, str) and n.strip()]


# -- lists --------------------------------------------------------------------------------------
def _outlets(qs: Any) -> list[Source]:
    """The distinct outlets of a filtered article set, most articles first."""
    return list(Source.objects.filter(articles__in=qs.values("pk")).annotate(n=Count("id"))
                .order_by("-n", "name")[:20])


@public_page
def category(request: HttpRequest, slug: str) -> HttpResponse:
    cat = get_object_or_404(Category, slug=slug)
    qs = articles(ArticleFilter(category=cat.slug))
    return _page(request, "web/list.html", {
        "heading": cat.name, "kicker": "Section", "page": paginate(with_copies(qs), request.GET),
        "outlets_of": _outlets(qs), "active_section": cat.slug,
        "feeds": feed_links("feed_category", cat.slug, title=f"newsdesk: {cat.name}"),
    })


@public_page
def source(request: HttpRequest, id: int) -> HttpResponse:
    src = get_object_or_404(Source, pk=id)
    qs = articles(ArticleFilter(source=src.pk))
    return _page(request, "web/list.html", {
        "heading": src.name or src.display_name, "kicker": "Outlet", "source": src,
        "page": paginate(with_copies(qs), request.GET),
        "feeds": feed_links("feed_source", src.pk, title=f"newsdesk: {src.display_name}"),
    })


@public_page
def author(request: HttpRequest, slug: str) -> HttpResponse:
    person = get_object_or_404(Author, slug=slug)
    qs = articles(ArticleFilter(author=person.slug))
    return _page(request, "web/list.html", {
        "heading": person.name, "kicker": "Author", "page": paginate(with_copies(qs), request.GET),
        "outlets_of": _outlets(qs),
        "feeds": feed_links("feed_author", person.slug, title=f"newsdesk: {person.name}"),
    })


# -- archive ------------------------------------------------------------------------------------
def _archive(request: HttpRequest, p: archive.Period) -> HttpResponse:
    qs = articles(ArticleFilter(since=p.start, until=p.end))
    before, after = archive.neighbour_months(p)
    return _page(request, "web/archive.html", {
        "period": p,
        "page": paginate(with_copies(qs), request.GET),
        "calendar": archive.month_calendar(p.year, p.month, p.day) if p.month else None,
        "months": archive.months_of_year(p.year) if not p.month else None,
        "previous_month": before, "next_month": after,
    })


@public_page
def archive_year(request: HttpRequest, year: int) -> HttpResponse:
    return _archive(request, archive.period(year))


@public_page
def archive_month(request: HttpRequest, year: int, month: int) -> HttpResponse:
    return _archive(request, archive.period(year, month))


@public_page
def archive_day(request: HttpRequest, year: int, month: int, day: int) -> HttpResponse:
    return _archive(request, archive.period(year, month, day))


# -- search -------------------------------------------------------------------------------------
ORDERS = ("relevance", "date")


def _date(params: QueryDict, name: str) -> datetime | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        return datetime.combine(datetime.strptime(raw, "%Y-%m-%d").date(), time(), tzinfo=UTC)
    except ValueError:
        raise BadQuery(f"{name} must be a date like 2026-01-31") from None


def search_filter(params: QueryDict) -> ArticleFilter:
    """The form's fields as a filter; `until` is inclusive of its whole day."""
    raw_source = params.get("source", "").strip()
    try:
        source_id = int(raw_source) if raw_source else None
    except ValueError:
        raise BadQuery("source must be a source id") from None
    until = _date(params, "until")
    return ArticleFilter(
        q=params.get("q", "").strip()[:500] or None,
        source=source_id,
        category=params.get("category", "").strip()[:120] or None,
        language=params.get("language", "").strip()[:16] or None,
        since=_date(params, "since"),
        until=until + timedelta(days=1) if until else None,
    )


def _choices(f: ArticleFilter) -> dict[str, Any]:
    def build() -> dict[str, Any]:
        return {
            "sources": list(Source.objects.annotate(n=Count("articles")).filter(n__gt=0)
                            .order_by("name", "url")[:300]),
            "categories": list(Category.objects.annotate(n=Count("articles")).filter(n__gt=0)
                               .order_by("-n", "name")[:100]),
            "languages": sorted(set(Article.objects.exclude(language="")
                                    .values_list("language", flat=True).distinct()[:100])),
        }

    choices = dict(cache.get_or_set(CHOICES_CACHE_KEY, build, NAV_CACHE_SECONDS))
    if f.category and f.category not in {c.slug for c in choices["categories"]}:
        extra = Category.objects.filter(slug=f.category).first()
        choices["categories"] = [*choices["categories"], *([extra] if extra else [])]
    return choices


@public_page
def search(request: HttpRequest) -> HttpResponse:
    params = request.GET
    f = search_filter(params)
    order = params.get("order", "").strip() or ("relevance" if f.q else "date")
    if order not in ORDERS:
        raise BadQuery("order must be relevance or date")
    page: ArticlePage | None = None
    marks: dict[int, str] = {}
    if not f.is_empty():
        qs = articles(f)
        if order == "relevance" and f.q:
            offset, limit, page = paginate_offset(qs.count(), params)
            page.items = ranked_page(qs, f.q, offset, limit)
        else:
            page = paginate(with_copies(qs), params)
        if f.q:
            marks = snippets([a.pk for a in page.items], f.q)
    hits = [(a, marks.get(a.pk, "")) for a in page.items] if page else []
    until = f.until - timedelta(days=1) if f.until else None
    return _page(request, "web/search.html", {
        "f": f, "order": order, "page": page, "hits": hits, "until": until,
        "filtered": bool(f.source or f.category or f.language or f.since or f.until),
        **_choices(f),
        **({"feeds": feed_links("feed_search", title=f"newsdesk search: {f.q}",
                                query=urlencode({"q": f.q}))} if f.q else {}),
    })


# -- about --------------------------------------------------------------------------------------
@public_page
def about(request: HttpRequest) -> HttpResponse:
    counts = Article.objects.aggregate(n=Count("id"), sources=Count("source", distinct=True))
    return _page(request, "web/about.html", {"counts": counts})

