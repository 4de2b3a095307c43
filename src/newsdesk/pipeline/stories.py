"""Online story (event) clustering across outlets: pure Python, no models, nothing downloaded.

Each article becomes a sparse TF-IDF vector of cheap features (lower-cased words with a light
plural fold, numbers, title words and capitalised words weighted up) over IDF statistics kept
online in a bounded vocabulary (with a prior of virtual documents, so a cold stream's IDF is
not noise). An article joins the active story whose centroid is most cosine-similar if that
similarity reaches ``threshold``, scaled by the story's size: a one-article story needs 1.2x
the threshold, an established one a little less than 1x. Else it starts a new story. Stories
that are still one or two articles ``recheck_after`` joins later get one second look against
the stories formed since, and merge into one they now match; merges are announced
(:meth:`StoryClusterer.drain_merges`).

Bench (``bench/stories.py``, development halves, one set of constants): B-cubed F1
googlenews_TS 0.960, googlenews_T 0.809, mstream News-T 0.823, BASIL 0.990; BASIL (full texts,
the slowest per article) 1,800-3,300 docs/s of CPU depending on the machine's load (~2,900
quiet), googlenews_TS 2,900-5,700.

Streaming costs: candidate stories come from an inverted index over each *active* story's top
centroid terms, so the work per article depends on the active stories sharing its terms, never
on the archive. A story is active while the stream time is within ``window`` of its last update;
after that it closes and leaves memory (its final :class:`StoryInfo` waits in a small buffer for
:meth:`StoryClusterer.drain_closed`). Articles without a publication time arrive "now" (the
clock), so the input order is the time order.
"""

from __future__ import annotations

import bisect
import heapq
import json
import math
import re
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import repeat
from operator import add, itemgetter, mul
from typing import Any

__all__ = ["StoryClusterer", "StoryDoc", "StoryInfo", "cluster", "features"]

# 2 added the re-check queue ("recheck") and its parameters; version 1 states still load (with
# an empty queue and the default re-check parameters).
STATE_VERSION = 2
_READABLE_STATES = (1, 2)


@dataclass(frozen=True)
class StoryDoc:
    id: str
    title: str
    text: str
    published: datetime | None = None
    source: str | None = None


@dataclass(frozen=True)
class StoryInfo:
    id: int
    members: tuple[str, ...]  # doc ids in time order
    headline: str  # the member title closest to the story's centroid
    outlets: int  # distinct sources among members
    first_seen: datetime
    last_updated: datetime
    original_reporter: str | None  # source of the earliest member
    closed: bool = False


# -- features -----------------------------------------------------------------------------------
_TOKEN = re.compile(r"[^\W_]+(?:['’.][^\W_]+)*")
# Function words plus newswire boilerplate: cheap and language-agnostic enough for IDF to do
# the rest (it down-weights what every story says anyway).
_STOP_WORDS = """
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its itself just
me more most my myself no nor not now of off on once only or other our ours out over own same she
should so some such than that the their theirs them themselves then there these they this those
through to too under until up very was we were what when where which while who whom why will with
would you your yours yourself said says say told tell according new one two year years mr mrs ms
like get got make made many much may might must us also still even back well since per via s t
last first week day today yesterday tuesday monday wednesday thursday friday saturday sunday
"""
# Measured and dropped on the tokenizer: a memo keyed on (separator, token) pairs so a text
# maps to terms in C (map + Counter) was 7% slower warm and slower still cold (BASIL's
# vocabulary is mostly new to the memo when the bench reaches it); so was a per-token memo with
# the passes in C (map, compress, Counter: 204 vs 188 us/doc of features on BASIL, cold). The
# regex is most of the cost, not the loop.
# Other languages' function words from jusText's stoplists (shipped with trafilatura): without
# them every article of, say, a Spanish outlet shares "de la que el los" and they clump together.
# English keeps the hand list above, which the bench was tuned with.
_OTHER_LANGUAGES = ("German", "French", "Spanish", "Italian", "Portuguese", "Dutch")


def _stoplist() -> frozenset[str]:
    words = set(_STOP_WORDS.split())
    try:
        import justext

        for language in _OTHER_LANGUAGES:
            words |= {w.casefold() for w in justext.get_stoplist(language)}
    except (ImportError, ValueError):  # pragma: no cover - jusText comes with trafilatura
        pass
    return frozenset(words)


