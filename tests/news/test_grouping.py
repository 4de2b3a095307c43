"""news.grouping: near-duplicates and stories of stored articles, the demo web end to end."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from newsdesk.news import grouping
from newsdesk.news.export import article_record, export_jsonl
from newsdesk.news.models import Article, ClusterState, Source, Story
from newsdesk.news.store import NEW, store_article
from newsdesk.pipeline.extract import Extracted

NOW = datetime.now(UTC).replace(microsecond=0)

WIRE = """VALDORA (CPA) — Dockworkers at the port of Valdora walked out on Monday at dawn,
halting container traffic at the country's second-busiest harbour, after talks over night-shift
pay collapsed late on Sunday, union leader Mirela Dascu said.

About 4,200 members of the Valdora Dockers' Union joined the 72-hour strike. Cranes stood idle
and more than thirty ships waited at anchor off the breakwater by mid-morning, according to the
harbour master's office.

The port authority said it regretted the walkout and remained open to mediation. Its chief
executive, Tomas Reyl, told reporters the pay offer of 6 percent over two years was "fair and
final" and that perishable cargo would be diverted to Santa Irena.

Exporters of fruit and wine warned that a long stoppage would cost them millions. The transport
ministry has called both sides to a meeting on Wednesday."""

BOILERPLATE_TOP = ("Harbour Courier — your local news since 1921. Subscribe to our morning "
                   "newsletter for the best of the coast, delivered free every day.\n\n")
BOILERPLATE_END = ("\n\nThis article was provided by Continental Press. Related stories: tide "
                   "tables, ferry timetable, weekend weather, letters to the editor.")

OWN_TEXTS = [
    """Container cranes at Valdora fell silent on Monday as dockworkers began a 72-hour strike,
the first at the port in nine years. Mirela Dascu, who leads the Valdora Dockers' Union, said
4,200 members had stopped work over night-shift pay. Ships queued off the breakwater while the
port authority's Tomas Reyl called the 6 percent offer final. Fruit exporters fear losses.""",
    """The strike at the port of Valdora left more than thirty ships waiting at anchor. Union
leader Mirela Dascu told our reporter that the 4,200 dockworkers would not return before the
72 hours were up unless the port authority improved its pay offer for night shifts. Tomas Reyl,
the authority's chief executive, said cargo would be diverted. Wine exporters are worried.""",
]

ZOO = """The Ostrava zoo welcomed twin snow leopard cubs born to its female Irbis in late
spring, keepers said on Friday. The cubs, a male and a female, weigh about three kilograms each
and will meet visitors in August once their vaccinations are complete. Snow leopards are listed
as vulnerable; fewer than seven thousand live in the wild across the mountains of Central Asia.
The zoo runs a breeding programme with partners in Europe and has raised eleven cubs since 1990."""

FILLERS = [
    ("Council approves library budget", "The city council approved the budget for the new "
     "library on Tuesday. Construction starts in the spring and the building opens next year."),
    ("Football club names new coach", "The football club named a new head coach after a poor "
     "season, promising younger players more minutes and a faster style of play."),
    ("Museum returns looted artefacts", "The national museum returned eleven bronze artefacts "
     "taken during the colonial era, in a ceremony attended by both culture ministers."),
]


def source(name: str) -> Source:
    host = name.lower().replace(" ", "-")
    return Source.objects.create(url=f"https://{host}.example/rss", name=name,
                                 site_url=f"https://{host}.example/")


def store(src: Source, slug: str, title: str, text: str, when: datetime, *,
          noarchive: bool = False) -> Article:
    url = f"{src.site_url}news/{slug}"
    ex = Extracted(title=title, authors=(), published=when, updated=None, language="en",
                   sitename=src.name, image=None, canonical_url=None, description=None,
                   categories=(), text=text, noarchive=noarchive)
    stored = store_article(src, url, url, ex)
    assert stored.outcome == NEW and stored.article_id
    grouping.assign(stored.article_id)
    return Article.objects.get(pk=stored.article_id)


def fresh(a: Article) -> Article:
    return Article.objects.get(pk=a.pk)


@dataclasses.dataclass
class World:
    wire: Article
    reprint: Article
    own: list[Article]
    zoo: Article


