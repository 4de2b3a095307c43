"""Feed / sitemap / autodiscovery parsing: crafted fixtures plus conformance against the
expected outputs shipped with feed-rs and rss-parser (../shared/data/web/feeds)."""

from __future__ import annotations

import gzip
import html
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import pytest

from newsdesk.pipeline import feeds
from newsdesk.pipeline.feeds import (
    DiscoveredFeed,
    FeedParseError,
    ParsedFeed,
    discover_feeds,
    parse_any,
    parse_feed,
    parse_sitemap,
    sniff_kind,
)

DATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve() / "web"
FEEDS = DATA / "feeds"
SITEMAPS = DATA / "sitemaps"
FEED_URL = "https://feeds.example.org/path/feed.xml"  # stand-in for the URL the feed came from


def data_file(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not found: {path} (expected ../shared/data beside the repo)")
    return path


def data_params(folder: Path, pattern: str) -> list[Any]:
    """Parametrize over shared files; one skipped param (with reason) if the data is absent."""
    files = sorted(folder.glob(pattern)) if folder.is_dir() else []
    if not files:
        reason = f"shared test data not found: {folder / pattern}"
        print(reason)
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason))]
    return [pytest.param(f, id=str(f.relative_to(folder))) for f in files]


def norm(text: str | None) -> str | None:
    return " ".join(text.split()) or None if text else None


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def seconds(value: datetime | None) -> datetime | None:
    # feedparser's struct_time has whole seconds; references keep milliseconds.
    return value.replace(microsecond=0) if value else None


def canon(url: str) -> str:
    """Case-insensitive scheme/host and "/" for an empty path (feed-rs normalises so)."""
    parts = urlsplit(url)
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query,
         parts.fragment)
    )


TAG = re.compile(r"<[^>]*>")


def text_title(title: str | None) -> str | None:
    """References keep markup/entities in some titles; we deliver plain text."""
    return norm(html.unescape(TAG.sub("", title))) if title else None


def same_title(ours: str | None, theirs: str | None) -> bool:
    ours, theirs = text_title(ours), text_title(theirs)
    if ours is None or theirs is None:
        return ours == theirs
    if "\ufffd" in theirs:  # the reference mis-decoded a byte; we decode it correctly
        return re.fullmatch(".".join(map(re.escape, theirs.split("\ufffd"))), ours) is not None
    return ours == theirs


def check_invariants(feed: ParsedFeed) -> None:
    for e in feed.entries:
        assert e.url.startswith(("http://", "https://")) and e.url == e.url.strip()
        for value in (e.published, e.updated):
            assert value is None or value.tzinfo is UTC
        assert isinstance(e.authors, tuple) and isinstance(e.categories, tuple)
        assert e.image is None or e.image.startswith(("http://", "https://"))


# --------------------------------------------------------------------------- crafted RSS

CRAFTED_RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
     xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/">
<channel>
  <title>  Crafted   News </title>
  <link>/</link>
  <language>de-DE</language>
  <ttl>15</ttl>
  <sy:updatePeriod>hourly</sy:updatePeriod>
  <sy:updateFrequency>2</sy:updateFrequency>
  <item>
    <title>Erste Meldung: Gr\xc3\xbc\xc3\x9fe</title>
    <link>/news/1.html</link>
    <guid isPermaLink="false">id-1</guid>
    <pubDate>Wed, 03 Jan 2018 13:47:00 +0100</pubDate>
    <dc:creator>Anna Autorin</dc:creator>
    <category>Politik</category><category>Politik</category><category>Welt</category>
    <description>&lt;p&gt;Kurz &amp;amp; knapp&lt;/p&gt;</description>
    <media:content url="/img/small.jpg" medium="image" width="140"/>
    <media:content url="/img/large.jpg" medium="image" width="1200"/>
    <media:content url="/video.mp4" medium="video" width="4000"/>
  </item>
  <item>
    <title>No link at all</title>
    <guid isPermaLink="false">tag:example.org,2020:2</guid>
  </item>
  <item>
    <title>Guid is the permalink</title>
    <guid>https://example.org/news/3</guid>
    <pubDate>not a date</pubDate>
    <enclosure url="https://example.org/3.png" type="image/png" length="1"/>
  </item>
  <item>
    <title>12-hour clock</title>
    <link>https://example.org/news/5</link>
    <pubDate>Sat, Dec 16 2023 02:02:33 PM</pubDate>
  </item>
  <item>
    <title>Localised date</title>
    <link>mailto:someone@example.org</link>
    <guid isPermaLink="false">https://example.org/news/4</guid>
    <pubDate>mer, 16 nov 2022 00:38:15 +0100</pubDate>
  </item>
