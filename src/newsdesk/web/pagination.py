"""Pagination for every article list: numbered pages up front, keyset cursors beyond.

Readers skim the first pages, so pages 1..MAX_NUMBERED are plain `?page=N` (Django Paginator:
page numbers, a count). Page MAX_NUMBERED's "Older" link, and every page after it, is a keyset
cursor (`?cursor=`) after the last item shown: it costs the same at any depth and a cursor page
never shifts when new articles arrive. A page number beyond MAX_NUMBERED, a malformed number or
cursor is the reader's error: BadQuery, shown as a 400 page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import QueryDict

from newsdesk.news.models import Article
from newsdesk.news.queries import BadQuery, encode_cursor, keyset_page

PER_PAGE = 20
MAX_NUMBERED = 10


@dataclass
class PageLink:
    label: str
    url: str | None  # None: the current page (or a gap)
    current: bool = False


@dataclass
class ArticlePage:
    items: list[Any]
    number: int | None = None  # None on cursor pages
    num_pages: int | None = None
    count: int | None = None
    numbers: list[PageLink] = field(default_factory=list)
    newer_url: str | None = None
    older_url: str | None = None
    first_url: str | None = None  # on cursor pages: back to the newest

    @property
    def is_cursor_page(self) -> bool:
        return self.number is None


def _url(params: QueryDict, **change: str | int | None) -> str:
    q = params.copy()
    for key in ("page", "cursor"):
        q.pop(key, None)
    for key, value in change.items():
        if value is None or (key == "page" and value == 1):  # page 1 is the bare URL
            continue
        q[key] = str(value)
    encoded = q.urlencode()
    return f"?{encoded}" if encoded else "?"


def page_number(params: QueryDict, max_page: int = MAX_NUMBERED) -> int:
    raw = params.get("page", "1")
    try:
        number = int(raw)
    except ValueError:
        raise BadQuery(f"page must be a whole number, not {raw[:40]!r}") from None
    if number < 1:
        raise BadQuery("page numbers start at 1")
    if number > max_page:
        raise BadQuery(f"numbered pages stop at {max_page}: follow the “Older” links instead")
    return number


def _numbers(current: int, last: int, params: QueryDict) -> list[PageLink]:
    return [PageLink(str(n), None if n == current else _url(params, page=n), n == current)
            for n in range(1, last + 1)]


def paginate(qs: QuerySet[Article], params: QueryDict, per_page: int = PER_PAGE) -> ArticlePage:
    """The page that `params` (the request's GET) asks for, with its navigation links."""
    cursor = params.get("cursor")
    if cursor is not None:
        items, next_cursor = keyset_page(qs, cursor, per_page)
        return ArticlePage(
            items=items,
            older_url=_url(params, cursor=next_cursor) if next_cursor else None,
            first_url=_url(params),
        )
    number = page_number(params)
    paginator = Paginator(qs, per_page)
    if number > paginator.num_pages:
        raise BadQuery(f"page {number} is past the last page ({paginator.num_pages})")
    page = paginator.page(number)
    items = list(page.object_list)
    shown = min(paginator.num_pages, MAX_NUMBERED)
    older = None
    if page.has_next():
        older = (_url(params, page=number + 1) if number < MAX_NUMBERED
                 else _url(params, cursor=encode_cursor(items[-1])))
    return ArticlePage(
        items=items, number=number, num_pages=paginator.num_pages, count=paginator.count,
        numbers=_numbers(number, shown, params) if shown > 1 else [],
        newer_url=_url(params, page=number - 1) if number > 1 else None,
        older_url=older,
    )


def paginate_offset(
    total: int, params: QueryDict, per_page: int = PER_PAGE
) -> tuple[int, int, ArticlePage]:
    """Numbered pages only (relevance order has no stable keyset): (offset, limit, page shell)."""
    number = page_number(params)
    num_pages = max(1, -(-total // per_page))
    if number > num_pages:
        raise BadQuery(f"page {number} is past the last page ({num_pages})")
    shown = min(num_pages, MAX_NUMBERED)
    shell = ArticlePage(
        items=[], number=number, num_pages=num_pages, count=total,
        numbers=_numbers(number, shown, params) if shown > 1 else [],
        newer_url=_url(params, page=number - 1) if number > 1 else None,
        older_url=_url(params, page=number + 1) if number < shown else None,
    )
    return (number - 1) * per_page, per_page, shell
