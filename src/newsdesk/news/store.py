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

from newsdesk.news.models import (
    Article,
    Author,
    Category,
    FetchLog,
    QueuedPage,
    Source,
    name_key,
)
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


@dataclass
class Page:
    """One fetched and extracted page to store (the arguments of `store_article`)."""

    source: Source
    page_url: str
    final_url: str
    ex: Extracted
    entry: dict[str, Any] | None = None
    etag: str | None = None
    last_modified: str | None = None
    queued_id: int | None = None
    noarchive: bool = False


@dataclass
class _Prepared:
    page: Page
    canonical: str
    keys: set[str]  # canonical forms of the page's URLs: find_existing's lookup keys
    fields: dict[str, Any]
    digest: str
    title: str
    withheld: str
    author_names: list[str]
    category_names: list[str]


def _prepare(p: Page, now: datetime) -> _Prepared:
    """Everything store_article derives from a page before touching the database."""
    ex, entry, source = p.ex, p.entry or {}, p.source
    canonical = choose_canonical(p.final_url, ex.canonical_url)
    withheld = "noarchive" if (p.noarchive or ex.noarchive) else ""
    # An opted-out page keeps only what a link needs: title, outlet, date, URL.
    text = "" if withheld else (ex.text or "")
    digest = content_hash(text)
    title = ex.title or entry.get("title") or ""
    published = ex.published or _dt(entry.get("published"))
    author_names = list(ex.authors) or list(entry.get("authors") or [])
    category_names = list(dict.fromkeys([*(entry.get("categories") or []), *ex.categories]))
    fields = dict(
        url=_clip(p.page_url, 2048),
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
        etag=_clip(p.etag, 500),
        last_modified=_clip(p.last_modified, 100),
        fetched_at=now,
    )
    fields["cited"] = cited_outlets(text, fields["language"] or None, source, fields["sitename"])
    keys = {canonicalize(u) for u in (canonical, p.page_url, p.final_url) if u}
    return _Prepared(p, canonical, keys, fields, digest, title, withheld, author_names,
                     category_names)


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
    page = Page(source, page_url, final_url, ex, entry, etag=etag, last_modified=last_modified,
                queued_id=queued_id, noarchive=noarchive)
    return _store_one(_prepare(page, timezone.now()))


def _store_one(pr: _Prepared) -> Stored:
    p, fields, withheld = pr.page, pr.fields, pr.withheld
    now = fields["fetched_at"]
    with transaction.atomic():
        # The last moment, inside the write transaction: a takedown verified after this page was
        # queued (or while it was fetched) still keeps it out.
        if tombstoned_filter([pr.canonical, p.page_url, p.final_url]):
            if p.queued_id is not None:
                QueuedPage.objects.filter(pk=p.queued_id).delete()
            return Stored(TOMBSTONED, None)
        article = find_existing([pr.canonical, p.page_url, p.final_url])
        if article is None:
            article = Article.objects.create(
                source=p.source, canonical_url=pr.canonical, first_seen_at=now, **fields
            )
            outcome = NEW
        elif (article.content_hash, article.title, article.withheld) == (
                pr.digest, pr.title, withheld):
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
            authors = [] if withheld else Author.get_many(pr.author_names[:20])
            cats = Category.get_many(pr.category_names[:20])
            if p.source.category_id:
                cats.append(p.source.category)
            # A new article has no links yet: add() skips set()'s read-and-diff queries.
            if outcome == NEW:
                article.authors.add(*authors)
                article.categories.add(*cats)
            else:
                article.authors.set(authors)
                article.categories.set(cats)
        if p.queued_id is not None:
            QueuedPage.objects.filter(pk=p.queued_id).delete()
    return Stored(outcome, article.pk)