</channel>
</rss>
"""


def test_crafted_rss_feed_level_fields() -> None:
    feed = parse_feed(CRAFTED_RSS, "https://example.org/feeds/all.rss")
    assert feed.kind == "rss"
    assert feed.title == "Crafted News"
    assert feed.site_url == "https://example.org/"
    assert feed.language == "de-DE"
    assert feed.ttl_minutes == 15
    assert feed.update_period_minutes == 30  # hourly / 2
    assert feed.sitemaps == ()


def test_crafted_rss_entries() -> None:
    feed = parse_feed(CRAFTED_RSS, "https://example.org/feeds/all.rss")
    # The link-less item is dropped; the mailto link falls back to the http(s) guid.
    assert [e.url for e in feed.entries] == [
        "https://example.org/news/1.html",
        "https://example.org/news/3",
        "https://example.org/news/5",
        "https://example.org/news/4",
    ]
    first, third, fifth, fourth = feed.entries
    assert first.title == "Erste Meldung: Grüße"
    assert first.published == datetime(2018, 1, 3, 12, 47, tzinfo=UTC)
    assert first.published.tzinfo is UTC
    assert first.updated is None
    assert first.authors == ("Anna Autorin",)
    assert first.categories == ("Politik", "Welt")
    assert first.guid == "id-1"
    assert first.image == "https://example.org/img/large.jpg"  # widest image, resolved
    assert "Kurz" in (first.summary or "")
    assert first.language is None
    assert third.published is None  # unparseable date -> None, no crash
    assert third.image == "https://example.org/3.png"
    assert fourth.published == datetime(2022, 11, 15, 23, 38, 15, tzinfo=UTC)
    assert fifth.published == datetime(2023, 12, 16, 14, 2, 33, tzinfo=UTC)


@pytest.mark.parametrize(
    ("period", "frequency", "minutes"),
    [("daily", None, 1440), ("hourly", "4", 15), ("weekly", "1", 10080), ("bogus", "2", None)],
)
def test_update_period(period: str, frequency: str | None, minutes: int | None) -> None:
    freq = f"<sy:updateFrequency>{frequency}</sy:updateFrequency>" if frequency else ""
    body = (
        '<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>'
        f"<title>t</title><sy:updatePeriod>{period}</sy:updatePeriod>{freq}"
        "<item><link>https://example.org/a</link></item></channel></rss>"
    ).encode()
    assert parse_feed(body, FEED_URL).update_period_minutes == minutes


def test_dc_date_counts_as_published_in_rss1() -> None:
    body = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://example.org/"><title>R</title><link>https://example.org/</link>
  </channel>
  <item rdf:about="https://example.org/1"><title>One</title><link>https://example.org/1</link>
    <dc:date>2020-01-01T10:00:00+02:00</dc:date></item>
</rdf:RDF>"""
    feed = parse_feed(body, FEED_URL)
    assert feed.kind == "rdf"
    assert feed.entries[0].published == datetime(2020, 1, 1, 8, tzinfo=UTC)


def test_atom_xml_base_and_id_fallback() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example.org/x/">
  <title type="html">A &amp;amp; B</title>
  <link rel="alternate" href="/"/>
  <entry><title>rel</title><link href="post-1"/><id>urn:1</id>
    <published>2021-05-01T12:00:00-04:00</published><updated>2021-05-02T00:00:00Z</updated>
    <author><name>Kim</name></author><category term="rust"/></entry>
  <entry><title>id only</title><id>https://blog.example.org/p/2</id>
    <updated>2021-05-03T00:00:00Z</updated></entry>
  <entry><title>urn only</title><id>urn:uuid:3</id></entry>
