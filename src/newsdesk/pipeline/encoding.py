"""Turn fetched bytes into text.

Order of evidence (strongest first):

1. A byte-order mark. It is unambiguous and browsers let it override everything.
2. The document's own declaration (``<meta charset>`` / ``<?xml encoding?>``) for HTML and XML.
   It was written together with the bytes, whereas the HTTP header is often a server-wide default
   that is wrong for the page (a deliberate deviation from the WHATWG order, which is also
   tolerable because every candidate must survive step 4).
3. The ``charset`` parameter of the Content-Type header.
4. Each declared candidate must decode *strictly*; wrong labels are common (a page labelled utf-8
   that is really windows-1251), so a failing label is skipped instead of producing mojibake.
5. Nothing usable: valid UTF-8 is taken as UTF-8 (non-ASCII text in another encoding is almost
   never valid UTF-8 by accident), otherwise charset-normalizer guesses among the encodings
   browsers support (see ``_detect``).
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

__all__ = ["decode_body", "sniff_declared_charset"]

# Browsers re-parse when they meet a late <meta charset>, so look a bit further than WHATWG's
# 1024-byte prescan; pages with long <head> scripts are common in news.
_SNIFF_BYTES = 4096

_XML_DECL_RE = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
# Covers both <meta charset="x"> and <meta http-equiv="Content-Type" content="...; charset=x">.
_META_RE = re.compile(rb"""<meta[^>]{0,500}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)

# Longest first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# WHATWG maps these labels to windows-1252: real "latin-1" pages routinely contain cp1252 curly
# quotes in 0x80-0x9F. Strict cp1252 rejects five undefined bytes, so latin-1 stays as a backup.
# WHATWG Encoding Standard legacy encodings (Python codec names), minus UTF-16 (BOM-only).
_WEB_LEGACY = (
    "cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258",
    "cp874", "cp866", "iso8859_2", "iso8859_3", "iso8859_4", "iso8859_5", "iso8859_6",
    "iso8859_7", "iso8859_8", "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15",
    "iso8859_16", "koi8_r", "koi8_u", "mac_roman", "mac_cyrillic", "gb18030", "big5", "euc_jp",
    "iso2022_jp", "shift_jis", "euc_kr",
)  # fmt: skip

_LATIN1_LABELS = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii"}


def sniff_declared_charset(body: bytes) -> str | None:
    """Return the charset an HTML/XML document declares about itself (lower-case), if any."""
    head = body[:_SNIFF_BYTES]
    match = _XML_DECL_RE.match(head) or _META_RE.search(head)
    if not match:
        return None
    label = match.group(1).decode("ascii").lower()
    # An in-document declaration was readable as ASCII, so the bytes cannot be UTF-16/32 (no BOM
    # reached here); WHATWG treats such a declaration as utf-8.
    if label.startswith(("utf-16", "utf16", "utf-32", "utf32", "ucs-2", "ucs2")):
        return "utf-8"
    return label


def decode_body(body: bytes, declared: str | None, content_type: str | None) -> str:
    """Decode a response body to text, trusting declarations only when they decode cleanly."""
    if not body:
        return ""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace")

    labels: list[str] = []
    if _is_markup(content_type) and (sniffed := sniff_declared_charset(body)):
        labels.append(sniffed)
    if declared:
        labels.append(declared.strip().strip("\"'").lower())

    for label in labels:
        for encoding in _candidates(label):
            try:
                return body.decode(encoding)
            except UnicodeDecodeError:
                continue
            except LookupError:  # unknown label, or a non-text codec such as "zlib"
                break
        if _codec_name(label) == "utf-8" and (text := _mostly_utf8(body)) is not None:
            return text

    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return body.decode(_detect(body) or "utf-8", errors="replace")


def _detect(body: bytes) -> str | None:
    """Guess a legacy encoding with charset-normalizer, constrained to what the web uses.

    Left alone it happily answers mac_latin2, hp_roman8 or big5 for short Latin-1 text. Browsers
    only decode the WHATWG encodings, so nothing else can be right for a page that works. Among
    near-equal answers prefer windows-1252, the web's dominant legacy encoding (the WHATWG default
    for most locales): French latin-1 text is otherwise often called cp1257 (Baltic).
    """
    results = charset_normalizer.from_bytes(body, cp_isolation=list(_WEB_LEGACY))
    best = results.best()
    if best is None:
        return None
    for match in results:
        if (
            match.encoding == "cp1252"
            and match.chaos <= best.chaos + 0.05
            and match.coherence >= best.coherence
        ):
            return "cp1252"
    return best.encoding


def _is_markup(content_type: str | None) -> bool:
    # Unknown type: might be HTML, and a false meta match in non-markup is still strictly checked.
    return content_type is None or "html" in content_type or "xml" in content_type


def _codec_name(label: str) -> str | None:
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _candidates(label: str) -> list[str]:
    if label in _LATIN1_LABELS:
        return ["cp1252", "latin-1"]
    name = _codec_name(label)
    # utf-7 can smuggle markup past filters and is never a real web encoding.
    if name is None or name == "utf-7":
        return []
    return [label]


def _mostly_utf8(body: bytes) -> str | None:
    """Accept a utf-8 label despite a few broken bytes (truncated multi-byte char, stray byte).

    Valid multi-byte UTF-8 sequences are strong evidence: a windows-1251/1252 page mislabelled
    utf-8 yields almost none of them and many errors, so it falls through to detection.
    """
    text = body.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = len(text) - len(text.encode("ascii", "ignore")) - bad
    return text if good and bad * 20 <= good else None
