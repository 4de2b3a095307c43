"""Writing pipeline results into the database: one article per identity, changes recorded.

Synchronous ORM code; the async runner calls it through sync_to_async on one DB thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from newsdesk.news.models import Article, Author, Category, FetchLog, QueuedPage, Source
from newsdesk.pipeline.citations import find_citations, normalise
from newsdesk.pipeline.extract import Extracted
from newsdesk.pipeline.urls import canonicalize, choose_canonical, content_hash
from newsdesk.takedown.removal import tombstoned_filter

NEW, UPDATED, DUPLICATE = "new", "updated", "duplicate"
TOMBSTONED = "tombstoned"  # removed at its owner's request: never stored again


@dataclass(frozen=True)
class Stored:
    outcome: str  # new | updated | duplicate | tombstoned
    article_id: int | None  # None when tombstoned


def _dt(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return dt if timezone.is_aware(dt) else timezone.make_aware(dt, timezone.utc)


def _clip(s: str | None, n: int) -> str:
    return (s or "")[:n]


_NAMES_TTL = 60.0  # seconds; a source added meanwhile is recognised within a minute
_names_cache: tuple[float, tuple[str, ...]] = (0.0, ())


def _source_names() -> tuple[str, ...]:
    """Our outlets' names, cached: this runs for every stored article."""
    global _names_cache
    at, names = _names_cache
    if time.monotonic() - at > _NAMES_TTL:
        names = tuple(Source.objects.exclude(name="").order_by("id")
                      .values_list("name", flat=True))
        _names_cache = (time.monotonic(), names)
    return names


def reset_caches() -> None:
    global _names_cache
    _names_cache = (0.0, ())


def cited_outlets(text: str, language: str | None, source: Source, sitename: str) -> list[str]:
    """Names of the other outlets `text` credits; our sources' names are recognised as spelled.

    The article's own outlet is left out: "told CNN" in a CNN story credits nobody else.
    """
    if not text:
        return []
    known = _source_names()
    own = {normalise(n) for n in (source.name, sitename) if n}
    return [c.name[:200] for c in find_citations(text, language, known)
            if normalise(c.name) not in own][:50]


def find_existing(urls: list[str]) -> Article | None:
    keys = {canonicalize(u) for u in urls if u}
    return Article.objects.filter(canonical_url__in=keys).order_by("id").first()


def store_article(
    source: Source,
    page_url: str,
    final_url: str,
    ex: Extracted,
    entry: dict[str, Any] | None = None,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    queued_id: int | None = None,
    noarchive: bool = False,
) -> Stored:
    """Insert or update the article for this page; the feed entry fills what the page lacks.

    The queue row (if any) is deleted in the same transaction, which is what makes a killed
    crawl resumable without loss or duplicates.
    """
    entry = entry or {}
    now = timezone.now()
    canonical = choose_canonical(final_url, ex.canonical_url)
    withheld = "noarchive" if (noarchive or ex.noarchive) else ""
    # An opted-out page keeps only what a link needs: title, outlet, date, URL.
    text = "" if withheld else (ex.text or "")
    digest = content_hash(text)
    title = ex.title or entry.get("title") or ""
    published = ex.published or _dt(entry.get("published"))
    author_names = list(ex.authors) or list(entry.get("authors") or [])
    category_names = list(dict.fromkeys([*(entry.get("categories") or []), *ex.categories]))
    fields = dict(
        url=_clip(page_url, 2048),
        title=title,
        text=text,
        summary="" if withheld else (ex.description or entry.get("summary") or ""),
        language=_clip(ex.language or entry.get("language") or source.language, 16),
        sitename=_clip(ex.sitename or source.name, 300),
        image="" if withheld else _clip(ex.image or entry.get("image"), 2048),
        withheld=withheld,
        published=published,
        modified=ex.updated,
        guid=_clip(entry.get("guid"), 2048),
        content_hash=digest,
        etag=_clip(etag, 500),
        last_modified=_clip(last_modified, 100),
        fetched_at=now,
    )
    fields["cited"] = cited_outlets(text, fields["language"] or None, source, fields["sitename"])
    with transaction.atomic():
        # The last moment, inside the write transaction: a takedown verified after this page was
        # queued (or while it was fetched) still keeps it out.
        if tombstoned_filter([canonical, page_url, final_url]):
            if queued_id is not None:
                QueuedPage.objects.filter(pk=queued_id).delete()
            return Stored(TOMBSTONED, None)
        article = find_existing([canonical, page_url, final_url])
        if article is None:
            article = Article.objects.create(
                source=source, canonical_url=canonical, first_seen_at=now, **fields
            )
            outcome = NEW
        elif (article.content_hash, article.title, article.withheld) == (digest, title, withheld):
            Article.objects.filter(pk=article.pk).update(
                fetched_at=now, etag=fields["etag"], last_modified=fields["last_modified"]
            )
            outcome = DUPLICATE
        else:
            fields.pop("url")  # the primary source URL stays the one first seen
            for k, v in fields.items():
                setattr(article, k, v)
            article.changed_at = now
            article.save()
            outcome = UPDATED
        if outcome != DUPLICATE:
            authors = [] if withheld else Author.get_many(author_names[:20])
            cats = Category.get_many(category_names[:20])
            if source.category_id:
                cats.append(source.category)
            # A new article has no links yet: add() skips set()'s read-and-diff queries.
            if outcome == NEW:
                article.authors.add(*authors)
                article.categories.add(*cats)
            else:
                article.authors.set(authors)
                article.categories.set(cats)
        if queued_id is not None:
            QueuedPage.objects.filter(pk=queued_id).delete()
    return Stored(outcome, article.pk)


def log_fetch(
    kind: str,
    url: str,
    *,
    source: Source | None = None,
    status: int | None = None,
    ok: bool = True,
    reason: str = "",
    message: str = "",
    elapsed: float = 0.0,
    size: int = 0,
) -> None:
    FetchLog.objects.create(
        source=source,
        kind=kind,
        url=url[:2048],
        status=status,
        ok=ok,
        reason=reason[:64],
        message=message[:2000],
        elapsed_ms=int(elapsed * 1000),
        bytes=size,
    )
