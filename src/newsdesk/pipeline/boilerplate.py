"""Single-page boilerplate rules around trafilatura's body, on the rendered Markdown blocks:
blocks of links to other stories that a label announces ("Recommended for you", "Lesen Sie
auch"), photo captions, and byline and date lines at the top leave the text. What the page
shows before its body and trafilatura misses (the deck, story highlights) is ``lead``'s
business; recurring site blocks are ``sitetemplate``'s.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

from newsdesk.pipeline.htmldoc import linked_chars, squeezed
from newsdesk.pipeline.markdown import fold

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


def _teaser_items(items: list[HtmlElement]) -> bool:
    """Short blocks, most of them with a link: a list of teasers (the rest are a note, a
    caption, a source line)."""
    linked = count = 0
    for item in items:
        text = squeezed(item.text_content())
        if len(text) > _ITEM_CHARS:
            return False
        if text:
            count += 1
            if any(len(squeezed(a.text_content())) >= 3 for a in item.iter("a")):
                linked += 1
    return linked >= 2 and linked >= _TEASER_SHARE * count


def _elements(elem: HtmlElement) -> list[HtmlElement]:
    return [c for c in elem if isinstance(c.tag, str) and c.tag not in ("script", "style", "br")]


def _related_section(label: HtmlElement) -> list[HtmlElement]:
    """What a related-content label heads: its container when that holds the label and a list
    of teasers (or a single short line of links), else the link blocks right after it; [] when
    what follows is not links (a section of the article that happens to be called so)."""
    text = squeezed(label.text_content())
    for _ in range(_MAX_LABEL_DEPTH):  # the label's own wrappers
        parent = label.getparent()
        if parent is None or squeezed(parent.text_content()) != text:
            break
        label = parent
    parent = label.getparent()
    if parent is None or parent.tag in ("body", "html"):
        return []
    whole = squeezed(parent.text_content())
    rest = len(whole) - len(text)
    first = not (parent.text or "").strip() and next(
        (c for c in _elements(parent) if squeezed(c.text_content())), None) is label
    if first and len(whole) <= _MAX_RELATED_CHARS and rest > 0:
        # the label heads its container: the container is the section
        if len(whole) <= _TEASER_CHARS and not (label.tail or "").strip():
            linked = linked_chars(parent) - linked_chars(label)
            if linked >= _LINKED * rest:
                return [parent]
        items = [c for c in _elements(parent) if c is not label]
        if len(items) == 1 and len(squeezed(items[0].text_content())) >= 0.8 * rest:
            items = _elements(items[0])
        if _teaser_items(items):
            return [parent]
    if (label.tail or "").strip():
        return []
    run: list[HtmlElement] = []
    for sibling in label.itersiblings():
        if not isinstance(sibling.tag, str) or sibling.tag == "br":
            continue
        size = len(squeezed(sibling.text_content()))
        if not size:
            continue
        teasers = sibling.tag in ("ul", "ol") and _teaser_items(_elements(sibling))
        if not teasers and (size > _TEASER_CHARS or linked_chars(sibling) < _LINKED * size):
            break
        run.append(sibling)
        if (sibling.tail or "").strip():
            break
    return [label, *run] if run else []


def labels_and_captions(
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
        if elem.tag == "figcaption" or _CAPTION_CLASS.search(elem.get("class") or ""):
            captions.append(elem)
    return labels, captions


def related_sections(labels: list[tuple[HtmlElement, str]]) -> list[tuple[str, str]]:
    """Related-content blocks found by their label (see _RELATED_LABEL), as (label, whole
    text) comparison keys (fold)."""
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
            whole = len(squeezed(elem.text_content()))
            rest = whole - len(squeezed(label))
            teaser = rest > 0 and whole <= _TEASER_CHARS and linked_chars(elem) >= _LINKED * rest
            section = [elem] if teaser else []
        if section:
            taken.update(section)
            found.append((fold(label), fold(" ".join(e.text_content() for e in section))))
    return found


# Photo captions and credits: the text of a <figcaption> or of an element whose class says
# caption. trafilatura keeps them as paragraphs of the article; the gold texts mostly do not
# (big9: 19 of 20 captions in our text were not in its gold; fundus' figcaptions: 11 of 12).
# A paragraph of the text that is such a caption, whole, goes, unless the page also has it as
# a paragraph of its own (a lead repeated under the photo: the gold has it; without that check
# fundus lost 0.0003). bench/extraction.py, F1 without -> with: big9 0.9741 -> 0.9749,
# trafilatura-eval 0.9290 -> 0.9293, fundus unchanged (+0.00003), newspaper4k unchanged,
# Readability's 0.80973 -> 0.80967 (one blog's figure captions are in its gold).
# The class "cap" (BBC 2005-2009 layouts): big9 0.9749 -> 0.9758 (16 pages better, none worse),
# no other set changed.
_CAPTION_CHARS = (20, 400)
# "caption" in a class ("wp-caption-text", "photoCaption"), or the class "cap" (BBC's layouts)
_CAPTION_CLASS = re.compile(r"aption|(?:^|\s)cap(?:\s|$)")


def drop_captions(blocks: list[str], candidates: list[HtmlElement]) -> list[str]:
    """Remove the paragraphs that are one of the page's photo captions, whole. ``candidates``
    are the caption elements that labels_and_captions found."""
    if not candidates:
        return blocks
    captions: dict[str, HtmlElement] = {}
    for elem in candidates:
        text = " ".join(elem.text_content().split())
        if _CAPTION_CHARS[0] <= len(text) <= _CAPTION_CHARS[1] and (key := fold(text)):
            captions[key] = elem
    # a caption's first characters as rendered: folding every paragraph would cost more
    heads = {" ".join(e.text_content().split())[:8] for e in captions.values()}
    doomed = {
        key for block in blocks
        if _MD_MARKUP.sub("", block[:24])[:8] in heads and "\n" not in block and (key := fold(block)) in captions
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
            or fold(b) not in doomed]


_MD_MARKUP = re.compile(r"^[#>\s]+|[*\\]")


def drop_trailing_label(blocks: list[str]) -> list[str]:
    """Remove a related-content label that ends the text with nothing after it ("Read more
    from Example News:", its links were not taken as text)."""
    while blocks and "\n" not in blocks[-1] and _RELATED_LABEL.fullmatch(
        _MD_MARKUP.sub("", blocks[-1]).strip()
    ):
        blocks = blocks[:-1]
    return blocks


_LABEL_LINE_CHARS = 2 * _TEASER_CHARS  # a label's line: the label, or a teaser line in Markdown
_LIST_MARKER = re.compile(r"^\s*(?:\d{1,9}[.)]\s)?")


def drop_related(blocks: list[str], sections: list[tuple[str, str]]) -> list[str]:
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
                       else fold(_LIST_MARKER.sub("", line)))
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


