"""Near-duplicate benchmark on real article texts with synthetic syndicated copies.

Bases are real texts from ../shared/data: site-level-big9 gold texts, fundus-news bodies,
newspaper4k-pages expected texts and the BASIL articles (2010–2014). For every base we make
copies of the kinds aggregators produce: boilerplate around it (aggregator header, "Denial of
responsibility!" footer, related links), the end or the start trimmed by 10–30 %, 5 % of the
words edited, the headline rewritten (text reflowed), and a combination (boilerplate + 15 % trim
+ 3 % edits). Negatives are the other articles: BASIL triplets (Fox / NYT / HuffPost on the same
event), articles of the same site and era, and every other base.

    .venv/bin/python bench/dedup.py            # accuracy + speed of the shipped settings
    .venv/bin/python bench/dedup.py --sweep    # shingle widths and similarity distributions

Prints pair precision / recall (targets 0.99 / 0.98), recall per copy kind, the original-choice
accuracy (the base is always the earliest-dated doc of its group) and docs/s of hashing+lookup
(target 50,000 docs/s). Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Before numpy is imported: numpy's OpenBLAS starts worker threads at import, and the time
# they spin waiting for work counts in this process's CPU time (time.process_time, the
# default clock): ~3 % of a run on the 2-core machine (the thread's own utime in /proc).
# Nothing timed here uses BLAS.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from newsdesk.pipeline import dedup as dd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
MIN_WORDS = 40  # shorter "articles" are captions and teasers: not what syndication copies


@dataclass
class Base:
    id: str
    title: str
    text: str
    published: datetime
    source: str
    topic: str  # same site (and era) or same BASIL story
    story: str | None = None


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def load_bases(data: Path = DATA) -> list[Base]:
    out: list[Base] = []
    fake = datetime(2015, 1, 1, tzinfo=UTC)

    def synthetic(i: int) -> datetime:  # distinct made-up dates for undated texts
        return fake + timedelta(hours=7 * i)

    web = data / "web"
    manifest = json.loads((web / "site-level-big9" / "manifest.json").read_text())
    for i, m in enumerate(manifest):
        raw = (web / "site-level-big9" / m["gold"]).read_text(encoding="utf-8", errors="replace")
        title, _, text = raw.strip().partition("\n")
        out.append(Base(f"big9:{m['gold']}", title.strip(), text.strip(), synthetic(i),
                        m["site"], f"big9:{m['site']}:{m['era']}"))
    for j, path in enumerate(sorted((web / "fundus-news").glob("*/*.json"))):
        for ver, art in json.loads(path.read_text(encoding="utf-8")).items():
            body = art.get("body") or {}
            paras = list(body.get("summary") or [])
            for sec in body.get("sections") or []:
                paras += list(sec.get("headline") or []) + list(sec.get("paragraphs") or [])
            out.append(Base(f"fundus:{path.parent.name}/{path.stem}:{ver}", art.get("title") or "",
                            "\n\n".join(paras),
                            _date(art.get("publishing_date")) or synthetic(1000 + j),
                            path.stem, f"fundus:{path.stem}"))
    for k, path in enumerate(sorted((web / "newspaper4k-pages" / "txt").glob("*.txt"))):
        text = path.read_text(encoding="utf-8", errors="replace")
        site = re.sub(r"[_\d]+$", "", path.stem)
        out.append(Base(f"n4k:{path.stem}", path.stem, text, synthetic(2000 + k), site,
                        f"n4k:{site}"))
    for path in sorted((data / "story-clusters" / "basil" / "articles").glob("*/*.json")):
        art = json.loads(path.read_text(encoding="utf-8"))
        text = "\n\n".join(" ".join(p) for p in art["body-paragraphs"])
        out.append(Base(f"basil:{path.stem}", art["title"], text,
                        _date(art["date"]) or synthetic(3000), art["source"].lower(),
                        f"basil:{art['triplet-uuid']}", art["triplet-uuid"]))
    return out


def clean_bases(bases: list[Base]) -> tuple[list[Base], list[str]]:
    """Drop short texts and real near-duplicates among the bases (they would be labelled as
    different articles). Returns the kept bases and what was dropped, with the reason."""
    dropped: list[str] = []
    kept: list[Base] = []
    sets: list[np.ndarray] = []
    for b in bases:
        if len(b.text.split()) < MIN_WORDS:
            dropped.append(f"{b.id}: {len(b.text.split())} words")
            continue
        s = dd._exact_set(dd.shingle_hashes(b.text))
        dup = next((kept[i].id for i, o in enumerate(sets) if dd.similarity(s, o) >= 0.6), None)
        if dup:
            dropped.append(f"{b.id}: near-duplicate of {dup}")
            continue
        kept.append(b)
        sets.append(s)
    return kept, dropped


# -- copies -------------------------------------------------------------------------------------
AGGREGATORS = ["WorldNewsNow", "NewsBreak Daily", "Headlines24", "PressHub", "TodayWire"]
HEADERS = [
    "Home » News » World\n{site} | Latest headlines from around the world\nShare on Facebook "
    "Share on Twitter Share on WhatsApp Email\nBy {site} Staff | Updated",
    "You are reading an article from {site}. Follow us on Google News!\nAdvertisement\n",
    "Breaking News | Politics | Business | Tech | Sports | Entertainment\n{site} — your daily "
    "news digest\nListen to this article 5 min\n",
]
DISCLAIMER = (
    "Denial of responsibility! {site} is an automatic aggregator of the all world’s media. In "
    "each content, the hyperlink to the primary source is specified. All trademarks belong to "
    "their rightful owners, all materials to their authors. If you are the owner of the content "
    "and do not want us to publish your materials, please contact us by email – "
    "admin@{host}. The content will be deleted within 24 hours."
)


def _words(text: str) -> list[str]:
    return text.split()


def boilerplate(text: str, rng: random.Random, titles: list[str], site: str) -> str:
    related = "\n".join(f"» {t}" for t in rng.sample(titles, 5))
    host = site.lower().replace(" ", "") + ".com"
    return (HEADERS[rng.randrange(len(HEADERS))].format(site=site) + "\n\n" + text
            + "\n\nSource link\n\nRelated posts:\n" + related + "\n\n"
            + DISCLAIMER.format(site=site, host=host) + "\n© 2024 " + site)


def trim(text: str, frac: float, from_start: bool) -> str:
    w = _words(text)
    cut = round(len(w) * frac)
    return " ".join(w[cut:] if from_start else w[: len(w) - cut])


def edit(text: str, frac: float, rng: random.Random, vocab: list[str]) -> str:
    """Edit ``frac`` of the words: substitutions, deletions, insertions, case changes."""
    w = _words(text)
    for i in sorted(rng.sample(range(len(w)), max(1, round(len(w) * frac))), reverse=True):
        op = rng.random()
        if op < 0.5:
            w[i] = rng.choice(vocab)
        elif op < 0.7:
            del w[i]
        elif op < 0.9:
            w.insert(i, rng.choice(vocab))
        else:
            w[i] = w[i].upper()
    return " ".join(w)


def reflow(text: str, rng: random.Random) -> str:
    """Same words, different line breaks (a CMS re-wrapping paragraphs)."""
    w = _words(text)
    out, line = [], []
    for word in w:
        line.append(word)
        if rng.random() < 0.04:
            out.append(" ".join(line))
            line = []
    out.append(" ".join(line))
    return "\n\n".join(out)


def rewrite_title(title: str, rng: random.Random) -> str:
    w = title.split()
    rng.shuffle(w)
    return rng.choice(["BREAKING: ", "Watch: ", "", "Report: "]) + " ".join(w[: max(3, len(w) - 2)])


KINDS = ["boilerplate", "trim_end", "trim_start", "edit5", "headline", "combo"]


@dataclass
class Doc:
    doc: dd.DedupDoc
    base: str  # gold group
    kind: str  # "base" or a copy kind


def make_docs(bases: list[Base], seed: int = 7) -> list[Doc]:
    rng = random.Random(seed)
    titles = [b.title for b in bases if b.title]
    vocab = [w for b in bases[::7] for w in _words(b.text)[:200]]
    docs: list[Doc] = []
    for b in bases:
        docs.append(Doc(dd.DedupDoc(b.id, b.title, b.text, b.published, b.source,
                                    url=f"https://{b.source}.example/{abs(hash(b.id))}"),
                        b.id, "base"))
        for kind in KINDS:
            site = rng.choice(AGGREGATORS)
            title, text = b.title, b.text
            if kind == "boilerplate":
                text = boilerplate(text, rng, titles, site)
            elif kind == "trim_end":
                text = trim(text, rng.uniform(0.1, 0.3), from_start=False)
            elif kind == "trim_start":
                text = trim(text, rng.uniform(0.1, 0.3), from_start=True)
            elif kind == "edit5":
                text = edit(text, 0.05, rng, vocab)
            elif kind == "headline":
                title, text = rewrite_title(title, rng), reflow(text, rng)
            else:
                text = boilerplate(edit(trim(text, 0.15, False), 0.03, rng, vocab), rng, titles,
                                   site)
            # Copies come later; a fifth carry no date at all.
            published = (None if rng.random() < 0.2
                         else b.published + timedelta(minutes=rng.randint(5, 48 * 60)))
            docs.append(Doc(dd.DedupDoc(f"{b.id}#{kind}", title, text, published, site),
                            b.id, kind))
    return docs


# -- scoring ------------------------------------------------------------------------------------
def pairs_of(groups: dict[str, list[str]]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for members in groups.values():
        ms = sorted(members)
        out.update((a, b) for i, a in enumerate(ms) for b in ms[i + 1:])
    return out


def score(docs: list[Doc], result: dict[str, str | None]) -> dict[str, object]:
    gold: dict[str, list[str]] = defaultdict(list)
    pred: dict[str, list[str]] = defaultdict(list)
    for d in docs:
        gold[d.base].append(d.doc.id)
        pred[result[d.doc.id] or d.doc.id].append(d.doc.id)
    g, p = pairs_of(gold), pairs_of(pred)
    tp = len(g & p)
    group_of = {m: k for k, ms in pred.items() for m in ms}
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for d in docs:
        if d.kind != "base":
            by_kind[d.kind].append(group_of[d.doc.id] == group_of[d.base])
    originals = [result[d.doc.id] is None for d in docs if d.kind == "base"]
    copies_point = [result[d.doc.id] == d.base for d in docs if d.kind != "base"]
    false_pairs = sorted(p - g)
    return {
        "precision": tp / max(len(p), 1), "recall": tp / max(len(g), 1),
        "pairs_pred": len(p), "pairs_gold": len(g),
        "recall_by_kind": {k: sum(v) / len(v) for k, v in by_kind.items()},
        "original_base_chosen": sum(originals) / len(originals),
        "copies_point_to_base": sum(copies_point) / len(copies_point),
        "false_pairs_sample": false_pairs[:5],
    }


def timed_run(docs: list[Doc], repeat: int = 3) -> tuple[dict[str, str | None], dict[str, float]]:
    """Run the index over the docs (arrival order shuffled, batches of 256), timing each step
    (best of ``repeat`` where a step has no side effect)."""
    order = docs[:]
    random.Random(1).shuffle(order)
    ddocs = [d.doc for d in order]
    texts = [d.text for d in ddocs]
    n = len(ddocs)
    chunks = range(0, n, 256)
    t: dict[str, float] = {}
    best = lambda f: min(_clock(f) for _ in range(repeat))  # noqa: E731
    # shingles: normalise + anchored 16-byte shingle hashes (C), unsorted
    t["shingles"] = best(lambda: [dd._shingle_batch(texts[i:i + 256]) for i in chunks])
    t["shingles_per_doc"] = best(lambda: [dd.shingle_hashes(x) for x in texts])
    hs = [dd.shingle_hashes(x) for x in texts]
    t["exact_sets"] = best(lambda: [dd._exact_set(h) for h in hs])
    # prepare: shingles + sorted unique sets (one C call per batch)
    core = dd.NearDuplicateIndex()._core
    t["prepare"] = best(lambda: [core.prepare(texts[i:i + 256]) for i in chunks])
    # MinHash + band keys alone (the C function Core.add calls), on every doc's whole set
    sets = [np.frombuffer(b.set(j), dtype=np.uint32)
            for b in (core.prepare(texts[i:i + 256]) for i in chunks) for j in range(len(b))]
    t["minhash"] = best(lambda: [dd._core.minhash(s, dd.NUM_PERM, dd._SEED) for s in sets])

    lookups: list[float] = []

    def core_only() -> None:  # text in -> matches found, document frequencies counted, indexed
        c = dd.NearDuplicateIndex()._core
        lookup = 0.0
        for i in chunks:
            b = c.prepare(texts[i:i + 256])
            t0 = CLOCK()
            c.add_batch(b, [d.id for d in ddocs[i:i + 256]])
            lookup += CLOCK() - t0
        lookups.append(lookup)
        t["candidates_per_doc_core"] = c.candidates_checked / n

    t["core_total"] = min(_clock(core_only) for _ in range(repeat + 2))
    t["core_add"] = min(lookups)  # the lookup part of those runs
    indexes: list[dd.NearDuplicateIndex] = []

    def many() -> None:
        index = dd.NearDuplicateIndex()
        for i in chunks:
            index.add_many(ddocs[i:i + 256])
        indexes.append(index)

    def streaming() -> None:
        index = dd.NearDuplicateIndex()
        for d in ddocs:
            index.add(d)
        indexes.append(index)

    t["index_add_many"] = min(_clock(many) for _ in range(repeat + 2))
    t["candidates_per_doc"] = indexes[-1].candidates_checked / n
    t["index_add_streaming"] = best(streaming)
    t["candidates_per_doc_streaming"] = indexes[-1].candidates_checked / n
    result = dd.dedup(ddocs)
    return result, t


# CPU time of this process by default: on a shared machine wall time mostly measures the
# neighbours (``--wall`` for wall-clock time). numpy's threads count too.
CLOCK = time.process_time


def _clock(f) -> float:  # type: ignore[no-untyped-def]
    t0 = CLOCK()
    f()
    return CLOCK() - t0


def datasketch_cost(docs: list[Doc], n: int = 200) -> float | None:
    """µs per doc of datasketch MinHash (128 perm) on the same shingle hashes, for comparison."""
    try:
        import datasketch
    except ImportError:
        return None
    hs = [dd.shingle_hashes(d.doc.text).astype(np.uint32) for d in docs[:n]]
    t0 = CLOCK()
    for h in hs:
        m = datasketch.MinHash(num_perm=128, seed=1, hashfunc=int)
        m.update_batch(h.tolist())
    return (CLOCK() - t0) / n * 1e6


# -- sweep --------------------------------------------------------------------------------------
def word_ngrams(text: str, n: int = 3) -> np.ndarray:
    w = text.lower().split()
    grams = {" ".join(w[i:i + n]) for i in range(max(1, len(w) - n + 1))}
    return np.unique(np.array([hash(g) & 0xFFFFFFFF for g in grams], dtype=np.uint32))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / max(len(a) + len(b) - inter, 1)


def sweep(bases: list[Base], docs: list[Doc]) -> None:
    configs = {"word3": word_ngrams,
               **{f"anchored{w}B": (lambda t, w=w: dd._exact_set(dd.shingle_hashes(t, w)))
                  for w in (8, 16, 24)}}
    for name, fn in configs.items():
        sets = {d.doc.id: fn(d.doc.text) for d in docs}
        print(f"\n== {name}")
        sims: dict[str, list[float]] = defaultdict(list)
        jacs: dict[str, list[float]] = defaultdict(list)
        for d in docs:
            if d.kind != "base":
                a, b = sets[d.doc.id], sets[d.base]
                sims[d.kind].append(dd.similarity(a, b))
                jacs[d.kind].append(jaccard(a, b))
        for kind in KINDS:
            s, j = np.array(sims[kind]), np.array(jacs[kind])
            print(f"  {kind:12s} sim min {s.min():.2f} p1 {np.percentile(s, 1):.2f} "
                  f"p5 {np.percentile(s, 5):.2f} | jaccard min {j.min():.2f} "
                  f"p1 {np.percentile(j, 1):.2f} p5 {np.percentile(j, 5):.2f} "
                  f"median {np.median(j):.2f}")
        base_ids = [b.id for b in bases]
        topic = {b.id: b.topic for b in bases}
        neg_same: list[float] = []
        neg_all: list[float] = []
        for i, a in enumerate(base_ids):
            for b in base_ids[i + 1:]:
                s = dd.similarity(sets[a], sets[b])
                (neg_same if topic[a] == topic[b] else neg_all).append(s)
        ns, na = np.array(neg_same), np.array(neg_all)
        worst = max(((dd.similarity(sets[a], sets[b]), a, b) for i, a in enumerate(base_ids)
                     for b in base_ids[i + 1:] if topic[a] == topic[b]), default=None)
        print(f"  same story/site negatives: {len(ns)} pairs, p99.9 {np.percentile(ns, 99.9):.2f}"
              f" max {ns.max():.2f} ({worst[1]} / {worst[2]})" if worst else "")
        print(f"  other negatives: {len(na)} pairs, p99.9 {np.percentile(na, 99.9):.2f} "
              f"max {na.max():.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sweep", action="store_true", help="compare shingle widths")
    ap.add_argument("--wall", action="store_true", help="time wall-clock instead of CPU time")
    args = ap.parse_args()
    global CLOCK
    if args.wall:
        CLOCK = time.perf_counter
    if not (DATA / "web").is_dir():
        print(f"corpus not found at {DATA}", file=sys.stderr)
        return 2
    bases, dropped = clean_bases(load_bases())
    reasons = Counter("near-duplicate" if "near-duplicate" in r else "short" for r in dropped)
    docs = make_docs(bases)
    print(f"{len(bases)} base texts ({dict(reasons)} dropped), {len(docs)} docs, "
          f"mean {np.mean([len(d.doc.text) for d in docs]):.0f} chars / "
          f"{np.mean([len(d.doc.text.split()) for d in docs]):.0f} words per doc")
    for r in dropped:
        if "near-duplicate" in r:
            print("  dropped", r)
    if args.sweep:
        sweep(bases, docs)
        return 0
    result, t = timed_run(docs)
    n = len(docs)
    s = score(docs, result)
    print(f"\nshingles {dd.SHINGLE_BYTES} bytes, {dd.NUM_PERM} perms, {dd.BANDS}x{dd.ROWS} bands, "
          f"threshold {dd.THRESHOLD}")
    print(f"pair precision {s['precision']:.4f} (target 0.99)  recall {s['recall']:.4f} "
          f"(target 0.98)  [{s['pairs_pred']} predicted / {s['pairs_gold']} gold pairs]")
    print("recall by copy kind:", {k: round(v, 4) for k, v in s["recall_by_kind"].items()})
    print(f"original: base chosen {s['original_base_chosen']:.4f}, copies pointing at the base "
          f"{s['copies_point_to_base']:.4f}")
    if s["false_pairs_sample"]:
        print("false pairs (sample):", s["false_pairs_sample"])
    clock = "wall-clock" if CLOCK is time.perf_counter else "CPU"
    print(f"\nspeed on {n} docs (2-core machine, one process, best of 3, {clock} time), "
          "µs per doc:")
    for k, what in (("shingles", "normalise + shingle hashes (C, batches of 256), unsorted"),
                    ("shingles_per_doc", "the same, one call per text"),
                    ("exact_sets", "dd._exact_set() per doc from Python (prepare sorts inside C)"),
                    ("prepare", "Core.prepare: shingles + sorted sets, batches of 256 (C)"),
                    ("minhash", "dd._core.minhash() per set from Python (reference)"),
                    ("core_add", "Core.add_batch: rare shingles, MinHash + band keys, "
                                 "candidates, verification, DF count, indexing (C)")):
        print(f"  {k:22s} {t[k] / n * 1e6:8.1f}   {what}")
    ds = datasketch_cost(docs)
    if ds is not None:
        print(f"  {'datasketch minhash':22s} {ds:8.1f}   (reference, 128 permutations)")
    hashing = t["prepare"]
    print(f"  {'core total':22s} {t['core_total'] / n * 1e6:8.1f}   prepare + lookup, "
          f"one run ({t['candidates_per_doc_core']:.1f} candidates verified per doc)")
    print(f"  {'index.add_many total':22s} {t['index_add_many'] / n * 1e6:8.1f}   core + groups, "
          f"originals, eviction checks in Python ({t['candidates_per_doc']:.1f} candidates per doc)")
    print(f"  {'index.add streaming':22s} {t['index_add_streaming'] / n * 1e6:8.1f}   one doc per "
          f"call ({t['candidates_per_doc_streaming']:.1f} candidates verified per doc)")
    print(f"Core.prepare only: {n / hashing:,.0f} docs/s; "
          f"hashing+lookup (C core: matches found, doc indexed): {n / t['core_total']:,.0f} docs/s; "
          f"NearDuplicateIndex.add_many (+ groups/originals): {n / t['index_add_many']:,.0f} docs/s; "
          f"streaming add(): {n / t['index_add_streaming']:,.0f} docs/s (target 50,000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
