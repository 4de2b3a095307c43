"""The read-only JSON API, mounted at /api/ (OpenAPI at /api/openapi.json, docs at /api/docs).

Listings go through `newsdesk.news.queries` and items through `export.article_record`, so the API,
the pages, the output feeds and the export agree on what is listed and how an article looks.
Every error is `{"detail": "..."}`: 400 bad cursor, 422 bad parameter, 404 unknown id or slug.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path as FilePath
from typing import Any

import ninja
from django.db.models import Count, Model, Q, QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_cache_control
from django.utils.html import escape, json_script
from django.views.decorators.http import conditional_page
from ninja import NinjaAPI, Path, Query
from ninja.errors import HttpError, ValidationError
from ninja.openapi.docs import Swagger

from newsdesk.news.export import article_record, iso
from newsdesk.news.models import Article, Author, Category, Source, Story
from newsdesk.news.queries import ArticleFilter, BadQuery, articles, keyset_page
from newsdesk.takedown import gone
from newsdesk.web.api_schemas import (
    MAX_ID,
    ArticleDetail,
    ArticlePage,
    ArticleQuery,
    AuthorDetail,
    CategoryList,
    Error,
    Invalid,
    SourceList,
    StoryDetail,
    StoryPage,
    StoryQuery,
)
from newsdesk.web.static_files import buffered

log = logging.getLogger(__name__)

# Swagger UI's own files as django-ninja ships them; served by this API (see SelfHostedSwagger).
DOCS_ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-init.js": "text/javascript",
    "favicon.png": "image/png",
}
DOCS_ASSET_DIR = FilePath(ninja.__file__).resolve().parent / "static" / "ninja"


class SelfHostedSwagger(Swagger):
    """Swagger UI loaded from this server, not ninja's default CDN page.

    The site's Content-Security-Policy allows same-origin scripts only and no inline script, so
    the CDN page renders blank; ninja's bundled assets and its external init script fit the
    policy (the settings travel in a non-executable JSON block). Served under the API itself so
    it needs neither `ninja` in INSTALLED_APPS nor a static-files route.
    """

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        config = {**self.settings, "url": self.get_openapi_url(api, kwargs)}
        asset = reverse(f"{api.urls_namespace}:docs-asset", args=["-"])[:-1]
        html = (
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<title>{escape(api.title)}</title>"
            f'<link rel="stylesheet" href="{asset}swagger-ui.css">'
            f'<link rel="icon" href="{asset}favicon.png" type="image/png">'
            "</head><body>"
            f"{json_script(config, 'swagger-settings')}"
            '<div id="swagger-ui"></div>'
            f'<script src="{asset}swagger-ui-bundle.js"></script>'
            f'<script src="{asset}swagger-ui-init.js"></script>'
            "</body></html>"
        )
        return HttpResponse(html)


api = NinjaAPI(
    title="newsdesk API",
    version="1",
    description="Read-only access to the articles newsdesk has collected, each linked to its "
    "primary source. Listings are newest first and paginated with opaque keyset cursors.",
    docs=SelfHostedSwagger(),
)

ERRORS: dict[int, type[Error]] = {400: Error, 404: Error, 422: Invalid}
AUTHOR_LATEST = 20


# -- caching ------------------------------------------------------------------------------------
def _cacheable(run: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Successful GETs: cacheable for a minute, with an ETag and 304 on If-None-Match.

    conditional_page is the per-view ConditionalGetMiddleware, so it is harmless when that
    middleware is also installed (it keeps an ETag already set).
    """

    @wraps(run)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = run(request, *args, **kwargs)
        if (request.method in ("GET", "HEAD") and response.status_code == 200
                and not response.has_header("Cache-Control")):
            patch_cache_control(response, public=True, max_age=60)
        return response

    return conditional_page(wrapper)


api.add_decorator(_cacheable, mode="view")
api.add_router("/takedown-requests", "newsdesk.takedown.api.router")


# -- errors -------------------------------------------------------------------------------------
@api.exception_handler(BadQuery)
def _bad_query(request: HttpRequest, exc: BadQuery) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=400)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # One readable sentence ("since: Input should be a valid datetime...") instead of pydantic's
    # nested structure; the structured list stays available under "errors".
    parts = []
    errors = []
    for e in exc.errors:
        # loc is ("query", <param>) or ("path", <param>), sometimes with the schema's name between.
        loc = [str(x) for x in e.get("loc") or ()]
        parts.append(f"{loc[-1] if loc else 'request'}: {e.get('msg', 'invalid value')}")
        errors.append({"loc": loc, "msg": e.get("msg", ""), "type": e.get("type", "")})
    detail = "; ".join(parts) or "invalid request"
    return api.create_response(request, {"detail": detail, "errors": errors}, status=422)


