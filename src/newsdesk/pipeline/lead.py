"""What a page shows before its article body and trafilatura misses, put back in front of the
text: the deck (standfirst) under the headline, a lead paragraph in loose text, and story
highlights. Each is taken only when the text lacks it.
"""

from __future__ import annotations

import re

from lxml.etree import XPath
from lxml.html import HtmlElement

from newsdesk.pipeline.htmldoc import linked_chars, squeezed
from newsdesk.pipeline.markdown import NOT_ALNUM, escape_line_start, fold, inline_text

_HIGHLIGHTS_LABEL_CHARS = 60  # a label as an item's own text is short


def _written(text: str) -> str:
    """A comparison key for "is it in the text already": letters and digits, case folded (no
    accents folded: fold's decomposition of a whole text costs more than the rest here)."""
    return NOT_ALNUM.sub("", text).casefold()


def _in_text(snippet: str, text: str) -> bool:
    """The start of ``snippet`` (60 letters and digits) is in ``text``, written otherwise."""
    return _written(snippet)[:60] in _written(text)

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
_LOOSE_LEAD_CHARS = 1500  # a lead paragraph in loose text, found by the description it starts
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
    """``found`` (a fold) is the description ``key``, maybe with a dateline before it ("SAN
    FRANCISCO - ...") or the rest of a description cut short after it."""
    pos = found.find(key)
    return 0 <= pos <= _DATELINE_CHARS and len(found) <= 1.5 * len(key) + pos


def _headline(elem: HtmlElement, title_key: str) -> bool:
    heading = fold(elem.text_content())
    return bool(heading) and (
        heading == title_key
        or (len(heading) >= 15 and (title_key.startswith(heading) or heading.startswith(title_key)))
    )


def visible_deck(tree: HtmlElement, description: str | None, title: str | None, text: str,
          source: str = "") -> str | None:
    """The page's visible deck, as text, when it is the page's description and not yet in
    the text; else None. It must be where a deck is: after the headline (a heading that is the
    title), or right after a heading of its own when no heading is the page's title; and the
    text must be long beside it (see _DECK_MIN_TEXT)."""
    if not description or len(description) > _DECK_MAX_CHARS or len(text) < _DECK_MIN_TEXT:
        return None
    description = " ".join(description.split())
    if len(description.split()) < _DECK_MIN_WORDS or description[:40] in text:
        return None  # (the text has it: mostly the lead paragraph)
    key = fold(_ELLIPSIS.sub("", description))
    title_key = fold(title or "")
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
    if deck is None or len(text) < _DECK_SHARE * len(deck):
        return None
    # in the text already, written otherwise
    return None if _in_text(_ELLIPSIS.sub("", description), text) else deck


def _find_deck(tree: HtmlElement, description: str, key: str, title_key: str) -> str | None:
    """The deck's text: see deck."""
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
            if (headed and _deck_match(fold(found), key)
                    and not any(a.tag in _DECK_SKIP_ANCESTORS for a in elem.iterancestors())):
                return escape_line_start(inline_text(found))
        tail = elem.tail
        if tail and after >= 0 and needle in tail.lstrip()[: _DATELINE_CHARS + 12]:
            # loose text after an element: a lead paragraph trafilatura does not see
            found = " ".join(tail.split())
            # (a description is often the lead cut short: the lead may be longer than it)
            if (_deck_match(fold(found[: len(description) + _DATELINE_CHARS]), key)
                    and len(found) <= _LOOSE_LEAD_CHARS
                    and not any(a.tag in _DECK_SKIP_ANCESTORS for a in elem.iterancestors())):
                return escape_line_start(inline_text(found))
            if lead := _interrupted_lead(found, description, key):
                return escape_line_start(inline_text(lead))
    return None


_SENTENCE_END = re.compile(r"[.!?][\"'”’»]?$")


def _interrupted_lead(found: str, description: str, key: str) -> str | None:
    """Loose lead text that an inline element (a search form, an ad) cuts short, when the
    description is that whole lead (it ends a sentence): the dateline and the description."""
    at = found.find(description[:12])
    start = fold(found[at:]) if at >= 0 else ""
    if (0 <= at <= _DATELINE_CHARS and len(start) >= 0.6 * len(key) and key.startswith(start)
            and _SENTENCE_END.search(description)):
        return found[:at] + description
    return None


