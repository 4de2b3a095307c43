"""FastXPath against libxml2: the same nodes, in the same order, for trafilatura's expressions."""

from __future__ import annotations

import random
import re
from copy import deepcopy
from re import _constants as sre_c  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]

import pytest
import trafilatura.core
import trafilatura.main_extractor
from lxml import etree
from lxml.etree import XPath
from trafilatura.htmlprocessing import convert_tags, tree_cleaning

from newsdesk.devtools.replay import load_big9, load_fundus
from newsdesk.pipeline import _treescan, fastxpath
from newsdesk.pipeline.cascade import fast_options
from newsdesk.pipeline.fastxpath import FastXPath, compile_xpath, fast_xpaths, necessary_literals
from newsdesk.pipeline.htmldoc import as_text, parse
from tests.conftest import shared_data

scan = _treescan.scan
RE = {"re": "http://exslt.org/regular-expressions"}

# every trafilatura expression the swap replaces, as (name, original, fast)
PAIRS = [
    (f"{module.__name__}.{name}[{i}]", original, fast)
    for module, name, originals, fasts in fastxpath.fast_xpaths.replacements
    for i, (original, fast) in enumerate(zip(originals, fasts, strict=True))
    if original is not fast
]


def _same(expected: list, got: list) -> bool:
    return len(expected) == len(got) and all(a is b for a, b in zip(expected, got, strict=True))


def _check_all(tree: etree._Element) -> int:
    """Every fast expression selects what its original does on ``tree``; returns the hits."""
    hits = 0
    for name, original, fast in PAIRS:
        expected = original(tree)
        got = fast(tree)
        assert _same(expected, got), (name, [e.tag for e in expected], [e.tag for e in got])
        hits += len(expected)
    return hits


# --------------------------------------------------------------------------- regex literals


@pytest.mark.parametrize(("pattern", "literals"), [
    ("footer|Footer|nav", {"footer", "Footer", "nav"}),
    ("^(?:[Cc]omment(?!ary)|comol|disqus_thread)", {"omment", "comol", "disqus_thread"}),
    ("bread-?crumb", {"bread"}),  # either run is required; the first of equal length
    ("(?:^| )ad-", {"ad-"}),
    ("share|share-|sharebar", {"share"}),  # a literal holding another adds nothing
    ("(^|\\s)link(\\s|$)", {"link"}),
    ("a*", None),  # matches anything
    ("[Aa]uthor", {"uthor"}),
    ("x|[0-9]+", None),  # one alternative requires no literal
    ("(?i)fulltext", None),  # case-insensitive: a literal cannot say
])
def test_necessary_literals(pattern: str, literals: set[str] | None) -> None:
    found = necessary_literals(pattern)
    assert (set(found) if found is not None else None) == literals


def _sample(items: list, rng: random.Random) -> str:
    """A random string the parsed regex ``items`` matches (anchors and lookarounds aside)."""
    out = []
    for op, av in items:
        if op is sre_c.LITERAL:
            out.append(chr(av))
        elif op is sre_c.IN:
            choices: list[str] = []
            for kind, value in av:
                if kind is sre_c.LITERAL:
                    choices.append(chr(value))
                elif kind is sre_c.RANGE:
                    choices.extend(chr(c) for c in range(value[0], value[1] + 1))
                elif kind is sre_c.CATEGORY:
                    choices.extend(" \t" if "SPACE" in str(value) else "7")
            out.append(rng.choice(choices) if choices else "")
        elif op is sre_c.BRANCH:
            out.append(_sample(list(rng.choice(av[1])), rng))
        elif op is sre_c.SUBPATTERN:
            out.append(_sample(list(av[3]), rng))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
            low, high = av[0], min(av[1], av[0] + 2)
            out.extend(_sample(list(av[2]), rng) for _ in range(rng.randint(low, high)))
    return "".join(out)


def test_every_match_of_trafilaturas_patterns_holds_a_literal() -> None:
    # Random strings each pattern matches, built from its own parse, with random text around:
    # one of the derived literals is in every one (a wrong literal would drop nodes silently).
    patterns = set()
    for _name, original, _fast in PAIRS:
        patterns.update(m[1] for m in re.finditer(r"re:test\([^,]+,\s*'([^']*)'\)", original.path))
    assert len(patterns) >= 15
    rng = random.Random(7)
    noise = "abcx-_ 0Cc"
    for pattern in patterns:
        literals = necessary_literals(pattern)
        assert literals, pattern
        rx = re.compile(pattern)
        parsed = list(sre_parse.parse(pattern))
        matched = 0
        for _ in range(500):
            around = ["".join(rng.choice(noise) for _ in range(rng.randint(0, 4)))
                      for _ in range(2)]
            s = around[0] * (rng.random() < 0.5) + _sample(parsed, rng) + around[1]
            if rx.search(s):
                matched += 1
                assert any(lit in s for lit in literals), (pattern, s)
        assert matched > 100, pattern


# --------------------------------------------------------------------------- the C scan


def test_scan_walks_descendants_in_document_order() -> None:
    tree = etree.fromstring(
        '<root><a class="x nav"><b id="n">t<!-- c --><c class="navy"/></b></a>'
        '<?pi x?><d class="nav"/><e xmlns:p="urn:p" p:class="nav"/></root>'
    )
    assert [e.tag for e in scan(tree, None, None)] == [e.tag for e in tree.xpath(".//*")]
    assert [e.tag for e in scan(tree, (b"a", b"d"), None)] == ["a", "d"]
    # attribute literals: a namespaced attribute is not @class
    assert [e.tag for e in scan(tree, None, ((b"class", b"nav"),))] == ["a", "c", "d"]
    assert [e.tag for e in scan(tree, None, ((b"id", b""),))] == ["b"]
    assert scan(tree.find("d"), None, None) == []
    proxies = scan(tree, (b"b",), None)
    assert proxies[0] is tree.find(".//b")  # lxml's own proxy for the node