@api.exception_handler(Exception)
def _crash(request: HttpRequest, exc: Exception) -> HttpResponse:
    # Still a bug (and logged as one), but API clients get JSON rather than an HTML page.
    log.exception("API error on %s", request.get_full_path())
    return api.create_response(request, {"detail": "internal server error"}, status=500)


# -- helpers ------------------------------------------------------------------------------------
def _web_url(obj: Model) -> str | None:
    # Our HTML page for this object; None while (or where) the pages are not routed.
    try:
        return obj.get_absolute_url()  # type: ignore[attr-defined,no-any-return]
    except NoReverseMatch:
        return None


def _item(a: Article, *, text: bool = False) -> dict[str, Any]:
    return {**article_record(a, text=text), "web_url": _web_url(a)}


def _listing(qs: Any) -> Any:
    # The item fields' related rows in two queries, and no article bodies (listings omit them).
    return qs.prefetch_related("authors", "categories").defer("text")


# -- endpoints ----------------------------------------------------------------------------------
@api.get("/articles", response={200: ArticlePage, **ERRORS}, tags=["articles"])
def list_articles(request: HttpRequest, filters: Query[ArticleQuery]) -> dict[str, Any]:
    """Articles newest first, filtered; follow `next_cursor` for older ones.

    Cursors are keyset positions, so a walk neither repeats nor skips items while new articles
    arrive.
    """
    f = ArticleFilter(
        q=filters.q, source=filters.source, category=filters.category,
        language=filters.language, author=filters.author, since=filters.since,
        until=filters.until,
    )
    items, next_cursor = keyset_page(_listing(articles(f)), filters.cursor, filters.limit)
    return {"items": [_item(a) for a in items], "next_cursor": next_cursor}


@api.get("/articles/{id}", response={200: ArticleDetail, 410: Error, **ERRORS},
         tags=["articles"])
def get_article(request: HttpRequest, id: int = Path(..., ge=1, le=MAX_ID)) -> dict[str, Any]:
    """One article with its text (Markdown); 410 Gone if it was removed at its owner's request."""
    a = (Article.objects.select_related("source").prefetch_related("authors", "categories")
         .filter(pk=id).first())
    if a is None:
        if notice := gone.notice(id):
            raise HttpError(410, notice)
        raise HttpError(404, f"no article with id {id}")
    return _item(a, text=True)


@api.get("/sources", response={200: SourceList, **ERRORS}, tags=["sources"])
def list_sources(request: HttpRequest) -> dict[str, Any]:
    """Every source with its article count and polling health."""
    qs = Source.objects.select_related("category").annotate(n=Count("articles")).order_by(
        "name", "url")
    return {"items": [{
        "id": s.pk,
        "name": s.display_name,
        "url": s.url,
        "site_url": s.site_url or None,
        "kind": s.kind,
        "language": s.language or None,
        "category": {"name": s.category.name, "slug": s.category.slug} if s.category else None,
        "active": s.active,
        "article_count": s.n,
        "health": {
            "last_polled": iso(s.last_polled_at),
            "last_success": iso(s.last_success_at),
            "last_error": iso(s.last_error_at),
            "last_error_reason": s.last_error_reason or None,
            "consecutive_failures": s.consecutive_failures,
            "next_poll": s.next_poll_at.isoformat(),
        },
        "web_url": _web_url(s),
    } for s in qs]}


@api.get("/categories", response={200: CategoryList, **ERRORS}, tags=["categories"])
def list_categories(request: HttpRequest) -> dict[str, Any]:
    """Every category with its article count."""
    qs = Category.objects.annotate(n=Count("articles")).order_by("name")
    return {"items": [{"name": c.name, "slug": c.slug, "article_count": c.n,
                       "web_url": _web_url(c)} for c in qs]}


@api.get("/authors/{slug}", response={200: AuthorDetail, **ERRORS}, tags=["authors"])
def get_author(request: HttpRequest, slug: str) -> dict[str, Any]:
    """An author: article count, the outlets they write for, and their latest articles."""
    # NUL never occurs in a slug, and PostgreSQL would reject it as a parameter.
    author = None if "\x00" in slug else Author.objects.filter(slug=slug).first()
    if author is None:
        raise HttpError(404, f"no author with slug {slug[:100]!r}")
    outlets = (Source.objects.filter(articles__authors=author)
               .annotate(n=Count("articles")).order_by("-n", "name", "url"))
    latest = list(_listing(articles(ArticleFilter(author=author.slug)))[:AUTHOR_LATEST])
    return {
        "name": author.name,
        "slug": author.slug,
        "article_count": author.articles.count(),
        "outlets": [{"id": s.pk, "name": s.display_name, "url": s.url, "article_count": s.n}
                    for s in outlets],
        "latest": [_item(a) for a in latest],
        "web_url": _web_url(author),
    }


