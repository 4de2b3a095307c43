"""`newsdesk import-warc`: HTML responses of a WARC file become articles."""

from __future__ import annotations

import zlib
from collections import Counter
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from newsdesk.news import grouping, store
from newsdesk.news.models import Source
from newsdesk.pipeline.extract import ExtractionError, extract
from newsdesk.pipeline.urls import host_of

MAX_BODY = 10 * 1024 * 1024


def _decoded(body: bytes, encoding: str | None) -> bytes:
    """Undo a Content-Encoding the archive kept (Common Crawl stores bodies decoded already)."""
    if not encoding or encoding.lower() in {"identity", ""}:
        return body
    if encoding.lower() in {"gzip", "x-gzip", "deflate"}:
        d = zlib.decompressobj(zlib.MAX_WBITS | 32)
        out = d.decompress(body, MAX_BODY + 1)
        if len(out) > MAX_BODY:
            raise ValueError("decompressed body too large")
        return out
    raise ValueError(f"unsupported content encoding {encoding}")


def _source_for(url: str) -> Source:
    host = host_of(url)
    src, _ = Source.objects.get_or_create(
        url=f"https://{host}/", defaults={"kind": Source.Kind.PAGES, "name": host,
                                          "site_url": f"https://{host}/", "active": False})
    return src


def import_warc(path: Path) -> dict[str, int]:
    counts: Counter[str] = Counter()
    with path.open("rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type != "response" or record.http_headers is None:
                continue
            counts["responses"] += 1
            url = record.rec_headers.get_header("WARC-Target-URI") or ""
            ctype = (record.http_headers.get_header("Content-Type") or "").lower()
            status = record.http_headers.get_statuscode()
            if not url.startswith(("http://", "https://")) or status != "200" or (
                "html" not in ctype
            ):
                counts["skipped"] += 1
                continue
            try:
                body = record.content_stream().read(MAX_BODY + 1)
                if len(body) > MAX_BODY:
                    raise ValueError("body too large")
                body = _decoded(body, record.http_headers.get_header("Content-Encoding"))
                ex = extract(body, url)
            except (ValueError, ExtractionError) as exc:
                counts[f"error: {str(exc)[:40]}"] += 1
                continue
            if not ex.text.strip():
                counts["empty"] += 1
                continue
            stored = store.store_article(_source_for(url), url, url, ex)
            counts[stored.outcome] += 1
    grouping.assign_ungrouped()  # in publication order, like a crawl pass
    grouping.persist()
    return dict(counts)
