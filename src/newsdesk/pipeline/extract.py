"""Article extraction: HTML (str or bytes) in, :class:`Extracted` out.

Built on trafilatura (main text + metadata) and htmldate (dates). The HTML is decoded and
parsed once; trafilatura and htmldate both work on that lxml tree. Metadata is assembled from
trafilatura's cheap helpers rather than ``extract_metadata``, whose fallbacks (regex XPaths,
a deep copy per author lookup, tags, licence) cost more than the text extraction's margin over
bare trafilatura allows (see ``_metadata``). Around trafilatura's body: the site's recurring
blocks go first (``sitetemplate``), the body is rendered as Markdown (``markdown``), and the
single-page rules finish the text (``boilerplate``: related-content blocks, captions, bylines
go; ``lead``: the deck and story highlights come back in front).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from htmldate import find_date
from lxml.etree import XPath, _Element
from lxml.html import HtmlElement
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree
from trafilatura import bare_extraction
from trafilatura.baseline import block_text
from trafilatura.json_metadata import normalize_authors
from trafilatura.metadata import (
    examine_meta,
    examine_title_element,
    extract_meta_json,
    extract_sitename,
)
from trafilatura.settings import Document
from trafilatura.utils import LANGID_FLAG, language_classifier

from newsdesk.pipeline.boilerplate import (
    BYLINE_CUE,
    drop_bylines,
    drop_captions,
    drop_related,
    drop_trailing_label,
    labels_and_captions,
    related_sections,
)
from newsdesk.pipeline.cascade import fast_body, fast_options
from newsdesk.pipeline.fastxpath import fast_xpaths
from newsdesk.pipeline.htmldoc import MAX_INPUT_BYTES, ExtractionError, as_text, parse
from newsdesk.pipeline.lead import classed_deck, story_highlights, visible_deck, with_highlights
from newsdesk.pipeline.markdown import (
    absolute_url,
    drop_title,
    drop_trailing_references,
    escape_line_start,
    fold,
    inline_text,
    render_blocks,
    with_images,
)
from newsdesk.pipeline.sitetemplate import PageBlocks, TemplateView, strip_template
from newsdesk.pipeline.urls import host_of, registrable_domain

__all__ = ["Extracted", "ExtractionError", "MAX_INPUT_BYTES", "extract"]

LOGGER = logging.getLogger(__name__)

# htmldate returns naive times when the page gives no offset; %z is then empty.
_ISO = "%Y-%m-%dT%H:%M:%S%z"


@dataclass(frozen=True)
class Extracted:
    title: str | None
    authors: tuple[str, ...]
    published: datetime | None  # aware UTC
    updated: datetime | None  # aware UTC, only when later than published
    language: str | None  # ISO 639-1
    sitename: str | None
    image: str | None  # absolute URL
    canonical_url: str | None  # declared rel=canonical / og:url, absolute, not normalised
    description: str | None
    categories: tuple[str, ...]
    text: str  # Markdown
    # The page asks not to be archived (<meta name="robots|newsdesk" content="noarchive">):
    # we keep title and link only.
    noarchive: bool = False
    # The page's template fingerprint, computed when a site template was given: the caller
    # learns it into the site's model (see newsdesk.pipeline.sitetemplate).
    blocks: PageBlocks | None = None


# --------------------------------------------------------------------------- metadata helpers


def _meta_noarchive(tree: HtmlElement) -> bool:
    for meta in tree.iter("meta"):
        if (meta.get("name") or "").strip().lower() in {"robots", "newsdesk"}:
            directives = {d.strip().lower() for d in (meta.get("content") or "").split(",")}
            if directives & {"noarchive", "none"}:
                return True
    return False


def _declared_canonical(tree: HtmlElement, url: str | None) -> str | None:
    for link in tree.iterfind(".//link[@rel]"):
        rel = link.get("rel", "").lower().split()
        if "canonical" in rel and (found := absolute_url(link.get("href"), url)):
            return found
    for meta in tree.iterfind(".//meta[@property]"):
        is_og_url = meta.get("property", "").lower() == "og:url"
        if is_og_url and (found := absolute_url(meta.get("content"), url)):
            return found
    return None


_ISO639_2 = {
    "eng": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es", "ita": "it",
    "por": "pt", "nld": "nl", "dut": "nl", "rus": "ru", "ukr": "uk", "pol": "pl", "ces": "cs",
    "cze": "cs", "swe": "sv", "nor": "no", "nob": "nb", "dan": "da", "fin": "fi", "tur": "tr",
    "ara": "ar", "zho": "zh", "chi": "zh", "jpn": "ja", "kor": "ko", "hin": "hi", "ell": "el",
    "gre": "el", "heb": "he", "hun": "hu", "ron": "ro", "rum": "ro", "ind": "id", "vie": "vi",
    "tha": "th", "fas": "fa", "per": "fa", "cat": "ca", "bul": "bg", "hrv": "hr", "srp": "sr",
}  # fmt: skip
_LANG_META = frozenset({"content-language", "language", "dc.language", "og:locale"})
_LANG_TAG = re.compile(r"[A-Za-z]{2,3}(?=$|[-_])")


def _iso639_1(tag: str | None) -> str | None:
    if not tag:
        return None
    m = _LANG_TAG.match(tag.strip())
    if not m:
        return None
    code = m[0].lower()
    return code if len(code) == 2 else _ISO639_2.get(code)


def _markup_language(tree: HtmlElement) -> str | None:
    root = tree.getroottree().getroot()
    for attr in ("lang", "{http://www.w3.org/XML/1998/namespace}lang", "xml:lang"):
        if code := _iso639_1(root.get(attr)):
            return code
    for meta in tree.iterfind(".//meta[@content]"):
        key = (meta.get("http-equiv") or meta.get("name") or meta.get("property") or "").lower()
        if key in _LANG_META and (code := _iso639_1(meta.get("content", "").split(",")[0])):
            return code
    return None


def _to_utc(value: str | None) -> tuple[datetime | None, bool]:
    """Parse htmldate's output; returns (aware UTC datetime, date_only)."""
    if not value:
        return None, False
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None, False
    if parsed.tzinfo is None:
        # no offset on the page: UTC is the least surprising reading of a bare date/time
        return parsed.replace(tzinfo=UTC), parsed.time() == datetime.min.time()
    return parsed.astimezone(UTC), False


