"""The crawl's extraction workers start with the tuned garbage-collector thresholds."""

from __future__ import annotations

import asyncio
import gc

from newsdesk.conf import load
from newsdesk.runner.crawl import Crawler
from newsdesk.runner.gc_tuning import THRESHOLDS


def test_extraction_workers_use_the_tuned_thresholds() -> None:
    async def in_worker() -> tuple[int, ...]:
        async with Crawler(load(), workers=1) as crawler:
            return await crawler._in_pool(gc.get_threshold)

    # Python's default is (700, 10, 10); a worker without the initializer keeps it
    assert asyncio.run(in_worker()) == THRESHOLDS
