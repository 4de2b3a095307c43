"""Output feeds: Atom, RSS 2.0 and JSON Feed 1.1 of any article listing.

One Feed class fills Django's feed generators; the format is only the generator class, so the three
formats of a listing always carry the same items with the same fields. Every entry's link is the
primary source (the outlet's page), and every entry names its outlet.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from html import unescape
from typing import IO, Any
from urllib.parse import urlencode, urlsplit

from django.contrib.syndication.views import Feed
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed, SyndicationFeed, rfc3339_date
from django.utils.html import escape, strip_tags
from django.utils.http import http_date
from django.views.decorators.http import require_safe
from markdown_it import MarkdownIt

from newsdesk.news.models import Article, Author, Category, Source
from newsdesk.news.queries import ArticleFilter, articles
from newsdesk.takedown import gone

SITE_NAME = "newsdesk"
FEED_SIZE = 50
SUMMARY_CHARS = 300
MAX_AGE = 300  # seconds; feed readers poll every few minutes at most
# Bumped when the output format changes, so clients holding an old ETag get the new bytes.
FORMAT_VERSION = "1"
FEED_KINDS = {Source.Kind.RSS, Source.Kind.ATOM, Source.Kind.RDF, Source.Kind.JSON}


# -- helpers shared with the sitemaps ------------------------------------------------------------
def site_base(request: HttpRequest) -> str:
    """The "scheme://host" of this request, computed once per response (10,000 URLs a sitemap)."""
    return f"{request.scheme}://{request.get_host()}"


def conditional(
    request: HttpRequest,
    etag_parts: object,
    last_modified: datetime | None,
    build: Callable[[], HttpResponse],
) -> HttpResponse:
    """Answer 304 when the client's validators match, else `build()`; both carry the validators.

    The ETag hashes what the body is made of (not the body), so a 304 skips rendering entirely.
    It is weak: an empty feed's lastBuildDate is "now", equivalent but not byte-identical.
    """
    if last_modified is not None:
        # A takedown changes a listing without adding anything newer (see gone.last_removal).
        removed_at = gone.last_removal()
        if removed_at is not None and removed_at > last_modified:
            last_modified = removed_at
    digest = hashlib.sha1(repr((FORMAT_VERSION, request.get_host(), etag_parts)).encode())
    headers = HttpResponse()
    headers["ETag"] = f'W/"{digest.hexdigest()}"'
    if last_modified is not None:
        headers["Last-Modified"] = http_date(last_modified.timestamp())
    patch_cache_control(headers, public=True, max_age=MAX_AGE)
    ts = int(last_modified.timestamp()) if last_modified else None
    answer = get_conditional_response(
        request, etag=headers["ETag"], last_modified=ts, response=headers
    )
    if answer is not headers:  # 304 (or 412 for If-Match): it hands back `headers` otherwise
        return answer
    response = build()
    for name in ("ETag", "Last-Modified", "Cache-Control"):
        if name in headers:
            response[name] = headers[name]
    return response


def outlet_name(a: Article) -> str:
    """The publisher's name as a reader knows it: page metadata, then our source name, then host."""
    return a.sitename or a.source.name or urlsplit(a.url).hostname or a.url


def outlet_home(a: Article) -> str:
    parts = urlsplit(a.url)
    return a.source.site_url or f"{parts.scheme}://{parts.netloc}/"


@cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


_SPACE = re.compile(r"\s+")


def plain_summary(a: Article, limit: int = SUMMARY_CHARS) -> str:
    """The article's own summary, else the start of its text, as plain text of about `limit`."""
    # Feeds' summaries may carry (sanitised) HTML. Rendering only the head of the Markdown is
    # enough for an excerpt and keeps 50 items cheap.
    html = a.summary if a.summary.strip() else _markdown().render(a.text[: limit * 8])
    text = _SPACE.sub(" ", unescape(strip_tags(html))).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(" ,;:.—-") + "…"


