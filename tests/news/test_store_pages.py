"""news.store.store_pages: a batch stores each page exactly as store_article would, one by one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsdesk.news.models import Article, QueuedPage, Source
from newsdesk.news.store import DUPLICATE, NEW, TOMBSTONED, Page, store_article, store_pages
from newsdesk.pipeline.extract import Extracted
from newsdesk.takedown.models import Tombstone

pytestmark = pytest.mark.django_db
WHEN = datetime(2026, 11, 2, 9, tzinfo=UTC)


def _ex(title: str, text: str) -> Extracted:
    return Extracted(title=title, authors=("Mara Quill",), published=WHEN, updated=None,
                     language="en", sitename="Bugle", image=None, canonical_url=None,
                     description=None, categories=("City",), text=text)


def _scenario(tag: str) -> list[Page]:
    """Pages of one batch: new, the same URL again, a taken-down domain, an already stored
    article, another new one; each queued first."""
    src = Source.objects.create(url=f"https://bugle-{tag}.example/rss", name=f"Bugle {tag}",
                                site_url=f"https://bugle-{tag}.example/")
    Tombstone.objects.create(domain=f"gone-{tag}.example", whole_domain=True)
    known = f"https://bugle-{tag}.example/news/known"
    assert store_article(src, known, known, _ex("Known", "Stored before. " * 30)).outcome == NEW
    pages = []
    for url, title in [
        (f"https://bugle-{tag}.example/news/a", "Ferry returns"),
        (f"https://bugle-{tag}.example/news/a?utm_source=rss", "Ferry returns"),
        (f"https://gone-{tag}.example/news/c", "Taken down"),
        (known, "Known"),
        (f"https://bugle-{tag}.example/news/e", "Library opens"),
    ]:
        q = QueuedPage.objects.create(url=f"{url}#q{len(pages)}", source=src)
        text = "Stored before. " * 30 if title == "Known" else f"{title}: the story. " * 30
        pages.append(Page(src, url, url, _ex(title, text), queued_id=q.pk))
    return pages


def test_batch_outcomes_equal_one_by_one() -> None:
    one_by_one = [store_article(p.source, p.page_url, p.final_url, p.ex, queued_id=p.queued_id)
                  .outcome for p in _scenario("x")]
    batch = _scenario("y")
    stored = store_pages(batch)
    assert [s.outcome for s in stored] == one_by_one == [NEW, DUPLICATE, TOMBSTONED, DUPLICATE,
                                                         NEW]
    # every page left the queue in the transaction that stored (or refused) it
    assert not QueuedPage.objects.filter(pk__in=[p.queued_id for p in batch]).exists()
    for tag in ("x", "y"):
        urls = sorted(Article.objects.filter(source__name=f"Bugle {tag}")
                      .values_list("canonical_url", flat=True))
        assert urls == [f"https://bugle-{tag}.example/news/{s}" for s in ("a", "e", "known")]
    new = Article.objects.get(pk=stored[4].article_id)
    assert [a.name for a in new.authors.all()] == ["Mara Quill"]
    assert [c.name for c in new.categories.all()] == ["City"]
