"""Article extraction: HTML (str or bytes) in, :class:`Extracted` out.

Built on trafilatura (main text + metadata) and htmldate (dates). The HTML is decoded and
parsed once; trafilatura and htmldate both work on that lxml tree. Metadata is assembled from
trafilatura's cheap helpers rather than ``extract_metadata``, whose fallbacks (regex XPaths,
a deep copy per author lookup, tags, licence) cost more than the text extraction's margin over
bare trafilatura allows (see ``_metadata``). The main text comes out as
Markdown rendered by :func:`_to_markdown` from trafilatura's XML body rather than by
trafilatura's own Markdown output, because (trafilatura 2.3) the latter drops block quotes
(``<quote>`` comes out as plain text, no ``>``), emits ``|---|`` delimiter rows and trailing
blanks in tables, renders layout tables (old sites wrap the whole article in ``<td>``) as one
huge Markdown row, and repeats the title as the first heading.

Single-page steps around trafilatura's body: blocks of links to other stories that a label
announces ("Recommended for you", "Lesen Sie auch") and photo captions are removed from the text
(see ``_related_sections``, ``_drop_captions``), and the deck under the headline, which
trafilatura seldom takes, is put back in front of it (see ``_deck``).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

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

from newsdesk.pipeline.htmldoc import MAX_INPUT_BYTES, ExtractionError, as_text, parse
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


def _absolute(ref: str | None, base: str | None) -> str | None:
    """Absolute http(s) URL for ``ref`` (resolved against ``base``), else None."""
    if not ref or not (ref := ref.strip()):
        return None
    if ref.startswith("//") and not base:
        ref = "https:" + ref
    try:
        resolved = urljoin(base, ref) if base else ref
        parts = urlsplit(resolved)
    except ValueError:
        return None
    return resolved if parts.scheme in ("http", "https") and parts.netloc else None


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
        if "canonical" in rel and (found := _absolute(link.get("href"), url)):
            return found
    for meta in tree.iterfind(".//meta[@property]"):
        is_og_url = meta.get("property", "").lower() == "og:url"
        if is_og_url and (found := _absolute(meta.get("content"), url)):
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


_AUTHOR_PREFIX = re.compile(
    r"^(?:by|von|written by|words by|reported by|autor|autorin|author|text|texte|por|par)\s+",
    re.IGNORECASE,
)
# "by" in es/it/nl/sv/da, but also surname particles ("Di Maio", "De Niro"): stripped only
# lower-case and before a full name
_AUTHOR_PREFIX_AMBIGUOUS = re.compile(r"^(?:de|di|door|av|af)\s+(?=\S+\s+\S)")
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|,|\||&|/|\band\b|\bund\b|\bet\b|\by\b)\s*", re.IGNORECASE)
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
_NOT_ALNUM = re.compile(r"\W+")


def _clean_authors(raw: str | None, outlet_names: Iterable[str]) -> tuple[str, ...]:
    if not raw:
        return ()
    outlets = {n for n in map(_fold, outlet_names) if n}
    result: list[str] = []
    seen: set[str] = set()
    for part in _AUTHOR_SPLIT.split(raw):
        name = " ".join(part.split())
        name = _AUTHOR_PREFIX_AMBIGUOUS.sub("", _AUTHOR_PREFIX.sub("", name)).strip(" .-–—:")
        key = _fold(name)
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


def _fold(text: str) -> str:
    """Comparison key for names: no accents, case, spaces or punctuation."""
    if text.isascii():  # nothing to decompose
        return _NOT_ALNUM.sub("", text).casefold()
    # the accents that decomposition splits off are combining marks, which \W takes too (every
    # character with a combining class is one): no per-character pass needed
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKD", text)).casefold()


def _strip_site_suffix(title: str | None, outlet_names: Iterable[str]) -> str | None:
    """Drop a trailing outlet name that og:title/<title> often carry ("Story | TechCrunch")."""
    if not title:
        return title
    separators = list(_TITLE_SEP.finditer(title))
    if not separators or len(title[: separators[-1].start()].strip()) < 10:
        return title
    last = separators[-1]
    suffix = _fold(title[last.end() :])
    if not suffix:
        return title
    for outlet in outlet_names:
        name = _fold(outlet)
        if name and (
            name == suffix
            or (len(name) >= 3 and suffix.startswith(name))
            or (len(name) >= 4 and name in suffix)
            or (len(suffix) >= 4 and suffix in name)
        ):
            return title[: last.start()].rstrip()
    return title


# --------------------------------------------------------------------------- Markdown rendering

_BLOCK_TAGS = frozenset(
    {"p", "head", "list", "quote", "code", "table", "div", "item", "row", "cell"}
)
_MD_INLINE_SPECIALS = re.compile(r"([\\`*\[\]<])")
_MD_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")  # underscores not inside a word
_NEEDS_ESCAPE = re.compile(r"[\\`*\[\]<_]")
_MD_LINE_START = re.compile(r"#{1,6}(?=\s|$)|>|[-+](?=\s|$)|=+$|(\d{1,9})([.)])(?=\s|$)")
_WS_RUN = re.compile(r"\s+")
_MULTI_SPACE = re.compile(r" {2,}")
_NORMALIZE_TITLE = re.compile(r"[\W_]+")
_EMPHASIS = {"#b": "**", "#i": "*"}


def _text(raw: str) -> str:
    """Text node to inline Markdown: whitespace runs become one space (so line breaks come
    only from <lb>), Markdown specials are escaped so the text renders as written."""
    text = _WS_RUN.sub(" ", raw)
    if _NEEDS_ESCAPE.search(text):
        text = _MD_UNDERSCORE.sub(r"\\_", _MD_INLINE_SPECIALS.sub(r"\\\1", text))
    return text


def _escape_line_start(line: str) -> str:
    """Keep a paragraph line from reading as a heading, quote, list item or setext rule."""
    m = _MD_LINE_START.match(line)
    if m is None:
        return line
    if m[1]:  # "1." would start an ordered list
        return f"{m[1]}\\{m[2]}{line[m.end() :]}"
    return f"\\{line}"


def _wrap(inner: str, marker: str) -> str:
    core = inner.strip()
    if not core:
        return inner
    lead = inner[: len(inner) - len(inner.lstrip())]
    trail = inner[len(inner.rstrip()) :]
    return f"{lead}{marker}{core}{marker}{trail}"


def _inline_child(child: _Element, in_cell: bool, glued: bool = False) -> str:
    """Inline Markdown of one element (without its tail).

    ``glued``: the element touches a letter outside it (drop caps, "<b>W</b>hat"). Emphasis
    markers there would split the word for every consumer that tokenises the text, so it is
    rendered plain.
    """
    tag = child.tag
    if not isinstance(tag, str) or tag == "graphic":
        return ""  # comments / processing instructions; images: see _with_images
    if tag == "lb":
        return " " if in_cell else "\n"
    if tag == "hi" or tag == "del":
        inner = _inline(child, in_cell)
        marker = "~~" if tag == "del" else _EMPHASIS.get(child.get("rend", ""), "")
        return _wrap(inner, marker) if marker and not glued else inner
    if tag == "code":
        code = " ".join("".join(child.itertext()).split())
        if not code:
            return ""
        fence = "`" * (max((len(r) for r in re.findall(r"`+", code)), default=0) + 1)
        pad = " " if code.startswith("`") or code.endswith("`") else ""
        return f"{fence}{pad}{code}{pad}{fence}"
    if tag in _BLOCK_TAGS:
        # a block nested in inline context (p in a cell, head in an item, <q> in a p)
        return f" {_inline(child, in_cell)} "
    return _inline(child, in_cell)  # ref and anything unknown: keep the text


def _image(src: str, alt: str) -> str:
    """An image as Markdown: its alt text, linked to its absolute source."""
    alt = " ".join(alt.split())
    # a URL with spaces or parentheses would end the link early
    src = src.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
    return f"![{_text(alt)}]({src})"


# Images of the article, put back beside the text they illustrate. trafilatura's own image
# mode (include_images) changes which blocks it keeps: measured F1 fundus 0.947 -> 0.932,
# big9 0.963 -> 0.959, and 0.97x bare speed. Instead, an image in the page goes in front of the
# block that follows it in the page when that block is in our text.
_IMAGE_NEXT_TAGS = ("p", "h2", "h3", "li")  # the block an image illustrates: the next of these
_IMAGE_SKIP_ANCESTORS = frozenset({"nav", "header", "footer", "aside", "form", "button", "a"})
_MAX_IMAGES = 30
_MAX_IMAGES_SEEN = 300  # images looked at on one page (galleries, hostile pages)


def _images_before_blocks(
    tree: HtmlElement, url: str | None
) -> list[tuple[_Element, list[tuple[_Element, str]]]]:
    """(a p/h2/h3/li, the candidate images just before it in the page with their absolute src).

    One pass in document order: the first such element after an image in pre-order is its
    XPath ``following::`` one (ancestors come before it). An XPath query per image scanned the
    rest of the page each time: 4 % of extraction time."""
    out: list[tuple[_Element, list[tuple[_Element, str]]]] = []
    pending: list[tuple[_Element, str]] = []
    seen = 0
    for el in tree.iter("img", *_IMAGE_NEXT_TAGS):
        if el.tag != "img":
            if pending:
                out.append((el, pending))
                pending = []
            continue
        seen += 1
        if seen > _MAX_IMAGES_SEEN:
            break
        width, height = el.get("width", ""), el.get("height", "")
        if (width.isdigit() and int(width) < 100) or (height.isdigit() and int(height) < 100):
            continue  # an icon or a tracking pixel
        src = _absolute(el.get("src") or el.get("data-src"), url)
        if src is None or any(a.tag in _IMAGE_SKIP_ANCESTORS for a in el.iterancestors()):
            continue
        pending.append((el, src))
    return out


def _with_images(blocks: list[str], tree: HtmlElement, url: str | None) -> list[str]:
    if not blocks:
        return blocks
    groups = _images_before_blocks(tree, url)
    if not groups:
        return blocks
    starts: dict[str, int] = {}
    for i, block in enumerate(blocks):
        if not block.startswith(("|", "#", "```", "![")):
            starts.setdefault(_fold(block[:160])[:50], i)
    before: dict[int, list[str]] = {}
    for following, images in groups:
        key = _fold(" ".join(following.text_content()[:400].split())[:160])[:50]
        if len(key) < 20 or key not in starts:
            continue
        for img, src in images:
            if len(before) >= _MAX_IMAGES:
                break
            rendered = _image(src, img.get("alt") or "")
            if rendered not in before.get(starts[key], []):
                before.setdefault(starts[key], []).append(rendered)
    if not before:
        return blocks
    out: list[str] = []
    for i, block in enumerate(blocks):
        out.extend(before.get(i, []))
        out.append(block)
    return out


def _inline(elem: _Element, in_cell: bool = False) -> str:
    """Inline Markdown of an element's content (not its tail)."""
    out: list[str] = []
    if elem.text:
        out.append(_text(elem.text))
    for child in elem:
        out.append(_inline_child(child, in_cell, _glued(out, child.tail)))
        if child.tail:
            out.append(_text(child.tail))
    return "".join(out)


