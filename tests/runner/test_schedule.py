from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from newsdesk.runner.schedule import (
    backoff_interval,
    jittered,
    next_interval,
    publishing_interval,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def every(minutes: int, n: int = 20) -> list[datetime]:
    return [NOW - timedelta(minutes=minutes * i) for i in range(n)]


def test_busy_feed_polls_often_quiet_feed_rarely() -> None:
    busy = next_interval(every(10), NOW, min_s=300, max_s=86400)
    daily = next_interval(every(24 * 60), NOW, min_s=300, max_s=86400)
    assert busy == 300  # half of a 10-minute gap, clamped to the 5-minute floor
    assert 40000 <= daily <= 44000  # about half a day
    dead = [NOW - timedelta(days=400 + i) for i in range(10)]
    assert next_interval(dead, NOW, min_s=300, max_s=86400) == 86400


def test_hints_raise_the_floor_within_bounds() -> None:
    assert next_interval(every(10), NOW, min_s=300, max_s=86400, hint_s=3600) == 3600
    assert next_interval(every(10), NOW, min_s=300, max_s=86400, hint_s=10**7) == 86400


def test_unknown_rate_keeps_previous_interval() -> None:
    assert publishing_interval([None, None], NOW) is None
    assert next_interval([], NOW, min_s=300, max_s=86400, previous_s=7200) == 7200


def test_backoff_is_geometric_and_capped() -> None:
    seq = [backoff_interval(f, 600, min_s=300, max_s=86400) for f in range(1, 12)]
    assert seq[:4] == [600, 1200, 2400, 4800]
    assert seq[-1] == 86400 and all(b >= a for a, b in zip(seq, seq[1:], strict=False))


def test_jitter_spreads_within_ten_percent() -> None:
    rng = random.Random(1)
    vals = [jittered(1000, rng) for _ in range(200)]
    assert min(vals) >= 900 and max(vals) <= 1100 and len(set(vals)) > 100
