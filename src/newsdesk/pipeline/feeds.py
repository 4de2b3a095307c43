"""Feed, sitemap and feed-autodiscovery parsing.

Framework-free: bytes in, frozen dataclasses out. RSS 0.9x/1.0/2.0 and Atom go through
feedparser; JSON Feed, sitemaps and HTML autodiscovery are handled here (json / lxml).
"""

from __future__ import annotations

import html as html_lib
import io
import json
import re
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from feedparser.datetimes import _parse_date as _feedparser_parse_date
from lxml import etree
from lxml import html as lxml_html

from newsdesk.pipeline.encoding import decode_body, sniff_unicode_signature

__all__ = [
    "DiscoveredFeed",
    "FeedEntry",
    "FeedParseError",
    "ParsedFeed",
    "discover_feeds",
    "parse_any",
    "parse_feed",
    "parse_sitemap",
    "sniff_kind",
]

MAX_DECOMPRESSED_BYTES = 50 * 1024 * 1024  # sitemaps.org caps sitemaps at 50 MB uncompressed


@dataclass(frozen=True)
class FeedEntry:
    url: str
    title: str | None
    published: datetime | None
    updated: datetime | None
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    summary: str | None
    guid: str | None
    image: str | None
    language: str | None


@dataclass(frozen=True)
class ParsedFeed:
    kind: str  # 'rss' | 'atom' | 'rdf' | 'json' | 'sitemap' | 'sitemapindex'
    title: str | None
    site_url: str | None
    language: str | None
    entries: tuple[FeedEntry, ...]
    sitemaps: tuple[str, ...] = ()
    ttl_minutes: int | None = None
    update_period_minutes: int | None = None


@dataclass(frozen=True)
class DiscoveredFeed:
    url: str
    title: str | None
    type: str | None


class FeedParseError(ValueError):
    """The document is not a feed/sitemap, or too broken to yield anything."""


# --------------------------------------------------------------------------- small helpers


def _clean(value: Any) -> str | None:
    """Collapse whitespace; empty -> None."""
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value or None


def _http_url(value: Any, base: str | None = None) -> str | None:
    """Absolute http(s) URL (resolved against base) or None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value:
        return None
    try:
        if base:
            value = urljoin(base, value)
        parts = urlsplit(value)
    except ValueError:  # e.g. invalid IPv6 literal
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return value


def _dedupe(values: Iterable[str | None]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for v in values:
        v = _clean(v)
        if v and v not in seen:
            seen[v] = None
    return tuple(seen)


def _struct_to_utc(value: Any) -> datetime | None:
    # feedparser's *_parsed values are struct_time already normalised to UTC.
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (ValueError, TypeError, OverflowError):
        return None


_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})")
_AM_PM = re.compile(r"\b(\d{1,2}):\d{2}(?::\d{2})?\s*([AaPp][Mm])\b")


def _parse_date(value: Any) -> datetime | None:
    """ISO 8601 / W3C-DTF first (sitemaps, JSON Feed), then feedparser's many formats."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        dt = None
    if dt is None and (iso := _ISO_DATE.match(text)):
        try:
            datetime(*(int(part) for part in iso.groups()))
        except ValueError:
            return None  # "2024-02-30": feedparser would silently roll it over to March
    if dt is not None:
        if dt.tzinfo is None:  # W3C-DTF dates without offset: assume UTC
            return dt.replace(tzinfo=UTC)
        try:
            return dt.astimezone(UTC)
        except (OverflowError, ValueError):
            return None
    try:
        parsed = _struct_to_utc(_feedparser_parse_date(text))
    except Exception:  # feedparser date handlers can raise on odd input; never crash
        parsed = None
    if parsed and (ampm := _AM_PM.search(text)):
        # feedparser ignores AM/PM ("Sat, Dec 16 2023 02:02:33 PM" came out as 02:02).
        hour, pm = int(ampm.group(1)), ampm.group(2).lower() == "pm"
        if pm and hour < 12:
            parsed += timedelta(hours=12)
        elif not pm and hour == 12:
            parsed -= timedelta(hours=12)
    return parsed or _parse_localized_date(text)


