"""Near-duplicates and stories on the live platform: `pipeline.dedup` and `pipeline.stories`
applied to stored articles, one article at a time.

`assign(article)` runs after a NEW or UPDATED article is stored (the crawler's DB thread, WARC
import): it sets `Article.duplicate_of` (re-pointing the copy group when the newcomer turns out
to be the original) and `Article.story`, and keeps the `Story` rows' counts, original and score
up to date, applying the clusterer's merges (the absorbed story's articles move, its row goes).
Per-article cost is a handful of indexed queries over the article's own copy group and story,
never a scan of the archive.

State lives in this process (one `_Live` per process, behind a lock):

- the story clusterer, persisted as a `ClusterState` row by `persist()` (the crawler calls it at
  the end of every pass, not per article) and reloaded from it;
- the near-duplicate index, which has no serialised form: it is rebuilt from the texts of the
  newest `REBUILD_DOCS` articles of the last `REBUILD_DAYS` days the first time it is needed in
  a process (crawler start), then kept bounded by `max_docs` / `window`.

Withheld (noarchive) articles have no text: they are clustered by title only and never enter
the near-duplicate index, so they are never anyone's original.

`before_removal` / `after_removal` keep groups and stories consistent when a takedown deletes
articles (newsdesk.takedown.removal).
"""

from __future__ import annotations

import logging
import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.db import connections, router, transaction
from django.db.models import Count, Max, Min, Model, OuterRef, Subquery
from django.utils import timezone

from newsdesk.news.models import Article, ClusterState, Story
from newsdesk.pipeline.dedup import DedupDoc, NearDuplicateIndex
from newsdesk.pipeline.stories import StoryClusterer, StoryDoc

log = logging.getLogger("newsdesk.grouping")

STATE_NAME = "stories"
REBUILD_DOCS = 5_000  # newest articles whose texts rebuild the near-duplicate index
REBUILD_DAYS = 7
INDEX_MAX_DOCS = 20_000  # live bound of the near-duplicate index (≈ 4 bytes per word each)
INDEX_WINDOW = timedelta(days=7)
TAU = timedelta(hours=12)  # freshness time constant of the story score
_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
BATCH = 500

T = TypeVar("T")