# A deck the page does not give as its description (no <meta name="description">, or another
# text there): an element between the headline and the body's first paragraph whose class says
# deck. bench/extraction.py, F1 without -> with (and the visible headline as the title, which
# it needs on big9's Ars Technica pages): big9 0.9777 -> 0.9782, trafilatura-eval 0.9293 ->
# 0.9302, fundus 0.9491 -> 0.9495, newspaper4k 0.91894 -> 0.91888, Readability's 0.8096 ->
# 0.8095 (two of its golds leave the deck out).
_DECK_CLASS = re.compile(
    r"(?:^|[\s_-])(?:teaser|dek|deck|standfirst|subhead(?:line)?|sub-?title|summary|intro|"
    r"lede|excerpt|abstract|strapline|description)(?:$|[\s_-])",
    re.IGNORECASE,
)
# a photo's or a video's description ("image-description", "caption__summary") is no deck
_MEDIA_CLASS = re.compile(
    r"aption|image|photo|img|media|credit|video|gallery|slide|carousel", re.IGNORECASE)
_SLIDES_CLASS = re.compile(r"gallery|slide|carousel", re.IGNORECASE)
_MEDIA_ANCESTORS = 4  # a deck in a slideshow's item is that slide's caption
_CLASSED_DECK_WINDOW = 24  # elements after the headline (links and images too)
_BODY_PARAGRAPH_CHARS = 80


# the elements after the headline, in document order, found by lxml in C
_FOLLOWING = XPath(f"following::*[position() <= {_CLASSED_DECK_WINDOW}]")


def classed_deck(tree: HtmlElement, title: str | None, text: str) -> str | None:
    """The deck under the headline by its class, when the text lacks it; else None."""
    title_key = fold(title or "")
    if not title_key or len(text) < _DECK_MIN_TEXT:
        return None
    headline = next((h for h in tree.iter("h1") if _headline(h, title_key)), None)
    if headline is None:
        headline = next((h for h in tree.iter("h2") if _headline(h, title_key)), None)
    if headline is None:
        return None
    for elem in _FOLLOWING(headline):
        classes = elem.get("class") or ""
        if not _DECK_CLASS.search(classes) or _MEDIA_CLASS.search(classes):
            if elem.tag == "p" and len(elem.text_content()) >= _BODY_PARAGRAPH_CHARS:
                return None  # the body has begun: a deck comes before it
            continue
        if elem.tag not in _DECK_TAGS:
            continue
        found = " ".join(elem.text_content().split())
        ancestors = list(elem.iterancestors())
        if (len(found.split()) < _DECK_MIN_WORDS or len(found) > _DECK_MAX_CHARS
                or len(text) < _DECK_SHARE * len(found)
                or any(a.tag in _DECK_SKIP_ANCESTORS for a in ancestors)
                or any(_SLIDES_CLASS.search(a.get("class") or "")
                       for a in ancestors[:_MEDIA_ANCESTORS])):
            return None
        return None if _in_text(found, text) else escape_line_start(inline_text(found))
    return None


# --------------------------------------------------------------------------- story highlights

# Story highlights (key points, "Das Wichtigste in Kürze"): a short list of summary sentences
# the page shows by the headline, outside the article's container where trafilatura looks. The
# list is known by its class ("cnnStryHghLght", "storyhighlights", "key-points") or by a label
# before it or as its first item; its items are sentences, not links. It goes in front of the
# text when the text lacks it. bench/extraction.py, F1 without -> with: big9 0.9764 -> 0.9788
# (CNN's pages of 2009 and 2013: 19 better, none worse), newspaper4k 0.91903 -> 0.91894 (its
# gold leaves one CNN page's highlights out), the other sets unchanged.
_HIGHLIGHTS_CLASS = re.compile(
    r"highlight|hilite|hghlght|key-?points|keypoints|takeaways|tldr", re.IGNORECASE)
