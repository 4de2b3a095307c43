"""410 Gone for removed articles: one helper for every surface that addresses an article by id.

An id whose article was removed at its owner's request answers 410, not 404, so crawlers and
readers learn it is gone for good (search engines drop a 410 faster than a 404).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from newsdesk.takedown.models import Tombstone
from newsdesk.takedown.removal import removed_article

NOTICE = "This article was removed at its owner's request."


def notice(article_id: int) -> str | None:
    """The 410 notice when this id belonged to a removed article, else None (a plain 404)."""
    return NOTICE if removed_article(article_id) is not None else None


def page(request: HttpRequest, context: dict[str, Any] | None = None) -> HttpResponse:
    """The HTML 410 page (`context`: the site navigation, so the page looks like the site)."""
    return render(request, "web/gone.html", {**(context or {}), "message": NOTICE}, status=410)


def last_removal() -> datetime | None:
    """When content was last removed. Listings built from many articles use it as a floor for
    Last-Modified: a removal changes them without adding anything newer, so a client sending
    only If-Modified-Since would otherwise get a 304 for a listing that still shows it."""
    return Tombstone.objects.aggregate(at=Max("created_at"))["at"]