# "by" in es/it/nl/sv/da, but also surname particles ("Di Maio", "De Niro"): stripped only
# lower-case and before a full name
_AUTHOR_PREFIX_AMBIGUOUS = re.compile(r"^(?:de|di|door|av|af)\s+(?=\S+\s+\S)")
_AUTHOR_SPLIT = re.compile(
    r"\s*(?:;|,|\||&|/|\band\b|\bund\b|\bet\b|\by\b|\bog\b|\boch\b)\s*", re.IGNORECASE)
_AUTHOR_JUNK = re.compile(
    r"\b(?:staff|reporters?|correspondents?|editors?|editorial|writers?|contributors?|"
    r"columnists?|journalists?|photographers?|newsroom|news ?desk|web ?desk|desk|admin(?:istrator)?|"
    r"anonymous|unknown|guest|team)\b",
    re.IGNORECASE,
)
# raw e-mails/URLs, and e-mails after trafilatura's name clean-up ("jane.doe@example.com"
# comes out as "Jane Doe Com": dots become spaces, "@example" is taken for a handle)
_EMAILISH = re.compile(
    r"@|https?://|www\.|\.(?:com|org|net|co|io)\b|\s(?:com|org|net|info|io|gov|edu)$",
    re.IGNORECASE,
)


def _clean_authors(raw: str | None, outlet_names: Iterable[str]) -> tuple[str, ...]:
    if not raw:
        return ()
    outlets = {n for n in map(fold, outlet_names) if n}
    result: list[str] = []
    seen: set[str] = set()
    parts = [p.strip() for p in _AUTHOR_SPLIT.split(raw) if p.strip()]
    if len(parts) >= 2 and len(parts) % 2 == 0 and all(" " not in p for p in parts):
        # "Brazil, Rachel; Castelvecchi, Davide" (dc.creator's "Last, First", whose comma
        # trafilatura makes a ";"): single words in pairs are surnames and given names.
        # bench/extraction.py, with "og"/"och" as joiners: fundus authors found 247 -> 251 of
        # 318, right 0.864 -> 0.900; trafilatura-eval unchanged (313 of 571, 0.767)
        parts = [f"{parts[i + 1]} {parts[i]}" for i in range(0, len(parts), 2)]
    for part in parts:
        name = " ".join(part.split())
        name = _AUTHOR_PREFIX_AMBIGUOUS.sub("", BYLINE_CUE.sub("", name)).strip(" .-–—:")
        key = fold(name)
        if (
            not key
            or len(name) > 60
            or _EMAILISH.search(name)
            or _AUTHOR_JUNK.search(name)
            or key in outlets
            or key in seen
        ):
            continue
        seen.add(key)
        result.append(name)
    return tuple(result)


