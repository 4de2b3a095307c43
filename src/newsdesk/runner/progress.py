"""How a crawl reports itself: a live rich display on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

log = logging.getLogger("newsdesk.crawl")


class PlainReporter:
    """One log line per feed and per page problem; quiet about successful pages."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.pages = Counter[str]()
        self.quiet = quiet  # the daemon: problems only, its own line per pass says the rest

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if self.quiet and kind not in {"feed_error", "page_error"}:
            return
        if kind == "start":
            self._w(f"crawl: {data['sources']} sources due")
        elif kind == "feed":
            self._w(f"feed {data['url']} -> {data['status']}, {data['queued']} new pages queued")
        elif kind == "feed_error":
            self._w(f"feed {data['url']} failed: {data['reason']}: {data['error']}")
        elif kind == "page_error":
            self._w(f"page {data['url']} failed: {data['reason']}: {data['error']}")
        elif kind == "page":
            self.pages[data["outcome"]] += 1
            total = sum(self.pages.values())
            if total % 100 == 0:
                self._w(f"pages stored: {total} ({dict(self.pages)})")

    def _w(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def __enter__(self) -> PlainReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class RichReporter:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=console,
            transient=False,
        )
        self.feeds = self.progress.add_task("feeds", total=0, info="")
        self.pages = self.progress.add_task("pages", total=0, info="")
        self.outcomes = Counter[str]()

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        p = self.progress
        if kind == "start":
            p.update(self.feeds, total=data["sources"])
        elif kind in {"feed", "feed_error"}:
            p.advance(self.feeds)
            if kind == "feed":
                p.update(self.pages, total=(p.tasks[self.pages].total or 0) + data["queued"])
            else:
                p.console.log(f"[red]feed[/red] {data['url']}: {data['reason']}")
        elif kind in {"page", "page_error"}:
            self.outcomes[data.get("outcome", data.get("reason", "error"))] += 1
            task = p.tasks[self.pages]
            if task.completed + 1 > (task.total or 0):
                p.update(self.pages, total=task.completed + 1)
            p.advance(self.pages)
            info = " ".join(f"{k}={v}" for k, v in self.outcomes.most_common(4))
            p.update(self.pages, info=info)

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def reporter(stream: TextIO | None = None) -> PlainReporter | RichReporter:
    stream = stream or sys.stderr
    if stream.isatty():
        return RichReporter(Console(file=stream))
    return PlainReporter(stream)


def print_summary(summary: dict[str, Any], stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    rows = [
        ("sources polled", summary["sources_polled"]),
        ("feeds not modified (304)", summary["feeds_not_modified"]),
        ("pages fetched", summary["pages_fetched"]),
        ("new articles", summary["new"]),
        ("updated articles", summary["updated"]),
        ("duplicates", summary["duplicate"]),
        ("elapsed (s)", summary["elapsed"]),
    ]
    errors = sorted(summary["errors"].items(), key=lambda kv: -kv[1])
    if stream.isatty():
        table = Table(title="crawl summary", show_header=False)
        for k, v in rows:
            table.add_row(k, str(v))
        for reason, n in errors:
            table.add_row(f"[red]errors: {reason}[/red]", str(n))
        Console(file=stream).print(table)
        return
    for k, v in rows:
        print(f"{k}: {v}", file=stream)
    print("errors: " + (", ".join(f"{r}={n}" for r, n in errors) or "none"), file=stream)
