"""Extraction evaluation: newsdesk.pipeline.extract (with and without site learning) vs bare
trafilatura, on every recorded ground-truth set of ../shared/data/web (see its DATA.md).

In one run, on each set: ours with a leave-one-out site template, ours single-page, bare
``trafilatura.extract`` (default, and ``favor_precision=True``). Gold-text sets are scored with
the standard shingle metric; trafilatura-eval with its own must-contain / must-not-contain
snippets. For big9 it also scores templates trained on earlier eras only, counts recurring site
lines leaked into the text, and times extraction with a learned template against bare
trafilatura. Where a set has expected metadata (fundus, trafilatura-eval), titles, authors and
publication days are scored, ours beside trafilatura's extract_metadata.

    .venv/bin/python bench/extraction.py [--sets big9,trafeval,np4k,fundus,readability]
        [--limit N] [--speed-pages N] [--reps N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import re
import sys
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import lxml.html
import trafilatura

from newsdesk.pipeline import extract as extract_module
from newsdesk.pipeline.extract import Extracted, ExtractionError, extract
from newsdesk.pipeline.markdown import fold
from newsdesk.pipeline.metrics import corpus_scores, f1, markdown_line, markdown_text
from newsdesk.pipeline.sitetemplate import PageBlocks, SiteTemplate, page_blocks

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "web"
EXTRACTORS = ("site", "single", "bare", "precise")
LABELS = {
    "site": "ours+site",
    "single": "ours 1-page",
    "bare": "traf default",
    "precise": "traf precision",
}
MARKDOWN = {"site", "single"}  # extractors whose output is Markdown

# newspaper's txt fixtures are its own expected output; some are notes about its failures
# ("MISSED LAST PARAGRAPH", "EXTRACTED NOTHING") rather than text: all-caps Latin, no lower case.
_NOTE = re.compile(r"^[^a-z]*[A-Z][^a-z]*$", re.DOTALL)


@dataclass(frozen=True)
class Page:
    name: str
    html: bytes
    url: str | None
    site: str  # pages of one site share a template
    gold: str = ""  # main text (gold-text sets)
    era: str = ""  # big9 crawl year
    keep: tuple[str, ...] = ()  # trafilatura-eval: snippets that must be extracted
    drop: tuple[str, ...] = ()  # ... and that must not be
    # expected metadata, where the set has it (fundus, trafilatura-eval)
    title: str = ""
    authors: tuple[str, ...] = ()
    day: str = ""  # publication date, YYYY-MM-DD


# --------------------------------------------------------------------------- corpora


def _read(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.suffix == ".gz" else raw


def _host(url: str | None) -> str | None:
    host = urlsplit(url).hostname if url else None
    return host.removeprefix("www.") if host else None


def iter_big9(root: Path) -> Iterator[Page]:
    """site-level-big9: 6 sites x 4 eras x 10 pages with human gold text."""
    base = root / "site-level-big9"
    for entry in json.loads((base / "manifest.json").read_text()):
        yield Page(
            entry["html"],
            _read(base / entry["html"]),
            entry.get("url_hint"),
            entry["site"],
            (base / entry["gold"]).read_text(encoding="utf-8", errors="replace"),
            era=entry["era"],
        )


_AUTHOR_SEP = re.compile(r"\s*(?:;|,|&|\band\b|\bund\b)\s*")


def _author_list(value: str | list[str] | None) -> tuple[str, ...]:
    """trafilatura-eval's author field ("A; B", "A and B", or a list) as names."""
    if isinstance(value, list):
        return tuple(a for a in value if isinstance(a, str) and a.strip())
    return tuple(a for a in _AUTHOR_SEP.split(value or "") if a.strip())