def _outlet_names(sitename: str | None, url: str | None) -> list[str]:
    """Names a page may use for its own outlet: site name, host, registrable domain label."""
    names = [sitename] if sitename else []
    host = host_of(url) if url else ""
    if host:
        names += [host, host.removeprefix("www.")]
        if site := registrable_domain(host):
            names.append(site.split(".")[0])
    return names


# " | Site", " - Site", " – Site", " · Site", "：Site" (CJK full-width colon)
_TITLE_SEP = re.compile(r"\s+[|\-–—·•:]+\s+|\s*[|：]\s*")


def _strip_site_suffix(title: str | None, outlet_names: Iterable[str]) -> str | None:
    """Drop a trailing outlet name that og:title/<title> often carry ("Story | TechCrunch")."""
    if not title:
        return title
    separators = list(_TITLE_SEP.finditer(title))
    if not separators or len(title[: separators[-1].start()].strip()) < 10:
        return title
    last = separators[-1]
    suffix = fold(title[last.end() :])
    if not suffix:
        return title
    for outlet in outlet_names:
        name = fold(outlet)
        if name and (
            name == suffix
            or (len(name) >= 3 and suffix.startswith(name))
            or (len(name) >= 4 and name in suffix)
            or (len(suffix) >= 4 and suffix in name)
        ):
            return title[: last.start()].rstrip()
    return title


def _to_markdown(
    body: _Element | None, title: str | None, tree: HtmlElement | None = None,
    url: str | None = None, related: list[tuple[str, str]] | None = None,
    captions: list[HtmlElement] | None = None, authors: tuple[str, ...] = (),
) -> tuple[str, list[str]]:
    """The body as Markdown, and the names of the bylines taken out of it."""
    if body is None:
        return "", []
    blocks = drop_trailing_references(drop_title(render_blocks(body), title))
    if related:
        blocks = drop_related(blocks, related)
    blocks = drop_trailing_label(blocks)
    if tree is not None:
        blocks = with_images(blocks, tree, url)
    # after the images: one may be placed by a byline
    blocks, byline_names = drop_bylines(blocks, authors)
    if captions:
        blocks = drop_captions(blocks, captions)
    return unicodedata.normalize("NFC", "\n\n".join(blocks)), byline_names


# --------------------------------------------------------------------------- metadata

# JSON-LD blobs this large are live-blog dumps; trafilatura's JSON-LD reader is pure Python
# and took >1 s on an 840 kB one, for metadata that the <meta> tags carry anyway.
_MAX_JSON_LD = 256 * 1024
# Structured "last modified" signals: <meta> names/properties (article:modified_time,
# og:updated_time, last-modified, dc.modified), JSON-LD/itemprop dateModified. Without one,
# htmldate's updated-date search only re-finds the publication date or a random date in the text.
# ("odified": "modified" and "Modified" in one scan of the page, most pages have neither)
_MODIFIED_CUES = ("odified", "updated_time", "dateUpdate", "lastmod")
# Byline containers, as plain XPath: trafilatura's author XPaths use EXSLT regexes, which
# call back into Python for every element (about 6 ms a page with its deep copy and pruning).
# Few, cheap predicates: this runs over every element of old, metadata-less pages.
_BYLINE_XPATH = XPath(
    "descendant::*[@class or @rel or @itemprop or @id][contains(@class, 'byline') or "
    "contains(@class, 'author') or contains(@class, 'Author') or @rel='author' or "
    "@itemprop='author' or @id='author' or @id='byline']"
)
# every attribute test above needs one of these substrings somewhere in the page
_BYLINE_CUES = ("author", "Author", "byline")
_BYLINE_SKIP_TAGS = frozenset(
    {"meta", "link", "script", "style", "img", "time", "figure", "figcaption", "head", "title"}
)
_BYLINE_DISCARD = re.compile(
    r"comment|sidebar|related|footer|share|newsletter|promo|teaser|recommend|avatar|bio\b",
    re.IGNORECASE,
)
_BYLINE_TOP = re.compile(r"^(?:author|byline|byl)$|author-?name|authorname", re.IGNORECASE)


