"""pipeline.metrics: the benchmark metric and what it sees of our Markdown."""

from __future__ import annotations

import pytest

from newsdesk.pipeline.metrics import corpus_scores, markdown_text, shingle_scores


def test_markdown_text_keeps_words_only() -> None:
    md = ("## The harbour\n\n> **Ferries** run *again*, the mayor said.\n\n"
          "![Quay at dawn](https://x.example/a%20b.jpg)\n\n- one item\n\n"
          "| Factor | Impact |\n| --- | --- |\n| Rain | High |\n\nA\\_b and 1\\. start")
    assert markdown_text(md).split("\n") == [
        "The harbour", "", "Ferries run again, the mayor said.", "", "", "", "one item", "",
        "Factor Impact", "", "Rain High", "", "A_b and 1. start"]


def test_corpus_scores_average_precision_over_outputs_and_recall_over_pages() -> None:
    gold = ["one two three four five six", "alpha beta gamma delta epsilon"]
    preds = ["one two three four five six extra words here", ""]
    p, r, f = corpus_scores(preds, gold)
    p0, r0 = shingle_scores(preds[0], gold[0])
    assert p == pytest.approx(p0)  # the empty output does not count for precision ...
    assert r == pytest.approx((r0 + 0.0) / 2)  # ... but its page counts for recall
    assert f == pytest.approx(2 * p * r / (p + r))
