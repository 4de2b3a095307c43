"""The shared charset decoder (newsdesk.pipeline.encoding), rule by rule.

The fetcher's own expectations stay in test_fetch.py and the feed parser's in test_feeds.py;
this file pins the merged rule list and the real pages each rule was written for.
"""

from __future__ import annotations

import codecs
import gzip
from pathlib import Path

import pytest

from newsdesk.pipeline.encoding import (
    decode_body,
    sniff_declared_charset,
    sniff_unicode_signature,
)
from newsdesk.pipeline.feeds import discover_feeds, parse_feed

DATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve() / "web"


def data_bytes(*parts: str) -> bytes:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not found: {path} (expected ../shared/data beside the repo)")
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.suffix == ".gz" else raw


def page(text: str) -> str:
    return f"<html><body><p>{text}</p></body></html>"


FRENCH = (
    "Le président a déclaré mardi que le gouvernement étudierait de nouvelles mesures pour "
    "l'économie française et les agriculteurs, déjà très éprouvés."
)
GERMAN = "Die Regierung kündigte am Dienstag neue Hilfen für Landwirte an – „endlich“, sagte er."
RUSSIAN = (
    "Президент заявил во вторник, что правительство рассмотрит новые меры поддержки экономики."
)


# --------------------------------------------------------------------------- rule 2: signature


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (codecs.BOM_UTF8 + b"<a/>", ("utf-8", 3)),
        (codecs.BOM_UTF32_LE + "<a/>".encode("utf-32-le"), ("utf-32-le", 4)),
        (codecs.BOM_UTF16_LE + "<a/>".encode("utf-16-le"), ("utf-16-le", 2)),
        (codecs.BOM_UTF16_BE + "<a/>".encode("utf-16-be"), ("utf-16-be", 2)),
        (codecs.BOM_UTF32_BE + "<a/>".encode("utf-32-be"), ("utf-32-be", 4)),
        ("<?xml?>".encode("utf-16-le"), ("utf-16-le", 0)),
        ("<rss>".encode("utf-16-be"), ("utf-16-be", 0)),
        ("<rss>".encode("utf-32-le"), ("utf-32-le", 0)),
        (b"<rss>", None),
        (b"", None),
    ],
)
def test_sniff_unicode_signature(body: bytes, expected: tuple[str, int] | None) -> None:
    assert sniff_unicode_signature(body) == expected


def test_bomless_utf16_xml_is_decoded() -> None:
    xml = '<?xml version="1.0" encoding="utf-16"?><rss><title>Ж 日本</title></rss>'
    assert decode_body(xml.encode("utf-16-le"), None, None) == xml
    assert decode_body(xml.encode("utf-16-be"), "iso-8859-1", "application/xml") == xml


# --------------------------------------------------------------------------- rule 3: UTF-8


def test_valid_utf8_beats_a_legacy_label() -> None:
    html = '<meta charset="windows-1251">' + page(FRENCH)
    # Both the stale in-document label and the header lose against valid UTF-8.
    assert decode_body(html.encode("utf-8"), "iso-8859-1", "text/html") == html
    assert decode_body(page(GERMAN).encode("utf-8"), "koi8-r", "text/html") == page(GERMAN)


def test_mostly_utf8_stays_utf8_with_or_without_label() -> None:
    text = "Zażółć gęślą jaźń. " * 5
    broken = text.encode("utf-8") + b"\xc3 end"  # truncated character
    for declared in (None, "utf-8", "iso-8859-2"):
        decoded = decode_body(broken, declared, "text/html")
        assert decoded.startswith(text) and decoded.count("\ufffd") == 1, declared
    # Legacy bytes give no valid multi-byte sequences: not "mostly UTF-8".
    assert decode_body(FRENCH.encode("cp1252"), "utf-8", "text/html") == FRENCH


# --------------------------------------------------------------------------- rules 4-5: labels


def test_labels_are_read_as_browsers_read_them() -> None:
    # GB2312 means GB18030: A1AA is an em dash there (Python's gb2312 says U+2015).
    assert decode_body(b"<p>\xa1\xaa</p>", "gb2312", "text/html") == "<p>\u2014</p>"
    # Shift_JIS means cp932 (NEC circled digits); x-sjis is a WHATWG label Python lacks.
    japanese = "<p>①②③ 東京</p>"
    for label in ("shift_jis", "x-sjis"):
        assert decode_body(japanese.encode("cp932"), label, "text/html") == japanese
    # EUC-KR means cp949 (two-byte UHC syllables), Big5 means Big5-HKSCS.
    korean = "<p>갂 한국어</p>"
    assert decode_body(korean.encode("cp949"), "euc-kr", "text/html") == korean
    hongkong = "<p>香港𠹺</p>"
    assert decode_body(hongkong.encode("big5hkscs"), "big5", "text/html") == hongkong
    # ISO-8859-9 means windows-1254 (euro sign at 0x80); TIS-620 / windows-874 mean cp874.
    turkish = "€ Türkçe ğış"
    assert decode_body(turkish.encode("cp1254"), "iso-8859-9", "text/plain") == turkish
    thai = "กรุงเทพ “ข่าว”"
    for label in ("tis-620", "windows-874"):
        assert decode_body(thai.encode("cp874"), label, "text/plain") == thai
    # Latin-1 means windows-1252, with ISO-8859-1 as a backup for cp1252's undefined bytes.
    assert decode_body(b"caf\xe9 \x93x\x94", "latin1", "text/plain") == "café “x”"
    assert decode_body(b"caf\xe9 \x81", "iso-8859-1", "text/plain") == "café \x81"