def _byline(tree: HtmlElement, source: str) -> str | None:
    """Author names from visible byline markup, for pages without structured metadata."""
    if not any(cue in source for cue in _BYLINE_CUES):
        return None
    ranked: list[tuple[int, int, str]] = []
    for order, elem in enumerate(_BYLINE_XPATH(tree)[:40]):
        if not isinstance(elem.tag, str) or elem.tag in _BYLINE_SKIP_TAGS:
            continue
        if any(
            _BYLINE_DISCARD.search(f"{node.get('class', '')} {node.get('id', '')}")
            for node in (elem, *elem.iterancestors())
        ):
            continue
        text = " ".join(" ".join(elem.itertext()).split())
        if not 2 < len(text) < 120:
            continue
        attrs = f"{elem.get('class', '')} {elem.get('id', '')}".strip()
        top = elem.get("rel") == "author" or "author" in elem.get("itemprop", "")
        rank = 0 if top or any(_BYLINE_TOP.search(a) for a in attrs.split()) else 1
        ranked.append((rank, order, text))
    for _, _, text in sorted(ranked):
        if names := normalize_authors(None, text):
            return names
    return None


# trafilatura's title XPaths (extract_title) as one plain XPath, for the same reason as above
_TITLE_XPATH = XPath(
    ".//*[self::h1 or self::h2 or self::h3][contains(@class, 'title') or contains(@id, 'title') "
    "or contains(@class, 'headline') or contains(@id, 'headline') "
    "or contains(@itemprop, 'headline')]"
)
_TITLE_TOP = re.compile(r"(?:post-|entry-|article-|post__)title|headline", re.IGNORECASE)


# Titles equal to the visible headline (tests/pipeline: big9's gold first line, fundus' title):
# big9 193 -> 211 of 240, fundus 211 -> 219 of 258.
_HEADLINE_WORDS = 3
# runs of parts are compared pairwise: a hostile title of thousands of "|" is not a headline
_MAX_TITLE_CHARS = 1000
_MAX_TITLE_PARTS = 12


def _headline_in(
    title: str | None, *headings: Callable[[], Iterable[HtmlElement]]
) -> str | None:
    """The visible headline that ``title`` wraps in site or date parts ("CNN.com - Storm
    weakens - Sep 25, 2005", "Story | Bhopal News"): a heading whose text is a run of the
    title's separated parts. None when no heading is, or one is the whole title. A part of one
    or two words is a section's name ("Sports Items | Boston Herald"), not a headline."""
    if not title or len(title) > _MAX_TITLE_CHARS:
        return None
    parts = [0, *(i for m in _TITLE_SEP.finditer(title) for i in (m.start(), m.end())), len(title)]
    if len(parts) == 2 or len(parts) > 2 * _MAX_TITLE_PARTS:
        return None  # (before the headings are looked for: most of the cost)
    runs = {
        fold(title[parts[a]:parts[b + 1]])
        for a in range(0, len(parts), 2) for b in range(a, len(parts), 2)
    }
    whole = fold(title)
    found = None
    for group in headings:  # (the later groups cost more to find: looked at only when needed)
        for heading in group():
            text = block_text(heading)
            key = fold(text) if text else ""
            if key == whole:
                return None
            if (len(key) >= 10 and key in runs and len(text.split()) >= _HEADLINE_WORDS
                    and (found is None or len(text) > len(found))):
                found = text
        if found:
            return found
    return None


