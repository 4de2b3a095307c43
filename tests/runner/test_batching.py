"""runner.batching.BatchWriter: items submitted together are written together; a bad one fails
alone."""

from __future__ import annotations

import asyncio

from newsdesk.runner.batching import BatchWriter


def test_items_submitted_together_share_one_write_and_get_their_own_results() -> None:
    calls: list[list[int]] = []

    def write(batch: list[int]) -> list[int]:
        calls.append(list(batch))
        return [x * 10 for x in batch]

    async def main() -> list[int]:
        writer = BatchWriter(write, size=4, wait=0.5)
        return await asyncio.gather(*(writer.submit(i) for i in range(6)))

    assert asyncio.run(main()) == [0, 10, 20, 30, 40, 50]
    # a full batch goes at once; the rest waits for the next one
    assert calls == [[0, 1, 2, 3], [4, 5]]


def test_a_failing_batch_is_written_item_by_item_and_only_the_bad_item_fails() -> None:
    calls: list[list[str]] = []

    def write(batch: list[str]) -> list[str]:
        calls.append(list(batch))
        if "bad" in batch:
            raise ValueError("constraint failed")
        return [s.upper() for s in batch]

    async def main() -> list[object]:
        writer = BatchWriter(write, size=8, wait=0.05)
        return await asyncio.gather(*(writer.submit(s) for s in ("a", "bad", "c")),
                                    return_exceptions=True)

    a, bad, c = asyncio.run(main())
    assert (a, c) == ("A", "C")
    assert isinstance(bad, ValueError)
    assert calls == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]

