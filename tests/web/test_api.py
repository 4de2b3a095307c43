"""The JSON API (/api/): routes, filters, keyset pagination, errors, caching, OpenAPI, fuzzing."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django.urls import NoReverseMatch
from django.utils import timezone

from newsdesk.news.export import article_record
from newsdesk.news.models import Article, Author, Category, Source

pytestmark = pytest.mark.django_db


def dt(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass(frozen=True)
class Spec:
    key: str
    source: str
    title: str
    text: str
    language: str
    published: datetime | None
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


# Spans six months; two articles share a timestamp (the cursor must break the tie by id), one has
# no publication date (it sorts by when it was first seen).
SPECS = [
    Spec("bridge", "coast", "Harbour bridge reopens", "The harbour bridge reopened after repairs.",
         "en", dt(2026, 2, 10, 8), ("Ana Lima",), ("Transport",)),
    Spec("ferry", "coast", "Ferry timetable changes", "New ferry times start on Monday.",
         "en", dt(2026, 2, 1, 12), ("Bruno Costa",), ("Transport",)),
    Spec("budget", "coast", "City budget approved", "The council approved the budget.",
         "en", dt(2026, 1, 20, 9), ("Ana Lima", "Bruno Costa"), ("Politics",)),
    Spec("storm", "coast", "Storm warning for the coast", "A storm reaches the harbour tonight.",
         "en", dt(2026, 1, 20, 9), (), ("Weather",)),
    Spec("festival", "monde", "Le festival ouvre ses portes", "Le festival de musique commence.",
         "fr", dt(2026, 1, 5, 18), ("Claire Dubois",), ("Culture",)),
    Spec("elections", "monde", "Élections municipales", "Les électeurs votent dimanche.",
         "fr", dt(2025, 12, 14, 7), ("Claire Dubois", "Ana Lima"), ("Politics",)),
    Spec("museum", "monde", "Le musée rouvre", "Le musée rouvre après travaux sur le port.",
         "fr", dt(2025, 11, 30, 10), ("Claire Dubois",), ("Culture",)),
    Spec("harvest", "coast", "A record harvest", "Farmers report a record harvest this autumn.",
         "en", dt(2025, 10, 12, 6), ("Bruno Costa",), ()),
    Spec("tram", "coast", "Tram line extended", "The tram line now reaches the harbour.",
         "en", dt(2025, 9, 3, 15), ("Ana Lima",), ("Transport",)),
    Spec("undated", "monde", "Note sans date", "Une note publiée sans date.",
         "fr", None, (), ()),  # first seen 2025-08-20
    Spec("regatta", "coast", "Regatta crowds", "Crowds watched the regatta in the bay.",
         "en", dt(2025, 8, 2, 11), ("Bruno Costa",), ("Sport",)),
]
UNDATED_SEEN = dt(2025, 8, 20)


@dataclass
class Data:
    sources: dict[str, Source]
    articles: dict[str, Article]  # by Spec.key
    ids: dict[str, int]

    def keys(self, pred: Any = lambda s: True) -> list[str]:
        """Spec keys matching `pred`, in the API's order: (sort time, id) descending."""
        specs = [s for s in SPECS if pred(s)]
        return sorted((s.key for s in specs), key=lambda k: (
            self.articles[k].sort_at, self.articles[k].pk), reverse=True)


@pytest.fixture
def data() -> Data:
    world = Category.get("World")
    coast = Source.objects.create(
        url="https://coast.example/feed.xml", name="Coast Daily", site_url="https://coast.example/",
        language="en", category=world, last_success_at=dt(2026, 2, 10, 9),
        last_polled_at=dt(2026, 2, 10, 9))
    monde = Source.objects.create(
        url="https://monde.example/rss", name="", site_url="https://monde.example/",
        language="fr", last_error_at=dt(2026, 2, 10, 9), last_error_reason="http_503",
        last_error="503 Service Unavailable", consecutive_failures=3)
    Source.objects.create(url="https://quiet.example/atom.xml", name="Quiet", kind="atom",
                          active=False)
    Category.get("Economy")  # a category without articles
    sources = {"coast": coast, "monde": monde}
    arts: dict[str, Article] = {}
    for s in SPECS:
        a = Article.objects.create(
            source=sources[s.source], url=f"https://{s.source}.example/{s.key}?utm_source=rss",
            canonical_url=f"https://{s.source}.example/{s.key}", title=s.title, text=s.text,
            summary=s.text[:20], language=s.language, published=s.published,
            first_seen_at=s.published or UNDATED_SEEN, content_hash=s.key)
        a.authors.set(Author.get_many(list(s.authors)))
        a.categories.set(Category.get_many(list(s.categories)))
        arts[s.key] = a
    return Data(sources, arts, {k: a.pk for k, a in arts.items()})