def iter_trafeval(root: Path) -> Iterator[Page]:
    """trafilatura-eval: ~990 pages of mixed genres with with/without snippets."""
    base = root / "trafilatura-eval"
    for url, item in json.loads((base / "evaldata.json").read_text()).items():
        path = next(
            (p for d in ("eval", "cache") if (p := base / d / f"{item['file']}.gz").exists()), None
        )
        if path is not None:  # a few entries have no page upstream
            yield Page(
                item["file"],
                _read(path),
                url,
                _host(url) or item["file"],
                keep=tuple(item.get("with") or ()),
                drop=tuple(item.get("without") or ()),
                title=item.get("title") or "",
                authors=_author_list(item.get("author")),
                day=(item.get("date") or "")[:10],
            )


def iter_newspaper4k(root: Path) -> Iterator[Page]:
    """newspaper4k-pages: html/<name>.html with txt/<name>.txt, minus empty/note-only texts."""
    base = root / "newspaper4k-pages"
    for txt in sorted((base / "txt").glob("*.txt")):
        html = base / "html" / f"{txt.stem}.html"
        gold = txt.read_text(encoding="utf-8", errors="replace")
        if html.exists() and gold.strip() and not _NOTE.match(gold):
            # "al.com1", "cnn_001": the site is the stem without its page number
            site = re.sub(r"_?\d+$", "", txt.stem)
            yield Page(txt.stem, html.read_bytes(), None, site, gold)


def fundus_body(expected: dict) -> str:
    """fundus' expected body as text: summary, then each section's headline and paragraphs."""
    body = expected.get("body") or {}
    parts = list(body.get("summary") or [])
    for section in body.get("sections") or []:
        parts += section.get("headline") or []
        parts += section.get("paragraphs") or []
    return "\n\n".join(parts)


def iter_fundus(root: Path) -> Iterator[Page]:
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
                url = urls.get(page.name, {}).get("url")
                yield Page(
                    f"{country.name}/{page.name}",
                    _read(page),
                    url,
                    _host(url) or publisher,
                    fundus_body(version),
                    title=version.get("title") or "",
                    authors=tuple(version.get("authors") or ()),
                    day=(version.get("publishing_date") or "")[:10],
                )


_BLOCK_TAGS = frozenset(
    {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "blockquote", "pre"}
    | {"td", "th", "tr", "figcaption", "br", "section", "article"}
)


def html_text(markup: bytes) -> str:
    """Visible text of an HTML fragment, a newline after every block so words stay apart."""
    tree = lxml.html.fromstring(markup)
    for elem in tree.iter():
        if isinstance(elem.tag, str) and elem.tag in _BLOCK_TAGS:
            elem.tail = "\n" + (elem.tail or "")
    return tree.text_content()


def iter_readability(root: Path) -> Iterator[Page]:
    """readability-pages: source.html, gold = the text of Readability's expected.html."""
    for case in sorted(p for p in (root / "readability-pages").iterdir() if p.is_dir()):
        source, expected = case / "source.html", case / "expected.html"
        if source.exists() and expected.exists():
            # "nytimes-3": the site is the case name without its number
            site = re.sub(r"-\d+$", "", case.name)
            yield Page(case.name, source.read_bytes(), None, site, html_text(expected.read_bytes()))


CORPORA: dict[str, Callable[[Path], Iterator[Page]]] = {
    "big9": iter_big9,
    "trafeval": iter_trafeval,
    "np4k": iter_newspaper4k,
    "fundus": iter_fundus,
    "readability": iter_readability,
}