def test_unusable_labels_are_ignored() -> None:
    body = FRENCH.encode("cp1252")
    # No signature, so a UTF-16 label is a lie; utf-7 and non-text codecs are never used.
    for label in ("utf-16", "utf-16le", "utf-32", "utf-7", "zlib", "rot13", "no-such-thing"):
        assert decode_body(body, label, "text/plain") == FRENCH, label


def test_document_declaration_beats_header_and_is_only_read_in_markup() -> None:
    html = '<?xml version="1.0" encoding=" koi8-r "?><rss>' + RUSSIAN + "</rss>"
    assert decode_body(html.encode("koi8-r"), "windows-1251", "application/rss+xml") == html
    assert decode_body(html.encode("koi8-r"), "windows-1251", None) == html
    text = "<meta charset=koi8-r> " + RUSSIAN
    assert decode_body(text.encode("cp1251"), "windows-1251", "application/json") == text


def test_sniff_declared_charset_variants() -> None:
    assert sniff_declared_charset(b"<?xml version='1.0' encoding='Windows-1250'?>") == (
        "windows-1250"
    )
    assert sniff_declared_charset(b'  \n<?xml version="1.0" encoding=" utf-8 "?>') == "utf-8"
    assert sniff_declared_charset(b"<html><meta charset=gb2312>") == "gb2312"
    assert sniff_declared_charset(b'<?xml version="1.0"?><rss/>') is None


# --------------------------------------------------------------------------- rule 6: ASCII


def test_seven_bit_bodies() -> None:
    japanese = "日本語のテキストです。"
    body = japanese.encode("iso2022_jp")
    assert body.isascii()
    assert decode_body(body, "iso-2022-jp", "text/plain") == japanese
    assert decode_body(body, None, "text/plain") == japanese  # found by its escape sequences
    assert decode_body(b"\x1b[31mred\x1b[0m", None, None) == "\x1b[31mred\x1b[0m"
    assert decode_body(b"plain <b>ascii</b>", "utf-16", "text/html") == "plain <b>ascii</b>"


# --------------------------------------------------------------------------- rule 7: guessing


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        (RUSSIAN, "cp1251"),
        (RUSSIAN, "koi8_r"),
        (RUSSIAN, "cp866"),
        ("Η κυβέρνηση ανακοίνωσε την Τρίτη νέα μέτρα στήριξης για τους αγρότες.", "cp1253"),
        ("הממשלה הודיעה ביום שלישי על צעדי תמיכה חדשים לחקלאים שנפגעו מהבצורת.", "cp1255"),
        ("أعلنت الحكومة يوم الثلاثاء عن إجراءات دعم جديدة للمزارعين المتضررين.", "cp1256"),
        ("政府周二宣布了针对受干旱影响农民的新支持措施。部长表示，这笔钱将在本月内支付。",
         "gb18030"),
        ("政府週二宣布了針對受乾旱影響農民的新支持措施。部長表示，這筆錢將在本月內支付。",
         "big5"),
        ("政府は火曜日、干ばつの被害を受けた農家に対する新たな支援策を発表した。", "shift_jis"),
        ("政府は火曜日、干ばつの被害を受けた農家に対する新たな支援策を発表した。", "euc_jp"),
        ("정부는 화요일 가뭄 피해를 입은 농민들을 위한 새로운 지원 대책을 발표했다.", "euc_kr"),
    ],
)
def test_guess_non_latin_scripts(text: str, codec: str) -> None:
    assert decode_body(page(text).encode(codec), None, "text/html") == page(text)


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        # Latin text the detector likes to call cp1250/cp1257/mac_roman: windows-1252 instead.
        (FRENCH, "cp1252"),
        (FRENCH, "latin-1"),
        (GERMAN, "cp1252"),
        ("O governo anunciou na terça-feira novas medidas de apoio aos agricultores afetados "
         "pela seca. O ministro disse que o dinheiro será pago ainda este mês, no 2º turno.",
         "cp1252"),
        # A regional codepage only where the detected language is of that region.
        ("Rząd zapowiedział we wtorek nowe środki wsparcia dla rolników, którzy ucierpieli w "
         "wyniku suszy. Minister powiedział, że pieniądze trafią do gospodarstw jeszcze w tym "
         "miesiącu.", "cp1250"),
        ("Rząd zapowiedział we wtorek nowe środki wsparcia dla rolników, którzy ucierpieli w "
         "wyniku suszy. Minister powiedział, że pieniądze trafią do gospodarstw jeszcze w tym "
         "miesiącu.", "iso8859_2"),
        ("Vláda v úterý oznámila nová opatření na podporu zemědělců, kteří byli zasaženi "
         "suchem. Ministr řekl, že peníze dostanou ještě tento měsíc.", "cp1250"),
        ("Valdība otrdien paziņoja par jauniem atbalsta pasākumiem lauksaimniekiem, kuri "
         "cietuši no sausuma. Ministrs sacīja, ka nauda tiks izmaksāta vēl šomēnes.", "cp1257"),
        ("Hükümet salı günü kuraklıktan etkilenen çiftçiler için yeni destek önlemleri "
         "açıkladı. Bakan, paranın bu ay içinde ödeneceğini söyledi.", "cp1254"),
    ],
)
def test_guess_latin_scripts(text: str, codec: str) -> None:
    assert decode_body(page(text).encode(codec), None, "text/html") == page(text)