# -- listings -------------------------------------------------------------------------------------
@dataclass
class Listing:
    """What one feed URL shows: a title, our HTML page for it, and its newest articles."""

    title: str
    description: str
    link: str  # path of our HTML page showing the same listing
    items: list[Article]
    language: str | None = None


def _newest(f: ArticleFilter | None) -> list[Article]:
    return list(articles(f)[:FEED_SIZE])


def front_listing() -> Listing:
    return Listing(
        title=f"{SITE_NAME}: latest news",
        description="The newest articles collected from the world's media, linking their sources.",
        link=reverse("index"),
        items=_newest(None),
    )


def category_listing(slug: str) -> Listing:
    category = get_object_or_404(Category, slug=slug)
    return Listing(
        title=f"{category.name} — {SITE_NAME}",
        description=f"The newest articles in {category.name}.",
        link=category.get_absolute_url(),
        items=_newest(ArticleFilter(category=category.slug)),
    )


def source_listing(source_id: int) -> Listing:
    if source_id >= MAX_ID:
        raise Http404("no such source")
    source = get_object_or_404(Source, pk=source_id)
    return Listing(
        title=f"{source.display_name} — {SITE_NAME}",
        description=f"The newest articles from {source.display_name}.",
        link=source.get_absolute_url(),
        items=_newest(ArticleFilter(source=source.pk)),
        language=source.language or None,
    )


def author_listing(slug: str) -> Listing:
    author = get_object_or_404(Author, slug=slug)
    return Listing(
        title=f"{author.name} — {SITE_NAME}",
        description=f"The newest articles by {author.name}.",
        link=author.get_absolute_url(),
        items=_newest(ArticleFilter(author=author.slug)),
    )


class BadParameter(ValueError):
    pass


# Bounded so a huge number is a bad parameter, not an integer overflow in the database driver.
_ID = re.compile(r"[0-9]{1,18}")
MAX_ID = 10**18


def search_filter(request: HttpRequest) -> ArticleFilter:
    """The API's search filters from the query string (q, source, category, language)."""
    get = request.GET
    if any("\x00" in v for v in get.values()):  # PostgreSQL refuses NUL in strings: a 500
        raise BadParameter("NUL character in a parameter")
    source = get.get("source", "").strip()
    if source and not _ID.fullmatch(source):
        raise BadParameter("source must be a source id (an integer)")
    return ArticleFilter(
        q=get.get("q", "").strip() or None,
        source=int(source) if source else None,
        category=get.get("category", "").strip() or None,
        language=get.get("language", "").strip() or None,
    )


def search_listing(request: HttpRequest) -> Listing:
    f = search_filter(request)
    params = {k: v for k, v in [("q", f.q), ("source", f.source), ("category", f.category),
                                ("language", f.language)] if v is not None}
    return Listing(
        title=f"Search: {f.q} — {SITE_NAME}" if f.q else f"Search — {SITE_NAME}",
        description=f"The newest articles matching {f.q!r}." if f.q else "No search terms.",
        link=reverse("search") + ("?" + urlencode(params) if params else ""),
        # No words, no results (like the search page): a filter-only "search" is not a search.
        items=_newest(f) if f.q else [],
        language=f.language,
    )


# -- feed generators ------------------------------------------------------------------------------
class NewsAtomFeed(Atom1Feed):
    def item_attributes(self, item: dict[str, Any]) -> dict[str, str]:
        return {"xml:lang": item["language"]} if item["language"] else {}

    def add_item_elements(self, handler: Any, item: dict[str, Any]) -> None:
        # Django writes one <author>; Atom allows one per byline, so write them ourselves.
        super().add_item_elements(handler, {**item, "author_name": None})
        for name in item["authors"] or [item["outlet_name"]]:
            handler.startElement("author", {})
            handler.addQuickElement("name", name)
            handler.endElement("author")
        handler.addQuickElement(
            "link", "", {"rel": "related", "type": "text/html", "href": item["page_url"],
                         "title": f"{item['title']} on {SITE_NAME}"}
        )
        # atom:source: the outlet this entry comes from (RFC 4287 §4.2.11).
        handler.startElement("source", {})
        handler.addQuickElement("id", item["outlet_feed"])
        handler.addQuickElement("title", item["outlet_name"])
        handler.addQuickElement("link", "", {"rel": "alternate", "href": item["outlet_home"]})
        handler.endElement("source")


