"""`newsdesk stories cluster --jsonl`: stream articles in, story ids out.

Reads ``{"id", "title", "text", "published"?, "source"?}`` lines (time order) from a binary
stream and writes ``{"id", "story_id"}`` per article as it goes, flushed per line. When the
stream bridges two stories, the absorbed one is announced as ``{"merged": old, "into": new}``
so a consumer can re-home what it already stored. A bad line (invalid UTF-8, malformed JSON,
missing or mistyped fields, empty or enormous text, bad date) gets a message on stderr naming
the line, and the run goes on.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from newsdesk.pipeline.stories import StoryClusterer, StoryDoc
from newsdesk.runner.jsonl import JsonlError, read_jsonl_docs

MAX_LINE = 4 * 1024 * 1024  # bytes; longer lines are skipped without being held in memory
MAX_TEXT = 1_000_000  # characters of title + text


class BadLine(ValueError):
    pass


def parse_doc(obj: dict[str, Any]) -> StoryDoc:
    """A StoryDoc from a record the shared JSONL reader accepted (fields present, id typed)."""
    doc_id, title, text = obj["id"], obj["title"], obj["text"]
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    if not isinstance(doc_id, str) or not doc_id:
        raise BadLine('"id" must be a non-empty string')
    if not isinstance(title, str) or not isinstance(text, str):
        raise BadLine('"title" and "text" must be strings')
    if not title.strip() and not text.strip():
        raise BadLine("empty title and text")
    if len(title) + len(text) > MAX_TEXT:
        raise BadLine(f"text too long ({len(title) + len(text):,} characters, max {MAX_TEXT:,})")
    published = obj.get("published")
    if published is not None:
        if not isinstance(published, str):
            raise BadLine('"published" must be an ISO 8601 string')
        try:
            published = datetime.fromisoformat(published)
        except ValueError:
            raise BadLine(f'"published" is not an ISO 8601 date: {published[:40]!r}') from None
    source = obj.get("source")
    if source is not None and not isinstance(source, str):
        raise BadLine('"source" must be a string')
    return StoryDoc(doc_id, title, text, published, source)


def run(stdin: IO[bytes], stdout: IO[str], stderr: IO[str], *,
        state: Path | None = None) -> int:
    """Cluster the stream; returns the number of bad lines. ``state`` is loaded and saved."""
    if state is not None and state.exists():
        clusterer = StoryClusterer.from_state(state.read_bytes())
    else:
        clusterer = StoryClusterer()
    bad = 0
    for lineno, item in read_jsonl_docs(stdin, nonempty=(), max_line_bytes=MAX_LINE):
        if isinstance(item, JsonlError):
            bad += 1
            print(f"newsdesk stories: {item}, skipped", file=stderr)
            continue
        try:
            doc = parse_doc(item)
        except BadLine as exc:
            bad += 1
            print(f"newsdesk stories: line {lineno}: {exc}, skipped", file=stderr)
            continue
        sid = clusterer.add(doc)
        for absorbed, into in clusterer.drain_merges():
            stdout.write(json.dumps({"merged": absorbed, "into": into}) + "\n")
        stdout.write(json.dumps({"id": doc.id, "story_id": sid}, ensure_ascii=False) + "\n")
        stdout.flush()
    if state is not None:
        tmp = state.with_name(state.name + ".tmp")
        tmp.write_bytes(clusterer.state())
        tmp.replace(state)  # atomic: a killed run leaves the previous state intact
    return bad
