"""Near-duplicate detection: labelled copies found, different articles kept apart, originals."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from newsdesk.pipeline.dedup import DedupDoc, NearDuplicateIndex, choose_original, dedup
from tests.conftest import shared_data

WORDS = ["council", "harbour", "budget", "minister", "river", "station", "school", "market",
         "police", "storm", "bridge", "railway", "hospital", "election", "festival", "museum",
         "farmers", "court", "airport", "energy", "water", "housing", "teachers", "drivers",
         "tourists", "prices", "wages", "union", "village", "mayor"]


def article(seed: int, n: int = 300) -> str:
    rng = random.Random(seed)
    sentences = []
    for _ in range(n // 12):
        sentences.append(" ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + ".")
    return " ".join(sentences)


T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
BOILER_HEAD = "Home » News » World | NewsNow Aggregator | Share on Facebook Twitter Email\n\n"
BOILER_FOOT = ("\n\nDenial of responsibility! NewsNow is an automatic aggregator of the all world’s "
               "media. In each content, the hyperlink to the primary source is specified. All "
               "trademarks belong to their rightful owners, all materials to their authors. "
               "The content will be deleted within 24 hours.\nRelated: Storm closes bridge » "
               "Mayor resigns » Prices rise again")


def copies(text: str) -> dict[str, str]:
    w = text.split()
    rng = random.Random(1)
    edited = w[:]
    for i in rng.sample(range(len(w)), len(w) // 20):
        edited[i] = "EDITED"
    return {
        "boilerplate": BOILER_HEAD + text + BOILER_FOOT,
        "trim_end": " ".join(w[: int(len(w) * 0.7)]),
        "trim_start": " ".join(w[int(len(w) * 0.25):]),
        "edit5": " ".join(edited),
        "headline": "\n".join(w),  # same words, different wrapping; the title changes below
    }


def test_every_kind_of_copy_is_found_and_points_at_the_original() -> None:
    base = DedupDoc("base", "Harbour bridge reopens", article(1), T0, "Coast Wire")
    docs = [base] + [DedupDoc(kind, "You won't believe this bridge", text, T0 + timedelta(hours=i))
                     for i, (kind, text) in enumerate(copies(base.text).items(), 1)]
    other = DedupDoc("other", "Harbour bridge reopens", article(2), T0, "Other Outlet")
    result = dedup([*docs[::-1], other])  # arrival order does not matter
    assert result == {"base": None, "boilerplate": "base", "trim_end": "base",
                      "trim_start": "base", "edit5": "base", "headline": "base", "other": None}


def test_same_story_different_article_is_kept_apart() -> None:
    # Two outlets on the same event share a long quote and the names, not the text.
    quote = ("'We will reopen the bridge on Monday and the trains will run on time,' the mayor "
             "said at the council meeting on Friday evening.")
    a = DedupDoc("a", "Bridge to reopen", article(3) + " " + quote)
    b = DedupDoc("b", "Mayor: bridge reopens Monday", quote + " " + article(4))
    assert dedup([a, b]) == {"a": None, "b": None}
    assert NearDuplicateIndex().query(a) == []


def test_learnt_template_does_not_glue_different_short_texts() -> None:
    index = NearDuplicateIndex()
    for i in range(6):  # the aggregator's template becomes common after a few stories
        index.add(DedupDoc(f"long{i}", "", BOILER_HEAD + article(10 + i) + BOILER_FOOT))
    shorts = [DedupDoc(f"s{i}", "", BOILER_HEAD + article(30 + i, 48) + BOILER_FOOT)
              for i in range(5)]
    assert [index.add(d) for d in shorts] == [None] * 5
    assert all(index.group_of(d.id) == [d.id] for d in shorts)


def test_streaming_original_changes_when_an_earlier_copy_arrives() -> None:
    text = article(5)
    index = NearDuplicateIndex()
    assert index.add(DedupDoc("late", "", text, T0 + timedelta(hours=5))) is None
    assert index.add(DedupDoc("later", "", text + " Update.", T0 + timedelta(hours=9))) == "late"
    assert index.add(DedupDoc("first", "", text[:-40], T0)) is None  # it is the original
    assert index.original_of("late") == "first"
    assert index.group_of("first") == ["late", "later", "first"]
    hits = index.query(DedupDoc("q", "", text))
    assert hits[0] == ("late", 1.0) and {i for i, _ in hits} == {"late", "later", "first"}
    assert "q" not in index  # query does not add
    with pytest.raises(ValueError, match="duplicate id"):
        index.add(DedupDoc("late", "", "x"))


def test_eviction_bounds_the_index_but_keeps_answers() -> None:
    index = NearDuplicateIndex(max_docs=3)
    index.add(DedupDoc("a", "", article(6)))
    index.add(DedupDoc("a2", "", article(6)))
    for i in range(5):
        index.add(DedupDoc(f"x{i}", "", article(100 + i)))
    assert len(index) == 3
    assert index.original_of("a2") == "a"  # still answered after eviction
    assert index.add(DedupDoc("a3", "", article(6))) is None  # too old to be compared


def test_choose_original_rules() -> None:
    def d(id_: str, **kw: object) -> DedupDoc:
        return DedupDoc(id_, "", "", **kw)  # type: ignore[arg-type]

    # canonical beats dates: the copies declare where the original is
    grp = [d("copy", published=T0, canonical="https://wire.example/a?utm_source=x"),
           d("orig", published=T0 + timedelta(hours=3), url="https://wire.example/a")]
    assert choose_original(grp).id == "orig"
    # credit beats dates: the copies cite the original's outlet
    grp = [d("agg", published=T0, cites=("Reuters",)), d("agg2", published=T0, cites=("reuters",)),
           d("rt", published=T0 + timedelta(hours=1), source="Reuters")]
    assert choose_original(grp).id == "rt"
    # the earliest reliable date; future, pre-1995 and missing dates are not reliable
    grp = [d("future", published=datetime(2999, 1, 1, tzinfo=UTC)),
           d("epoch", published=datetime(1970, 1, 1, tzinfo=UTC)), d("undated"),
           d("naive", published=datetime(2024, 5, 1, 9, 0)),  # read as UTC
           d("aware", published=T0 + timedelta(hours=2))]
    assert choose_original(grp).id == "naive"
    # stable tie-break: smallest id, whatever the order
    grp = [d("b", published=T0), d("a", published=T0), d("c", published=T0)]
    assert choose_original(grp).id == choose_original(grp[::-1]).id == "a"
    with pytest.raises(ValueError):
        choose_original([])


# -- real corpus --------------------------------------------------------------------------------
def basil(triplet: str) -> list[DedupDoc]:
    out = []
    for path in sorted((shared_data() / "story-clusters" / "basil" / "articles").glob(
            f"*/{triplet}_*.json")):
        art = json.loads(path.read_text(encoding="utf-8"))
        out.append(DedupDoc(path.stem, art["title"],
                            "\n\n".join(" ".join(p) for p in art["body-paragraphs"]),
                            datetime.fromisoformat(art["date"]), art["source"]))
    if len(out) != 3:
        pytest.skip(f"BASIL triplet {triplet} not in the corpus")
    return out


@pytest.mark.parametrize("triplet", [
    "11c9f251-35c8-4452-b052-df9be61464c6",  # Fox/HuffPost quote the NYT heavily (0.40)
    "0ffb34cd-c367-4d90-aca7-7fcac3ed8f3d",
    "70c744ad-e950-445c-8a7a-0782b0a7d20b",
])
def test_real_same_story_articles_from_three_outlets_are_not_duplicates(triplet: str) -> None:
    docs = basil(triplet)
    assert dedup(docs) == dict.fromkeys((d.id for d in docs), None)


def test_real_article_copies_are_found() -> None:
    docs = basil("11c9f251-35c8-4452-b052-df9be61464c6")
    nyt = next(d for d in docs if d.source.lower() == "nyt")
    made = [DedupDoc(f"copy-{k}", "Rewritten", t, None, "Agg")
            for k, t in copies(nyt.text).items()]
    result = dedup([*docs, *made])
    assert {k: v for k, v in result.items() if k.startswith("copy-")} == dict.fromkeys(
        (m.id for m in made), nyt.id)
    assert sum(v is None for v in result.values()) == 3


def test_real_updated_article_is_a_near_duplicate() -> None:
    # fundus holds two snapshots of the same taz article: an update, the same story text.
    path = shared_data() / "web" / "fundus-news" / "de" / "Taz.json"
    if not path.is_file():
        pytest.skip(f"{path} not in the corpus")
    vers = json.loads(path.read_text(encoding="utf-8"))
    docs = []
    for key in ("V1", "V2"):
        body = vers[key]["body"]
        paras = list(body.get("summary") or []) + [p for s in body["sections"]
                                                   for p in s["paragraphs"]]
        docs.append(DedupDoc(key, vers[key]["title"], "\n\n".join(paras)))
    assert dedup(docs) == {"V1": None, "V2": "V1"}


def test_batched_shingling_matches_one_text_at_a_time() -> None:
    from newsdesk.pipeline.dedup import _shingle_batch, shingle_hashes

    texts = ["", "   ", "  Trimmed  text\n\nwith   odd\tspacing  ", "x", "東京都で大きな地震がありました" * 4,
             "Short one.", "\xa0Non-breaking\xa0spaces and ÉCOLE accents " * 5]
    batch = _shingle_batch(texts)
    assert [len(h) for h in batch] == [len(shingle_hashes(t)) for t in texts]
    for t, h in zip(texts, batch, strict=True):
        assert h.tolist() == shingle_hashes(t).tolist(), t
    # No shingle reads across into the next text of the batch.
    assert _shingle_batch(["alpha beta", "gamma"])[0].tolist() == shingle_hashes("alpha beta").tolist()


def test_evicting_docs_that_share_lsh_buckets() -> None:
    text = " ".join(f"word{i}" for i in range(120))
    index = NearDuplicateIndex(max_docs=2)
    for i in range(4):  # identical texts: every band bucket is shared, then emptied in turn
        index.add(DedupDoc(f"d{i}", "", text))
    assert len(index) == 2
    assert index.query(DedupDoc("q", "", text))[0][0] in {"d2", "d3"}
    assert index.original_of("d3") == "d0"
