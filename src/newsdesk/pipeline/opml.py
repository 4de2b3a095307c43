"""OPML subscription lists: import (nested folders, sloppy attribute casing) and export."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lxml import etree

__all__ = ["OpmlSource", "parse_opml", "write_opml"]


@dataclass(frozen=True)
class OpmlSource:
    url: str
    title: str | None
    html_url: str | None
    category: str | None


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


def _attrs(el: etree._Element) -> dict[str, str]:
    # OPML in the wild spells attributes xmlUrl, xmlurl, XMLURL, ...
    return {str(k).lower(): v for k, v in el.attrib.items()}


def _category_attr(value: str | None) -> str | None:
    # OPML 2.0: comma-separated list of slash-delimited paths ("/News/World,/Tech").
    first = (value or "").split(",", 1)[0].strip().lstrip("/")
    return _clean(first.split("/", 1)[0])


def _parser(recover: bool) -> etree.XMLParser:
    return etree.XMLParser(recover=recover, resolve_entities=False, no_network=True)


# Double-quoted runs may contain "<" and ">" (descriptions with <em> markup are common).
# Apostrophes are plain text here: "world's" must not open a quoted run.
_OUTLINE_TAG = re.compile(rb"""<outline\b((?:[^<>"]|"[^"]*")*?)(/?)>""", re.I | re.S)
# A value ends at the quote that is followed by another attribute or the end of the tag.
_LOOSE_ATTR = re.compile(
    rb"""\s*([A-Za-z_:][\w:.-]*)\s*=\s*(["'])(.*?)\2(?=\s+[A-Za-z_:][\w:.-]*\s*=|\s*/?$)""", re.S
)


def _repair_outline_tags(data: bytes) -> bytes:
    def fix(m: re.Match[bytes]) -> bytes:
        attrs = b"".join(
            b" " + name + b'="' + _escape_attr(value) + b'"'
            for name, _quote, value in _LOOSE_ATTR.findall(m.group(1))
        )
        return b"<outline" + attrs + m.group(2) + b">"

    return _OUTLINE_TAG.sub(fix, data)


def _escape_attr(value: bytes) -> bytes:
    # Works on bytes so the document's declared encoding stays valid.
    # Keep XML's own entities; HTML ones (&nbsp;) and bare "&" would be fatal.
    value = re.sub(rb"&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9A-Fa-f]+);)", b"&amp;", value)
    return value.replace(b'"', b"&quot;").replace(b"<", b"&lt;")


def _local(el: etree._Element) -> str:
    return el.tag.rsplit("}", 1)[-1].lower() if isinstance(el.tag, str) else ""


def _walk(parent: etree._Element, folder: str | None) -> Iterator[OpmlSource]:
    for el in parent:
        if _local(el) != "outline":
            continue
        attrs = _attrs(el)
        title = _clean(attrs.get("title")) or _clean(attrs.get("text"))
        url = (attrs.get("xmlurl") or "").strip()
        if url:
            yield OpmlSource(
                url=url,
                title=None if title == url else title,  # write_opml puts the URL in text=""
                html_url=(attrs.get("htmlurl") or "").strip() or None,
                category=folder or _category_attr(attrs.get("category")),
            )
            # A feed outline never defines a folder; still visit odd nested outlines.
            yield from _walk(el, folder)
        else:
            yield from _walk(el, title or folder)


def parse_opml(body: bytes) -> list[OpmlSource]:
    """Feed subscriptions of an OPML document, in document order, deduplicated by URL.

    `category` is the title of the nearest enclosing folder outline, else the first path
    element of the outline's `category` attribute. Raises ValueError on non-OPML input.
    """
    data = body.lstrip(b"\xef\xbb\xbf \t\r\n")  # libxml2 rejects a declaration after whitespace
    if not data:
        raise ValueError("not an OPML document: empty input")
    try:
        root = etree.fromstring(data, _parser(recover=False))
    except etree.XMLSyntaxError:
        # Hand-edited OPML often has raw quotes/ampersands in attributes, e.g.
        # text="Газета "Коммерсантъ". Главное"; libxml2's recovery would drop that outline.
        try:
            root = etree.fromstring(_repair_outline_tags(data), _parser(recover=True))
        except etree.LxmlError as exc:
            raise ValueError(f"not an OPML document: {exc}") from exc
    if root is None:
        raise ValueError("not an OPML document: no XML root element could be parsed")
    if _local(root) != "opml":
        raise ValueError(f"not an OPML document: root element is <{_local(root) or root.tag}>")
    body_el = next((el for el in root if _local(el) == "body"), root)
    seen: dict[str, OpmlSource] = {}
    for source in _walk(body_el, None):
        seen.setdefault(source.url, source)
    return list(seen.values())


def write_opml(sources: Iterable[OpmlSource], title: str = "newsdesk sources") -> str:
    """Serialise sources as OPML 2.0, one folder outline per category (first-seen order).

    Output is deterministic (no dateCreated) so exported files diff cleanly.
    """
    groups: dict[str | None, list[OpmlSource]] = {}
    seen: set[str] = set()
    for source in sources:
        if source.url in seen:
            continue
        seen.add(source.url)
        groups.setdefault(source.category, []).append(source)

    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    body = etree.SubElement(root, "body")
    for category, members in groups.items():
        parent = body
        if category is not None:
            parent = etree.SubElement(body, "outline", text=category, title=category)
        for source in members:
            outline = etree.SubElement(parent, "outline", type="rss")
            outline.set("text", source.title or source.url)
            if source.title:
                outline.set("title", source.title)
            outline.set("xmlUrl", source.url)
            if source.html_url:
                outline.set("htmlUrl", source.html_url)
    etree.indent(root, space="  ")
    xml = etree.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + xml + "\n"
