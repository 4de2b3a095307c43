"""A minimal page until the platform issue lands: the newest articles, each linking its source."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from newsdesk.news.models import Article


def index(request: HttpRequest) -> HttpResponse:
    articles = Article.objects.select_related("source").order_by("-first_seen_at", "-id")[:50]
    return render(request, "web/index.html", {"articles": articles})


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True, "articles": Article.objects.count()})
