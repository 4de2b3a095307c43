"""The demo web: fictional outlets and articles (in content/) built into replay Sites.

Everything is written for the project: outlets, places, people and events are invented, so the
demo can be shipped and shown without any third-party text. Each outlet has its own page
templates (different HTML structure and boilerplate, like real sites), its own feed format, and
article dates relative to *now*, so a freshly started demo always looks current.

Content format: ``content/outlets.toml`` describes the outlets; ``content/templates/<outlet>/``
holds ``article.html``, ``home.html`` and ``teaser.html`` (``string.Template``, ``$name``
placeholders, values already HTML-escaped); ``content/articles/<outlet>/<slug>.md`` is one
article: TOML front matter between ``+++`` lines, then a Markdown body. Front-matter keys:
title, authors, section, categories, description, hours_ago (published that long before now) or
release_minutes (held back and published that long after the demo starts), story (a shared tag
for one event covered by several outlets), reprint ("<outlet>/<slug>": the wire text, reprinted
inside this outlet's own boilerplate), language (when it differs from the outlet's).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from importlib.resources.abc import Traversable
from string import Template
from typing import Any

from markdown_it import MarkdownIt

from newsdesk.devtools.replay import FEED_PATHS, SITEMAP_PATH, Page, ReplayServer, Site

__all__ = ["Article", "DemoWeb", "Outlet", "build"]

WIRE_NAME = "Continental Press Agency"
_FEED_TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml",
               "json": "application/feed+json"}
_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
          "diciembre",
}
_DATE_FORMATS = {
    "en": "{d} {month} {y}, {hm}",
    "de": "{d}. {month} {y}, {hm} Uhr",
    "fr": "{d} {month} {y} à {hm}",
    "es": "{d} de {month} de {y}, {hm}",
}


@dataclass(frozen=True)
class Outlet:
    key: str  # also the replay site name
    name: str
    language: str
    feed: str  # rss | atom | json | sitemap
    category: str  # the newsdesk source category
    tagline: str
    path: str  # article URL pattern
    robots: str
    authors: dict[str, str]  # name -> bio
    wire_note: str = ""
    wire_note_at: str = "bottom"

    @property
    def feed_path(self) -> str:
        return SITEMAP_PATH if self.feed == "sitemap" else FEED_PATHS[self.feed]


@dataclass
class Article:
    outlet: Outlet
    slug: str
    title: str
    authors: list[str]
    section: str
    categories: list[str]
    description: str
    body_md: str
    published: datetime
    language: str
    release_minutes: float | None = None  # held back until the demo has run this long
    story: str | None = None
    reprint_of: str | None = None  # "<outlet>/<slug>" of the wire original
    path: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.outlet.key}/{self.slug}"


@dataclass
class DemoWeb:
    outlets: list[Outlet]
    articles: list[Article]  # every article, held-back ones included
    now: datetime
    pages: dict[str, dict[str, Page]]  # outlet key -> path -> page (home pages included)

    released: set[str] = field(default_factory=set)  # refs of held-back articles now public

    def outlet(self, key: str) -> Outlet:
        return next(o for o in self.outlets if o.key == key)

    @property
    def upcoming(self) -> list[Article]:
        """Held-back articles, in release order."""
        return sorted((a for a in self.articles if a.release_minutes is not None),
                      key=lambda a: a.published)

    def public(self, outlet: Outlet | None = None) -> list[Article]:
        """Articles on the web now (held-back ones only once released)."""
        return [a for a in self.articles
                if (a.release_minutes is None or a.ref in self.released)
                and (outlet is None or a.outlet is outlet)]

    def sites(self) -> list[Site]:
        """Replay sites with what is public now."""
        out = []
        for o in self.outlets:
            paths = {"/"} | {a.path for a in self.public(o)}
            out.append(Site(name=o.key, pages=[p for k, p in self.pages[o.key].items()
                                               if k in paths],
                            title=o.name, robots_txt=o.robots.lstrip("\n"),
                            feed_format=o.feed if o.feed != "sitemap" else "rss"))
        return out

    def serve(self) -> ReplayServer:
        """A started ReplayServer over the demo web (the caller stops it)."""
        server = ReplayServer(self.sites())
        for o in self.outlets:
            if o.feed == "sitemap":
                # This outlet publishes no feed at all, only the news sitemap its robots.txt
                # announces: answer 404 where the replay server would generate feeds.
                for path in FEED_PATHS.values():
                    server.set_fault(o.key, path, "status", code=404)
        return server.start()

    def release(self, server: ReplayServer, article: Article) -> None:
        """Publish a held-back article: it joins the feed, sitemap and the outlet's home page."""
        o = article.outlet
        self.released.add(article.ref)
        server.add_page(o.key, self.pages[o.key][article.path])
        server.update_page(o.key, "/", _render_home(o, self.public(o), self.now))