</feed>"""
    feed = parse_feed(body, FEED_URL)
    assert feed.kind == "atom"
    assert feed.title == "A & B"
    assert feed.site_url == "https://blog.example.org/"
    assert [e.url for e in feed.entries] == [
        "https://blog.example.org/x/post-1",
        "https://blog.example.org/p/2",
    ]
    first, second = feed.entries
    assert first.published == datetime(2021, 5, 1, 16, tzinfo=UTC)
    assert first.updated == datetime(2021, 5, 2, tzinfo=UTC)
    assert first.authors == ("Kim",) and first.categories == ("rust",)
    # Atom keeps the distinction: no <published> -> published None, updated set.
    assert second.published is None and second.updated == datetime(2021, 5, 3, tzinfo=UTC)


# --------------------------------------------------------------------------- crafted JSON Feed

JSON_FEED_11 = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Blog &#8211; Example",
    "home_page_url": "https://example.org/",
    "feed_url": "https://example.org/feed.json",
    "language": "en-GB",
    "items": [
        {
            "id": "1",
            "url": "/2024/01/one",
            "title": "One",
            "content_html": "<p>Hello</p>",
            "summary": "Short",
            "date_published": "2024-01-02T03:04:05+01:00",
            "date_modified": "2024-01-03T00:00:00Z",
            "authors": [{"name": "Ann"}, {"name": "Bob"}, {"name": "Ann"}],
            "tags": ["a", "b"],
            "image": "https://example.org/one.jpg",
        },
        {
            "id": "2",
            "external_url": "https://elsewhere.example/two",
            "content_text": "Only text",
            "author": {"name": "Old Style"},
            "date_published": "yesterday-ish",
            "attachments": [{"url": "https://example.org/two.png", "mime_type": "image/png"}],
        },
        {"id": "tag:example.org,2024:3", "content_text": "no usable link"},
    ],
}


def test_json_feed_11() -> None:
    body = json.dumps(JSON_FEED_11).replace("/", "\\/").encode()  # escaped slashes are legal
    assert sniff_kind(body) == "feed"
    feed = parse_any(body, "https://example.org/feed.json", content_type="application/feed+json")
    assert feed.kind == "json"
    assert feed.title == "Blog – Example"
    assert feed.site_url == "https://example.org/"
    assert feed.language == "en-GB"
    assert [e.url for e in feed.entries] == [
        "https://example.org/2024/01/one",
        "https://elsewhere.example/two",
    ]
    one, two = feed.entries
    assert one.published == datetime(2024, 1, 2, 2, 4, 5, tzinfo=UTC)
    assert one.updated == datetime(2024, 1, 3, tzinfo=UTC)
    assert one.authors == ("Ann", "Bob")
    assert one.categories == ("a", "b")
    assert one.summary == "Short" and one.guid == "1"
    assert one.image == "https://example.org/one.jpg"
    assert two.title is None and two.summary == "Only text"
    assert two.authors == ("Old Style",) and two.published is None
    assert two.image == "https://example.org/two.png"


def test_feedparser_json_support_note() -> None:
    # parse_feed parses JSON Feed itself because feedparser 6.0.x cannot; if this starts
    # failing, feedparser learnt JSON Feed and feeds._parse_json_feed could be retired.
    import io

    import feedparser

    parsed = feedparser.parse(io.BytesIO(json.dumps(JSON_FEED_11).encode()))
    assert not parsed.entries


# --------------------------------------------------------------------------- encodings


def test_utf8_body_mislabelled_latin1_is_decoded_as_utf8() -> None:
    body = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel><title>Ü</title>'
        "<item><title>Straße in Köln</title><link>https://example.org/1</link></item>"
        "</channel></rss>"
    ).encode()
    feed = parse_feed(body, FEED_URL, charset="iso-8859-1")
    assert feed.title == "Ü"
    assert feed.entries[0].title == "Straße in Köln"


def test_latin1_body_mislabelled_utf8_is_recovered() -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Café</title>'
        "<item><title>Très réussi</title><link>https://example.org/1</link></item>"
        "</channel></rss>"
    ).encode("latin-1")
    feed = parse_feed(body, FEED_URL)
    assert feed.title == "Café" and feed.entries[0].title == "Très réussi"


def test_utf16_with_bom() -> None:
    text = (
        '<?xml version="1.0" encoding="utf-16"?><rss version="2.0"><channel><title>Ж</title>'
        "<item><title>日本語</title><link>https://example.org/1</link></item></channel></rss>"
    )
    body = text.encode("utf-16")
    assert sniff_kind(body) == "feed"
    assert parse_any(body, FEED_URL).entries[0].title == "日本語"


# (file, feed title, substring of some entry title) -- real feeds with tricky encodings.
MINIFLUX_CASES = [
    ("encoding_ISO-8859-1.xml", "Golem.de", "iPhone Xr im Test: Apples günstigeres iPhone"),
    ("encoding_WINDOWS-1251.xml", "iBash.Org.Ru", "Цитата #17703"),
    ("no_encoding_ISO-8859-1.xml", "Flux RSS du magazine de psychologie Le Cercle Psy",
     "La criminalité liée surtout à... l'ennui ?"),
    ("rdf_UTF8.xml", "heise online News", "Mega-Deal: IBM übernimmt Red Hat"),
    ("urdu_UTF8.xml", "BBC News اردو - پاکستان کے لیے امریکی امداد کی بہار و خزاں",
     "امریکی عسکری امداد"),
    ("small_atom.xml", "Recent Commits to v2:main", "Parse podcast categories"),
    ("large_atom.xml", "Artificial truth", "Using vale with vim"),
    ("large_rss.xml", "Artificial truth", "Using vale with vim"),
]


@pytest.mark.parametrize(("name", "title", "entry_title"), MINIFLUX_CASES)
def test_miniflux_encodings(name: str, title: str, entry_title: str) -> None:
    feed = parse_any(data_file("feeds", "miniflux", name).read_bytes(), FEED_URL)
    check_invariants(feed)
    assert feed.title == title
    titles = [e.title or "" for e in feed.entries]
    assert any(entry_title in t for t in titles), titles[:5]
    # No mojibake anywhere: UTF-8 read as Latin-1 shows up as "Ã", cp1250 confusion as "č"/"ŕ".
    blob = " ".join(titles)
    for bad in ("Ã", "â€", "\ufffd", "trčs", " ŕ "):
        assert bad not in blob


def test_miniflux_entry_counts_and_summary_text() -> None:
    counts = {
        "encoding_ISO-8859-1.xml": ("rss", 40),
        "encoding_WINDOWS-1251.xml": ("rss", 50),
        "no_encoding_ISO-8859-1.xml": ("rss", 9),  # 10 items, one with an empty <link>
        "rdf_UTF8.xml": ("rdf", 60),
        "urdu_UTF8.xml": ("rss", 26),
    }
    for name, (kind, n) in counts.items():
        feed = parse_feed(data_file("feeds", "miniflux", name).read_bytes(), FEED_URL)
        assert (feed.kind, len(feed.entries)) == (kind, n), name
    golem = parse_feed(
        data_file("feeds", "miniflux", "encoding_ISO-8859-1.xml").read_bytes(), FEED_URL
    )
    assert golem.language == "de" and golem.site_url == "https://www.golem.de/"
    assert any("Grünen" in (e.summary or "") for e in golem.entries)


def test_windows_1251_without_declaration_is_guessed() -> None:
    body = data_file("feeds", "miniflux", "encoding_WINDOWS-1251.xml").read_bytes()
    body = body.replace(b'<?xml version="1.0" encoding="windows-1251"?>', b"", 1)
    feed = parse_feed(body, FEED_URL)
    assert feed.entries[0].title == "Цитата #17703"


# --------------------------------------------------------------------------- broken input


def test_bozo_feed_with_entries_is_accepted() -> None:
    body = (
        b'<rss version="2.0"><channel><title>Broken&nbsp;feed</title>'
        b"<item><title>Still &mdash; here</title><link>https://example.org/1</link></item>"
        b"<item><title>Unclosed</title><link>https://example.org/2</link></item>"
        b"</channel>"  # missing </rss>, undefined HTML entities
    )
    feed = parse_feed(body, FEED_URL)
    assert [e.url for e in feed.entries] == ["https://example.org/1", "https://example.org/2"]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   \n",
        b"<catalog><book><title>not a feed</title></book></catalog>",
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Truncated</title><descr',
        b"\x00\x01\x02 binary junk \xff\xfe",
        b"{not json",
        b'{"version": "https://jsonfeed.org/version/1", "items": 5',
        b'{"version": "1.0", "items": []}',
    ],
)
def test_non_feeds_raise_feed_parse_error(body: bytes) -> None:
    with pytest.raises(FeedParseError):
        parse_feed(body, FEED_URL)


def test_html_and_opml_raise_in_parse_any() -> None:
    with pytest.raises(FeedParseError, match="HTML"):
        parse_any(b"<!DOCTYPE html><html><head><title>x</title></head></html>", FEED_URL)
    with pytest.raises(FeedParseError, match="OPML"):
        parse_any(b'<?xml version="1.0"?><opml version="2.0"><body/></opml>', FEED_URL)
    assert issubclass(FeedParseError, ValueError)


def test_feedparser_never_reads_local_files(tmp_path: Path) -> None:
    # feedparser treats plain bytes as a file name if such a file exists; we must not.
    secret = tmp_path / "secret.xml"
    secret.write_bytes(b'<rss version="2.0"><channel><item><link>https://x.org/</link>'
                       b"</item></channel></rss>")
    with pytest.raises(FeedParseError):
        parse_feed(str(secret).encode(), FEED_URL)


def test_gzip_compressed_feed() -> None:
    feed = parse_feed(gzip.compress(CRAFTED_RSS), "https://example.org/feeds/all.rss")
    assert len(feed.entries) == 4


def test_gzip_size_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feeds, "MAX_DECOMPRESSED_BYTES", 1000)
    bomb = gzip.compress(b"http://example.org/\n" * 1000)
    with pytest.raises(FeedParseError, match="size cap"):
        parse_sitemap(bomb, "https://example.org/sitemap.txt.gz")
    assert sniff_kind(bomb) == "unknown"


# --------------------------------------------------------------------------- sniffing


@pytest.mark.parametrize(
    ("body", "content_type", "kind"),
    [
        (b'<?xml version="1.0"?>\n<!-- c --><rss version="2.0"></rss>', None, "feed"),
        (b"\xef\xbb\xbf  <feed xmlns='http://www.w3.org/2005/Atom'/>", "text/html", "feed"),
        (b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'/>", None, "feed"),
        (b'<?xml version="1.0"?><?xml-stylesheet href="a.xsl"?><urlset/>', None, "sitemap"),
        (b"<sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'/>", None, "sitemap"),
        (b"https://example.org/a\nhttps://example.org/b\n", "text/plain", "sitemap"),
        (b"<!doctype html><html><body>x</body></html>", None, "html"),
        (b"<html><body>x</body></html>", "application/rss+xml", "html"),
        (b"<div>fragment</div>", None, "html"),
        (b"<weird/>", "text/html; charset=utf-8", "html"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', None, "feed"),
        (b'{"hello": "world"}', "application/json", "unknown"),
        (b"<opml version='2.0'/>", None, "unknown"),
        (b"", None, "unknown"),
        (b"plain words", None, "unknown"),
        (gzip.compress(b"<urlset/>"), None, "sitemap"),
    ],
)
def test_sniff_kind(body: bytes, content_type: str | None, kind: str) -> None:
    assert sniff_kind(body, content_type) == kind


# --------------------------------------------------------------------------- autodiscovery

DISCOVERY_HTML = """<!DOCTYPE html>
<html><head>
  <meta charset="utf-8">
  <base href="https://cdn.example.org/site/">
  <title>Example</title>
  <link rel="stylesheet" href="style.css">
  <link rel="alternate" hreflang="de" href="https://example.org/de/">
  <link rel="alternate" type="application/rss+xml" title="Nachrichten – Alle" href="rss.xml">
  <link rel="ALTERNATE" type="application/atom+xml" title="Atom" href="/atom.xml">
  <link rel="alternate" type="application/rss+xml" title="Dupe" href="https://cdn.example.org/site/rss.xml">
  <link rel="alternate" type="application/feed+json" title="JSON" href="feed.json">
  <link rel="alternate" type="application/json" href="/wp-json/wp/v2/posts/42">
  <link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
  <link rel="alternate feed" type="text/xml" title="Comments feed" href="comments/feed/">
