"""Site template learning: a site's recurring blocks leave, the article stays."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable

import pytest

from newsdesk.pipeline.extract import ExtractionError, extract
from newsdesk.pipeline.sitetemplate import (
    MAX_KEYS,
    WINDOW,
    SiteTemplate,
    WithoutThisPage,
    page_blocks,
)

DISCLAIMER = (
    "Denial of responsibility! Daily Bugle Online is an automatic aggregator of the all world's "
    "media. In each content, the hyperlink to the primary source is specified. All trademarks "
    "belong to their rightful owners, all materials to their authors."
)
AUTHORS = {
    "Mara Quill": "Mara Quill covers city hall and transport for the Bugle since 2019.",
    "Tom Fenwick": "Tom Fenwick writes about science, health and the rivers of the region.",
}
WORDS = ["council", "harbour", "budget", "ferry", "bridge", "teachers", "orchard", "festival", "tunnel", "rainfall", "archive", "stadium", "railway", "museum", "clinic", "library", "market", "tower", "garden", "canal", "factory", "vineyard"]



def _learnt_pages(pages: Iterable[str]) -> SiteTemplate:
    """A site template that learnt these pages, in order."""
    template = SiteTemplate()
    for html in pages:
        template.learn(page_blocks(html))
    return template

def _sentence(rng: random.Random, n: int = 18) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def _calendar(month: int) -> str:
    days = "".join(f"<td>{d}</td>" + ("</tr><tr>" if d % 7 == 0 else "") for d in range(1, 31))
    return f'<table class="cal"><caption>Month {month} 2026</caption><tr>{days}</tr></table>'


def site_page(i: int, *, quote: str | None = None, table: bool = False) -> str:
    rng = random.Random(i)
    author = list(AUTHORS)[i % 2]
    paras = [_sentence(rng) for _ in range(6)]
    if quote:
        paras.insert(2, quote)
    body = "".join(f"<p>{p}</p>" for p in paras[:3])
    body += '<div class="xv"><span>ADVERTISEMENT</span></div>'
    body += "".join(f"<p>{p}</p>" for p in paras[3:])
    if table:
        body += (
            "<table><tr><th>Factor</th><th>Impact</th></tr>"
            "<tr><td>Rainfall</td><td>High on the harbour</td></tr>"
            "<tr><td>Budget</td><td>Low for the tunnel</td></tr></table>"
        )
    return f"""<!doctype html><html lang="en"><head><title>Story {i} | Daily Bugle</title>
