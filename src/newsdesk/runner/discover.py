"""What is behind a URL a user adds: a feed, a sitemap, or a home page that points to one."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

from newsdesk.pipeline.feeds import FeedParseError, discover_feeds, parse_any, sniff_kind
from newsdesk.pipeline.fetch import Fetcher, FetchError


@dataclass(frozen=True)
class Discovered:
    url: str  # the feed or sitemap to poll
    kind: str  # ParsedFeed.kind
    title: str | None
    site_url: str | None
    language: str | None
    entries: int


class DiscoveryError(ValueError):
    pass


async def _probe(fetcher: Fetcher, url: str) -> Discovered | None:
    try:
        res = await fetcher.fetch(url, check_robots=False)
        parsed = parse_any(res.body, res.final_url, res.content_type, res.charset)
    except (FetchError, FeedParseError):
        return None
    return Discovered(res.final_url, parsed.kind, parsed.title, parsed.site_url, parsed.language,
                      len(parsed.entries) + len(parsed.sitemaps))


async def discover(fetcher: Fetcher, url: str) -> Discovered:
    """Fetch `url`; a feed or sitemap is taken as is, a home page is searched for its feed
    (<link rel=alternate>), then for the sitemaps its robots.txt announces."""
    try:
        res = await fetcher.fetch(url, check_robots=False)
    except FetchError as exc:
        raise DiscoveryError(f"cannot fetch {url}: {exc}") from exc
    kind = sniff_kind(res.body, res.content_type)
    if kind in {"feed", "sitemap"}:
        try:
            parsed = parse_any(res.body, res.final_url, res.content_type, res.charset)
        except FeedParseError as exc:
            raise DiscoveryError(f"{url} looks like a {kind} but does not parse: {exc}") from exc
        return Discovered(res.final_url, parsed.kind, parsed.title, parsed.site_url,
                          parsed.language, len(parsed.entries) + len(parsed.sitemaps))
    if kind == "html":
        for feed in discover_feeds(res.body, res.final_url):
            found = await _probe(fetcher, feed.url)
            if found:
                return Discovered(found.url, found.kind, found.title or feed.title,
                                  found.site_url or res.final_url, found.language, found.entries)
        for sitemap in await _robots_sitemaps(fetcher, res.final_url):
            found = await _probe(fetcher, sitemap)
            if found:
                return Discovered(found.url, found.kind, found.title, res.final_url,
                                  found.language, found.entries)
        raise DiscoveryError(
            f"{url} is a web page without a feed link (<link rel=alternate>) or a sitemap "
            "in its robots.txt; add the feed URL directly"
        )
    raise DiscoveryError(f"{url} is neither a feed, a sitemap nor an HTML page")


async def _robots_sitemaps(fetcher: Fetcher, page_url: str) -> list[str]:
    try:
        res = await fetcher.fetch(urljoin(page_url, "/robots.txt"), check_robots=False)
    except FetchError:
        return []
    out = []
    for line in res.text().splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "sitemap" and value.strip():
            out.append(urljoin(page_url, value.strip()))
    return out[:5]
