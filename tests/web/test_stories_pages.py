"""Stories and near-duplicates on the web: story page, front page, listings, article, API."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from newsdesk.news.models import Article, Source, Story
from tests.news.test_grouping import NOW, WIRE, World, make_world, source, store


@pytest.fixture
def world(db: None) -> World:
    return make_world()


def page(client: Client, url: str, status: int = 200) -> str:
    r = client.get(url)
    assert r.status_code == status, (url, r.status_code)
    return html.unescape(r.content.decode())


def test_story_page_full_coverage(client: Client, world: World) -> None:
    story = Story.objects.get(pk=world.wire.story_id)
    body = page(client, f"/story/{story.pk}")
    assert "Full coverage" in body and story.headline in body
    assert "Original reporter: " in body and "CPA Wire" in body
    # Every member, with its primary source link, earliest first.
    members = [world.wire, world.reprint, *world.own]
    positions = [body.index(a.url) for a in members]
    assert positions == sorted(positions)
    # The reprint sits under "Copies of <original>".
    copies_at = body.index(f"Copies of {world.wire.title}")
    assert body.index(world.wire.url) < copies_at < body.index(world.reprint.url)
    assert "4 outlets" in body and "4 articles" in body
    page(client, "/story/999999", 404)


def test_front_page_ranks_stories_by_breadth_and_freshness(client: Client, world: World) -> None:
    body = page(client, "/")
    top = body[body.index("Top stories"):body.index("Latest")]
    strike = Story.objects.get(pk=world.wire.story_id)
    zoo = Story.objects.get(pk=world.zoo.story_id)
    assert f'href="/story/{strike.pk}"' in top and f'href="/story/{zoo.pk}"' in top
    assert top.index(f'href="/story/{strike.pk}"') < top.index(f'href="/story/{zoo.pk}"')
    assert "4 outlets" in top and "First reported by" in top and "CPA Wire" in top
    assert world.wire.url in top  # each story card links the original's primary source
    # Freshness wins when breadth is equal: a brand-new single-outlet story beats the zoo.
    newer = store(Source.objects.get(name="Coast Daily"), "volcano",
                  "Volcano on Isla Brava erupts, flights cancelled",
                  "Mount Cerro Alto on Isla Brava erupted overnight, sending ash twelve "
                  "kilometres high; the airport cancelled all flights and ferries stayed put.",
                  NOW - timedelta(minutes=30))
    top = page(client, "/")
    top = top[top.index("Top stories"):top.index("Latest")]
    assert top.index(f'href="/story/{newer.story_id}"') < top.index(f'href="/story/{zoo.pk}"')
    # The latest articles are still listed below, newest first.
    latest = body[body.index("Latest"):]
    assert latest.index(world.zoo.title) < latest.index(world.own[1].title)


def test_listing_says_also_published_with_bounded_queries(
        client: Client, world: World, django_assert_max_num_queries: Any) -> None:
    src = Source.objects.get(name="CPA Wire")
    with django_assert_max_num_queries(8):
        body = page(client, f"/source/{src.pk}")
    assert "also published by 1 outlet" in body
    # More copies: the count grows, the number of queries does not.
    for i, name in enumerate(["Bay Post", "River Times", "Hill Herald"]):
        store(source(name), f"wire-{i}", f"Valdora strike ({name})",
              WIRE + f"\n\nFrom the {name} wire desk. Subscribe for more news.",
              NOW - timedelta(hours=4, minutes=i))
    with django_assert_max_num_queries(8):
        body = page(client, f"/source/{src.pk}")
    assert "also published by 4 outlets" in body
    with django_assert_max_num_queries(10):
        body = page(client, "/")
    assert "also published by 4 outlets" in body


def test_copy_links_its_original(client: Client, world: World) -> None:
    body = page(client, world.reprint.get_absolute_url())
    assert "Originally published by" in body and "CPA Wire" in body
    assert f'href="{world.wire.get_absolute_url()}"' in body and world.wire.url in body
    assert "Full coverage: 4 outlets" in body
    original = page(client, world.wire.get_absolute_url())
    assert "Originally published by" not in original


# -- API ----------------------------------------------------------------------------------------
def test_api_stories_list_shape_and_cursor(client: Client, world: World) -> None:
    r = client.get("/api/stories?limit=1")
    assert r.status_code == 200
    data = r.json()
    strike = Story.objects.get(pk=world.wire.story_id)
    item = data["items"][0]
    assert item["id"] == strike.pk  # best score first
    assert set(item) == {"id", "headline", "outlet_count", "article_count", "first_seen",
                         "last_updated", "score", "original", "web_url"}
    assert item["outlet_count"] == 4 and item["article_count"] == 4
    assert item["original"] == {
        "id": world.wire.pk, "url": world.wire.url,
        "source": {"id": world.wire.source_id, "name": "CPA Wire",
                   "url": world.wire.source.url, "site_url": world.wire.source.site_url}}
    assert item["web_url"] == f"/story/{strike.pk}"
    seen = [item["id"]]
    cursor = data["next_cursor"]
    while cursor:
        data = client.get(f"/api/stories?limit=1&cursor={cursor}").json()
        seen += [i["id"] for i in data["items"]]
        cursor = data["next_cursor"]
    assert sorted(seen) == sorted(Story.objects.values_list("pk", flat=True))
    assert len(seen) == len(set(seen))
    by_time = client.get("/api/stories?order=last_updated").json()["items"]
    times = [i["last_updated"] for i in by_time]
    assert times == sorted(times, reverse=True)
    # A cursor of the other order, or garbage, is a 400; a bad order is a 422.
    first = client.get("/api/stories?limit=1").json()["next_cursor"]
    assert client.get(f"/api/stories?order=last_updated&cursor={first}").status_code == 400
    assert client.get("/api/stories?cursor=bm9wZQ").status_code == 400
    assert client.get("/api/stories?order=nope").status_code == 422


def test_api_story_detail_and_404(client: Client, world: World) -> None:
    strike = Story.objects.get(pk=world.wire.story_id)
    data = client.get(f"/api/stories/{strike.pk}").json()
    members = data["members"]
    assert [m["id"] for m in members] == [world.wire.pk, world.reprint.pk,
                                          *[a.pk for a in world.own]]
    reprint = members[1]
    assert set(reprint) == {"id", "title", "url", "source", "published", "duplicate_of",
                            "web_url"}
    assert reprint["duplicate_of"] == world.wire.pk and reprint["url"] == world.reprint.url
    assert members[0]["duplicate_of"] is None
    r = client.get("/api/stories/987654321")
    assert r.status_code == 404 and r.json() == {"detail": "no story with id 987654321"}
    assert client.get("/api/stories/0").status_code == 422
    assert client.get(f"/api/stories/{2**64}").status_code == 422


def test_api_articles_carry_story_and_duplicate_of(client: Client, world: World) -> None:
    items = client.get("/api/articles?limit=50").json()["items"]
    by_id = {i["id"]: i for i in items}
    assert by_id[world.reprint.pk]["duplicate_of"] == world.wire.pk
    assert by_id[world.reprint.pk]["story_id"] == world.wire.story_id
    assert by_id[world.zoo.pk]["duplicate_of"] is None
    detail = client.get(f"/api/articles/{world.reprint.pk}").json()
    assert detail["duplicate_of"] == world.wire.pk and detail["story_id"] == world.wire.story_id


def test_takedown_removes_story_from_surfaces(client: Client, world: World,
                                              django_capture_on_commit_callbacks: Any) -> None:
    from newsdesk.takedown.models import TakedownRequest
    from newsdesk.takedown.removal import remove

    zoo_story = world.zoo.story_id
    req = TakedownRequest.objects.create(kind=TakedownRequest.Kind.URLS,
                                         domain="valley-gazette.example", urls=[world.zoo.url],
                                         name="Owner", email="o@valley-gazette.example")
    with django_capture_on_commit_callbacks(execute=True):
        remove(req, actor="test")
    page(client, f"/story/{zoo_story}", 404)
    assert client.get(f"/api/stories/{zoo_story}").status_code == 404
    assert zoo_story not in [i["id"] for i in client.get("/api/stories").json()["items"]]
    assert not Article.objects.filter(pk=world.zoo.pk).exists()
