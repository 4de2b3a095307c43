"""`newsdesk dedup --jsonl`: near-duplicate copies and their original, JSON lines in and out.

Input lines: ``{"id", "title", "text", "published"?, "source"?, "url"?, "canonical"?, "cites"?}``.
Output: one ``{"id", "duplicate_of"}`` line per input record, in input order, ``null`` for
originals and unique docs; a bad line gives ``{"id", "error"}`` (id ``null`` when unknown) and a
``line N: ...`` message on stderr, and the run goes on.

Output comes **after the whole input**: which copy is the original can change until the last
copy of a group has arrived (an earlier-published copy may come late). Memory stays bounded:
texts are hashed and dropped as they are read (batches of 256); what is kept is the index
(~4 bytes per word plus ~0.7 KB per doc, see NearDuplicateIndex) and the output order
(~100 bytes per doc). ``--max-docs`` caps the compared window for unbounded streams.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import IO, Any

from newsdesk.pipeline.dedup import THRESHOLD, DedupDoc, NearDuplicateIndex
from newsdesk.runner.jsonl import JsonlError, read_jsonl_docs

MAX_TEXT_BYTES = 2 * 1024 * 1024
_BATCH = 256


def _text(value: str, lineno: int, warn: IO[str]) -> str:
    raw = value.encode("utf-8", "surrogatepass")
    if len(raw) <= MAX_TEXT_BYTES:
        return value
    # A copy shares its beginning with the original: the first 2 MB decide as well as all.
    print(f"newsdesk dedup: line {lineno}: text is {len(raw) / 1e6:.1f} MB, only the first "
          f"2 MB are compared", file=warn)
    return raw[:MAX_TEXT_BYTES].decode("utf-8", "ignore")


def _published(value: Any, lineno: int, warn: IO[str]) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        print(f"newsdesk dedup: line {lineno}: published {value!r} is not an ISO date; "
              f"ignored", file=warn)
        return None


def _doc(rec: dict[str, Any], lineno: int, warn: IO[str]) -> DedupDoc:
    cites = rec.get("cites") or ()
    return DedupDoc(
        id=str(rec["id"]), title=rec["title"], text=_text(rec["text"], lineno, warn),
        published=_published(rec.get("published"), lineno, warn),
        source=rec.get("source") if isinstance(rec.get("source"), str) else None,
        canonical=rec.get("canonical") if isinstance(rec.get("canonical"), str) else None,
        url=rec.get("url") if isinstance(rec.get("url"), str) else None,
        cites=tuple(c for c in cites if isinstance(c, str)) if isinstance(cites, list) else (),
    )


def run_jsonl(stdin: IO[bytes], stdout: IO[str], stderr: IO[str], *,
              threshold: float = THRESHOLD, max_docs: int | None = None,
              strict: bool = False) -> int:
    """Read records from ``stdin``, write results to ``stdout``; returns the exit code
    (1 with ``strict`` when a line was bad)."""
    index = NearDuplicateIndex(threshold=threshold, max_docs=max_docs)
    order: list[tuple[Any, str | None]] = []  # (output id, error or None)
    first_line: dict[str, int] = {}
    int_ids: set[str] = set()  # ids given as JSON integers are written back as integers
    batch: list[DedupDoc] = []
    errors = 0
    for lineno, item in read_jsonl_docs(stdin):
        if isinstance(item, dict):
            doc_id = str(item["id"])
            if doc_id in first_line:
                item = JsonlError(lineno, f"duplicate id {doc_id!r} (first on line "
                                          f"{first_line[doc_id]})", item["id"])
            else:
                first_line[doc_id] = lineno
                if isinstance(item["id"], int):
                    int_ids.add(doc_id)
                batch.append(_doc(item, lineno, stderr))
                order.append((item["id"], None))
                if len(batch) >= _BATCH:
                    index.add_many(batch)
                    batch = []
                continue
        errors += 1
        print(f"newsdesk dedup: {item}", file=stderr)
        order.append((item.id, item.message))
    index.add_many(batch)
    for out_id, error in order:
        if error is not None:
            line: dict[str, Any] = {"id": out_id, "error": error}
        else:
            orig = index.original_of(str(out_id))
            dup: Any = None if orig == str(out_id) else orig
            line = {"id": out_id, "duplicate_of": int(dup) if dup in int_ids else dup}
        stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
    if errors:
        print(f"newsdesk dedup: {errors} bad line(s) skipped", file=stderr)
    return 1 if errors and strict else 0
