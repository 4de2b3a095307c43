"""Developer tooling (not used by the running app): loopback replay server and corpus loaders."""

from __future__ import annotations

from typing import Any

__all__ = [
    "Page",
    "ReplayServer",
    "RequestRecord",
    "Site",
    "load_big9",
    "load_corpus",
    "load_fundus",
    "load_newspaper4k",
    "load_trafilatura_eval",
    "shared_data_dir",
]


def __getattr__(name: str) -> Any:
    # Lazy re-export: an eager import would make `python -m newsdesk.devtools.replay`
    # warn that the module was already in sys.modules before running as __main__.
    if name in __all__:
        from newsdesk.devtools import replay

        return getattr(replay, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
