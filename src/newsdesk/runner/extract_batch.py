"""`newsdesk extract --jsonl [--site-learning]`: many pages in, one JSON line each out.

Input lines are ``{"id", "path", "url"?}``. With site learning, a first pass fingerprints every
page and learns one template per host (by the ``url`` field; pages without one stay
single-page); the second pass extracts each page with its host's template minus the page
itself, so a page is judged by its site's *other* pages exactly as in the live crawler.
A bad line or an unreadable page gives ``{"id", "error"}`` and a message naming the line on
stderr; the batch goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from newsdesk.pipeline.extract import Extracted, ExtractionError, extract
from newsdesk.pipeline.sitetemplate import (
    SiteTemplate,
    WithoutThisPage,
    page_blocks,
    template_site,
)
from newsdesk.runner.jsonl import JsonlError, read_jsonl_docs

__all__ = ["run_extract_jsonl"]

# line number, id, path, url, error (a bad line keeps its place in the output)
_Request = tuple[int, Any, str, str | None, str | None]


def _requests(stdin: IO[bytes]) -> list[_Request]:
    out: list[_Request] = []
    for lineno, rec in read_jsonl_docs(stdin, required=("path",), nonempty=("path",)):
        if isinstance(rec, JsonlError):
            out.append((lineno, rec.id, "", None, rec.message))
            continue
        url = rec.get("url")
        rid = rec.get("id")
        if url is not None and not isinstance(url, str):
            out.append((lineno, rid, "", None, f'"url" must be a string, got {type(url).__name__}'))
            continue
        out.append((lineno, rid, rec["path"], url, None))
    return out


def _learn(requests: list[_Request]) -> dict[str, SiteTemplate]:
    """One template per host from every readable page of that host (fingerprints are not kept:
    memory grows with hosts, each template bounded, not with pages)."""
    templates: dict[str, SiteTemplate] = {}
    for _lineno, _rid, path, url, error in requests:
        host = template_site(url)
        if not host or error:
            continue
        try:
            fingerprint = page_blocks(Path(path).read_bytes(), url)
        except (OSError, ExtractionError):
            continue  # reported by the extraction pass
        templates.setdefault(host, SiteTemplate()).learn(fingerprint)
    return templates


def run_extract_jsonl(
    stdin: IO[bytes],
    stdout: IO[str],
    stderr: IO[str],
    *,
    site_learning: bool = False,
    as_json: Callable[[Extracted], dict[str, Any]],
) -> int:
    """Returns the number of failed lines."""
    errors = 0

    def emit(obj: dict[str, Any]) -> None:
        stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")

    def report(lineno: int, rid: Any, message: str) -> None:
        nonlocal errors
        errors += 1
        print(f"newsdesk extract: line {lineno}: {message}", file=stderr)
        emit({"id": rid, "error": message})

    requests = _requests(stdin)
    templates = _learn(requests) if site_learning else {}
    for lineno, rid, path, url, error in requests:
        if error:
            report(lineno, rid, error)
            continue
        template = templates.get(template_site(url)) if templates else None
        # judged by the host's other pages: the page's own blocks are taken out once known
        site = WithoutThisPage(template) if template is not None else None
        try:
            extracted = extract(Path(path).read_bytes(), url, site=site)
        except (OSError, ExtractionError) as exc:
            report(lineno, rid, str(exc))
            continue
        emit({"id": rid, **as_json(extracted)})
    return errors
