"""Writes submitted by many crawler tasks, done on the DB thread in batches.

Each task awaits its own result, but the database sees one transaction and a handful of queries
per batch instead of a dozen queries per item (SQLite has a single writer anyway, and every ORM
call costs a hop to Django's DB thread).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from asgiref.sync import sync_to_async

log = logging.getLogger("newsdesk.crawl")

T = TypeVar("T")
R = TypeVar("R")

_TICK = 0.02  # seconds between two looks at how many items wait


class BatchWriter(Generic[T, R]):
    """`await submit(item)` returns `write(batch)`'s result for that item.

    The first item of a batch waits up to ``wait`` seconds (less once ``size`` items wait) for
    others; items submitted while a batch is written go in the next one. When a batch fails,
    its items are written one by one, so one bad item fails alone.
    """

    def __init__(self, write: Callable[[list[T]], list[R]], *, size: int, wait: float) -> None:
        self._write = sync_to_async(write)
        self.size = size
        self.wait = wait
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, fut))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return await fut

    async def _run(self) -> None:
        while self._pending:
            waited = 0.0
            while len(self._pending) < self.size and waited < self.wait:
                await asyncio.sleep(_TICK)
                waited += _TICK
            batch = self._pending[: self.size]
            del self._pending[: self.size]
            try:
                results = await self._write([item for item, _ in batch])
            except Exception:
                log.info("batch write failed; writing its %d items one by one", len(batch),
                         exc_info=True)
                for item, fut in batch:
                    try:
                        one = await self._write([item])
                    except Exception as exc:
                        if not fut.done():
                            fut.set_exception(exc)
                    else:
                        if not fut.done():
                            fut.set_result(one[0])
                continue
            for (_, fut), result in zip(batch, results, strict=True):
                if not fut.done():
                    fut.set_result(result)
