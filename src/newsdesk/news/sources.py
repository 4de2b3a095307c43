"""Source management for the CLI and (later) the admin: add, import/export OPML, health."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count
from django.utils import timezone

from newsdesk.news.models import Category, Source
from newsdesk.pipeline.opml import OpmlSource, parse_opml, write_opml
from newsdesk.runner.discover import Discovered


def save_discovered(d: Discovered, *, name: str | None = None,
                    category: str | None = None) -> tuple[Source, bool]:
    src, created = Source.objects.get_or_create(url=d.url[:2048])
    src.kind = d.kind if d.kind in Source.Kind.values else Source.Kind.RSS
    src.name = (name or src.name or d.title or "")[:300]
    src.site_url = (src.site_url or d.site_url or "")[:2048]
    src.language = (src.language or d.language or "")[:16]
    if category:
        src.category = Category.get(category)
    src.save()
    return src, created


def import_opml(body: bytes) -> tuple[int, int]:
    """Add every feed of an OPML file (feeds are not fetched now; the first crawl checks them).
    Returns (added, already present)."""
    added = existing = 0
    for item in parse_opml(body):
        src, created = Source.objects.get_or_create(
            url=item.url[:2048],
            defaults={"name": (item.title or "")[:300], "site_url": (item.html_url or "")[:2048]},
        )
        if created:
            added += 1
            if item.category:
                src.category = Category.get(item.category)
                src.save(update_fields=["category"])
        else:
            existing += 1
    return added, existing


def export_opml() -> str:
    sources = Source.objects.exclude(kind=Source.Kind.PAGES).select_related("category")
    return write_opml(
        OpmlSource(s.url, s.name or None, s.site_url or None, s.category.name if s.category else None)
        for s in sources
    )


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def health() -> list[dict[str, Any]]:
    rows = []
    qs = Source.objects.select_related("category").annotate(n=Count("articles")).order_by("id")
    for s in qs:
        rows.append({
            "id": s.id,
            "name": s.name,
            "url": s.url,
            "kind": s.kind,
            "category": s.category.name if s.category else None,
            "active": s.active,
            "articles": s.n,
            "last_success": _iso(s.last_success_at),
            "last_error": _iso(s.last_error_at),
            "last_error_reason": s.last_error_reason or None,
            "last_error_message": s.last_error or None,
            "consecutive_failures": s.consecutive_failures,
            "poll_interval": s.poll_interval,
            "next_poll": _iso(s.next_poll_at),
            "overdue": bool(s.active and s.next_poll_at <= timezone.now()),
        })
    return rows
