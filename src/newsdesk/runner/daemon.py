"""`newsdesk run`: the scheduler loop and the web server in one asyncio process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from importlib import resources
from typing import Any

from asgiref.sync import sync_to_async
from django.utils import timezone

from newsdesk.conf import Config
from newsdesk.news.models import Source
from newsdesk.news.sources import import_opml
from newsdesk.runner.crawl import Crawler, next_due
from newsdesk.runner.progress import PlainReporter

MAX_SLEEP = 60.0
log = logging.getLogger("newsdesk.daemon")


def default_sources_opml() -> bytes:
    return resources.files("newsdesk").joinpath("data/default-sources.opml").read_bytes()


def ensure_sources() -> int:
    """With no source configured, start from the curated default list."""
    if Source.objects.exists():
        return 0
    added, _ = import_opml(default_sources_opml())
    return added


async def sla_pass() -> None:
    """Takedown SLA: expire stale tokens, remind admins at 12 hours. Never stops the loop."""
    from newsdesk.takedown.workflow import sla_pass as takedown_sla_pass

    try:
        await sync_to_async(takedown_sla_pass)()
    except Exception:
        log.exception("takedown SLA pass failed; the next pass retries")


async def scheduler(config: Config, stop: asyncio.Event) -> None:
    added = await sync_to_async(ensure_sources)()
    if added:
        print(f"newsdesk: no sources configured; added {added} default world-news feeds",
              flush=True)
    async with Crawler(config, on_event=PlainReporter(quiet=True)) as crawler:
        while not stop.is_set():
            summary = await crawler.run_once(due_only=True)
            if summary.new or summary.updated or summary.errors:
                errors = ", ".join(f"{k}={v}" for k, v in summary.errors.items()) or "none"
                print(f"newsdesk: polled {summary.sources_polled} sources: {summary.new} new, "
                      f"{summary.updated} updated articles; errors: {errors}", flush=True)
            await sla_pass()
            due = await sync_to_async(next_due)()
            wait = MAX_SLEEP if due is None else (due - timezone.now()).total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(max(wait, 1.0), MAX_SLEEP))


async def run_forever(config: Config, server: Any) -> None:
    stop = asyncio.Event()
    web = asyncio.create_task(server.serve())
    sched = asyncio.create_task(scheduler(config, stop))
    print(f"newsdesk: serving on http://{server.config.host}:{server.config.port}/ and crawling",
          flush=True)
    # uvicorn captures SIGINT/SIGTERM and sets should_exit; the scheduler follows it. A page being
    # stored finishes its transaction; anything not stored stays queued for the next start.
    while not web.done():
        await asyncio.sleep(0.2)
        if server.should_exit:
            break
    stop.set()
    sched.cancel()
    await asyncio.gather(web, sched, return_exceptions=True)