def _entry_date(entry: Mapping[str, Any], key: str) -> datetime | None:
    # dict.get: FeedParserDict.get() silently maps missing "updated*" keys to "published*".
    raw = dict.get(entry, key)
    parsed = _struct_to_utc(dict.get(entry, key + "_parsed"))
    if parsed is None or (isinstance(raw, str) and _AM_PM.search(raw)):
        # Second chance for localised month names; AM/PM correction.
        return _parse_date(raw) or parsed
    return parsed


# RFC 822-style dates with localised names are common in non-English news feeds
# ("mer, 16 nov 2022 00:38:15 +0100", "Seg, 24 Set 2018 19:42:40 -0300"); feedparser rejects them.
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            "jan janv janvier januar jänner jän enero ene gennaio gen janeiro januari",
            "feb fév févr février februar febrero febbraio fev fevereiro februari",
            "mar mars märz mär marzo março marco maart mrt",
            "apr avr avril april abril abr aprile",
            "may mai mayo maggio mag maio mei",
            "jun juin juni junio giugno giu junho",
            "jul juil juillet juli julio luglio lug julho",
            "aug août aout august agosto ago",
            "sep sept septembre september septiembre settembre set setembro",
            "oct okt octobre oktober octubre ottobre ott outubro out",
            "nov novembre november noviembre novembro",
            "dec déc décembre dezember dez diciembre dic dicembre dezembro december",
        ),
        start=1,
    )
    for name in names.split()
}
_LOCALIZED_DATE = re.compile(
    r"^(?:[^\W\d_]+\.?,?\s+)?(\d{1,2})\.?\s+([^\W\d_]+)\.?\s+(\d{4})"
    r"(?:[\sT]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*(Z|GMT|UTC|UT|[+-]\d{2}:?\d{2})?\s*$",
    re.I,
)


def _parse_localized_date(text: str) -> datetime | None:
    m = _LOCALIZED_DATE.match(text)
    if not m:
        return None
    day, month_name, year, hour, minute, second, zone = m.groups()
    month = _MONTHS.get(month_name.lower())
    if month is None:
        return None
    offset = 0
    if zone and zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        offset = (int(digits[:2]) * 60 + int(digits[2:])) * (1 if zone[0] == "+" else -1)
    try:
        naive = datetime(int(year), month, int(day), int(hour or 0), int(minute or 0),
                         int(second or 0))
    except ValueError:
        return None
    return (naive - timedelta(minutes=offset)).replace(tzinfo=UTC)


def _gunzip_if_needed(body: bytes) -> bytes:
    if body[:2] != b"\x1f\x8b":
        return body
    decomp = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = decomp.decompress(body, MAX_DECOMPRESSED_BYTES + 1)
    except zlib.error as exc:
        raise FeedParseError(f"corrupt gzip data: {exc}") from exc
    if len(out) > MAX_DECOMPRESSED_BYTES or decomp.unconsumed_tail:
        raise FeedParseError(
            f"gzip payload exceeds the {MAX_DECOMPRESSED_BYTES // (1024 * 1024)} MB size cap"
        )
    if not decomp.eof:
        raise FeedParseError("truncated gzip data")
    return out


# --------------------------------------------------------------------------- decoding

# Charset decoding lives in newsdesk.pipeline.encoding (shared with the fetcher and extractor).
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)


def _head_text(body: bytes, limit: int = 8192) -> str:
    """Cheap decode of the document head for sniffing (only ASCII structure matters)."""
    head = body[:limit]
    if signature := sniff_unicode_signature(head):
        codec, skip = signature
        return head[skip:].decode(codec, errors="ignore")
    return head.decode("latin-1")


# --------------------------------------------------------------------------- sniffing

_SKIP_PROLOG = re.compile(
    r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)", re.S | re.I
)
_ROOT_TAG = re.compile(r"\s*<([A-Za-z_][\w.:-]*)")
_FEED_ROOTS = {"rss", "rdf", "feed", "channel"}
_SITEMAP_ROOTS = {"urlset", "sitemapindex"}
_JSONFEED_VERSION = re.compile(rb"jsonfeed\.org\\?/version")  # "\/" is a legal JSON escape
_HTML_ROOTS = {"html", "head", "body", "div", "p", "script", "meta", "title", "a", "table"}