def _last_char(chunks: list[str]) -> str:
    return next((chunk[-1] for chunk in reversed(chunks) if chunk), "")


def _glued(before: list[str], tail: str | None) -> bool:
    return _last_char(before).isalnum() or (tail or "")[:1].isalnum()


def _paragraph(raw: str) -> str:
    lines = (_MULTI_SPACE.sub(" ", line.strip()) for line in raw.split("\n"))
    return "\n".join(_escape_line_start(line) for line in lines if line)


def _has_block_child(elem: _Element) -> bool:
    return any(isinstance(c.tag, str) and c.tag in _BLOCK_TAGS for c in elem)


def _blocks(container: _Element) -> list[str]:
    """Markdown blocks of a container (body, div, quote, item, layout cell)."""
    blocks: list[str] = []
    pending: list[str] = []  # inline run between blocks

    def flush() -> None:
        if pending:
            if para := _paragraph("".join(pending)):
                blocks.append(para)
            pending.clear()

    if container.text:
        pending.append(_text(container.text))
    for child in container:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in _BLOCK_TAGS and (tag != "div" or _has_block_child(child)):
            flush()
            blocks.extend(_render_block(child))
        else:
            rendered = _inline_child(child, False, _glued(pending, child.tail))
            # Loose inline runs at block level are what trafilatura salvaged from lost
            # structure ("Safety Tips<hi>Gallery:</hi>" was two links): keep words apart.
            if rendered[:1].isalnum() and _last_char(pending).isalnum():
                pending.append(" ")
            pending.append(rendered)
        if child.tail:
            pending.append(_text(child.tail))
    flush()
    return blocks