def _title(tree: HtmlElement) -> str | None:
    """Title for pages without og:title/JSON-LD headline: a heading that the <title> element
    holds, else in trafilatura's order of preference: a single <h1>, a heading marked as
    title/headline, the <title> element, any h1/h2."""
    h1s = tree.findall(".//h1")
    title, first, second = examine_title_element(tree)
    if headline := _headline_in(
            title, lambda: h1s, lambda: _TITLE_XPATH(tree)[:20], lambda: tree.iterfind(".//h2")):
        return headline
    if len(h1s) == 1 and (text := block_text(h1s[0])):
        return text
    ranked: list[tuple[int, int, str]] = []
    for order, elem in enumerate(_TITLE_XPATH(tree)[:20]):
        text = block_text(elem)
        if text and 2 < len(text) < 200:
            attrs = f"{elem.get('class', '')} {elem.get('id', '')} {elem.get('itemprop', '')}"
            rank = 0 if elem.tag in ("h1", "h2") and _TITLE_TOP.search(attrs) else 1
            ranked.append((rank, order, text))
    if ranked:
        return min(ranked)[2]
    for candidate in (first, second, title):
        if candidate and "." not in candidate:
            return candidate
    for heading in (*h1s, *tree.iterfind(".//h2")):
        if text := block_text(heading):
            return text
    return title or None


def _metadata(tree: HtmlElement, source: str, url: str | None) -> Document:
    """trafilatura's metadata steps, minus the costly low-yield ones (tags, licence, regex-XPath
    author and category scans); the date comes from htmldate separately."""
    doc = examine_meta(tree)
    if doc.author and " " not in doc.author:  # single tokens are handles or site names
        doc.author = None
    hidden: list[tuple[_Element, str]] = []
    for script in tree.iterfind(".//script[@type]"):
        text = script.text
        if text and len(text) > _MAX_JSON_LD and "json" in script.get("type", ""):
            hidden.append((script, text))
            script.text = ""
    try:
        doc = extract_meta_json(tree, doc)
    except Exception:  # trafilatura's JSON-LD walker trips over odd schemas
        LOGGER.debug("JSON-LD metadata failed on %s", url, exc_info=True)
    finally:
        for script, text in hidden:
            script.text = text
    if not doc.title:
        doc.title = _title(tree)
    if not doc.author:
        doc.author = _byline(tree, source)
    if not doc.sitename:
        doc.sitename = extract_sitename(tree)
    if doc.sitename:
        doc.sitename = doc.sitename.lstrip("@")
    if not doc.categories:
        doc.categories = [
            meta.get("content", "")
            for meta in tree.iterfind(".//meta[@property='article:section'][@content]")
        ]
    doc.clean_and_trim()
    return doc


def _find_date(tree: HtmlElement, url: str | None, original: bool) -> str | None:
    try:
        return find_date(
            tree,
            original_date=original,
            # htmldate's extensive search adds a free-text scan and dateparser. dateparser
            # compiles its locale data lazily: 1.5-3 s in every new (worker) process, which
            # halved throughput on a 100-page run, and ~1.4 ms a page on old markup. It only
            # helps pages without structured dates: htmldate's MediaCloud set 0.88 -> 0.835
            # correct, fundus news pages 0.969 either way.
            extensive_search=False,
            outputformat=_ISO,
            url=url,
            # htmldate compares timestamps with midnight of max_date: today's date would turn
            # away every timestamp of today (a fresh article kept only its day, found in the
            # text), and a publisher ahead of UTC may already be on tomorrow's date
            max_date=(date.today() + timedelta(days=1)).isoformat(),
            # a date in the URL is day-only: header/JSON-LD timestamps win over it
            deferred_url_extractor=True,
        )
    except Exception:  # htmldate edge cases must not sink the extraction
        LOGGER.warning("htmldate failed on %s", url, exc_info=True)
        return None


