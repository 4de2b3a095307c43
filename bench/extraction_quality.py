"""Extraction quality and speed: newsdesk.pipeline.extract vs bare trafilatura.

Scores main text against the recorded ground truth in ../shared/data/web (see its DATA.md) with
the shingle metric of :mod:`newsdesk.pipeline.metrics`, and times both extractors on the same
pages. Run: ``python bench/extraction_quality.py [--sets big9,fundus,np4k] [--limit N]``.

The helpers (corpus iterators, :func:`score`, :func:`speed_ratio`) are importable for other
benches.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trafilatura

from newsdesk.pipeline.extract import extract
from newsdesk.pipeline.metrics import f1, shingle_scores

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "web"

# newspaper's txt fixtures are its own expected output; some are notes about its failures
# ("MISSED LAST PARAGRAPH", "EXTRACTED NOTHING") rather than text: all-caps Latin, no lower case.
_NOTE = re.compile(r"^[^a-z]*[A-Z][^a-z]*$", re.DOTALL)


@dataclass(frozen=True)
class Page:
    corpus: str
    name: str
    html: bytes
    url: str | None
    gold: str  # main text
    meta: dict[str, Any] = field(default_factory=dict)  # fundus: title, authors, date, ...


def _read(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.suffix == ".gz" else raw


def iter_big9(root: Path = DATA) -> Iterator[Page]:
    """site-level-big9: 240 news pages with human gold text."""
    base = root / "site-level-big9"
    for entry in json.loads((base / "manifest.json").read_text()):
        yield Page(
            "big9",
            entry["html"],
            _read(base / entry["html"]),
            entry.get("url_hint"),
            (base / entry["gold"]).read_text(encoding="utf-8", errors="replace"),
        )


def fundus_body(expected: dict[str, Any]) -> str:
    """fundus' expected body as text: summary, then each section's headline and paragraphs."""
    body = expected.get("body") or {}
    parts = list(body.get("summary") or [])
    for section in body.get("sections") or []:
        parts += section.get("headline") or []
        parts += section.get("paragraphs") or []
    return "\n\n".join(parts)


def iter_fundus(root: Path = DATA) -> Iterator[Page]:
    """fundus-news: 258 pages of 181 publishers; expected versions pair with the dated files."""
    for country in sorted(p for p in (root / "fundus-news").iterdir() if p.is_dir()):
        urls = json.loads((country / "meta.info").read_text())
        for expected_file in sorted(country.glob("*.json")):
            publisher = expected_file.stem
            versions = json.loads(expected_file.read_text())
            pages = sorted(
                p
                for p in country.glob(f"{publisher}_*.html.gz")
                if p.name[len(publisher) + 1 : len(publisher) + 2].isdigit()
            )
            for version, page in zip(versions.values(), pages, strict=False):
                yield Page(
                    "fundus",
                    f"{country.name}/{page.name}",
                    _read(page),
                    urls.get(page.name, {}).get("url"),
                    fundus_body(version),
                    version,
                )


def iter_newspaper4k(root: Path = DATA) -> Iterator[Page]:
    """newspaper4k-pages: html/<name>.html with txt/<name>.txt, minus empty/note-only texts."""
    base = root / "newspaper4k-pages"
    for txt in sorted((base / "txt").glob("*.txt")):
        html = base / "html" / f"{txt.stem}.html"
        gold = txt.read_text(encoding="utf-8", errors="replace")
        if html.exists() and gold.strip() and not _NOTE.match(gold):
            yield Page("np4k", txt.stem, html.read_bytes(), None, gold)


CORPORA: dict[str, Callable[[], Iterator[Page]]] = {
    "big9": iter_big9,
    "fundus": iter_fundus,
    "np4k": iter_newspaper4k,
}


def spread(pages: list[Page], n: int) -> list[Page]:
    """``n`` pages evenly spaced over the list (all eras/sites of big9, not just the first)."""
    if n >= len(pages):
        return pages
    return [pages[i * len(pages) // n] for i in range(n)]


def ours(page: Page) -> str:
    return extract(page.html, page.url).text


def bare(page: Page) -> str:
    return trafilatura.extract(page.html) or ""


@dataclass(frozen=True)
class Score:
    pages: int
    precision: float
    recall: float
    f1: float


def score(pages: Iterable[Page], extractor: Callable[[Page], str] = ours) -> Score:
    """Mean per-page precision, recall and F1 (4-word shingles)."""
    p, r, f = [], [], []
    for page in pages:
        precision, recall = shingle_scores(extractor(page), page.gold)
        p.append(precision)
        r.append(recall)
        f.append(f1(precision, recall))
    if not f:
        return Score(0, 0.0, 0.0, 0.0)
    return Score(len(f), statistics.mean(p), statistics.mean(r), statistics.mean(f))


def speed_ratio(
    pages: list[Page], reps: int = 3, warmup: bool = True
) -> tuple[float, float, float]:
    """(bare seconds, ours seconds, bare/ours) per pass over ``pages``, interleaved per page so
    load spikes hit both. ``warmup`` first runs both once (lazy imports and caches)."""
    if warmup:
        for page in pages:
            bare(page)
            ours(page)
    t_bare = t_ours = 0.0
    for _ in range(reps):
        for page in pages:
            start = time.perf_counter()
            bare(page)
            t_bare += time.perf_counter() - start
            start = time.perf_counter()
            ours(page)
            t_ours += time.perf_counter() - start
    return t_bare / reps, t_ours / reps, t_bare / t_ours


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(CORPORA), help="comma-separated corpora")
    parser.add_argument("--limit", type=int, default=0, help="pages per corpus (0: all)")
    parser.add_argument("--speed-pages", type=int, default=100, help="big9 pages timed")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--no-warmup", action="store_true", help="no warm-up pass (with --reps 1: a cold process)"
    )
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"corpus not found at {DATA}", file=sys.stderr)
        return 2
    logging.disable(logging.WARNING)  # trafilatura logs every discarded page

    print(f"{'set':8} {'pages':>5}  {'ours P/R/F1':>20}  {'bare P/R/F1':>20}")
    for name in args.sets.split(","):
        pages = list(CORPORA[name]())
        if args.limit:
            pages = spread(pages, args.limit)
        a, b = score(pages, ours), score(pages, bare)
        print(
            f"{name:8} {a.pages:5}  {a.precision:.3f}/{a.recall:.3f}/{a.f1:.3f}"
            f"  {b.precision:.3f}/{b.recall:.3f}/{b.f1:.3f}"
        )

    pages = list(iter_big9())
    sample = spread(pages, args.speed_pages)
    t_bare, t_ours, ratio = speed_ratio(sample, args.reps, warmup=not args.no_warmup)
    print(
        f"speed on {len(sample)} big9 pages ({'cold' if args.no_warmup else 'warm'}): "
        f"bare trafilatura.extract {t_bare:.2f}s, newsdesk extract {t_ours:.2f}s per pass "
        f"-> {ratio:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