def _render_block(elem: _Element) -> list[str]:
    tag = elem.tag
    if tag == "p":
        para = _paragraph(_inline(elem))
        return [para] if para else []
    if tag == "head":
        text = " ".join(_inline(elem).split())
        if not text:
            return []
        rend = elem.get("rend", "h2")
        level = int(rend[1]) if len(rend) == 2 and rend[1].isdigit() else 2
        return [f"{'#' * min(max(level, 1), 6)} {text}"]
    if tag == "list":
        return _render_list(elem)
    if tag == "quote":
        inner = _blocks(elem) if _has_block_child(elem) else [_paragraph(_inline(elem))]
        body = "\n\n".join(b for b in inner if b)
        if not body:
            return []
        return ["\n".join(f"> {line}" if line else ">" for line in body.split("\n"))]
    if tag == "code":
        code = "".join(elem.itertext()).strip("\n")
        if not code.strip():
            return []
        fence = "`" * max(3, max((len(r) for r in re.findall(r"`{3,}", code)), default=0) + 1)
        return [f"{fence}\n{code}\n{fence}"]
    if tag == "table":
        return _render_table(elem)
    # div, stray item/row/cell: a plain container
    return _blocks(elem)


def _render_list(elem: _Element) -> list[str]:
    ordered = elem.get("rend") == "ol"
    lines: list[str] = []
    number = 0
    for item in elem:
        if item.tag != "item":
            # stray content directly in a list: keep it as its own entry
            parts = _render_block(item) if item.tag in _BLOCK_TAGS else []
        else:
            parts = _blocks(item)
        if item.tail and item.tail.strip():
            parts.append(_paragraph(_text(item.tail)))
        parts = [p for p in parts if p]
        if not parts:
            continue
        number += 1
        marker = f"{number}. " if ordered else "- "
        indent = " " * len(marker)
        first = True
        for part in parts:
            for line in part.split("\n"):
                lines.append(f"{marker}{line}" if first else f"{indent}{line}" if line else "")
                first = False
    return ["\n".join(lines)] if lines else []


def _cell_text(cell: _Element) -> str:
    text = " ".join(_inline(cell, in_cell=True).split())
    return text.replace("|", "\\|")


def _is_layout_table(table: _Element, rows: list[_Element]) -> bool:
    """Tables used for page layout (whole articles in a <td>) are unwrapped, not tabulated."""
    if table.find(".//table") is not None:
        return True
    if max((len(r.findall("cell")) for r in rows), default=0) < 2:
        return True
    for cell in table.iter("cell"):
        blocks = [c for c in cell if c.tag in ("p", "head", "list", "quote", "code")]
        if len(blocks) > 1 or any(c.tag in ("list", "quote", "code") for c in blocks):
            return True
    return False


