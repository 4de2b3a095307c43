"""Near-duplicate detection: labelled copies found, different articles kept apart, originals."""

from __future__ import annotations

import gc
import json
import os
import random
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from newsdesk.pipeline import dedup as dd
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


# -- the C core against the numpy reference it replaced ------------------------------------------
# The shingling every constant of pipeline/dedup.py was measured with (numpy, vectorised over a
# batch). Kept here only as the oracle: the C core must return the same hashes, bit for bit.
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)
_S29, _S32, _S33 = np.uint64(29), np.uint64(32), np.uint64(33)
_SPACE = 0x20
_PAD = b"\0" * 16
_IS_SPACE = np.zeros(256, dtype=bool)
_IS_SPACE[list(b" \t\n\r\x0b\x0c")] = True


def _ref_mix(v: np.ndarray) -> np.ndarray:
    v = v * _M1
    v ^= v >> _S29
    v *= _M2
    v ^= v >> _S32
    return v


def _ref_normalise(text: str) -> bytes:
    return text.lower().replace("\xa0", " ").replace("\0", " ").strip().encode("utf-8")


def _ref_collapse(raw: np.ndarray) -> np.ndarray:
    ws = _IS_SPACE[raw]
    keep = ~ws
    keep[1:] |= ws[1:] & keep[:-1]
    return np.where(ws, np.uint8(_SPACE), raw)[keep]


def _ref_hash_starts(buf: bytes, starts: np.ndarray, width: int) -> np.ndarray:
    win = np.ndarray(shape=(len(buf) - 7,), dtype="<u8", buffer=buf, strides=(1,))
    h = _ref_mix(win[starts])
    for k in range(8, width, 8):
        nxt = _ref_mix(win[starts + k] ^ np.uint64(k))
        h ^= (nxt << _S33) | (nxt >> np.uint64(31))
    return (h >> _S32).astype(np.uint32)


def _ref_shingle_one(data: bytes, width: int) -> np.ndarray:
    if not data:
        return np.empty(0, dtype=np.uint32)
    b = _ref_collapse(np.frombuffer(data, dtype=np.uint8))
    buf = b.tobytes() + _PAD + b"\0" * 16
    return _ref_hash_starts(buf, np.flatnonzero((b & 0xC0) != 0x80), width)


def _ref_shingle_batch(texts: Sequence[str], width: int = 16) -> list[np.ndarray]:
    """The production path of the numpy version (``_prepare_many`` hashed through it)."""
    data = [_ref_normalise(t) for t in texts]
    out = [np.empty(0, dtype=np.uint32)] * len(data)
    full = [i for i, d in enumerate(data) if d]
    if not full:
        return out
    b = _ref_collapse(np.frombuffer(_PAD.join(data[i] for i in full), dtype=np.uint8))
    buf = b.tobytes() + _PAD + b"\0" * 16
    nul = b == 0
    first = np.concatenate(([0], np.flatnonzero(nul[:-1] & ~nul[1:]) + 1))
    ends = np.append(first[1:] - len(_PAD), len(b))
    words = np.flatnonzero(b[:-1] == _SPACE) + 1
    starts = np.concatenate((first, words))
    starts.sort(kind="stable")
    cut = np.searchsorted(starts, first)
    counts = np.diff(np.append(cut, len(starts)))
    h = _ref_hash_starts(buf, starts, width)
    for j, i in enumerate(full):
        if counts[j] * 20 < ends[j] - first[j]:  # CJK, Thai: anchor at every character
            out[i] = _ref_shingle_one(data[i], width)
        else:
            out[i] = h[cut[j] : cut[j] + counts[j]]
    return out