def _root_name(text: str) -> str | None:
    pos = 0
    while True:
        m = _SKIP_PROLOG.match(text, pos)
        if not m:
            break
        if re.match(r"\s*<!DOCTYPE\s+html", m.group(0), re.I):
            return "html"
        pos = m.end()
    m = _ROOT_TAG.match(text, pos)
    if not m:
        return None
    return m.group(1).rsplit(":", 1)[-1].lower()


def sniff_kind(body: bytes, content_type: str | None = None) -> str:
    """Classify a response body: 'feed' | 'sitemap' | 'html' | 'unknown'.

    The body wins over the Content-Type (servers mislabel feeds as text/html or
    application/octet-stream all the time); the header only breaks ties.
    """
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        body = _gunzip_if_needed(body)
    except FeedParseError:
        return "unknown"
    text = _head_text(body).lstrip("\ufeff \t\r\n")
    if not text:
        return "unknown"
    if text.startswith(("{", "[")):
        return "feed" if _JSONFEED_VERSION.search(body) else "unknown"
    if text.startswith("<"):
        root = _root_name(text)
        if root in _FEED_ROOTS:
            return "feed"
        if root in _SITEMAP_ROOTS:
            return "sitemap"
        if root in _HTML_ROOTS or "html" in ctype:
            return "html"
        return "unknown"
    if re.match(r"https?://\S+\s*(?:$|\n)", text, re.I):
        return "sitemap"  # plain-text sitemap: one URL per line
    if "html" in ctype:
        return "html"
    return "unknown"


# --------------------------------------------------------------------------- RSS / Atom

_KIND_BY_VERSION_PREFIX = (("atom", "atom"), ("rss090", "rdf"), ("rss10", "rdf"), ("rss", "rss"))
_PERIOD_MINUTES = {"hourly": 60, "daily": 1440, "weekly": 10080, "monthly": 43200, "yearly": 525600}
_IMAGE_EXT = re.compile(r"\.(?:jpe?g|png|gif|webp|avif|bmp)(?:$|[?#])", re.I)


def _kind_from_version(version: str) -> str | None:
    for prefix, kind in _KIND_BY_VERSION_PREFIX:
        if version.startswith(prefix):
            return kind
    if version == "cdf":
        return "rss"
    return None


def _positive_int(value: Any) -> int | None:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return n if n > 0 else None


def _update_period_minutes(feed: Mapping[str, Any]) -> int | None:
    period = str(feed.get("sy_updateperiod") or "").strip().lower()
    if period not in _PERIOD_MINUTES:
        return None
    frequency = _positive_int(feed.get("sy_updatefrequency")) or 1
    return max(1, round(_PERIOD_MINUTES[period] / frequency))


def _entry_image(entry: Mapping[str, Any], base: str) -> str | None:
    # Prefer the largest media:content image (news feeds often list several renditions).
    best: tuple[int, str] | None = None
    for media in entry.get("media_content") or ():
        url = _http_url(media.get("url"), base)
        if not url:
            continue
        medium = (media.get("medium") or "").lower()
        mtype = (media.get("type") or "").lower()
        if medium == "image" or mtype.startswith("image/") or (
            not medium and not mtype and _IMAGE_EXT.search(url)
        ):
            width = _positive_int(media.get("width")) or 0
            if best is None or width > best[0]:
                best = (width, url)
    if best:
        return best[1]
    for thumb in entry.get("media_thumbnail") or ():
        url = _http_url(thumb.get("url"), base)
        if url:
            return url
    for link in entry.get("links") or ():
        if link.get("rel") == "enclosure" and (link.get("type") or "").lower().startswith("image/"):
            url = _http_url(link.get("href"), base)
            if url:
                return url
    image = entry.get("image")
    if isinstance(image, Mapping):  # itunes:image / <image> inside the item
        return _http_url(image.get("href") or image.get("url"), base)
    return None


