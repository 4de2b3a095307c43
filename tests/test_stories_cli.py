"""`newsdesk stories cluster --jsonl` end to end, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

STORM = {"title": "Hurricane Delia makes landfall in Florida",
         "text": "Hurricane Delia struck the Florida coast near Tampa, cutting power to homes."}
BANK = {"title": "Central bank raises interest rates",
        "text": "The European Central Bank raised its key rate to fight inflation in Frankfurt."}


def run_cli(data: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "newsdesk.cli", "stories", "cluster", "--jsonl",
                           *args], input=data, capture_output=True, timeout=60)


def line(obj: object) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def test_cluster_stream_with_bad_lines(tmp_path: Path) -> None:
    data = b"".join([
        line({"id": "a", **STORM, "published": "2024-03-01T09:00:00+00:00", "source": "x"}),
        b"{not json\n",
        line({"id": "b", **BANK, "published": "2024-03-01T10:00:00+00:00"}),
        b'{"id": "c", "title": "caf\xe9"}\n',  # invalid UTF-8
        line({"id": "d", "title": "x"}),  # missing text
        line({"id": "e", "title": "", "text": "  "}),  # empty
        line({"id": "f", "title": "big", "text": "word " * 300_000}),  # enormous
        line({"id": "g", **STORM, "published": "yesterday"}),
        line({"id": "h", **STORM, "published": "2024-03-01T12:00:00+00:00", "source": "y"}),
        line([1, 2]),
    ])
    proc = run_cli(data)
    assert proc.returncode == 0
    out = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    got = {o["id"]: o["story_id"] for o in out if "id" in o}
    assert set(got) == {"a", "b", "h"}
    assert got["a"] == got["h"] != got["b"]
    err = proc.stderr.decode()
    for n, what in [(2, "malformed JSON"), (4, "invalid UTF-8"), (5, 'missing field "text"'),
                    (6, "empty"), (7, "text too long"), (8, '"published" is not an ISO 8601'), (10, "expected a JSON object")]:
        assert f"line {n}: {what}" in err, (n, err)


def test_state_file_resumes(tmp_path: Path) -> None:
    state = tmp_path / "stories.state"
    first = run_cli(line({"id": "a", **STORM, "published": "2024-03-01T09:00:00+00:00"}),
                    "--state", str(state))
    assert first.returncode == 0 and state.exists()
    second = run_cli(line({"id": "b", **STORM, "published": "2024-03-01T11:00:00+00:00"}),
                     "--state", str(state))
    a = json.loads(first.stdout)["story_id"]
    b = json.loads(second.stdout)["story_id"]
    assert a == b
