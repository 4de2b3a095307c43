"""The `newsdesk` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from newsdesk import __version__


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")


def _fail(message: str, code: int = 2) -> int:
    print(f"newsdesk: error: {message}", file=sys.stderr)
    return code


# -- sources ------------------------------------------------------------------------------------
def cmd_sources(args: argparse.Namespace) -> int:
    from newsdesk import bootstrap

    config = bootstrap.setup(args.data_dir)
    from newsdesk.news import sources

    if args.sources_cmd == "add":
        from newsdesk.pipeline.fetch import Fetcher
        from newsdesk.runner.crawl import fetch_config
        from newsdesk.runner.discover import DiscoveryError, discover

        async def find() -> Any:
            async with Fetcher(fetch_config(config)) as fetcher:
                return await discover(fetcher, args.url)

        try:
            found = asyncio.run(find())
        except DiscoveryError as exc:
            return _fail(str(exc))
        src, created = sources.save_discovered(found, name=args.name, category=args.category)
        verb = "added" if created else "updated"
        print(f"{verb} source #{src.id}: {src.url} ({src.kind}, {found.entries} entries now)"
              + (f" — {src.name}" if src.name else ""))
        return 0
    if args.sources_cmd == "import":
        try:
            added, existing = sources.import_opml(Path(args.file).read_bytes())
        except (OSError, ValueError) as exc:
            return _fail(f"cannot import {args.file}: {exc}")
        print(f"imported {added} new sources ({existing} already present)")
        return 0
    if args.sources_cmd == "export":
        sys.stdout.write(sources.export_opml())
        return 0
    if args.sources_cmd == "list":
        rows = sources.health()
        if args.json:
            _print_json(rows)
            return 0
        _print_sources_table(rows)
        return 0
    return _fail("unknown sources command")


def _print_sources_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(rows)} sources")
    for col in ("id", "name", "articles", "last success", "last error", "fails", "next poll"):
        table.add_column(col)
    for r in rows:
        err = f"{r['last_error_reason']}: {(r['last_error_message'] or '')[:60]}" if r[
            "last_error_reason"] else ""
        table.add_row(str(r["id"]), (r["name"] or r["url"])[:50], str(r["articles"]),
                      (r["last_success"] or "never")[:19], err, str(r["consecutive_failures"]),
                      (r["next_poll"] or "")[:19])
    Console(width=160).print(table)


# -- crawl / run / serve ------------------------------------------------------------------------
def cmd_crawl(args: argparse.Namespace) -> int:
    from newsdesk import bootstrap

    config = bootstrap.setup(args.data_dir)
    from newsdesk.runner.crawl import Crawler
    from newsdesk.runner.gc_tuning import tune_gc
    from newsdesk.runner.progress import print_summary, reporter

    tune_gc()

    async def once() -> dict[str, Any]:
        with reporter() as rep:
            async with Crawler(config, on_event=rep) as crawler:
                summary = await crawler.run_once(due_only=not args.all)
        return summary.as_dict()

    summary = asyncio.run(once())
    if args.json:
        _print_json(summary)
    else:
        print_summary(summary)
    return 0


def _uvicorn_server(host: str, port: int) -> Any:
    import uvicorn

    from newsdesk.asgi import application

    return uvicorn.Server(uvicorn.Config(application, host=host, port=port, log_level="warning",
                                         lifespan="off"))


def cmd_serve(args: argparse.Namespace) -> int:
    from newsdesk import bootstrap

    config = bootstrap.setup(args.data_dir)
    server = _uvicorn_server(args.host or config.host, args.port or config.port)
    print(f"newsdesk {__version__}: serving on http://{server.config.host}:{server.config.port}/",
          file=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from newsdesk import bootstrap

    config = bootstrap.setup(args.data_dir)
    from newsdesk.runner.daemon import run_forever
    from newsdesk.runner.gc_tuning import tune_gc

    tune_gc()
    server = _uvicorn_server(args.host or config.host, args.port or config.port)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_forever(config, server))
    print("newsdesk: stopped", file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from newsdesk.runner.demo import run_demo

    if args.data_dir:
        print("newsdesk demo: --data-dir ignored; the demo uses a throwaway data dir",
              file=sys.stderr)
    return run_demo(args.host, args.port, args.keep, make_server=_uvicorn_server)


# -- extract ------------------------------------------------------------------------------------
_EXTRACT_FIELDS = ("title", "authors", "published", "language", "text", "canonical_url", "image",
                   "sitename")


def _extracted_json(ex: Any) -> dict[str, Any]:
    out = {k: getattr(ex, k) for k in _EXTRACT_FIELDS}
    out["authors"] = list(ex.authors)
    out["published"] = ex.published.isoformat() if ex.published else None
    return out


def cmd_extract(args: argparse.Namespace) -> int:
    from newsdesk.pipeline.extract import ExtractionError, extract

    if not args.jsonl:
        src = sys.stdin.buffer if args.file in (None, "-") else None
        try:
            body = src.read() if src else Path(args.file).read_bytes()
            _print_json(_extracted_json(extract(body, args.url)))
        except (OSError, ExtractionError) as exc:
            return _fail(str(exc))
        return 0
    from newsdesk.runner.extract_batch import run_extract_jsonl

    errors = run_extract_jsonl(sys.stdin.buffer, sys.stdout, sys.stderr,
                               site_learning=args.site_learning, as_json=_extracted_json)
    return 1 if errors and args.strict else 0


# -- export / search ----------------------------------------------------------------------------
def cmd_export(args: argparse.Namespace) -> int:
    from newsdesk import bootstrap

    bootstrap.setup(args.data_dir)
    from newsdesk.news.export import export_jsonl

    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            return _fail(f"--since: not an ISO date: {args.since!r}")
    n = export_jsonl(sys.stdout, since=since)
    print(f"exported {n} articles", file=sys.stderr)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from newsdesk import bootstrap

    bootstrap.setup(args.data_dir)
    from newsdesk.news.search import search

    hits = search(args.query, limit=args.limit)
    if args.json:
        _print_json([{"id": h.article.id, "title": h.article.title, "url": h.article.url,
                      "source": h.article.source.name, "published": h.article.published,
                      "snippet": h.snippet} for h in hits])
        return 0
    if not hits:
        print("no results", file=sys.stderr)
    for h in hits:
        date = h.article.published.date().isoformat() if h.article.published else "????-??-??"
        print(f"{date}  {h.article.title}\n    {h.article.url}\n    {h.snippet}\n")
    return 0


def cmd_import_warc(args: argparse.Namespace) -> int:
    from newsdesk import bootstrap

    bootstrap.setup(args.data_dir)
    from newsdesk.runner.warc import import_warc

    try:
        counts = import_warc(Path(args.file))
    except (OSError, ValueError) as exc:
        return _fail(f"cannot read {args.file}: {exc}")
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


def cmd_manage(args: argparse.Namespace) -> int:
    """Django's management commands on newsdesk's data dir (e.g. `createsuperuser`)."""
    from newsdesk import bootstrap

    bootstrap.setup(args.data_dir)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["newsdesk manage", *args.django_args])
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    from newsdesk.conf import SETTINGS, load

    current = load()
    for s in SETTINGS:
        print(f"{s.env}={getattr(current, s.name)}\n    {s.help} (default: {s.default!r})")
    return 0


# -- dedup --------------------------------------------------------------------------------------
def cmd_dedup(args: argparse.Namespace) -> int:
    from newsdesk.runner.dedup import run_jsonl

    return run_jsonl(sys.stdin.buffer, sys.stdout, sys.stderr, threshold=args.threshold,
                     max_docs=args.max_docs, strict=args.strict)


# -- stories ------------------------------------------------------------------------------------
def cmd_stories(args: argparse.Namespace) -> int:
    from newsdesk.runner.stories_cli import run

    if not args.jsonl:
        return _fail("stories cluster: only --jsonl input is supported")
    state = Path(args.state) if args.state else None
    run(sys.stdin.buffer, sys.stdout, sys.stderr, state=state)
    return 0


# -- takedown -----------------------------------------------------------------------------------
def cmd_takedown(args: argparse.Namespace) -> int:
    from newsdesk import bootstrap

    bootstrap.setup(args.data_dir)
    from newsdesk.takedown import workflow

    if args.takedown_cmd == "report":
        rows = workflow.report()
        if args.json:
            _print_json(rows)
        else:
            _print_takedown_table(rows)
        return 0
    if args.takedown_cmd == "notify":
        n = workflow.notify_admins()
        print(f"reminded the admins of {n} undecided request(s)")
        return 0
    if args.takedown_cmd == "approve":
        import getpass

        try:
            req = workflow.get(args.public_id)
            n = workflow.approve(req, actor=f"admin:cli:{getpass.getuser()}")
        except workflow.TakedownError as exc:
            return _fail(f"{args.public_id}: {exc}", 1)
        print(f"{req.public_id}: approved; removed {n} article(s)")
        return 0
    return _fail("unknown takedown command")


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    sign, s = ("-" if seconds < 0 else ""), abs(seconds)
    return f"{sign}{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"


def _print_takedown_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    overdue = sum(r["overdue"] for r in rows)
    table = Table(title=f"{len(rows)} takedown requests, {overdue} over the 24-hour deadline")
    for col in ("id", "domain", "status", "created", "time to removal", "time left", "overdue"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["id"], r["domain"], r["status"], r["created"][:19],
                      _duration(r["time_to_removal_seconds"]), _duration(r["time_left_seconds"]),
                      "OVERDUE" if r["overdue"] else "")
    Console(width=160).print(table)


# -- parser -------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newsdesk", description="Self-hosted news aggregator.")
    p.add_argument("--version", action="version", version=f"newsdesk {__version__}")
    p.add_argument("--data-dir", help="data directory (default: $NEWSDESK_DATA_DIR or "
                                      "./newsdesk-data)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("sources", help="manage sources").add_subparsers(dest="sources_cmd",
                                                                        required=True)
    a = s.add_parser("add", help="add a feed, sitemap or home page (its feed is discovered)")
    a.add_argument("url")
    a.add_argument("--name")
    a.add_argument("--category")
    s.add_parser("import", help="import an OPML file").add_argument("file")
    s.add_parser("export", help="write all sources as OPML to stdout")
    s.add_parser("list", help="sources and their health").add_argument("--json",
                                                                       action="store_true")

    c = sub.add_parser("crawl", help="poll due sources, fetch and store new articles")
    c.add_argument("--once", action="store_true", help="one pass, then exit (the default)")
    c.add_argument("--all", action="store_true", help="poll every source, due or not")
    c.add_argument("--json", action="store_true", help="print the summary as JSON")

    for name, helptext in (("serve", "run the web server"),
                           ("run", "scheduler loop plus web server (the main command)")):
        r = sub.add_parser(name, help=helptext)
        r.add_argument("--host")
        r.add_argument("--port", type=int)

    d = sub.add_parser("demo", help="offline demo: crawl a fictional news web, serve it")
    d.add_argument("--host")
    d.add_argument("--port", type=int)
    d.add_argument("--keep", action="store_true", help="keep the temporary data dir on exit")

    e = sub.add_parser("extract", help="extract one page (or --jsonl many) as JSON")
    e.add_argument("file", nargs="?", help="HTML file, or - for stdin")
    e.add_argument("--url", help="the page's URL (resolves links, canonical)")
    e.add_argument("--jsonl", action="store_true",
                   help='read {"id","path","url"?} lines on stdin, write one JSON line each')
    e.add_argument("--site-learning", action="store_true",
                   help="with --jsonl: learn each host's template from all its input pages "
                        "(by their url) and strip it from every page")
    e.add_argument("--strict", action="store_true", help="exit 1 if any page failed")

    x = sub.add_parser("export", help="export articles")
    x.add_argument("--format", choices=["jsonl"], default="jsonl")
    x.add_argument("--since", help="ISO date or datetime (by first seen)")

    q = sub.add_parser("search", help="full-text search")
    q.add_argument("query")
    q.add_argument("--json", action="store_true")
    q.add_argument("--limit", type=int, default=20)

    sub.add_parser("import-warc", help="ingest the HTML responses of a WARC file").add_argument(
        "file")
    sub.add_parser("settings", help="print every setting, its value and meaning")
    u = sub.add_parser("dedup", help="find near-duplicate (syndicated) copies and the original")
    u.add_argument("--jsonl", action="store_true", required=True,
                   help='read {"id","title","text","published"?,"source"?} lines on stdin, write '
                        '{"id","duplicate_of"} lines once all input is read')
    u.add_argument("--threshold", type=float, default=0.6, help="similarity (default 0.6)")
    u.add_argument("--max-docs", type=int, help="compare each doc with the last N docs only")
    u.add_argument("--strict", action="store_true", help="exit 1 if any line was bad")
    t = sub.add_parser("takedown", help="owners' removal requests").add_subparsers(
        dest="takedown_cmd", required=True)
    t.add_parser("report", help="every request: status, time to removal, time left, overdue"
                 ).add_argument("--json", action="store_true")
    t.add_parser("notify", help="remind the admins of requests undecided after 12 hours, now")
    t.add_parser("approve", help="approve removal after your own check of ownership"
                 ).add_argument("public_id")
    st = sub.add_parser("stories", help="group articles about the same event").add_subparsers(
        dest="stories_cmd", required=True)
    sc = st.add_parser("cluster", help='read {"id","title","text","published"?,"source"?} lines '
                       'in time order on stdin, write {"id","story_id"} lines')
    sc.add_argument("--jsonl", action="store_true", help="JSON lines in and out (required)")
    sc.add_argument("--state", help="clusterer state file: loaded if present, saved at the end")
    m = sub.add_parser("manage", help="run a Django management command, e.g. createsuperuser")
    m.add_argument("django_args", nargs=argparse.REMAINDER)
    return p


COMMANDS = {
    "sources": cmd_sources, "crawl": cmd_crawl, "serve": cmd_serve, "run": cmd_run,
    "extract": cmd_extract, "export": cmd_export, "search": cmd_search,
    "import-warc": cmd_import_warc, "settings": cmd_settings, "manage": cmd_manage, "demo": cmd_demo,
    "takedown": cmd_takedown, "stories": cmd_stories, "dedup": cmd_dedup,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from newsdesk.conf import SettingError

    try:
        return COMMANDS[args.cmd](args)
    except SettingError as exc:
        return _fail(f"bad setting: {exc}")


if __name__ == "__main__":
    sys.exit(main())