def make_world() -> World:
    """A wire story, one reprint of it, two outlets' own reporting, an unrelated story."""
    cpa, courier, daily, gazette = (source(n) for n in (
        "CPA Wire", "Harbour Courier", "Coast Daily", "Valley Gazette"))
    for i, (title, text) in enumerate(FILLERS):
        store(gazette, f"filler-{i}", title, text, NOW - timedelta(hours=30 - i))
    wire = store(cpa, "valdora-strike", "Valdora dockworkers strike over night-shift pay",
                 WIRE, NOW - timedelta(hours=6))
    reprint = store(courier, "strike-wire", "Port strike: ships wait off Valdora",
                    BOILERPLATE_TOP + WIRE + BOILERPLATE_END, NOW - timedelta(hours=5))
    own = [store(daily, "cranes-silent", "Cranes silent as Valdora dockers strike",
                 OWN_TEXTS[0], NOW - timedelta(hours=4)),
           store(gazette, "ships-wait", "Thirty ships wait as Valdora strike bites",
                 OWN_TEXTS[1], NOW - timedelta(hours=3))]
    zoo = store(gazette, "snow-leopards", "Ostrava zoo welcomes twin snow leopard cubs", ZOO,
                NOW - timedelta(hours=2))
    return World(fresh(wire), fresh(reprint), [fresh(a) for a in own], fresh(zoo))


# -- near-duplicates ----------------------------------------------------------------------------
@pytest.mark.django_db
def test_reprint_with_boilerplate_points_at_the_wire_original() -> None:
    w = make_world()
    assert w.reprint.duplicate_of_id == w.wire.pk
    assert w.wire.duplicate_of_id is None
    assert all(a.duplicate_of_id is None for a in [*w.own, w.zoo])


@pytest.mark.django_db
def test_earlier_original_arriving_after_its_copy_becomes_the_original() -> None:
    cpa, courier = source("CPA Wire"), source("Harbour Courier")
    reprint = store(courier, "strike-wire", "Port strike: ships wait off Valdora",
                    BOILERPLATE_TOP + WIRE + BOILERPLATE_END, NOW - timedelta(hours=2))
    assert fresh(reprint).duplicate_of_id is None  # alone so far: an original
    wire = store(cpa, "valdora-strike", "Valdora dockworkers strike", WIRE,
                 NOW - timedelta(hours=6))
    assert fresh(wire).duplicate_of_id is None
    assert fresh(reprint).duplicate_of_id == wire.pk  # flipped
    assert list(wire.copies.values_list("pk", flat=True)) == [reprint.pk]


@pytest.mark.django_db
def test_withheld_article_is_clustered_by_title_but_never_an_original() -> None:
    cpa, courier = source("CPA Wire"), source("Harbour Courier")
    withheld = store(cpa, "valdora-strike", "Valdora dockworkers strike over night-shift pay",
                     WIRE, NOW - timedelta(hours=6), noarchive=True)
    copy = store(courier, "strike-wire", "Valdora dockworkers strike over night-shift pay",
                 WIRE, NOW - timedelta(hours=5))
    assert fresh(withheld).text == "" and fresh(withheld).story_id is not None
    assert fresh(copy).duplicate_of_id is None and not fresh(withheld).copies.exists()


# -- stories ------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_three_outlets_one_story_and_another_event_another_story() -> None:
    w = make_world()
    event = [w.wire, w.reprint, *w.own]
    assert len({a.story_id for a in event}) == 1 and event[0].story_id is not None
    story = Story.objects.get(pk=event[0].story_id)
    assert story.outlet_count == 4 and story.article_count == 4
    assert story.original_id == w.wire.pk  # the earliest non-copy member
    assert story.first_seen == w.wire.published and story.last_updated == w.own[1].published
    assert "Valdora" in story.headline
    assert w.zoo.story_id not in (None, story.pk)
    zoo = Story.objects.get(pk=w.zoo.story_id)
    assert zoo.outlet_count == 1 and zoo.original_id == w.zoo.pk
    # Breadth beats freshness by a few hours: four outlets outrank one, one hour newer.
    assert story.score > zoo.score


def test_score_is_breadth_times_freshness() -> None:
    t = NOW
    assert grouping.story_score(3, 3, t) > grouping.story_score(1, 1, t)
    assert grouping.story_score(1, 1, t + timedelta(hours=1)) > grouping.story_score(1, 1, t)
    # ln(breadth) + t/TAU: doubling the outlets is worth TAU·ln 2 of freshness.
    tau = grouping.TAU
    assert grouping.story_score(2, 2, t) == pytest.approx(
        grouping.story_score(1, 1, t + tau * 0.6931471805599453))


