"""Reading JSON-lines input for batch commands (`dedup --jsonl`, `stories --jsonl`, ...).

Each bad line becomes a :class:`JsonlError` naming the line number, and reading goes on with
the next line: one broken record must not cost the rest of a large input. Memory stays bounded:
a line longer than ``max_line_bytes`` is skipped without being read into memory whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

__all__ = ["MAX_LINE_BYTES", "JsonlError", "read_jsonl_docs"]

MAX_LINE_BYTES = 16 * 1024 * 1024  # a JSON-escaped 2 MB text with room to spare
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class JsonlError:
    lineno: int
    message: str
    id: Any = None  # the record's id when the line got that far, for `{"id", "error"}` output

    def __str__(self) -> str:
        return f"line {self.lineno}: {self.message}"


def _lines(stream: IO[bytes] | IO[str], limit: int) -> Iterator[tuple[int, bytes | str, bool]]:
    """(line number, line, too long) without holding more than ``limit`` of one line."""
    lineno = 0
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        lineno += 1
        nl = b"\n" if isinstance(line, bytes) else "\n"
        if len(line) > limit and not line.endswith(nl):  # type: ignore[arg-type]
            while True:  # discard the rest of the line in bounded chunks
                rest = stream.readline(_CHUNK)
                if not rest or rest.endswith(nl):  # type: ignore[arg-type]
                    break
            yield lineno, line[:0], True
            continue
        yield lineno, line, False


def read_jsonl_docs(
    stream: IO[bytes] | IO[str],
    *,
    required: tuple[str, ...] = ("id", "title", "text"),
    nonempty: tuple[str, ...] = ("id", "text"),
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[tuple[int, dict[str, Any]] | tuple[int, JsonlError]]:
    """Yield ``(line number, record)`` for each good line, ``(line number, JsonlError)`` for
    each bad one; blank lines are skipped.

    Bad: longer than ``max_line_bytes``, invalid UTF-8 (binary streams), not JSON, not an
    object, a ``required`` field missing, ``id`` not a string or integer, another required
    field not a string, a ``nonempty`` field empty or only whitespace.
    """
    for lineno, raw, too_long in _lines(stream, max_line_bytes):
        if too_long:
            yield lineno, JsonlError(lineno, f"line longer than {max_line_bytes:,} bytes, skipped")
            continue
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield lineno, JsonlError(lineno, f"invalid UTF-8 at byte {exc.start}")
                continue
        else:
            line = raw
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield lineno, JsonlError(lineno, f"malformed JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(obj, dict):
            yield lineno, JsonlError(lineno, f"expected a JSON object, got {type(obj).__name__}")
            continue
        err = _check(obj, required, nonempty)
        if err:
            rid = obj.get("id") if isinstance(obj.get("id"), str | int) else None
            yield lineno, JsonlError(lineno, err, rid)
            continue
        yield lineno, obj


def _check(obj: dict[str, Any], required: tuple[str, ...], nonempty: tuple[str, ...]) -> str:
    missing = [f for f in required if f not in obj or obj[f] is None]
    if missing:
        return "missing field" + ("s " if len(missing) > 1 else " ") + ", ".join(
            f'"{f}"' for f in missing)
    for f in required:
        value = obj[f]
        if f == "id":
            if isinstance(value, bool) or not isinstance(value, str | int):
                return f'"id" must be a string or an integer, got {type(value).__name__}'
        elif not isinstance(value, str):
            return f'"{f}" must be a string, got {type(value).__name__}'
    for f in nonempty:
        if f in obj and isinstance(obj[f], str) and not obj[f].strip():
            return f'empty "{f}"'
    return ""
