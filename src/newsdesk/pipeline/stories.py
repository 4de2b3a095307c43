"""Online story (event) clustering across outlets: pure Python, no models, nothing downloaded.

Each article becomes a sparse TF-IDF vector of cheap features (lower-cased words with a light
plural fold, numbers, title words and capitalised words weighted up) over IDF statistics kept
online in a bounded vocabulary. An article joins the active story whose centroid is most
cosine-similar if that similarity reaches ``threshold``, else it starts a new story.

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
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["StoryClusterer", "StoryDoc", "StoryInfo", "cluster", "features"]

STATE_VERSION = 1


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
MAX_TOKENS = 400  # the lede carries the event; also bounds the cost of enormous texts
MAX_CHARS = 20_000


def _fold(tok: str) -> str:
    # Light plural fold ("talks" ~ "talk", "Steele's" ~ "steele"); a stemmer would be overkill.
    if tok.endswith(("'s", "’s")):
        return tok[:-2]
    if len(tok) > 3 and tok[-1] == "s" and tok[-2] not in "su'i":
        return tok[:-1]
    return tok


_FOLDED: dict[str, str] = {}  # raw token -> folded term ("" for a stop word)


# One findall (in C) instead of a match object per token: each token comes with the non-word
# characters before it, which is all the capital-letter rule needs. A "." sentinel stands for
# the text's start.
_TOKEN_CTX = re.compile(r"(\W*)([^\W_]+(?:['’.][^\W_]+)*)")
_SENTENCE_START = frozenset(".!?\"“‘'—:")


def _name_start(sep: str) -> bool:
    """Whether a capitalised word after ``sep`` reads as a name: a capital at a sentence (or
    quote) start, or after a paragraph break (3+ blanks), says nothing about a name. An empty
    ``sep`` (or only 1-2 blanks) follows the previous word."""
    head = sep.rstrip()
    if len(sep) - len(head) >= 3:
        return False
    return not head or head[-1] not in _SENTENCE_START


def _count(text: str, weight: float, tf: dict[str, float], limit: int) -> None:
    n = 0
    cache = _FOLDED
    if len(cache) > 200_000:  # bounded memo of folded forms
        cache.clear()
    plain: list[str] = []
    named: list[str] = []
    for sep, raw in _TOKEN_CTX.findall("." + text[: min(MAX_CHARS, 12 * limit)]):
        key = cache.get(raw)
        if key is None:
            low = raw.lower()
            bad = low in _STOP or (len(low) < 2 and not low.isdigit())
            key = cache[raw] = "" if bad else _fold(low.replace("’", "'"))
        if not key:
            continue
        if raw[0].isupper() and _name_start(sep):
            named.append(key)
        else:
            plain.append(key)
        n += 1
        if n >= limit:
            break
    # Counting in C (Counter) rather than one dict update per token.
    for key, k in Counter(plain).items():
        tf[key] = tf.get(key, 0.0) + k * weight
    caps = weight * CAPS_WEIGHT
    for key, k in Counter(named).items():
        tf[key] = tf.get(key, 0.0) + k * caps


def features(title: str, text: str) -> dict[str, float]:
    """Weighted term counts of an article (before IDF)."""
    tf: dict[str, float] = {}
    _count(title, TITLE_WEIGHT, tf, 64)
    _count(text, 1.0, tf, MAX_TOKENS)
    return tf


# -- clusterer ----------------------------------------------------------------------------------
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


def _ts(dt: datetime) -> float:
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class StoryClusterer:
    """Incremental clustering of a time-ordered article stream into stories.

    ``threshold``: cosine between an article and a story centroid needed to join it.
    ``window``: a story accepts articles up to this long after its last update, then closes.
    ``doc_terms``: top TF-IDF terms kept per article; ``index_terms``: top centroid terms of a
    story put in the inverted index; ``centroid_terms``: centroid size cap; ``max_vocab``:
    vocabulary bound for the online document frequencies; ``max_active``: hard cap on open
    stories (the least recently updated closes first); ``clock``: "now" for undated articles.
    """

    def __init__(self, *, threshold: float = 0.10, window: timedelta = timedelta(days=3),
                 doc_terms: int = 48, index_terms: int = 24, centroid_terms: int = 256,
                 candidates: int = 16, merge_threshold: float | None = 0.25,
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
        self._join(best, raw, t, doc)
        if self.merge_threshold is not None:
            for other in also:
                if self._similarity(best, other) >= self.merge_threshold:
                    self._merge(best, other)
        return best.sid

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
        logn, logdf = self._logn, self._logdf
        return {t: w * (logn - logdf.get(t, 0.0)) for t, w in c.items()}

    def _vectorise(self, tf: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
        """(unit TF-IDF vector, the same without IDF) of the top ``doc_terms`` terms."""
        df, logdf, log = self._df, self._logdf, math.log
        for term in tf:
            df[term] = v = df.get(term, 0.0) + 1.0
            logdf[term] = log(v)
        self._n += 1.0
        self._logn = log(self._n + 1.0)
        if len(df) > self.max_vocab:
            self._decay()
        logn = self._logn
        idf = {term: logn - logdf.get(term, 0.0) for term in tf}
        weights = {term: (1.0 + math.log(c)) * idf[term] for term, c in tf.items() if c >= 1.0}
        weights.update({term: c * idf[term] for term, c in tf.items() if c < 1.0})
        if len(weights) > self.doc_terms:
            weights = dict(heapq.nlargest(self.doc_terms, weights.items(), key=lambda kv: kv[1]))
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        vec = {term: w / norm for term, w in weights.items() if w > 0}
        raw = {term: w / idf[term] for term, w in vec.items()}
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
        self._logn = math.log(self._n + 1.0)

    def _best(self, vec: dict[str, float], t: float
              ) -> tuple[_Story | None, float, list[_Story]]:
        index, stories = self._index, self._stories
        hits: dict[int, float] = {}
        for term, w in vec.items():
            posting = index.get(term)
            if posting:
                for sid in posting:
                    hits[sid] = hits.get(sid, 0.0) + w
        if not hits:
            return None, 0.0, []
        if len(hits) > self.candidates:
            cands = heapq.nlargest(self.candidates, hits, key=hits.__getitem__)
        else:
            cands = list(hits)
        # Current IDF applies to both sides: the article's own weights carry it once already.
        q = self._weighted(vec)
        best, best_sim = None, -1.0
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
                       "max_vocab": self.max_vocab, "max_active": self.max_active},
            "df": self._df, "n": self._n, "seq": self._seq, "next_sid": self._next_sid,
            "now": self._now if math.isfinite(self._now) else None,
            "merges": self._merges,
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
        if raw.get("v") != STATE_VERSION:
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
