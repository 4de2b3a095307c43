"""Storage identity rules and full-text search, on the real database backend."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsdesk.news import store
from newsdesk.news.models import Article, QueuedPage, Source
from newsdesk.news.search import search, terms
from newsdesk.pipeline.extract import Extracted

pytestmark = pytest.mark.django_db


def ex(text: str, title: str = "Harbour bridge reopens", **kw: object) -> Extracted:
    base: dict[str, object] = dict(
        title=title, authors=("Ana Lima",), published=datetime(2026, 11, 1, 8, tzinfo=UTC),
        updated=None, language="en", sitename="Coast Daily", image=None, canonical_url=None,
        description=None, categories=("Transport",), text=text,
    )
    base.update(kw)
    return Extracted(**base)  # type: ignore[arg-type]


@pytest.fixture
def source() -> Source:
    return Source.objects.create(url="https://coast.example/feed.xml", name="Coast Daily")


def test_same_article_via_tracking_url_is_stored_once(source: Source) -> None:
    a = store.store_article(source, "https://coast.example/a?utm_source=x",
                            "https://coast.example/a?utm_source=x", ex("The bridge reopened."))
    b = store.store_article(source, "https://coast.example/a#top", "https://coast.example/a",
                            ex("The  bridge reopened. "))
    assert (a.outcome, b.outcome) == ("new", "duplicate") and a.article_id == b.article_id
    art = Article.objects.get()
    assert art.canonical_url == "https://coast.example/a"
    assert art.url == "https://coast.example/a?utm_source=x"  # the primary source as found
    assert [x.name for x in art.authors.all()] == ["Ana Lima"]


def test_changed_article_is_updated_with_time(source: Source) -> None:
    store.store_article(source, "https://coast.example/b", "https://coast.example/b",
                        ex("First version."))
    r = store.store_article(source, "https://coast.example/b", "https://coast.example/b",
                            ex("Second version, with a correction."))
    art = Article.objects.get()
    assert r.outcome == "updated" and art.changed_at is not None
    assert art.text == "Second version, with a correction."


def test_rel_canonical_followed_only_within_site(source: Source) -> None:
    store.store_article(source, "https://coast.example/amp/c", "https://coast.example/amp/c",
                        ex("AMP copy.", canonical_url="https://www.coast.example/c"))
    store.store_article(source, "https://coast.example/d", "https://coast.example/d",
                        ex("Hijack.", canonical_url="https://evil.example/d"))
    keys = set(Article.objects.values_list("canonical_url", flat=True))
    assert keys == {"https://www.coast.example/c", "https://coast.example/d"}


def test_feed_metadata_fills_gaps_and_queue_row_goes_in_same_step(source: Source) -> None:
    qp = QueuedPage.objects.create(url="https://coast.example/e", source=source)
    entry = {"title": "Feed title", "published": "2026-10-30T10:00:00+00:00",
             "authors": ["Feed Author"], "categories": ["Local"], "summary": "Feed summary"}
    store.store_article(source, qp.url, qp.url,
                        ex("Body.", title=None, authors=(), published=None, categories=()),
                        entry, queued_id=qp.pk)
    art = Article.objects.get()
    assert art.title == "Feed title" and art.published == datetime(2026, 10, 30, 10, tzinfo=UTC)
    assert [a.name for a in art.authors.all()] == ["Feed Author"]
    assert [c.name for c in art.categories.all()] == ["Local"]
    assert not QueuedPage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_fulltext_index_follows_inserts_updates_deletes(source: Source) -> None:
    store.store_article(source, "https://coast.example/f", "https://coast.example/f",
                        ex("The ferry timetable changes on Monday.", title="Ferry news"))
    store.store_article(source, "https://coast.example/g", "https://coast.example/g",
                        ex("Müller said the Brücke was closed.", title="Bridge closed"))
    assert [h.article.title for h in search("ferry")] == ["Ferry news"]
    assert [h.article.title for h in search("brucke")] == ["Bridge closed"]  # diacritics folded
    assert "[ferry]" in search("ferry")[0].snippet.lower()
    store.store_article(source, "https://coast.example/f", "https://coast.example/f",
                        ex("The tram timetable changes on Monday.", title="Tram news"))
    assert search("ferry") == [] and [h.article.title for h in search("tram")] == ["Tram news"]
    Article.objects.filter(title="Tram news").delete()
    assert search("tram") == []


@pytest.mark.django_db(transaction=True)
def test_search_input_is_never_syntax(source: Source) -> None:
    store.store_article(source, "https://coast.example/h", "https://coast.example/h",
                        ex("Prices rose AND fell NEAR the port.", title="Port prices"))
    for q in ['"unbalanced', "AND OR NOT", "port*", "title:port", "(port", "NEAR(", "'; DROP"]:
        search(q)  # must not raise
    assert [h.article.title for h in search('"rose and fell"')] == ["Port prices"]
    assert terms('a "b c" d') == ["a", "b c", "d"]


def test_fulltext_triggers_survive_migrations() -> None:
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite-specific")
    with connection.cursor() as cur:
        cur.execute("SELECT name FROM sqlite_master WHERE type='trigger' AND name LIKE "
                    "'news_article_fts_%'")
        assert {r[0] for r in cur.fetchall()} == {
            "news_article_fts_ai", "news_article_fts_ad", "news_article_fts_au"}