class NewsRssFeed(Rss201rev2Feed):
    def add_item_elements(self, handler: Any, item: dict[str, Any]) -> None:
        super().add_item_elements(handler, item)
        # RSS 2.0 <source url="the outlet's feed">name</source>.
        handler.addQuickElement("source", item["outlet_name"], {"url": item["outlet_feed"]})
        # RSS has no secondary link; atom:link rel=related (xmlns:atom is already declared).
        handler.addQuickElement(
            "atom:link", None, {"rel": "related", "type": "text/html", "href": item["page_url"]}
        )


class JsonFeed(SyndicationFeed):
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1) from Django's feed generator model."""

    content_type = "application/feed+json; charset=utf-8"

    def write(self, outfile: IO[str], encoding: str) -> None:
        feed = self.feed
        doc: dict[str, Any] = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": feed["title"],
            "home_page_url": feed["link"],
            "feed_url": feed["feed_url"],
            "description": feed["description"],
            "authors": [{"name": feed["author_name"]}] if feed["author_name"] else None,
            "language": feed["language"],
            "items": [self._item(i) for i in self.items],
        }
        json.dump(_drop_none(doc), outfile, ensure_ascii=False, separators=(",", ":"))

    @staticmethod
    def _item(item: dict[str, Any]) -> dict[str, Any]:
        # `url` is the primary source, as in Atom/RSS, so every reader opens the outlet.
        # Our page is NOT `external_url`: JSON Feed defines that as the thing being talked about
        # (linkblog style), which here is the outlet page itself; putting our page there would make
        # linkblog-aware readers promote our copy over the source. It goes in an extension.
        return _drop_none({
            "id": item["unique_id"],
            "url": item["link"],
            "title": item["title"],
            "summary": item["summary_text"],
            # Only the excerpt, not the full text: we point to the outlet, we don't republish.
            "content_text": item["summary_text"] or item["title"],
            "date_published": rfc3339_date(item["pubdate"]) if item["pubdate"] else None,
            "date_modified": rfc3339_date(item["updateddate"]) if item["updateddate"] else None,
            "authors": [{"name": n} for n in item["authors"] or [item["outlet_name"]]],
            "tags": list(item["categories"]) or None,
            "language": item["language"],
            "image": item["image"],
            "_newsdesk": {
                "page_url": item["page_url"],
                "outlet": {"name": item["outlet_name"], "url": item["outlet_home"]},
            },
        })


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


FORMATS: dict[str, type[SyndicationFeed]] = {
    "atom": NewsAtomFeed,
    "rss": NewsRssFeed,
    "json": JsonFeed,
}