def _render_table(table: _Element) -> list[str]:
    rows = [r for r in table if r.tag == "row"]
    if _is_layout_table(table, rows):
        blocks: list[str] = []
        for row in rows:
            for cell in row:
                blocks.extend(_blocks(cell) if cell.tag == "cell" else _render_block(cell))
        return blocks
    grid = [[_cell_text(c) for c in r if c.tag == "cell"] for r in rows]
    grid = [r for r in grid if any(r)]
    if not grid:
        return []
    width = max(len(r) for r in grid)
    grid = [r + [""] * (width - len(r)) for r in grid]
    # GFM needs a header row: the first row serves even when it has no <th>
    lines = [
        "| " + " | ".join(grid[0]) + " |",
        "| " + " | ".join(["---"] * width) + " |",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in grid[1:]]
    return ["\n".join(lines)]


def _title_key(text: str) -> str:
    return _NORMALIZE_TITLE.sub(" ", text).strip().casefold()


def _drop_title(blocks: list[str], title: str | None) -> list[str]:
    """Remove the title when the body repeats it as one of its first blocks."""
    if not title or not blocks:
        return blocks
    key = _title_key(title)
    if not key:
        return blocks
    for i, block in enumerate(blocks[:2]):
        if "\n" in block:
            continue
        candidate = _title_key(block.lstrip("#").replace("\\", ""))
        if candidate and (
            candidate == key
            or (len(candidate) >= 20 and (key.startswith(candidate) or candidate.startswith(key)))
        ):
            return blocks[:i] + blocks[i + 1 :]
    return blocks


# A bare web address in the text, as reference lists print them ("Agency: http://x.gov").
_URL = re.compile(r"(?:https?://|www\.)\S+")
_LINK_LINE_WORDS = 4  # words besides its address that a reference line may have
_LABEL_WORDS = 6


def _drop_trailing_references(blocks: list[str]) -> list[str]:
    """Remove a labelled list of web addresses that ends the text ("On the web:", then
    "Agency: http://agency.gov" lines): the addresses point away from the article. An address
    line without such a label ("Follow the author at http://...") is the article's, and so
    is a label without addresses after it ("The full report is here:"; measured on
    trafilatura-eval it lost a must-have sentence for each leaked label it took)."""
    end = len(blocks)
    while end and "\n" not in blocks[end - 1] and _URL.search(blocks[end - 1]) and len(
        _URL.sub(" ", blocks[end - 1]).split()
    ) <= _LINK_LINE_WORDS:
        end -= 1
    label = blocks[end - 1] if end else ""
    if (end < len(blocks) and label.endswith(":") and "\n" not in label
            and len(label.split()) <= _LABEL_WORDS):
        return blocks[: end - 1]
    return blocks


def _to_markdown(
    body: _Element | None, title: str | None, tree: HtmlElement | None = None,
    url: str | None = None, related: list[tuple[str, str]] | None = None,
    captions: list[HtmlElement] | None = None,
) -> str:
    if body is None:
        return ""
    blocks = _drop_trailing_references(_drop_title(_blocks(body), title))
    if related:
        blocks = _drop_related(blocks, related)
    blocks = _drop_trailing_label(blocks)
    if tree is not None:
        blocks = _with_images(blocks, tree, url)
    if captions:
        blocks = _drop_captions(blocks, captions)
    return unicodedata.normalize("NFC", "\n\n".join(blocks))


# --------------------------------------------------------------------------- related content