</head><body><a href="/other.rss">ignored: link elements exist</a></body></html>"""


def test_discover_feeds_link_alternates_with_base() -> None:
    found = discover_feeds(DISCOVERY_HTML.encode("utf-8"), "https://example.org/page")
    assert found == [
        DiscoveredFeed("https://cdn.example.org/site/rss.xml", "Nachrichten – Alle",
                       "application/rss+xml"),
        DiscoveredFeed("https://cdn.example.org/atom.xml", "Atom", "application/atom+xml"),
        DiscoveredFeed("https://cdn.example.org/site/feed.json", "JSON", "application/feed+json"),
        DiscoveredFeed("https://cdn.example.org/site/comments/feed/", "Comments feed", "text/xml"),
    ]
    # str input works the same
    assert discover_feeds(DISCOVERY_HTML, "https://example.org/page") == found


def test_discover_feeds_anchor_fallback() -> None:
    page = b"""<html><body>
      <a href="/about">About</a>
      <a href="/feed/">RSS</a>
      <a href="https://example.org/feed/">duplicate</a>
      <a href="https://feeds.feedburner.com/ExampleNews">FeedBurner</a>
      <a href="/rss/politics.xml">Politics</a>
      <a href="/2024/01/feedback-is-welcome">article, not a feed</a>
      <a href="mailto:rss@example.org">mail</a>
    </body></html>"""
    found = discover_feeds(page, "https://example.org/")
    assert [(f.url, f.title, f.type) for f in found] == [
        ("https://example.org/feed/", "RSS", None),
        ("https://feeds.feedburner.com/ExampleNews", "FeedBurner", None),
        ("https://example.org/rss/politics.xml", "Politics", None),
    ]


def test_discover_feeds_xhtml_with_xml_declaration() -> None:
    page = (
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0'
        ' Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><link rel="alternate"'
        ' type="application/atom+xml" href="/atom" title="Über"/></head><body/></html>'
    )
    expected = [DiscoveredFeed("https://x.example/atom", "Über", "application/atom+xml")]
    assert discover_feeds(page, "https://x.example/") == expected
    assert discover_feeds(page.encode(), "https://x.example/") == expected


def test_discover_feeds_latin1_page_and_empty_input() -> None:
    page = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
        '<link rel="alternate" type="application/rss+xml" title="Actualités" href="/rss">'
        "</head></html>"
    ).encode("latin-1")
    assert discover_feeds(page, "https://example.fr/")[0].title == "Actualités"
    assert discover_feeds(b"", "https://example.org/") == []
    assert discover_feeds("   ", "https://example.org/") == []


def test_discover_feeds_on_real_homepage() -> None:
    page = data_file("newspaper4k-pages", "html", "cnn_main_site.html").read_bytes()
    assert discover_feeds(page, "https://edition.cnn.com/") == [
        DiscoveredFeed("http://rss.cnn.com/rss/edition.rss", "CNN - Top Stories [RSS]",
                       "application/rss+xml")
    ]
    # newspaper4k's "sample_rss.html" is really an RSS document: the body wins over the name.
    rss = data_file("newspaper4k-pages", "html", "sample_rss.html").read_bytes()
    assert sniff_kind(rss, "text/html") == "feed"
    assert parse_any(rss, "https://www.edumock.com/rss.html", "text/html").ttl_minutes == 60


# --------------------------------------------------------------------------- conformance: feed-rs

FEED_RS_KIND = {"Atom": "atom", "RSS0": "rss", "RSS1": "rdf", "RSS2": "rss", "JSON": "json"}
# Files we cannot compare, with the reason. (Empty: every reference file is compared.)
FEED_RS_EXCLUDED: dict[str, str] = {}


def _ref_link(entry: dict[str, Any], base: str) -> str | None:
    """The link our rules yield for a reference entry: first alternate link, resolved;
    else the id when it is an http(s) URL; entries with neither are dropped by design."""
    for link in entry.get("links") or []:
        if link.get("rel") in (None, "alternate") and link["href"].strip():
            url = urljoin(base, link["href"].strip())
            return url if url.startswith(("http://", "https://")) else None
    ident = (entry.get("id") or "").strip()
    return ident if ident.startswith(("http://", "https://")) else None


def _source_of(serde: Path) -> Path:
    stem = serde.name.removesuffix(".serde.json")
    for suffix in (".xml", ".json"):
        candidate = serde.with_name(stem + suffix)
        if candidate.exists():
            return candidate
    raise AssertionError(f"no source document for {serde}")


@pytest.mark.parametrize("serde", data_params(FEEDS / "feed-rs", "*/*.serde.json"))
def test_feed_rs_conformance(serde: Path) -> None:
    if serde.name in FEED_RS_EXCLUDED:
        pytest.skip(FEED_RS_EXCLUDED[serde.name])
    ref = json.loads(serde.read_text("utf-8"))
    source = _source_of(serde)
    feed = parse_any(source.read_bytes(), FEED_URL)
    check_invariants(feed)
    assert feed.kind == FEED_RS_KIND[ref["feed_type"]]

    assert same_title(feed.title, (ref.get("title") or {}).get("content"))

    # feed-rs leaves relative links unresolved; we resolve them against the feed URL.
    expected = [(e, _ref_link(e, FEED_URL)) for e in ref["entries"]]
    expected = [(e, link) for e, link in expected if link]
    assert [canon(e.url) for e in feed.entries] == [canon(link) for _, link in expected]

    source_text = source.read_bytes().decode("utf-8", "replace")
    for ours, (theirs, _) in zip(feed.entries, expected, strict=True):
        assert same_title(ours.title, (theirs.get("title") or {}).get("content"))
        # Dates are compared where feed-rs found one. RSS has a single item date, which feed-rs
        # reports as both published and updated; we report it as published only.
        if theirs.get("published"):
            assert seconds(ours.published) == seconds(utc(theirs["published"]))
        if theirs.get("updated") and feed.kind in ("atom", "json"):
            assert seconds(ours.updated) == seconds(utc(theirs["updated"]))
        # feed-rs invents an MD5 id when the document has none; compare only real ids.
        their_id = (theirs.get("id") or "").strip()
        if their_id and their_id in source_text:
            assert ours.guid == their_id


# --------------------------------------------------------------------------- conformance: rss-parser

RSS_PARSER_EXCLUDED: dict[str, str] = {}


def _load_rss_parser_output(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        # encoding.json was written by rss-parser in the feed's own ISO-8859-1.
        return json.loads(raw.decode("latin-1"))


@pytest.mark.parametrize("expected_path", data_params(FEEDS / "rss-parser" / "output", "*.json"))
def test_rss_parser_conformance(expected_path: Path) -> None:
    if expected_path.name in RSS_PARSER_EXCLUDED:
        pytest.skip(RSS_PARSER_EXCLUDED[expected_path.name])
    ref = _load_rss_parser_output(expected_path)["feed"]
    inputs = list((expected_path.parent.parent / "input").glob(expected_path.stem + ".*"))
    assert len(inputs) == 1, inputs
    feed = parse_any(inputs[0].read_bytes(), FEED_URL)
    check_invariants(feed)
    assert same_title(feed.title, ref.get("title"))

    # rss-parser keeps link-less items (we drop them) and leaves relative links unresolved
    # (we resolve them against the feed URL).
    expected = [i for i in ref["items"] if (i.get("link") or "").strip()]
    assert [canon(e.url) for e in feed.entries] == [
        canon(urljoin(FEED_URL, i["link"].strip())) for i in expected
    ]
    for ours, theirs in zip(feed.entries, expected, strict=True):
        assert same_title(ours.title, theirs.get("title"))
        if theirs.get("isoDate"):  # rss-parser: pubDate / dc:date, Atom published or updated
            assert seconds(ours.published or ours.updated) == seconds(utc(theirs["isoDate"]))


def test_rss_parser_inputs_without_expected_output() -> None:
    folder = FEEDS / "rss-parser" / "input"
    html_doc = data_file("feeds", "rss-parser", "input", "unrecognized.rss").read_bytes()
    assert sniff_kind(html_doc) == "html"
    with pytest.raises(FeedParseError):
        parse_any(html_doc, FEED_URL)
    podcast = parse_any((folder / "itunes-missing-image.rss").read_bytes(), FEED_URL)
    assert len(podcast.entries) == 131


def test_feed_rs_invalid_and_non_feed_documents() -> None:
    with pytest.raises(FeedParseError):  # truncated server response, no items
        parse_any(data_file("feeds", "feed-rs", "rss2", "rss_2.0_invalid_1.xml").read_bytes(),
                  FEED_URL)
    for name in ("xml_sample_1.xml", "xml_sample_2.xml", "xml_iso8859.xml"):
        with pytest.raises(FeedParseError):
            parse_any(data_file("feeds", "feed-rs", "xml", name).read_bytes(), FEED_URL)


def test_guardian_images_and_authors() -> None:
    feed = parse_any(data_file("feeds", "rss-parser", "input", "guardian.rss").read_bytes(),
                     FEED_URL)
    first = feed.entries[0]
    assert first.authors == ("David Smith in Washington",)
    assert first.image and "w=460" in first.image  # the larger of two media:content renditions
    assert first.categories  # Guardian tags every item


def test_npr_json_feed() -> None:
    body = data_file("feeds", "trafilatura", "npr-technology.feed.json").read_bytes()
    assert sniff_kind(body) == "feed"
    feed = parse_any(body, "https://feeds.npr.org/1019/feed.json")
    assert (feed.kind, feed.title, len(feed.entries)) == ("json", "Technology", 25)
    doc = json.loads(body)
    assert [e.url for e in feed.entries] == [i["url"] for i in doc["items"]]
    first = feed.entries[0]
    assert first.title == "Keller Rinaudo: How can delivery drones save lives?"
    assert first.published == utc(doc["items"][0]["date_published"])
    assert first.image and first.image.startswith("https://media.npr.org/")
    assert first.guid == "1050315385"


# --------------------------------------------------------------------------- sitemaps


def _sitemap(*parts: str) -> ParsedFeed:
    path = data_file("sitemaps", *parts)
    return parse_sitemap(path.read_bytes(), "https://www.example.com/" + path.name)


def test_google_news_sitemap() -> None:
    feed = _sitemap("crawler-commons", "extension", "sitemap-news.xml")
    assert feed.kind == "sitemap" and feed.language == "en"
    first = feed.entries[0]
    assert first.url == "http://www.example.org/business/article55.html"
    assert first.title == "Companies A, B in Merger Talks"
    assert first.published == datetime(2008, 12, 23, tzinfo=UTC)
    assert first.language == "en"
    assert first.categories == ("business", "merger", "acquisition", "A", "B")


def test_real_news_sitemaps() -> None:
    shinpai = _sitemap("crawler-commons", "extension", "shinpaideshou-news-sitemap.xml")
    assert len(shinpai.entries) == 3
    assert shinpai.entries[0].title == "Job Opening: Reischauer Policy Research Fellow"
    assert shinpai.entries[0].published == datetime(2017, 4, 25, 10, 0, 36, tzinfo=UTC)

    hebden = _sitemap("crawler-commons", "extension", "hebdenbridgetimes-articles-sitemap.xml")
    assert len(hebden.entries) == 74
    first = hebden.entries[0]
    assert first.url.startswith("http://www.hebdenbridgetimes.co.uk/news/local/video-tour-de")
    assert first.updated == datetime(2015, 5, 3, 17, 51, 50, tzinfo=UTC)  # +01:00 -> UTC
    assert first.image and first.image.endswith("417104257.jpg")
    assert all(e.url.startswith("http://www.hebdenbridgetimes.co.uk/") for e in hebden.entries)


def test_sitemap_index_without_loc_elements() -> None:
    feed = _sitemap("crawler-commons", "sitemap.index.xml")
    assert feed.kind == "sitemapindex" and feed.entries == ()
    assert len(feed.sitemaps) == 15
    assert feed.sitemaps[0] == "https://example.com/sitemap.jss?portalCode=10260&lang=en"


@pytest.mark.parametrize(
    ("parts", "count"),
    [
        (("crawler-commons", "sitemap.txt"), 2),
        (("crawler-commons", "sitemap-with-bom.txt"), 2),
        (("crawler-commons", "sitemap.txt.gz"), 5),
        (("crawler-commons", "xmlSitemap.gz"), 5),
        (("crawler-commons", "sitemap.badns.xml"), 2),
        (("crawler-commons", "sitemap.ns.xml"), 2),
        (("crawler-commons", "extension", "sitemap-images.xml"), 1),
        (("crawler-commons", "extension", "sitemap-videos.xml"), 3),
        (("crawler-commons", "extension", "sitemap-links.xml"), 3),
        (("crawler-commons", "extension", "sitemap-mobile.xml"), 3),
        (("trafilatura", "sitemaps.org-sitemap.xml"), 84),
    ],
)
def test_sitemap_variants(parts: tuple[str, ...], count: int) -> None:
    feed = _sitemap(*parts)
    assert feed.kind == "sitemap"
    assert len(feed.entries) == count
    assert all(e.url.startswith(("http://", "https://")) and e.url == e.url.strip()
               for e in feed.entries)


def test_sitemap_details() -> None:
    bom = _sitemap("crawler-commons", "sitemap-with-bom.txt")
    assert bom.entries[0].url == "http://www.domain.com/page1.html"  # BOM not glued to URL
    badns = _sitemap("crawler-commons", "sitemap.badns.xml")
    assert [e.url for e in badns.entries] == ["http://www.example.com/1", "http://www.example.com/2"]
    gz = _sitemap("crawler-commons", "xmlSitemap.gz")
    assert gz.entries[0].updated == datetime(2005, 1, 1, tzinfo=UTC)
    assert gz.entries[1].url == "http://www.example.com/catalog?item=12&desc=vacation_hawaii"
    images = _sitemap("crawler-commons", "extension", "sitemap-images.xml")
    assert images.entries[0].image == "http://example.com/image.jpg"
    trafi = _sitemap("trafilatura", "sitemaps.org-sitemap.xml")
    assert trafi.entries[0].url == "https://www.sitemaps.org/"


def test_atom_document_used_as_sitemap() -> None:
    feed = _sitemap("crawler-commons", "atom.xml")  # sitemaps.org allows RSS/Atom sitemaps
    assert feed.kind == "atom"
    assert feed.entries[0].url == "http://example.org/2003/12/13/atom03.html"


def test_parse_any_dispatches_sitemaps() -> None:
    body = data_file("sitemaps", "crawler-commons", "sitemap.txt.gz").read_bytes()
    assert sniff_kind(body) == "sitemap"
    assert parse_any(body, "https://www.example.com/sitemap.txt.gz").kind == "sitemap"


def test_sitemap_errors() -> None:
    with pytest.raises(FeedParseError):
        parse_sitemap(b"<html><body>nope</body></html>", "https://example.org/sitemap.xml")
    with pytest.raises(FeedParseError):
        parse_sitemap(b"no urls here", "https://example.org/sitemap.txt")
    with pytest.raises(FeedParseError, match="gzip"):
        parse_sitemap(b"\x1f\x8b\x08\x00garbage", "https://example.org/sitemap.xml.gz")


def test_sitemap_relaxed_namespace_and_bad_dates() -> None:
    body = b"""\xef\xbb\xbf<?xml version="1.0"?>