@pytest.mark.django_db
def test_clusterer_state_is_persisted_and_resumed() -> None:
    w = make_world()
    grouping.persist()
    row = ClusterState.objects.get(name=grouping.STATE_NAME)
    assert bytes(row.data)
    grouping.reset()  # a new process: the state comes back from the row
    follow = store(Source.objects.get(name="Coast Daily"), "strike-day-two",
                   "Valdora strike enters second day as Dascu rejects offer",
                   "Dockworkers at Valdora stayed out for a second day. Mirela Dascu of the "
                   "Valdora Dockers' Union rejected the port authority's 6 percent offer, and "
                   "Tomas Reyl said more than thirty ships were still waiting off the breakwater.",
                   NOW - timedelta(hours=1))
    assert follow.story_id == w.wire.story_id
    assert Story.objects.get(pk=follow.story_id).article_count == 5


@pytest.mark.django_db
def test_story_merges_move_articles_of_the_absorbed_story() -> None:
    a = Article.objects.create(source=source("A"), url="https://a.example/1",
                               canonical_url="https://a.example/1", title="x", text="y",
                               content_hash="1", published=NOW)
    b = Article.objects.create(source=source("B"), url="https://b.example/1",
                               canonical_url="https://b.example/1", title="x", text="y",
                               content_hash="2", published=NOW)
    live = grouping._get()
    s1, s2 = Story.objects.create(cluster_id=901), Story.objects.create(cluster_id=902)
    Article.objects.filter(pk=a.pk).update(story=s1)
    Article.objects.filter(pk=b.pk).update(story=s2)
    live.clusterer._merges.append((902, 901))

    c = Article.objects.create(source=source("C"), url="https://c.example/1",
                               canonical_url="https://c.example/1", title="Unrelated",
                               text="Something else entirely.", content_hash="3", published=NOW)
    grouping.assign(c)
    assert fresh(b).story_id == s1.pk and not Story.objects.filter(pk=s2.pk).exists()
    assert Story.objects.get(pk=s1.pk).article_count == 2


# -- surfaces outside the web ---------------------------------------------------------------------
@pytest.mark.django_db
def test_export_carries_story_and_duplicate_of() -> None:
    w = make_world()
    rec = article_record(w.reprint)
    assert rec["story_id"] == w.reprint.story_id and rec["duplicate_of"] == w.wire.pk
    out = io.StringIO()
    export_jsonl(out)
    lines = {r["id"]: r for r in map(json.loads, out.getvalue().splitlines())}
    assert lines[w.wire.pk]["duplicate_of"] is None
    assert lines[w.reprint.pk]["duplicate_of"] == w.wire.pk
    assert all("story_id" in r for r in lines.values())


@pytest.mark.django_db
def test_takedown_of_the_original_promotes_a_copy_and_recounts_stories() -> None:
    from newsdesk.takedown.models import TakedownRequest
    from newsdesk.takedown.removal import remove

    w = make_world()
    second = store(Source.objects.get(name="Valley Gazette"), "strike-wire-2",
                   "Valdora strike (wire)", WIRE + "\n\nMore from the wire: markets, weather.",
                   NOW - timedelta(minutes=270))
    assert fresh(second).duplicate_of_id == w.wire.pk
    story = Story.objects.get(pk=w.wire.story_id)
    before = story.article_count
    req = TakedownRequest.objects.create(kind=TakedownRequest.Kind.URLS, domain="cpa-wire.example",
                                         urls=[w.wire.url], name="Owner",
                                         email="legal@cpa-wire.example")
    assert remove(req, actor="test") == 1
    # The earliest remaining copy is the original now; the other copy points at it.
    assert fresh(w.reprint).duplicate_of_id is None
    assert fresh(second).duplicate_of_id == w.reprint.pk
    story.refresh_from_db()
    assert story.article_count == before - 1 and story.original_id == w.reprint.pk
    # A story left empty is deleted.
    zoo_story = w.zoo.story_id
    req2 = TakedownRequest.objects.create(kind=TakedownRequest.Kind.URLS,
                                          domain="valley-gazette.example", urls=[w.zoo.url],
                                          name="Owner", email="legal@valley-gazette.example")
    assert remove(req2, actor="test") == 1
    assert not Story.objects.filter(pk=zoo_story).exists()
    # A later copy of the removed original is not pointed at it.
    late = store(Source.objects.get(name="Coast Daily"), "strike-wire-3", "Valdora (wire)",
                 WIRE + "\n\nCoast Daily wire desk.", NOW - timedelta(minutes=200))
    assert fresh(late).duplicate_of_id != w.wire.pk