# Labels of the blocks that point away from the article ("Recommended for you", "From other
# news sites", "Lesen Sie auch", "Читайте также"): the whole text of a heading or a label
# element, in the major languages. A label alone proves nothing (an article may have a
# section headed "Related"): what follows it must be a list of links or teasers.
# bench/extraction.py, F1 without -> with: big9 0.9695 -> 0.9716, trafilatura-eval 0.9216 ->
# 0.9224, newspaper4k 0.9192 -> 0.9196, fundus 0.9442 -> 0.9449, Readability's 0.8101 -> 0.8100
# (its Wikipedia pages keep "See also", which is left out of the labels for that).
_RELATED_LABEL = re.compile(
    r"(?:"
    # en
    r"recommended(?: for you| stories| articles| reading| videos?)?"
    r"|(?:you )?(?:may|might) also (?:like|enjoy|be interested in)"
    r"|related(?: stories| articles| content| news| coverage| links| posts| topics| videos?"
    r"| reading)?"
    r"|more (?:from|on|in|about) [^\n]{1,40}"
    r"|more (?:stories|news|headlines|articles)(?: from [^\n]{1,30})?"
    r"|most (?:read|popular|viewed|shared|commented|emailed|watched)(?: [^\n]{1,25})?"
    r"|(?:read|watch) (?:more|also|next)|also read|trending(?: now| stories| news| articles)?"
    r"|top stories|latest (?:news|stories|headlines)|from other news sites"
    r"|from (?:around|across) the web|around the web|from our partners|elsewhere on [^\n]{1,30}"
    r"|what to read next|editor'?s'? picks|don'?t miss|popular (?:now|stories|articles)"
    r"|in case you missed it|further reading|read more from [^\n]{1,30}|more to (?:read|explore)"
    r"|next up|up next|keep reading"
    # de
    r"|mehr zum thema|mehr (?:aus|von|zu) [^\n]{1,30}|das könnte (?:sie|dich) (?:auch )?interessieren"
    r"|auch interessant|lesen sie (?:auch|mehr)|weitere (?:artikel|nachrichten|themen)"
    r"|meistgelesen|meist gelesen|am meisten gelesen|verwandte (?:artikel|themen)"
    r"|zum thema|beliebte artikel|top-artikel"
    # fr
    r"|(?:à|a) lire (?:aussi|également)|lire aussi|sur le même (?:sujet|thème)|les plus lus"
    r"|articles similaires|vous aimerez (?:aussi|également)|nos recommandations|voir aussi"
    r"|dans la même rubrique|les plus partagés"
    # es, pt, it
    r"|le[ae] también|(?:también )?te puede interesar|noticias relacionadas|lo más leído"
    r"|(?:las )?más leídas|relacionad[oa]s?|más noticias|te recomendamos|ver también"
    r"|leia também|veja também|mais lidas|notícias relacionadas|você (?:também )?pode gostar"
    r"|recomendado para você|leggi anche|potrebbe interessarti|ti potrebbe interessare"
    r"|articoli correlati|(?:i )?più letti"
    # nl, pl, sv, da, no
    r"|lees ook|meest gelezen|gerelateerde artikelen|czytaj (?:też|także)|zobacz (?:też|także)"
    r"|najczęściej czytane|polecamy|läs också|mest lästa?|læs også|les også|mest lest"
    # ru, uk
    r"|читайте (?:также|також)|смотрите также|дивіться також|похожие новости|схожі новини"
    r"|самое читаемое|популярное|популярне|новости по теме|новини по темі|е?щё по теме"
    r"|еще по теме|рекомендуем|рекомендуємо"
    r")\s*[:»>›…]*",
    re.IGNORECASE,
)
_MAX_LABEL_CHARS = 60
# Elements a label (or a caption) is the text of, for a walk that lxml filters in C: a Python
# object for each element is the walk's cost. Left out: links (a link called "More from ..."
# closes a list rather than heads one), list items (a fifth of the elements, in menus; on the
# gold sets 12 of 700 labels and no caption were one) and rare inline tags.
_LABEL_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6", "div", "span", "p", "strong", "b", "em",
               "td", "th", "dt", "header", "section", "figcaption")
_TEASER_CHARS = 250  # a label and a link in one short block: "Trending: <a>story</a>"
_ITEM_CHARS = 500  # a teaser item: a linked headline, maybe a summary line and a source
_MAX_RELATED_CHARS = 6000  # a related block is not long
_LINKED = 0.6  # share of a teaser line's words (besides its label) that are link text
_TEASER_SHARE = 0.6  # share of a teaser list's items that have a link
_MAX_LABEL_DEPTH = 3  # wrappers around a label ("<div class=hd><h2>Related</h2></div>")


def _squeezed(text: str) -> str:
    return "".join(text.split())


def _linked_chars(elem: HtmlElement) -> int:
    return sum(len(_squeezed(a.text_content())) for a in elem.iter("a"))


def _teaser_items(items: list[HtmlElement]) -> bool:
    """Short blocks, most of them with a link: a list of teasers (the rest are a note, a
    caption, a source line)."""
    linked = count = 0
    for item in items:
        text = _squeezed(item.text_content())
        if len(text) > _ITEM_CHARS:
            return False
        if text:
            count += 1
            if any(len(_squeezed(a.text_content())) >= 3 for a in item.iter("a")):
                linked += 1
    return linked >= 2 and linked >= _TEASER_SHARE * count


def _elements(elem: HtmlElement) -> list[HtmlElement]:
    return [c for c in elem if isinstance(c.tag, str) and c.tag not in ("script", "style", "br")]


def _related_section(label: HtmlElement) -> list[HtmlElement]:
    """What a related-content label heads: its container when that holds the label and a list
    of teasers (or a single short line of links), else the link blocks right after it; [] when
    what follows is not links (a section of the article that happens to be called so)."""
    text = _squeezed(label.text_content())
    for _ in range(_MAX_LABEL_DEPTH):  # the label's own wrappers
        parent = label.getparent()
        if parent is None or _squeezed(parent.text_content()) != text:
            break
        label = parent
    parent = label.getparent()
    if parent is None or parent.tag in ("body", "html"):
        return []
    whole = _squeezed(parent.text_content())
    rest = len(whole) - len(text)
    first = not (parent.text or "").strip() and next(
        (c for c in _elements(parent) if _squeezed(c.text_content())), None) is label
    if first and len(whole) <= _MAX_RELATED_CHARS and rest > 0:
        # the label heads its container: the container is the section
        if len(whole) <= _TEASER_CHARS and not (label.tail or "").strip():
            linked = _linked_chars(parent) - _linked_chars(label)
            if linked >= _LINKED * rest:
                return [parent]
        items = [c for c in _elements(parent) if c is not label]
        if len(items) == 1 and len(_squeezed(items[0].text_content())) >= 0.8 * rest:
            items = _elements(items[0])
        if _teaser_items(items):
            return [parent]
    if (label.tail or "").strip():
        return []
    run: list[HtmlElement] = []
    for sibling in label.itersiblings():
        if not isinstance(sibling.tag, str) or sibling.tag == "br":
            continue
        size = len(_squeezed(sibling.text_content()))
        if not size:
            continue
        teasers = sibling.tag in ("ul", "ol") and _teaser_items(_elements(sibling))
        if not teasers and (size > _TEASER_CHARS or _linked_chars(sibling) < _LINKED * size):
            break
        run.append(sibling)
        if (sibling.tail or "").strip():
            break
    return [label, *run] if run else []