# --------------------------------------------------------------------------- byline lines

# A byline among the text's first paragraphs ("By JANE DOE, Associated Press Writer Sun Sep 11,
# 7:40 PM ET", "Von Anna Muster, Frankfurt", "Liz Moyer, 03.12.09, 06:00 PM EDT"): the authors
# are metadata, and the gold texts leave the line out (big9 20 of 21 such lines, fundus 9 of
# 10, Readability's 3 of 4). A line goes when it is a byline cue and names only, maybe followed
# by an affiliation or a date; or when it starts with an author the metadata found and the rest
# is a date. A lead sentence ("By the time ...", "By John's account, ...") is neither.
# bench/extraction.py, F1 without -> with: big9 0.9758 -> 0.9764 (19 pages better, 1 worse: its
# gold keeps the byline), fundus 0.94906 -> 0.94909, Readability's 0.80967 -> 0.80964 (two of
# its golds keep one), trafilatura-eval's snippets and newspaper4k unchanged.
_BYLINE_BLOCKS = 4  # among the text's first blocks
_BYLINE_CHARS = 150
# (extract strips the same cues from the metadata's author names)
BYLINE_CUE = re.compile(
    r"^(?:(?:written|posted|reported|words|text|story|photos?) by|by|von|vom|par|por|door|"
    r"publicado por|veröffentlicht von|eine? (?:kolumne|kommentar|analyse|gastbeitrag) von|"
    r"autor(?:in|es)?|autori|auteur|author|text|texte)\s*:?\s+",
    re.IGNORECASE,
)
# the date or time before "by" ("12/29/2005 11:10:23 PM, by Hannibal")
_DATED_CUE = re.compile(r"^[\d/.:\- ]+(?:[AP]M)?\s*,?\s*by\s+", re.IGNORECASE)
_NAME_PARTICLES = frozenset(
    {"von", "van", "der", "den", "de", "da", "di", "del", "della", "du", "la", "le", "bin", "al",
     "el", "ter", "ten", "zu", "dos", "das"}
)
_NAME_JOINERS = frozenset({"and", "und", "&", "et", "y", "e", "og", "och", "i", "u"})
# capitalised words that start a phrase, not a name ("By The Numbers", "Von Der Leyen" aside)
_NOT_NAMES = frozenset(
    {"the", "a", "an", "this", "that", "these", "our", "his", "her", "their", "its", "my",
     "your", "der", "die", "das", "dem", "des", "ein", "eine", "le", "la", "les", "el", "los",
     "las", "il", "lo", "un", "una", "une", "all", "how", "what", "why", "when"}
)
_SEPARATORS = ",;|•/–—-:("