# Below this many characters of main text, trafilatura's fast result is doubted and the page is
# extracted again with its fallback extractors (readability/jusText comparison). Measured on the
# gold sets (bench/extraction.py): always-fallback F1 big9 0.950 / fundus 0.942 /
# newspaper4k 0.903 at 0.87-0.94x bare speed; never 0.950 / 0.932 / 0.881 at 1.06-1.24x. With
# the single-page rules and the second opinion, 1000 -> 500 characters: big9 0.9806 either way,
# fundus 0.9495 -> 0.9496, newspaper4k 0.9190 -> 0.9203, Readability's 0.8095 -> 0.8120,
# trafilatura-eval 0.9312 -> 0.9302; retries on the five sets 201 -> 80 of 1,762 pages (each
# ~25 ms), 0.3-1.1 ms a page saved. At 250, trafilatura-eval lost more (0.9299) and two
# newspaper4k pages 0.12 and 0.20 of their precision plus recall.
FALLBACK_BELOW_CHARS = 500


_LIST_PARENTS = frozenset({"ul", "ol", "menu", "dir"})


def _orphan_items_as_paragraphs(tree: HtmlElement) -> None:
    """List items outside any list (old markup: "<p><li>...</li></p>" in a table cell) become
    paragraphs: trafilatura drops them, and with them a section of the article (big9: a CNN
    page's "Other developments", recall 0.75 -> 1.0). bench/extraction.py, F1 without -> with:
    big9 0.9798 -> 0.9806, trafilatura-eval 0.9307 -> 0.9310, the other sets unchanged."""
    # (a Python loop: 0.14 ms a page on big9, an XPath for the same items 0.15)
    for item in tree.iter("li"):
        parent = item.getparent()
        if parent is not None and parent.tag not in _LIST_PARENTS:
            item.tag = "p"


def _main_body(tree: HtmlElement, url: str | None) -> _Element | None:
    with fast_xpaths():  # the same nodes from trafilatura's section XPaths, faster
        return _trafilatura_body(tree, url)


def _trafilatura_body(tree: HtmlElement, url: str | None) -> _Element | None:
    try:
        # trafilatura's fast cascade (see cascade.py); it works on copies, so a second pass on
        # the same tree is safe
        body, _ = fast_body(tree, fast_options(url))
        if body is None or len("".join(body.itertext())) < FALLBACK_BELOW_CHARS:
            options: dict[str, Any] = dict(
                url=url, with_metadata=False, include_comments=False, include_tables=True,
                include_formatting=True, include_links=False,
                include_images=False,  # see with_images: trafilatura's image mode keeps more junk
                output_format="xml",  # keeps the body as an XML tree, skips the rendering
            )
            doc = bare_extraction(tree, **options)
            body = doc.body if isinstance(doc, Document) else body
    except Exception:  # trafilatura has undocumented failure modes on broken markup
        LOGGER.warning("trafilatura failed on %s", url, exc_info=True)
        return None
    return body


# A second, different extractor where trafilatura's result is doubted. resiliparse (C++, DOM
# rules of its own, ~3 ms a page) is asked only when our text is short; its text replaces ours
# when it is several times longer. bench/extraction.py prints what it pays (single-page F1
# without -> with it): big9 0.9528 -> 0.9563 (1 page changed), trafilatura-eval snippets
# 0.9213 -> 0.9216 (15), readability 0.7995 -> 0.8101 (3), newspaper4k and fundus unchanged
# (0). Asked below 2,000 characters it lost on trafilatura-eval; at a margin of 1.5-2x it lost
# on newspaper4k; asked on every page it costs ~3 ms a page for less.
SECOND_OPINION_BELOW_CHARS = 1000
SECOND_OPINION_MARGIN = 3.0
_BULLET = re.compile(r"^\s*[•\u2022]\s*")


def _second_opinion(source: str) -> str:
    """resiliparse's main-content text of the page as Markdown paragraphs (lists kept).

    It parses the page itself (lexbor): on broken markup (a Wayback capture with nested
    documents) lxml's tree can lack the article that lexbor's recovers."""
    try:
        plain = extract_plain_text(HTMLTree.parse(source), main_content=True, list_bullets=True,
                                   alt_texts=False, preserve_formatting=True)
    except Exception:  # a second opinion must never sink the extraction
        LOGGER.warning("resiliparse failed", exc_info=True)
        return ""
    blocks = []
    for line in plain.split("\n"):
        line = line.strip()
        if not line:
            continue
        if _BULLET.match(line):
            blocks.append("- " + inline_text(_BULLET.sub("", line)))
        else:
            blocks.append(escape_line_start(inline_text(line)))
    return "\n\n".join(blocks)