_HIGHLIGHTS_LABEL = re.compile(
    r"(?:story |key )?highlights|key (?:points|facts|takeaways)|(?:the )?takeaways|in brief|"
    r"at a glance|das wichtigste(?: in kürze)?|auf einen blick|l'essentiel|en bref|"
    r"lo más importante|en resumen|in sintesi|главное|коротко",
    re.IGNORECASE,
)
_HIGHLIGHT_CHARS = (20, 300)  # an item: a sentence
_HIGHLIGHT_ITEMS = (2, 8)
_HIGHLIGHT_LINKED = 0.5  # an item with more of its text in links is a teaser
_HIGHLIGHTS_SKIP_ANCESTORS = frozenset({"nav", "footer", "form", "a", "button", "template"})


_LABEL_CHILDREN = 3  # a label element is small: a list's neighbour with more is no label
_BODY_STARTED_CHARS = 200  # a paragraph's own text this long: the article's body has begun


def _label_before(lst: HtmlElement) -> bool:
    node: HtmlElement | None = lst
    for _ in range(2):  # the list's previous sibling, or its parent's
        if node is None:
            return False
        previous = node.getprevious()
        while previous is not None and not isinstance(previous.tag, str):
            previous = previous.getprevious()
        if previous is not None:
            return len(previous) <= _LABEL_CHILDREN and bool(
                _HIGHLIGHTS_LABEL.fullmatch(" ".join(previous.text_content().split())))
        node = node.getparent()
    return False


def story_highlights(tree: HtmlElement) -> list[str]:
    """The page's story highlights (see with_highlights). Found before the site's template is
    stripped: their label recurs on every page of a site, and a template may take the list.
    They come before the article's paragraphs: a list after a long paragraph ("In brief" in a
    sidebar: other stories) is not looked at."""
    for lst in tree.iter("ul", "ol", "p"):
        if lst.tag == "p":
            if len(lst.text or "") >= _BODY_STARTED_CHARS:
                return []
            continue
        first = lst.find("li")
        if first is None:
            continue
        # cheap tests first: most lists of a page are menus (the label is the first item's own
        # text: "<li class=hd>Story Highlights</li>")
        head = first.text
        labelled = bool(head) and len(head) < _HIGHLIGHTS_LABEL_CHARS and bool(
            _HIGHLIGHTS_LABEL.fullmatch(head.strip()))
        if not labelled and not (
            _HIGHLIGHTS_CLASS.search(f"{lst.get('class', '')} {lst.get('id', '')}")
            or _label_before(lst)
        ):
            continue
        items = [li for li in lst if li.tag == "li"][1 if labelled else 0:]
        if len(items) > _HIGHLIGHT_ITEMS[1] + 1:  # (+1: a closing link) a long list: no summary
            continue
        texts = [" ".join(li.text_content().split()) for li in items]
        if items and items[-1].find(".//a") is not None and (
                linked_chars(items[-1]) > _HIGHLIGHT_LINKED * len(squeezed(texts[-1]))):
            items, texts = items[:-1], texts[:-1]  # a link that closes the list ("Next article")
        if not (_HIGHLIGHT_ITEMS[0] <= len(texts) <= _HIGHLIGHT_ITEMS[1]) or any(
            not _HIGHLIGHT_CHARS[0] <= len(t) <= _HIGHLIGHT_CHARS[1]
            or linked_chars(li) > _HIGHLIGHT_LINKED * len(squeezed(t))
            for li, t in zip(items, texts, strict=True)
        ):
            continue
        if any(a.tag in _HIGHLIGHTS_SKIP_ANCESTORS for a in lst.iterancestors()):
            continue
        return texts
    return []


def with_highlights(text: str, highlights: list[str]) -> str:
    """The story highlights as a Markdown list in front of the text, unless it has them."""
    if not text or not highlights:
        return text
    written = _written(text)
    if any(_written(t)[:60] in written for t in highlights):
        return text
    points = "\n".join("- " + inline_text(t) for t in highlights)
    return f"{points}\n\n{text}"
