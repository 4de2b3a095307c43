"""Online story clustering: real labelled cases, the time window, persistence."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsdesk.pipeline.stories import StoryClusterer, StoryDoc, cluster, features

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "story-clusters"
T0 = datetime(2024, 3, 1, 9, tzinfo=UTC)


def _data(sub: str) -> Path:
    path = DATA / sub
    if not path.exists():
        pytest.skip(f"story-clusters corpus not found at {path}")
    return path


def basil_docs(years: tuple[str, ...] = ("2010", "2011")) -> tuple[list[StoryDoc], dict[str, str]]:
    root = _data("basil/articles")
    rows = []
    for year in years:
        for path in sorted((root / year).glob("*.json")):
            a = json.loads(path.read_text(encoding="utf-8"))
            body = "\n\n".join(" ".join(p) for p in a["body-paragraphs"])
            date = datetime.fromisoformat(a["date"]).replace(tzinfo=UTC)
            rows.append((date, a["uuid"], StoryDoc(a["uuid"], a["title"], body, date,
                                                   a["source"].lower()), a["triplet-uuid"]))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [r[2] for r in rows], {r[2].id: r[3] for r in rows}


def test_basil_triplets_cluster_together_and_apart() -> None:
    docs, gold = basil_docs()
    pred = cluster(docs)
    by_triplet: dict[str, set[int]] = defaultdict(set)
    for d, t in gold.items():
        by_triplet[t].add(pred[d])
    whole = sum(len(s) == 1 for s in by_triplet.values())
    assert whole >= 0.9 * len(by_triplet), f"{whole}/{len(by_triplet)} triplets kept whole"
    by_story: dict[int, set[str]] = defaultdict(set)
    for d, s in pred.items():
        by_story[s].add(gold[d])
    assert all(len(t) == 1 for t in by_story.values()), "articles of different triplets merged"


def test_basil_story_info() -> None:
    docs, gold = basil_docs(("2010",))
    c = StoryClusterer(window=timedelta(days=3650))  # keep every story open for inspection
    sids = {d.id: c.add(d) for d in docs}
    first = docs[0]
    info = c.story(sids[first.id])
    assert first.id in info.members
    assert info.first_seen <= info.last_updated
    assert info.headline in {d.title for d in docs if d.id in info.members}
    members = [d for d in docs if d.id in info.members]
    assert info.original_reporter == min(members, key=lambda d: d.published).source
    assert info.outlets == len({d.source for d in members})
    times = [next(d.published for d in docs if d.id == m) for m in info.members]
    assert times == sorted(times)


def test_googlenews_stories() -> None:
    path = _data("googlenews/googlenews_TS.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    keep = {65, 89, 19}  # Taylor Swift gala, Wes Welker game, Snowden leaks
    rows = [r for r in rows if r["cluster"] in keep][:240]
    docs = [StoryDoc(str(i), "", r["text"]) for i, r in enumerate(rows)]
    pred = cluster(docs)
    for label in keep:
        ids = [str(i) for i, r in enumerate(rows) if r["cluster"] == label]
        biggest = max(sum(pred[i] == s for i in ids) for s in {pred[i] for i in ids})
        # Google News stories are topic-level; most of each must still land in one story.
        assert biggest >= 0.7 * len(ids), (label, biggest, len(ids))
    for a in keep:
        for b in keep - {a}:
            sa = [pred[str(i)] for i, r in enumerate(rows) if r["cluster"] == a]
            sb = [pred[str(i)] for i, r in enumerate(rows) if r["cluster"] == b]
            main_b = max(set(sb), key=sb.count)  # the story holding most of b
            # At most one stray: one article labelled with the gala story is an NFL column
            # ("nfl afc mixture injury rock star injury ...") and joins the Welker story.
            assert sa.count(main_b) <= 1 or sum(v == main_b for v in pred.values()) < 3


STORM = ("Hurricane Delia makes landfall in Florida",
         "Hurricane Delia struck the Florida coast near Tampa on Tuesday, cutting power to "
         "200,000 homes as Governor Ron Pike ordered evacuations.")


def test_same_words_thirty_days_apart_are_different_stories() -> None:
    c = StoryClusterer()
    a = c.add(StoryDoc("a", *STORM, published=T0, source="x"))
    b = c.add(StoryDoc("b", *STORM, published=T0 + timedelta(hours=5), source="y"))
    late = c.add(StoryDoc("c", *STORM, published=T0 + timedelta(days=30), source="z"))
    assert a == b
    assert late != a
    assert a not in c.active()  # the old story closed and left memory
    closed = {s.id: s for s in c.drain_closed()}
    assert closed[a].members == ("a", "b") and closed[a].closed


def test_window_moves_with_the_story() -> None:
    c = StoryClusterer(window=timedelta(days=3))
    ids = {c.add(StoryDoc(f"d{i}", *STORM, published=T0 + timedelta(days=2 * i)))
           for i in range(6)}  # each update within 3 days of the last: one 10-day story
    assert len(ids) == 1


def test_different_events_same_day_apart() -> None:
    c = StoryClusterer()
    a = c.add(StoryDoc("a", *STORM, published=T0))
    b = c.add(StoryDoc("b", "Central bank raises interest rates to 5.5%",
                       "The European Central Bank raised its key rate by a quarter point to "
                       "fight inflation, President Lagarde said in Frankfurt.", published=T0))
    assert a != b


def test_undated_docs_arrive_now_in_input_order() -> None:
    c = StoryClusterer(clock=lambda: T0)
    assert c.add(StoryDoc("a", *STORM)) == c.add(StoryDoc("b", *STORM))
    assert c.story(c.add(StoryDoc("a", *STORM))).members == ("a", "b")  # re-add is a no-op


def test_state_round_trip_resumes_identically() -> None:
    docs, _ = basil_docs(("2010",))
    half = len(docs) // 2
    one = StoryClusterer()
    for d in docs[:half]:
        one.add(d)
    resumed = StoryClusterer.from_state(one.state())
    rest_one = [one.add(d) for d in docs[half:]]
    rest_two = [resumed.add(d) for d in docs[half:]]
    assert rest_one == rest_two
    assert resumed.story(rest_two[-1]) == one.story(rest_one[-1])


def test_bad_state_rejected() -> None:
    import zlib

    with pytest.raises(ValueError):
        StoryClusterer.from_state(zlib.compress(b'{"v": 99}'))


def test_first_story_of_a_stream_is_not_split_by_a_cold_idf() -> None:
    # BASIL's first triplet (Fox, NYT, HuffPost on Beck at CPAC) opens the stream: with an IDF of
    # three documents every shared word looks common, and without IDF_PRIOR it split three ways.
    docs, gold = basil_docs(("2010",))
    first = [d for d in docs if gold[d.id] == gold[docs[0].id]]
    assert len(first) == 3 and docs[:3] == first
    c = StoryClusterer()
    assert len({c.add(d) for d in first}) == 1


# A story's first article can predate the story proper: alone it shares too little with the
# first full report to join it, but the story's centroid drifts towards it as reports pile up.
SANDBAGS = ("Sandbag queues in Tampa",
            "Long queues formed at sandbag depots across Tampa as residents braced for the storm.")
DELIA = [STORM,
         ("Delia floods Tampa streets, 200,000 without power",
          "Hurricane Delia flooded downtown Tampa where sandbags failed to hold back the surge; "
          "Governor Ron Pike said power was out for 200,000 homes in Florida."),
         ("Florida counts the cost of Hurricane Delia",
          "Governor Ron Pike toured flooded Tampa neighbourhoods after Hurricane Delia, as "
          "residents who had filled sandbags returned to the storm's damage.")]
OTHER_NEWS = [
    ("Central bank raises interest rates to 5.5%",
     "The European Central Bank raised its key rate by a quarter point to fight inflation, "
     "President Lagarde said in Frankfurt."),
    ("Champions League: Madrid beat Munich 2-1",
     "Real Madrid came from behind to beat Bayern Munich 2-1 in the first leg of the semi-final "
     "at the Bernabeu."),
    ("Apple unveils new iPad lineup",
     "Apple introduced thinner iPad Pro models with faster chips at an event in Cupertino."),
    ("Wildfire forces evacuations in Greece",
     "A wildfire near Athens forced thousands to flee their homes as firefighters battled "
     "strong winds."),
]


def _sandbag_stream() -> list[StoryDoc]:
    items = [*OTHER_NEWS, SANDBAGS, *DELIA, *[(t + " (update)", x) for t, x in OTHER_NEWS]]
    return [StoryDoc(f"d{i}", t, x, published=T0 + timedelta(minutes=10 * i))
            for i, (t, x) in enumerate(items)]


def test_singleton_rechecked_against_a_story_formed_after_it() -> None:
    docs = _sandbag_stream()
    lone = docs[len(OTHER_NEWS)]
    never = StoryClusterer(recheck_after=None)
    for d in docs:
        never.add(d)
    assert never.story(never.add(lone)).members == (lone.id,)  # alone for good without it

    c = StoryClusterer(recheck_after=3)
    sids = {d.id: c.add(d) for d in docs}
    delia = sids[docs[len(OTHER_NEWS) + 1].id]
    assert (sids[lone.id], delia) in c.drain_merges()  # announced like any merge
    assert c.resolve(sids[lone.id]) == delia
    assert lone.id in c.story(sids[lone.id]).members
    assert c.story(delia).members[0] == lone.id  # time order: the early article leads

    # The queue of stories awaiting their re-check survives a save/restore.
    half = StoryClusterer(recheck_after=3)
    for d in docs[: len(OTHER_NEWS) + 2]:
        half.add(d)
    resumed = StoryClusterer.from_state(half.state())
    for d in docs[len(OTHER_NEWS) + 2:]:
        resumed.add(d)
    assert resumed.resolve(sids[lone.id]) == resumed.resolve(delia)


def test_version_1_state_still_loads() -> None:
    import zlib

    c = StoryClusterer()
    for d in _sandbag_stream()[:6]:
        c.add(d)
    raw = json.loads(zlib.decompress(c.state()))
    raw["v"] = 1
    del raw["recheck"]
    for key in ("recheck_after", "recheck_size"):
        del raw["params"][key]
    old = StoryClusterer.from_state(zlib.compress(json.dumps(raw).encode()))
    assert old.active() == c.active()
    assert old.story(old.active()[0]) == c.story(c.active()[0])


def test_googlenews_ts_dev_quality() -> None:
    # The whole development half (5,838 docs, 76 stories), ~2 s: the size-aware threshold and the
    # re-check took it from 141 clusters and B-cubed F1 0.956 to 116 and 0.960.
    path = _data("googlenews/googlenews_TS.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    docs = [StoryDoc(str(i), "", r["text"]) for i, r in enumerate(rows)]
    pred = cluster(docs, clock=lambda: T0)
    gold = {str(i): r["cluster"] for i, r in enumerate(rows)}
    pairs = Counter((pred[d], gold[d]) for d in gold)
    size, story = Counter(pred.values()), Counter(gold.values())
    p = sum(k * k / size[c] for (c, _), k in pairs.items()) / len(gold)
    r = sum(k * k / story[g] for (_, g), k in pairs.items()) / len(gold)
    assert 2 * p * r / (p + r) >= 0.955 and r >= 0.96, (p, r)
    assert len(size) < 130


@pytest.mark.parametrize("long", [False, True])
def test_vocabulary_decay_vectorises_with_the_decayed_statistics(long: bool) -> None:
    # A short and a long article that trigger a decay are weighted with the halved counts, as
    # every later article is.
    import math

    c = StoryClusterer()
    for i, (t, x) in enumerate(OTHER_NEWS * 2):
        c.add(StoryDoc(f"o{i}", t, x))
    text = " ".join(x for _, x in [*OTHER_NEWS, *DELIA]) if long else DELIA[1][1]
    tf = features("", text)
    assert (len(tf) > 32) == long  # a headline-sized and an article-sized vocabulary
    c.max_vocab = len(c._df) + len(set(tf) - set(c._df)) - 1  # this article tips it over
    before = c._n
    vec, _ = c._vectorise(tf)
    assert c._n < before  # it decayed
    weights = {t: (1 + math.log(k)) * (c._logn - c._logdf.get(t, 0.0)) for t, k in tf.items()}
    top = sorted(weights, key=weights.__getitem__, reverse=True)[: c.doc_terms]
    norm = math.sqrt(sum(weights[t] ** 2 for t in top))
    assert vec == pytest.approx({t: weights[t] / norm for t in top})
