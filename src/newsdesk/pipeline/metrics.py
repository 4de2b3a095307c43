"""Text-overlap metrics for article extraction, shared by tests and benchmarks.

The standard main-content metric (as in the web-content-extraction benchmarks): tokens are
``\\w+`` runs (case-sensitive), documents become multisets of n-token shingles, and precision /
recall are the multiset overlap divided by the predicted / gold shingle counts. Markdown markup
(``#``, ``|``, ``-``, ``>``) is not ``\\w`` and so does not affect the scores.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

_TOKEN = re.compile(r"\w+")
_WORD = re.compile(r"\w")


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


def corpus_scores(preds: Sequence[str], golds: Sequence[str]) -> tuple[float, float, float]:
    """(precision, recall, F1) over a set of pages, as the article-extraction benchmarks report
    them: per-page shingle precision averaged over outputs with any word, recall over pages
    whose gold has any word, F1 of the two averages."""
    precisions, recalls = [], []
    for pred, gold in zip(preds, golds, strict=True):
        p, r = shingle_scores(pred, gold)
        if _WORD.search(pred):
            precisions.append(p)
        if _WORD.search(gold):
            recalls.append(r)
    p = sum(precisions) / max(len(precisions), 1)
    r = sum(recalls) / max(len(recalls), 1)
    return p, r, f1(p, r)


# Markdown markers of our output: line-start heading/quote/list markers, table pipes and rules,
# emphasis/strike/code markers; backslash escapes keep the escaped character.
_MD_LINE = re.compile(r"^\s*(?:(?:>\s?)+|#{1,6}\s+|[-+*]\s+|\d{1,9}[.)]\s+)*")
_MD_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?$")
_MD_INLINE = re.compile(r"\\(.)|\*\*|~~|\*|`+")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)\s]*\)")  # an image is not text
_CELL_SEP = re.compile(r"\s*(?<!\\)\|\s*")


def markdown_line(line: str) -> str:
    line = line.strip()
    if _MD_RULE.match(line):
        return ""
    if line.startswith("|"):
        line = _CELL_SEP.sub(" ", line)
    line = _MD_LINE.sub("", _MD_IMAGE.sub("", line))
    return _MD_INLINE.sub(lambda m: m.group(1) or "", line).strip()


def markdown_text(markdown: str) -> str:
    """Our Markdown as plain text, one line per line: what scoring against plain gold text and
    substring checks must see (image links are not words of the article)."""
    return "\n".join(markdown_line(line) for line in markdown.split("\n"))
