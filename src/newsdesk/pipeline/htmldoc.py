"""An HTML page as input: checked, decoded and parsed once (shared by extraction and the
site template). Bytes are refused early when they are not a document (empty, binary, too large,
undecodable) with an :class:`ExtractionError` that says why.
"""

from __future__ import annotations

import codecs
import re

import trafilatura.utils
from lxml.etree import ElementDefaultClassLookup
from lxml.html import (
    HtmlComment,
    HtmlElement,
    HtmlEntity,
    HTMLParser,
    HtmlProcessingInstruction,
)
from trafilatura.utils import load_html

from newsdesk.pipeline.encoding import decode_body
from newsdesk.pipeline.swap import Swap

__all__ = ["MAX_INPUT_BYTES", "ExtractionError", "as_text", "parse"]

MAX_INPUT_BYTES = 10 * 1024 * 1024


class ExtractionError(ValueError):
    """The input cannot be treated as an HTML document (empty, binary, too large, undecodable)."""


# --------------------------------------------------------------------------- input / decoding

_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed data (decode Content-Encoding first)"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data (decode Content-Encoding first)"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive / office document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "a RIFF (WebP/WAV/AVI) file"),
    (b"\x00\x00\x00", "binary data"),
)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_UTF16_32_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # also prefixes of the UTF-32 BOMs


def _many_nuls(data: str | bytes) -> bool:
    head = data[:65536]
    return head.count("\x00" if isinstance(head, str) else b"\x00") > max(32, len(head) // 1000)


def as_text(html: str | bytes, charset: str | None = None) -> str:
    if isinstance(html, bytes | bytearray | memoryview):
        body = bytes(html)
        if len(body) > MAX_INPUT_BYTES:
            raise ExtractionError(f"input too large: {len(body)} bytes > {MAX_INPUT_BYTES}")
        if body.isspace() or not body:
            raise ExtractionError("empty input")
        for magic, what in _BINARY_MAGIC:
            if body.startswith(magic):
                raise ExtractionError(f"binary input: looks like {what}")
        if not body.startswith(_UTF16_32_BOMS) and _many_nuls(body):
            raise ExtractionError("binary input: NUL bytes in content")
        # decode_body prefers valid UTF-8 over a stale <meta charset> (CMSs re-encode pages).
        text = decode_body(body, charset, "text/html")
    elif isinstance(html, str):
        if len(html) > MAX_INPUT_BYTES:
            raise ExtractionError(f"input too large: {len(html)} characters > {MAX_INPUT_BYTES}")
        text = html
    else:
        raise ExtractionError(f"expected str or bytes, got {type(html).__name__}")
    if "\x00" in text:
        if _many_nuls(text):
            raise ExtractionError("binary input: NUL bytes in content")
        # a few stray NULs happen in real pages (a CMS pads an ad slot with them)
        text = text.replace("\x00", "")
    text = text.lstrip("\ufeff")
    if not text or text.isspace():
        raise ExtractionError("empty input")
    # binary content shows itself early; scanning the head keeps this check cheap
    head = text[:8192]
    if len(_CONTROL_CHARS.findall(head)) > max(8, len(head) // 100):
        raise ExtractionError("binary input: control characters in content")
    if head.count("\ufffd") > max(8, len(head) // 10):
        raise ExtractionError("undecodable input: mostly invalid characters for any charset")
    return text


# libxml2 (2.14) ends the document at the first </html> and puts what follows a </body> outside
# the body, where browsers (HTML5) keep both in the body. Pages carry stray ones, an ad
# snippet's own "</body></html>" mid-article: they go, and the parser closes both at the end.
_DOCUMENT_END_TAGS = re.compile(r"</(?:body|html)\s*>", re.IGNORECASE)

# trafilatura's parser (same options), whose elements get their Python class in C: lxml.html's
# parser asks a Python callback (HtmlElementClassLookup.lookup) for every element proxy made,
# in every stage of the extraction. That callback also gives <form>, <input>, <select>,
# <textarea> and <label> classes of their own, whose methods neither newsdesk, trafilatura nor
# htmldate call. bench/ingest.py's 1,662 pages, each extracted both ways in turn: the same
# results, 22.6 -> 21.0 ms a page (-7.2%).
_HTML_PARSER = HTMLParser(
    collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True,
    remove_pis=True)
_HTML_PARSER.set_element_class_lookup(ElementDefaultClassLookup(
    element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity))
_c_class_lookup = Swap([(trafilatura.utils, "HTML_PARSER", _HTML_PARSER)])


def parse(text: str) -> HtmlElement:
    with _c_class_lookup():
        tree = load_html(_DOCUMENT_END_TAGS.sub("", text))
        if tree is None:
            # trafilatura refuses fragments ("<p>x</p>" alone): give them a document around
            tree = load_html(f"<html><body>{text}</body></html>")
    if tree is None:
        raise ExtractionError("input could not be parsed as HTML")
    return tree


def squeezed(text: str) -> str:
    """``text`` without any whitespace: lengths that markup indentation does not change."""
    return "".join(text.split())


def linked_chars(elem: HtmlElement) -> int:
    """Characters of ``elem``'s text inside links (whitespace aside)."""
    return sum(len(squeezed(a.text_content())) for a in elem.iter("a"))