def _entry_url(entry: Mapping[str, Any], base: str) -> str | None:
    url = _http_url(entry.get("link"), base)
    if url:
        return url
    for link in entry.get("links") or ():
        if link.get("rel", "alternate") == "alternate":
            url = _http_url(link.get("href"), base)
            if url:
                return url
    # Atom <id> / RSS <guid isPermaLink="false"> are often the article URL anyway.
    guid = entry.get("id")
    return _http_url(guid) if isinstance(guid, str) else None


def _entry_authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    names: list[str | None] = []
    for author in entry.get("authors") or ():
        if isinstance(author, Mapping):
            names.append(author.get("name") or author.get("email"))
    if not names:
        names.append(entry.get("author"))
    return _dedupe(names)


def _base_of(node: Mapping[str, Any], url: str) -> str:
    """The feed URL combined with the element's xml:base (feedparser records it per field)."""
    for key in ("title_detail", "summary_detail", "subtitle_detail"):
        detail = node.get(key)
        if isinstance(detail, Mapping) and detail.get("base"):
            return urljoin(url, detail["base"])
    return url


_TAG = re.compile(r"<[^>]*>")


def _plain_title(node: Mapping[str, Any]) -> str | None:
    title = node.get("title")
    detail = node.get("title_detail")
    if isinstance(title, str) and isinstance(detail, Mapping) and "html" in (
        detail.get("type") or ""
    ):
        # Atom type="html"/"xhtml" titles (and RSS titles feedparser deems HTML) -> text.
        title = html_lib.unescape(_TAG.sub("", title))
    return _clean(title)


def _convert_entry(entry: Mapping[str, Any], feed_url: str, kind: str) -> FeedEntry | None:
    entry_base = _base_of(entry, feed_url)
    url = _entry_url(entry, entry_base)
    if url is None:
        return None
    published = _entry_date(entry, "published") or _entry_date(entry, "created")
    updated = _entry_date(entry, "updated")
    if published is None and kind in ("rss", "rdf"):
        # feedparser files dc:date under "updated"; in RSS it is the publication date.
        published, updated = updated, None
    return FeedEntry(
        url=url,
        title=_plain_title(entry),
        published=published,
        updated=updated,
        authors=_entry_authors(entry),
        categories=_dedupe(t.get("term") or t.get("label") for t in entry.get("tags") or ()),
        summary=(entry.get("summary") or "").strip() or None,
        guid=(entry.get("id") or "").strip() or None,
        image=_entry_image(entry, entry_base),
        language=None,
    )


def _parse_xml_feed(body: bytes, url: str, charset: str | None) -> ParsedFeed:
    # We decode ourselves and hand feedparser clean UTF-8: feedparser follows RFC 3023, so an
    # HTTP charset of ISO-8859-1 (a common server default) would turn UTF-8 feeds into mojibake,
    # and it gives up on the strict parser when whitespace precedes the XML declaration.
    text = decode_body(body, charset, "application/xml").lstrip("\ufeff \t\r\n")
    text = _XML_DECL.sub("", text, count=1).lstrip()
    data = ('<?xml version="1.0" encoding="utf-8"?>\n' + text).encode("utf-8")
    # No Content-Location on purpose: feedparser would "resolve" every <id>/<guid> against it
    # (turning guid "t3_abc" into a fake URL). Links are resolved against `url` below instead.
    parsed = feedparser.parse(
        io.BytesIO(data),  # a stream: plain bytes/str may be treated as a path or URL
        response_headers={"content-type": "application/xml; charset=utf-8"},
    )
    kind = _kind_from_version(parsed.get("version") or "")
    if kind is None:
        reason = parsed.get("bozo_exception") if parsed.get("bozo") else None
        raise FeedParseError(
            f"not an RSS/Atom/RDF feed: {url}" + (f" ({reason})" if reason else "")
        )
    if parsed.get("bozo") and not parsed.entries:
        raise FeedParseError(
            f"broken feed without entries: {url} ({parsed.get('bozo_exception')})"
        )
    feed = parsed.feed
    entries = (_convert_entry(e, url, kind) for e in parsed.entries)
    return ParsedFeed(
        kind=kind,
        title=_plain_title(feed),
        site_url=_http_url(feed.get("link"), _base_of(feed, url)),
        language=_clean(feed.get("language")),
        entries=tuple(e for e in entries if e is not None),
        ttl_minutes=_positive_int(feed.get("ttl")),
        update_period_minutes=_update_period_minutes(feed),
    )