class ArticleFeed(Feed):
    """Maps a Listing onto Django's feed model; one instance serves one request."""

    author_name = SITE_NAME

    def __init__(self, feed_type: type[SyndicationFeed], request: HttpRequest) -> None:
        self.feed_type = feed_type
        self.base = site_base(request)
        self.path = request.get_full_path()

    def feed_url(self) -> str:
        return self.path  # with the query string: a search feed's self link must keep its q

    def title(self, obj: Listing) -> str:
        return obj.title

    def link(self, obj: Listing) -> str:
        return obj.link

    def description(self, obj: Listing) -> str:
        return obj.description

    def items(self, obj: Listing) -> list[Article]:
        return obj.items

    def item_title(self, a: Article) -> str:
        return a.title or a.url  # plain text: Atom <title> is type="text"

    def item_link(self, a: Article) -> str:
        return a.url  # the primary source, never our page

    def item_guid(self, a: Article) -> str:
        # Our identity key: stable across title edits (our page URL carries a title slug) and the
        # same in every feed listing the article, so readers de-duplicate across our feeds.
        return a.canonical_url

    def item_guid_is_permalink(self, a: Article) -> bool:
        return False

    def item_description(self, a: Article) -> str:
        # HTML (Atom summary type="html", RSS description): escape the plain text once.
        summary = plain_summary(a)
        return escape(f"{outlet_name(a)} — {summary}" if summary else outlet_name(a))

    def item_pubdate(self, a: Article) -> datetime:
        return a.published or a.sort_at

    def item_updateddate(self, a: Article) -> datetime:
        # Atom requires <updated>; the latest date we know the article (or our copy) changed.
        return max(d for d in (a.published or a.sort_at, a.modified, a.changed_at) if d)

    def item_author_name(self, a: Article) -> str:
        return ", ".join(x.name for x in a.authors.all()) or outlet_name(a)

    def item_categories(self, a: Article) -> list[str]:
        return [c.name for c in a.categories.all()]

    def item_extra_kwargs(self, a: Article) -> dict[str, Any]:
        feed_url = a.source.url if a.source.kind in FEED_KINDS else outlet_home(a)
        return {
            "outlet_name": outlet_name(a),
            "outlet_home": outlet_home(a),
            "outlet_feed": feed_url,
            "authors": [x.name for x in a.authors.all()],
            "page_url": self.base + a.get_absolute_url(),
            "summary_text": plain_summary(a) or None,
            "language": a.language or None,
            "image": a.image or None,
        }

    def get_feed(self, obj: Listing, request: HttpRequest) -> SyndicationFeed:
        feed = super().get_feed(obj, request)
        # Django defaults the feed language to the UI language ("en"); an aggregate of the
        # world's media has none unless the listing is one source or filtered by language.
        feed.feed["language"] = obj.language
        return feed


def _etag_parts(fmt: str, listing: Listing) -> list[object]:
    return [fmt, listing.title, listing.link, [
        (a.pk, a.sort_at, a.changed_at, a.title, a.summary[:64], a.source_id)
        for a in listing.items
    ]]


def _serve(request: HttpRequest, fmt: str, make: Callable[[], Listing]) -> HttpResponse:
    feed_type = FORMATS.get(fmt)
    if feed_type is None:  # the URL converter already refuses these; keep the view safe alone
        raise Http404("unknown feed format")
    try:
        listing = make()
    except BadParameter as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    newest = max((max(a.sort_at, a.changed_at or a.sort_at) for a in listing.items),
                 default=None)

    def build() -> HttpResponse:
        prefetch_related_objects(listing.items, "authors", "categories")
        feedgen = ArticleFeed(feed_type, request).get_feed(listing, request)
        response = HttpResponse(content_type=feedgen.content_type)
        feedgen.write(response, "utf-8")
        return response

    return conditional(request, _etag_parts(fmt, listing), newest, build)


# -- views ----------------------------------------------------------------------------------------
@require_safe
def front(request: HttpRequest, fmt: str) -> HttpResponse:
    return _serve(request, fmt, front_listing)


@require_safe
def category(request: HttpRequest, slug: str, fmt: str) -> HttpResponse:
    return _serve(request, fmt, lambda: category_listing(slug))


@require_safe
def source(request: HttpRequest, source_id: int, fmt: str) -> HttpResponse:
    return _serve(request, fmt, lambda: source_listing(source_id))


@require_safe
def author(request: HttpRequest, slug: str, fmt: str) -> HttpResponse:
    return _serve(request, fmt, lambda: author_listing(slug))


@require_safe
def search(request: HttpRequest, fmt: str) -> HttpResponse:
    return _serve(request, fmt, lambda: search_listing(request))