_STOP = _stoplist()
TITLE_WEIGHT = 2.0  # a headline states the event; its words count as two body mentions
CAPS_WEIGHT = 1.5  # capitalised mid-sentence words are names: the cheapest entity signal
# The lede carries the event, and the body is most of the cost (the tokenizer's findall and
# per-token loop): 200 kept words (was 400) alone took BASIL from ~1,850 to ~2,400 docs/s
# (~2,900 with the faster vectorising and tokenizing), with the same F1 there (one doc either
# way across 120-400; measured before the IDF prior, its 3,650-day-window stress variant, where
# every story competes, was no worse: B3-F1 0.902 at 200 vs 0.882 at 400).
MAX_TOKENS = 200
MAX_CHARS = 20_000


def _fold(tok: str) -> str:
    # Light plural fold ("talks" ~ "talk", "Steele's" ~ "steele"); a stemmer would be overkill.
    if tok.endswith(("'s", "’s")):
        return tok[:-2]
    if len(tok) > 3 and tok[-1] == "s" and tok[-2] not in "su'i":
        return tok[:-1]
    return tok


_FOLDED: dict[str, str] = {}  # raw token -> folded term ("" for a stop word)


# One split (in C) instead of a match object per token: with the token pattern as its capturing
# group, re.split returns [separator, token, separator, token, ..., tail], and the separator
# before a token is all the capital-letter rule needs. A "." sentinel stands for the text's
# start. (findall of r"(\W*)(token)" gave the same tokens and rule results, one tuple per
# token, and was ~20% slower.) Possessive quantifiers: the same matches (nothing follows a
# token that backtracking could satisfy) with ~10% less work in the regex engine.
_TOKEN_SPLIT = re.compile(r"([^\W_]++(?:['’.][^\W_]++)*+)")
# The same split on ASCII text, ~30% cheaper (a class test per character instead of Unicode
# lookups). English news is ASCII but for a few punctuation marks, so those are first mapped to
# ASCII stand-ins that play the same part: "’" becomes "`", a joiner here (the text's own "`"
# becomes ")"); the others keep whether they are whitespace and whether they open a sentence
# (_SENTENCE_START), so tokens and the capital-letter rule come out the same. Anything else
# non-ASCII takes the Unicode split.
_ASCII_SPLIT = re.compile(r"([a-zA-Z0-9]++(?:['`.][a-zA-Z0-9]++)*+)")
_TO_ASCII = (("`", ")"), ("’", "`"), ("“", '"'), ("‘", '"'), ("—", ":"), ("”", ")"), ("–", ")"),
             ("…", ")"), ("\xa0", " "))
_SENTENCE_START = frozenset(".!?\"“‘'—:")


def _split(text: str) -> list[str]:
    if text.isascii():
        return _ASCII_SPLIT.split(text.replace("`", ")"))
    ascii_text = text
    for a, b in _TO_ASCII:
        ascii_text = ascii_text.replace(a, b)
    if ascii_text.isascii():
        return _ASCII_SPLIT.split(ascii_text)
    return _TOKEN_SPLIT.split(text)


def _term(raw: str) -> str:
    """Folded term of a raw token, "" for a stop word (raw "`" is the ASCII split's "’")."""
    low = raw.replace("`", "’").lower()
    if low in _STOP or (len(low) < 2 and not low.isdigit()):
        return ""
    return _fold(low.replace("’", "'"))


def _name_start(sep: str) -> bool:
    """Whether a capitalised word after ``sep`` reads as a name: a capital at a sentence (or
    quote) start, or after a paragraph break (3+ blanks), says nothing about a name. An empty
    ``sep`` (or only 1-2 blanks) follows the previous word."""
    head = sep.rstrip()
    if len(sep) - len(head) >= 3:
        return False
    return not head or head[-1] not in _SENTENCE_START


def _add_counts(tf: dict[str, float], keys: list[str], weight: float) -> None:
    # Counting in C (Counter) rather than one dict update per token. (Adding the counts to tf
    # with map/zip as well took more instructions than this loop: 2.92 -> 3.02 M per BASIL doc.)
    for key, k in Counter(keys).items():
        tf[key] = tf.get(key, 0.0) + k * weight


