"""Shared web fixtures: a small, deterministic corpus written through the models.

`make_corpus()` is importable by every web test module (pages, API, feeds): 3 sources, 3
categories, 4 authors and 30 articles spread over January–March 2026, including one with a
Markdown table and list, one plain-text article and one XSS attempt.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from newsdesk.news.models import Article, Author, Category, Source

XSS = ("<script>alert(1)</script><img src=x onerror=alert(1)>"
       "<iframe src=https://evil.example>")
TABLE_TEXT = """The harbour authority published the new timetable on Monday.

## Ferry departures

| Route | First | Last |
|-------|-------|------|
| North pier | 06:10 | 23:40 |
| Island loop | 07:00 | 21:15 |

Changes for commuters:

- earlier first ferry on weekdays
- a night service on Fridays
- [the full timetable](/timetables/2026)
"""
PLAIN_TEXT = ("The city council approved the budget for the new library on Tuesday. "
              "Construction starts in the spring and the building opens next year.\n\n"
              "Residents welcomed the decision at a packed public meeting.")

TOPICS = [
    "Central bank holds interest rates steady", "Harbour bridge reopens after repairs",
    "Election campaign enters final week", "Storm warning issued for the coast",
    "New vaccine trial shows promise", "Football club names new coach",
    "Parliament debates climate bill", "Tech firm unveils solar battery",
    "Rail strike called off after talks", "Museum returns looted artefacts",
]


@dataclass
class Corpus:
    sources: list[Source]
    categories: list[Category]
    authors: list[Author]
    articles: list[Article] = field(default_factory=list)
    table: Article | None = None
    plain: Article | None = None
    xss: Article | None = None


def make_article(source: Source, n: int, when: datetime, *, title: str, text: str,
                 language: str = "en", **extra: object) -> Article:
    host = source.site_url.removeprefix("https://").rstrip("/")
    url = f"https://{host}/news/{n}-{title.lower().replace(' ', '-')[:40]}?utm_source=rss"
    return Article.objects.create(
        source=source, url=url, canonical_url=url.split("?")[0], title=title, text=text,
        language=language, sitename=source.name, published=when, first_seen_at=when,
        content_hash=hashlib.sha256(text.encode()).hexdigest(), **extra,
    )


def make_corpus() -> Corpus:
    sources = [
        Source.objects.create(url="https://coast-daily.example/rss.xml", name="Coast Daily",
                              site_url="https://coast-daily.example/"),
        Source.objects.create(url="https://world-wire.example/feed", name="World Wire",
                              site_url="https://world-wire.example/"),
        Source.objects.create(url="https://le-matin.example/rss", name="Le Matin",
                              site_url="https://le-matin.example/", language="fr"),
    ]
    categories = Category.get_many(["World", "Business", "Science"])
    authors = Author.get_many(["Ana Lima", "Ben Okafor", "Chloé Martin", "Dara Singh"])
    c = Corpus(sources, categories, authors)
    start = datetime(2026, 1, 3, 8, 30, tzinfo=UTC)
    for i in range(30):
        # Three per ~9 days: January, February and March each get articles.
        when = start + timedelta(days=i * 3, hours=i % 5)
        src = sources[i % 3]
        title = f"{TOPICS[i % len(TOPICS)]}" + (f" ({i // len(TOPICS) + 1})" if i >= 10 else "")
        text = (f"{title}. Reporters followed the story closely in part {i}.\n\n"
                f"Officials said more details would follow. Story number {i}.")
        if i == 7:
            title, text = "Ferry timetable changes for commuters", TABLE_TEXT
        elif i == 12:
            title, text = "Council approves library budget", PLAIN_TEXT
        elif i == 20:
            title, text = "Suspicious markup test <b>bold</b>", f"Before the attack. {XSS} After."
        a = make_article(src, i, when, title=title, text=text,
                         language="fr" if src.name == "Le Matin" else "en",
                         summary="" if i % 4 else f"Summary of story {i}.")
        a.categories.set([categories[i % 3]])
        a.authors.set([authors[i % 4]] + ([authors[(i + 1) % 4]] if i % 5 == 0 else []))
        c.articles.append(a)
    c.table, c.plain, c.xss = c.articles[7], c.articles[12], c.articles[20]
    return c


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Pages cache navigation for a minute; each test starts from the database alone."""
    cache.clear()


@pytest.fixture
def corpus(db: None) -> Corpus:
    return make_corpus()
