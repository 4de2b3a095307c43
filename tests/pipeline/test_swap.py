"""Swapped module attributes (swap.py) and the parser htmldoc.py swaps into trafilatura."""

from __future__ import annotations

import threading
import types

import pytest
import trafilatura.utils
from lxml import etree
from lxml.html import FormElement, HtmlElement
from trafilatura.utils import load_html

from newsdesk.devtools.replay import load_fundus
from newsdesk.pipeline.htmldoc import as_text, parse
from newsdesk.pipeline.swap import Swap
from tests.conftest import shared_data


def test_swap_sets_inside_and_restores_after_the_last_block() -> None:
    module = types.SimpleNamespace(value="original")
    swap = Swap([(module, "value", "fast")])
    with swap():
        assert module.value == "fast"
        with swap():
            assert module.value == "fast"
        assert module.value == "fast"  # the outer block still runs
    assert module.value == "original"
    with pytest.raises(KeyError), swap():
        raise KeyError("a failed extraction")
    assert module.value == "original"


def test_swap_across_threads() -> None:
    module = types.SimpleNamespace(value="original")
    swap = Swap([(module, "value", "fast")])
    inside, release = threading.Event(), threading.Event()

    def worker() -> None:
        with swap():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    with swap():
        assert module.value == "fast"
    assert module.value == "fast"  # the other thread's block has not ended
    release.set()
    t.join(5)
    assert module.value == "original"


_PAGE = """<!DOCTYPE html><html><head><title>t</title><!-- c --><?pi x?></head><body>
<form action="/s"><label for="q">Search</label><input id="q" name="q"><select><option>a
</option></select><textarea>x</textarea></form><p>Text &amp; more<br>line</p></body></html>"""


def test_parse_gives_trafilaturas_tree_with_plain_element_classes() -> None:
    ours = parse(_PAGE)
    theirs = load_html(_PAGE)
    assert etree.tostring(ours) == etree.tostring(theirs)
    assert isinstance(theirs.find(".//form"), FormElement)
    form = ours.find(".//form")
    assert type(form) is HtmlElement and type(ours.find(".//input")) is HtmlElement
    assert form.text_content().startswith("Search")  # HtmlElement methods work on it
    # trafilatura's own parser is back in place after the parse
    assert trafilatura.utils.HTML_PARSER.__class__.__name__ == "HTMLParser"
    assert isinstance(load_html(_PAGE).find(".//form"), FormElement)


def test_parse_equals_trafilaturas_on_recorded_pages() -> None:
    pages = [p.body for site in load_fundus(shared_data()) for p in site.pages][::20]
    if not pages:
        pytest.skip("no fundus pages in the recorded corpus")
    for html in pages:
        text = as_text(html)
        theirs = load_html(text.replace("</body>", "").replace("</html>", ""))
        if theirs is None:
            continue
        ours = parse(text.replace("</body>", "").replace("</html>", ""))
        assert etree.tostring(ours) == etree.tostring(theirs)
