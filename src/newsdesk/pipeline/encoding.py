"""Turn fetched bytes into text: the one charset decoder for pages, feeds and sitemaps.

Rules, in order; the first that yields text wins:

1. Empty body: "".
2. Unicode signature: a byte-order mark, or a BOM-less UTF-16/32 document recognised by its
   leading "<" (XML 1.0 appendix F). Unambiguous, and browsers let a BOM override everything.
3. Non-ASCII body that is valid UTF-8 -> UTF-8, *whatever is declared*. A single-byte label
   "decodes cleanly" whatever the bytes, so strictness (rule 5) cannot catch a stale
   ``<meta charset=iso-8859-1>`` left by a CMS or a server-wide ISO-8859-1 default on a UTF-8
   feed, both common; non-ASCII legacy text, in turn, is practically never valid UTF-8 by
   accident. Also UTF-8 when the body is *mostly* valid UTF-8 (a truncated character, a stray
   byte: at most one bad byte per 20 valid multi-byte characters), with U+FFFD for the bad
   bytes; a legacy page yields almost no valid multi-byte sequences. Deviates from WHATWG, which
   obeys the label.
4. Declared labels, strongest first:
   a. the document's own declaration (``<?xml encoding?>`` / ``<meta charset>``), for markup or
      unknown content types. It was written together with the bytes, whereas the HTTP header is
      often a server-wide default that is wrong for the page (a deviation from the WHATWG order,
      tolerable because every label must pass rule 5);
   b. the ``charset`` parameter of the Content-Type header.
   Labels are read as browsers read them (WHATWG): ISO-8859-1/ASCII mean windows-1252 (real
   "latin-1" pages use its curly quotes in 0x80-0x9F; ISO-8859-1 stays as a backup for cp1252's
   five undefined bytes), ISO-8859-9 means windows-1254, TIS-620 windows-874, GB2312/GBK
   GB18030, Shift_JIS cp932, EUC-KR cp949, Big5 Big5-HKSCS. Ignored: unknown labels, UTF-7 (can
   smuggle markup past filters, never a real web encoding), non-text codecs ("zlib"), and
   UTF-16/32, which without a signature (rule 2) cannot be true.
5. A label must decode *strictly*; wrong labels are common (a page labelled utf-8 that is
   really windows-1251), so a failing one is skipped instead of producing mojibake.
6. Pure ASCII body with no usable label: ISO-2022-JP if it contains ESC and decodes as such (a
   7-bit encoding, so rule 7 never sees it; ESC does not occur in real ASCII text), else ASCII.
7. Guess with charset-normalizer, restricted to the encodings browsers support (left alone it
   answers mac_latin2, hp_roman8 or big5 for short Latin text). A non-Latin answer (Cyrillic,
   Greek, Hebrew, Arabic, Thai, CJK) is taken as is - unless windows-1252 scores as well. For
   Latin-script text the detector is a coin toss between codepages (French came out as cp1250
   "trčs" or cp1257, Portuguese as cp1257 "2ŗ turno"): a regional codepage (Central European,
   Baltic, Turkish, Vietnamese) is kept only when a near-equal match detects a language of
   that region, else windows-1252, the legacy web's dominant encoding and WHATWG's default for
   most locales. The guess is read like a label (rule 4) and decoded strictly if possible,
   else with U+FFFD.
8. No guess at all (binary-looking data): UTF-8 with U+FFFD, so garbage shows as replacement
   characters (extract.py rejects such input by counting them).
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

__all__ = ["decode_body", "sniff_declared_charset", "sniff_unicode_signature"]

# Browsers re-parse when they meet a late <meta charset>, so look a bit further than WHATWG's
# 1024-byte prescan; pages with long <head> scripts are common in news.
_SNIFF_BYTES = 4096
# charset-normalizer only needs a sample; whole multi-megabyte sitemaps would be slow.
_GUESS_BYTES = 200_000

_XML_DECL_RE = re.compile(
    rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']\s*([A-Za-z0-9._:-]+)\s*["']""", re.I
)
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
# BOM-less UTF-16/32 markup: "<" next to NUL bytes is never 8-bit text (XML 1.0 appendix F).
_BOMLESS: tuple[tuple[bytes, str], ...] = (
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00", "utf-16-le"),
    (b"\x00<", "utf-16-be"),
)

# Labels as browsers read them (WHATWG Encoding Standard), keyed by Python codec name: each
# label names a subset of what pages labelled so really contain.
_WHATWG_SUPERSETS = {
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "big5": "big5hkscs",
}
# WHATWG labels Python does not know.
_EXTRA_LABELS = {
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "x-gbk": "gb18030",
    "x-cp1252": "cp1252",
    "iso88591": "cp1252",
    "windows-874": "cp874",
    "iso-8859-8-i": "iso8859_8",
    "x-mac-roman": "mac_roman",
    "x-mac-cyrillic": "mac_cyrillic",
    "koi8-ru": "koi8_u",
    "x-euc-jp": "euc_jp",
    "cseuckr": "cp949",
    "x-x-big5": "big5hkscs",
    "unicode-1-1-utf-8": "utf-8",
}

# WHATWG legacy encodings (charset-normalizer's names), minus UTF-16 (signature only) and the
# 7-bit ISO-2022-JP (rule 6): the only answers the guesser may give.
_WEB_LEGACY = (
    "cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258",
    "cp874", "cp866", "iso8859_2", "iso8859_3", "iso8859_4", "iso8859_5", "iso8859_6",
    "iso8859_7", "iso8859_8", "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15",
    "iso8859_16", "koi8_r", "koi8_u", "mac_roman", "mac_cyrillic", "gb18030", "big5", "euc_jp",
    "shift_jis", "euc_kr",
)  # fmt: skip