<urlset><url><loc> https://example.org/a </loc><lastmod>yesterday</lastmod>
<news:news><news:title>T</news:title><news:publication_date>2024-02-30</news:publication_date>
</news:news></url><url><lastmod>2020-01-01</lastmod></url></urlset>"""
    feed = parse_sitemap(body, "https://example.org/sitemap.xml")
    assert len(feed.entries) == 1  # the <url> without <loc> is skipped
    entry = feed.entries[0]
    assert (entry.url, entry.title, entry.updated, entry.published) == (
        "https://example.org/a", "T", None, None,
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2005-01-01", datetime(2005, 1, 1, tzinfo=UTC)),
        ("2004-12-23T18:00:15+00:00", datetime(2004, 12, 23, 18, 0, 15, tzinfo=UTC)),
        ("2015-05-03T18:51:50+01:00", datetime(2015, 5, 3, 17, 51, 50, tzinfo=UTC)),
        ("2020-06-01T10:00:00.123Z", datetime(2020, 6, 1, 10, 0, 0, 123000, tzinfo=UTC)),
        ("2020-06-01T10:00", datetime(2020, 6, 1, 10, tzinfo=UTC)),  # naive -> UTC
        ("Fri, 31 May 2019 12:17:58 -0700", datetime(2019, 5, 31, 19, 17, 58, tzinfo=UTC)),
        ("Seg, 24 Set 2018 19:42:40 -0300", datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC)),
        ("Di, 3. März 2020 10:00:00 +0100", datetime(2020, 3, 3, 9, tzinfo=UTC)),
        ("2024-02-30", None),
        ("0000-00-00T00:00:00Z", None),
        ("31 Feb 2020", None),
        ("soon", None),
        ("", None),
    ],
)
def test_dates_via_sitemap_lastmod(raw: str, expected: datetime | None) -> None:
    body = f"<urlset><url><loc>https://example.org/</loc><lastmod>{raw}</lastmod></url></urlset>"
    entry = parse_sitemap(body.encode(), "https://example.org/sitemap.xml").entries[0]
    assert entry.updated == expected
    assert entry.updated is None or entry.updated.tzinfo is UTC