# -- loading ------------------------------------------------------------------------------------
def content_root() -> Traversable:
    return resources.files("newsdesk.devtools.demo").joinpath("content")


def _slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "x"


def _front_matter(text: str, name: str) -> tuple[dict[str, Any], str]:
    m = re.match(r"\+\+\+\n(.*?)\n\+\+\+\n?(.*)", text, re.S)
    if not m:
        raise ValueError(f"{name}: missing +++ front matter")
    return tomllib.loads(m.group(1)), m.group(2).strip()


def load_outlets(root: Traversable | None = None) -> list[Outlet]:
    root = root or content_root()
    data = tomllib.loads(root.joinpath("outlets.toml").read_text("utf-8"))
    return [Outlet(**o) for o in data["outlet"]]


def _load_articles(root: Traversable, outlets: list[Outlet], now: datetime) -> list[Article]:
    out: list[Article] = []
    for o in outlets:
        folder = root.joinpath("articles").joinpath(o.key)
        for f in sorted(folder.iterdir(), key=lambda t: t.name):
            if not f.name.endswith(".md"):
                continue
            fm, body = _front_matter(f.read_text("utf-8"), f"{o.key}/{f.name}")
            release = fm.get("release_minutes")
            when = (now + timedelta(minutes=float(release)) if release is not None
                    else now - timedelta(hours=float(fm["hours_ago"])))
            out.append(Article(
                outlet=o, slug=f.name.removesuffix(".md"), title=fm.get("title", ""),
                authors=list(fm.get("authors", [])), section=fm["section"],
                categories=list(fm.get("categories", [fm["section"]])),
                description=fm.get("description", ""), body_md=body,
                published=when.replace(second=0, microsecond=0),
                language=fm.get("language", o.language),
                release_minutes=release, story=fm.get("story"), reprint_of=fm.get("reprint"),
            ))
    by_ref = {a.ref: a for a in out}
    for a in out:
        if a.reprint_of:
            wire = by_ref[a.reprint_of]
            a.body_md = wire.body_md
            a.title = a.title or wire.title
            a.description = a.description or wire.description
            a.authors = a.authors or list(wire.authors)
    return out


def _article_path(a: Article) -> str:
    d = a.published
    n = 10000 + int(hashlib.sha1(a.ref.encode()).hexdigest(), 16) % 90000  # stable article id
    return a.outlet.path.format(section=_slugify(a.section), slug=a.slug, yyyy=f"{d:%Y}",
                                mm=f"{d:%m}", dd=f"{d:%d}", n=n)


# -- rendering ----------------------------------------------------------------------------------
_md = MarkdownIt("commonmark").enable("table")
_templates: dict[tuple[str, str], Template] = {}


def _template(outlet: Outlet, name: str) -> Template:
    key = (outlet.key, name)
    if key not in _templates:
        text = content_root().joinpath("templates", outlet.key, f"{name}.html").read_text("utf-8")
        _templates[key] = Template(text)
    return _templates[key]


def _human_date(dt: datetime, language: str) -> str:
    lang = language if language in _MONTHS else "en"
    month = _MONTHS[lang].split()[dt.month - 1]
    return _DATE_FORMATS[lang].format(d=dt.day, month=month, y=dt.year, hm=f"{dt:%H:%M}")


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _links(items: list[tuple[str, str]]) -> str:
    return "".join(f'<li><a href="{_e(href)}">{_e(text)}</a></li>' for href, text in items)


def _feed_link(o: Outlet) -> str:
    if o.feed == "sitemap":
        return ""  # discoverable only through robots.txt
    return (f'<link rel="alternate" type="{_FEED_TYPES[o.feed]}" title="{_e(o.name)}" '
            f'href="{o.feed_path}">')


def _nav(o: Outlet, articles: list[Article]) -> str:
    sections = dict.fromkeys(a.section for a in articles if a.outlet is o)
    return _links([("/", o.name)] + [(f"/{_slugify(s)}/", s) for s in sections])


