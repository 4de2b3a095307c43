"""`newsdesk dedup --jsonl` end to end, in a subprocess, bad lines included."""

from __future__ import annotations

import json
import random
import subprocess
import sys

from tests.conftest import REPO


def text(seed: int, n: int = 250) -> str:
    rng = random.Random(seed)
    words = ["storm", "bridge", "harbour", "council", "budget", "school", "rail", "market",
             "police", "mayor", "river"]
    return " ".join(rng.choice(words) for _ in range(n))


def run(stdin: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "newsdesk.cli", "dedup", "--jsonl", *args],
                          input=stdin, capture_output=True, timeout=60, cwd=REPO)


def line(obj: object) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def test_dedup_jsonl_end_to_end_with_bad_lines() -> None:
    base = text(1)
    stdin = b"".join([
        line({"id": "copy", "title": "New headline", "text": "Share this! " + base + " Related",
              "published": "2024-05-01T12:00:00+00:00", "source": "Aggregator"}),
        line({"id": "orig", "title": "Storm", "text": base, "published": "2024-05-01T08:00:00Z",
              "source": "Wire"}),
        b"{not json\n",
        line({"id": "no-text", "title": "x"}),
        b"\n",  # blank lines are skipped, not errors
        line({"id": "empty", "title": "x", "text": "   "}),
        b'{"id": "bad-utf8", "title": "x", "text": "caf\xe9"}\n',
        line({"id": "other", "title": "Storm", "text": text(2), "published": "not a date"}),
        line({"id": "orig", "title": "again", "text": base}),
        line({"id": 7, "title": "int id", "text": base[:-30], "published": "2024-05-02"}),
        line({"id": "huge", "title": "x", "text": text(3) + " x" * 1_100_000}),
        line(["a", "list"]),
    ])
    proc = run(stdin)
    assert proc.returncode == 0, proc.stderr.decode()
    out = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    err = proc.stderr.decode()
    assert out == [
        {"id": "copy", "duplicate_of": "orig"},
        {"id": "orig", "duplicate_of": None},
        {"id": None, "error": "malformed JSON: Expecting property name enclosed in double quotes "
                              "at column 2"},
        {"id": "no-text", "error": 'missing field "text"'},
        {"id": "empty", "error": 'empty "text"'},
        {"id": None, "error": "invalid UTF-8 at byte 45"},
        {"id": "other", "duplicate_of": None},
        {"id": "orig", "error": "duplicate id 'orig' (first on line 2)"},
        {"id": 7, "duplicate_of": "orig"},
        {"id": "huge", "duplicate_of": None},
        {"id": None, "error": "expected a JSON object, got list"},
    ]
    for expected in ("line 3: malformed JSON", 'line 4: missing field "text"',
                     'line 6: empty "text"', "line 7: invalid UTF-8",
                     "line 8: published 'not a date' is not an ISO date",
                     "line 9: duplicate id", "line 11: text is 2.2 MB, only the first 2 MB",
                     "line 12: expected a JSON object", "6 bad line(s) skipped"):
        assert expected in err, err


def test_strict_exit_code_and_empty_input() -> None:
    assert run(b"oops\n", "--strict").returncode == 1
    proc = run(b"")
    assert proc.returncode == 0 and proc.stdout == b""
