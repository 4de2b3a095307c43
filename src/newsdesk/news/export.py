"""Article export: one JSON object per line, each naming its primary source."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from django.utils import timezone

from newsdesk.news.models import Article


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def article_record(a: Article, *, text: bool = True) -> dict[str, Any]:
    """One article as the export writes it and the JSON API serves it (listings: `text=False`).

    Prefetch `authors` and `categories` (and select `source`) when doing this for many articles;
    with `text=False` the text is never read, so listings can `defer("text")`.
    """
    record: dict[str, Any] = {
        "id": a.id,
        "url": a.url,  # the primary source, as the outlet published it
        "canonical_url": a.canonical_url,
        "title": a.title,
        "authors": [x.name for x in a.authors.all()],
        "published": iso(a.published),
        "modified": iso(a.modified),
        "language": a.language or None,
        "summary": a.summary or None,
        "image": a.image or None,
        "source": {"id": a.source_id, "name": a.source.name or a.sitename, "url": a.source.url,
                   "site_url": a.source.site_url or None},
        "categories": [c.name for c in a.categories.all()],
        "fetched_at": a.fetched_at.isoformat(),
        "first_seen_at": a.first_seen_at.isoformat(),
        "changed_at": iso(a.changed_at),
        "withheld": a.withheld or None,
        "cited": list(a.cited or []),  # other outlets the text credits, by name
        "story_id": a.story_id,  # the story (event) it belongs to (news.grouping)
        "duplicate_of": a.duplicate_of_id,  # the original this article copies, if any
    }
    if text:
        record["text"] = a.text
    return record


def iter_articles(since: datetime | None = None) -> Iterator[Article]:
    qs = Article.objects.select_related("source").prefetch_related("authors", "categories")
    if since is not None:
        if timezone.is_naive(since):
            since = timezone.make_aware(since, timezone.utc)
        qs = qs.filter(first_seen_at__gte=since)
    # Chunked so memory stays flat on big archives (prefetch works per chunk).
    yield from qs.order_by("id").iterator(chunk_size=500)


def export_jsonl(out: TextIO, since: datetime | None = None) -> int:
    n = 0
    for a in iter_articles(since):
        out.write(json.dumps(article_record(a), ensure_ascii=False) + "\n")
        n += 1
    return n
