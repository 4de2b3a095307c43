"""Request and response shapes of the JSON API (they are also its OpenAPI document).

Times are served as the ISO 8601 strings `newsdesk.news.export.article_record` builds, so an API
item and an export line carry identical values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from django.utils import timezone
from ninja import Field, Schema
from pydantic import AfterValidator, WithJsonSchema

MAX_ID = 2**63 - 1  # beyond a 64-bit integer the database adapter fails (a 500, not a 404)


def _no_nul(value: str | None) -> str | None:
    # PostgreSQL rejects NUL in text parameters with a driver error: refuse it up front.
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _to_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:  # naive means UTC; an extreme offset on year 1 or 9999 overflows the conversion
        aware = value if timezone.is_aware(value) else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("date is out of range") from exc


Text = Annotated[str | None, AfterValidator(_no_nul)]
When = Annotated[datetime | None, AfterValidator(_to_utc)]
IsoTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class ArticleQuery(Schema):
    q: Text = Field(None, description="Full-text search: all words must match; \"quoted phrases\".")
    source: int | None = Field(None, ge=1, le=MAX_ID, description="Source id.")
    category: Text = Field(None, description="Category slug.")
    language: Text = Field(None, description="Language code, e.g. `en`.")
    author: Text = Field(None, description="Author slug.")
    since: When = Field(None, description="ISO date or datetime (inclusive; naive means UTC).")
    until: When = Field(None, description="ISO date or datetime (exclusive; naive means UTC).")
    cursor: Text = Field(None, description="`next_cursor` of the previous page.")
    limit: int = Field(20, ge=1, le=200, description="Items per page.")


class Error(Schema):
    detail: str


class InvalidParam(Schema):
    loc: list[str] = Field(description='Where, e.g. `["query", "since"]`.')
    msg: str
    type: str


class Invalid(Error):
    errors: list[InvalidParam]


class SourceRef(Schema):
    id: int
    name: str
    url: str
    site_url: str | None


class ArticleItem(Schema):
    id: int
    url: str = Field(description="The primary source: the page as the outlet published it.")
    canonical_url: str
    title: str
    authors: list[str]
    published: IsoTime | None
    modified: IsoTime | None
    language: str | None
    summary: str | None
    image: str | None
    source: SourceRef
    categories: list[str]
    fetched_at: IsoTime
    first_seen_at: IsoTime
    changed_at: IsoTime | None
    withheld: str | None = Field(
        description="Why the text is not served (e.g. 'noarchive': the publisher opted out); "
                    "null when it is.")
    web_url: str | None = Field(description="This article's page on this site.")
    cited: list[str] = Field(
        default_factory=list,
        description="Other outlets the text credits (\"according to Reuters\"), by name, in "
                    "order of first mention.")
    story_id: int | None = Field(
        None, description="The story (one event across outlets) this article belongs to: "
                          "`/api/stories/{story_id}`.")
    duplicate_of: int | None = Field(
        None, description="Id of the original this article is a near-duplicate copy of "
                          "(syndicated text); null for originals and unique articles.")


class ArticleDetail(ArticleItem):
    text: str = Field(description="The article text, Markdown.")


class ArticlePage(Schema):
    items: list[ArticleItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class CategoryRef(Schema):
    name: str
    slug: str


class SourceHealth(Schema):
    last_polled: IsoTime | None
    last_success: IsoTime | None
    last_error: IsoTime | None
    last_error_reason: str | None
    consecutive_failures: int
    next_poll: IsoTime


class SourceItem(Schema):
    id: int
    name: str
    url: str
    site_url: str | None
    kind: str
    language: str | None
    category: CategoryRef | None
    active: bool
    article_count: int
    health: SourceHealth
    web_url: str | None


class SourceList(Schema):
    items: list[SourceItem]


class CategoryItem(Schema):
    name: str
    slug: str
    article_count: int
    web_url: str | None


class CategoryList(Schema):
    items: list[CategoryItem]


class Outlet(Schema):
    id: int
    name: str
    url: str
    article_count: int = Field(description="This author's articles from this source.")


class AuthorDetail(Schema):
    name: str
    slug: str
    article_count: int
    outlets: list[Outlet]
    latest: list[ArticleItem] = Field(
        description="Newest articles; page on with `/api/articles?author=<slug>`."
    )
    web_url: str | None


class StoryQuery(Schema):
    order: Literal["score", "last_updated"] = Field(
        "score", description="`score`: breadth of coverage × freshness (the front page's "
                             "ranking); `last_updated`: most recently updated first.")
    cursor: Text = Field(None, description="`next_cursor` of the previous page.")
    limit: int = Field(20, ge=1, le=200, description="Items per page.")


class ArticleRef(Schema):
    id: int
    url: str = Field(description="The primary source.")
    source: SourceRef


class StoryItem(Schema):
    id: int
    headline: str
    outlet_count: int
    article_count: int
    first_seen: IsoTime
    last_updated: IsoTime
    score: float
    original: ArticleRef | None = Field(
        description="The earliest article that is not a copy: the original reporting.")
    web_url: str | None


class StoryPage(Schema):
    items: list[StoryItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class StoryMember(Schema):
    id: int
    title: str
    url: str = Field(description="The primary source.")
    source: SourceRef
    published: IsoTime | None
    duplicate_of: int | None = Field(description="The original this member copies, if any.")
    web_url: str | None


class StoryDetail(StoryItem):
    members: list[StoryMember] = Field(description="Every article of the story, earliest first.")