def _count(text: str, weight: float, tf: dict[str, float], limit: int) -> None:
    n = 0
    cache = _FOLDED
    if len(cache) > 200_000:  # bounded memo of folded forms
        cache.clear()
    plain: list[str] = []
    named: list[str] = []
    parts = _split("." + text[: min(MAX_CHARS, 12 * limit)])
    for sep, raw in zip(parts[0::2], parts[1::2], strict=False):  # (the tail has no token)
        key = cache.get(raw)
        if key is None:
            key = cache[raw] = _term(raw)
        if not key:
            continue
        # (a single blank, the usual separator, always reads as a name: no call for it)
        if raw[0].isupper() and (sep == " " or _name_start(sep)):
            named.append(key)
        else:
            plain.append(key)
        n += 1
        if n >= limit:
            break
    if plain:
        _add_counts(tf, plain, weight)
    if named:
        _add_counts(tf, named, weight * CAPS_WEIGHT)


def features(title: str, text: str) -> dict[str, float]:
    """Weighted term counts of an article (before IDF)."""
    tf: dict[str, float] = {}
    if title:
        _count(title, TITLE_WEIGHT, tf, 64)
    if text:
        _count(text, 1.0, tf, MAX_TOKENS)
    return tf


# -- clusterer ----------------------------------------------------------------------------------
# IDF = log((n + 1 + IDF_PRIOR) / df): IDF_PRIOR virtual documents that contain no term. Without
# them a stream's first stories are scored on an IDF of a handful of documents, where every
# shared word looks common (BASIL's first triplet, three outlets on Beck at CPAC, split three
# ways). 30 took BASIL from 0.979 to 0.990 and left googlenews within noise (on 5,838 docs it
# is a constant shift of ~0.005); 10 gave BASIL 0.985; 100 gave 0.990 on its own but 0.981
# with the size-aware threshold below.
IDF_PRIOR = 30.0
# Size-aware joining: an article needs SINGLETON_FACTOR x threshold to join a one-article story
# (one shared-topic pair is weak evidence and chains different stories: googlenews' two HIV
# stories fused at their second article), and joining an established story gets easier by
# SIZE_SLOPE x threshold per decade of its size (its centroid is the story's consensus, not
# one article's wording). Measured together with the re-check below (B3-F1, given order /
# mean of 3 shuffles): googlenews_TS 0.956/0.945 -> 0.960/0.950, googlenews_T 0.778/0.757 ->
# 0.809/0.774, mstream 0.800 -> 0.823, BASIL 0.990 (the prior's). Every neighbour (factor
# 1.1-1.3 x slope 0.05-0.15) beats the old defaults on the shuffled means (TS 0.947-0.952, T
# 0.767-0.776) but the given order swings 0.952-0.960; factor 1.3 starts splitting BASIL's
# triplets (0.985). Slope 0.2-0.3 merges stories (TS 0.946-0.935); a threshold rising with
# size fragments them (TS 0.948/0.939 at +0.1).
SINGLETON_FACTOR = 1.2
SIZE_SLOPE = 0.1
# Measured and dropped (googlenews_TS B3-F1 given order / mean of 3 shuffles unless said):
# - Merging stories of 3+ articles whose centroids converge: at the end of the googlenews_TS
#   stream, same-story fragment pairs sit at centroid cosine 0.16-0.23 among as many
#   different-story pairs at 0.10-0.23; no cut separates them.
# - Skip-stop-word bigrams (first 64 tokens, weight 0.5 / 0.25 of a word): more precision, far
#   less recall; with the threshold lowered to make up, 0.951/- and 0.955/- vs 0.956.
# - Lede weighting (first 6 or 12 body words x1.5 or x2): shuffled mean +0.001..+0.005, given
#   order 0.941-0.958; not a clear gain, not kept.
# - Lower merge_threshold (0.20, 0.22): googlenews_T/mstream up 0.01-0.02, googlenews_TS down
#   to 0.944; higher (0.28, 0.30): T and mstream down 0.02-0.03.
class _Story:
    __slots__ = ("absorbed", "centroid", "first", "indexed", "last", "members", "norm", "norm_n",
                 "sid", "size")

    def __init__(self, sid: int, t: float) -> None:
        self.sid = sid
        # Sum of the members' unit vectors *without* IDF: IDF is applied at comparison time with
        # the current statistics, so stories started while IDF was still noisy are not stuck
        # with that noise.
        self.centroid: dict[str, float] = {}
        self.norm = 0.0  # of the IDF-weighted centroid, as of document count norm_n
        self.norm_n = 0.0
        self.size = 0
        self.first = t
        self.last = t
        self.indexed: tuple[str, ...] = ()
        self.absorbed: list[int] = []  # ids of stories merged into this one (their aliases)
        # (time, seq, doc id, title, source), sorted: late-arriving older docs are inserted.
        self.members: list[tuple[float, int, str, str, str | None]] = []