@pytest.fixture
def client() -> Client:
    return Client()


def get(client: Client, path: str, **params: Any) -> Any:
    return client.get(path + ("?" + urlencode(params) if params else ""))


def keys_of(data: Data, items: list[dict[str, Any]]) -> list[str]:
    by_id = {v: k for k, v in data.ids.items()}
    return [by_id[i["id"]] for i in items]


def web_url(obj: Any) -> str | None:
    try:
        return obj.get_absolute_url()
    except NoReverseMatch:  # the pages may not route this yet
        return None


def slug(cls: type[Author] | type[Category], name: str) -> str:
    return cls.objects.get(name=name).slug


# --------------------------------------------------------------------------- articles
def test_list_articles_shape_and_order(client: Client, data: Data) -> None:
    r = client.get("/api/articles")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"items", "next_cursor"} and body["next_cursor"] is None
    assert keys_of(data, body["items"]) == data.keys()
    item = next(i for i in body["items"] if i["id"] == data.ids["elections"])
    a = data.articles["elections"]
    assert item["url"] == "https://monde.example/elections?utm_source=rss"  # the primary source
    assert item["canonical_url"] == "https://monde.example/elections"
    assert item["title"] == "Élections municipales"
    assert item["authors"] == ["Ana Lima", "Claire Dubois"]  # by name, as the export lists them
    assert item["published"] == "2025-12-14T07:00:00+00:00"
    assert item["language"] == "fr" and item["categories"] == ["Politics"]
    assert item["source"] == {"id": data.sources["monde"].pk, "name": "",
                              "url": "https://monde.example/rss",
                              "site_url": "https://monde.example/"}
    assert item["summary"] == "Les électeurs votent"[:20]
    assert item["web_url"] == web_url(a) and "text" not in item
    assert item["fetched_at"] and item["first_seen_at"].startswith("2025-12-14")
    # The same fields and values as the export line, minus the text, plus our page.
    a = Article.objects.get(pk=a.pk)
    assert item == {**article_record(a, text=False), "web_url": web_url(a)}


def test_article_detail_adds_text(client: Client, data: Data) -> None:
    a = data.articles["bridge"]
    r = client.get(f"/api/articles/{a.pk}")
    assert r.status_code == 200
    body = r.json()
    assert body["text"] == "The harbour bridge reopened after repairs."
    assert body["url"] == a.url and body["authors"] == ["Ana Lima"]
    assert body == {**article_record(Article.objects.get(pk=a.pk)), "web_url": web_url(a)}


def test_unknown_article_is_json_404(client: Client, data: Data) -> None:
    gone = data.ids["bridge"]
    data.articles["bridge"].delete()
    for pk in (gone, 999_999):
        r = client.get(f"/api/articles/{pk}")
        assert r.status_code == 404 and r.json() == {"detail": f"no article with id {pk}"}


@pytest.mark.parametrize("bad", ["abc", "0", "-3", "1.5", str(2**64)])
def test_malformed_article_id_is_422(client: Client, data: Data, bad: str) -> None:
    r = client.get(f"/api/articles/{bad}")
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)


