"""Article Markdown to safe HTML, and search snippets to safe highlighted HTML.

Stored text comes from third-party pages, so everything is untrusted: Markdown is rendered with
markdown-it-py, then the HTML is sanitized by nh3 against a small allow-list (no scripts, event
handlers, frames, styles or forms), links get rel="nofollow noopener" and relative URLs are
resolved against the article's own URL so they keep pointing at the outlet.
"""

from __future__ import annotations

from functools import lru_cache
from html import unescape as html_unescape

import nh3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "u", "s", "del",
    "ins", "sub", "sup", "small", "mark", "code", "pre", "kbd", "blockquote", "q", "cite",
    "ul", "ol", "li", "dl", "dt", "dd", "a", "img", "figure", "figcaption",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "abbr", "time",
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"colspan", "rowspan", "scope"},
    "td": {"colspan", "rowspan"},
    "ol": {"start"},
    "abbr": {"title"},
    "time": {"datetime"},
}
# Content removed together with the tag (the rest of unknown tags keeps its text).
_DROP_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "noscript", "template",
                      "svg", "math", "form", "textarea", "select", "button"}


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # html=True so harmless inline markup (<sub>, <br>) survives; nh3 is the gate, not the parser.
    return MarkdownIt("commonmark", {"html": True, "typographer": False}).enable(
        ["table", "strikethrough"])


def _demote_h1(html: str) -> str:
    # The page title is the only <h1>; article headings start at <h2>.
    return html.replace("<h1>", "<h2>").replace("</h1>", "</h2>")


def markdown_to_html(text: str, base_url: str | None = None) -> SafeString:
    """Render untrusted Markdown to sanitized HTML, safe to emit unescaped."""
    raw = _demote_h1(_markdown().render(text or ""))
    clean = nh3.clean(
        raw,
        tags=_TAGS,
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=_ATTRIBUTES,
        link_rel="nofollow noopener",
        url_schemes={"http", "https", "mailto"},
        url_relative=("rewrite_with_base", base_url) if base_url else "deny",
        strip_comments=True,
    )
    return mark_safe(clean)  # noqa: S308 - nh3 output is the sanitized allow-list above


def highlight_snippet(snippet: str) -> SafeString:
    """A search snippet with `[`term`]` markers as HTML with <mark>: escaped first, then marked.

    Markers are paired left to right; a stray `]` or an unclosed `[` stays literal text.
    """
    out: list[str] = []
    open_at: int | None = None
    for ch in snippet:
        if ch == "[" and open_at is None:
            open_at = len(out)
            out.append("[")
        elif ch == "]" and open_at is not None:
            out[open_at] = "<mark>"
            out.append("</mark>")
            open_at = None
        else:
            out.append(str(escape(ch)) if ch in "<>&\"'" else ch)
    return mark_safe("".join(out))  # noqa: S308 - every character was escaped above


def excerpt(text: str, words: int = 40) -> str:
    """Plain text of the start of some Markdown, cut at a word boundary (listings' dek line)."""
    # Only the head is rendered: listings show a few lines, not whole articles.
    head = (text or "")[: words * 12]
    plain = nh3.clean(_markdown().render(head), tags=set(), clean_content_tags=_DROP_WITH_CONTENT)
    plain = " ".join(html_unescape(plain).split())
    parts = plain.split(" ")
    return plain if len(parts) <= words else " ".join(parts[:words]) + " …"
