"""The in-process asyncio executor of the ingest pipeline.

feeds -> frontier (QueuedPage) -> pages fetched -> extracted in worker processes -> stored.
Network I/O is async (one Fetcher with per-host politeness); parsing feeds and extracting pages
is CPU-bound and runs in a process pool so both cores work; every ORM call goes through
sync_to_async on Django's one DB thread (SQLite has a single writer anyway), and polled feeds
and extracted pages are written in batches (see runner.batching).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from newsdesk.conf import Config
from newsdesk.news import grouping, store
from newsdesk.news.models import Article, FetchLog, QueuedPage, Source
from newsdesk.news.sitetemplates import TemplateStore
from newsdesk.pipeline.extract import Extracted, ExtractionError, extract
from newsdesk.pipeline.feeds import FeedEntry, FeedParseError, ParsedFeed, parse_any
from newsdesk.pipeline.fetch import FetchConfig, Fetcher, FetchError, FetchResult
from newsdesk.pipeline.sitetemplate import template_site
from newsdesk.pipeline.urls import canonicalize
from newsdesk.runner.batching import BatchWriter
from newsdesk.runner.gc_tuning import tune_gc
from newsdesk.runner.schedule import backoff_interval, jittered, next_interval
from newsdesk.takedown.models import Tombstone
from newsdesk.takedown.removal import is_tombstoned, tombstoned_filter

log = logging.getLogger("newsdesk.crawl")
T = TypeVar("T")

# Errors that will not go away by retrying the same URL soon.
PERMANENT = {"bad_url", "ssrf", "robots", "too_large", "http_404", "http_410", "http_451",
             "too_many_redirects", "redirect_loop", "extract"}
MAX_CHILD_SITEMAPS = 5
GROUP_EVERY = 200  # stored pages between two grouping batches during a pass
STORE_BATCH = 64  # most pages stored in one transaction
TOMBSTONE_MARK_TTL = 1.0  # seconds
STORE_WAIT = 0.25  # seconds the first extracted page waits for others to share its transaction
FEED_BATCH = 32  # most polled feeds written in one transaction
FEED_WAIT = 0.1  # seconds a polled feed waits for others (its pages are queued after it)


def fetch_config(config: Config) -> FetchConfig:
    return FetchConfig(
        user_agent=config.effective_user_agent,
        host_concurrency=config.host_concurrency,
        host_delay=config.host_delay,
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        total_timeout=config.total_timeout,
        max_body=config.max_body,
        allow_private=config.allow_private_networks,
    )


@dataclass
class CrawlSummary:
    sources_polled: int = 0
    feeds_not_modified: int = 0
    pages_fetched: int = 0
    new: int = 0
    updated: int = 0
    duplicate: int = 0
    tombstoned: int = 0  # pages dropped because their content was taken down
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    cpu: float = 0.0  # CPU seconds of this process (extraction workers not included)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sources_polled": self.sources_polled,
            "feeds_not_modified": self.feeds_not_modified,
            "pages_fetched": self.pages_fetched,
            "new": self.new,
            "updated": self.updated,
            "duplicate": self.duplicate,
            "tombstoned": self.tombstoned,
            "errors": dict(self.errors),
            "elapsed": round(self.elapsed, 3),
            "cpu": round(self.cpu, 3),
        }


Event = Callable[[str, dict[str, Any]], None]


@dataclass
class _Polled:
    """A feed or sitemap fetched and parsed, waiting to be recorded."""

    src: Source
    res: FetchResult
    parsed: ParsedFeed
    entries: list[FeedEntry]
    unconditional: bool


# What a successful poll changes on its source (`_polled_ok`).
_POLL_FIELDS = ["kind", "name", "site_url", "language", "etag", "last_modified",
                "last_unconditional_at", "last_polled_at", "last_success_at",
                "consecutive_failures", "hint_interval", "poll_interval", "next_poll_at"]


def _entry_dict(e: FeedEntry) -> dict[str, Any]:
    return {
        "title": e.title,
        "published": e.published.isoformat() if e.published else None,
        "updated": e.updated.isoformat() if e.updated else None,
        "authors": list(e.authors),
        "categories": list(e.categories),
        "summary": e.summary,
        "guid": e.guid,
        "image": e.image,
        "language": e.language,
    }


class Crawler:
    def __init__(
        self,
        config: Config,
        *,
        fetcher: Fetcher | None = None,
        on_event: Event | None = None,
        workers: int | None = None,
    ) -> None:
        self.config = config
        self._own_fetcher = fetcher is None
        self.fetcher = fetcher or Fetcher(fetch_config(config))
        self.on_event = on_event or (lambda kind, data: None)
        n = config.effective_workers if workers is None else workers
        # spawn, not fork: the parent has threads (asyncio, the DB thread) that fork would copy
        # in whatever state they are. n == 0 extracts inline (tests, tiny crawls).
        self._workers = n
        self._pool = self._new_pool()
        self._stored_since_grouping = 0
        # Each host's learnt page template: its recurring blocks are stripped from its pages.
        self._templates = TemplateStore()
        self._extract_slots = asyncio.Semaphore(2 * max(1, self._workers))
        # Extracted pages and polled feeds wait for the DB thread, which writes all that arrived
        # meanwhile in one transaction: a few tenths of a second of latency buy a handful of
        # queries per batch instead of a dozen per item.
        self._stores = BatchWriter(store.store_pages, size=STORE_BATCH, wait=STORE_WAIT)
        self._feeds = BatchWriter(self._feeds_ok, size=FEED_BATCH, wait=FEED_WAIT)
        # Queued pages found clean by the tombstone lookup when queued, with the tombstones'
        # mark at that moment (see _claim).
        self._clean: dict[int, tuple[int, int | None]] = {}
        self._mark: tuple[float, tuple[int, int | None] | None] = (0.0, None)

    def _new_pool(self) -> ProcessPoolExecutor | None:
        if not self._workers:
            return None
        return ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=tune_gc)

    async def aclose(self) -> None:
        if self._own_fetcher:
            await self.fetcher.aclose()
        if self._pool:
            self._pool.shutdown(wait=True, cancel_futures=True)

    async def __aenter__(self) -> Crawler:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- one pass ---------------------------------------------------------------------------
    async def run_once(self, *, due_only: bool = True) -> CrawlSummary:
        summary = CrawlSummary()
        started = time.monotonic()
        cpu_started = time.process_time()
        sources = await sync_to_async(self._due_sources)(due_only)
        self.on_event("start", {"sources": len(sources)})
        queue: asyncio.Queue[QueuedPage | int | None] = asyncio.Queue()
        # Leftovers from an interrupted run go first: nothing discovered is ever lost.
        for qid in await sync_to_async(self._pending_ids)():
            queue.put_nowait(qid)
        n_workers = max(1, self.config.concurrency)
        workers = [asyncio.create_task(self._page_worker(queue, summary)) for _ in range(n_workers)]
        sem = asyncio.Semaphore(n_workers)

        async def poll(src: Source) -> None:
            async with sem:
                for qp in await self.poll_source(src, summary):
                    queue.put_nowait(qp)

        try:
            await asyncio.gather(*(poll(s) for s in sources))
            for _ in workers:
                queue.put_nowait(None)
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()
        # Once per pass: group what this pass stored, in publication order, then save the story
        # clusterer's state.
        await sync_to_async(grouping.assign_ungrouped)()
        await sync_to_async(grouping.persist)()
        await sync_to_async(self._templates.save)()
        summary.elapsed = time.monotonic() - started
        summary.cpu = time.process_time() - cpu_started
        self.on_event("done", summary.as_dict())
        return summary

    def _due_sources(self, due_only: bool) -> list[Source]:
        qs = Source.objects.filter(active=True).exclude(kind=Source.Kind.PAGES)
        if due_only:
            qs = qs.filter(next_poll_at__lte=timezone.now())
        return list(qs.select_related("category"))

    def _pending_ids(self) -> list[int]:
        return list(
            QueuedPage.objects.filter(next_attempt_at__lte=timezone.now()).values_list(
                "id", flat=True
            )
        )

    # -- feeds ------------------------------------------------------------------------------
    async def poll_source(self, src: Source, summary: CrawlSummary) -> list[QueuedPage | int]:
        """Poll one feed/sitemap; returns the pages it queued (rows, or ids where the database
        returns none from a bulk insert). Never raises."""
        now = timezone.now()
        unconditional = (
            src.last_unconditional_at is None
            or now - src.last_unconditional_at >= timedelta(seconds=self.config.unconditional_every)
        )
        summary.sources_polled += 1
        try:
            res = await self.fetcher.fetch(
                src.url,
                etag=None if unconditional else (src.etag or None),
                last_modified=None if unconditional else (src.last_modified or None),
                check_robots=False,  # feeds and sitemaps are published for machines to poll
            )
            if res.not_modified:
                summary.feeds_not_modified += 1
                await sync_to_async(self._feed_not_modified)(src, res)
                self.on_event("feed", {"url": src.url, "status": 304, "queued": 0})
                return []
            parsed = await self._parse(res)
            entries = list(parsed.entries)
            if parsed.kind == "sitemapindex":
                entries += await self._child_sitemaps(parsed)
        except (FetchError, FeedParseError) as exc:
            reason = exc.reason if isinstance(exc, FetchError) else "parse"
            summary.errors[reason] += 1
            await sync_to_async(self._feed_failed)(src, reason, str(exc), exc)
            self.on_event("feed_error", {"url": src.url, "reason": reason, "error": str(exc)})
            return []
        except Exception as exc:  # a bug must not stop the rest of the crawl
            log.exception("unexpected error polling %s", src.url)
            summary.errors["internal"] += 1
            await sync_to_async(self._feed_failed)(src, "internal", repr(exc), exc)
            return []
        ids = await self._feeds.submit(_Polled(src, res, parsed, entries, unconditional))
        self.on_event("feed", {"url": src.url, "status": res.status, "queued": len(ids)})
        return ids

    async def _child_sitemaps(self, parsed: ParsedFeed) -> list[FeedEntry]:
        out: list[FeedEntry] = []
        # Indexes list the newest children first by convention; a news aggregator wants those.
        for child in parsed.sitemaps[:MAX_CHILD_SITEMAPS]:
            try:
                r = await self.fetcher.fetch(child, check_robots=False)
                out += (await self._parse(r)).entries
            except (FetchError, FeedParseError) as exc:
                log.info("child sitemap %s: %s", child, exc)
        return out

    def _schedule(self, src: Source, interval: int) -> None:
        src.poll_interval = interval
        src.next_poll_at = timezone.now() + timedelta(seconds=jittered(interval))

    def _feed_not_modified(self, src: Source, res: FetchResult) -> None:
        now = timezone.now()
        src.last_polled_at = src.last_success_at = now
        src.consecutive_failures = 0
        self._schedule(src, src.poll_interval)
        src.save()
        store.log_fetch("feed", src.url, source=src, status=304, reason="not_modified",
                        elapsed=res.elapsed)

    def _feed_failed(self, src: Source, reason: str, message: str, exc: Exception) -> None:
        now = timezone.now()
        src.last_polled_at = src.last_error_at = now
        src.last_error_reason = reason[:64]
        src.last_error = message[:2000]
        src.consecutive_failures += 1
        interval = backoff_interval(
            src.consecutive_failures, src.poll_interval,
            min_s=self.config.min_interval, max_s=self.config.max_interval,
        )
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            interval = max(interval, int(retry_after))
        src.next_poll_at = now + timedelta(seconds=jittered(interval))
        src.save()
        store.log_fetch("feed", src.url, source=src, status=getattr(exc, "status", None),
                        ok=False, reason=reason, message=message)

    def _feeds_ok(self, polled: list[_Polled]) -> list[list[QueuedPage | int]]:
        """Record successful polls and queue their new pages, in one transaction; returns the
        pages each poll queued (rows, or ids where the database returns none from a bulk
        insert)."""
        now = timezone.now()
        # Read before the lookup (see _claim); an older mark is as good: any tombstone written
        # since it was read changes it, so the page is checked again when claimed.
        mark = self._tombstone_mark()
        feeds: list[dict[str, FeedEntry]] = []
        for p in polled:
            by_url: dict[str, FeedEntry] = {}
            for e in p.entries:
                by_url.setdefault(canonicalize(e.url), e)
            feeds.append(by_url)
        urls = [e.url for by_url in feeds for e in by_url.values()]
        # Taken-down URLs and domains are never queued (one batch lookup; none while the mark
        # says there is no tombstone at all: one written since changes the mark).
        blocked = tombstoned_filter(urls) if mark[0] else set()
        keys = [k for by_url in feeds for k in by_url]
        known = {
            url: at
            for chunk in store.chunks(keys)
            for url, at in Article.objects.filter(canonical_url__in=chunk).values_list(
                "canonical_url", "fetched_at")
        }
        # Pages queued already, by an earlier pass or by an earlier feed of this batch.
        taken = {u for chunk in store.chunks(urls) for u in
                 QueuedPage.objects.filter(url__in=chunk).values_list("url", flat=True)}
        to_queue: list[QueuedPage] = []
        logs = []
        for p, by_url in zip(polled, feeds, strict=True):
            src, queued = p.src, 0
            for key, e in by_url.items():
                if e.url in taken or e.url in blocked:
                    continue
                seen = known.get(key)
                # Never fetched, or the feed says it changed since we fetched it: fetch it.
                refetch = seen is not None and bool(e.updated and e.updated > seen)
                if seen is None or refetch:
                    taken.add(e.url)
                    to_queue.append(QueuedPage(url=e.url, source=src, entry=_entry_dict(e),
                                               refetch=refetch))
                    queued += 1
            self._polled_ok(p, now)
            logs.append(store.fetch_log("feed", src.url, source=src, status=p.res.status,
                                        reason=f"queued {queued}", elapsed=p.res.elapsed,
                                        size=len(p.res.body)))
        with transaction.atomic():
            created = QueuedPage.objects.bulk_create(to_queue, ignore_conflicts=True)
            for p in polled:
                # One UPDATE a source: Django's bulk_update builds CASE expressions that cost
                # ~7x more CPU than these 32 small statements.
                p.src.save(update_fields=_POLL_FIELDS)
            FetchLog.objects.bulk_create(logs)
            if created and created[0].pk is None:
                # bulk_create with ignore_conflicts sets no ids (SQLite and PostgreSQL alike):
                # read the rows back in one query, so that no page costs a query of its own
                # when it is claimed (that was 4 ms a page on a 1,262-source pass).
                created = [q for chunk in store.chunks([q.url for q in to_queue])
                           for q in QueuedPage.objects.filter(url__in=chunk)]
        sources = {p.src.pk: p.src for p in polled}
        out: dict[int, list[QueuedPage | int]] = {pk: [] for pk in sources}
        for q in created:
            if q.source_id in sources:
                q.source = sources[q.source_id]  # already loaded, with its category
                out[q.source_id].append(q)
            self._clean[q.pk] = mark
        return [out[p.src.pk] for p in polled]

    def _polled_ok(self, p: _Polled, now: datetime) -> None:
        """A successful poll's news for its source (saved by the caller)."""
        src, parsed, res = p.src, p.parsed, p.res
        hint = None
        if parsed.update_period_minutes or parsed.ttl_minutes:
            hint = 60 * max(parsed.update_period_minutes or 0, parsed.ttl_minutes or 0)
        src.kind = parsed.kind if parsed.kind in Source.Kind.values else src.kind
        src.name = src.name or (parsed.title or "")[:300]
        src.site_url = src.site_url or (parsed.site_url or "")[:2048]
        src.language = src.language or (parsed.language or "")[:16]
        src.etag = (res.etag or "")[:500]
        src.last_modified = (res.last_modified or "")[:100]
        if p.unconditional:
            src.last_unconditional_at = now
        src.last_polled_at = src.last_success_at = now
        src.consecutive_failures = 0
        src.hint_interval = hint
        self._schedule(src, next_interval(
            [e.published or e.updated for e in p.entries], now,
            min_s=self.config.min_interval, max_s=self.config.max_interval,
            hint_s=hint, previous_s=src.poll_interval,
        ))

    # -- pages ------------------------------------------------------------------------------
    async def _page_worker(
        self, queue: asyncio.Queue[QueuedPage | int | None], summary: CrawlSummary
    ) -> None:
        while True:
            qid = await queue.get()
            if qid is None:
                return
            try:
                outcome = await self.process_page(qid, summary)
                if outcome in (store.NEW, store.UPDATED):
                    await self._maybe_group()
            except Exception:  # a bug on one page must not stop the crawl
                log.exception("unexpected error on queued page %s", qid)
                summary.errors["internal"] += 1

    async def _maybe_group(self) -> None:
        """Group stored articles every GROUP_EVERY pages, so that work overlaps extraction
        instead of running alone after the last page (each batch goes in publication order;
        the rest is grouped at the end of the pass)."""
        self._stored_since_grouping += 1
        if self._stored_since_grouping >= GROUP_EVERY:
            self._stored_since_grouping = 0
            await sync_to_async(grouping.assign_ungrouped)()
            await sync_to_async(self._templates.save)()

    async def _in_pool(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a worker process (inline without workers). The functions come from
        Django-free modules, so spawned workers import no Django. Raises BrokenProcessPool when
        a worker died (OOM-killed on a hostile page, say), after replacing the pool once: the
        call fails, the rest of the crawl goes on."""
        pool = self._pool
        if pool is None:
            return fn(*args)
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except BrokenProcessPool:
            if self._pool is pool:
                self._pool = self._new_pool()
                pool.shutdown(wait=False, cancel_futures=True)
            raise

    async def _parse(self, res: FetchResult) -> ParsedFeed:
        # feedparser was the crawler process's largest cost after HTTP: the workers take it,
        # so the process that keeps them supplied with pages stays free for fetching
        try:
            return await self._in_pool(
                parse_any, res.body, res.final_url, res.content_type, res.charset)
        except BrokenProcessPool as exc:
            raise FeedParseError(f"feed parser worker crashed: {exc}") from exc

    async def _extract(
        self, body: bytes, url: str, charset: str | None, noarchive: bool
    ) -> Extracted:
        # the host's template travels compiled (a few small sets); the page's fingerprint comes
        # back in Extracted.blocks and is learnt once the page is stored
        try:
            # Pages wait here rather than in the pool's queue, so each takes its site's template
            # as learnt from the pages extracted just before it.
            async with self._extract_slots:
                site = await sync_to_async(self._templates.view)(template_site(url))
                # a page that opts out of archiving is stored without text: none is extracted
                return await self._in_pool(partial(
                    extract, body, url, charset, site, skip_noarchive_text=True,
                    noarchive=noarchive))
        except BrokenProcessPool as exc:
            raise ExtractionError(f"extraction worker crashed: {exc}") from exc

    async def process_page(self, qid: QueuedPage | int, summary: CrawlSummary) -> str | None:
        """Fetch, extract and store one queued page (a row just queued, or its id)."""
        item = await sync_to_async(self._claim)(qid)
        if item is None:
            return None  # another worker or a previous run already stored it
        qp, article, tombstoned = item
        if tombstoned:
            summary.tombstoned += 1  # queued before its takedown: not even fetched
            self.on_event("page", {"url": qp.url, "outcome": store.TOMBSTONED})
            return store.TOMBSTONED
        try:
            res = await self.fetcher.fetch(
                qp.url,
                etag=(article.etag or None) if article else None,
                last_modified=(article.last_modified or None) if article else None,
            )
            summary.pages_fetched += 1
            if res.not_modified:
                await sync_to_async(QueuedPage.objects.filter(pk=qp.pk).delete)()
                summary.duplicate += 1
                return store.DUPLICATE
            try:
                ex = await self._extract(res.body, res.final_url, res.charset, res.noarchive)
            except ExtractionError as exc:
                raise FetchError("extract", qp.url, str(exc)) from exc
        except FetchError as exc:
            summary.errors[exc.reason] += 1
            await sync_to_async(self._page_failed)(qp, exc)
            self.on_event("page_error", {"url": qp.url, "reason": exc.reason, "error": str(exc)})
            return None
        # The site's next pages are extracted with this one learnt (a copy of a learnt page,
        # e.g. the same article met through a second feed, is not learnt again).
        await sync_to_async(self._templates.learn)(template_site(res.final_url), ex.blocks)
        # Grouping (duplicates, stories) happens per batch, in publication order.
        stored = await self._stores.submit(store.Page(
            qp.source, qp.url, res.final_url, ex, qp.entry,
            etag=res.etag, last_modified=res.last_modified, queued_id=qp.pk,
            noarchive=res.noarchive,
        ))
        setattr(summary, stored.outcome, getattr(summary, stored.outcome) + 1)
        self.on_event("page", {"url": qp.url, "outcome": stored.outcome})
        return stored.outcome

    def _claim(self, qid: QueuedPage | int) -> tuple[QueuedPage, Article | None, bool] | None:
        """The queued page, its article for a refetch, and whether its URL was taken down since
        it was queued (then it is dropped from the queue); None when it is gone."""
        if isinstance(qid, QueuedPage):
            qp: QueuedPage | None = qid  # just queued by this pass: nobody else has it
        else:
            qp = (QueuedPage.objects.select_related("source", "source__category")
                  .filter(pk=qid).first())
        if qp is None:
            return None
        # Checked when queued, and no tombstone written since: still clean, no lookup needed.
        if self._clean.pop(qp.pk, None) != self._tombstone_mark() and is_tombstoned(qp.url):
            qp.delete()
            return qp, None, True
        article = store.find_existing([qp.url]) if qp.refetch else None
        return qp, article, False

    def _tombstone_mark(self) -> tuple[int, int | None]:
        """(count, highest id) of the tombstones: it changes whenever one is written.

        Re-read at most every TOMBSTONE_MARK_TTL seconds for pages about to be fetched: a page
        whose takedown is verified within that second may still be fetched, never stored (the
        store checks again inside its transaction).
        """
        at, mark = self._mark
        now = time.monotonic()
        if mark is None or now - at > TOMBSTONE_MARK_TTL:
            agg = Tombstone.objects.aggregate(n=Count("id"), top=Max("id"))
            mark = (agg["n"], agg["top"])
            self._mark = (now, mark)
        return mark

    def _page_failed(self, qp: QueuedPage, exc: FetchError) -> None:
        qp.attempts += 1
        qp.last_error_reason = exc.reason[:64]
        qp.last_error = str(exc)[:2000]
        give_up = exc.reason in PERMANENT or qp.attempts >= self.config.page_retries
        with transaction.atomic():
            store.log_fetch("page", qp.url, source=qp.source, status=exc.status, ok=False,
                            reason=exc.reason, message=str(exc))
            if give_up:
                qp.delete()
            else:
                delay = max(exc.retry_after or 0, 60 * 2 ** qp.attempts)
                qp.next_attempt_at = timezone.now() + timedelta(seconds=delay)
                qp.save()


def next_due(now: datetime | None = None) -> datetime | None:
    """When the next source or queued page is due (for the daemon loop's sleep)."""
    a = Source.objects.filter(active=True).exclude(kind=Source.Kind.PAGES).order_by(
        "next_poll_at").values_list("next_poll_at", flat=True).first()
    b = QueuedPage.objects.order_by("next_attempt_at").values_list(
        "next_attempt_at", flat=True).first()
    times = [t for t in (a, b) if t is not None]
    return min(times) if times else None