def _batches(items: list[T], size: int = BATCH) -> Iterator[list[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def story_score(outlets: int, articles: int, last_updated: datetime) -> float:
    """log(breadth × freshness): ``ln(breadth) + (last_updated - epoch) / TAU``.

    Ranking by it equals ranking by ``breadth × exp(-(now - last_updated) / TAU)`` whatever
    "now" is, so a stored score never goes stale. Breadth is the outlet count, plus a little for
    each further article (follow-ups from the same outlets).
    """
    breadth = max(outlets, 1) + 0.1 * max(articles - outlets, 0)
    return math.log(breadth) + (last_updated - _EPOCH).total_seconds() / TAU.total_seconds()


def _source_name(a: Article) -> str | None:
    return (a.source.name if a.source_id else "") or a.sitename or None


def _dedup_doc(a: Article) -> DedupDoc:
    return DedupDoc(id=str(a.pk), title=a.title, text=a.text, published=a.published,
                    source=_source_name(a), canonical=a.canonical_url or None, url=a.url or None,
                    cites=tuple(c for c in (a.cited or []) if isinstance(c, str)))


class _Live:
    def __init__(self) -> None:
        self.index = NearDuplicateIndex(max_docs=INDEX_MAX_DOCS, window=INDEX_WINDOW)
        self.clusterer = self._load_clusterer()
        self.dirty = False
        self._rebuild_index()

    @staticmethod
    def _load_clusterer() -> StoryClusterer:
        row = ClusterState.objects.filter(name=STATE_NAME).first()
        if row is not None:
            try:
                c = StoryClusterer.from_state(bytes(row.data), clock=timezone.now)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("story clusterer state unreadable (%s): starting afresh", exc)
            else:
                # Stories created after the state was saved (a killed pass) carry ids the
                # clusterer will hand out again: they stay as they are, detached.
                Story.objects.filter(cluster_id__gte=c._next_sid).update(cluster_id=None)
                return c
        Story.objects.filter(cluster_id__isnull=False).update(cluster_id=None)
        return StoryClusterer(clock=timezone.now)

    def _rebuild_index(self) -> None:
        since = timezone.now() - timedelta(days=REBUILD_DAYS)
        # Only articles already grouped: the ungrouped ones are about to go through assign(),
        # which must see them arrive to point their copy groups.
        ids = list(Article.objects.filter(withheld="", first_seen_at__gte=since,
                                          story__isnull=False)
                   .exclude(text="").order_by("-id").values_list("id", flat=True)[:REBUILD_DOCS])
        ids.reverse()  # arrival order
        for chunk in _batches(ids, 256):
            docs = [_dedup_doc(a) for a in Article.objects.select_related("source")
                    .filter(pk__in=chunk).order_by("id")]
            self.index.add_many(docs)


_lock = threading.RLock()
_live: _Live | None = None


def _get() -> _Live:
    global _live
    if _live is None:
        _live = _Live()
    return _live


def reset() -> None:
    """Forget this process's in-memory state (tests; a new database)."""
    global _live
    with _lock:
        _live = None


def persist() -> None:
    """Save the story clusterer's state (once per crawl pass), closing expired stories."""
    with _lock:
        if _live is None:
            return
        c = _live.clusterer
        c.close_expired(timezone.now())
        c.drain_closed()  # their Story rows already hold everything shown
        if not _live.dirty:
            return
        try:
            ClusterState.objects.update_or_create(
                name=STATE_NAME, defaults={"data": c.state(), "updated": timezone.now()})
        except Exception:  # the next pass saves it again; the crawl itself must go on
            log.exception("saving the story clusterer state failed")
            return
        _live.dirty = False


# -- per article --------------------------------------------------------------------------------
UNGROUPED_MAX_AGE = timedelta(days=7)


def assign_ungrouped(limit: int = 5000, batch: int = 200) -> int:
    """Group every recent article that has no story yet, in publication order.

    The crawler stores pages in whatever order they arrive; the clusterer expects time order,
    and fed out of order it can split one event in two. Calling this once per crawl pass also
    makes grouping crash-safe: an article stored just before a kill is grouped on the next pass.
    Batched: one transaction, one bulk load and one recount per touched story per batch.
    """
    since = timezone.now() - UNGROUPED_MAX_AGE
    ids = list(Article.objects.filter(story__isnull=True, first_seen_at__gte=since)
               .order_by("sort_at", "id").values_list("id", flat=True)[:limit])
    for chunk in _batches(ids, batch):
        _assign_batch(chunk)
    return len(ids)


def assign(article: Article | int) -> None:
    """Group one just-stored (new or updated) article: duplicate_of, story, Story rows.

    Never raises: a grouping bug must not fail the crawl (the article is already stored).
    """
    _assign_batch([article.pk if isinstance(article, Article) else article])


def _assign_batch(ids: list[int]) -> None:
    try:
        with _lock, transaction.atomic():
            live = _get()
            loaded = Article.objects.select_related("source").in_bulk(ids)
            batch = _Batch()
            for pk in ids:  # the caller's order: publication order
                a = loaded.get(pk)
                if a is None:
                    continue
                try:
                    # Each step writes (rarely: copy groups, merges) in its own savepoint, so
                    # one bad article spares the rest.
                    batch.touched |= _dedup(live, a)
                    _cluster(live, a, batch)
                except Exception:
                    log.exception("grouping article %s failed", pk)
            batch.flush(loaded)
    except Exception:
        log.exception("grouping articles %s failed", ids[:5])


class _Batch:
    """The Story bookkeeping of one batch, written once at its end.

    Articles are given their story in memory as the clusterer places them (`pending`: article
    -> cluster id, resolved at that moment, before a later close could drop the alias); the
    Story rows are then looked up, created and recounted a few queries per batch instead of
    several per article.
    """

    def __init__(self) -> None:
        self.pending: dict[int, int] = {}  # article pk -> cluster id of its story
        self.headlines: dict[int, str] = {}  # cluster id -> the clusterer's headline
        self.rows: dict[int, Story] = {}  # cluster id -> Story row, when known
        self.touched: set[int | None] = set()  # Story pks to recount

    def row(self, cid: int) -> Story:
        story = self.rows.get(cid)
        if story is None:
            story = self.rows[cid] = _story_row(cid)
        return story

    def merge(self, c: StoryClusterer, absorbed: int, into: int) -> None:
        target = c.resolve(into)
        for pk, cid in self.pending.items():
            if cid == absorbed:
                self.pending[pk] = target
        self.headlines.pop(absorbed, None)
        gone = self.rows.pop(absorbed, None) or Story.objects.filter(cluster_id=absorbed).first()
        if gone is None:
            return
        survivor = self.row(target)
        Article.objects.filter(story=gone).update(story=survivor)
        self.touched.discard(gone.pk)
        gone.delete()
        self.touched.add(survivor.pk)

    def flush(self, loaded: dict[int, Article]) -> None:
        cids = set(self.pending.values())
        need = [cid for cid in cids if cid not in self.rows]
        for chunk in _batches(need):
            self.rows.update((s.cluster_id, s) for s in Story.objects.filter(cluster_id__in=chunk))
        new = [Story(cluster_id=cid, headline=self.headlines.get(cid) or "")
               for cid in need if cid not in self.rows]
        if new:
            created = Story.objects.bulk_create(new)
            if created and created[0].pk is None:  # a backend returning no ids
                created = list(Story.objects.filter(cluster_id__in=[s.cluster_id for s in new]))
            self.rows.update((s.cluster_id, s) for s in created)
        stories: dict[int, Story] = {}
        for cid in cids:
            story = self.rows[cid]
            headline = self.headlines.get(cid)
            if headline and headline != story.headline:
                story.headline = headline
            stories[story.pk] = story
        moved = []
        for pk, cid in self.pending.items():
            a = loaded[pk]
            a.story_id = self.rows[cid].pk
            moved.append(a)
        _update_rows(Article, moved, ["story"])
        others = [pk for pk in self.touched if pk is not None and pk not in stories]
        for chunk in _batches(others):
            stories.update((s.pk, s) for s in Story.objects.filter(pk__in=chunk))
        _recount(list(stories.values()))


def _dedup(live: _Live, a: Article) -> set[int | None]:
    """Index `a` and point its copy group at the group's original; returns touched stories."""
    if a.withheld or not a.text.strip():
        return set()
    key = str(a.pk)
    if key in live.index:
        return set()  # an update of an indexed article: its group stands
    live.index.add(_dedup_doc(a))
    members = {int(m) for m in live.index.group_of(key)}
    if len(members) < 2:
        return set()
    with transaction.atomic():
        rows = {pk: (story, dup) for pk, story, dup in Article.objects.filter(pk__in=members)
                .values_list("pk", "story_id", "duplicate_of_id")}
        orig = int(live.index.original_of(key))
        if orig not in rows:  # removed (takedown) since it was indexed: the earliest left leads
            orig = Article.objects.filter(pk__in=list(rows)).order_by("sort_at", "id").values_list(
                "pk", flat=True).first() or a.pk
        Article.objects.filter(pk__in=[m for m, (_, dup) in rows.items()
                                       if m != orig and dup != orig]).update(duplicate_of=orig)
        if rows.get(orig, (None, None))[1] is not None:
            Article.objects.filter(pk=orig).update(duplicate_of=None)
    a.duplicate_of_id = None if a.pk == orig else orig
    return {story for story, _ in rows.values()}


def _story_row(sid: int) -> Story:
    story, _ = Story.objects.get_or_create(cluster_id=sid)
    return story


def _cluster(live: _Live, a: Article, batch: _Batch) -> None:
    """Put `a` in its story (in `batch`, merges applied at once)."""
    if a.story_id is not None:
        batch.touched.add(a.story_id)  # an update: the article keeps its story
        return
    c = live.clusterer
    sid = c.add(StoryDoc(id=str(a.pk), title=a.title or "",
                         text="" if a.withheld else a.text, published=a.published,
                         source=_source_name(a)))
    live.dirty = True
    merges = c.drain_merges()
    if merges:
        with transaction.atomic():
            for absorbed, into in merges:
                batch.merge(c, absorbed, into)
    sid = c.resolve(sid)
    batch.pending[a.pk] = sid
    batch.headlines[sid] = c.story(sid).headline


def refresh(story: Story) -> Story | None:
    """Recount a story from its articles (bounded by its size); delete it when empty."""
    return story if _recount([story]) else None


def _recount(stories: list[Story]) -> list[Story]:
    """Recount stories from their articles, a few queries per 500 stories; delete the emptied.

    Returns the stories kept.
    """
    kept: list[Story] = []
    for chunk in _batches(stories):
        ids = [s.pk for s in chunk]
        aggs = {r["story"]: r for r in Article.objects.filter(story__in=ids).order_by()
                .values("story").annotate(n=Count("id"), outlets=Count("source", distinct=True),
                                          first=Min("sort_at"), last=Max("sort_at"))}
        first_original = (Article.objects.filter(story=OuterRef("pk"), duplicate_of__isnull=True)
                          .order_by("sort_at", "id").values("pk")[:1])
        originals = dict(Story.objects.filter(pk__in=ids).order_by()
                         .annotate(o=Subquery(first_original)).values_list("pk", "o"))
        untitled = [originals[s.pk] for s in chunk
                    if not s.headline and originals.get(s.pk) is not None]
        titles = dict(Article.objects.filter(pk__in=untitled).values_list("pk", "title"))
        empty, changed = [], []
        for story in chunk:
            agg = aggs.get(story.pk)
            if not agg:
                empty.append(story.pk)
                continue
            original = originals.get(story.pk)
            story.article_count, story.outlet_count = agg["n"], agg["outlets"]
            story.first_seen, story.last_updated = agg["first"], agg["last"]
            story.original_id = original
            if not story.headline and original is not None:
                story.headline = titles.get(original, "")
            story.score = story_score(story.outlet_count, story.article_count,
                                      story.last_updated)
            changed.append(story)
        if empty:
            Story.objects.filter(pk__in=empty).delete()
        _update_rows(Story, changed, _RECOUNTED)
        kept += changed
    return kept


_RECOUNTED = ["headline", "article_count", "outlet_count", "first_seen", "last_updated",
              "original", "score"]


def _update_rows(model: type[Model], objs: list[Any], names: list[str]) -> None:
    """Save these fields of these rows: one prepared UPDATE run for all of them.

    Django's bulk_update builds a CASE per field over every row, which costs more CPU than the
    per-row UPDATEs it saves; executemany reuses one statement.
    """
    if not objs:
        return
    fields = [model._meta.get_field(n) for n in names]
    pk = model._meta.pk
    conn = connections[router.db_for_write(model)]
    q = conn.ops.quote_name
    sql = (f"UPDATE {q(model._meta.db_table)} SET "
           + ", ".join(f"{q(f.column)} = %s" for f in fields)
           + f" WHERE {q(pk.column)} = %s")
    rows = [[*(f.get_db_prep_save(getattr(o, f.attname), conn) for f in fields),
             pk.get_db_prep_save(o.pk, conn)] for o in objs]
    with conn.cursor() as cursor:
        cursor.executemany(sql, rows)


# -- takedown -----------------------------------------------------------------------------------
def before_removal(ids: Iterable[int]) -> set[int]:
    """Inside the removal transaction, before `ids` are deleted: each removed original hands
    its role to its earliest remaining copy (the other copies re-point to it). Returns the
    stories to pass to `after_removal`."""
    doomed = sorted(set(ids))
    gone = set(doomed)
    stories: set[int] = set()
    copies: dict[int, list[int]] = defaultdict(list)
    for chunk in _batches(doomed):
        stories.update(Article.objects.filter(pk__in=chunk, story__isnull=False)
                       .values_list("story_id", flat=True))
        for pk, orig, story in (Article.objects.filter(duplicate_of__in=chunk)
                                .order_by("sort_at", "id")
                                .values_list("pk", "duplicate_of_id", "story_id")):
            if pk not in gone:
                copies[orig].append(pk)
                if story is not None:
                    stories.add(story)
    for members in copies.values():
        new, rest = members[0], members[1:]
        Article.objects.filter(pk=new).update(duplicate_of=None)
        for chunk in _batches(rest):
            Article.objects.filter(pk__in=chunk).update(duplicate_of=new)
    return stories


def after_removal(story_ids: Iterable[int]) -> None:
    """After the deletion: recount the stories (an emptied one is deleted)."""
    ids = sorted(set(story_ids))
    for chunk in _batches(ids):
        _recount(list(Story.objects.filter(pk__in=chunk)))
