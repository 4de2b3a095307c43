"""Near-duplicate (syndicated copy) detection, and which copy is the original.

Pure code (a C extension, ``_dedupcore.c``, + numpy, no Django). Two documents are
near-duplicates when their *main texts* share most of their shingles; headlines are ignored
(aggregators rewrite them).

Pipeline per document (in C, no Python object per word or shingle):

1. Normalise: lower-case (``str.lower``), U+00A0 and NUL to spaces, strip, UTF-8, runs of ASCII
   whitespace collapsed to one space. Punctuation stays attached to words; that is harmless
   here because copies carry the same punctuation.
2. Shingles: the first ``SHINGLE_BYTES`` bytes starting at each word start (each character start
   for scripts written without spaces: CJK, Thai — fewer than one space per 20 bytes), i.e.
   word-anchored character shingles of about 2–3 words, zero bytes past the end; each hashed to
   32 bits from two unaligned 8-byte reads. Stored as a sorted unique ``uint32`` set.
3. MinHash (128 slots, one-permutation MinHash with optimal densification, in C) on the
   shingles that are not template shingles (below) when the doc is added, then LSH banding
   (``BANDS`` × ``ROWS``) into buckets that documents leave again on eviction.
4. Candidates are verified exactly on the stored shingle sets (4 bytes per word):
   ``similarity = max(Jaccard, containment)`` where containment is ``|A∩B| / min(|A|, |B|)``,
   counted only when the smaller side has at least ``MIN_CONTAINED`` shingles. Containment is
   what finds trimmed copies and copies wrapped in aggregator boilerplate; the size floor stops
   a one-line text from "containing" into anything.
5. Template (boilerplate) shingles, seen in ``COMMON_DF`` or more stories recently, are left out
   of the MinHash input and of verification (see the constants).

The C core (``_dedupcore.Core``) holds one block per doc (band keys, shingle set, rare subset),
the LSH buckets (open addressing, four docs in place per bucket), the document-frequency table
(with a 2 MB bit mirror of "common" and a 64 kB filter of that mirror, so that the rarity tests
mostly hit the cache) and does MinHash, candidate lookup, verification (8 × 8 merge-intersections:
AVX2 where the CPU has it, chosen at import, SSE2 otherwise), counting and eviction. ``Core.prepare`` only hashes (batches of texts);
``Core.add_batch`` adds a prepared batch in one call. Python keeps the public API: groups,
originals (:func:`choose_original`), the ``window`` / ``max_docs`` policy. Shingle hashes and
sets are bit for bit those of the numpy version the constants were measured with
(``tests/pipeline/test_dedup.py`` keeps the numpy shingling as the oracle), so the similarity
figures below still hold (``--sweep`` re-run: unchanged). Build: a C compiler and the Python
headers (``pip install -e .`` compiles it through ``setup.py``). Why hand-written: rensa and
datasketch take a list of Python tokens per document and keep no index that documents can
leave, nor the exact verification; building those tokens alone cost more than this whole path
does now.

MinHash: a 128-permutation MinHash costs 128 hashes per shingle (rensa's R-MinHash, used before,
plus turning its rows into Python ints, took 3–4.5 µs per doc). Here each shingle hash, already
uniform, picks one of 128 bins by one multiplication and the bin keeps its smallest shingle;
empty bins copy a fixed other bin (optimal densification, Shrivastava 2017). Measured on random
sets of 30–700 values: a slot agrees with probability J (0.219–0.224 at J = 0.22, 0.398–0.402 at
0.4) and the 64 × 2 banding proposes a pair at J = 0.22 with probability 0.95–0.97 (theory for
independent permutations 0.958); on the bench the same pairs are found (3.1 candidates verified
per doc, 3.4 before). Signatures are computed when a doc is added, from the rare shingles at
that moment: ``add_many`` now gives exactly the results of ``add`` one by one.

Speed (``bench/dedup.py``: 5,439 docs of 4,484 chars / 719 words on average, batches of 256,
CPU time, best of 3, on a shared 2-core x86_64 VM whose neighbours move figures by ±20 % and
more). Hashing + lookup (the C path from text to an indexed doc with its matches) runs at
53,700–54,300 docs/s (18.4–18.6 µs per doc) with the machine's load at 5–8, where the previous
round gave 42,600–44,800 in alternating runs (47,500–48,100 on quiet runs; 27,000–29,000 with
rensa; the numpy version took 217–227 µs per doc). ``Core.prepare`` (normalise, shingles,
sorted sets) alone runs at ~126,000 docs/s, ``NearDuplicateIndex.add_many`` with the Python
group and original bookkeeping (~11 µs, mostly ``_join`` / ``choose_original``) at ~32,700,
streaming ``add`` at ~22,000. Instructions (callgrind, same docs): 134k per doc (152k without
AVX2), 182k before the last round; see ``_dedupcore.c`` for where they go.

Measurements behind the constants (``bench/dedup.py --sweep``: 777 real base texts, 6 copies
each; negatives are all 301k pairs of different base texts, of which 1,379 share a BASIL story or
a site). Verified similarity of copies (worst kind, 1st percentile) vs the most similar pair of
*different* articles on the same story / any other pair:

- word 3-grams (Python tuples, the reference): copies ≥ 0.77, same story ≤ 0.37, other ≤ 0.07
- 8-byte anchored shingles:                    copies ≥ 0.79, same story ≤ 0.52, other ≤ 0.48
- 16-byte anchored shingles (chosen):          copies ≥ 0.75, same story ≤ 0.40, other ≤ 0.07
- 24-byte anchored shingles:                   copies ≥ 0.71, same story ≤ 0.35, other ≤ 0.04

8 bytes (about one word) is too common across different articles; 16 bytes matches word
3-grams at a fraction of their cost; 24 bytes loses more to 5 % edits. The worst different
pair is a Fox / NYT article quoting the same statements (0.40), the worst copies are boilerplate
+ trim + edits (0.75), so ``THRESHOLD = 0.6`` sits in the middle of that gap.

LSH has to propose pairs down to Jaccard ≈ 0.22 (a short text wrapped in a long aggregator
template; similarity is then found by containment). Probability that a pair at J = 0.22 / 0.4
becomes a candidate: 32 bands × 4 rows 0.07 / 0.56, 42 × 3 0.36 / 0.94, 64 × 2 0.96 / 1.00.
64 × 2 it is: unrelated texts (J < 0.02) still rarely collide, 3.1 candidates are verified per
doc on the bench. Result on the bench: pair precision 1.000, recall 0.999.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np

from newsdesk.pipeline import _dedupcore as _core

__all__ = [
    "BANDS",
    "NUM_PERM",
    "ROWS",
    "SHINGLE_BYTES",
    "THRESHOLD",
    "DedupDoc",
    "NearDuplicateIndex",
    "choose_original",
    "dedup",
    "shingle_hashes",
    "similarity",
]

SHINGLE_BYTES = 16
NUM_PERM = 128
BANDS, ROWS = 64, 2
THRESHOLD = 0.6
MIN_CONTAINED = 25  # shingles (≈ words) the smaller text needs before containment counts
# Template (boilerplate) shingles: seen in COMMON_DF or more distinct stories recently. Counted
# in a 16 MB table of 2^24 uint8 counters (collisions only make a few shingles look common,
# which removes the same shingles from both sides of a comparison: no bias), halved every
# DF_HALF_LIFE added docs.
COMMON_DF = 5
DF_HALF_LIFE = 20_000
# A stored doc keeps the rare subset of its shingles from when it was added (or first compared)
# until the next halving of the table; templates learnt in between are only left out on the
# new doc's side, which can only lower a similarity. Refreshing every 256 adds instead cost
# 3–4 µs per doc (a rarity test per shingle of every candidate) and changed no result here.
RARE_REFRESH = DF_HALF_LIFE
_SEED = 0x6E657773  # fixed: signatures are reproducible across processes

_DF_BITS = 24


@dataclass(frozen=True)
class DedupDoc:
    id: str
    title: str
    text: str
    published: datetime | None = None
    source: str | None = None  # the outlet's name (matched against others' `cites`)
    canonical: str | None = None  # the URL the doc's rel=canonical points to
    url: str | None = None
    cites: tuple[str, ...] = ()  # outlets the text credits ("according to Reuters")


# -- shingles ---------------------------------------------------------------------------------
def shingle_hashes(text: str, width: int = SHINGLE_BYTES) -> np.ndarray:
    """32-bit hashes of the word-anchored ``width``-byte shingles (8, 16, 24 or 32), unsorted,
    as a read-only array.

    32 bits: two 700-shingle texts share ~1e-4 shingles by collision, far below any signal.
    Texts with fewer than one space per 20 bytes (counting the first word) are anchored at
    every character: the rule the index always used (the old numpy one-text helper counted one
    word fewer, so it differed on a few texts right at that edge).
    """
    return np.frombuffer(_core.shingle_batch((text,), width)[0], dtype=np.uint32)


def _shingle_batch(texts: Sequence[str], width: int = SHINGLE_BYTES) -> list[np.ndarray]:
    """``shingle_hashes`` of many texts (one C call)."""
    return [np.frombuffer(b, dtype=np.uint32) for b in _core.shingle_batch(texts, width)]


def _exact_set(hashes: np.ndarray) -> np.ndarray:
    """Sorted unique uint32 (read-only)."""
    return np.frombuffer(_core.exact_set(np.ascontiguousarray(hashes, dtype=np.uint32)),
                         dtype=np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """max(Jaccard, containment of the smaller set) of two sorted unique shingle sets."""
    return _core.similarity(np.ascontiguousarray(a, dtype=np.uint32),
                            np.ascontiguousarray(b, dtype=np.uint32), MIN_CONTAINED)


# -- the original among copies ------------------------------------------------------------------
_EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)  # before online news: a parse error, not a date


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@lru_cache(maxsize=65536)
def _norm_name(name: str) -> str:
    return " ".join(name.casefold().split())


@lru_cache(maxsize=65536)
def _norm_url(url: str) -> str:
    try:
        from newsdesk.pipeline.urls import canonicalize

        return canonicalize(url)
    except Exception:  # an unparsable URL still compares as written
        return url.strip()


def choose_original(group: Sequence[DedupDoc], *, now: datetime | None = None) -> DedupDoc:
    """The original of a group of near-duplicates.

    Signals, strongest first (each only breaks ties of the ones before):
    1. rel=canonical: the doc whose URL the most *other* docs' canonical points to. A publisher
       declaring "the original is over there" is explicit, and dates of copies are often wrong.
    2. credit: the doc whose ``source`` the most other docs cite ("(Reuters) -").
    3. the earliest *reliable* publication date: known, after 1995, not in the future (naive
       dates are read as UTC). Undated docs rank after dated ones.
    4. stable tie-break: the smallest id (independent of arrival order).
    """
    if not group:
        raise ValueError("empty group")
    now = now or datetime.now(UTC)
    canon: dict[str, int] = {}
    for d in group:
        if d.canonical and (not d.url or _norm_url(d.canonical) != _norm_url(d.url)):
            key = _norm_url(d.canonical)
            canon[key] = canon.get(key, 0) + 1
    cited: dict[str, set[str]] = {}
    for d in group:
        for name in d.cites:
            cited.setdefault(_norm_name(name), set()).add(d.id)

    limit = now + timedelta(days=1)  # _reliable_date, inlined: this runs on every join

    def rank(d: DedupDoc) -> tuple[int, int, int, datetime, str]:
        votes = canon.get(_norm_url(d.url), 0) if canon and d.url else 0
        credits = (len(cited.get(_norm_name(d.source), set()) - {d.id})
                   if cited and d.source else 0)
        dt = d.published
        if dt is not None:
            dt = _aware(dt)
            if not _EARLIEST <= dt <= limit:
                dt = None
        return (-votes, -credits, dt is None, dt or now, d.id)

    return min(group, key=rank)


# -- streaming index ----------------------------------------------------------------------------
def _without_text(doc: DedupDoc) -> DedupDoc:
    """``replace(doc, text="")`` at a tenth of the cost (no __init__ through the fields)."""
    if type(doc) is not DedupDoc:
        return replace(doc, text="")
    meta = object.__new__(DedupDoc)
    state = meta.__dict__
    state.update(doc.__dict__)
    state["text"] = ""
    return meta


@dataclass
class _Group:
    members: list[str] = field(default_factory=list)
    original: DedupDoc | None = None  # kept after eviction so late copies still point at it


class NearDuplicateIndex:
    """Streaming near-duplicate index: add docs one by one, ask who copies whom.

    Memory per live doc: ~8 bytes per word of text (the exact shingle set and room for its
    rare subset, in the C core) + 512 bytes of LSH keys + ~32 bytes per LSH bucket entry + the
    metadata (no text).
    ``max_docs`` and ``window`` evict the oldest-added docs from the LSH and shingle stores; an
    evicted doc's group and original are still answered by ``group_of``/``original_of``, at
    ~100 bytes per doc (id and group), unless ``forget_evicted`` drops those too.
    ``window`` compares publication dates (undated docs take the latest date seen), evicting
    in arrival order: right for feeds that arrive roughly in time order.
    """

    def __init__(self, *, threshold: float = THRESHOLD, max_docs: int | None = None,
                 window: timedelta | None = None, forget_evicted: bool = False) -> None:
        self.max_docs = max_docs
        self.window = window
        self.forget_evicted = forget_evicted
        # Shingle sets, LSH buckets, the document-frequency table and verification.
        self._core = _core.Core(threshold=threshold, bands=BANDS, rows=ROWS, num_perm=NUM_PERM,
                                width=SHINGLE_BYTES, df_bits=_DF_BITS, common_df=COMMON_DF,
                                min_contained=MIN_CONTAINED, rare_refresh=RARE_REFRESH,
                                df_half_life=DF_HALF_LIFE, seed=_SEED)
        # doc id -> (metadata without text, reference time), in arrival order (eviction)
        self._live: OrderedDict[str, tuple[DedupDoc, datetime | None]] = OrderedDict()
        self._group_id: dict[str, int] = {}  # doc id -> group number (docs in a group only)
        self._groups: dict[int, _Group] = {}
        self._metas: dict[str, DedupDoc] = {}  # metadata of grouped docs (choose_original)
        self._next_group = 0
        self._latest: datetime | None = None

    @property
    def threshold(self) -> float:
        return self._core.threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._core.threshold = value

    @property
    def candidates_checked(self) -> int:
        """LSH candidates verified exactly so far."""
        return self._core.candidates_checked

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, doc_id: str) -> bool:
        return doc_id in self._live or doc_id in self._group_id

    def _prepare(self, texts: Sequence[str]) -> _core.Batch:
        # Template shingles would make every copy from one aggregator an LSH candidate of
        # every other: the MinHash input is the rare shingles (document frequency now), unless
        # fewer than MIN_CONTAINED are left. Signatures and band keys are computed in C too.
        return self._core.prepare(texts)

    def query(self, doc: DedupDoc) -> list[tuple[str, float]]:
        """Live near-duplicates of ``doc`` (not added), most similar first."""
        return self._core.query(self._prepare((doc.text,)), 0, doc.id)

    # -- updates
    def add(self, doc: DedupDoc) -> str | None:
        """Index ``doc``; return the id of the original it duplicates, None when it is new or
        is itself its group's original. Adding an id twice raises ValueError."""
        return self._add_prepared(doc, self._prepare((doc.text,)), 0)

    def add_many(self, docs: Sequence[DedupDoc]) -> list[str | None]:
        """``add`` for a batch: one C call to hash them all and, without ``max_docs`` or
        ``window`` (nothing to evict between two adds), one to add them all (faster). Same
        results as ``add`` one by one."""
        if not docs:
            return []
        batch = self._prepare([d.text for d in docs])
        if self.max_docs is None and self.window is None:  # nothing evicted between two adds
            ids = [d.id for d in docs]
            live, grouped = self._live, self._group_id
            if len(set(ids)) == len(ids) and not any(i in live or i in grouped for i in ids):
                # one C call for the whole batch (same results as doc by doc)
                record = self._record
                return [record(d, m) for d, m in zip(docs, self._core.add_batch(batch, ids),
                                                       strict=True)]
        add = self._add_prepared
        return [add(d, batch, i) for i, d in enumerate(docs)]

    def _add_prepared(self, doc: DedupDoc, batch: _core.Batch, i: int) -> str | None:
        doc_id = doc.id
        if doc_id in self._live or doc_id in self._group_id:
            raise ValueError(f"duplicate id {doc_id!r}")
        # C: candidates from the LSH buckets, verified; document frequencies counted (a copy
        # only counts what it does not share with its best match); the doc indexed.
        return self._record(doc, self._core.add(batch, i, doc_id))

    def _record(self, doc: DedupDoc, matches: list[tuple[str, float]] | None) -> str | None:
        """The Python side of an add: metadata, groups and originals, eviction."""
        doc_id = doc.id
        meta = _without_text(doc)
        ref = doc.published
        if ref is not None:
            ref = _aware(ref)
            if self._latest is None or ref > self._latest:
                self._latest = ref
        else:
            ref = self._latest
        self._live[doc_id] = (meta, ref)
        if matches:
            self._join(meta, [m for m, _ in matches])
        if self.max_docs is not None or self.window is not None:
            self._evict()
        orig = self.original_of(doc_id)
        return None if orig == doc_id else orig

    def _join(self, meta: DedupDoc, others: list[str]) -> None:
        group_id, groups, metas = self._group_id, self._groups, self._metas
        gids = {group_id[o] for o in others if o in group_id}
        loose = [o for o in others if o not in group_id]
        if len(gids) == 1:
            gid = next(iter(gids))
        elif gids:  # merge into the largest group, relabel the rest
            gid = max(gids, key=lambda g: len(groups[g].members))
        else:
            gid, self._next_group = self._next_group, self._next_group + 1
            groups[gid] = _Group()
        group = groups[gid]
        candidates = [] if group.original is None else [group.original]
        if len(gids) > 1:
            for g in gids - {gid}:
                old = groups.pop(g)
                for m in old.members:
                    group_id[m] = gid
                group.members.extend(old.members)
                if old.original is not None:
                    candidates.append(old.original)
        members = group.members
        for doc_id in [*loose, meta.id]:
            group_id[doc_id] = gid
            members.append(doc_id)
            entry = self._live.get(doc_id)
            if entry is not None:
                metas[doc_id] = entry[0]
        live = [metas[m] for m in members if m in metas]
        # Evicted originals still compete: a late copy must not displace them by default.
        pool = {d.id: d for d in [*candidates, *live]}
        group.original = choose_original(list(pool.values()))

    def _evict(self) -> None:
        live = self._live
        while live:
            doc_id, (_, ref_time) = next(iter(live.items()))
            too_many = self.max_docs is not None and len(live) > self.max_docs
            too_old = (self.window is not None and ref_time is not None
                       and self._latest is not None
                       and ref_time < self._latest - self.window)
            if not (too_many or too_old):
                return
            del live[doc_id]
            self._core.remove(doc_id)  # buckets and shingle sets freed
            self._metas.pop(doc_id, None)
            gid = self._group_id.get(doc_id)
            if gid is not None and self.forget_evicted:
                del self._group_id[doc_id]
                group = self._groups[gid]
                group.members.remove(doc_id)
                if not group.members:
                    del self._groups[gid]

    # -- answers
    def group_of(self, doc_id: str) -> list[str]:
        """Ids of ``doc_id``'s group in arrival order (just ``[doc_id]`` when it has no copy)."""
        gid = self._group_id.get(doc_id)
        if gid is None:
            if doc_id not in self._live:
                raise KeyError(doc_id)
            return [doc_id]
        return list(self._groups[gid].members)

    def original_of(self, doc_id: str) -> str:
        """Id of the original of ``doc_id``'s group (``doc_id`` itself when it is original)."""
        gid = self._group_id.get(doc_id)
        if gid is None:
            if doc_id not in self._live:
                raise KeyError(doc_id)
            return doc_id
        orig = self._groups[gid].original
        return orig.id if orig is not None else doc_id

    def groups(self) -> Iterator[list[str]]:
        """Every group of two or more docs."""
        for g in self._groups.values():
            yield list(g.members)


def dedup(docs: Iterable[DedupDoc], *, threshold: float = THRESHOLD,
          batch: int = 256) -> dict[str, str | None]:
    """Batch: ``id -> duplicate_of`` (None for originals and unique docs), the original of each
    final group chosen by :func:`choose_original` over the whole group. Texts are not kept:
    memory is the index's per-doc cost. Raises ValueError on a repeated id."""
    index = NearDuplicateIndex(threshold=threshold)
    order: list[str] = []
    chunk: list[DedupDoc] = []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) >= batch:
            index.add_many(chunk)
            order.extend(d.id for d in chunk)
            chunk = []
    index.add_many(chunk)
    order.extend(d.id for d in chunk)
    out: dict[str, str | None] = {}
    for doc_id in order:
        orig = index.original_of(doc_id)
        out[doc_id] = None if orig == doc_id else orig
    return out


def lsh_probability(jaccard: float, bands: int = BANDS, rows: int = ROWS) -> float:
    """Chance that a pair with this Jaccard similarity becomes an LSH candidate."""
    return 1.0 - math.pow(1.0 - math.pow(jaccard, rows), bands)