EDGE_TEXTS = [
    "", " ", "\0", "\xa0\u3000\x1c", "a", "A", "ab", "x" * 15, "x" * 16, "x" * 17,
    "a\0b c\0\0d", "\0lead and trail\0", "tabs\tand\x0bvertical\x0cfeeds\r\nend",
    "unit\x1cseparators\x1fstay inside \x85 next-line \u2028 line \u2029 para",
    "KELVIN \u212a and ANGSTROM \u212b signs, ǅ titlecase, ẞ sharp",
    "İstanbul'da İYİ bir gün",  # U+0130 lower-cases to two characters
    "ΟΔΥΣΣΕΥΣ ΣΙΣΥΦΟΣ Σ ΑΣ. ΣΑΣ",  # final sigma depends on the context
    "東京都で大きな地震がありました。" * 6, "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ" * 4,
    "mixed 東京都で大きな地震がありました and words " * 3,
    "emoji 😀 𝐀𝐁𝐂 𐐀𐐁 deseret and \U0001e900 adlam upper",
    "ＦＵＬＬＷＩＤＴＨ Ａ and ｈａｌｆ",
    # exactly at the CJK rule's edge: (spaces + 1) * 20 against the byte length
    "a" * 19 + " " + "b" * 19, "a" * 20 + " " + "b" * 19, "a" * 18 + " " + "b" * 21,
    " ".join(["y" * 19] * 5), " ".join(["y" * 20] * 5),
    "\xa0\xa0  Non-breaking\xa0\xa0spaces\xa0 ",
    "café naïve ÉCOLE Ünïcödé Ωmega",
]


def _corpus_texts(limit: int = 400) -> list[str]:
    root = shared_data()
    texts: list[str] = []
    for path in sorted((root / "web" / "fundus-news").glob("*/*.json")):
        for art in json.loads(path.read_text(encoding="utf-8")).values():
            body = art.get("body") or {}
            paras = list(body.get("summary") or [])
            for sec in body.get("sections") or []:
                paras += list(sec.get("headline") or []) + list(sec.get("paragraphs") or [])
            texts.append("\n\n".join(paras))
    for path in sorted((root / "story-clusters" / "basil" / "articles").glob("*/*.json"))[:100]:
        art = json.loads(path.read_text(encoding="utf-8"))
        texts.append("\n\n".join(" ".join(p) for p in art["body-paragraphs"]))
    return texts[:limit]


@pytest.mark.parametrize("width", [8, 16, 24])
def test_c_shingles_equal_the_numpy_reference_on_edge_texts(width: int) -> None:
    got = dd._shingle_batch(EDGE_TEXTS, width)
    # The reference batch separates texts by 16 NULs: wider shingles read into the next text
    # there (a flaw of the batch reference, never used above 16 bytes), so compare those alone.
    want = (_ref_shingle_batch(EDGE_TEXTS, width) if width <= 16
            else [_ref_shingle_batch([t], width)[0] for t in EDGE_TEXTS])
    for text, g, w in zip(EDGE_TEXTS, got, want, strict=True):
        assert g.tolist() == w.tolist(), repr(text)
    for text in EDGE_TEXTS:  # one text at a time: the same
        assert dd.shingle_hashes(text, width).tolist() == _ref_shingle_batch([text], width)[0].tolist()
        assert dd._core.normalise(text) == _ref_collapse(
            np.frombuffer(_ref_normalise(text), dtype=np.uint8)).tobytes()


def test_c_shingles_equal_the_numpy_reference_on_real_texts() -> None:
    texts = _corpus_texts()
    assert len(texts) > 100
    got = dd._shingle_batch(texts)
    want = _ref_shingle_batch(texts)
    assert sum(len(w) for w in want) > 10_000
    for g, w in zip(got, want, strict=True):
        assert g.tolist() == w.tolist()


def test_lower_casing_matches_str_lower_for_every_code_point() -> None:
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    for i in range(0, len(chars), 4096):  # each character between two words, in chunks
        text = " ".join(f"w{c}x" for c in chars[i:i + 4096])
        assert dd._core.normalise(text) == _ref_collapse(
            np.frombuffer(_ref_normalise(text), dtype=np.uint8)).tobytes()


def test_normalise_blocks_of_16_match_the_reference_on_random_texts() -> None:
    # The C fast path takes 16 plain ASCII characters at once: random texts put spaces, runs of
    # whitespace, controls and non-ASCII characters on every side of those blocks, in strings
    # of each internal width (1, 2 and 4 bytes per character).
    rng = random.Random(5)
    pool = list("abcXYZ09.,'-") + [" "] * 6 + ["  ", "\t", "\n\n", "\0", "\x1c", "\x7f", "@[`{"]
    wide = {1: ["", "é", "\xa0", "Ä"], 2: ["Σ", "İ", "東", "’", "\u2028", "K", "\uff21",
                                           "\ufffd", "ā", "\u0100"],
            4: ["😀", "𝐀", "\U0001e900"]}
    for width, extra in wide.items():
        for _ in range(400):
            parts = [rng.choice(pool) for _ in range(rng.randrange(0, 60))]
            for _ in range(rng.randrange(0, 3)):
                parts.insert(rng.randrange(len(parts) + 1), rng.choice(extra))
            if width > 1:
                parts.append(extra[0])
            text = "".join(parts)
            assert dd._core.normalise(text) == _ref_collapse(
                np.frombuffer(_ref_normalise(text), dtype=np.uint8)).tobytes(), repr(text)
            assert dd.shingle_hashes(text).tolist() == _ref_shingle_batch([text])[0].tolist()