# -- the demo web, crawled ----------------------------------------------------------------------
@pytest.mark.django_db
def test_ungrouped_articles_are_grouped_in_publication_order() -> None:
    """Stored out of order (or before a crash), grouped at the end of the pass in time order."""
    wire, paper = source("Wire Agency"), source("Harbour Paper")
    text = ("The harbour bridge reopened on Monday after fourteen months of repairs, the port "
            "authority said, with all cables replaced and tolls waived for a week. ") * 4
    t0 = datetime(2026, 11, 20, 8, tzinfo=UTC)
    # The copy is stored first, the original (published earlier) second; no grouping yet.
    ids = []
    for src, slug, when, body in ((paper, "copy", t0 + timedelta(hours=2),
                                   "Provided by Wire Agency. " + text),
                                  (wire, "orig", t0, text)):
        url = f"{src.site_url}news/{slug}"
        ex = Extracted(title="Harbour bridge reopens", authors=(), published=when, updated=None,
                       language="en", sitename=src.name, image=None, canonical_url=None,
                       description=None, categories=(), text=body)
        ids.append(store_article(src, url, url, ex).article_id)
    assert Article.objects.filter(story__isnull=True).count() == 2
    assert grouping.assign_ungrouped() == 2
    copy, orig = (Article.objects.get(pk=i) for i in ids)
    assert copy.duplicate_of_id == orig.pk and orig.duplicate_of_id is None
    assert copy.story_id == orig.story_id is not None
    assert grouping.assign_ungrouped() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_demo_web_crawled_groups_bridge_story_and_wire_reprints(tmp_path: object) -> None:
    from newsdesk.conf import load
    from newsdesk.devtools.demo import build
    from newsdesk.runner.crawl import Crawler
    from newsdesk.runner.demo import add_sources

    web = build(NOW)
    server = web.serve()
    try:
        config = dataclasses.replace(load(), allow_private_networks=True, host_delay=0.0)
        add_sources(config, web, server)

        async def crawl() -> None:
            async with Crawler(config, workers=0) as crawler:
                await crawler.run_once(due_only=False)

        asyncio.run(crawl())
    finally:
        server.stop()
    by_path = {}
    for a in Article.objects.all():
        by_path[a.url.split("/", 3)[3]] = a
    assert len(by_path) == len(web.public())

    def article(ref: str) -> Article:
        demo = next(d for d in web.articles if d.ref == ref)
        return by_path[demo.path.lstrip("/")]

    bridge = [article(d.ref) for d in web.public() if d.story == "harbour-bridge"]
    assert len(bridge) == 4
    # The two English reports share a story; the German and French ones do not join it (the
    # TF-IDF clusterer has no cross-language signal).
    english = [a for a in bridge if a.language == "en"]
    assert len(english) == 2 and len({a.story_id for a in english}) == 1
    assert english[0].story_id is not None
    story = Story.objects.get(pk=english[0].story_id)
    assert story.outlet_count == 2 and "Continental Press" in story.original.source.name

    reprints = [d for d in web.public() if d.reprint_of]
    assert len(reprints) == 2
    wire = article(reprints[0].reprint_of)
    for d in reprints:
        assert article(d.ref).duplicate_of_id == wire.pk
    assert wire.duplicate_of_id is None
    assert ClusterState.objects.filter(name=grouping.STATE_NAME).exists()

    # No false stories: articles share a story only if the demo web says they cover one event
    # (its `story` tag) or one reprints the other. Known limitation: two unrelated CPA wire
    # stories still clump (same outlet, same fictional place names and sign-off, and a 35-doc
    # corpus gives IDF little to work with); everything else must be clean.
    def event(d: object) -> str:
        return getattr(d, "story", None) or getattr(d, "reprint_of", None) or d.ref  # type: ignore[attr-defined]

    events_of: dict[int, set[str]] = {}
    for d in web.public():
        a = article(d.ref)
        if a.story_id is not None:
            events_of.setdefault(a.story_id, set()).add(event(d))
    mixed = [ev for ev in events_of.values() if len(ev) > 1]
    assert all(all(e.startswith("cpa-wire/") for e in ev) for ev in mixed), mixed
    assert len(mixed) <= 1