def spread(pages: list[Page], n: int) -> list[Page]:
    """``n`` pages evenly spaced over the list (all eras/sites of big9, not just the first)."""
    if not n or n >= len(pages):
        return pages
    return [pages[i * len(pages) // n] for i in range(n)]


# --------------------------------------------------------------------------- site learning


def fingerprint(page: Page) -> PageBlocks | None:
    try:
        return page_blocks(page.html, page.url)
    except ExtractionError:
        return None


def _learned(blocks: Sequence[PageBlocks | None]) -> SiteTemplate:
    template = SiteTemplate()
    for b in blocks:
        if b is not None:
            template.learn(b)
    return template


def by_site(pages: Sequence[Page]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, page in enumerate(pages):
        groups[page.site].append(i)
    return groups


def loo_templates(pages: Sequence[Page]) -> list[SiteTemplate | None]:
    """Per page: its site's template learned on all the site's pages, minus the page itself."""
    out: list[SiteTemplate | None] = [None] * len(pages)
    for idx in by_site(pages).values():
        blocks = [fingerprint(pages[i]) for i in idx]
        template = _learned(blocks)
        for i, b in zip(idx, blocks, strict=True):
            out[i] = template.without(b) if b is not None else None
    return out


def earlier_era_templates(pages: Sequence[Page]) -> list[SiteTemplate | None]:
    """Per page: its site's template learned on that site's pages of earlier eras only (template
    drift: a learned site meets its redesign). The first era has none: single-page."""
    out: list[SiteTemplate | None] = [None] * len(pages)
    for idx in by_site(pages).values():
        blocks = {i: fingerprint(pages[i]) for i in idx}
        for era in sorted({pages[i].era for i in idx}):
            before = [blocks[i] for i in idx if pages[i].era < era]
            template = _learned(before) if before else None
            for i in idx:
                if pages[i].era == era:
                    out[i] = template
    return out


# --------------------------------------------------------------------------- extractors


def ours_extracted(page: Page, site: SiteTemplate | None = None) -> Extracted | None:
    try:
        if site is None:
            return extract(page.html, page.url)
        return extract(page.html, page.url, site=site)
    except ExtractionError:  # empty/binary input: an empty output
        return None


def ours(page: Page, site: SiteTemplate | None = None) -> str:
    result = ours_extracted(page, site)
    return result.text if result else ""


def bare(page: Page) -> str:
    return trafilatura.extract(page.html) or ""


def precise(page: Page) -> str:
    return trafilatura.extract(page.html, favor_precision=True) or ""


def run_all(pages: Sequence[Page]) -> tuple[dict[str, list[str]], list[Extracted | None]]:
    """Every extractor's output for every page, in page order (and, to show what the second
    extractor pays, ours single-page without it); and ours single-page whole, for metadata."""
    templates = loo_templates(pages)
    singles = [ours_extracted(p) for p in pages]
    return {
        "site": [ours(p, t) for p, t in zip(pages, templates, strict=True)],
        "single": [r.text if r else "" for r in singles],
        "bare": [bare(p) for p in pages],
        "precise": [precise(p) for p in pages],
        "no_second": without_second_opinion(pages),
    }, singles


def without_second_opinion(pages: Sequence[Page]) -> list[str]:
    saved = extract_module.SECOND_OPINION_BELOW_CHARS
    extract_module.SECOND_OPINION_BELOW_CHARS = 0  # never asked
    try:
        return [ours(p) for p in pages]
    finally:
        extract_module.SECOND_OPINION_BELOW_CHARS = saved


def second_opinion_note(name: str, outputs: dict[str, list[str]], score: Callable) -> str:
    used = sum(a != b for a, b in zip(outputs["single"], outputs["no_second"], strict=True))
    return (f"  {name}: the second extractor (resiliparse) changed {used} pages; ours 1-page F1 "
            f"{score(outputs['no_second']):.4f} without it, {score(outputs['single']):.4f} with it")


# --------------------------------------------------------------------------- scoring

def norm(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float


def quality(preds: Sequence[str], golds: Sequence[str]) -> Score:
    """Standard metric (scrapinghub/article-extraction-benchmark), see metrics.corpus_scores."""
    return Score(*corpus_scores(preds, golds))


@dataclass(frozen=True)
class Snippets:
    tp: int
    fn: int
    fp: int
    tn: int

    @property
    def score(self) -> Score:
        p = self.tp / max(self.tp + self.fp, 1)
        r = self.tp / max(self.tp + self.fn, 1)
        return Score(p, r, f1(p, r))

    @property
    def accuracy(self) -> float:
        return (self.tp + self.tn) / max(self.tp + self.fn + self.fp + self.tn, 1)


def snippets(preds: Sequence[str], pages: Sequence[Page], markdown: bool) -> Snippets:
    """trafilatura's own evaluation: must-contain snippets found (TP) or not (FN),
    must-not-contain found (FP) or not (TN); substring checks on whitespace-normalised text.
    Markdown output is stripped to plain text first, so ``**`` or ``> `` cannot hide a snippet;
    trafilatura's text is checked as it is, as in its own evaluation."""
    tp = fn = fp = tn = 0
    for pred, page in zip(preds, pages, strict=True):
        text = norm(markdown_text(pred) if markdown else pred)
        found = [norm(s) in text for s in page.keep]
        tp, fn = tp + sum(found), fn + len(found) - sum(found)
        leaked = [norm(s) in text for s in page.drop]
        fp, tn = fp + sum(leaked), tn + len(leaked) - sum(leaked)
    return Snippets(tp, fn, fp, tn)


def _candidate_lines(text: str) -> set[str]:
    lines = (norm(markdown_line(line)) for line in text.split("\n"))
    return {line for line in lines if len(line.split()) >= 3 or len(line) >= 15}


def leaks(preds: Sequence[str], pages: Sequence[Page]) -> tuple[int, int]:
    """(pages with a leaked recurring site block, leaked lines in all): a line in the outputs of
    >= 3 pages of one site that the page's gold text does not contain is site boilerplate."""
    pages_hit = lines_hit = 0
    for idx in by_site(pages).values():
        lines = {i: _candidate_lines(preds[i]) for i in idx}
        counts = Counter(line for i in idx for line in lines[i])
        for i in idx:
            gold = norm(pages[i].gold)
            leaked = [x for x in lines[i] if counts[x] >= 3 and x not in gold]
            pages_hit += bool(leaked)
            lines_hit += len(leaked)
    return pages_hit, lines_hit


# --------------------------------------------------------------------------- metadata


@dataclass
class MetaScore:
    titles: int = 0
    titles_right: int = 0
    authors: int = 0  # expected names
    authors_found: int = 0
    authors_given: int = 0  # names output
    dates: int = 0
    dates_right: int = 0  # within a day (we give UTC, the gold the local day)

    def add(self, page: Page, title: str | None, authors: Sequence[str], day: str) -> None:
        if page.title:
            self.titles += 1
            self.titles_right += fold(title or "") == fold(page.title)
        if expected := {fold(a) for a in page.authors if fold(a)}:
            given = {fold(a) for a in authors if fold(a)}
            self.authors += len(expected)
            self.authors_found += len(expected & given)
            self.authors_given += len(given)
        if page.day:
            self.dates += 1
            with suppress(ValueError):
                gap = date.fromisoformat(day) - date.fromisoformat(page.day)
                self.dates_right += abs(gap.days) <= 1

    def cells(self) -> str:
        def share(a: int, b: int) -> str:
            return f"{a}/{b} {a / max(b, 1):.3f}"
        return (f"title {share(self.titles_right, self.titles):15} "
                f"authors found {share(self.authors_found, self.authors):15} "
                f"right {share(self.authors_found, self.authors_given):15} "
                f"date {share(self.dates_right, self.dates)}")


def metadata_lines(
    name: str, pages: Sequence[Page], singles: Sequence[Extracted | None]
) -> list[str]:
    """Titles, authors and publication days against the set's expected metadata: ours (the
    single-page extractions) and trafilatura's own metadata extraction (extract_metadata, which
    runs htmldate's extensive search)."""
    ours_score, traf_score = MetaScore(), MetaScore()
    for page, r in zip(pages, singles, strict=True):
        if not (page.title or page.authors or page.day):
            continue
        if r is None:
            ours_score.add(page, None, (), "")
        else:
            day = r.published.date().isoformat() if r.published else ""
            ours_score.add(page, r.title, r.authors, day)
        meta = trafilatura.extract_metadata(page.html.decode("utf-8", "replace"),
                                            default_url=page.url)
        names = _author_list(meta.author) if meta else ()
        traf_score.add(page, meta.title if meta else None, names,
                       (meta.date or "")[:10] if meta else "")
    if not ours_score.titles + ours_score.authors + ours_score.dates:
        return []
    return [f"  {name} metadata, ours:          {ours_score.cells()}",
            f"  {name} metadata, traf metadata: {traf_score.cells()}"]


# --------------------------------------------------------------------------- speed


def speed(pages: Sequence[Page], reps: int) -> tuple[float, float, float]:
    """(ours+site pages/s, bare pages/s, fingerprint+learn pages/s) on ``pages``. Templates are
    learned before timing; ours and bare alternate per page so load spikes hit both."""
    t_learn = 0.0
    for idx in by_site(pages).values():
        template = SiteTemplate()
        for i in idx:
            start = time.perf_counter()
            with suppress(ExtractionError):
                template.learn(page_blocks(pages[i].html, pages[i].url))
            t_learn += time.perf_counter() - start
    templates = loo_templates(pages)
    for page, template in zip(pages, templates, strict=True):  # warm-up: imports, caches
        ours(page, template)
        bare(page)
    t_ours = t_bare = 0.0
    for _ in range(reps):
        for page, template in zip(pages, templates, strict=True):
            start = time.perf_counter()
            ours(page, template)
            t_ours += time.perf_counter() - start
            start = time.perf_counter()
            bare(page)
            t_bare += time.perf_counter() - start
    n = len(pages)
    return n * reps / t_ours, n * reps / t_bare, n / t_learn


# --------------------------------------------------------------------------- report


_COL = 21  # "traf precision P/R/F1"
_SET = 19  # "trafeval (snippets)"


def _cells(scores: dict[str, Score]) -> str:
    return "  ".join(
        f"{f'{s.precision:.3f}/{s.recall:.3f}/{s.f1:.3f}':>{_COL}}"
        for s in (scores[k] for k in EXTRACTORS)
    )


def _header() -> str:
    heads = "  ".join(f"{LABELS[k] + ' P/R/F1':>{_COL}}" for k in EXTRACTORS)
    return f"{'set':{_SET}} {'pages':>5}  {heads}"


def evaluate_set(name: str, pages: list[Page]) -> tuple[dict[str, list[str]], list[str]]:
    """Score one set; returns the outputs and lines to print after the table."""
    outputs, singles = run_all(pages)
    notes: list[str] = []
    if name == "trafeval":
        notes.append(second_opinion_note(
            name, outputs, lambda out: snippets(out, pages, True).score.f1))
        counts = {k: snippets(outputs[k], pages, k in MARKDOWN) for k in EXTRACTORS}
        print(
            f"{name + ' (snippets)':{_SET}} {len(pages):5}  "
            f"{_cells({k: c.score for k, c in counts.items()})}"
        )
        for k, c in counts.items():
            notes.append(
                f"  trafeval {LABELS[k]:15} TP {c.tp} FN {c.fn} FP {c.fp} TN {c.tn}"
                f"  accuracy {c.accuracy:.3f}"
            )
    else:
        golds = [p.gold for p in pages]
        texts = {k: [markdown_text(o) for o in outputs[k]] if k in MARKDOWN else outputs[k]
                 for k in EXTRACTORS}
        notes.append(second_opinion_note(
            name, outputs, lambda out: quality([markdown_text(o) for o in out], golds).f1))
        print(
            f"{name:{_SET}} {len(pages):5}  "
            f"{_cells({k: quality(texts[k], golds) for k in EXTRACTORS})}"
        )
    return outputs, notes + metadata_lines(name, pages, singles)


def big9_extras(pages: list[Page], outputs: dict[str, list[str]]) -> list[str]:
    """Earlier-eras protocol (per era) and leaked site blocks, for big9."""
    golds = [p.gold for p in pages]
    era_out = [ours(p, t) for p, t in zip(pages, earlier_era_templates(pages), strict=True)]
    lines = [
        "big9 by era: F1 of ours+site (leave-one-out) / ours+site (trained on earlier eras)"
        " / ours 1-page / traf default"
    ]
    for era in sorted({p.era for p in pages}) + ["all"]:
        sel = [i for i, p in enumerate(pages) if era in ("all", p.era)]
        f1s = [
            quality([markdown_text(out[i]) if md else out[i] for i in sel], [golds[i] for i in sel]).f1
            for out, md in ((outputs["site"], True), (era_out, True), (outputs["single"], True),
                            (outputs["bare"], False))
        ]
        lines.append(f"  {era:5} {len(sel):4} pages  " + " / ".join(f"{f:.3f}" for f in f1s))
    lines.append(
        "big9 pages with a leaked recurring site block (lines in >= 3 outputs of one"
        " site, not in the gold): pages / lines"
    )
    for k in ("site", "single", "bare"):
        hit, total = leaks(outputs[k], pages)
        lines.append(f"  {LABELS[k]:15} {hit:4} / {total}")
    return lines + learning_curve(pages)


CURVE = (0, 1, 2, 3, 5, 10, 20, 39)


def learning_curve(pages: Sequence[Page]) -> list[str]:
    """F1 and leaked site blocks by how many of its site's other pages a page's template learnt:
    the nearest first (same crawl era, then the nearest eras), as a crawler meets a site."""
    golds = [p.gold for p in pages]
    blocks = [fingerprint(p) for p in pages]
    groups = by_site(pages)
    lines = ["big9 learning curve: other pages of the site learnt -> F1 of ours+site, pages with "
             "a leaked recurring site block"]
    for k in CURVE:
        out = []
        for i, page in enumerate(pages):
            others = sorted((j for j in groups[page.site] if j != i),
                            key=lambda j: (abs(int(pages[j].era) - int(page.era)), j))
            out.append(ours(page, _learned([blocks[j] for j in others[:k]]) if k else None))
        hit, _ = leaks(out, pages)
        score = quality([markdown_text(o) for o in out], golds)
        lines.append(f"  {k:3} pages  F1 {score.f1:.3f}  leaked {hit}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(CORPORA), help="comma-separated sets")
    parser.add_argument("--limit", type=int, default=0, help="pages per set, spread (0: all)")
    parser.add_argument("--speed-pages", type=int, default=0, help="big9 pages timed (0: all)")
    parser.add_argument("--reps", type=int, default=3, help="timed passes over the pages")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"bench/extraction.py: {DATA} not found; nothing to measure")
        return 0
    logging.disable(logging.WARNING)  # trafilatura logs every discarded page
    warnings.simplefilter("ignore")  # and dateutil warns about every odd time zone name

    print("P/R/F1: shingle metric vs gold text; trafeval: with/without snippets")
    print(_header())
    notes: list[str] = []
    for name in args.sets.split(","):
        pages = spread(list(CORPORA[name](DATA)), args.limit)
        outputs, set_notes = evaluate_set(name, pages)
        notes += set_notes
        if name == "big9":
            notes += big9_extras(pages, outputs)
    if notes:
        print("\n".join(notes))

    sample = spread(list(iter_big9(DATA)), args.speed_pages)
    ours_rate, bare_rate, learn_rate = speed(sample, args.reps)
    print(
        f"speed on {len(sample)} big9 pages (warm, {args.reps} passes): ours+site "
        f"{ours_rate:.1f} pages/s, traf default {bare_rate:.1f} pages/s, ratio ours/bare "
        f"{ours_rate / bare_rate:.2f}x; fingerprint+learn {learn_rate:.1f} pages/s "
        f"({1000 / learn_rate:.1f} ms/page)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