def store_pages(pages: list[Page]) -> list[Stored]:
    """`store_article` for several pages in one transaction, with the same outcome per page.

    The common case, a page new to the archive that shares no URL with another page of the
    batch, is written in bulk: one tombstone lookup, one existing-article lookup, bulk inserts
    of the articles and their author and category links and one queue delete for the whole
    batch. Every other page (known, tombstoned, or sharing a URL with another page of the
    batch) goes through `store_article`'s own path, in batch order. Each page still leaves the
    queue in the transaction that stores it.
    """
    if not pages:
        return []
    now = timezone.now()
    prepared = [_prepare(p, now) for p in pages]
    seen: dict[str, int] = {}
    for pr in prepared:
        for k in pr.keys:
            seen[k] = seen.get(k, 0) + 1
    out: list[Stored | None] = [None] * len(prepared)
    with transaction.atomic():
        blocked = tombstoned_filter(
            u for pr in prepared for u in (pr.canonical, pr.page.page_url, pr.page.final_url))
        keys = [k for pr in prepared for k in pr.keys]
        known = {k for chunk in chunks(keys) for k in Article.objects.filter(
            canonical_url__in=chunk).values_list("canonical_url", flat=True)}
        fast: list[int] = []
        for i, pr in enumerate(prepared):
            if {pr.canonical, pr.page.page_url, pr.page.final_url} & blocked:
                out[i] = Stored(TOMBSTONED, None)
            elif pr.keys & known or any(seen[k] > 1 for k in pr.keys):
                continue  # the exact per-page path below
            else:
                fast.append(i)
        if fast:
            for i, stored in zip(fast, _create_new([prepared[i] for i in fast], now), strict=True):
                out[i] = stored
        # Queue rows of the pages done so far (stored or tombstoned) leave together.
        done = [pr.page.queued_id for pr, o in zip(prepared, out, strict=True)
                if o is not None and pr.page.queued_id is not None]
        for chunk in chunks(done):
            QueuedPage.objects.filter(pk__in=chunk).delete()
        for i, pr in enumerate(prepared):
            if out[i] is None:
                out[i] = _store_one(pr)
    return [o for o in out if o is not None]


def chunks(items: list[Any], size: int = 500) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _create_new(prepared: list[_Prepared], now: datetime) -> list[Stored]:
    """Insert articles known to be new, with their author and category links."""
    articles = []
    for pr in prepared:
        a = Article(source=pr.page.source, canonical_url=pr.canonical, first_seen_at=now,
                    **pr.fields)
        a.sort_at = a.published or a.first_seen_at  # what Article.save() does
        articles.append(a)
    Article.objects.bulk_create(articles)
    if articles and articles[0].pk is None:  # a backend returning no ids
        ids = dict(Article.objects.filter(canonical_url__in=[a.canonical_url for a in articles])
                   .values_list("canonical_url", "pk"))
        for a in articles:
            a.pk = ids[a.canonical_url]
    authors = {o.key: o for o in Author.get_many(
        [n for pr in prepared if not pr.withheld for n in pr.author_names[:20]])}
    cats = {o.key: o for o in Category.get_many(
        [n for pr in prepared for n in pr.category_names[:20]])}
    author_links, cat_links = set(), set()
    for pr, a in zip(prepared, articles, strict=True):
        if not pr.withheld:
            author_links.update((a.pk, authors[name_key(n)].pk)
                                for n in pr.author_names[:20] if n.strip())
        cat_links.update((a.pk, cats[name_key(n)].pk)
                         for n in pr.category_names[:20] if n.strip())
        if pr.page.source.category_id:
            cat_links.add((a.pk, pr.page.source.category_id))
    through_a, through_c = Article.authors.through, Article.categories.through
    through_a.objects.bulk_create([through_a(article_id=a, author_id=b)
                                   for a, b in sorted(author_links)], ignore_conflicts=True)
    through_c.objects.bulk_create([through_c(article_id=a, category_id=b)
                                   for a, b in sorted(cat_links)], ignore_conflicts=True)
    return [Stored(NEW, a.pk) for a in articles]


def log_fetch(kind: str, url: str, **fields: Any) -> None:
    """Record one fetch (the fields of `fetch_log`)."""
    fetch_log(kind, url, **fields).save()


def fetch_log(
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
) -> FetchLog:
    """An unsaved fetch log row (for bulk_create); `log_fetch` saves one."""
    return FetchLog(
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
