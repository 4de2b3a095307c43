"""Template helpers for the site: asset URLs, outlet names, letter avatars, excerpts."""

from __future__ import annotations

import zlib
from urllib.parse import urlsplit

from django import template
from django.conf import settings
from django.utils.translation import get_language_info

from newsdesk.news.models import Article
from newsdesk.web import render
from newsdesk.web.static_files import version

register = template.Library()


@register.simple_tag
def asset(path: str) -> str:
    """URL of a static file with a content-hash version (cacheable for a year)."""
    return f"{settings.STATIC_URL}{path}?v={version(path)}"


def host(url: str) -> str:
    name = urlsplit(url or "").hostname or ""
    return name.removeprefix("www.")


@register.filter
def outlet(article: Article) -> str:
    """The outlet's name as readers know it: the source's name, the page's, else its host."""
    return article.source.name or article.sitename or host(article.url) or "Unknown outlet"


@register.filter
def initial(name: str) -> str:
    for ch in name or "":
        if ch.isalnum():
            return ch.upper()
    return "?"


@register.filter
def avatar_class(name: str) -> str:
    """One of eight colour classes, stable per name (no inline styles under the CSP)."""
    return f"av-{zlib.crc32((name or '').casefold().encode()) % 8}"


@register.filter
def language_name(code: str) -> str:
    if not code:
        return ""
    try:
        return get_language_info(code.split("-")[0].lower())["name"]
    except KeyError:
        return code


@register.filter
def excerpt(article: Article, words: int | str = 40) -> str:
    return render.excerpt(article.summary or article.text, int(words or 40))


@register.filter
def https_only(url: str) -> str:
    """Images load only over https (mixed content, and the CSP's img-src)."""
    return url if (url or "").startswith("https://") else ""


@register.filter
def highlight(snippet: str) -> str:
    return render.highlight_snippet(snippet)