def _labels_and_captions(
    tree: HtmlElement,
) -> tuple[list[tuple[HtmlElement, str]], list[HtmlElement]]:
    """One walk over the page: the elements whose text is a related-content label (with the
    label), and the photo captions (see _captions)."""
    root = tree.find("body")
    if root is None:
        root = tree
    labels: list[tuple[HtmlElement, str]] = []
    captions: list[HtmlElement] = []
    for elem in root.iter(_LABEL_TAGS):
        text = elem.text
        if text and len(text) < _MAX_LABEL_CHARS:
            stripped = text.strip()
            if stripped and _RELATED_LABEL.fullmatch(stripped):
                labels.append((elem, stripped))
        if elem.tag == "figcaption" or "aption" in (elem.get("class") or ""):
            captions.append(elem)
    return labels, captions


def _related_sections(labels: list[tuple[HtmlElement, str]]) -> list[tuple[str, str]]:
    """Related-content blocks found by their label (see _RELATED_LABEL), as (label, whole
    text) comparison keys (_fold)."""
    found: list[tuple[str, str]] = []
    taken: set[HtmlElement] = set()
    for elem, label in labels:
        if elem in taken or any(a in taken for a in elem.iterancestors()):
            continue
        if not len(elem):
            section = _related_section(elem)
        else:
            # the label opens a block: "Trending: <a>story</a>" is a teaser line, "Related
            # <span>...</span>" or "Read more about <b>the case</b> below" is not
            whole = len(_squeezed(elem.text_content()))
            rest = whole - len(_squeezed(label))
            teaser = rest > 0 and whole <= _TEASER_CHARS and _linked_chars(elem) >= _LINKED * rest
            section = [elem] if teaser else []
        if section:
            taken.update(section)
            found.append((_fold(label), _fold(" ".join(e.text_content() for e in section))))
    return found


# Photo captions and credits: the text of a <figcaption> or of an element whose class says
# caption. trafilatura keeps them as paragraphs of the article; the gold texts mostly do not
# (big9: 19 of 20 captions in our text were not in its gold; fundus' figcaptions: 11 of 12).
# A paragraph of the text that is such a caption, whole, goes, unless the page also has it as
# a paragraph of its own (a lead repeated under the photo: the gold has it; without that check
# fundus lost 0.0003). bench/extraction.py, F1 without -> with: big9 0.9741 -> 0.9749,
# trafilatura-eval 0.9290 -> 0.9293, fundus unchanged (+0.00003), newspaper4k unchanged,
# Readability's 0.80973 -> 0.80967 (one blog's figure captions are in its gold).
_CAPTION_CHARS = (20, 400)


def _drop_captions(blocks: list[str], candidates: list[HtmlElement]) -> list[str]:
    """Remove the paragraphs that are one of the page's photo captions, whole. ``candidates``
    are the caption elements that _labels_and_captions found."""
    if not candidates:
        return blocks
    captions: dict[str, HtmlElement] = {}
    for elem in candidates:
        text = " ".join(elem.text_content().split())
        if _CAPTION_CHARS[0] <= len(text) <= _CAPTION_CHARS[1] and (key := _fold(text)):
            captions[key] = elem
    # a caption's first characters as rendered: folding every paragraph would cost more
    heads = {" ".join(e.text_content().split())[:8] for e in captions.values()}
    doomed = {
        key for block in blocks
        if _MD_MARKUP.sub("", block[:24])[:8] in heads and "\n" not in block and (key := _fold(block)) in captions
    }
    if not doomed:
        return blocks
    # the same text as a paragraph of the page's own (a lead repeated under its photo) stays
    starts = {" ".join(captions[key].text_content().split())[:16]: key for key in doomed}
    elems = set(candidates)  # (the caption's and its paragraph's first characters as written)
    tree = captions[next(iter(doomed))].getroottree()
    for para in tree.iter("p"):
        start = (para.text or "").lstrip()[:16]
        if start in starts and para not in elems and not any(
                a in elems for a in para.iterancestors()):
            doomed.discard(starts[start])
    return [b for b in blocks if "\n" in b or _MD_MARKUP.sub("", b[:24])[:8] not in heads
            or _fold(b) not in doomed]


_MD_MARKUP = re.compile(r"^[#>\s]+|[*\\]")


def _drop_trailing_label(blocks: list[str]) -> list[str]:
    """Remove a related-content label that ends the text with nothing after it ("Read more
    from Example News:", its links were not taken as text)."""
    while blocks and "\n" not in blocks[-1] and _RELATED_LABEL.fullmatch(
        _MD_MARKUP.sub("", blocks[-1]).strip()
    ):
        blocks = blocks[:-1]
    return blocks


_LABEL_LINE_CHARS = 2 * _TEASER_CHARS  # a label's line: the label, or a teaser line in Markdown
_LIST_MARKER = re.compile(r"^\s*(?:\d{1,9}[.)]\s)?")