# --------------------------------------------------------------------------- JSON Feed

# feedparser 6.0.x (the installed release, 6.0.14) has no JSON Feed support -- it only landed
# on feedparser's development branch -- so JSON Feed 1.0/1.1 is parsed here with json.


def _json_authors(obj: Mapping[str, Any]) -> tuple[str, ...]:
    authors = obj.get("authors")  # 1.1
    if not isinstance(authors, list):
        authors = [obj.get("author")]  # 1.0
    return _dedupe(a.get("name") for a in authors if isinstance(a, Mapping))


def _json_text(value: Any) -> str | None:
    # JSON Feed titles are plain text, but WordPress plugins emit HTML entities (&#8211;).
    cleaned = _clean(value)
    return _clean(html_lib.unescape(cleaned)) if cleaned else None


def _json_image(item: Mapping[str, Any], base: str) -> str | None:
    for key in ("image", "banner_image"):
        url = _http_url(item.get(key), base)
        if url:
            return url
    for att in item.get("attachments") or ():
        if isinstance(att, Mapping) and str(att.get("mime_type", "")).startswith("image/"):
            url = _http_url(att.get("url"), base)
            if url:
                return url
    return None


def _parse_json_feed(body: bytes, url: str, charset: str | None) -> ParsedFeed:
    try:
        doc = json.loads(decode_body(body, charset, "application/json"))
    except ValueError as exc:
        raise FeedParseError(f"invalid JSON feed: {url} ({exc})") from exc
    if not isinstance(doc, dict) or "jsonfeed.org/version" not in str(doc.get("version", "")):
        raise FeedParseError(f"JSON document is not a JSON Feed: {url}")
    entries: list[FeedEntry] = []
    for item in doc.get("items") or ():
        if not isinstance(item, Mapping):
            continue
        guid = item.get("id")
        guid = str(guid).strip() if guid not in (None, "") else None
        link = (
            _http_url(item.get("url"), url)
            or _http_url(item.get("external_url"), url)
            or _http_url(guid)
        )
        if link is None:
            continue
        summary = item.get("summary") or item.get("content_html") or item.get("content_text")
        summary = (summary.strip() or None) if isinstance(summary, str) else None
        entries.append(
            FeedEntry(
                url=link,
                title=_json_text(item.get("title")),
                published=_parse_date(item.get("date_published")),
                updated=_parse_date(item.get("date_modified")),
                authors=_json_authors(item),
                categories=_dedupe(t for t in item.get("tags") or () if isinstance(t, str)),
                summary=summary,
                guid=guid,
                image=_json_image(item, url),
                language=None,
            )
        )
    return ParsedFeed(
        kind="json",
        title=_json_text(doc.get("title")),
        site_url=_http_url(doc.get("home_page_url"), url),
        language=_clean(doc.get("language")),
        entries=tuple(entries),
    )


def parse_feed(
    body: bytes, url: str, content_type: str | None = None, charset: str | None = None
) -> ParsedFeed:
    """Parse RSS 0.9x/1.0/2.0, Atom or JSON Feed.

    `url` is the feed's own URL (relative links resolve against it); `charset` is the HTTP
    charset, if any. Slightly broken ("bozo") feeds are accepted when they still yield entries.
    Entries without a usable http(s) link are dropped. `published` is the publication date
    (RSS pubDate / dc:date, Atom published, JSON date_published); `updated` only an explicit
    modification date. Both are aware UTC datetimes or None. Summaries are HTML as sanitised
    by feedparser (scripts/styles removed), or plain text.
    """
    body = _gunzip_if_needed(body)
    if not body.strip():
        raise FeedParseError(f"empty document: {url}")
    ctype = (content_type or "").lower()
    head = _head_text(body, 64).lstrip("\ufeff \t\r\n")
    if head.startswith("{") or ("json" in ctype and not head.startswith("<")):
        return _parse_json_feed(body, url, charset)
    return _parse_xml_feed(body, url, charset)


