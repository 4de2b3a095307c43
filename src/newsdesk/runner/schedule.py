"""Poll scheduling: pure functions, no Django.

A source's interval follows how often it publishes (median gap between its recent entries),
bounded by [min, max]; ttl / sy:updatePeriod hints raise the floor within those bounds; errors
back off geometrically; jitter spreads polls so sources sharing a host don't fire together.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Iterable
from datetime import datetime, timedelta


def publishing_interval(published: Iterable[datetime | None], now: datetime) -> float | None:
    """Median gap in seconds between recent entries, or None when it can't be told."""
    times = sorted({t for t in published if t is not None and t <= now + timedelta(hours=1)})
    if len(times) < 2:
        return None
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    gaps = [g for g in gaps if g > 0]
    if not gaps:
        return None
    # A feed that went quiet slows down too: the silence since its last entry is a lower bound
    # on the current gap.
    silence = max((now - times[-1]).total_seconds(), 0.0)
    return max(statistics.median(gaps), silence)


def next_interval(
    published: Iterable[datetime | None],
    now: datetime,
    *,
    min_s: int,
    max_s: int,
    hint_s: int | None = None,
    previous_s: int | None = None,
) -> int:
    gap = publishing_interval(published, now)
    # Poll about twice per publishing gap, so a new article waits half a gap on average.
    interval = gap / 2 if gap is not None else (previous_s or 3600)
    if hint_s:
        interval = max(interval, hint_s)
    return int(min(max(interval, min_s), max_s))


def backoff_interval(failures: int, base_s: int, *, min_s: int, max_s: int) -> int:
    """Geometric backoff after `failures` consecutive failures (1 -> base, 2 -> 2x base, ...)."""
    if failures <= 0:
        return int(min(max(base_s, min_s), max_s))
    return int(min(max(base_s, min_s) * 2 ** min(failures - 1, 20), max_s))


def jittered(seconds: float, rng: random.Random | None = None, spread: float = 0.1) -> float:
    r = rng or random
    return seconds * (1 + r.uniform(-spread, spread))