def test_lone_surrogates_and_non_strings_fail_as_before() -> None:
    for bad in ["ok \ud800 text", "\udfff", "é \udc80"]:
        with pytest.raises(UnicodeEncodeError):
            _ref_normalise(bad)
        with pytest.raises(UnicodeEncodeError):
            dd.shingle_hashes(bad)
        with pytest.raises(UnicodeEncodeError):
            NearDuplicateIndex().add(DedupDoc("x", "", bad))
    with pytest.raises(AttributeError):
        dd.shingle_hashes(None)  # type: ignore[arg-type]
    # A str subclass goes through its own lower() like before.
    class Shouting(str):
        def lower(self) -> str:
            return "always the same words here"

    assert dd.shingle_hashes(Shouting("x")).tolist() == dd.shingle_hashes(
        "always the same words here").tolist()


def test_exact_set_and_similarity_equal_numpy() -> None:
    rng = np.random.default_rng(3)
    for n in (0, 1, 3, 63, 64, 65, 700, 5000):
        h = rng.integers(0, 1 << 32, size=n, dtype=np.uint64).astype(np.uint32)
        h = np.concatenate((h, h[: n // 3]))  # duplicates
        assert dd._exact_set(h).tolist() == np.unique(h).tolist()
    for n in (100, 3000, 20000):  # crowded top bits: the sort's insertion pass, its fallback
        h = rng.integers(0, 1 << 12, size=n, dtype=np.uint64).astype(np.uint32) | (7 << 28)
        assert dd._exact_set(h).tolist() == np.unique(h).tolist()
        h = np.repeat(np.arange(255, -1, -1, dtype=np.uint32), n // 256 + 1) | (5 << 24)
        assert dd._exact_set(h).tolist() == np.unique(h).tolist()
        h = np.concatenate((h, rng.integers(0, 1 << 32, size=n, dtype=np.uint64)))
        assert dd._exact_set(h.astype(np.uint32)).tolist() == np.unique(h).tolist()
    for top in (1 << 8, 1 << 12, 1 << 16):  # values sharing their top 16 bits, repeats
        for n in (64, 500, 3000, 20000):
            h = (rng.integers(0, top, size=n, dtype=np.uint64) << 16) | rng.integers(
                0, 1 << 4, size=n, dtype=np.uint64)
            h = rng.permutation(np.concatenate((h, h[: n // 4]))).astype(np.uint32)
            assert dd._exact_set(h).tolist() == np.unique(h).tolist()
    for na, nb, common in [(0, 5, 0), (10, 10, 10), (30, 300, 25), (700, 650, 500), (5, 9, 3)]:
        pool = np.unique(rng.integers(0, 1 << 32, size=2 * (na + nb), dtype=np.uint64))
        pool = rng.permutation(pool.astype(np.uint32))
        a = np.sort(np.concatenate((pool[:common], pool[common:na])))
        b = np.sort(np.concatenate((pool[:common], pool[na:na + nb - common])))
        inter = len(np.intersect1d(a, b, assume_unique=True))
        if not len(a) or not len(b):
            want = 0.0
        else:
            jac = inter / (len(a) + len(b) - inter)
            small = min(len(a), len(b))
            want = max(jac, inter / small) if small >= dd.MIN_CONTAINED else jac
        assert dd.similarity(a, b) == want


def test_minhash_slots_agree_with_probability_jaccard() -> None:
    # One-permutation MinHash with densification: a slot agrees about as often as the Jaccard
    # similarity, so the LSH candidate probability of dedup.lsh_probability holds, for short
    # inputs (most slots densified) as for long ones.
    rng = np.random.default_rng(11)
    for n in (30, 700):
        for jac in (0.22, 0.4, 0.8):
            common = round(2 * n * jac / (1 + jac))
            agree, cand = [], []
            for _ in range(150):
                u = rng.choice(1 << 32, size=2 * n - common, replace=False).astype(np.uint32)
                sa, sb = (np.frombuffer(dd._core.minhash(np.sort(x), dd.NUM_PERM, dd._SEED),
                                        dtype=np.uint32) for x in (u[:n], u[n - common:]))
                eq = sa == sb
                agree.append(eq.mean())
                cand.append(eq.reshape(dd.BANDS, dd.ROWS).all(axis=1).any())
            assert abs(np.mean(agree) - jac) < 0.03, (n, jac, np.mean(agree))
            assert np.mean(cand) >= dd.lsh_probability(jac) - 0.05, (n, jac)
    a = rng.integers(0, 1 << 32, size=50, dtype=np.uint64).astype(np.uint32)
    assert dd._core.minhash(a, 128, 1) == dd._core.minhash(a, 128, 1) != dd._core.minhash(a, 128, 2)
    assert dd._core.minhash(a[:1], 128, 1) == dd._core.minhash(a[:1], 128, 1)
    assert set(np.frombuffer(dd._core.minhash(a[:0], 128, 1), dtype=np.uint32)) == {2**32 - 1}


# Run in a fresh interpreter: the C core picks its merge loops (AVX2 or SSE2) at import.
_SIMD_SCRIPT = """
import hashlib, random
import numpy as np
from newsdesk.pipeline import dedup as dd
print(dd._core.simd)
rng = np.random.default_rng(5)
sims = []
for na, nb, common in [(7, 9, 5), (30, 300, 25), (700, 650, 500), (1000, 1000, 990), (64, 64, 1)]:
    pool = rng.permutation(np.unique(rng.integers(0, 1 << 32, size=3 * (na + nb),
                                                  dtype=np.uint64)).astype(np.uint32))
    a = np.sort(np.concatenate((pool[:common], pool[common:na])))
    b = np.sort(np.concatenate((pool[:common], pool[na:na + nb - common])))
    sims += [dd.similarity(a, b), dd.similarity(b[: nb // 2], a)]
print(sims)
r = random.Random(2)
words = [f"w{i}" for i in range(400)]
docs = []
for base in range(40):
    text = [r.choice(words) for _ in range(r.randrange(30, 900))]
    docs.append(dd.DedupDoc(f"b{base}", "", " ".join(text)))
    for k in range(4):  # copies with edits: DF counts what they do not share with the best
        t = [w if r.random() > 0.08 else r.choice(words) for w in text]
        docs.append(dd.DedupDoc(f"b{base}c{k}", "", " ".join(t[r.randrange(5):])))
r.shuffle(docs)
index = dd.NearDuplicateIndex()
print(index.add_many(docs[:77]) + index.add_many(docs[77:]), index.candidates_checked)
print(hashlib.sha1(bytes(index._core.df)).hexdigest())
"""


def test_avx2_and_sse2_merge_loops_agree() -> None:
    # Where the CPU has AVX2, the intersections and differences use it; NEWSDESK_DEDUP_SIMD=sse2
    # keeps the SSE2 loops every x86_64 has. Same similarities, matches and DF counts.
    outs = []
    for simd in ("", "sse2"):
        env = {**os.environ, "NEWSDESK_DEDUP_SIMD": simd}
        run = subprocess.run([sys.executable, "-c", _SIMD_SCRIPT], env=env, capture_output=True,
                             text=True, check=True)
        outs.append(run.stdout.split("\n", 1))
    assert outs[1][0] in ("sse2", "none")
    assert outs[0][1] == outs[1][1] and "'b" in outs[0][1]


def test_add_batch_equals_adding_one_by_one() -> None:
    docs = [DedupDoc(f"d{i}", "", text) for i, base in enumerate(range(300, 306))
            for text in [article(base), *copies(article(base)).values()]]
    docs = [replace(d, id=f"{d.id}-{k}") for k, d in enumerate(docs)]
    a, b = NearDuplicateIndex(), NearDuplicateIndex()
    got = a.add_many(docs[:20]) + a.add_many(docs[20:])
    want = []
    for lo, hi in ((0, 20), (20, len(docs))):
        batch = b._prepare([d.text for d in docs[lo:hi]])
        want += [b._add_prepared(d, batch, i) for i, d in enumerate(docs[lo:hi])]
    assert got == want and a.candidates_checked == b.candidates_checked
    assert sorted(map(sorted, a.groups())) == sorted(map(sorted, b.groups()))
    assert any(got) and a._core.add_batch(a._prepare([]), []) == []
    with pytest.raises(ValueError, match="duplicate id"):  # inside the batch: the slow path
        a.add_many([DedupDoc("x", "", "one text"), DedupDoc("x", "", "other text")])
    assert "x" in a
    batch = a._prepare(["p q r", "s t u"])
    with pytest.raises(ValueError, match="one id per document"):
        a._core.add_batch(batch, ["y"])


def test_enormous_and_empty_texts() -> None:
    big = ("word " * 2_000_000)[:10_000_000] + "END"  # 10 MB
    h = dd.shingle_hashes(big)
    assert len(h) == big.count(" ") + 1
    index = NearDuplicateIndex()
    assert index.add_many([DedupDoc("big", "", big), DedupDoc("e1", "", ""),
                           DedupDoc("e2", "", " \n\xa0 "), DedupDoc("big2", "", big)]) == [
        None, None, None, "big"]
    assert index.group_of("e1") == ["e1"] and index.query(DedupDoc("q", "", "")) == []


def test_eviction_frees_the_core() -> None:
    index = NearDuplicateIndex(max_docs=5)
    for i in range(40):
        index.add(DedupDoc(f"d{i}", "", article(200 + i % 7)))
    stats = index._core.stats()
    assert stats["live"] == len(index) == 5
    assert stats["slots"] <= 6  # slots of evicted docs are reused
    assert stats["buckets"] <= 5 * dd.BANDS
    with pytest.raises(KeyError):
        index._core.remove("d0")  # already gone
    index = NearDuplicateIndex(max_docs=0)  # everything evicted at once, like before
    with pytest.raises(KeyError):
        index.add(DedupDoc("gone", "", article(1)))
    assert index._core.stats()["buckets"] == 0
    del index
    gc.collect()


def test_core_rejects_misuse() -> None:
    index = NearDuplicateIndex()
    batch = index._prepare([article(1), article(2)])
    index._core.add(batch, 0, "a")
    with pytest.raises(ValueError, match="already added"):
        index._core.add(batch, 0, "b")
    with pytest.raises(IndexError):
        index._core.add(batch, 2, "b")
    with pytest.raises(ValueError, match="duplicate id"):
        index._core.add(batch, 1, "a")
    other = NearDuplicateIndex()
    with pytest.raises(ValueError, match="another Core"):
        other._core.add(batch, 1, "b")
    with pytest.raises(TypeError):
        index._core.add("not a batch", 0, "c")
    with pytest.raises(RuntimeError):
        dd._core.Core.__new__(dd._core.Core).prepare(["x"])
    assert index._core.shingles("a") == dd._exact_set(dd.shingle_hashes(article(1))).tobytes()


def test_threshold_is_read_by_the_core() -> None:
    text = article(8)
    index = NearDuplicateIndex(threshold=1.01)
    index.add(DedupDoc("a", "", text))
    assert index.add(DedupDoc("b", "", " ".join(text.split()[:250]))) is None  # contained: 1.0
    assert index.query(DedupDoc("q", "", text)) == []
    index.threshold = 0.9
    assert index.threshold == 0.9
    hits = index.query(DedupDoc("q", "", text))
    assert hits[0] == ("a", 1.0) and [i for i, _ in hits] == ["a", "b"]


def test_evicting_docs_that_share_lsh_buckets() -> None:
    text = " ".join(f"word{i}" for i in range(120))
    index = NearDuplicateIndex(max_docs=2)
    for i in range(4):  # identical texts: every band bucket is shared, then emptied in turn
        index.add(DedupDoc(f"d{i}", "", text))
    assert len(index) == 2
    assert index.query(DedupDoc("q", "", text))[0][0] in {"d2", "d3"}
    assert index.original_of("d3") == "d0"
    # more docs per bucket than it holds in place: to the heap and back as they are evicted
    index = NearDuplicateIndex(max_docs=7)
    for i in range(12):
        index.add(DedupDoc(f"e{i}", "", text))
        hits = index.query(DedupDoc("q", "", text))
        assert [h for h, _ in hits] == sorted(f"e{j}" for j in range(max(0, i - 6), i + 1))
    assert index._core.stats()["buckets"] == dd.BANDS
    for i in range(5, 12):
        index._core.remove(f"e{i}")
    assert index._core.stats()["buckets"] == 0