# --------------------------------------------------------------------------- sitemaps


def _local(el: etree._Element) -> str:
    tag = el.tag if isinstance(el.tag, str) else ""
    # Tolerate foreign/missing namespaces and undeclared prefixes kept verbatim in recover mode.
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()


def _child(el: etree._Element, name: str) -> etree._Element | None:
    for child in el:
        if _local(child) == name:
            return child
    return None


def _child_text(el: etree._Element | None, name: str) -> str | None:
    if el is None:
        return None
    child = _child(el, name)
    return _clean("".join(child.itertext())) if child is not None else None


def _sitemap_entry(url_el: etree._Element, base: str) -> FeedEntry | None:
    loc = _http_url(_child_text(url_el, "loc"), base)
    if loc is None:
        return None
    news = _child(url_el, "news")
    publication = _child(news, "publication") if news is not None else None
    image = None
    for child in url_el:
        if _local(child) == "image":
            image = _http_url(_child_text(child, "loc"), base)
            if image:
                break
    keywords = _child_text(news, "keywords") or ""
    return FeedEntry(
        url=loc,
        title=_child_text(news, "title"),
        published=_parse_date(_child_text(news, "publication_date")),
        updated=_parse_date(_child_text(url_el, "lastmod")),
        authors=(),
        categories=_dedupe(keywords.split(",")),
        summary=None,
        guid=None,
        image=image,
        language=_child_text(publication, "language"),
    )


def _parse_text_sitemap(body: bytes, url: str) -> ParsedFeed:
    text = decode_body(body, None, "text/plain").lstrip("\ufeff")
    entries = []
    for line in text.splitlines():
        line = line.strip()
        # Only absolute URLs count: resolving prose against the sitemap URL would invent URLs.
        loc = _http_url(line) if line and not any(c.isspace() for c in line) else None
        if loc:
            entries.append(FeedEntry(loc, None, None, None, (), (), None, None, None, None))
    if not entries:
        raise FeedParseError(f"not a sitemap (no URLs found): {url}")
    return ParsedFeed(kind="sitemap", title=None, site_url=None, language=None,
                      entries=tuple(entries))