def _drop_related(blocks: list[str], sections: list[tuple[str, str]]) -> list[str]:
    """Remove from the text each related-content section: its label's line and the lines
    right after it that are the section's text. Only the lines go: the page's tree is left as
    it is, so trafilatura's choice of the main text is not changed (without a teaser widget in
    the middle of an article, it took only the article's second half on one page)."""
    if not sections or not blocks:
        return blocks
    lines = [(i, line) for i, block in enumerate(blocks) for line in block.split("\n")]
    keys: dict[int, str] = {}

    def key(n: int) -> str:  # folded when needed: most lines are never looked at
        if n not in keys:
            line = lines[n][1]
            keys[n] = ("" if line.lstrip("-> ").startswith("![")
                       else _fold(_LIST_MARKER.sub("", line)))
        return keys[n]

    dropped: set[int] = set()
    for label, whole in sections:
        for n, (_i, line) in enumerate(lines):
            if (n in dropped or len(line) > _LABEL_LINE_CHARS or not key(n).startswith(label)
                    or key(n) not in whole):
                continue
            dropped.add(n)
            for m in range(n + 1, len(lines)):
                if m in dropped or (key(m) and key(m) not in whole):
                    break
                dropped.add(m)
            break
    if not dropped:
        return blocks
    kept: dict[int, list[str]] = {}
    for n, (i, line) in enumerate(lines):
        if n not in dropped:
            kept.setdefault(i, []).append(line)
    out = []
    for i in range(len(blocks)):
        text = "\n".join(kept.get(i, [])).strip("\n")
        if text.strip(" >-"):
            out.append(text)
    return out


# --------------------------------------------------------------------------- deck

# The deck (standfirst, teaser): a summary sentence or two under the headline that the page
# shows apart from the article's paragraphs, where trafilatura seldom looks. Pages give it as
# their description too (og:description / meta description); it is taken when the page shows
# that very text under the headline and the text lacks it. The gold texts differ: big9's and
# fundus' have the deck, newspaper4k's and Readability's mostly not. bench/extraction.py, F1
# without -> with: big9 0.9716 -> 0.9740, trafilatura-eval 0.9224 -> 0.9290, fundus 0.9449 ->
# 0.9490, newspaper4k 0.9196 -> 0.9190, Readability's 0.8100 -> 0.8097.
_DECK_MIN_WORDS = 5
_DECK_MAX_CHARS = 600
# A short text is a video's or a gallery's caption, whose page description is a teaser of
# its own: a deck before it would be much of the text (np4k: two such pages lost 0.08-0.13 P).
_DECK_MIN_TEXT = 500
_DECK_SHARE = 5  # the text is at least this many times as long as the deck
_DECK_WINDOW = 120  # elements (of _DECK_TAGS) after the headline where a deck may be
_DATELINE_CHARS = 40  # a dateline before a deck that is the lead paragraph
# Elements a deck or the headline is (or follows: <p/>, <br>), as a filter that lxml applies
# in C: a Python object for every element of the page was most of this function's cost.
_DECK_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "div", "span", "strong", "b", "em", "i",
              "li", "td", "section", "header", "hgroup", "br", "font", "small")
_HTML_SPECIALS = re.compile(r"[&<>\"'\u00a0]")  # written otherwise in markup (&amp; ...)
_DECK_INLINE = frozenset({"a", "span", "strong", "b", "em", "i", "font", "small", "time"})
_DECK_SKIP_ANCESTORS = frozenset(
    {"a", "nav", "aside", "footer", "figure", "figcaption", "form", "button", "noscript",
     "template", "script", "style", "head", "title", "select", "option"}
)
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…)\s*$")


def _deck_match(found: str, key: str) -> bool:
    """``found`` (a _fold) is the description ``key``, maybe with a dateline before it ("SAN
    FRANCISCO - ...") or the rest of a description cut short after it."""
    pos = found.find(key)
    return 0 <= pos <= _DATELINE_CHARS and len(found) <= 1.5 * len(key) + pos


def _headline(elem: HtmlElement, title_key: str) -> bool:
    heading = _fold(elem.text_content())
    return bool(heading) and (
        heading == title_key
        or (len(heading) >= 15 and (title_key.startswith(heading) or heading.startswith(title_key)))
    )


def _deck(tree: HtmlElement, description: str | None, title: str | None, text: str,
          source: str = "") -> str | None:
    """The page's visible deck, as text, when it is the page's description and not yet in
    the text; else None. It must be where a deck is: after the headline (a heading that is the
    title), or right after a heading of its own when no heading is the page's title."""
    if not description or len(description) > _DECK_MAX_CHARS:
        return None
    description = " ".join(description.split())
    if len(description.split()) < _DECK_MIN_WORDS or description[:40] in text:
        return None  # (the text has it: mostly the lead paragraph)
    key = _fold(_ELLIPSIS.sub("", description))
    title_key = _fold(title or "")
    if len(key) < 20 or key == title_key:
        return None
    needle = description[:12]
    if source:
        # the page's own words: a deck's start or end is in the page after <body> as written
        # (unless markup or an entity is in the way: a link on its first word, "&amp;")
        body_at = max(source.find("<body"), source.find("<BODY"), 0)
        ends = (needle, _ELLIPSIS.sub("", description)[-12:])
        if not any(_HTML_SPECIALS.search(end) or source.find(end, body_at) >= 0 for end in ends):
            return None
    deck = _find_deck(tree, description, key, title_key)
    # in the text already, written otherwise (no accents folded here: _fold's decomposition
    # of a whole text costs more than the rest of this function)
    if deck is None or _NOT_ALNUM.sub("", _ELLIPSIS.sub("", description)).casefold()[
        :60
    ] in _NOT_ALNUM.sub("", text).casefold():
        return None
    return deck


