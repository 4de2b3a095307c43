"""Near-duplicate (syndicated copy) detection, and which copy is the original.

Pure code (numpy + rensa, no Django). Two documents are near-duplicates when their *main texts*
share most of their shingles; headlines are ignored (aggregators rewrite them).

Pipeline per document (all vectorised, no Python loop over words):

1. Normalise: lower-case, collapse whitespace, UTF-8 bytes. Punctuation stays attached to words;
   that is harmless here because copies carry the same punctuation.
2. Shingles: the first ``SHINGLE_BYTES`` bytes starting at each word start (each character start
   for scripts written without spaces: CJK, Thai), i.e. word-anchored character shingles of about
   2–3 words. Read straight out of the byte buffer as two unaligned 8-byte integers, so a shingle
   costs a few numpy operations instead of a Python tuple per word n-gram.
3. MinHash (rensa's R-MinHash, 128 slots) on the 64-bit shingle hashes, then LSH banding
   (``BANDS`` × ``ROWS``) in plain dicts, so documents can be evicted.
4. Candidates are verified exactly on the stored shingle sets (sorted ``uint32``, 4 bytes per
   word): ``similarity = max(Jaccard, containment)`` where containment is
   ``|A∩B| / min(|A|, |B|)``, counted only when the smaller side has at least
   ``MIN_CONTAINED`` shingles. Containment is what finds trimmed copies and copies wrapped in
   aggregator boilerplate; the size floor stops a one-line text from "containing" into anything.

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
64 × 2 it is: unrelated texts (J < 0.02) still rarely collide, 3.3 candidates are verified per
doc on the bench, ~10 µs each. Result on the bench: pair precision 1.000, recall 0.999.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np
import rensa

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
_DF_MASK = (1 << 24) - 1
RARE_REFRESH = 256  # added docs between refreshes of a stored doc's rare shingles
_SEED = 0x6E657773  # fixed: signatures are reproducible across processes

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)
_S29, _S32, _S33 = np.uint64(29), np.uint64(32), np.uint64(33)
_SPACE = 0x20
# Bytes that start a character in a script written without spaces (CJK, kana, Hangul
# syllables are spaced, Thai): UTF-8 lead bytes 0xE0..0xEF cover U+0800..U+FFFF.
_NO_SPACE_WORDS = 20  # mean bytes per "word" above which the text has no word separators
_PAD = b"\0" * 16
_IS_SPACE = np.zeros(256, dtype=bool)
_IS_SPACE[list(b" \t\n\r\x0b\x0c")] = True


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


# -- shingles -----------------------------------------------------------------------------------
def _mix(v: np.ndarray) -> np.ndarray:
    v = v * _M1
    v ^= v >> _S29
    v *= _M2
    v ^= v >> _S32
    return v


def _normalise(text: str) -> bytes:
    # NUL is the document separator of _shingle_batch; str.strip drops what the collapse below
    # would drop anyway (and a few more Unicode blanks, identically in both paths).
    return text.lower().replace("\xa0", " ").replace("\0", " ").strip().encode("utf-8")


def _hash_starts(buf: bytes, starts: np.ndarray, width: int) -> np.ndarray:
    # Every unaligned 8-byte window of the buffer, as a uint64 view (no copy).
    win = np.ndarray(shape=(len(buf) - 7,), dtype="<u8", buffer=buf, strides=(1,))
    h = _mix(win[starts])
    for k in range(8, width, 8):
        # Bytes past the text's end are zero, so a short last shingle is still well defined.
        nxt = _mix(win[starts + k] ^ np.uint64(k))
        h ^= (nxt << _S33) | (nxt >> np.uint64(31))
    return (h >> _S32).astype(np.uint32)


def _collapse(raw: np.ndarray) -> np.ndarray:
    """Whitespace runs to one space (cheaper than split/join on the str): a whitespace byte is
    kept only after a non-whitespace byte. Input is stripped, so no space is left at an end."""
    ws = _IS_SPACE[raw]
    keep = ~ws
    keep[1:] |= ws[1:] & keep[:-1]
    return np.where(ws, np.uint8(_SPACE), raw)[keep]


def _shingle_one(data: bytes, width: int) -> np.ndarray:
    n = len(data)
    if not n:
        return np.empty(0, dtype=np.uint32)
    b = _collapse(np.frombuffer(data, dtype=np.uint8))
    n = len(b)
    buf = b.tobytes() + _PAD + b"\0" * 8
    starts = np.flatnonzero(b[: n - 1] == _SPACE) + 1
    if len(starts) * _NO_SPACE_WORDS < n:  # no word separators: anchor at every character
        starts = np.flatnonzero((b & 0xC0) != 0x80)
    else:
        starts = np.concatenate(([0], starts))
    return _hash_starts(buf, starts, width)


def shingle_hashes(text: str, width: int = SHINGLE_BYTES) -> np.ndarray:
    """32-bit hashes of the word-anchored ``width``-byte shingles (8, 16 or 24), unsorted.

    32 bits: two 700-shingle texts share ~1e-4 shingles by collision, far below any signal.
    """
    return _shingle_one(_normalise(text), width)


def _shingle_batch(texts: Sequence[str], width: int = SHINGLE_BYTES) -> list[np.ndarray]:
    """``shingle_hashes`` of many texts, identical results: the texts are joined with 16 NUL
    bytes between them (a shingle reads zeros past its text's end, as for a lone text) so
    each numpy step runs once per batch instead of once per document; at ~700 words per doc
    the per-call overhead of ~15 small numpy steps was most of the shingling cost."""
    data = [_normalise(t) for t in texts]
    out = [np.empty(0, dtype=np.uint32)] * len(data)
    full = [i for i, d in enumerate(data) if d]
    if not full:
        return out
    b = _collapse(np.frombuffer(_PAD.join(data[i] for i in full), dtype=np.uint8))
    buf = b.tobytes() + _PAD + b"\0" * 8
    nul = b == 0
    # Doc starts: position 0 and every end of a NUL gap (texts hold no NUL, see _normalise).
    first = np.concatenate(([0], np.flatnonzero(nul[:-1] & ~nul[1:]) + 1))
    ends = np.append(first[1:] - len(_PAD), len(b))
    words = np.flatnonzero(b[:-1] == _SPACE) + 1
    starts = np.concatenate((first, words))
    starts.sort(kind="stable")
    cut = np.searchsorted(starts, first)
    counts = np.diff(np.append(cut, len(starts)))
    h = _hash_starts(buf, starts, width)
    for j, i in enumerate(full):
        if counts[j] * _NO_SPACE_WORDS < ends[j] - first[j]:  # CJK, Thai: the lone-text path
            out[i] = _shingle_one(data[i], width)
        else:
            out[i] = h[cut[j] : cut[j] + counts[j]]
    return out


def _signatures(hash_sets: Sequence[np.ndarray]) -> np.ndarray:
    """MinHash signatures (n × NUM_PERM uint32) of many shingle-hash arrays in one rensa call."""
    offsets = np.zeros(len(hash_sets) + 1, dtype=np.uint64)
    np.cumsum([len(h) for h in hash_sets], out=offsets[1:])
    flat = (np.concatenate(hash_sets) if hash_sets else np.empty(0)).astype(np.uint64)
    m = rensa.RMinHash.digest_matrix_from_flat_token_hashes(flat, offsets, NUM_PERM, _SEED)
    return np.array(m.to_rows(), dtype=np.uint64).reshape(len(hash_sets), NUM_PERM)


_BAND_COEF = _mix(np.arange(1, ROWS + 1, dtype=np.uint64))
_BAND_SALT = _mix(np.arange(1000, 1000 + BANDS, dtype=np.uint64))


def _band_keys(sigs: np.ndarray) -> np.ndarray:
    """One 64-bit key per LSH band (n × BANDS), salted by band so bands never share buckets."""
    banded = sigs[:, : BANDS * ROWS].reshape(len(sigs), BANDS, ROWS)
    return (banded * _BAND_COEF).sum(axis=2, dtype=np.uint64) ^ _BAND_SALT


def _exact_set(hashes: np.ndarray) -> np.ndarray:
    """Sorted unique (np.unique costs 10x more on these small arrays)."""
    s = np.sort(hashes)
    if len(s) > 1:
        s = s[np.concatenate(([True], s[1:] != s[:-1]))]
    return s


def _minus(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elements of sorted ``a`` not in sorted ``b``."""
    if not len(b):
        return a
    i = np.minimum(np.searchsorted(b, a), len(b) - 1)
    return a[b[i] != a]


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """max(Jaccard, containment of the smaller set) of two sorted unique shingle sets."""
    if not len(a) or not len(b):
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    jac = inter / (len(a) + len(b) - inter)
    small = min(len(a), len(b))
    return max(jac, inter / small) if small >= MIN_CONTAINED else jac


# -- the original among copies ------------------------------------------------------------------
_EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)  # before online news: a parse error, not a date


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _reliable_date(doc: DedupDoc, now: datetime) -> datetime | None:
    if doc.published is None:
        return None
    dt = _aware(doc.published)
    return dt if _EARLIEST <= dt <= now + timedelta(days=1) else None


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

    def rank(d: DedupDoc) -> tuple[int, int, int, datetime, str]:
        votes = canon.get(_norm_url(d.url), 0) if d.url else 0
        credits = len(cited.get(_norm_name(d.source), set()) - {d.id}) if d.source else 0
        dt = _reliable_date(d, now)
        return (-votes, -credits, dt is None, dt or now, d.id)

    return min(group, key=rank)