def test_guess_on_a_large_cjk_body_uses_a_clean_sample() -> None:
    # > 200 kB: the sample must not end inside a two-byte character.
    line = "<p>政府周二宣布了针对受干旱影响农民的新支持措施。</p>\n"
    html = line * (210_000 // len(line.encode("gb18030")) + 1) + "<p>结束" + "中" * 10
    assert decode_body(html.encode("gb18030"), None, "text/html") == html


def test_binary_junk_falls_back_to_replacement_characters() -> None:
    decoded = decode_body(b"\x00\x01\x02 binary junk \xff\xfe\x80\x81", None, None)
    assert decoded.startswith("\x00\x01\x02 binary junk ") and "\ufffd" in decoded


# --------------------------------------------------------------------------- real documents


def test_real_utf8_pages_with_stale_legacy_declarations() -> None:
    # <meta charset=iso-8859-2> on a UTF-8 page (the fetcher used to produce "bÄ\x99dzie").
    polish = data_bytes("htmldate-dates", "mediacloud-2020", "1511056469.html.gz")
    assert "Nowym prezesem będzie Paweł Jan Majewski" in decode_body(polish, None, "text/html")
    german = data_bytes("fundus-news", "de", "WinFuture_2024_04_29.html.gz")
    assert "jetzt für nur 5,99 Euro" in decode_body(german, "iso-8859-1", "text/html")


def test_real_utf8_page_with_one_truncated_character() -> None:
    # Labelled utf-8, one cut "…" in 100 kB. Feed autodiscovery used to read it as cp1252.
    body = data_bytes(
        "trafilatura-eval", "eval",
        "Sprzeciw wobec ataków na Fundację Lux Veritatis – RadioMaryja.pl.html.gz",
    )
    text = decode_body(body, None, "text/html")
    assert "Sprzeciw wobec ataków na Fundację Lux Veritatis" in text
    assert text.count("\ufffd") == 1


def test_real_undeclared_legacy_feeds() -> None:
    # UOL: ISO-8859-1 without any declaration (the fetcher's guesser used to say cp1257).
    uol = decode_body(data_bytes("feeds", "rss-parser", "input", "uolNoticias.rss"), None, None)
    assert "<description>Últimas Notícias</description>" in uol
    psy = data_bytes("feeds", "miniflux", "no_encoding_ISO-8859-1.xml")
    assert "nombre d'études" in decode_body(psy, None, "application/rss+xml")
    bash = data_bytes("feeds", "miniflux", "encoding_WINDOWS-1251.xml")
    bash = bash.replace(b'<?xml version="1.0" encoding="windows-1251"?>', b"", 1)
    assert "Цитата #17703" in decode_body(bash, None, None)


# --------------------------------------------------------------------------- feeds use it too


def test_feed_parser_and_autodiscovery_share_the_rules() -> None:
    html = (
        '<html><head><meta charset="iso-8859-1">'
        '<link rel="alternate" type="application/rss+xml" title="Zażółć – ąę" href="/rss">'
        "</head><body>" + "Gęślą jaźń. " * 10 + "</body></html>"
    )
    body = html.encode("utf-8") + b"\xe2\x80"  # truncated "…" at the end
    assert discover_feeds(body, "https://example.pl/")[0].title == "Zażółć – ąę"
    rss = (
        '<rss version="2.0"><channel><title>Ťažké správy</title><item><title>Ostrá súťaž</title>'
        "<link>https://example.sk/1</link></item></channel></rss>"
    )
    # UTF-8 feed behind a server-wide windows-1250 header; the same feed really in cp1250.
    feed = parse_feed(rss.encode("utf-8"), "https://example.sk/rss", charset="windows-1250")
    assert (feed.title, feed.entries[0].title) == ("Ťažké správy", "Ostrá súťaž")
    feed = parse_feed(rss.encode("cp1250"), "https://example.sk/rss", charset="windows-1250")
    assert (feed.title, feed.entries[0].title) == ("Ťažké správy", "Ostrá súťaž")