def _common(o: Outlet, a: Article) -> dict[str, str]:
    return {
        "lang": a.language, "site_name": _e(o.name), "tagline": _e(o.tagline),
        "title": _e(a.title), "description": _e(a.description), "url": _e(a.path),
        "published_iso": a.published.isoformat(),
        "published_human": _e(_human_date(a.published, o.language)),
        "section": _slugify(a.section), "section_label": _e(a.section),
    }


def _body_html(a: Article) -> str:
    body = _md.render(a.body_md)
    if not a.reprint_of:
        return body
    # The reprinting outlet's own frame around the verbatim wire text.
    note = f'<p class="wire-credit"><em>{_e(a.outlet.wire_note)}</em></p>\n'
    inner = note + body if a.outlet.wire_note_at == "top" else body + note
    return f'<div class="wire-copy" data-source="{_e(WIRE_NAME)}">\n{inner}</div>'


def _related(a: Article, articles: list[Article]) -> list[Article]:
    others = [b for b in articles if b.outlet is a.outlet and b is not a
              and b.release_minutes is None]
    # Same story or section first, then the newest.
    others.sort(key=lambda b: (b.story != a.story or a.story is None, b.section != a.section,
                               -b.published.timestamp()))
    return others[:3]


def _render_article(a: Article, articles: list[Article], now: datetime) -> bytes:
    o = a.outlet
    first = a.authors[0] if a.authors else f"{o.name} staff"
    bio = o.authors.get(first) or next(
        (b.outlet.authors[first] for b in articles if first in b.outlet.authors), "")
    jsonld = {
        "@context": "https://schema.org", "@type": "NewsArticle", "headline": a.title,
        "datePublished": a.published.isoformat(), "inLanguage": a.language,
        "articleSection": a.section, "description": a.description,
        "author": [{"@type": "Person", "name": n} for n in a.authors],
        "publisher": {"@type": "Organization", "name": o.name},
    }
    values = _common(o, a) | {
        "canonical": _e(a.path), "feed_link": _feed_link(o), "nav": _nav(o, articles),
        "byline": _e(", ".join(a.authors) or first), "authors_meta": _e(", ".join(a.authors)),
        "author_name": _e(first), "author_bio": _e(bio),
        "categories": _e(", ".join(a.categories)), "body": _body_html(a),
        "related": _links([(b.path, b.title) for b in _related(a, articles)]),
        "year": str(now.year),
        # "</" must not end the <script> element early.
        "jsonld": json.dumps(jsonld, ensure_ascii=False).replace("</", "<\\/"),
    }
    return _template(o, "article").substitute(values).encode()


def _render_home(o: Outlet, articles: list[Article], now: datetime) -> bytes:
    mine = sorted((a for a in articles if a.outlet is o), key=lambda a: a.published,
                  reverse=True)
    teaser = _template(o, "teaser")
    items = "\n".join(teaser.substitute(_common(o, a)) for a in mine)
    values = {"lang": o.language, "site_name": _e(o.name), "tagline": _e(o.tagline),
              "canonical": "/", "feed_link": _feed_link(o), "nav": _nav(o, articles),
              "items": items, "year": str(now.year)}
    return _template(o, "home").substitute(values).encode()


def _page(a: Article, articles: list[Article], now: datetime) -> Page:
    return Page(
        path=a.path, body=_render_article(a, articles, now), published=a.published,
        title=a.title, gold_text=a.body_md,
        meta={"corpus": "demo", "demo_outlet": a.outlet.key, "authors": list(a.authors),
              "categories": list(a.categories), "description": a.description,
              "language": a.language, "story": a.story, "reprint_of": a.reprint_of},
    )


def build(now: datetime | None = None) -> DemoWeb:
    """Render the whole demo web with dates relative to ``now`` (default: the current time)."""
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    root = content_root()
    outlets = load_outlets(root)
    articles = _load_articles(root, outlets, now)
    for a in articles:
        a.path = _article_path(a)
    pages: dict[str, dict[str, Page]] = {}
    for o in outlets:
        public = [a for a in articles if a.outlet is o and a.release_minutes is None]
        home = Page(path="/", body=_render_home(o, public, now), title=o.name,
                    meta={"in_feed": False, "demo_outlet": o.key})
        pages[o.key] = {"/": home}
        for a in articles:
            if a.outlet is o:
                pages[o.key][a.path] = _page(a, articles, now)
    return DemoWeb(outlets=outlets, articles=articles, now=now, pages=pages)