def _size_scale(size: int) -> float:
    """Similarity multiplier equivalent to the size-aware threshold (see SIZE_SLOPE)."""
    if size <= 1:
        return 1.0 / SINGLETON_FACTOR
    return 1.0 / max(0.5, 1.0 - SIZE_SLOPE * math.log10(size))


_SCALES = [_size_scale(n) for n in range(1024)]


def _ts(dt: datetime) -> float:
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class StoryClusterer:
    """Incremental clustering of a time-ordered article stream into stories.

    ``threshold``: cosine between an article and a story centroid needed to join it.
    ``window``: a story accepts articles up to this long after its last update, then closes.
    ``doc_terms``: top TF-IDF terms kept per article; ``index_terms``: top centroid terms of a
    story put in the inverted index; ``centroid_terms``: centroid size cap; ``merge_threshold``:
    centroid cosine at which two stories an article would both join merge; ``recheck_after``:
    joins after a story starts before it is re-checked (``None``: never), if it has at most
    ``recheck_size`` articles then; ``max_vocab``:
    vocabulary bound for the online document frequencies; ``max_active``: hard cap on open
    stories (the least recently updated closes first); ``clock``: "now" for undated articles.
    """

    def __init__(self, *, threshold: float = 0.10, window: timedelta = timedelta(days=3),
                 doc_terms: int = 48, index_terms: int = 24, centroid_terms: int = 256,
                 candidates: int = 16, merge_threshold: float | None = 0.25,
                 recheck_after: int | None = 1000, recheck_size: int = 2,
                 max_vocab: int = 200_000, max_active: int = 20_000,
                 clock: Callable[[], datetime] | None = None) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        if window <= timedelta(0):
            raise ValueError("window must be positive")
        self.threshold = threshold
        self.window = window
        self.doc_terms = doc_terms
        self.index_terms = index_terms
        self.centroid_terms = centroid_terms
        self.candidates = candidates
        self.merge_threshold = merge_threshold
        # Re-check (with the size-aware threshold; googlenews_TS B3-F1 given order / mean of 3
        # shuffles): never 0.960/0.947, after 500 joins 0.961/0.946, after 1000 0.960/0.950 and
        # mstream 0.815 -> 0.823. Before the size-aware threshold, re-checking stories of up to
        # 3 articles (0.956/0.942 at 500) or an earlier look (200: 0.946/0.941) re-homed what
        # only looked alike. Cost: one candidate search per new story, not per article.
        self.recheck_after = recheck_after
        self.recheck_size = recheck_size
        self._recheck: deque[tuple[int, int]] = deque()  # (due join seq, sid) of new stories
        self.max_vocab = max_vocab
        self.max_active = max_active
        self._clock = clock or (lambda: datetime.now(UTC))
        self._win = window.total_seconds()
        self._df: dict[str, float] = {}
        # log of every _df count, and log(_n + 1): IDF is then one lookup and a subtraction.
        # It is read ~100 times per article (centroid norms, index terms), where math.log per
        # read was the clusterer's largest cost.
        self._logdf: dict[str, float] = {}
        self._n = 0.0  # docs counted in _df (decays with it)
        self._logn = 0.0
        self._seq = 0
        self._next_sid = 1
        self._now = -math.inf  # stream time: the latest article time seen
        self._stories: dict[int, _Story] = {}
        self._index: dict[str, set[int]] = {}
        self._expiry: list[tuple[float, int]] = []  # (last update, sid); lazy entries
        self._doc_story: dict[str, int] = {}  # ids of active stories' members
        self._closed: dict[int, StoryInfo] = {}
        self.closed_buffer = 10_000
        self._alias: dict[int, int] = {}  # merged-away story id -> the story that absorbed it
        self._merges: list[tuple[int, int]] = []  # (absorbed, into), for the caller to drain

    # -- public API ---------------------------------------------------------------------------
    def add(self, doc: StoryDoc) -> int:
        """Assign ``doc`` to a story and return the story id (re-adding an id is a no-op)."""
        known = self._doc_story.get(doc.id)
        if known is not None:
            return known
        t = _ts(doc.published) if doc.published is not None else _ts(self._clock())
        if t > self._now:
            self._now = t
            self._expire()
        vec, raw = self._vectorise(features(doc.title, doc.text))
        best, best_sim, also = self._best(vec, t)
        if best is None or best_sim < self.threshold:
            best = _Story(self._next_sid, t)
            self._next_sid += 1
            self._stories[best.sid] = best
            if len(self._stories) > self.max_active:
                self._close_oldest()
            if self.recheck_after is not None:
                self._recheck.append((self._seq + 1 + self.recheck_after, best.sid))
        self._join(best, raw, t, doc)
        if self.merge_threshold is not None:
            for other in also:
                if self._similarity(best, other) >= self.merge_threshold:
                    self._merge(best, other)
        sid = best.sid
        rq = self._recheck
        while rq and rq[0][0] <= self._seq:  # at most one new story came due per join
            self._recheck_story(rq.popleft()[1])
        return self.resolve(sid)

    def _recheck_story(self, sid: int) -> None:
        """Give a story that is still one or two articles ``recheck_after`` joins after it
        started a second look: it may belong to a story that formed (or grew) after it. If
        it now clears the threshold against one, it merges in (announced like any merge)."""
        s = self._stories.get(sid)
        if s is None or s.size > self.recheck_size:
            return
        norm = self._norm(s)
        if norm <= 0:
            return
        logn, logdf = self._logn, self._logdf
        vec = {t: w * (logn - logdf.get(t, 0.0)) / norm for t, w in s.centroid.items()}
        best, best_sim, _ = self._best(vec, s.last, exclude=sid)
        if best is not None and best_sim >= self.threshold:
            self._merge(best, s)

    def story(self, story_id: int) -> StoryInfo:
        """The story as it stands (or as it was when it closed, while still buffered)."""
        story_id = self.resolve(story_id)
        s = self._stories.get(story_id)
        if s is not None:
            return self._info(s, closed=False)
        return self._closed[story_id]

    def resolve(self, story_id: int) -> int:
        """The id a story now goes by: merges re-home a fragment's members in another story."""
        while story_id in self._alias:
            story_id = self._alias[story_id]
        return story_id

    def drain_merges(self) -> list[tuple[int, int]]:
        """``(absorbed, into)`` story merges since the last call, for the caller to apply."""
        out, self._merges = self._merges, []
        return out

    def active(self) -> list[int]:
        return list(self._stories)

    def drain_closed(self) -> list[StoryInfo]:
        """Stories closed since the last call, for the caller to persist."""
        out = list(self._closed.values())
        self._closed.clear()
        return out

    def close_expired(self, now: datetime | None = None) -> None:
        """Advance stream time (e.g. between crawls) and close what fell out of the window."""
        t = _ts(now or self._clock())
        if t > self._now:
            self._now = t
        self._expire()

    # -- internals ----------------------------------------------------------------------------
    def _idf(self, term: str) -> float:
        return self._logn - self._logdf.get(term, 0.0)

    def _weighted(self, c: dict[str, float]) -> dict[str, float]:
        """``c`` with the current IDF applied."""
        # (map/zip in C instead measured 5-10% faster on googlenews_TS's large centroids and as
        # much slower on mstream's small ones: not kept. Likewise map/zip for _best's dot
        # products and _join's centroid update, with the query's IDF carried over from
        # _vectorise: more instructions per doc, not fewer, on BASIL and googlenews_TS.)
        logn, logdf = self._logn, self._logdf
        return {t: w * (logn - logdf.get(t, 0.0)) for t, w in c.items()}

    def _vectorise(self, tf: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
        """(unit TF-IDF vector, the same without IDF) of the top ``doc_terms`` terms."""
        # map/zip over a long article's few hundred terms run in C: a per-term Python loop was
        # a third of the cost of a long article. (A loop for short texts beside it saved ~4 us
        # a googlenews title, ~5 % of its clustering cost and within the noise of alternating
        # bench runs: not worth a second copy of this computation.)
        df, logdf, log = self._df, self._logdf, math.log
        terms = list(tf)
        counts = list(map(add, map(df.get, terms, repeat(0.0)), repeat(1.0)))
        df.update(zip(terms, counts, strict=True))
        logs = list(map(log, counts))
        logdf.update(zip(terms, logs, strict=True))
        self._n += 1.0
        self._logn = logn = log(self._n + 1.0 + IDF_PRIOR)
        if len(df) > self.max_vocab:
            self._decay()
            logn, logdf = self._logn, self._logdf
            logs = list(map(logdf.get, terms, repeat(0.0)))
        idfs = list(map(logn.__sub__, logs))
        cs = tf.values()
        if min(cs, default=1.0) >= 1.0:  # sublinear tf (every feature weight is at least 1)
            ws = list(map(mul, map(add, repeat(1.0), map(log, cs)), idfs))
        else:
            ws = [((1.0 + log(c)) if c >= 1.0 else c) * i for c, i in zip(cs, idfs, strict=True)]
        items = list(zip(terms, ws, idfs, strict=True))
        if len(items) > self.doc_terms:  # stable: ties keep first-seen order, as nlargest did
            items = sorted(items, key=itemgetter(1), reverse=True)[: self.doc_terms]
        norm = math.sqrt(sum(w * w for _, w, _ in items)) or 1.0
        vec = {term: w / norm for term, w, _ in items if w > 0}
        raw = {term: w / norm / i for term, w, i in items if w > 0}
        return vec, raw

    def _norm(self, s: _Story) -> float:
        # Recomputed when IDF has moved (the document count grew by 5%) or the story changed.
        if s.norm_n * 1.05 < self._n or s.norm_n == 0.0:
            s.norm = math.sqrt(sum(w * w for w in self._weighted(s.centroid).values()))
            s.norm_n = self._n
        return s.norm

    def _decay(self) -> None:
        # Halve every count and drop what reaches below one: bounded memory, and old topics
        # fade from the statistics the way they fade from the news.
        self._df = {k: v / 2 for k, v in self._df.items() if v >= 2.0}
        self._n /= 2
        self._relog()

    def _relog(self) -> None:
        self._logdf = {k: math.log(v) for k, v in self._df.items()}
        self._logn = math.log(self._n + 1.0 + IDF_PRIOR)

    def _best(self, vec: dict[str, float], t: float, exclude: int = 0
              ) -> tuple[_Story | None, float, list[_Story]]:
        index, stories = self._index, self._stories
        hits: dict[int, float] = {}
        for term, w in vec.items():
            posting = index.get(term)
            if posting:
                for sid in posting:
                    hits[sid] = hits.get(sid, 0.0) + w
        hits.pop(exclude, None)
        if not hits:
            return None, 0.0, []
        if len(hits) > self.candidates:
            cands = heapq.nlargest(self.candidates, hits, key=hits.__getitem__)
        else:
            cands = list(hits)
        # Current IDF applies to both sides: the article's own weights carry it once already.
        q = self._weighted(vec)
        best, best_sim = None, -1.0
        scales = _SCALES
        also: list[_Story] = []  # other stories this article would have joined too
        for sid in cands:
            s = stories[sid]
            if abs(t - s.last) > self._win:
                continue
            c = s.centroid
            dot = 0.0
            for term, w in q.items():
                cw = c.get(term)
                if cw is not None:
                    dot += w * cw
            norm = self._norm(s)
            sim = dot / norm if norm > 0 else 0.0
            size = s.size  # the size-aware threshold (best: the one clearing its bar by most)
            sim *= scales[size] if size < 1024 else _size_scale(size)
            if sim >= self.threshold:
                also.append(s)
            if sim > best_sim:
                best, best_sim = s, sim
        return best, best_sim, [s for s in also if s is not best]

    def _similarity(self, a: _Story, b: _Story) -> float:
        small, large = (a, b) if len(a.centroid) < len(b.centroid) else (b, a)
        lc = large.centroid
        dot = 0.0
        logn, logdf = self._logn, self._logdf
        for term, w in small.centroid.items():
            lw = lc.get(term)
            if lw is not None:
                idf = logn - logdf.get(term, 0.0)
                dot += w * lw * idf * idf
        na, nb = self._norm(a), self._norm(b)
        return dot / (na * nb) if na > 0 and nb > 0 else 0.0

    def _merge(self, into: _Story, other: _Story) -> None:
        """Absorb ``other`` (a fragment the stream has now bridged) into ``into``."""
        c = into.centroid
        for term, w in other.centroid.items():
            c[term] = c.get(term, 0.0) + w
        if len(c) > 2 * self.centroid_terms:
            into.centroid = dict(heapq.nlargest(self.centroid_terms, c.items(),
                                                key=lambda kv: kv[1]))
        into.norm_n = 0.0
        into.size += other.size
        into.members = sorted(into.members + other.members)
        into.first = min(into.first, other.first)
        into.last = max(into.last, other.last)
        heapq.heappush(self._expiry, (into.last, into.sid))
        self._unindex(other)
        del self._stories[other.sid]
        for m in other.members:
            self._doc_story[m[2]] = into.sid
        into.absorbed += [*other.absorbed, other.sid]
        for sid in into.absorbed:  # aliases point straight at the survivor
            self._alias[sid] = into.sid
        self._merges.append((other.sid, into.sid))
        self._reindex(into)

    def _join(self, s: _Story, vec: dict[str, float], t: float, doc: StoryDoc) -> None:
        c = s.centroid
        for term, w in vec.items():
            c[term] = c.get(term, 0.0) + w
        if len(c) > 2 * self.centroid_terms:
            s.centroid = c = dict(heapq.nlargest(self.centroid_terms, c.items(),
                                                 key=lambda kv: kv[1]))
        s.norm_n = 0.0  # stale
        s.size += 1
        self._seq += 1
        bisect.insort(s.members, (t, self._seq, doc.id, doc.title, doc.source))
        s.first = min(s.first, t)
        if t > s.last:
            s.last = t
        heapq.heappush(self._expiry, (s.last, s.sid))
        self._doc_story[doc.id] = s.sid
        self._reindex(s)

    def _reindex(self, s: _Story) -> None:
        # The IDF-weighted centroid gives both the index terms and the norm: computing the norm
        # here (the story just changed) saves a second pass over the centroid in _norm.
        wc = self._weighted(s.centroid)
        s.norm = math.sqrt(sum(w * w for w in wc.values()))
        s.norm_n = self._n
        top = tuple(sorted(wc, key=wc.__getitem__, reverse=True)[: self.index_terms])
        old = set(s.indexed)
        new = set(top)
        index = self._index
        for term in old - new:
            posting = index.get(term)
            if posting is not None:
                posting.discard(s.sid)
                if not posting:
                    del index[term]
        for term in new - old:
            index.setdefault(term, set()).add(s.sid)
        s.indexed = top

    def _unindex(self, s: _Story) -> None:
        for term in s.indexed:
            posting = self._index.get(term)
            if posting is not None:
                posting.discard(s.sid)
                if not posting:
                    del self._index[term]
        s.indexed = ()

    def _expire(self) -> None:
        horizon = self._now - self._win
        exp = self._expiry
        while exp and exp[0][0] < horizon:
            last, sid = heapq.heappop(exp)
            s = self._stories.get(sid)
            if s is not None and s.last == last:
                self._close(s)
        if len(exp) > 4 * len(self._stories) + 64:  # drop stale lazy entries
            self._expiry = [(s.last, s.sid) for s in self._stories.values()]
            heapq.heapify(self._expiry)

    def _close_oldest(self) -> None:
        oldest = min(self._stories.values(), key=lambda s: (s.last, s.sid))
        self._close(oldest)

    def _close(self, s: _Story) -> None:
        del self._stories[s.sid]
        self._unindex(s)
        for sid in s.absorbed:
            self._alias.pop(sid, None)
        for m in s.members:
            if self._doc_story.get(m[2]) == s.sid:
                del self._doc_story[m[2]]
        if s.members:
            self._closed[s.sid] = self._info(s, closed=True)
            while len(self._closed) > self.closed_buffer:
                del self._closed[next(iter(self._closed))]

    def _info(self, s: _Story, *, closed: bool) -> StoryInfo:
        c = s.centroid
        best_title, best_score = "", -1.0
        for _, _, _, title, _ in s.members:
            tf = features(title, "")
            if not tf:
                continue
            # Mean centroid weight of the title's terms: the most on-topic headline wins;
            # ties go to the earliest, so the headline is stable as members arrive.
            score = sum(c.get(k, 0.0) for k in tf) / math.sqrt(len(tf))
            if score > best_score:
                best_title, best_score = title, score
        if not best_title and s.members:
            best_title = s.members[0][3]
        sources = {m[4] for m in s.members if m[4]}
        return StoryInfo(
            id=s.sid, members=tuple(m[2] for m in s.members), headline=best_title,
            outlets=len(sources), first_seen=_dt(s.members[0][0]),
            last_updated=_dt(s.members[-1][0]), original_reporter=s.members[0][4],
            closed=closed,
        )

    # -- persistence --------------------------------------------------------------------------
    def state(self) -> bytes:
        """Everything needed to resume: zlib-compressed JSON (no pickle: state may be shared)."""
        data: dict[str, Any] = {
            "v": STATE_VERSION,
            "params": {"threshold": self.threshold, "window": self._win,
                       "doc_terms": self.doc_terms, "index_terms": self.index_terms,
                       "centroid_terms": self.centroid_terms, "candidates": self.candidates,
                       "merge_threshold": self.merge_threshold,
                       "recheck_after": self.recheck_after, "recheck_size": self.recheck_size,
                       "max_vocab": self.max_vocab, "max_active": self.max_active},
            "df": self._df, "n": self._n, "seq": self._seq, "next_sid": self._next_sid,
            "now": self._now if math.isfinite(self._now) else None,
            "merges": self._merges,
            "recheck": list(self._recheck),
            "stories": [{"sid": s.sid, "centroid": s.centroid, "size": s.size,
                         "first": s.first, "last": s.last, "members": s.members,
                         "absorbed": s.absorbed}
                        for s in self._stories.values()],
        }
        return zlib.compress(json.dumps(data, ensure_ascii=False,
                                        separators=(",", ":")).encode(), 6)

    @classmethod
    def from_state(cls, data: bytes, *,
                   clock: Callable[[], datetime] | None = None) -> StoryClusterer:
        raw = json.loads(zlib.decompress(data))
        if raw.get("v") not in _READABLE_STATES:
            raise ValueError(f"unsupported story state version {raw.get('v')!r}")
        p = dict(raw["params"])
        p["window"] = timedelta(seconds=p["window"])
        self = cls(**p, clock=clock)
        self._df = raw["df"]
        self._n = raw["n"]
        self._relog()
        self._seq = raw["seq"]
        self._next_sid = raw["next_sid"]
        self._merges = [(a, b) for a, b in raw["merges"]]
        self._recheck = deque((due, sid) for due, sid in raw.get("recheck", ()))
        self._now = raw["now"] if raw["now"] is not None else -math.inf
        for d in raw["stories"]:
            s = _Story(d["sid"], d["first"])
            s.centroid = d["centroid"]
            s.size, s.last = d["size"], d["last"]
            s.absorbed = d["absorbed"]
            for sid in s.absorbed:
                self._alias[sid] = s.sid
            s.members = [tuple(m) for m in d["members"]]  # type: ignore[misc]
            self._stories[s.sid] = s
            heapq.heappush(self._expiry, (s.last, s.sid))
            for m in s.members:
                self._doc_story[m[2]] = s.sid
            self._reindex(s)
        return self


def cluster(docs: Iterable[StoryDoc], **kw: Any) -> dict[str, int]:
    """Cluster a time-ordered stream: ``{doc id: story id}`` as of the end of the stream.

    The same path as :meth:`StoryClusterer.add`, with the stream's merges applied to the ids
    handed out earlier (as a live consumer of :meth:`~StoryClusterer.drain_merges` would).
    """
    c = StoryClusterer(**kw)
    out: dict[str, int] = {}
    alias: dict[int, int] = {}
    for d in docs:
        out[d.id] = c.add(d)
        for absorbed, into in c.drain_merges():
            alias[absorbed] = into

    def final(sid: int) -> int:
        while sid in alias:
            sid = alias[sid]
        return sid

    return {k: final(v) for k, v in out.items()}
