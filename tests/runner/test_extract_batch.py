"""`newsdesk extract --jsonl --site-learning`: a batch learns each host's template first."""

from __future__ import annotations

import io
import json
from pathlib import Path

from newsdesk.cli import _extracted_json
from newsdesk.runner.extract_batch import run_extract_jsonl
from tests.conftest import Cli
from tests.pipeline.test_sitetemplate import BOILERPLATE, site_page


def _site_rows(tmp_path: Path, n: int, prefix: str) -> list[dict]:
    """n pages of one site written to files, as input lines with ids prefix0, prefix1, ..."""
    rows = []
    for i in range(n):
        path = tmp_path / f"{prefix}-{i}.html"
        path.write_text(site_page(i))
        rows.append({"id": f"{prefix}{i}", "path": str(path),
                     "url": f"https://bugle.example/{prefix}/{i}"})
    return rows


def _batch(tmp_path: Path) -> str:
    lines = _site_rows(tmp_path, 8, "b")
    other = tmp_path / "other.html"
    other.write_text(site_page(70).replace("Daily Bugle", "Evening Star"))
    lines.insert(3, {"id": "other", "path": str(other), "url": "https://star.example/x"})
    rows = [json.dumps(x) for x in lines]
    rows.insert(2, "{broken")
    rows.append(json.dumps({"id": "gone", "path": str(tmp_path / "missing.html"),
                            "url": "https://bugle.example/a/9"}))
    return "\n".join(rows) + "\n"


def _run(data: str, site_learning: bool) -> tuple[list[dict], str, int]:
    out, err = io.StringIO(), io.StringIO()
    n = run_extract_jsonl(io.BytesIO(data.encode()), out, err, site_learning=site_learning,
                          as_json=_extracted_json)
    return [json.loads(x) for x in out.getvalue().splitlines()], err.getvalue(), n


def test_site_learning_strips_each_hosts_template(tmp_path: Path) -> None:
    data = _batch(tmp_path)
    plain, _, _ = _run(data, site_learning=False)
    learnt, err, errors = _run(data, site_learning=True)

    ids = [r["id"] for r in learnt]
    assert ids == ["b0", "b1", None, "b2", "other", "b3", "b4", "b5", "b6", "b7", "gone"]  # input order
    assert errors == 2 and "line 3" in err and "line 11" in err
    bugle = [r for r in learnt if str(r["id"]).startswith("b")]
    for row in bugle:
        assert not [b for b in BOILERPLATE if b in row["text"]], row["id"]
    assert all([b for b in BOILERPLATE if b in r["text"]] for r in plain if r["id"] == "b0")
    # one page of its host: nothing to learn from, extracted as a single page
    other = next(r for r in learnt if r["id"] == "other")
    assert other == next(r for r in plain if r["id"] == "other")


def test_cli_flag(cli: Cli, tmp_path: Path) -> None:
    proc = cli("extract", "--jsonl", "--site-learning", input=_batch(tmp_path))
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(rows) == 11
    assert "Denial of responsibility" not in next(r for r in rows if r["id"] == "b4")["text"]


def test_bad_pages_in_a_learning_batch_are_per_page_errors(tmp_path: Path) -> None:
    rows = _site_rows(tmp_path, 5, "ok")
    bad = {
        "empty": b"",
        "binary": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40,
        "huge": b"<html><body><p>" + b"x" * (50 * 1024 * 1024) + b"</p></body></html>",
        "broken": b"<html><body><div><p>unclosed <b>bold <table><tr><td>cell</p></div>" * 50,
        # windows-1251 Cyrillic without any declared charset
        "cp1251": ("<html><body><p>" + "Городской совет утвердил бюджет гавани. " * 20
                   + "</p></body></html>").encode("cp1251"),
    }
    for name, body in bad.items():
        path = tmp_path / f"{name}.html"
        path.write_bytes(body)
        rows.append({"id": name, "path": str(path), "url": f"https://bugle.example/{name}"})
    data = "\n".join(json.dumps(r) for r in rows) + "\n"
    out, err, errors = _run(data, site_learning=True)
    by_id = {r["id"]: r for r in out}
    assert len(out) == len(rows) and errors == 3
    assert "empty input" in by_id["empty"]["error"]
    assert "binary" in by_id["binary"]["error"]
    assert "too large" in by_id["huge"]["error"]
    assert "error" not in by_id["broken"]
    assert "Городской совет утвердил бюджет" in by_id["cp1251"]["text"]
    assert all("error" not in by_id[f"ok{i}"] for i in range(5))
