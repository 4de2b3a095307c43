"""OPML import/export: real CC0 directories (../shared/data/web/opml), quirks, round trip."""

from __future__ import annotations

from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from newsdesk.pipeline.feeds import parse_any
from newsdesk.pipeline.opml import OpmlSource, parse_opml, write_opml

DATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve() / "web"
PLENARY = DATA / "opml" / "plenaryapp-awesome-rss-feeds"
COUNTRIES = [
    "Australia", "Bangladesh", "Brazil", "Canada", "France", "Germany", "Hong Kong SAR China",
    "India", "Indonesia", "Iran", "Ireland", "Italy", "Japan", "Mexico", "Myanmar (Burma)",
    "Nigeria", "Pakistan", "Philippines", "Poland", "Russia", "South Africa", "Spain", "Ukraine",
    "United Kingdom", "United States",
]


def plenary(*parts: str) -> Path:
    path = PLENARY.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not found: {path} (expected ../shared/data beside the repo)")
    return path


def opml_params(pattern: str) -> list[Any]:
    files = sorted(PLENARY.glob(pattern)) if PLENARY.is_dir() else []
    if not files:
        reason = f"shared test data not found: {PLENARY / pattern}"
        print(reason)
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason))]
    return [pytest.param(f, id=str(f.relative_to(PLENARY))) for f in files]


# --------------------------------------------------------------------------- real directories


@pytest.mark.parametrize("path", opml_params("countries/with_category/*.opml"))
def test_country_lists_with_folders(path: Path) -> None:
    sources = parse_opml(path.read_bytes())
    assert sources
    # Every feed sits in one folder named after the country (= the file name, with spaces).
    assert {s.category for s in sources} == {path.stem}
    assert all(s.url.startswith(("http://", "https://")) for s in sources)
    # Upstream quirk: Canada and Mexico each list one feed with text="" title="".
    assert sum(s.title is None for s in sources) <= 1
    assert len({s.url for s in sources}) == len(sources)
    # The flat variant of the same list has the same feeds, but no categories.
    flat = parse_opml((path.parents[1] / "without_category" / path.name).read_bytes())
    assert [s.url for s in flat] == [s.url for s in sources]
    assert {s.category for s in flat} == {None}


def test_all_country_feeds_are_found() -> None:
    folder = plenary("countries", "with_category")
    sources = [s for p in sorted(folder.glob("*.opml")) for s in parse_opml(p.read_bytes())]
    assert len(sources) == 259  # as documented in DATA.md
    assert {s.category for s in sources} == set(COUNTRIES)


def test_unescaped_quotes_in_attributes_are_repaired() -> None:
    # Russia.opml has text="Газета "Коммерсантъ". Главное" -- not well-formed XML.
    sources = parse_opml(plenary("countries", "with_category", "Russia.opml").read_bytes())
    kommersant = [s for s in sources if "kommersant.ru" in s.url]
    assert kommersant == [
        OpmlSource(
            url="https://www.kommersant.ru/RSS/main.xml",
            title='Газета "Коммерсантъ". Главное',
            html_url=None,
            category="Russia",
        )
    ]
    assert sources[0].title == "Lenta.ru : Новости"
    assert len(sources) == 13


def test_all_recommended_feeds_are_found() -> None:
    folder = plenary("recommended", "with_category")
    per_file = {p.stem: parse_opml(p.read_bytes()) for p in sorted(folder.glob("*.opml"))}
    assert sum(len(v) for v in per_file.values()) == 527  # as documented in DATA.md
    for topic, sources in per_file.items():
        # The folder is named after the topic; "/" cannot appear in the file name.
        assert {s.category for s in sources} == {"UI / UX" if topic == "UI - UX" else topic}
    # Raw quotes inside a description (plus apostrophes) must not swallow the neighbour.
    assert any(s.url == "https://rss.art19.com/tim-ferriss-show" for s in per_file["Startups"])


def test_recommended_topics() -> None:
    sources = parse_opml(plenary("recommended", "with_category", "News.opml").read_bytes())
    urls = {s.url for s in sources}
    assert "http://feeds.bbci.co.uk/news/world/rss.xml" in urls
    assert {s.category for s in sources} == {"News"}
    # File names with spaces and "&"
    tech = parse_opml(
        plenary("recommended", "with_category", "Business & Economy.opml").read_bytes()
    )
    assert {s.category for s in tech} == {"Business & Economy"}