def test_scan_refuses_what_is_not_an_element() -> None:
    with pytest.raises(TypeError):
        scan("<p/>", None, None)
    with pytest.raises(TypeError):
        scan(etree.fromstring("<a/>"), ("a",), None)


# --------------------------------------------------------------------------- equivalence

_EDGES = """<html><body>
<div id="cookie-x" class="a">1</div><div class="cookie" id="x">2</div>
<div id="x" class="cookie">3</div><span class="Nav" role="Navigation">4</span>
<p role="NAV">5</p><section class="mvp-post-add-box"><h1>6</h1></section>
<section class="infinite-scroll"><h1>7</h1></section><div class="infinitescroll">8</div>
<div class="comments-list"><ul class="comment-list"><li>9</li></ul></div>
<ol id="commentary">10</ol><ul id="comments">11</ul><div id="Comment-1">12</div>
<article><div class="post">13</div><div class="entry">14</div></article>
<div class="article-body"><div class="article-body">15</div></div>
<main><div class="FullText">16</div></main><div id="Main-Content">17</div>
<div class="cMain-content">18</div><div class="x page-Content">19</div>
<div style="display:none">20</div><div aria-hidden="true">21</div>
<div class="reply-box" id="r">22</div><div id="reply-x" class="y">23</div>
<div data-lp-replacement-content="">24</div><div data-component="MostPopularStories">25</div>
<p class="teaser">26</p><p id="Teaser">27</p><span class="caption">28</span>
<div class=" ad ">29</div><div class="dfpAd">30</div><div class="paidcontent">31</div>
<div class="hide-print">32</div><div class="x hidden">33</div><div id="hidden">34</div>
<div class="comments-title">35</div><div class="bottom">36</div><div class="link x">37</div>
<div class="elementor-share-buttons">38</div><div id="respond">39</div><header>40</header>
<div class="&#8203;nav">41</div><div class="authorName">42</div><div class="commentlist">43</div>
</body></html>"""


def test_same_nodes_on_edge_cases() -> None:
    tree = parse(_EDGES)
    assert _check_all(tree) > 40
    # the cleaned, converted tree trafilatura's extractor works on (list, item, head ...)
    options = fast_options(None)
    assert _check_all(convert_tags(tree_cleaning(deepcopy(tree), options), options)) > 20


def test_first_child_and_first_positions() -> None:
    tree = parse("<html><body><div><div class='post'>a</div><div class='post'>b</div>"
                 "<div><div class='post'>c</div></div></div><div class='post'>d</div>"
                 "</body></html>")
    for expression in (".//*[self::div][@class='post'][1]", "(.//*[self::div][@class='post'])[1]",
                       ".//div[@class='post']", ".//*[@class='post' and not(.//p)]"):
        original = XPath(expression)
        fast = FastXPath(original)
        assert _same(original(tree), fast(tree)), expression
    assert [e.text for e in FastXPath(XPath(".//*[self::div][@class='post'][1]"))(tree)] == [
        "a", "c", "d"]


def test_what_is_not_understood_keeps_libxml2() -> None:
    for expression in ("//time|//figure", ".//cite|.//quote", "//*[rel='me' or @id='a']",
                       "(.//*[self::div][@id='a'])[1]|(.//main)[1]", ".//*[position()=2]",
                       ".//*[contains(., 'text')]", ".//*"):
        xpath = XPath(expression)
        assert compile_xpath(xpath) is xpath, expression
    assert isinstance(compile_xpath(XPath(".//*[re:test(@class, 'nav')]", namespaces=RE)),
                      FastXPath)


def test_same_nodes_on_recorded_pages() -> None:
    data = shared_data()
    pages = [p.body for site in (*load_big9(data), *load_fundus(data)) for p in site.pages][::12]
    if not pages:
        pytest.skip("no big9 or fundus pages in the recorded corpus")
    options = fast_options(None)
    hits = 0
    for html in pages:
        tree = parse(as_text(html))
        hits += _check_all(tree)
        hits += _check_all(convert_tags(tree_cleaning(deepcopy(tree), options), options))
    assert hits > 1000


# --------------------------------------------------------------------------- the swap


def test_swap_is_scoped() -> None:
    original = trafilatura.main_extractor.OVERALL_DISCARD_XPATH
    assert all(isinstance(x, XPath) for x in original)
    with fast_xpaths():
        assert all(isinstance(x, FastXPath) for x in trafilatura.main_extractor.OVERALL_DISCARD_XPATH)
        assert all(isinstance(x, FastXPath) for x in trafilatura.core.RAW_TREE_PRUNE_XPATH)
        with fast_xpaths():  # nested: the outer block still has them after the inner one
            pass
        assert isinstance(trafilatura.main_extractor.OVERALL_DISCARD_XPATH[0], FastXPath)
    assert trafilatura.main_extractor.OVERALL_DISCARD_XPATH is original
    with pytest.raises(RuntimeError), fast_xpaths():
        raise RuntimeError("extraction failed")
    assert trafilatura.main_extractor.OVERALL_DISCARD_XPATH is original
