"""`newsdesk demo`: a fictional news web on loopback, crawled by the real pipeline and served.

For a newcomer without internet access: everything runs in this process on a throwaway data
dir, so trying the demo never touches a real installation's database or sources.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newsdesk.conf import Config
from newsdesk.devtools.demo import DemoWeb, Outlet, build
from newsdesk.devtools.replay import ReplayServer

# While the demo runs, every source is polled at least this often, so the stories the demo
# "publishes" after start-up (release_minutes in the content) show up within a minute or two.
# The real defaults (5 min .. 1 day, adapted to each feed's rate) would hide them for hours.
DEMO_MIN_INTERVAL = 60
DEMO_MAX_INTERVAL = 90


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _demo_config(data_dir: Path) -> Config:
    from newsdesk import bootstrap

    # Never the user's configured database: the demo lives and dies with its temporary dir.
    os.environ["DATABASE_URL"] = ""
    config = bootstrap.setup(data_dir)
    # Safe to lift the SSRF guard here: this process only ever fetches the demo's own loopback
    # sites (the sources are created below from their 127.0.0.1 URLs, and default world-news
    # sources are never added). Host delay 0: the "hosts" are our own in-process server.
    return dataclasses.replace(config, allow_private_networks=True, host_delay=0.0,
                               min_interval=DEMO_MIN_INTERVAL,
                               max_interval=DEMO_MAX_INTERVAL)


async def _discover_all(config: Config, web: DemoWeb,
                        server: ReplayServer) -> list[tuple[Outlet, Any]]:
    from newsdesk.pipeline.fetch import Fetcher
    from newsdesk.runner.crawl import fetch_config
    from newsdesk.runner.discover import discover

    # Through discovery from each home page, like `newsdesk sources add URL`: the feed link
    # for most outlets, robots.txt -> news sitemap for the one without a feed.
    async with Fetcher(fetch_config(config)) as fetcher:
        return [(o, await discover(fetcher, server.url(o.key, "/"))) for o in web.outlets]


def add_sources(config: Config, web: DemoWeb, server: ReplayServer) -> int:
    from newsdesk.news.sources import save_discovered

    found = asyncio.run(_discover_all(config, web, server))
    for outlet, d in found:
        save_discovered(d, name=outlet.name, category=outlet.category)
    return len(found)


def crawl_once(config: Config) -> dict[str, Any]:
    from newsdesk.runner.crawl import Crawler
    from newsdesk.runner.progress import reporter

    async def once() -> dict[str, Any]:
        with reporter() as rep:
            async with Crawler(config, on_event=rep) as crawler:
                return (await crawler.run_once(due_only=False)).as_dict()

    return asyncio.run(once())


def _print_collected(summary: dict[str, Any], web: DemoWeb, server: ReplayServer,
                     url: str) -> None:
    from newsdesk.news.sources import health

    rows = health()
    total = sum(r["articles"] for r in rows)
    print(f"\nnewsdesk demo: collected {total} articles from {len(rows)} fictional outlets "
          f"in {summary['elapsed']:.1f} s (errors: {summary['errors'] or 'none'})")
    by_url = {r["url"]: r for r in rows}
    for o in web.outlets:
        row = next((r for u, r in by_url.items() if u.startswith(server.origin(o.key))), None)
        n = row["articles"] if row else 0
        print(f"  {o.name:<32} {o.feed:<8} {n:>3} articles  {server.url(o.key, '/')}")
    later = web.upcoming
    if later:
        mins = ", ".join(f"{a.release_minutes:g}" for a in later)
        print(f"  {len(later)} more stories get published {mins} minutes from now; "
              "the scheduler picks them up.")
    print(f"\nOpen {url} — Ctrl-C stops the demo.", flush=True)


def run_demo(host: str | None, port: int | None, keep: bool,
             make_server: Callable[[str, int], Any]) -> int:
    """The whole command; `make_server(host, port)` builds the uvicorn server (cli.py's)."""
    data_dir = Path(tempfile.mkdtemp(prefix="newsdesk-demo-"))
    # Ctrl-C and SIGTERM both end in the cleanup below, whichever phase they interrupt.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    server: ReplayServer | None = None
    timers: list[threading.Timer] = []
    print(f"newsdesk demo: data dir {data_dir} "
          f"({'kept' if keep else 'removed'} on exit)", flush=True)
    try:
        config = _demo_config(data_dir)
        web = build()
        server = web.serve()
        add_sources(config, web, server)
        summary = crawl_once(config)
        http = make_server(host or config.host, port or config.port)
        _print_collected(summary, web, server, f"http://{http.config.host}:{http.config.port}/")
        started = datetime.now(UTC)
        for article in web.upcoming:
            delay = max((article.published - started).total_seconds(), 0.0)
            t = threading.Timer(delay, web.release, (server, article))
            t.daemon = True
            t.start()
            timers.append(t)

        from newsdesk.runner.daemon import run_forever

        asyncio.run(run_forever(config, http))
    except KeyboardInterrupt:
        pass
    finally:
        for t in timers:
            t.cancel()
        if server is not None:
            server.stop()
        _cleanup(data_dir, keep)
    return 0


def _cleanup(data_dir: Path, keep: bool) -> None:
    if keep:
        print(f"newsdesk demo: stopped; data kept in {data_dir} "
              f"(try: newsdesk --data-dir {data_dir} serve)", file=sys.stderr)
        return
    with contextlib.suppress(Exception):
        from django.db import connections

        connections.close_all()
    shutil.rmtree(data_dir, ignore_errors=True)
    print("newsdesk demo: stopped; temporary data removed", file=sys.stderr)