FILTERS: list[tuple[str, Any, Any]] = [
    ("source=coast", lambda d: {"source": d.sources["coast"].pk}, lambda s: s.source == "coast"),
    ("category", lambda d: {"category": slug(Category, "Transport")},
     lambda s: "Transport" in s.categories),
    ("language", lambda d: {"language": "fr"}, lambda s: s.language == "fr"),
    ("language-case", lambda d: {"language": "EN"}, lambda s: s.language == "en"),
    ("author", lambda d: {"author": slug(Author, "Ana Lima")}, lambda s: "Ana Lima" in s.authors),
    ("since-date", lambda d: {"since": "2026-01-01"},
     lambda s: (s.published or UNDATED_SEEN) >= dt(2026, 1, 1)),
    ("until-date", lambda d: {"until": "2025-10-01"},
     lambda s: (s.published or UNDATED_SEEN) < dt(2025, 10, 1)),
    ("since-until-datetime", lambda d: {"since": "2026-01-20T09:00:00Z",
                                        "until": "2026-02-01T12:00:00+00:00"},
     lambda s: s.published is not None and dt(2026, 1, 20, 9) <= s.published < dt(2026, 2, 1, 12)),
    ("since-offset", lambda d: {"since": "2026-02-01T14:00:00+02:00"},  # 12:00 UTC
     lambda s: s.published is not None and s.published >= dt(2026, 2, 1, 12)),
    ("q", lambda d: {"q": "harbour"}, lambda s: "harbour" in (s.title + s.text).lower()),
    ("q-phrase", lambda d: {"q": '"harbour bridge"'}, lambda s: s.key == "bridge"),
    ("q-accent-insensitive", lambda d: {"q": "elections"}, lambda s: s.key == "elections"),
    ("q-no-words", lambda d: {"q": "?!"}, lambda s: False),
    ("combined", lambda d: {"q": "harbour", "author": slug(Author, "Ana Lima"),
                            "category": slug(Category, "Transport"), "since": "2025-10-01"},
     lambda s: s.key == "bridge"),
    ("unknown-category", lambda d: {"category": "nope"}, lambda s: False),
    ("unknown-source", lambda d: {"source": 999999}, lambda s: False),
]


@pytest.mark.parametrize(("params", "pred"), [(p, w) for _, p, w in FILTERS],
                         ids=[n for n, _, _ in FILTERS])
