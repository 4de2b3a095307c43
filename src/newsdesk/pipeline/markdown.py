"""Markdown rendering of trafilatura's XML body: paragraphs, headings, lists, block quotes,
tables as Markdown tables, images as links with their alt text; and the comparison keys
(`fold`) the extraction steps match texts with.

Rendered here rather than by trafilatura's own Markdown output, because (trafilatura 2.3) the
latter drops block quotes, emits ``|---|`` delimiter rows and trailing blanks in tables, renders
layout tables as one huge row, and repeats the title as the first heading.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urljoin, urlsplit

from lxml.etree import _Element
from lxml.html import HtmlElement

NOT_ALNUM = re.compile(r"\W+")


def absolute_url(ref: str | None, base: str | None) -> str | None:
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


def fold(text: str) -> str:
    """Comparison key for names: no accents, case, spaces or punctuation."""
    if text.isascii():  # nothing to decompose
        return NOT_ALNUM.sub("", text).casefold()
    # the accents that decomposition splits off are combining marks, which \W takes too (every
    # character with a combining class is one): no per-character pass needed
    return NOT_ALNUM.sub("", unicodedata.normalize("NFKD", text)).casefold()


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


def inline_text(raw: str) -> str:
    """Text node to inline Markdown: whitespace runs become one space (so line breaks come
    only from <lb>), Markdown specials are escaped so the text renders as written."""
    text = _WS_RUN.sub(" ", raw)
    if _NEEDS_ESCAPE.search(text):
        text = _MD_UNDERSCORE.sub(r"\\_", _MD_INLINE_SPECIALS.sub(r"\\\1", text))
    return text


def escape_line_start(line: str) -> str:
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
        return ""  # comments / processing instructions; images: see with_images
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
    return f"![{inline_text(alt)}]({src})"


# Images of the article, put back beside the text they illustrate. trafilatura's own image
# mode (include_images) changes which blocks it keeps: measured F1 fundus 0.947 -> 0.932,
# big9 0.963 -> 0.959, and 0.97x bare speed. Instead, an image in the page goes in front of the
# block that follows it in the page when that block is in our text.
_IMAGE_NEXT_TAGS = ("p", "h2", "h3", "li")  # the block an image illustrates: the next of these
_IMAGE_SKIP_ANCESTORS = frozenset({"nav", "header", "footer", "aside", "form", "button", "a"})
_MAX_IMAGES = 30
# a tracking pixel without a size, by its address: a counter's word and a query
# ("//stats.example/o.gif?page=..."; "pixel.nymag.com/imgs/..." is an image host)
_TRACKER = re.compile(
    r"[/.](?:stats?|pixel|beacon|tracking|tracker|analytics|counter|doubleclick)[./?].*\?",
    re.IGNORECASE)
_MAX_IMAGES_SEEN = 300  # images looked at on one page (galleries, hostile pages)


def _images_before_blocks(tree: HtmlElement) -> list[tuple[_Element, list[tuple[_Element, str]]]]:
    """(a p/h2/h3/li, the candidate images just before it in the page with their src as
    written: it is resolved only for the images placed, most are not).

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
        src = (el.get("src") or el.get("data-src") or "").strip()
        if not src or _TRACKER.search(src) or any(
                a.tag in _IMAGE_SKIP_ANCESTORS for a in el.iterancestors()):
            continue
        pending.append((el, src))
    return out


def with_images(blocks: list[str], tree: HtmlElement, url: str | None) -> list[str]:
    if not blocks:
        return blocks
    groups = _images_before_blocks(tree)
    if not groups:
        return blocks
    starts: dict[str, int] = {}
    for i, block in enumerate(blocks):
        if not block.startswith(("|", "#", "```", "![")):
            starts.setdefault(fold(block[:160])[:50], i)
    before: dict[int, list[str]] = {}
    for following, images in groups:
        key = fold(" ".join(following.text_content()[:400].split())[:160])[:50]
        if len(key) < 20 or key not in starts:
            continue
        for img, raw in images:
            if len(before) >= _MAX_IMAGES:
                break
            if (src := absolute_url(raw, url)) is None:
                continue
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
        out.append(inline_text(elem.text))
    for child in elem:
        out.append(_inline_child(child, in_cell, _glued(out, child.tail)))
        if child.tail:
            out.append(inline_text(child.tail))
    return "".join(out)


def _last_char(chunks: list[str]) -> str:
    return next((chunk[-1] for chunk in reversed(chunks) if chunk), "")


def _glued(before: list[str], tail: str | None) -> bool:
    return _last_char(before).isalnum() or (tail or "")[:1].isalnum()


def _paragraph(raw: str) -> str:
    lines = (_MULTI_SPACE.sub(" ", line.strip()) for line in raw.split("\n"))
    return "\n".join(escape_line_start(line) for line in lines if line)


def _has_block_child(elem: _Element) -> bool:
    return any(isinstance(c.tag, str) and c.tag in _BLOCK_TAGS for c in elem)


def render_blocks(container: _Element) -> list[str]:
    """Markdown blocks of a container (body, div, quote, item, layout cell)."""
    blocks: list[str] = []
    pending: list[str] = []  # inline run between blocks

    def flush() -> None:
        if pending:
            if para := _paragraph("".join(pending)):
                blocks.append(para)
            pending.clear()

    if container.text:
        pending.append(inline_text(container.text))
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
            pending.append(inline_text(child.tail))
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
        inner = render_blocks(elem) if _has_block_child(elem) else [_paragraph(_inline(elem))]
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
    return render_blocks(elem)


def _render_list(elem: _Element) -> list[str]:
    ordered = elem.get("rend") == "ol"
    lines: list[str] = []
    number = 0
    for item in elem:
        if item.tag != "item":
            # stray content directly in a list: keep it as its own entry
            parts = _render_block(item) if item.tag in _BLOCK_TAGS else []
        else:
            parts = render_blocks(item)
        if item.tail and item.tail.strip():
            parts.append(_paragraph(inline_text(item.tail)))
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
                blocks.extend(render_blocks(cell) if cell.tag == "cell" else _render_block(cell))
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


def drop_title(blocks: list[str], title: str | None) -> list[str]:
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


def drop_trailing_references(blocks: list[str]) -> list[str]:
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