# -- streaming index ----------------------------------------------------------------------------
@dataclass
class _Entry:
    meta: DedupDoc  # text dropped: only the fields choose_original needs
    shingles: np.ndarray  # sorted unique uint32
    bands: np.ndarray  # BANDS uint64 keys
    ref_time: datetime | None
    rare: np.ndarray | None = None  # shingles not common, as of rare_epoch
    rare_epoch: int = -1


@dataclass
class _Group:
    members: list[str] = field(default_factory=list)
    original: DedupDoc | None = None  # kept after eviction so late copies still point at it


class NearDuplicateIndex:
    """Streaming near-duplicate index: add docs one by one, ask who copies whom.

    Memory per live doc: ~4 bytes per word of text (the exact shingle set) + 512 bytes of LSH
    keys + the metadata (no text). ``max_docs`` and ``window`` evict the oldest-added docs from
    the LSH and shingle stores; an evicted doc's group and original are still answered by
    ``group_of``/``original_of``, at ~100 bytes per doc (id and group), unless
    ``forget_evicted`` drops those too.
    ``window`` compares publication dates (undated docs take the latest date seen), evicting
    in arrival order: right for feeds that arrive roughly in time order.
    """

    def __init__(self, *, threshold: float = THRESHOLD, max_docs: int | None = None,
                 window: timedelta | None = None, forget_evicted: bool = False) -> None:
        self.threshold = threshold
        self.max_docs = max_docs
        self.window = window
        self.forget_evicted = forget_evicted
        self._live: OrderedDict[str, _Entry] = OrderedDict()
        # LSH bucket -> doc id, or a list of ids when shared: most buckets hold one doc, and
        # 64 small lists per doc made garbage collection a visible cost.
        self._buckets: dict[int, str | list[str]] = {}
        self._group_id: dict[str, int] = {}  # doc id -> group number (docs in a group only)
        self._groups: dict[int, _Group] = {}
        self._metas: dict[str, DedupDoc] = {}  # metadata of grouped docs (choose_original)
        self._next_group = 0
        self._latest: datetime | None = None
        self._df = np.zeros(_DF_MASK + 1, dtype=np.uint8)
        self._adds = 0
        self.candidates_checked = 0

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, doc_id: str) -> bool:
        return doc_id in self._live or doc_id in self._group_id

    # -- lookups
    def _rare(self, shingles: np.ndarray) -> np.ndarray:
        return shingles[self._df[shingles & _DF_MASK] < COMMON_DF]

    def _sig_input(self, shingles: np.ndarray) -> np.ndarray:
        # Template shingles would make every copy from one aggregator an LSH candidate of
        # every other: hash the rare ones, unless (almost) nothing is left.
        rare = self._rare(shingles)
        return rare if len(rare) >= MIN_CONTAINED else shingles

    def _prepare_many(self, docs: Sequence[DedupDoc]) -> list[tuple[np.ndarray, np.ndarray]]:
        sets = [_exact_set(h) for h in _shingle_batch([d.text for d in docs])]
        if not sets:
            return []
        keys = _band_keys(_signatures([self._sig_input(s) for s in sets]))
        return list(zip(sets, keys, strict=True))

    def _rare_of(self, entry: _Entry) -> np.ndarray:
        # A stored doc's rare shingles are refreshed once per RARE_REFRESH added docs: the
        # document-frequency lookup is a cache miss per shingle in a 16 MB table, and doing it
        # for every candidate was the largest cost of a lookup. Templates take several stories
        # to become common anyway, so the delay changes nothing measurable.
        epoch = self._adds // RARE_REFRESH
        if entry.rare is None or entry.rare_epoch != epoch:
            entry.rare, entry.rare_epoch = self._rare(entry.shingles), epoch
        return entry.rare

    def _verify(self, a: np.ndarray, a_rare: np.ndarray, b: _Entry) -> float:
        b_rare = self._rare_of(b)
        if min(len(a_rare), len(b_rare)) >= MIN_CONTAINED:
            return similarity(a_rare, b_rare)
        return similarity(a, b.shingles)

    def _matches(self, doc_id: str, shingles: np.ndarray,
                 bands: np.ndarray) -> list[tuple[str, float]]:
        seen: set[str] = {doc_id}
        out: list[tuple[str, float]] = []
        rare = self._rare(shingles)
        buckets = self._buckets
        for key in bands.tolist():
            got = buckets.get(key)
            if got is None:
                continue
            for other in (got,) if isinstance(got, str) else got:
                if other in seen:
                    continue
                seen.add(other)
                self.candidates_checked += 1
                sim = self._verify(shingles, rare, self._live[other])
                if sim >= self.threshold:
                    out.append((other, sim))
        out.sort(key=lambda t: (-t[1], t[0]))
        return out

    def query(self, doc: DedupDoc) -> list[tuple[str, float]]:
        """Live near-duplicates of ``doc`` (not added), most similar first."""
        return self._matches(doc.id, *self._prepare_many([doc])[0])

    # -- updates
    def add(self, doc: DedupDoc) -> str | None:
        """Index ``doc``; return the id of the original it duplicates, None when it is new or
        is itself its group's original. Adding an id twice raises ValueError."""
        return self._add_prepared(doc, *self._prepare_many([doc])[0])

    def add_many(self, docs: Sequence[DedupDoc]) -> list[str | None]:
        """``add`` for a batch: one MinHash call for all of them (faster). Same results as
        ``add`` one by one, except that template shingles learnt inside the batch only count
        from the next batch on."""
        return [self._add_prepared(d, s, k) for d, (s, k) in zip(docs, self._prepare_many(docs),
                                                                  strict=True)]

    def _add_prepared(self, doc: DedupDoc, shingles: np.ndarray, bands: np.ndarray) -> str | None:
        if doc.id in self:
            raise ValueError(f"duplicate id {doc.id!r}")
        matches = self._matches(doc.id, shingles, bands) if len(shingles) else []
        self._count(shingles, self._live[matches[0][0]].shingles if matches else None)
        meta = replace(doc, text="")
        ref = _aware(doc.published) if doc.published else None
        if ref and (self._latest is None or ref > self._latest):
            self._latest = ref
        self._live[doc.id] = _Entry(meta, shingles, bands, ref or self._latest)
        if len(shingles):
            buckets = self._buckets
            for key in bands.tolist():
                got = buckets.get(key)
                if got is None:
                    buckets[key] = doc.id
                elif isinstance(got, str):
                    buckets[key] = [got, doc.id]
                else:
                    got.append(doc.id)
        if matches:
            self._join(meta, [m for m, _ in matches])
        self._evict()
        orig = self.original_of(doc.id)
        return None if orig == doc.id else orig

    def _count(self, shingles: np.ndarray, copied: np.ndarray | None) -> None:
        """Document frequency of shingles, counting each *story* once: a copy only adds what it
        does not share with the doc it copies (its own template), so a story syndicated fifty
        times stays rare while an aggregator's header becomes common after a few stories."""
        new = shingles if copied is None else _minus(shingles, copied)
        idx = new & _DF_MASK
        self._df[idx] = np.minimum(self._df[idx], 254) + 1
        self._adds += 1
        if self._adds % DF_HALF_LIFE == 0:  # decay: templates change, old ones fade
            self._df >>= 1

    def _join(self, meta: DedupDoc, others: list[str]) -> None:
        gids = {self._group_id[o] for o in others if o in self._group_id}
        loose = [o for o in others if o not in self._group_id]
        if gids:  # merge into the largest group, relabel the rest
            gid = max(gids, key=lambda g: len(self._groups[g].members))
        else:
            gid, self._next_group = self._next_group, self._next_group + 1
            self._groups[gid] = _Group()
        group = self._groups[gid]
        candidates = [] if group.original is None else [group.original]
        for g in gids - {gid}:
            old = self._groups.pop(g)
            for m in old.members:
                self._group_id[m] = gid
            group.members.extend(old.members)
            if old.original is not None:
                candidates.append(old.original)
        for doc_id in [*loose, meta.id]:
            self._group_id[doc_id] = gid
            group.members.append(doc_id)
            if doc_id in self._live:
                self._metas[doc_id] = self._live[doc_id].meta
        live = [self._metas[m] for m in group.members if m in self._metas]
        # Evicted originals still compete: a late copy must not displace them by default.
        pool = {d.id: d for d in [*candidates, *live]}
        group.original = choose_original(list(pool.values()))

    def _evict(self) -> None:
        while self._live:
            doc_id, entry = next(iter(self._live.items()))
            too_many = self.max_docs is not None and len(self._live) > self.max_docs
            too_old = (self.window is not None and entry.ref_time is not None
                       and self._latest is not None
                       and entry.ref_time < self._latest - self.window)
            if not (too_many or too_old):
                return
            del self._live[doc_id]
            for key in entry.bands.tolist():
                bucket = self._buckets.get(key)
                if bucket is None:
                    continue
                if isinstance(bucket, str):
                    if bucket == doc_id:
                        del self._buckets[key]
                else:
                    bucket.remove(doc_id)
                    if len(bucket) == 1:
                        self._buckets[key] = bucket[0]
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
