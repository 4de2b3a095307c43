"""Text-overlap metrics for article extraction, shared by tests and benchmarks.

The standard main-content metric (as in the web-content-extraction benchmarks): tokens are
``\\w+`` runs (case-sensitive), documents become multisets of n-token shingles, and precision /
recall are the multiset overlap divided by the predicted / gold shingle counts. Markdown markup
(``#``, ``|``, ``-``, ``>``) is not ``\\w`` and so does not affect the scores.
"""

from __future__ import annotations

import re
from collections import Counter

_TOKEN = re.compile(r"\w+")


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """Multiset of n-token shingles; a non-empty text shorter than n is one shingle."""
    tokens = _TOKEN.findall(text)
    if not tokens:
        return Counter()
    if len(tokens) < n:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def shingle_scores(pred: str, gold: str, n: int = 4) -> tuple[float, float]:
    """(precision, recall) of ``pred`` against ``gold`` on n-token shingle multisets.

    Both empty counts as a perfect match; an empty side otherwise scores 0 (an empty
    prediction is a failure to extract, not a vacuously precise one).
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    p, g = shingles(pred, n), shingles(gold, n)
    if not p and not g:
        return 1.0, 1.0
    if not p or not g:
        return 0.0, 0.0
    overlap = sum((p & g).values())
    return overlap / sum(p.values()), overlap / sum(g.values())


def f1(precision: float, recall: float) -> float:
    """Harmonic mean; 0 when both are 0."""
    total = precision + recall
    return 0.0 if total == 0 else 2 * precision * recall / total