# --------------------------------------------------------------------------- quirks

QUIRKY = b"""\xef\xbb\xbf
<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Mine</title></head>
  <body>
    <outline text="top-level" xmlurl="https://a.example/feed" htmlurl="https://a.example/"/>
    <outline title="World">
      <outline text="Europe">
        <outline text="B" XMLURL="https://b.example/rss" type="rss"/>
      </outline>
      <outline text="C" xmlUrl=" https://c.example/atom.xml " category="/Ignored/Sub"/>
      <outline text="duplicate of A" xmlUrl="https://a.example/feed"/>
    </outline>
    <outline text="D" xmlUrl="https://d.example/feed" category="/Tech/Linux,/Other"/>
    <outline text="Folder without feeds"/>
    <outline text="no url" xmlUrl=""/>
  </body>
</opml>
"""


def test_quirky_opml() -> None:
    assert parse_opml(QUIRKY) == [
        OpmlSource("https://a.example/feed", "top-level", "https://a.example/", None),
        OpmlSource("https://b.example/rss", "B", None, "Europe"),  # nearest folder wins
        OpmlSource("https://c.example/atom.xml", "C", None, "World"),
        OpmlSource("https://d.example/feed", "D", None, "Tech"),  # first path element
    ]


def test_broken_attributes_are_repaired() -> None:
    body = (
        b'<?xml version="1.0"?><opml version="1.0"><body><outline text="News & Views">'
        b'<outline text="Caf&eacute; &amp; "Bar"" description="<em>x</em> it\'s" '
        b'xmlUrl="https://a.example/rss?a=1&b=2"/>'
        b"<outline text='single' xmlUrl='https://b.example/rss'/>"
        b"</outline></body></opml>"
    )
    assert parse_opml(body) == [
        OpmlSource("https://a.example/rss?a=1&b=2", 'Caf&eacute; & "Bar"', None, "News & Views"),
        OpmlSource("https://b.example/rss", "single", None, "News & Views"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"not xml at all",
        b'<rss version="2.0"><channel><title>x</title></channel></rss>',
        b"<html><body>hi</body></html>",
        b"\x89PNG\r\n\x1a\n",
    ],
)
def test_non_opml_raises_value_error(body: bytes) -> None:
    with pytest.raises(ValueError, match="not an OPML document"):
        parse_opml(body)


def test_empty_opml_is_fine() -> None:
    assert parse_opml(b'<opml version="1.0"><head/><body/></opml>') == []


# --------------------------------------------------------------------------- export


def test_round_trip() -> None:
    sources = [
        OpmlSource("https://a.example/feed?x=1&y=2", 'A "quoted" & <odd>', "https://a.example/",
                   "World"),
        OpmlSource("https://b.example/rss", "Бэ", None, "World"),
        OpmlSource("https://c.example/rss", None, None, "Tech & Science"),
        OpmlSource("https://d.example/rss", "D", None, None),
    ]
    xml = write_opml(sources, title="Export")
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert '<opml version="2.0">' in xml and "<title>Export</title>" in xml
    assert parse_opml(xml.encode("utf-8")) == sources
    # Categories become folders, in first-seen order; duplicates are written once.
    assert write_opml(sources + sources[:1], title="Export") == xml


def test_round_trip_real_directory() -> None:
    folder = plenary("countries", "with_category")
    sources = [s for p in sorted(folder.glob("*.opml")) for s in parse_opml(p.read_bytes())]
    assert parse_opml(write_opml(sources).encode("utf-8")) == sources


def test_exported_opml_is_not_mistaken_for_a_feed() -> None:
    xml = write_opml([OpmlSource("https://a.example/feed", "A", None, None)])
    with pytest.raises(ValueError, match="OPML"):
        parse_any(xml.encode(), "https://example.org/export.opml")


# --------------------------------------------------------------------------- shipped defaults


def test_default_sources() -> None:
    body = resources.files("newsdesk").joinpath("data/default-sources.opml").read_bytes()
    sources = parse_opml(body)
    categories = Counter(s.category for s in sources)
    assert len(sources) >= 100
    assert len(categories) >= 20
    assert set(categories) == set(COUNTRIES)
    assert all(s.url.startswith(("http://", "https://")) and s.title for s in sources)
    assert len({s.url for s in sources}) == len(sources)