# Regional Latin codepages and the languages (charset-normalizer's names) that justify them.
_CENTRAL_EUROPEAN = {"Polish", "Czech", "Slovak", "Hungarian", "Croatian", "Slovene", "Romanian"}
_BALTIC = {"Lithuanian", "Latvian", "Estonian"}
_REGIONAL_LANGUAGES = {
    "cp1250": _CENTRAL_EUROPEAN,
    "iso8859_2": _CENTRAL_EUROPEAN,
    "iso8859_16": _CENTRAL_EUROPEAN,
    "cp1257": _BALTIC,
    "iso8859_13": _BALTIC,
    "iso8859_4": _BALTIC,
    "cp1254": {"Turkish"},
    "cp1258": {"Vietnamese"},
}
_LATIN_CODEPAGES = set(_REGIONAL_LANGUAGES) | {
    "cp1252", "iso8859_3", "iso8859_10", "iso8859_14", "iso8859_15", "mac_roman",
}  # fmt: skip
_REGIONAL_CHAOS_MARGIN = 0.02  # how much worse than the best a regional match may score
_CP1252_CHAOS_MARGIN = 0.05  # ... and windows-1252 against a non-Latin best match


def sniff_unicode_signature(body: bytes) -> tuple[str, int] | None:
    """``(codec, length of the BOM)`` for a byte-order mark or BOM-less UTF-16/32 markup."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return codec, len(bom)
    for prefix, codec in _BOMLESS:
        if body.startswith(prefix):
            return codec, 0
    return None


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
    """Decode a document to text by the rules in this module's docstring.

    `declared` is the HTTP charset parameter, `content_type` the media type (the document's own
    declaration is only looked for in markup, or when the type is unknown).
    """
    if not body:
        return ""
    if signature := sniff_unicode_signature(body):
        codec, skip = signature
        return body[skip:].decode(codec, errors="replace")

    is_ascii = body.isascii()
    if not is_ascii and (text := _utf8(body)) is not None:
        return text

    labels: list[str] = []
    if _is_markup(content_type) and (sniffed := sniff_declared_charset(body)):
        labels.append(sniffed)
    if declared:
        labels.append(declared)
    for label in labels:
        if (text := _decode_strict(body, label)) is not None:
            return text

    if is_ascii:
        if b"\x1b" in body and (text := _decode_strict(body, "iso2022_jp")) is not None:
            return text
        return body.decode("ascii")
    guess = _guess(body)
    if guess is None:
        return body.decode("utf-8", errors="replace")
    if (text := _decode_strict(body, guess)) is not None:
        return text
    return body.decode((_candidates(guess) or ["utf-8"])[0], errors="replace")


def _is_markup(content_type: str | None) -> bool:
    # Unknown type: might be HTML, and a false meta match in non-markup is still strictly checked.
    return content_type is None or "html" in content_type or "xml" in content_type


def _utf8(body: bytes) -> str | None:
    """The body as UTF-8 if it is valid, or mostly valid, UTF-8 (rule 3); else None."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = body.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = len(text) - len(text.encode("ascii", "ignore")) - bad
    return text if good and bad * 20 <= good else None


def _candidates(label: str) -> list[str]:
    """Python codecs to try, in order, for a declared or guessed label; [] if unusable."""
    label = label.strip().strip("\"'").lower()
    label = _EXTRA_LABELS.get(label, label)
    try:
        info = codecs.lookup(label)
    except LookupError:
        return []
    name = info.name
    if name == "utf-7" or name.startswith(("utf-16", "utf-32")):
        return []
    superset = _WHATWG_SUPERSETS.get(name)
    if superset is None:
        return [name]
    return [superset, "latin-1" if superset == "cp1252" else name]


def _decode_strict(body: bytes, label: str) -> str | None:
    for codec in _candidates(label):
        try:
            return body.decode(codec)
        except UnicodeDecodeError:
            continue
        except LookupError:  # a non-text codec such as "zlib" or "base64"
            return None
    return None


def _sample(body: bytes) -> bytes:
    """At most _GUESS_BYTES, cut before a newline or "<": never inside a multi-byte character,
    which would make charset-normalizer reject the right CJK encoding."""
    if len(body) <= _GUESS_BYTES:
        return body
    cut = max(body.rfind(b"\n", 0, _GUESS_BYTES), body.rfind(b"<", 0, _GUESS_BYTES))
    return body[:cut] if cut > 0 else body[:_GUESS_BYTES]


def _guess(body: bytes) -> str | None:
    """Guess a legacy encoding with charset-normalizer (rule 7)."""
    results = charset_normalizer.from_bytes(_sample(body), cp_isolation=list(_WEB_LEGACY))
    best = results.best()
    if best is None:
        return None
    if best.encoding not in _LATIN_CODEPAGES:
        for match in results:
            if (
                "cp1252" in match.could_be_from_charset
                and match.chaos <= best.chaos + _CP1252_CHAOS_MARGIN
                and match.coherence >= best.coherence
            ):
                return "cp1252"
        return best.encoding
    for match in results:
        if match.chaos > best.chaos + _REGIONAL_CHAOS_MARGIN:
            continue
        regional = _REGIONAL_LANGUAGES.get(match.encoding, set())
        if match.languages and match.languages[0] in regional:
            return match.encoding
    return "cp1252"
