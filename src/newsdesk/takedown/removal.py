"""The removal engine: a verified takedown request takes effect everywhere at once, for good.

`remove()` deletes the matching articles (rows, not flags: text, image URL, author and category
links go with them; authors left without articles too), writes the Tombstones that keep the
content out of every later crawl, and RemovedArticle rows so old article URLs answer 410 Gone.
It runs in one transaction, so a reader sees either all of the removal or none of it.

The crawler asks `tombstoned_filter()` before queueing feed entries and again (through
`news.store`) right before storing a page, since a page may have been queued before the request.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from newsdesk.news import grouping
from newsdesk.news.models import Article, Author, QueuedPage, Source
from newsdesk.pipeline.urls import canonicalize, host_of, registrable_domain
from newsdesk.takedown.models import (
    AuditLog,
    RemovedArticle,
    TakedownRequest,
    Tombstone,
    url_hash,
)

__all__ = ["is_tombstoned", "remove", "removed_article", "tombstoned_filter", "url_variants"]

log = logging.getLogger("newsdesk.takedown")

# Ids per IN (...) list: well under SQLite's bound-parameter limit whatever its build.
BATCH = 500
MAX_ID = 2**63  # BigAutoField; larger ids cannot exist (and would overflow the driver)


T = TypeVar("T")


def _batches(items: Sequence[T], size: int = BATCH) -> Iterator[list[T]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def site_of(url: str) -> str:
    """The registrable domain of a URL; its host when there is none (IPs, intranet names)."""
    return registrable_domain(url) or host_of(url)


def url_variants(url: str) -> list[str]:
    """canonicalize(url) with http/https and with/without "www.": owners submit whichever form
    they have at hand, and sites serve both. The path and query stay exact."""
    canon = canonicalize(url)
    parts = urlsplit(canon)
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return [canon]
    bare = parts.netloc.removeprefix("www.")
    return list(dict.fromkeys(
        [canon] + [urlunsplit((scheme, host, parts.path, parts.query, ""))
                   for scheme in ("https", "http") for host in (bare, f"www.{bare}")]))


# -- lookups used by the crawler and the web ------------------------------------------------------
def tombstoned_filter(urls: Iterable[str]) -> set[str]:
    """The given URLs (as given) that must not be ingested: their canonical form (any scheme/www
    variant) has a tombstone, or their registrable domain is tombstoned whole.

    Two queries per 500 distinct URLs (a feed's worth is one round); one when there is no
    tombstone at all (the common case: deriving each URL's variants costs more than the query).
    """
    if not Tombstone.objects.exists():
        return set()
    by_hash: dict[str, list[str]] = defaultdict(list)
    by_domain: dict[str, list[str]] = defaultdict(list)
    for u in dict.fromkeys(u for u in urls if u):
        for v in url_variants(u):
            by_hash[url_hash(v)].append(u)
        if d := site_of(u):
            by_domain[d].append(u)
    hit: set[str] = set()
    for chunk in _batches(list(by_hash)):
        for h in Tombstone.objects.filter(url_hash__in=chunk).values_list("url_hash", flat=True):
            hit.update(by_hash[h])
    for chunk in _batches(list(by_domain)):
        for d in Tombstone.objects.filter(whole_domain=True, domain__in=chunk).values_list(
                "domain", flat=True):
            hit.update(by_domain[d])
    return hit


def is_tombstoned(url: str) -> bool:
    return bool(url) and bool(tombstoned_filter([url]))


def removed_article(id: int) -> RemovedArticle | None:
    if not 0 < id < MAX_ID:
        return None
    return RemovedArticle.objects.filter(pk=id).first()


# -- remove -------------------------------------------------------------------------------------
class _Plan:
    """What one request matches now: article ids, tombstones to write, sources to pause."""

    def __init__(self, domain: str) -> None:
        self.domain = domain
        self.article_ids: list[int] = []
        self.hashes: dict[str, str] = {}  # url_hash -> canonical URL (kept for the audit only)
        self.article_hash: dict[int, str] = {}  # article id -> its canonical_url's hash
        self.source_ids: list[int] = []
        self.skipped_urls: list[str] = []


def _request_domain(request: TakedownRequest) -> str:
    # The verified thing is request.domain: nothing outside it may be removed. A public suffix
    # ("co.uk") or an empty domain would widen a request to other people's sites: refuse.
    raw = (request.domain or "").strip().lower()
    domain = registrable_domain(raw) if raw else None
    if not domain:
        raise ValueError(f"takedown {request.public_id}: {raw!r} is not a registrable domain")
    return domain


def _plan_urls(request: TakedownRequest, domain: str) -> _Plan:
    plan = _Plan(domain)
    q = Q(pk__in=[])
    for raw in request.urls or []:
        raw = str(raw).strip()
        canon = canonicalize(raw)
        if site_of(canon) != domain:
            plan.skipped_urls.append(raw[:2048])
            continue
        plan.hashes[url_hash(canon)] = canon
        variants = url_variants(canon)
        q |= Q(canonical_url__in=variants) | Q(url__in=[raw, *variants])
    if plan.hashes:
        for pk, canon in Article.objects.filter(q).values_list("id", "canonical_url"):
            if site_of(canon) != domain:  # e.g. an Article.url match stored under another site
                continue
            h = url_hash(canon)
            plan.hashes.setdefault(h, canon)
            plan.article_ids.append(pk)
            plan.article_hash[pk] = h
    return plan


def _plan_domain(domain: str) -> _Plan:
    plan = _Plan(domain)
    # Sources are few (hundreds to thousands): comparing registrable domains in Python is exact
    # where SQL string matching is not ("example.com" vs "notexample.com").
    plan.source_ids = [
        pk for pk, url, site_url in Source.objects.values_list("id", "url", "site_url")
        if site_of(url) == domain or (site_url and site_of(site_url) == domain)
    ]
    sources = set(plan.source_ids)
    # Articles of other sources (aggregator feeds, single pages) found by a substring scan that
    # SQL does in one pass, then checked exactly.
    candidates = Article.objects.filter(
        Q(source_id__in=plan.source_ids) | Q(canonical_url__icontains=domain)
        | Q(url__icontains=domain)
    ).values_list("id", "source_id", "canonical_url", "url")
    plan.article_ids = [
        pk for pk, source_id, canon, url in candidates
        if source_id in sources or site_of(canon) == domain or site_of(url) == domain
    ]
    return plan


def _tombstones(request: TakedownRequest, plan: _Plan, whole_domain: bool) -> dict[str, int]:
    """Write the request's tombstones (existing ones are kept); url_hash -> tombstone id."""
    if whole_domain:
        stone = (Tombstone.objects.filter(domain=plan.domain, whole_domain=True).first()
                 or Tombstone.objects.create(domain=plan.domain, whole_domain=True,
                                             request=request))
        return {"": stone.pk}
    Tombstone.objects.bulk_create(
        [Tombstone(url_hash=h, domain=plan.domain, request=request) for h in plan.hashes],
        ignore_conflicts=True,
    )
    ids: dict[str, int] = {}
    for chunk in _batches(list(plan.hashes)):
        ids.update(Tombstone.objects.filter(url_hash__in=chunk).values_list("url_hash", "pk"))
    return ids


def _delete_articles(ids: list[int]) -> int:
    """Delete the articles and the authors they leave without any article."""
    through = Article.authors.through
    author_ids: set[int] = set()
    for chunk in _batches(ids):
        author_ids.update(through.objects.filter(article_id__in=chunk)
                          .values_list("author_id", flat=True))
        # Django's collector removes the link rows (authors, categories) with the articles; the
        # full-text index follows through its AFTER DELETE trigger (SQLite) or the table (PG).
        Article.objects.filter(pk__in=chunk).delete()
    authors = sorted(author_ids)
    for chunk in _batches(authors):
        Author.objects.filter(pk__in=chunk, articles__isnull=True).delete()
    return len(ids)


def _purge_queue(plan: _Plan) -> int:
    """Drop queued pages of paused sources and any queued URL now tombstoned."""
    rows = list(QueuedPage.objects.filter(
        Q(source_id__in=plan.source_ids) | Q(url__icontains=plan.domain)
    ).values_list("id", "source_id", "url"))
    blocked = tombstoned_filter(url for _, _, url in rows)
    sources = set(plan.source_ids)
    doomed = [pk for pk, source_id, url in rows if source_id in sources or url in blocked]
    for chunk in _batches(doomed):
        QueuedPage.objects.filter(pk__in=chunk).delete()
    return len(doomed)


def _clear_caches() -> None:
    # Imported here: the web app imports this module (through takedown.gone) for its 410s.
    from newsdesk.web.pages import CHOICES_CACHE_KEY, NAV_CACHE_KEY

    # Only our listing keys: cache.clear() would also reset unrelated state (rate limits).
    cache.delete_many([NAV_CACHE_KEY, CHOICES_CACHE_KEY])


def remove(request: TakedownRequest, *, actor: str) -> int:
    """Apply a verified request at once, in one transaction; returns the articles removed.

    URL request: articles whose canonical_url is a scheme/www variant of a submitted URL's
    canonical form, or whose url is the submitted URL; only on request.domain. DOMAIN request:
    one whole-domain tombstone, every Source on the domain paused, its articles and queued
    pages purged, plus any other article hosted on the domain. Idempotent: a second call
    removes nothing more, writes nothing more and does not fail.
    """
    domain = _request_domain(request)
    whole = request.kind == TakedownRequest.Kind.DOMAIN
    now = timezone.now()
    with transaction.atomic():
        # Serialises two concurrent calls for one request (PostgreSQL; SQLite already has one
        # writer, taken at BEGIN IMMEDIATE).
        locked = TakedownRequest.objects.select_for_update().get(pk=request.pk)
        plan = _plan_domain(domain) if whole else _plan_urls(request, domain)
        stones = _tombstones(locked, plan, whole)
        paused = 0
        if plan.source_ids:
            for chunk in _batches(plan.source_ids):
                paused += Source.objects.filter(pk__in=chunk, active=True).update(active=False)
        RemovedArticle.objects.bulk_create(
            [RemovedArticle(id=pk, tombstone_id=stones[""] if whole else
                            stones[plan.article_hash[pk]], removed_at=now)
             for pk in plan.article_ids],
            ignore_conflicts=True,
        )
        # Copies of a removed original get a new original; the stories are recounted (an
        # emptied one goes) once the articles are gone.
        stories = grouping.before_removal(plan.article_ids)
        count = _delete_articles(plan.article_ids)
        grouping.after_removal(stories)
        dropped = _purge_queue(plan)
        first = locked.status != TakedownRequest.Status.REMOVED
        if first or count:
            locked.status = TakedownRequest.Status.REMOVED
            locked.removed_at = locked.removed_at or now
            locked.removed_articles += count
            locked.save(update_fields=["status", "removed_at", "removed_articles"])
            AuditLog.record(
                actor, "removed", locked, count=count, article_ids=plan.article_ids,
                domain=domain, whole_domain=whole, tombstones=len(stones),
                sources_paused=paused, queued_dropped=dropped,
                **({"skipped_urls": plan.skipped_urls} if plan.skipped_urls else {}),
            )
        # After commit: a reader refilling the cache before it would cache the old listings.
        transaction.on_commit(_clear_caches)
    for field in ("status", "removed_at", "removed_articles"):
        setattr(request, field, getattr(locked, field))
    if count:
        log.info("takedown %s: removed %d articles (%s)", request.public_id, count, domain)
    return count
