"""Module attributes swapped for faster equivalents inside a block, and put back after it.

newsdesk runs some of trafilatura's internals faster (fastxpath.py, htmldoc.py's parser). They
are swapped in only while newsdesk extracts, so that bare trafilatura in the same process
(bench/ingest.py's baseline) keeps its own. Blocks may nest and run in several threads: the
originals are put back when the last block ends. A thread running bare trafilatura meanwhile
gets the equivalents, which give the same results.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Swap"]


class Swap:
    """``with swap():`` sets each ``(module, name, value)``; the originals are read now."""

    def __init__(self, replacements: list[tuple[Any, str, Any]]) -> None:
        self.replacements = [(m, name, getattr(m, name), new) for m, name, new in replacements]
        self._lock = threading.Lock()
        self._depth = 0

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                for module, name, _original, new in self.replacements:
                    setattr(module, name, new)
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    for module, name, original, _new in self.replacements:
                        setattr(module, name, original)
