"""trafilatura's main-text cascade in fast mode, without its recall escalation and spare copies.

``trafilatura.bare_extraction(tree, fast=True)`` runs, in ``trafilatura_sequence``: raw-tree
prunes (appended articles, share widgets, comment sections), tree cleaning and tag conversion,
the main extractor, a baseline rescue below ``MIN_EXTRACTED_SIZE``, and since 2.2 a *recall
escalation*: any text under 3,000 characters has the whole page measured again
(``html2txt``: a copy, a prune and a text walk of the page) and, when the text is under a
fifth of it, is extracted a second time in recall mode. It also makes three deep copies of the
page, one of them a backup that only the non-fast comparison reads.

This module runs the same stages on the same trafilatura functions, minus the escalation and
two of the copies. Measured on the replay corpus of bench/ingest.py (1,662 pages, each page
extracted by both variants in turn, same process): 56.5 -> 49.5 ms a page of extraction
against ``bare_extraction(fast=True)``, -12.4%; the escalation alone (switched off inside
trafilatura) was -11.4%. A page whose fast text is short still gets the
escalation: extract.py retries it with trafilatura's full cascade, escalation included. With
that retry, bench/extraction.py's F1 (ours+site) is unchanged on all five sets (big9 0.981,
trafilatura-eval 0.930, newspaper4k 0.920, fundus 0.950, Readability's 0.812); with no
escalation anywhere, trafilatura-eval had lost 0.002.

The stages are trafilatura's internals, which change between minor releases (2.3 regrouped
the raw-tree prunes): pyproject pins trafilatura to 2.3.x, and tests/pipeline/test_cascade.py
checks that the body equals ``bare_extraction(fast=True)``'s wherever the escalation does not
fire.
"""

from __future__ import annotations

from copy import copy

from lxml.etree import _Element
from lxml.html import HtmlElement
from trafilatura import core
from trafilatura.baseline import baseline
from trafilatura.core import _forum_thread_page
from trafilatura.htmlprocessing import convert_tags, prune_unwanted_nodes, tree_cleaning
from trafilatura.main_extractor import extract_content
from trafilatura.settings import Extractor

__all__ = ["fast_body", "fast_options"]


def fast_options(url: str | None) -> Extractor:
    """The options of extract.py's trafilatura calls, in fast mode: tables and formatting
    kept, no comments, links or images (see markdown.with_images), an XML body."""
    return Extractor(
        output_format="xml", fast=True, comments=False, tables=True, formatting=True,
        links=False, images=False, url=url,
    )


def _pruned_copy(tree: HtmlElement, is_forum: bool) -> HtmlElement:
    """A copy of the page with trafilatura's raw-tree prunes (appended articles, share widgets;
    comment sections and their lists unless the page is a forum thread, whose posts they are).
    The expressions are read from trafilatura.core when called: fastxpath.fast_xpaths swaps
    them there."""
    work = prune_unwanted_nodes(copy(tree), core.RAW_TREE_PRUNE_XPATH)
    if not is_forum:
        work = prune_unwanted_nodes(work, core.REMOVE_COMMENTS_AND_LISTS_XPATH)
    return work


def fast_body(tree: HtmlElement, options: Extractor) -> tuple[_Element | None, str]:
    """The main text of ``tree`` as trafilatura's XML body and its plain text; (None, "") when
    there is none. ``tree`` is left as it was."""
    is_forum = _forum_thread_page(tree)
    work = _pruned_copy(tree, is_forum)
    # tree_cleaning works on this copy itself: trafilatura copies it first to keep the pruned
    # page for the baseline rescue below, which is rare and re-prunes a copy of its own
    cleaned = convert_tags(tree_cleaning(work, options), options, options.url)
    body, text = extract_content(cleaned, options)
    if len(text) < options.min_extracted_size:
        b_body, b_text, b_len = baseline(_pruned_copy(tree, is_forum))
        if b_len > len(text):
            body, text = b_body, b_text
    if len(text) < options.min_output_size:
        return None, ""
    return body, text