<meta property="og:site_name" content="Daily Bugle"></head><body>
<header><nav><a href="/">Home</a> <a href="/city">City</a> <a href="/science">Science</a></nav></header>
<main><article>
<h1>Story number {i} about the {rng.choice(WORDS)}</h1>
<div class="txt">{body}
<div class="kq"><p class="kr">{author}</p><p class="ks">{AUTHORS[author]}</p></div>
<p class="kt">{DISCLAIMER}</p>
<p class="ku"><a href="?p=1">1</a> <a href="?p=2">2</a> <a href="?p=3">3</a> Next page</p>
{_calendar(1 + i // 20)}
</div></article></main>
<footer><p>Copyright 2026 Daily Bugle. All rights reserved.</p></footer>
</body></html>"""


BOILERPLATE = ["ADVERTISEMENT", "Denial of responsibility", "Next page", "covers city hall",
               "writes about science", "Month 1 2026"]


def _learnt(pages: range) -> SiteTemplate:
    return _learnt_pages(site_page(i) for i in pages)


def test_seed_case_pages_of_one_site_come_out_clean() -> None:
    template = _learnt(range(6))
    html = site_page(100, table=True)
    single = extract(html).text
    learnt = extract(html, site=template)

    # the single-page extractor leaks the site's blocks (else this test could not fail)
    assert [b for b in BOILERPLATE if b in single]
    assert [b for b in BOILERPLATE if b in learnt.text] == []
    rng = random.Random(100)
    for para in [_sentence(rng) for _ in range(6)]:
        assert para in learnt.text
    # the article's table stays a Markdown table
    assert "| Factor | Impact |" in learnt.text
    assert "| Rainfall | High on the harbour |" in learnt.text
    assert learnt.blocks is not None and len(learnt.blocks) > 0


def _old_layout_cell(before: str, after: str) -> Callable[[int], str]:
    """2005-style page: the article's <br>-separated paragraphs and the site's lines share one
    table cell."""
    def page(i: int) -> str:
        rng = random.Random(i)
        paras = "<br><br>".join(_sentence(rng) for _ in range(5))
        return (f"<html><body><table><tr><td>{before.format(i=i)}{paras}<br><br>{after}"
                f"</td></tr></table></body></html>")
    return page


@pytest.mark.parametrize(("before", "after", "site_lines"), [
    # the cell holds a block (the headline) besides its runs
    ("Subscriptions &gt; <a href='/s'>Free Trial</a><br><h1>Story {i}</h1>",
     "<a href='/n'>News Headlines</a> | <a href='/m'>More From The Bugle</a> | "
     "<a href='/r'>Special Reports</a><br>", ["Subscriptions", "More From The Bugle"]),
    # the cell holds no block at all: its <br>/<hr>-separated lines are the blocks
    ("Book Review<br><b><a href='/b'>A Basketball Miracle</a></b><hr>Story {i} by our staff"
     "<br><br>", "<a href='/n'>News Headlines</a> | <a href='/m'>More From The Bugle</a>",
     ["Basketball Miracle", "More From The Bugle"]),
])
def test_recurring_lines_in_an_old_layout_cell_go(before: str, after: str,
                                                  site_lines: list[str]) -> None:
    page = _old_layout_cell(before, after)
    template = _learnt_pages(page(i) for i in range(6))
    single = extract(page(50)).text
    text = extract(page(50), site=template).text
    assert all(line in single for line in site_lines)
    assert not [line for line in site_lines if line in text]
    rng = random.Random(50)
    assert all(_sentence(rng) in text for _ in range(5))


def test_recurring_links_in_the_article_cell_go_even_where_the_cell_holds_much_text() -> None:
    # forbes.com 2005: "Also in Lifestyle" teaser links between <hr>s in the article's own cell;
    # the cell holds hundreds of article runs, so the share rule for short text keeps them
    teasers = ["Great Automotive Comebacks", "Lexus Readies Another Hybrid", "Affordable Luxuries"]

    def page(i: int, links: list[str]) -> str:
        rng = random.Random(i)
        paras = "<br><br>".join(_sentence(rng, 8) for _ in range(80))
        items = "".join(f"<hr><a href='/{n}'>{t}</a>" for n, t in enumerate(links))
        return (f"<html><body><table><tr><td><h1>Story {i}</h1>{paras}<br>"
                f"<span>Also in</span>{items}</td></tr></table></body></html>")

    template = SiteTemplate()
    for i in range(20):
        # on 4 of 20 pages (not on half of them, the rule for a long text among paragraphs);
        # the last teaser on one page only: not yet the site's
        links = teasers if i < 1 else teasers[:2] if i < 4 else [f"Other story {i}"]
        template.learn(page_blocks(page(i, links)))
    html = page(50, teasers)
    single = extract(html).text
    text = extract(html, site=template).text
    assert "Lexus Readies Another Hybrid" in single
    assert "Great Automotive Comebacks" not in text and "Lexus Readies" not in text
    assert "Affordable Luxuries" in text
    rng = random.Random(50)
    assert all(_sentence(rng, 8) in text for _ in range(80))
    assert extract(html, site=template.compiled()).text == text


def test_a_quote_in_two_articles_is_not_boilerplate() -> None:
    quote = ("The mayor said the ferry would run every hour again from the spring on, whatever "
             "the budget.")
    template = _learnt_pages(site_page(i, quote=quote if i in (3, 5) else None) for i in range(8))
    assert quote in extract(site_page(200, quote=quote), site=template).text


def test_a_recurring_long_paragraph_in_few_pages_stays() -> None:
    # Three of thirty articles carry the same long background paragraph at the same place:
    # recurring text, but long and on few pages: it belongs to those articles.
    background = " ".join(["The tunnel project was approved in 2019 after a decade of debate"] * 2)
    template = _learnt_pages(site_page(i, quote=background if i in (2, 9, 17) else None) for i in range(30))
    assert "approved in 2019" in extract(site_page(300, quote=background), site=template).text


def test_a_stock_sentence_among_the_paragraphs_stays() -> None:
    # Short and on many pages, but one of many paragraphs where it sits: article text.
    stock = "The company did not respond to a request for comment."
    template = _learnt_pages(site_page(i, quote=stock if i % 10 == 0 else None) for i in range(60))
    assert stock in extract(site_page(600, quote=stock), site=template).text


def test_the_same_article_at_several_urls_is_not_learnt_as_template() -> None:
    # print/AMP versions, or one article linked from several feeds: copies, not new pages
    template = SiteTemplate()
    learnt = [template.learn(page_blocks(site_page(7).replace("Story 7", f"Story 7 v{n}")))
              for n in range(5)]
    assert learnt == [True, False, False, False, False]
    copy = page_blocks(site_page(7))
    text = extract(site_page(7), site=template.without(copy)).text
    rng = random.Random(7)
    assert all(_sentence(rng) in text for _ in range(6))


def test_a_page_never_loses_all_its_long_text() -> None:
    # Even a template that has met this very article (a copy learnt before the copy check
    # could know it) does not strip the article's paragraphs: only its short blocks go.
    template = _learnt(range(100, 105))
    article = page_blocks(site_page(7))
    for _ in range(4):  # force-learn the same article as if it were other pages
        template._learnt.clear()
        template._keys.update({k: [template.count(k) + 1, p, template.pages]
                               for k, p in zip(article.keys, article.paths, strict=True)})
        template._totals = None
    text = extract(site_page(7), site=template).text
    rng = random.Random(7)
    assert all(_sentence(rng) in text for _ in range(6))
    assert "ADVERTISEMENT" not in text


def test_a_new_author_box_in_a_learnt_slot_goes_too() -> None:
    template = _learnt(range(10))
    html = site_page(11).replace("Tom Fenwick", "Ines Varga").replace(
        AUTHORS["Tom Fenwick"], "Ines Varga reports on courts and the police of the valley."
    )
    assert "Ines Varga reports" not in extract(html, site=template).text


def test_nothing_is_removed_before_two_pages() -> None:
    template = _learnt(range(1))
    assert "Denial of responsibility" in extract(site_page(50), site=template).text


def test_leave_one_out_equals_learning_the_others() -> None:
    blocks = [page_blocks(site_page(i)) for i in range(7)]
    everything = SiteTemplate()
    for b in blocks:
        everything.learn(b)
    others = SiteTemplate()
    for b in blocks[:3] + blocks[4:]:
        others.learn(b)
    html = site_page(3)
    assert extract(html, site=everything.without(blocks[3])).text == extract(html, site=others).text
    # the same, with the page's own blocks found while extracting it
    assert extract(html, site=WithoutThisPage(everything)).text == extract(html, site=others).text


def test_template_survives_a_redesign() -> None:
    template = _learnt(range(WINDOW + 10))
    # new design: other class names, a new disclaimer wording
    def redesigned(i: int) -> str:
        return (site_page(i).replace('"kt"', '"legal"').replace('"xv"', '"promo"')
                .replace("Denial of responsibility!", "Notice:"))
    for i in range(1000, 1004):
        template.learn(page_blocks(redesigned(i)))
    text = extract(redesigned(2000), site=template).text
    assert "Notice:" not in text and "ADVERTISEMENT" not in text
    # after a window of new pages, the old design's keys are forgotten
    for i in range(3000, 3000 + WINDOW + 60):
        template.learn(page_blocks(redesigned(i)))
    assert len(template) <= MAX_KEYS
    assert "Denial of responsibility" in extract(site_page(5000), site=template).text


def test_model_is_bounded_and_round_trips() -> None:
    template = _learnt(range(400))
    assert len(template) <= MAX_KEYS
    data = template.to_bytes()
    assert len(data) < 200_000
    again = SiteTemplate.from_bytes(data)
    assert again.pages == template.pages and len(again) == len(template)
    html = site_page(999)
    assert extract(html, site=again).text == extract(html, site=template).text
    # unreadable bytes give an empty template, not a crash
    assert SiteTemplate.from_bytes(b"garbage").pages == 0
    assert SiteTemplate.from_bytes(data[:20]).pages == 0


def test_compiled_template_gives_the_same_verdicts() -> None:
    template = _learnt(range(12))
    compiled = template.compiled()
    for i in (40, 41, 77):
        html = site_page(i)
        assert extract(html, site=compiled).text == extract(html, site=template).text
    # small enough to ship to an extraction process with every page
    assert len(compiled.short) + len(compiled.slots) < 200


@pytest.mark.parametrize("bad", [b"", b"\x89PNG\r\n\x1a\n....", b"\x00\x00\x00\x01binary"])
def test_bad_input_is_a_clear_error(bad: bytes) -> None:
    with pytest.raises(ExtractionError):
        page_blocks(bad)


def test_broken_markup_fingerprints() -> None:
    blocks = page_blocks(b"<div><p>unclosed <b>bold <div>nested</p></td></table>")
    assert len(blocks) >= 1


def _with(i: int, before: str = "", after: str = "") -> str:
    """site_page ``i`` with markup at the start and at the end of the article's text."""
    return site_page(i).replace('<div class="txt">', f'<div class="txt">{before}').replace(
        '<div class="kq">', f'{after}<div class="kq">')


def _story_title(i: int) -> str:
    rng = random.Random(1000 + i)
    return " ".join(rng.choice(WORDS) for _ in range(6)).capitalize()


def test_a_recurring_label_of_changing_links_goes() -> None:
    # "Our pick: <a>another story</a>" after the text: the story changes on every page, the
    # label recurs (a label the single-page extraction does not know, unlike "Read more:")
    def page(i: int) -> str:
        return _with(i, after=f'<p>Our pick: <a href="/s/{i}">{_story_title(i)}</a></p>')

    template = _learnt_pages(page(i) for i in range(6))
    html = page(60)
    assert _story_title(60) in extract(html).text
    text = extract(html, site=template).text
    assert "Our pick" not in text and _story_title(60) not in text
    assert extract(html, site=template.compiled()).text == text
    # a paragraph with a link in it is not a link block: it stays
    linked = _with(61, after='<p>Our reporter asked the <a href="/c">council</a> about the '
                   "harbour budget, the ferry timetable and the new tunnel for weeks.</p>")
    assert "about the harbour budget" in extract(linked, site=template).text


def test_a_date_line_with_changing_day_and_month_names_goes() -> None:
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    months = ["March", "April", "May", "June", "July"]

    def page(i: int) -> str:
        line = f"Last updated: {days[i % 7]}, {1 + i} {months[i % 5]} 2026, 1{i % 10}:0{i % 6} GMT"
        # after the text: at the top, the single-page rules take a date line already
        return _with(i, after=f"<p>{line}</p>")

    template = _learnt_pages(page(i) for i in range(6))
    html = page(13)
    assert "Last updated" in extract(html).text
    assert "Last updated" not in extract(html, site=template).text


def test_a_recurring_label_takes_the_links_after_it_in_a_shared_cell() -> None:
    # an old layout cell holds the article's lines and, on some pages, "Also in Travel"
    # followed by links to other stories: the label recurs, the links do not
    def page(i: int, label: bool) -> str:
        rng = random.Random(i)
        paras = "<br><br>".join(_sentence(rng, 8) for _ in range(80))
        also = (f"<span>Also in Travel</span><hr><a href='/t/{i}'>{_story_title(i)}</a>"
                f"<hr><a href='/u/{i}'>{_story_title(i + 500)}</a>" if label else "")
        return (f"<html><body><table><tr><td><h1>Story {i}</h1>{paras}<br>{also}"
                "</td></tr></table></body></html>")

    template = _learnt_pages(page(i, i < 4) for i in range(20))  # on 4 of 20 pages: not on half of them
    html = page(50, True)
    assert _story_title(50) in extract(html).text
    text = extract(html, site=template).text
    assert "Also in Travel" not in text
    assert _story_title(50) not in text and _story_title(550) not in text
    rng = random.Random(50)
    assert all(_sentence(rng, 8) in text for _ in range(80))


COPYRIGHT = ("Copyright 2026 Valley Wire Service. All rights reserved. This material may not be "
             "published, broadcast or rewritten.")


def test_a_recurring_long_line_that_closes_the_text_goes() -> None:
    # a wire service's notice after the paragraphs of its stories (3 of 20 pages): too few
    # pages for a long text among the paragraphs, but it closes the article's place
    template = _learnt_pages(_with(i, after=f"<p>{COPYRIGHT}</p>" if i % 7 == 0 else "") for i in range(20))
    html = _with(30, after=f"<p>{COPYRIGHT}</p>")
    assert "Valley Wire" in extract(html).text
    text = extract(html, site=template).text
    assert "Valley Wire" not in text
    rng = random.Random(30)
    assert all(_sentence(rng) in text for _ in range(6))


def test_a_recurring_long_promo_among_the_sites_promos_goes() -> None:
    # a box of the site's promos in the article's place: its short lines recur on every
    # page, its long teaser changes, one teaser runs on 3 of 20 pages
    promo = ("Featuring hand-picked harbour cruises and orchard weekends from our partners, "
             "for readers who want the very best of the valley for less.")

    def page(i: int, teaser: str) -> str:
        return _with(i, after=f'<div class="box"><p>Presented by Acme Travel</p>'
                     f"<p>{teaser}</p><p>Deals of the week</p></div>")

    template = SiteTemplate()
    for i in range(20):
        teaser = promo if i in (3, 8, 15) else f"Story {i}: {_sentence(random.Random(i), 16)}"
        template.learn(page_blocks(page(i, teaser)))
    html = page(40, promo)
    assert "hand-picked harbour cruises" in extract(html).text
    assert "hand-picked harbour cruises" not in extract(html, site=template).text


def test_a_bare_link_among_the_paragraphs_goes_but_not_from_a_list_of_links() -> None:
    # "<a>Read more: another story</a>" as a paragraph of its own among the article's
    # paragraphs is a teaser. The links of a list of related stories recur as bare links
    # too, but taken alone they would leave the list's dates behind as text: they stay.
    def page(i: int) -> str:
        teaser = f'<p><a href="/s/{i}">Read more: {_story_title(i)}</a></p>'
        related = "".join(
            f'<p><a href="/r/{i}/{n}">{_story_title(i * 10 + n)}</a></p>'
            f"<p>{n + 1} Mar 26 | {WORDS[(i * 3 + n) % len(WORDS)].capitalize()} desk</p>"
            for n in range(3))
        html = site_page(i).replace("<p>", teaser + "<p>", 3).replace(teaser, "", 2)
        return html.replace('<div class="kq">', f'<div class="rel">{related}</div><div class="kq">')

    template = _learnt_pages(page(i) for i in range(6))
    html = page(60)
    assert _story_title(60) in extract(html).text
    text = extract(html, site=template).text
    assert _story_title(60) not in text
    assert "1 Mar 26" in text and _story_title(600) in text


def _stable(data: str) -> int:
    return int.from_bytes(hashlib.blake2b(data.encode(), digest_size=8).digest(), "little") >> 1


def test_fingerprint_keys_stay_as_saved_templates_know_them() -> None:
    # Saved templates hold these keys: the fingerprint's paths, texts and hash must not drift
    # (the walk was rewritten for speed). Edge cases: a block inside a link, blocks inside a
    # skipped element, a comment, a class with a "/" (w-1/2), runs between blocks and <br>s,
    # a path deeper than _PATH_DEPTH.
    deep = "".join(f'<div class="l{i}">' for i in range(12)) + "<p>Deep text</p>" + "</div>" * 12
    page = ('<html><body><div id="page-12" class="wrap main w-1/2">'
            '<a href="/x"><div class="card">Card in a link</div></a>'
            "<noscript><div><p>Hidden</p></div></noscript>"
            "<p>Before <!-- note --> after</p>"
            '<ul><li><a href="/a">Home</a></li><li>Read more: <a href="/s">the story</a></li></ul>'
            "Loose text<div>Inner</div>tail text<br>second line"
            "</div>" + deep + "<td>Cell<br>two</td></body></html>")
    top = "div#page-0.main.w-0/0.wrap"
    label = 0x5A5A5A5A5A5A5A5A
    expected = [  # (path, text, label key's text or None) in document order of block ends
        (f"{top}/div.card", "Card in a link", None),
        (f"{top}/p", "Before after", None),
        (f"{top}/ul/li", "Home", ""),  # a bare link: negative label key
        (f"{top}/ul/li", "Read more: the story", None),
        (f"{top}/div", "Inner", None),
        (f"{top}/~", "Card in a link", ""),
        (f"{top}/~", "Loose text", None),
        (f"{top}/~", "tail text", None),
        (f"{top}/~", "second line", None),
        ("div.l0/" * 9 + "p", "Deep text", None),
        ("td/~", "Cell", None),
        ("td/~", "two", None),
    ]
    keys: list[int] = []
    paths: list[int] = []
    for path, text, link_label in expected:
        keys.append(_stable(f"{path}\x00{text}"))
        paths.append(_stable(path))
        if link_label is not None:
            keys.append(-_stable(f"{path}\x01{link_label}"))
            paths.append(_stable(path) ^ label)
    blocks = page_blocks(page)
    assert blocks.keys == tuple(keys)
    assert blocks.paths == tuple(paths)