def test_filters_narrow_correctly(client: Client, data: Data, params: Any, pred: Any) -> None:
    r = get(client, "/api/articles", **params(data))
    assert r.status_code == 200, r.content
    assert keys_of(data, r.json()["items"]) == data.keys(pred)


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_cursor_walk_sees_every_item_once_while_newer_ones_arrive(
        client: Client, data: Data, limit: int) -> None:
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        body = get(client, "/api/articles", **params).json()
        assert len(body["items"]) <= limit
        seen += keys_of(data, body["items"])
        pages += 1
        if pages == 1:  # newer articles land mid-walk; the walk must not shift or repeat
            for n in range(3):
                Article.objects.create(
                    source=data.sources["coast"], url=f"https://coast.example/new{n}",
                    canonical_url=f"https://coast.example/new{n}", title=f"Breaking {n}",
                    published=timezone.now() + timedelta(minutes=n), content_hash=f"new{n}")
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == data.keys()
    assert pages == -(-len(SPECS) // limit)


def test_cursor_keeps_filters(client: Client, data: Data) -> None:
    fr = get(client, "/api/articles", language="fr", limit=2).json()
    rest = get(client, "/api/articles", language="fr", limit=200, cursor=fr["next_cursor"]).json()
    assert keys_of(data, fr["items"] + rest["items"]) == data.keys(lambda s: s.language == "fr")


@pytest.mark.parametrize(("limit", "count"), [(1, 1), (200, len(SPECS)), (None, len(SPECS))])
def test_limit_bounds(client: Client, data: Data, limit: int | None, count: int) -> None:
    r = get(client, "/api/articles", **({"limit": limit} if limit else {}))
    assert r.status_code == 200 and len(r.json()["items"]) == count


def test_default_limit_is_20(client: Client, data: Data) -> None:
    for n in range(15):
        Article.objects.create(source=data.sources["coast"], url=f"https://coast.example/x{n}",
                               canonical_url=f"https://coast.example/x{n}", content_hash="x")
    body = client.get("/api/articles").json()
    assert len(body["items"]) == 20 and body["next_cursor"]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(("params", "status"), [
    ({"limit": 0}, 422),
    ({"limit": 201}, 422),
    ({"limit": "ten"}, 422),
    ({"source": "coast"}, 422),
    ({"source": 2**64}, 422),
    ({"since": "yesterday"}, 422),
    ({"until": "2026-13-01"}, 422),
    ({"since": "9999-12-31T23:59:59-23:59"}, 422),  # overflows when converted to UTC
    ({"q": "harbour\x00"}, 422),
    ({"author": "a\x00b"}, 422),
    ({"cursor": "not a cursor!"}, 400),
    ({"cursor": _b64(b"[1, 2, 3]")}, 400),
    ({"cursor": _b64(b'["2026-01-01T00:00:00+00:00", 1e400]')}, 400),
    ({"cursor": _b64(json.dumps(["2026-01-01T00:00:00+00:00", 2**70]).encode())}, 400),
    ({"cursor": _b64(json.dumps(["0001-01-01T00:00:00+05:00", 1]).encode())}, 400),
    ({"cursor": _b64(b"[" * 100_000)}, 400),
    ({"cursor": _b64(b"\xff\xfe")}, 400),
])
def test_bad_parameters_are_json_4xx(
        client: Client, data: Data, params: dict[str, Any], status: int) -> None:
    r = get(client, "/api/articles", **params)
    assert r.status_code == status, r.content
    detail = r.json()["detail"]
    assert isinstance(detail, str) and detail
    name = next(iter(params))
    assert name in detail or status == 400


def test_invalid_date_message_names_the_parameter(client: Client, data: Data) -> None:
    body = get(client, "/api/articles", since="yesterday").json()
    assert body["detail"].startswith("since: ") and body["errors"][0]["loc"][-1] == "since"


# --------------------------------------------------------------------------- sources etc.
def test_sources(client: Client, data: Data) -> None:
    r = client.get("/api/sources")
    assert r.status_code == 200
    items = {i["url"]: i for i in r.json()["items"]}
    assert len(items) == 3
    coast = items["https://coast.example/feed.xml"]
    assert coast["id"] == data.sources["coast"].pk and coast["name"] == "Coast Daily"
    assert coast["kind"] == "rss" and coast["active"] is True and coast["language"] == "en"
    assert coast["category"] == {"name": "World", "slug": "world"}
    assert coast["article_count"] == sum(s.source == "coast" for s in SPECS)
    assert coast["health"]["last_success"] == "2026-02-10T09:00:00+00:00"
    assert coast["health"]["consecutive_failures"] == 0
    assert coast["health"]["last_error_reason"] is None
    assert coast["web_url"] == web_url(data.sources["coast"])
    monde = items["https://monde.example/rss"]
    assert monde["name"] == "https://monde.example/"  # no name: falls back to the site
    assert monde["health"]["consecutive_failures"] == 3
    assert monde["health"]["last_error_reason"] == "http_503"
    assert monde["health"]["last_success"] is None and monde["health"]["next_poll"]
    assert monde["category"] is None
    quiet = items["https://quiet.example/atom.xml"]
    assert quiet["article_count"] == 0 and quiet["active"] is False and quiet["kind"] == "atom"


def test_categories(client: Client, data: Data) -> None:
    r = client.get("/api/categories")
    assert r.status_code == 200
    got = {i["name"]: (i["slug"], i["article_count"]) for i in r.json()["items"]}
    names = {c for s in SPECS for c in s.categories}
    assert got == {
        **{n: (slug(Category, n), sum(n in s.categories for s in SPECS)) for n in names},
        "World": ("world", 0), "Economy": ("economy", 0),  # sources' and empty categories too
    }
    assert [i["name"] for i in r.json()["items"]] == sorted(got)


def test_author(client: Client, data: Data) -> None:
    s = slug(Author, "Ana Lima")
    r = client.get(f"/api/authors/{s}")
    assert r.status_code == 200
    body = r.json()
    mine = data.keys(lambda x: "Ana Lima" in x.authors)
    assert body["name"] == "Ana Lima" and body["slug"] == s
    assert body["article_count"] == len(mine)
    assert keys_of(data, body["latest"]) == mine
    assert "text" not in body["latest"][0]
    assert body["outlets"] == [
        {"id": data.sources["coast"].pk, "name": "Coast Daily",
         "url": "https://coast.example/feed.xml", "article_count": 3},
        {"id": data.sources["monde"].pk, "name": "https://monde.example/",
         "url": "https://monde.example/rss", "article_count": 1},
    ]
    assert body["web_url"] == web_url(Author.objects.get(slug=s))


def test_unknown_author_is_json_404(client: Client, data: Data) -> None:
    r = client.get("/api/authors/nobody")
    assert r.status_code == 404 and "nobody" in r.json()["detail"]


# --------------------------------------------------------------------------- HTTP caching
def test_get_is_cacheable_with_etag_and_304(client: Client, data: Data) -> None:
    r = client.get("/api/articles")
    assert "public" in r["Cache-Control"] and "max-age=60" in r["Cache-Control"]
    etag = r["ETag"]
    again = client.get("/api/articles", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and not again.content
    Article.objects.create(source=data.sources["coast"], url="https://coast.example/z",
                           canonical_url="https://coast.example/z", content_hash="z")
    changed = client.get("/api/articles", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_errors_are_not_publicly_cached(client: Client, data: Data) -> None:
    r = client.get("/api/articles/999999")
    assert r.status_code == 404 and "public" not in r.get("Cache-Control", "")


# --------------------------------------------------------------------------- OpenAPI
@pytest.fixture
def wsgi_app(settings: Any) -> Iterator[WSGIHandler]:
    """Django as a plain WSGI app for schemathesis, inside this test's transaction.

    Like Django's own test client, keep request signals from closing the connection (that
    would roll the test's data back under PostgreSQL).
    """
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_openapi_document_and_docs(client: Client, wsgi_app: WSGIHandler) -> None:
    import schemathesis

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", wsgi_app)
    schema.validate()  # against the OpenAPI meta-schema; raises on an invalid document
    paths = set(schema.raw_schema["paths"])
    assert paths == {"/api/articles", "/api/articles/{id}", "/api/sources", "/api/categories",
                     "/api/authors/{slug}", "/api/stories", "/api/stories/{id}",
                     "/api/takedown-requests",
                     "/api/takedown-requests/{public_id}",
                     "/api/takedown-requests/{public_id}/verify"}
    params = {p["name"] for p in schema.raw_schema["paths"]["/api/articles"]["get"]["parameters"]}
    assert params == {"q", "source", "category", "language", "author", "since", "until",
                      "cursor", "limit"}


def test_docs_page_loads_only_same_origin_scripts(client: Client) -> None:
    # The site's CSP forbids inline and third-party scripts: the docs must not need them.
    html = client.get("/api/docs").content.decode()
    scripts = re.findall(r"<script([^>]*)>", html)
    srcs = [re.search(r'src="([^"]+)"', a) for a in scripts]
    assert [m.group(1) for m in srcs if m] == ["/api/docs/assets/swagger-ui-bundle.js",
                                               "/api/docs/assets/swagger-ui-init.js"]
    assert all(m or 'type="application/json"' in a for a, m in zip(scripts, srcs, strict=True))
    assert '"url": "/api/openapi.json"' in html
    for name in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-init.js", "favicon.png"):
        r = client.get(f"/api/docs/assets/{name}")
        assert r.status_code == 200 and r.content
    assert client.get("/api/docs/assets/swagger-ui.css.map").status_code == 404
    assert client.get("/api/docs/assets/..%2F..%2F__init__.py").status_code == 404


@pytest.mark.timeout(90)
def test_schemathesis_finds_no_server_error(data: Data, wsgi_app: WSGIHandler) -> None:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis.checks import not_a_server_error

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", wsgi_app)
    operations = [r.ok() for r in schema.get_all_operations()]
    # Takedown POSTs would file requests and fetch verification files from generated domains
    # (network); they have their own tests in tests/takedown.
    operations = [op for op in operations
                  if not (op.method.upper() == "POST" and "takedown" in op.path)]
    assert len(operations) == 8
    negative_runs = 0
    for op in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @settings(max_examples=25, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy(generation_mode=mode))
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(checks=[not_a_server_error])

            try:
                check()
            except Unsatisfiable:
                # No schema-violating request exists for this operation (no parameters, or
                # only a free-form string), so there is nothing negative to send.
                if mode is schemathesis.GenerationMode.POSITIVE:
                    raise
            else:
                negative_runs += mode is schemathesis.GenerationMode.NEGATIVE
    assert negative_runs >= 2  # /articles and /articles/{id} at least