# -- stories -----------------------------------------------------------------------------------
STORY_MEMBERS = 500  # a story page lists at most this many articles


def _source_ref(a: Article) -> dict[str, Any]:
    return {"id": a.source_id, "name": a.source.name or a.sitename, "url": a.source.url,
            "site_url": a.source.site_url or None}


def _story_item(s: Story) -> dict[str, Any]:
    o = s.original
    return {
        "id": s.pk, "headline": s.headline, "outlet_count": s.outlet_count,
        "article_count": s.article_count, "first_seen": s.first_seen.isoformat(),
        "last_updated": s.last_updated.isoformat(), "score": s.score,
        "original": {"id": o.pk, "url": o.url, "source": _source_ref(o)} if o else None,
        "web_url": _web_url(s),
    }


def _story_cursor(s: Story, order: str) -> str:
    key = s.score if order == "score" else s.last_updated.isoformat()
    return base64.urlsafe_b64encode(json.dumps([order, key, s.pk]).encode()).decode().rstrip("=")


def _after_story_cursor(qs: QuerySet[Story], cursor: str, order: str) -> QuerySet[Story]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, key, pk = json.loads(raw)
        pk = int(pk)
        if kind != order or not -(2**63) <= pk < 2**63:
            raise ValueError("cursor of another order")
        if order == "score":
            key = float(key)
            if not math.isfinite(key):
                raise ValueError("not a finite score")
        else:
            key = datetime.fromisoformat(key)
            if key.tzinfo is None:
                raise ValueError("naive time")
            key = key.astimezone(UTC)
    except (binascii.Error, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise BadQuery(f"invalid cursor {cursor[:100]!r}") from exc
    field = "score" if order == "score" else "last_updated"
    return qs.filter(Q(**{f"{field}__lt": key}) | Q(**{field: key, "pk__lt": pk}))


@api.get("/stories", response={200: StoryPage, **ERRORS}, tags=["stories"])
def list_stories(request: HttpRequest, params: Query[StoryQuery]) -> dict[str, Any]:
    """Stories (one event as several outlets cover it), best first by `score` or newest first by
    `last_updated`; follow `next_cursor` for more."""
    field = "score" if params.order == "score" else "last_updated"
    qs = Story.objects.filter(article_count__gt=0).select_related("original__source").order_by(
        f"-{field}", "-id")
    if params.cursor:
        qs = _after_story_cursor(qs, params.cursor, params.order)
    items = list(qs[: params.limit + 1])
    more = len(items) > params.limit
    items = items[: params.limit]
    return {"items": [_story_item(s) for s in items],
            "next_cursor": _story_cursor(items[-1], params.order) if more and items else None}


@api.get("/stories/{id}", response={200: StoryDetail, **ERRORS}, tags=["stories"])
def get_story(request: HttpRequest, id: int = Path(..., ge=1, le=MAX_ID)) -> dict[str, Any]:
    """One story with its member articles, earliest first (copies name their original)."""
    s = Story.objects.select_related("original__source").filter(pk=id).first()
    if s is None:
        raise HttpError(404, f"no story with id {id}")
    members = (Article.objects.filter(story=s).select_related("source").defer("text")
               .order_by("sort_at", "id")[:STORY_MEMBERS])
    return {**_story_item(s), "members": [{
        "id": a.pk, "title": a.title, "url": a.url, "source": _source_ref(a),
        "published": iso(a.published), "duplicate_of": a.duplicate_of_id,
        "web_url": _web_url(a),
    } for a in members]}


@api.get("/docs/assets/{name}", include_in_schema=False, url_name="docs-asset")
def docs_asset(request: HttpRequest, name: str) -> HttpResponseBase:
    if name not in DOCS_ASSETS:  # a fixed list: never a path from the request
        raise HttpError(404, f"no such file {name[:100]!r}")
    response = buffered(
        FileResponse((DOCS_ASSET_DIR / name).open("rb"), content_type=DOCS_ASSETS[name]))
    response["Cache-Control"] = "public, max-age=86400"
    return response
