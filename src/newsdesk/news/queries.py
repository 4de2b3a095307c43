"""Article listings shared by every surface (pages, API, output feeds, sitemaps).

One filter object and one ordering, (sort_at, id) descending, so a page, its JSON and its feed
list the same items. Deep pages use keyset cursors: stable while new articles arrive.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, fields
from datetime import UTC, datetime

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from newsdesk.news.models import Article
from newsdesk.news.search import fulltext_ids


class BadQuery(ValueError):
    """A filter or cursor the caller got wrong (HTTP 400, never 500)."""


@dataclass(frozen=True)
class ArticleFilter:
    q: str | None = None
    source: int | None = None
    category: str | None = None  # slug
    language: str | None = None
    author: str | None = None  # slug
    since: datetime | None = None
    until: datetime | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) in (None, "") for f in fields(self))


def _aware(dt: datetime) -> datetime:
    return dt if timezone.is_aware(dt) else timezone.make_aware(dt, timezone.utc)


def articles(f: ArticleFilter | None = None) -> QuerySet[Article]:
    """Filtered articles, newest first, with what listings show already joined."""
    qs = Article.objects.select_related("source").order_by("-sort_at", "-id")
    if f is None:
        return qs
    if f.q:
        ids = fulltext_ids(f.q)
        qs = qs.none() if ids is None else qs.filter(id__in=ids)
    if f.source is not None:
        qs = qs.filter(source_id=f.source)
    if f.category:
        qs = qs.filter(categories__slug=f.category)
    if f.language:
        qs = qs.filter(language=f.language.lower())
    if f.author:
        qs = qs.filter(authors__slug=f.author)
    if f.since:
        qs = qs.filter(sort_at__gte=_aware(f.since))
    if f.until:
        qs = qs.filter(sort_at__lt=_aware(f.until))
    return qs


def with_copies(qs: QuerySet[Article]) -> QuerySet[Article]:
    """Annotate `copy_outlets`: how many other outlets published a copy of each article.

    A correlated subquery per listed row (indexed on duplicate_of), so a page of items costs one
    query, and counts of the listing ignore it.
    """
    copies = (Article.objects.filter(duplicate_of=OuterRef("pk")).order_by()
              .values("duplicate_of").annotate(n=Count("source", distinct=True)).values("n"))
    return qs.annotate(copy_outlets=Coalesce(Subquery(copies, output_field=IntegerField()), 0))


# -- keyset cursors -----------------------------------------------------------------------------
def encode_cursor(article: Article) -> str:
    raw = json.dumps([article.sort_at.isoformat(), article.pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, pk = json.loads(raw)
        # Normalised here: a cursor is user input, and an out-of-range time zone or id would
        # otherwise only fail inside the database adapter (a 500 instead of a 400).
        when, pk = _aware(datetime.fromisoformat(when)).astimezone(UTC), int(pk)
        if not -(2**63) <= pk < 2**63:
            raise ValueError("id out of range")
        return when, pk
    except (binascii.Error, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise BadQuery(f"invalid cursor {cursor[:100]!r}") from exc


def after_cursor(qs: QuerySet[Article], cursor: str | None) -> QuerySet[Article]:
    """Items strictly after `cursor` in (sort_at, id) descending order."""
    if not cursor:
        return qs
    when, pk = decode_cursor(cursor)
    return qs.filter(Q(sort_at__lt=when) | Q(sort_at=when, id__lt=pk))


def keyset_page(
    qs: QuerySet[Article], cursor: str | None, limit: int
) -> tuple[list[Article], str | None]:
    """One page after `cursor` and the cursor of the next page (None at the end)."""
    if not 1 <= limit <= 200:
        raise BadQuery("limit must be between 1 and 200")
    items = list(after_cursor(qs, cursor)[: limit + 1])
    more = len(items) > limit
    items = items[:limit]
    return items, (encode_cursor(items[-1]) if more and items else None)