def _with_second_opinion(text: str, source: str, title: str | None) -> str:
    if len(text) >= SECOND_OPINION_BELOW_CHARS:
        return text
    other = _second_opinion(source)
    if len(other) < SECOND_OPINION_MARGIN * max(len(text), 1):
        return text
    blocks = drop_title(other.split("\n\n"), title)
    return unicodedata.normalize("NFC", "\n\n".join(blocks))


# --------------------------------------------------------------------------- main entry point


def extract(
    html: str | bytes,
    url: str | None = None,
    charset: str | None = None,
    site: TemplateView | None = None,
    *,
    skip_noarchive_text: bool = False,
    noarchive: bool = False,
) -> Extracted:
    """Extract main text (Markdown) and metadata from one HTML page.

    With ``site`` (the page's site template, possibly still empty), the blocks the site repeats
    on its other pages are removed before the main text is found, and the result carries the
    page's fingerprint in ``blocks`` for the caller to learn.

    Raises :class:`ExtractionError` for empty, binary, oversized or undecodable input; broken
    markup yields whatever could be recovered (possibly an empty text). `charset` is the HTTP
    header's, for bytes input.

    With ``skip_noarchive_text``, a page whose publisher opted out of archiving (its robots
    meta, or ``noarchive``: the response's X-Robots-Tag said so) gets its metadata but no main
    text, and teaches its site's template nothing: the crawler keeps only a link to it.
    """
    source = as_text(html, charset)
    tree = parse(source)
    declared = _declared_canonical(tree, url)
    page_url = url or declared

    doc = _metadata(tree, source, page_url)
    published, published_date_only = _to_utc(_find_date(tree, declared or url, original=True))
    updated: datetime | None = None
    if published is not None and any(cue in source for cue in _MODIFIED_CUES):
        updated, _ = _to_utc(_find_date(tree, declared or url, original=False))
        if updated is not None and (
            updated <= published or (published_date_only and updated.date() <= published.date())
        ):
            updated = None

    outlets = _outlet_names(doc.sitename, page_url)
    # the page's own headline when the title wraps it in site or date parts
    visible = _headline_in(
        doc.title, lambda: tree.iterfind(".//h1"), lambda: _TITLE_XPATH(tree)[:20])
    title = visible or _strip_site_suffix(doc.title, outlets) or None
    authors = _clean_authors(doc.author, outlets)
    meta_noarchive = _meta_noarchive(tree)
    blocks = None
    text = ""
    if not (skip_noarchive_text and (noarchive or meta_noarchive)):
        highlights = story_highlights(tree)
        if site is not None:
            # after the metadata: a byline or date line that recurs is template for the text,
            # not for the metadata
            blocks, _removed = strip_template(tree, site)
        labels, captions = labels_and_captions(tree)
        _orphan_items_as_paragraphs(tree)
        body, byline_names = _to_markdown(_main_body(tree, url), title, tree, page_url,
                                          related_sections(labels), captions, authors)
        text = _with_second_opinion(body, source, title)
        if not authors and byline_names:  # the metadata named none: the byline in the text
            authors = _clean_authors(", ".join(byline_names), outlets)
        text = with_highlights(text, highlights)
        deck = visible_deck(tree, doc.description, title, text, source) or classed_deck(
            tree, title, text)
        if deck:
            text = f"{deck}\n\n{text}"
    language = _markup_language(tree)
    if language is None and LANGID_FLAG and len(text) > 200:
        language = _iso639_1(language_classifier(text, ""))

    return Extracted(
        title=title,
        authors=authors,
        published=published,
        updated=updated,
        language=language,
        sitename=doc.sitename or None,
        image=absolute_url(doc.image, page_url),
        canonical_url=declared,
        description=doc.description or None,
        categories=tuple(dict.fromkeys(c.strip() for c in doc.categories or () if c.strip())),
        text=text,
        noarchive=meta_noarchive,
        blocks=blocks,
    )