def _find_deck(tree: HtmlElement, description: str, key: str, title_key: str) -> str | None:
    """The deck's text: see _deck."""
    needle = description[:12]
    root = tree.find("body")
    if root is None:
        return None
    after = -1  # elements since the headline, -1 before it
    for elem in root.iter(_DECK_TAGS):
        tag = elem.tag
        if after >= 0:
            after += 1
            if after > _DECK_WINDOW:
                return None
        elif title_key and tag in ("h1", "h2") and _headline(elem, title_key):
            after = 0
            continue
        head = (elem.text or "").strip()
        if not head and len(elem) and elem[0].tag in _DECK_INLINE:  # "<p><a>VW</a> has ..."
            head = (elem[0].text or "").strip()
        if head and (needle in head[: _DATELINE_CHARS + 12] or needle.startswith(head[:12])):
            found = " ".join(elem.text_content().split())
            headed = after >= 0 or (
                (previous := elem.getprevious()) is not None and previous.tag in ("h1", "h2")
            )
            if (headed and _deck_match(_fold(found), key)
                    and not any(a.tag in _DECK_SKIP_ANCESTORS for a in elem.iterancestors())):
                return _escape_line_start(_text(found))
        tail = elem.tail
        if tail and after >= 0 and needle in tail.lstrip()[: _DATELINE_CHARS + 12]:
            # loose text after an element: a lead paragraph trafilatura does not see
            found = " ".join(tail.split())
            if (_deck_match(_fold(found), key)
                    and not any(a.tag in _DECK_SKIP_ANCESTORS for a in elem.iterancestors())):
                return _escape_line_start(_text(found))
    return None


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


def _title(tree: HtmlElement) -> str | None:
    """Title for pages without og:title/JSON-LD headline, in trafilatura's order of preference:
    a single <h1>, a heading marked as title/headline, the <title> element, any h1/h2."""
    h1s = tree.findall(".//h1")
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
    title, first, second = examine_title_element(tree)
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
# newspaper4k 0.903 at 0.87-0.94x bare speed; never 0.950 / 0.932 / 0.881 at 1.06-1.24x; this
# threshold 0.950 / 0.938 / 0.903 at 0.88-1.09x.
FALLBACK_BELOW_CHARS = 1000


def _main_body(tree: HtmlElement, url: str | None) -> _Element | None:
    options: dict[str, Any] = dict(
        url=url,
        with_metadata=False,
        include_comments=False,
        include_tables=True,
        include_formatting=True,
        include_links=False,
        include_images=False,  # see _with_images: trafilatura's image mode keeps more junk
        output_format="xml",  # keeps the body as an XML tree, skips trafilatura's rendering
    )
    try:
        # bare_extraction works on its own copy of the tree, so a second pass is safe.
        doc = bare_extraction(tree, fast=True, **options)
        body = doc.body if isinstance(doc, Document) else None
        if body is None or len("".join(body.itertext())) < FALLBACK_BELOW_CHARS:
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
            blocks.append("- " + _text(_BULLET.sub("", line)))
        else:
            blocks.append(_escape_line_start(_text(line)))
    return "\n\n".join(blocks)


def _with_second_opinion(text: str, source: str, title: str | None) -> str:
    if len(text) >= SECOND_OPINION_BELOW_CHARS:
        return text
    other = _second_opinion(source)
    if len(other) < SECOND_OPINION_MARGIN * max(len(text), 1):
        return text
    blocks = _drop_title(other.split("\n\n"), title)
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
    title = _strip_site_suffix(doc.title, outlets) or None
    meta_noarchive = _meta_noarchive(tree)
    blocks = None
    text = ""
    if not (skip_noarchive_text and (noarchive or meta_noarchive)):
        if site is not None:
            # after the metadata: a byline or date line that recurs is template for the text,
            # not for the metadata
            blocks, _removed = strip_template(tree, site)
        labels, captions = _labels_and_captions(tree)
        text = _with_second_opinion(
            _to_markdown(_main_body(tree, url), title, tree, page_url,
                         _related_sections(labels), captions),
            source, title,
        )
        if len(text) >= _DECK_MIN_TEXT and (
            deck := _deck(tree, doc.description, title, text, source)
        ) and len(text) >= _DECK_SHARE * len(deck):
            text = f"{deck}\n\n{text}"
    language = _markup_language(tree)
    if language is None and LANGID_FLAG and len(text) > 200:
        language = _iso639_1(language_classifier(text, ""))

    return Extracted(
        title=title,
        authors=_clean_authors(doc.author, outlets),
        published=published,
        updated=updated,
        language=language,
        sitename=doc.sitename or None,
        image=_absolute(doc.image, page_url),
        canonical_url=declared,
        description=doc.description or None,
        categories=tuple(dict.fromkeys(c.strip() for c in doc.categories or () if c.strip())),
        text=text,
        noarchive=meta_noarchive,
        blocks=blocks,
    )
