"""Site template learning: what recurs across a site's pages is not article text.

A single-page extractor cannot tell an ad marker, a syndication disclaimer, an author box, a
calendar or a pagination row from the article: each looks like a short paragraph. Across many
pages of one site they give themselves away by recurring. A page is fingerprinted as its *leaf
blocks* (block elements with no block inside, and the inline runs between the blocks, <br>s
and <hr>s of an element): each block's key is its DOM path (tags, ids and classes of its block
ancestors, digits folded) together with its whitespace- and digit-folded text.
A :class:`SiteTemplate` counts on how many of the site's pages each key occurs, and removes from
a new page the blocks that are the site's template:

- the same text at the same place (same DOM path) on at least ``MIN_PAGES`` other pages; long
  text (more than ``SHORT_WORDS`` words) must also be a quarter of what that place holds across
  the site or be on half its recent pages: a sentence quoted in a few articles is not
  boilerplate, a disclaimer under every page is;
- any text in a *template slot*: a DOM path seen on many pages whose content there mostly
  recurs (an author box, a calendar of this month): a new author's box or next month's calendar
  goes too, while the article body's path, whose paragraphs are unique, never qualifies;
- a section whose recurring label (a short heading) leaves it mostly links ("Recommended for
  you", "From other news sites": the items change, the label gives the section away);
- a block of mostly links that recurs at the same place on ``MIN_PAGES`` other pages, whatever
  that place holds besides: an old table layout keeps its "Also in Lifestyle" links in the
  article's own cell, where the share rules would keep them. Article paragraphs are seldom
  mostly links, and the same one on other pages at the same place is boilerplate;
- a block of mostly links whose own words recur at its place ("Read more: <a>another
  story</a>": the story changes, "Read more:" does not), a bare link among the article's
  paragraphs where other pages have bare links too, and the links right after a recurring
  label at its place ("Also in Lifestyle" in an old layout's article cell);
- long text that recurs at a place mostly holding recurring text (a promo among the site's
  promos), or that recurs and closes its place (a wire copyright line after the paragraphs).

Short text with numbers is keyed with the words next to its numbers folded too, so a date line
("Last updated: Tuesday, 20 September 2005") recurs whatever the day and month.

A page whose long text is mostly known already is a copy of a learnt article (AMP, print, a
second feed's link), not a new page of the site: it is not learnt. A page never loses all its
long text.

Text alone never decides: the same sentence in the article body of one page and in a sidebar of
others has two different keys. The model is bounded (``MAX_KEYS`` keys, least useful dropped
first) and ages: keys not seen for ``WINDOW`` pages are forgotten, so a redesigned site's old
template fades while the new one is learnt from its third page on.

Why hand-written: the libraries that extract main text (trafilatura, readability, jusText,
resiliparse) all work on one page at a time; none keeps a per-site model.
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from newsdesk.pipeline.htmldoc import as_text, parse
from newsdesk.pipeline.urls import host_of

__all__ = [
    "CompiledTemplate", "LeaveOneOut", "PageBlocks", "SiteTemplate", "TemplateView",
    "WithoutThisPage", "page_blocks", "strip_template", "template_site", "tree_blocks",
]

# Other pages a block must recur on. 2 rather than 3 (bench/extraction.py, big9 leave-one-out,
# 10 pages a site and era): F1 0.964 -> 0.966, precision 0.961 -> 0.966 at the same recall
# 0.967, pages with a leaked recurring block 27 -> 14: a footer on 3 of an era's 10 pages went.
# The share rules below keep a sentence quoted in a few articles (tests/pipeline).
MIN_PAGES = 2
SHORT_WORDS = 12  # longer texts need to recur on a share of the pages as well
# Short text among the article's own paragraphs ("The company did not respond to a request for
# comment.") recurs too: it must be a visible share of what its place holds ("Advertisement"
# between every article's paragraphs is one in ~15; a stock phrase, one in hundreds).
SHORT_SHARE = 0.02
LONG_SHARE = 0.25  # ... of all the text its DOM path holds on the site's pages
EVERYWHERE = 0.5  # ... or on this share of the recent pages
TEMPLATE_PLACE = 0.5  # ... or where recurring text is this share of what the place holds
SLOT_PAGES = 5  # a template slot: a path on at least this many pages ...
SLOT_SHARE = 0.8  # ... whose occurrences are recurring text at least this often
LABEL_WORDS = 6  # a recurring block this short may label a section (a heading) ...
LINK_SHARE = 0.6  # ... which goes too when it is then mostly links ...
MAX_SECTION_CHARS = 3000  # ... and not long
MAX_LABELLED_LINKS = 10  # link blocks that follow a recurring label at its place go with it
COPY_MIN_LONG = 1  # a page with this many long blocks ...
COPY_SHARE = 0.8  # ... this share of them known is a copy of a learnt page
MAX_DIGESTS = 100_000  # learnt pages remembered for without(): 8-byte digests, ~10 MB at most
WINDOW = 200  # pages after which an unseen key is forgotten
MAX_KEYS = 6000  # per site; saved ~12 bytes a key (BBC's 40 pages: 3,205 keys, 39 kB)

# Blocks: elements that start a new block of text. A leaf block holds no other block.
_BLOCK_TAGS = frozenset([
    "p", "div", "li", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "dt", "dd", "blockquote",
    "pre", "figcaption", "caption", "section", "article", "aside", "header", "footer", "nav",
    "ul", "ol", "dl", "table", "tr", "tbody", "thead", "tfoot", "form", "address", "center",
    "figure", "details", "summary", "main", "fieldset", "legend", "iframe",
])
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "head", "svg", "math",
                        "select"})
_WALK_TAGS = sorted(_BLOCK_TAGS | _SKIP_TAGS)
# r"\d+" spelt so that it starts with a character class: re then scans for a digit in C
# instead of trying a match at each character (~25% faster, the same matches)
_DIGITS = re.compile(r"\d\d*")
_WORD = re.compile(r"[^\W\d_]")  # a letter
# A word before or after a number. Matches only ever end at a word's end, so a word is tried
# whole at its start (possessive, no backtracking) and not again from each of its letters:
# same matches as r"[^\W\d_]+(?=[\s,.:/-]{1,3}0)|(?<=0 )[^\W\d_]+|(?<=0, )[^\W\d_]+",
# ~40% faster.
_NEXT_TO_NUMBER = re.compile(
    r"(?<![^\W\d_])[^\W\d_]++(?=[\s,.:/-]{1,3}0)|(?<=0 )[^\W\d_]++|(?<=0, )[^\W\d_]++"
)
_MAX_TEXT = 300  # characters of a block's text that make its key
_PATH_DEPTH = 10  # ancestors that make a path: deeper wrappers change without a redesign
_LABEL_PATH = 0x5A5A5A5A5A5A5A5A  # marks the place of a link block's label (see _label_key)


def _stable_hash(data: str) -> int:
    # Python's hash() of str is salted per process; the model is persisted and shared between
    # worker processes, so keys need a stable hash.
    return int.from_bytes(hashlib.blake2b(data.encode(), digest_size=8).digest(), "little") >> 1


_STEPS: dict[tuple[str, str | None, str | None], str] = {}  # memo: pages repeat their markup


def _step(tag: str, ident: str | None, cls: str | None) -> str:
    if not ident and not cls:
        return tag
    memo = (tag, ident, cls)
    step = _STEPS.get(memo)
    if step is None:
        step = tag
        if ident:
            step += "#" + _DIGITS.sub("0", ident)
        if cls:
            step += "." + ".".join(sorted(_DIGITS.sub("0", c) for c in cls.split()[:3]))
        if len(_STEPS) > 100_000:
            _STEPS.clear()
        _STEPS[memo] = step
    return step


# memo: (parent's path, tag, id, class) -> the element's path, trimmed to _PATH_DEPTH steps;
# a site's pages (and one page's repeated items) open the same places over and over
_PATHS: dict[tuple[str | None, str, str | None, str | None], str] = {}
_HASHES: dict[str, int] = {}  # memo of _stable_hash (see _memo_hash)


def _child_path(parent: str | None, el: HtmlElement, tag: str) -> str:
    if el.keys():
        ident = el.get("id")
        cls = el.get("class")
    else:  # no attributes (p, li, td, tr ...): no need to ask for each
        ident = cls = None
    memo = (parent, tag, ident, cls)
    path = _PATHS.get(memo)
    if path is None:
        step = _step(tag, ident, cls)
        if parent is None:
            path = _trim(step)
        else:
            # the parent's path is trimmed already: one step too many at most (unless the
            # step has a "/" of its own)
            path = f"{parent}/{step}"
            if path.count("/") >= _PATH_DEPTH:
                path = _trim(path)
        if len(_PATHS) > 100_000:
            _PATHS.clear()
        _PATHS[memo] = path
    return path


def _memo_hash(data: str) -> int:
    """_stable_hash, memoised: paths (and a bare link's key at its path) repeat across pages."""
    value = _HASHES.get(data)
    if value is None:
        if len(_HASHES) > 200_000:
            _HASHES.clear()
        value = _HASHES[data] = _stable_hash(data)
    return value


def _bare_link_key(path: str) -> int:
    """_label_key of a block that is one link alone: its label is empty."""
    return _memo_hash(f"{path}\x01")


@dataclass(frozen=True)
class PageBlocks:
    """A page's template fingerprint: the (key, path) of each distinct leaf block."""

    keys: tuple[int, ...]
    paths: tuple[int, ...]  # parallel to keys
    long: frozenset[int] = frozenset()  # keys of blocks longer than SHORT_WORDS

    @property
    def digest(self) -> int:
        return hash(self.keys)

    def __len__(self) -> int:
        return len(self.keys)


def _walk(tree: HtmlElement) -> list[tuple[Any, int, int, int, int]]:
    """Leaf blocks of ``tree`` as (element, key, path hash, words, label key), in document
    order.

    Only block elements are visited: ``iter`` filters by tag in C and makes a Python element
    for the blocks alone (``iterwalk`` made one for every inline element too: that was most of
    the cost). A path is the chain of block ancestors, inline wrappers are not in it.
    """
    root = tree.find("body")
    if root is None:
        root = tree
    out: list[tuple[Any, int, int, int, int]] = []
    hashes: dict[str, int] = {}
    # Open blocks, outermost first: [element, trimmed path or None for a skipped element,
    # holds a block, its block children]. ``opened`` finds an element's nearest open block.
    stack: list[list] = []
    opened: set[HtmlElement] = set()
    top: list | None = None  # stack[-1]
    top_el = None  # its element
    for el in root.iter(_WALK_TAGS):
        parent = direct = el.getparent()
        if direct is not top_el:  # else the first block inside the innermost open one
            while parent is not None and parent not in opened:
                parent = parent.getparent()  # an inline wrapper
            # in document order, the open blocks that do not hold ``el`` are done
            while stack and stack[-1][0] is not parent:
                _close(stack.pop(), opened, out, hashes)
            if stack:
                top = stack[-1]
                top_el = top[0]
            else:
                top = top_el = None
        tag = el.tag
        if top is None:
            top_path = None
        else:
            top_path = top[1]
            if top_path is None:
                continue  # inside a skipped element
        if tag in _SKIP_TAGS:
            top = [el, None, False, None]
        else:
            if top is not None:
                top[2] = True
                if direct is parent:
                    top[3].append(el)
            top = [el, _child_path(top_path, el, tag), False, []]
        stack.append(top)
        top_el = el
        opened.add(el)
    while stack:
        _close(stack.pop(), opened, out, hashes)
    return out


def _close(
    entry: list, opened: set[HtmlElement], out: list[tuple[Any, int, int, int, int]],
    hashes: dict[str, int],
) -> None:
    """Fingerprint a block element once its subtree is walked."""
    el, path, holds_block, blocks = entry
    opened.discard(el)
    if path is None:
        return
    children = len(el)
    if not children:
        # no children: its text is all there is (no <br>, no link, so no label)
        text = " ".join((el.text or "").split())
        if text:
            out.append((el, *_key(path, text), 0))
        return
    only = None
    if holds_block:
        has_break = True
    elif children == 1:  # the usual leaf with markup: <li><a>..</a></li>, <p><b>..</b></p>
        only = el[0]  # kept alive: _label_key's el[0] gets it again without a new proxy
        has_break = only.tag in ("br", "hr")
    else:
        has_break = next(el.iterchildren("br", "hr"), None) is not None
    if has_break:
        if children == len(blocks) and not (el.text or "").strip():
            for block in blocks:  # a loop, not any(): no generator for each wrapper
                if (block.tail or "").strip():
                    break
            else:
                return  # blocks alone and only whitespace between them: no runs (most wrappers)
        # Text between its blocks ("Subscriptions >", "News | More | Reports" in an old
        # layout cell that also holds the article): each run between blocks, <br>s or <hr>s
        # is a block of its own, at the container's place. A cell of <br>-separated lines
        # is split too (big9 leave-one-out: F1 0.966 -> 0.967, leaked recurring lines 31
        # -> 16: forbes 2005's "Book Review" teaser cells).
        for run in _runs(el):
            text = " ".join(run.text.split())
            if text:
                out.append(_block(run, f"{path}/~", text, hashes))
        return
    if only is None:
        text = " ".join(el.text_content().split())
        if text:
            out.append(_block(el, path, text, hashes))
        return
    # the same text as el.text_content() (a comment's is not text), without XPath
    only_tag = only.tag
    if not isinstance(only_tag, str):
        inner = ""
        linkless = True
    elif len(only):
        inner = only.text_content()
        linkless = False
    else:  # a childless <b>, <span>: no link unless it is one
        inner = only.text or ""
        linkless = only_tag != "a"
    before = el.text or ""
    after = only.tail or ""
    text = " ".join(f"{before}{inner}{after}".split())
    if not text:
        return
    if linkless:
        label = 0
    elif only_tag == "a" and not before.strip() and not after.strip():
        label = -_bare_link_key(path)  # one link and nothing else: see _label_key
    else:
        label = _label_key(el, path, text, hashes)
    out.append((el, *_key(path, text), label))


def _text(el: HtmlElement) -> str:
    """``el.text_content()``; an element without children has its ``.text`` alone (an XPath
    evaluation costs ten times the attribute)."""
    return el.text_content() if len(el) else el.text or ""


def _trim(path: str) -> str:
    return "/".join(path.rsplit("/", _PATH_DEPTH)[-_PATH_DEPTH:])


def _key(path: str, text: str) -> tuple[int, int, int]:
    """A block's (key, path hash, words)."""
    words = text.count(" ") + 1
    folded = _DIGITS.sub("0", text[:_MAX_TEXT])
    if words <= SHORT_WORDS and "0" in folded:
        # a date line ("Last updated: Tuesday, 20 September 2005, 17:16 GMT") names its day
        # and month in words: the words next to a number are folded with it
        folded = _NEXT_TO_NUMBER.sub("_", folded)
    return _stable_hash(f"{path}\x00{folded}"), _memo_hash(path), words


def _block(
    el: HtmlElement | _Run, path: str, text: str, hashes: dict[str, int]
) -> tuple[Any, int, int, int, int]:
    return (el, *_key(path, text), _label_key(el, path, text, hashes))


def _label_key(el: HtmlElement | _Run, path: str, text: str, hashes: dict[str, int]) -> int:
    """Key of a mostly-links block's own words at its place, 0 for other blocks; negative
    when the block has no words of its own (a bare link, see strip_template).

    "Read more: <a>story</a>", "Trending: <a>story</a>" between the paragraphs: the linked
    story changes from page to page, so the block's key never recurs, but its label does."""
    if isinstance(el, _Run):
        anchors = _anchors(el)
    else:
        n = len(el)
        if not n:
            return 0  # no child, no link (a block is never an <a> itself)
        if n == 1 and not (el.text or "").strip():
            child = el[0]
            if child.tag == "a" and not (child.tail or "").strip():
                # one link and nothing else, as menus are made: no need to measure its text
                return -_bare_link_key(path)
        anchors = list(el.iter("a"))
    if not anchors:
        return 0
    links = [" ".join(_text(a).split()) for a in anchors]
    # ``text`` is whitespace-normalised: its length less its spaces counts its characters
    linked = sum(len(link) - link.count(" ") for link in links)
    if linked < LINK_SHARE * (len(text) - text.count(" ")):
        return 0
    label = text
    for link in links:
        label = label.replace(link, " ", 1)
    label = f'{path}\x01{_DIGITS.sub("0", " ".join(label.split()))}'
    key = hashes.get(label)
    if key is None:  # most are a menu's separators or nothing, repeated along the menu
        key = hashes[label] = _stable_hash(label)
    return key if _WORD.search(label, len(path) + 1) else -key


@dataclass
class _Run:
    """Inline content of a container between two of its blocks (or <br>s)."""

    holder: HtmlElement  # whose .text (``in_text``) or .tail starts the run
    in_text: bool
    nodes: list[HtmlElement]
    text: str

    def drop_tree(self) -> None:
        if self.in_text:
            self.holder.text = None
        else:
            self.holder.tail = None
        for node in self.nodes:
            node.tail = None
            node.drop_tree()


def _runs(container: HtmlElement) -> list[_Run]:
    runs: list[_Run] = []
    run = _Run(container, True, [], container.text or "")
    for child in container:
        tag = child.tag
        if isinstance(tag, str) and (tag in _BLOCK_TAGS or tag in ("br", "hr")):
            if run.text.strip():
                runs.append(run)
            run = _Run(child, False, [], child.tail or "")
            continue
        if isinstance(tag, str) and tag not in _SKIP_TAGS:
            run.text += child.text_content()
        run.nodes.append(child)
        run.text += child.tail or ""
    if run.text.strip():
        runs.append(run)
    return runs


def _fingerprint(blocks: list[tuple[Any, int, int, int, int]]) -> PageBlocks:
    seen: dict[int, int] = {}
    long: set[int] = set()
    for _el, key, path, words, label in blocks:
        seen.setdefault(key, path)
        if words > SHORT_WORDS:
            long.add(key)
        if label:
            # learnt like a block of its own, at a place of its own (the block's path would
            # count it twice in that path's totals)
            seen.setdefault(label, path ^ _LABEL_PATH)
    return PageBlocks(tuple(seen), tuple(seen.values()), frozenset(long))


def tree_blocks(tree: HtmlElement) -> PageBlocks:
    """The fingerprint of a parsed page."""
    return _fingerprint(_walk(tree))


def page_blocks(html: str | bytes, url: str | None = None, charset: str | None = None) -> PageBlocks:
    """Decode, parse and fingerprint one page (raises ``ExtractionError`` like extraction)."""
    del url  # the fingerprint depends on the markup alone; kept for a uniform signature
    return tree_blocks(parse(as_text(html, charset)))


_RECORD = struct.Struct("<qqII")  # key, path, pages seen on, last page number
_MAGIC = b"NDST1"


class SiteTemplate:
    """One site's learnt template: on how many pages each leaf block occurs."""

    def __init__(self) -> None:
        self.pages = 0
        # key -> [pages it occurs on, path hash, number of the page that last had it]
        self._keys: dict[int, list[int]] = {}
        self._totals: dict[int, list[int]] | None = None  # derived, cleared on change
        self._learnt: dict[int, None] = {}  # digests of recently learnt pages, for without()

    # ------------------------------------------------------------------ learning

    def is_copy(self, blocks: PageBlocks) -> bool:
        """Most of the page's long text is known already: the same article at another URL (a
        print or AMP version, a second feed's link), not a new page of the site. Learning it
        would teach the article itself as the site's template."""
        if len(blocks.long) < COPY_MIN_LONG:
            return False
        known = sum(1 for key in blocks.long if key in self._keys)
        return known >= COPY_SHARE * len(blocks.long)

    def learn(self, blocks: PageBlocks) -> bool:
        """Learn one page; a copy of a learnt page is not learnt (returns False)."""
        if self.is_copy(blocks):
            return False
        self._learnt[blocks.digest] = None
        if len(self._learnt) > MAX_DIGESTS:
            del self._learnt[next(iter(self._learnt))]
        self.pages += 1
        n = self.pages
        table = self._keys
        for key, path in zip(blocks.keys, blocks.paths, strict=True):
            entry = table.get(key)
            if entry is None:
                table[key] = [1, path, n]
            else:
                entry[0] += 1
                entry[2] = n
        self._totals = None
        if len(table) > MAX_KEYS or n % 50 == 0:
            self._forget()
        return True

    def _forget(self) -> None:
        """Drop keys not seen for WINDOW pages, then the least useful beyond MAX_KEYS."""
        oldest = self.pages - WINDOW
        table = {k: v for k, v in self._keys.items() if v[2] > oldest}
        if len(table) > MAX_KEYS:
            # recurring keys first, then the most recently seen among one-offs
            ranked = sorted(table.items(), key=lambda kv: (kv[1][0] >= 2, kv[1][2]), reverse=True)
            table = dict(ranked[:MAX_KEYS])
        self._keys = table
        self._totals = None

    def without(self, blocks: PageBlocks) -> LeaveOneOut | SiteTemplate:
        """The template as if ``blocks`` had not been learnt (leave-one-out evaluation, or a
        batch that learnt every page before extracting each). A view: nothing is copied.
        A page that was not learnt (a copy) leaves the template as it is."""
        if blocks.digest not in self._learnt:
            return self
        return LeaveOneOut(self, blocks)

    # ------------------------------------------------------------------ judging

    def _path_totals(self) -> dict[int, list[int]]:
        """path -> [occurrences on pages, occurrences of recurring text]"""
        if self._totals is None:
            totals: dict[int, list[int]] = {}
            for count, path, _last in self._keys.values():
                entry = totals.setdefault(path, [0, 0])
                entry[0] += count
                if count >= MIN_PAGES:
                    entry[1] += count
            self._totals = totals
        return self._totals

    def count(self, key: int) -> int:
        entry = self._keys.get(key)
        return entry[0] if entry is not None else 0

    def path_of(self, key: int) -> int | None:
        entry = self._keys.get(key)
        return entry[1] if entry is not None else None

    def is_template(self, key: int, path: int, words: int) -> bool:
        total, recurring = self._path_totals().get(path, (0, 0))
        return (_recurs(self.count(key), words, self.pages, total, recurring)
                or _slot(total, recurring))

    def recurring(self, key: int) -> bool:
        """At its place on ``MIN_PAGES`` pages, whatever else the place holds."""
        return self.count(key) >= MIN_PAGES

    def compiled(self) -> CompiledTemplate:
        """The template's verdicts as small sets, cheap to send to an extraction process."""
        totals = self._path_totals()
        short: set[int] = set()
        long: set[int] = set()
        recurring: set[int] = set()
        for key, (count, path, _last) in self._keys.items():
            if count < MIN_PAGES:
                continue
            recurring.add(key)
            if _recurs(count, SHORT_WORDS, self.pages, *totals[path]):
                short.add(key)
            if _recurs(count, SHORT_WORDS + 1, self.pages, *totals[path]):
                long.add(key)
        slots = {path for path, (total, recurring) in totals.items() if _slot(total, recurring)}
        return CompiledTemplate(self.pages, frozenset(short), frozenset(long), frozenset(slots),
                                frozenset(recurring))

    def __len__(self) -> int:
        return len(self._keys)

    # ------------------------------------------------------------------ persistence

    def to_bytes(self) -> bytes:
        body = b"".join(_RECORD.pack(k, p, c, last) for k, (c, p, last) in self._keys.items())
        return _MAGIC + struct.pack("<I", self.pages) + zlib.compress(body, 6)

    @classmethod
    def from_bytes(cls, data: bytes) -> SiteTemplate:
        """Load a persisted template; anything unreadable gives an empty one (relearnt)."""
        template = cls()
        if not data.startswith(_MAGIC):
            return template
        try:
            (pages,) = struct.unpack_from("<I", data, len(_MAGIC))
            body = zlib.decompress(data[len(_MAGIC) + 4 :])
        except (struct.error, zlib.error):
            return template
        template.pages = pages
        for k, p, c, last in _RECORD.iter_unpack(body[: len(body) - len(body) % _RECORD.size]):
            template._keys[k] = [c, p, last]
        return template


def _recurs(count: int, words: int, pages: int, path_total: int, path_recurring: int) -> bool:
    """Recurring text: short, or long and either a good share of what its DOM path holds (a
    disclaimer's own element), or at a place that mostly holds recurring text (a promo among
    other promos), or on half the recent pages (a disclaimer among the paragraphs)."""
    if count < MIN_PAGES:
        return False
    return (
        (words <= SHORT_WORDS and count >= SHORT_SHARE * path_total)
        or count >= LONG_SHARE * path_total
        or path_recurring >= TEMPLATE_PLACE * path_total
        or count >= EVERYWHERE * min(pages, WINDOW)
    )


def _slot(total: int, recurring: int) -> bool:
    return recurring >= SLOT_PAGES and recurring >= SLOT_SHARE * total


class LeaveOneOut:
    """A :class:`SiteTemplate` minus one learnt page, without copying it."""

    def __init__(self, base: SiteTemplate, blocks: PageBlocks) -> None:
        self.base = base
        self.pages = max(base.pages - 1, 0)
        self._excluded = set(blocks.keys)
        # the excluded page's share of its paths' totals
        delta: dict[int, list[int]] = {}
        for key in self._excluded:
            count = base.count(key)
            path = base.path_of(key)
            if path is None:
                continue
            entry = delta.setdefault(path, [0, 0])
            entry[0] += 1
            if count >= MIN_PAGES:
                # the key stops recurring (all its occurrences leave) or loses one
                entry[1] += count if count - 1 < MIN_PAGES else 1
        self._delta = delta

    def count(self, key: int) -> int:
        return self.base.count(key) - (key in self._excluded)

    def is_template(self, key: int, path: int, words: int) -> bool:
        total, recurring = self.base._path_totals().get(path, (0, 0))
        d_total, d_recurring = self._delta.get(path, (0, 0))
        total, recurring = total - d_total, recurring - d_recurring
        return (_recurs(self.count(key), words, self.pages, total, recurring)
                or _slot(total, recurring))

    def recurring(self, key: int) -> bool:
        return self.count(key) >= MIN_PAGES


@dataclass(frozen=True)
class CompiledTemplate:
    """What a :class:`SiteTemplate` removes, frozen: recurring keys (short and long text) and
    template slots. Same verdicts as the template it was compiled from."""

    pages: int
    short: frozenset[int]
    long: frozenset[int]
    slots: frozenset[int]
    recurring_keys: frozenset[int] = frozenset()  # every key on MIN_PAGES pages or more

    def is_template(self, key: int, path: int, words: int) -> bool:
        return (key in self.long or (words <= SHORT_WORDS and key in self.short)
                or path in self.slots)

    def recurring(self, key: int) -> bool:
        return key in self.recurring_keys


@dataclass(frozen=True)
class WithoutThisPage:
    """The template minus the page being extracted, once its own blocks are known: a batch that
    learnt every page first needs no fingerprint of each kept aside."""

    base: SiteTemplate

    @property
    def pages(self) -> int:
        return self.base.pages


TemplateView = SiteTemplate | LeaveOneOut | CompiledTemplate | WithoutThisPage


def strip_template(tree: HtmlElement, template: TemplateView) -> tuple[PageBlocks, int]:
    """Remove the site's template blocks from ``tree`` in place.

    Returns the page's fingerprint (to learn it afterwards) and how many blocks were removed.
    With an empty template nothing is removed; the fingerprint is computed either way.
    """
    blocks = _walk(tree)
    fingerprint = _fingerprint(blocks)
    judge = template.base.without(fingerprint) if isinstance(template, WithoutThisPage) else template
    doomed: list[tuple[HtmlElement, int]] = []
    long_kept = False
    last_at = {path: i for i, (_el, _key, path, _words, _label) in enumerate(blocks)}
    # A bare link recurs at its place wherever the site lists links. Among the article's own
    # paragraphs ("<a>Read more: another story</a>") it is a teaser; in a list of related
    # stories, taking the links alone would leave their dates and sections behind as text.
    article_places = {path for _el, _key, path, words, _label in blocks if words > SHORT_WORDS}
    links_after = 0  # blocks after a recurring label that go with it
    for i, (el, key, path, words, label) in enumerate(blocks):
        if judge.pages < MIN_PAGES:
            break
        if links_after and blocks[i - 1][2] == path and _is_link(el):
            links_after -= 1
            doomed.append((el, words))
            continue
        links_after = 0
        if (
            judge.is_template(key, path, words)
            or (judge.recurring(key) and _is_link(el))
            or (label and judge.recurring(label) and (label > 0 or path in article_places))
        ):
            doomed.append((el, words))
        elif judge.recurring(key) and words <= LABEL_WORDS and _links_follow(blocks, i):
            # a recurring label ("Also in ...") whose links follow it at its place, in a cell
            # it shares with the article: the links change, the label gives them away
            doomed.append((el, words))
            links_after = MAX_LABELLED_LINKS
        elif words > SHORT_WORDS and judge.recurring(key) and last_at[path] == i:
            # recurring long text that closes its place (a wire service's copyright line
            # after the article's paragraphs); a quote that recurs sits among them
            doomed.append((el, words))
        elif words > SHORT_WORDS:
            long_kept = True
    if fingerprint.long and not long_kept:
        # Every long block of the page would go: that is the article itself recurring (a
        # copy the template has met), never a template. Only the short blocks go.
        doomed = [(el, words) for el, words in doomed if words <= SHORT_WORDS]
    labels: dict[HtmlElement, None] = {}  # a menu's items share one: looked at once
    for el, words in doomed:
        if words <= LABEL_WORDS:
            parent = _container(el)
            if parent is not None:
                labels[parent] = None
        _drop(el)
    removed = len(doomed)
    for section in labels:
        if section.getparent() is None:
            continue  # already gone with another section
        # the label's wrapper may hold nothing else: look up to three levels for the section
        best = None
        for _ in range(3):
            if section is None or section.tag in ("body", "html") or not _link_list(section):
                break
            best, section = section, section.getparent()
        if best is not None:
            _drop(best)
    return fingerprint, removed


def _is_link(el: HtmlElement | _Run) -> bool:
    """The block's text is mostly link text (LINK_SHARE)."""
    text = el.text if isinstance(el, _Run) else el.text_content()
    anchors = _anchors(el)
    if not anchors:
        return False
    size = len("".join(text.split()))
    linked = sum(len("".join(a.text_content().split())) for a in anchors)
    return size > 0 and linked >= LINK_SHARE * size


def _links_follow(blocks: list[tuple[Any, int, int, int, int]], i: int) -> bool:
    """The block after ``blocks[i]`` is at the same place and mostly links."""
    return i + 1 < len(blocks) and blocks[i + 1][2] == blocks[i][2] and _is_link(blocks[i + 1][0])


def _anchors(el: HtmlElement | _Run) -> list[HtmlElement]:
    if isinstance(el, _Run):
        return [a for node in el.nodes for a in node.iter("a")]
    return list(el.iter("a"))


def _link_list(section: HtmlElement) -> bool:
    """A section that, its recurring label gone, is a list of links (related stories, "from
    other sites", "top stories"): the label marked it as the site's template."""
    text = " ".join(section.text_content().split())
    if not text or len(text) > MAX_SECTION_CHARS:
        return False
    linked = sum(len(" ".join(a.text_content().split())) for a in section.iter("a"))
    return linked >= LINK_SHARE * len(text)


def _drop(el: HtmlElement | _Run) -> None:
    """Remove ``el`` with its subtree but keep its tail text (which belongs to the parent)."""
    if isinstance(el, _Run) or el.getparent() is not None:
        el.drop_tree()


def _container(el: HtmlElement | _Run) -> HtmlElement | None:
    if isinstance(el, _Run):
        return el.holder if el.in_text else el.holder.getparent()
    return el.getparent()


def template_site(url: str | None) -> str:
    """Which template a page belongs to: its host, and its port when one is given (two
    services on one host are two sites); "" without a host."""
    if not url:
        return ""
    host = host_of(url)
    try:
        port = urlsplit(url.strip()).port
    except ValueError:
        port = None
    return f"{host}:{port}" if host and port else host