def _name_run(words: list[str]) -> int:
    """How many of ``words`` are names (capitalised words, initials, particles inside a name,
    joiners between names); 0 unless every name has two words."""
    n = 0
    name_words = 0
    while n < len(words):
        word = words[n].strip(",;:")
        if word.lower() in _NAME_JOINERS and name_words:
            if name_words < 2:
                return 0
            name_words = 0
        elif word.lower() in _NAME_PARTICLES and name_words:
            pass
        elif word[:1].isupper() and word.lower() not in _NOT_NAMES and not any(
                c.isdigit() for c in word):
            name_words += 1
        else:
            break
        n += 1
        if words[n - 1][-1:] in ",;:":
            break
    return n if name_words >= 2 else 0


def _byline(line: str, authors: tuple[str, ...]) -> str | None:
    """The names of a byline line ("" when they are the metadata's authors); None when the line
    is no byline."""
    if len(line) > _BYLINE_CHARS or "\n" in line:
        return None
    for author in authors:  # "Liz Moyer, 03.12.09, 06:00 PM EDT"
        if len(author) > 3 and line.startswith(author) and _dates_only(line[len(author):]):
            return ""
    cue = BYLINE_CUE.match(line) or _DATED_CUE.match(line)
    if not cue:
        return None
    rest = line[cue.end():]
    if any(rest.startswith(author) and (len(rest) == len(author) or not rest[len(author)].isalpha())
           for author in authors):
        return ""  # (a single-word pen name the metadata knows: "by Hannibal")
    words = rest.split()
    n = _name_run(words)
    if not n:
        return None
    after = " ".join(words[n:])
    # names alone, or names and what a byline adds after a separator or a comma
    if after and words[n - 1][-1:] not in ",;:" and after[0] not in _SEPARATORS and not (
            after[0].isdigit()):
        return None
    # "JANE DOE" as a name is written "Jane Doe"
    return " ".join(w.title() if w.isupper() and len(w) > 2 else w
                    for w in words[:n]).rstrip(",;:")


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# A date line ("23 February 2013 Last updated at 19:02 ET", "Aktualisiert am 3. März 2024,
# 14:05 Uhr"): dates, times and their labels only, with a day or a time in it (a year or a
# number alone is the article's). The date is metadata too. bench/extraction.py, F1 without ->
# with: big9 0.9784 -> 0.9787, trafilatura-eval 0.9306 -> 0.9307, fundus 0.94946 -> 0.94951,
# newspaper4k 0.91888 -> 0.91902, Readability's 0.80948 -> 0.80953; no page worse.

_MONTHS = _word_set("""
january february march april may june july august september october november december jan feb
mar apr jun jul aug sep sept oct nov dec januar februar märz mai juni juli oktober dezember
janvier février mars avril juin juillet août septembre octobre novembre décembre enero febrero
marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre""")
_DATE_WORDS = _MONTHS | _word_set("""
monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat
sun montag dienstag mittwoch donnerstag freitag samstag sonntag lundi mardi mercredi jeudi
vendredi samedi dimanche lunes martes miércoles jueves viernes sábado domingo
am pm a m p et gmt utc bst cet cest edt est pst pdt cst cdt mez mesz uhr h
page last updated update published posted modified created on at um le el de the of
aktualisiert veröffentlicht stand zuletzt mis à jour publié actualizado publicado""")
_DATE_TOKEN = re.compile(r"\w+")
_DATELINE_TOKENS = 16
_DATELINE_CHARS = 120
# a day or a time: "23.10.2018", "2023-11-03", "4/27/04", "13:48", or a month's name and a number
_DAY_OR_TIME = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{2,4}|\d{1,2}:\d{2}")


def _date_tokens(text: str) -> list[str] | None:
    """The words of ``text`` when all of them are numbers or date words, else None."""
    if len(text) > _DATELINE_CHARS:
        return None
    tokens = _DATE_TOKEN.findall(text.casefold())
    if 0 < len(tokens) <= _DATELINE_TOKENS and all(t.isdigit() or t in _DATE_WORDS for t in tokens):
        return tokens
    return None


def _dates_only(text: str) -> bool:
    """Dates and times alone, with a number ("03.12.09, 06:00 PM EDT" after a byline's name)."""
    tokens = _date_tokens(text)
    return tokens is not None and any(t.isdigit() for t in tokens)


def _is_dateline(line: str) -> bool:
    tokens = _date_tokens(line)
    if tokens is None:
        return False
    days = [t for t in tokens if t.isdigit() and len(t) <= 2]
    return bool(_DAY_OR_TIME.search(line) or (days and any(t in _MONTHS for t in tokens)))


def drop_bylines(blocks: list[str], authors: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Remove byline and date lines from the text's first blocks (see _byline); returns the
    blocks kept and the names the bylines gave (for pages whose metadata names no author)."""
    kept: list[str] = []
    names: list[str] = []
    for block in blocks[:_BYLINE_BLOCKS]:
        line = _MD_MARKUP.sub("", block).strip()
        if (found := _byline(line, authors)) is not None:
            if found:
                names.append(found)
        elif "\n" in line or not _is_dateline(line):
            kept.append(block)
    return kept + blocks[_BYLINE_BLOCKS:], names