def parse_sitemap(body: bytes, url: str) -> ParsedFeed:
    """Parse an XML urlset / sitemapindex (incl. Google News extension) or a text sitemap.

    Accepts gzip-compressed bodies (50 MB cap), BOMs and wrong/missing namespaces.
    """
    body = _gunzip_if_needed(body)
    kind = sniff_kind(body)
    if kind == "feed":  # sitemaps.org allows RSS/Atom feeds as sitemaps
        return parse_feed(body, url)
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped.startswith(b"<"):
        return _parse_text_sitemap(body, url)
    parser = etree.XMLParser(
        recover=True, resolve_entities=False, no_network=True, remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(stripped, parser)
    except etree.LxmlError as exc:
        raise FeedParseError(f"unparseable sitemap XML: {url} ({exc})") from exc
    if root is None:
        raise FeedParseError(f"unparseable sitemap XML: {url}")
    root_name = _local(root)
    if root_name == "sitemapindex":
        children: list[str] = []
        for sm in root:
            if _local(sm) != "sitemap":
                continue
            # Tolerate <sitemap>URL</sitemap> without <loc> (seen in the wild).
            loc = _child_text(sm, "loc") or _clean(sm.text)
            loc = _http_url(loc, url)
            if loc and loc not in children:
                children.append(loc)
        return ParsedFeed(kind="sitemapindex", title=None, site_url=None, language=None,
                          entries=(), sitemaps=tuple(children))
    if root_name != "urlset":
        raise FeedParseError(f"not a sitemap (root element <{root_name}>): {url}")
    entries = [e for e in (_sitemap_entry(u, url) for u in root if _local(u) == "url") if e]
    languages = {e.language for e in entries}
    return ParsedFeed(
        kind="sitemap",
        title=None,
        site_url=None,
        language=languages.pop() if len(languages) == 1 else None,
        entries=tuple(entries),
    )


def parse_any(
    body: bytes, url: str, content_type: str | None = None, charset: str | None = None
) -> ParsedFeed:
    """Dispatch on the sniffed document kind; HTML pages raise FeedParseError."""
    body = _gunzip_if_needed(body)
    kind = sniff_kind(body, content_type)
    if kind == "sitemap":
        return parse_sitemap(body, url)
    if kind == "html":
        raise FeedParseError(f"HTML page, not a feed (try discover_feeds): {url}")
    if kind == "unknown" and _head_text(body, 512).lstrip("\ufeff \t\r\n").startswith("<"):
        root = _root_name(_head_text(body).lstrip("\ufeff \t\r\n"))
        if root == "opml":
            raise FeedParseError(f"OPML subscription list, not a feed (use parse_opml): {url}")
    return parse_feed(body, url, content_type, charset)


# --------------------------------------------------------------------------- autodiscovery

_FEED_TYPES = {
    "application/rss+xml": "application/rss+xml",
    "application/atom+xml": "application/atom+xml",
    "application/rdf+xml": "application/rdf+xml",
    "application/feed+json": "application/feed+json",
    "application/x.atom+xml": "application/atom+xml",
    "application/x-atom+xml": "application/atom+xml",
    "application/x-rss+xml": "application/rss+xml",
}
# Generic types some sites use for feeds; only trusted when the URL/title says "feed".
_GENERIC_TYPES = {"application/json", "application/xml", "text/xml"}
_FEEDISH = re.compile(r"rss|atom|feed|rdf", re.I)
_FEED_HREF = re.compile(
    r"(?:/feeds?/?$|/rss/?$|/atom/?$|\.rss$|\.atom$|\.rdf$|/(?:rss|atom|feed|index)\.xml$"
    r"|/feed\.json$|/rss/[^/]+\.xml$|/feeds?/[^/]+\.xml$|[?&](?:feed|format|type)=(?:rss|atom)"
    r"|^https?://feeds\.feedburner\.com/)",
    re.I,
)


def discover_feeds(html: bytes | str, base_url: str) -> list[DiscoveredFeed]:
    """Feed links of an HTML page, in document order, deduplicated by URL.

    `<link rel="alternate">` with a feed type first; if there are none, `<a href>` links that
    look like feed URLs (type None).
    """
    text = decode_body(html, None, "text/html") if isinstance(html, bytes) else html
    # lxml refuses str input that carries an encoding declaration (XHTML pages).
    text = _XML_DECL.sub("", text.lstrip("\ufeff"), count=1)
    if not text.strip():
        return []
    try:
        doc = lxml_html.document_fromstring(text)
    except (etree.LxmlError, ValueError):
        return []
    base = base_url
    for el in doc.iter("base"):
        href = (el.get("href") or "").strip()
        if href:
            base = urljoin(base_url, href)
            break

    found: dict[str, DiscoveredFeed] = {}
    for el in doc.iter("link"):
        rels = (el.get("rel") or "").lower().split()
        if "alternate" not in rels and "feed" not in rels:
            continue
        ftype = (el.get("type") or "").split(";", 1)[0].strip().lower()
        href = el.get("href") or ""
        title = _clean(el.get("title"))
        if ftype in _FEED_TYPES:
            ftype = _FEED_TYPES[ftype]
        elif not (ftype in _GENERIC_TYPES and _FEEDISH.search(f"{href} {title or ''}")):
            continue
        url = _http_url(href, base)
        if url and url not in found:
            found[url] = DiscoveredFeed(url=url, title=title, type=ftype)
    if found:
        return list(found.values())

    for el in doc.iter("a"):
        href = (el.get("href") or "").strip()
        url = _http_url(href, base)
        if not url:
            continue
        path_and_query = url.split("#", 1)[0]
        if _FEED_HREF.search(path_and_query) and url not in found:
            title = _clean(el.text_content()) or _clean(el.get("title"))
            found[url] = DiscoveredFeed(url=url, title=title, type=None)
    return list(found.values())
