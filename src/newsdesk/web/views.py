"""Operational endpoints (the site's pages live in web.pages)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from newsdesk.news.models import Article


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True, "articles": Article.objects.count()})
