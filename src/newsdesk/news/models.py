"""What newsdesk stores: sources, articles, authors, categories, the crawl frontier, fetch log."""

from __future__ import annotations

import hashlib
from typing import Self

from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify


def _slug_base(name: str, max_length: int = 120) -> str:
    return slugify(name, allow_unicode=True)[: max_length - 9].strip("-") or "x"


def name_key(name: str) -> str:
    """The identity of a name: whitespace collapsed, case folded ("BBC  News" == "bbc news")."""
    return " ".join(name.split()).casefold()[:200]


class Named(models.Model):
    """A name with a URL slug, identified case-insensitively (categories, authors)."""

    name = models.CharField(max_length=200)
    # Indexed identity key: a case-insensitive lookup on `name` would scan the whole table.
    key = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=120, unique=True, allow_unicode=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def get(cls, name: str) -> Self:
        return cls.get_many([name])[0]

    @classmethod
    def get_many(cls, names: list[str]) -> list[Self]:
        """The objects for these names (created as needed), in order, without duplicates.

        At most three queries whatever the count: this runs for every stored article.
        """
        wanted = {name_key(n): " ".join(n.split())[:200] for n in names if n.strip()}
        found = {o.key: o for o in cls.objects.filter(key__in=list(wanted))}
        missing = [k for k in wanted if k not in found]
        if missing:
            bases = {k: _slug_base(wanted[k]) for k in missing}
            taken = set(cls.objects.filter(slug__in=set(bases.values())).values_list(
                "slug", flat=True))
            new = []
            for k in missing:
                slug = bases[k]
                if slug in taken:  # "Ana Lima" vs "Ana  LIMA!": same slug, different key
                    slug = f"{slug}-{hashlib.sha1(k.encode()).hexdigest()[:8]}"
                taken.add(slug)
                new.append(cls(name=wanted[k], key=k, slug=slug))
            for obj in cls.objects.bulk_create(new):
                found[obj.key] = obj
        return [found[k] for k in wanted]


class Category(Named):
    class Meta(Named.Meta):
        verbose_name_plural = "categories"

    def get_absolute_url(self) -> str:
        return reverse("category", args=[self.slug])


class Author(Named):
    def get_absolute_url(self) -> str:
        return reverse("author", args=[self.slug])


class Source(models.Model):
    """A feed or sitemap we poll, with its health and schedule."""

    class Kind(models.TextChoices):
        RSS = "rss"
        ATOM = "atom"
        RDF = "rdf"
        JSON = "json"
        SITEMAP = "sitemap"
        SITEMAP_INDEX = "sitemapindex"
        PAGES = "pages"  # articles added one by one (single URLs, WARC imports)

    url = models.URLField(max_length=2048, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.RSS)
    name = models.CharField(max_length=300, blank=True)
    site_url = models.URLField(max_length=2048, blank=True)
    language = models.CharField(max_length=16, blank=True)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    # HTTP validators for conditional GET.
    etag = models.CharField(max_length=500, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    last_unconditional_at = models.DateTimeField(null=True, blank=True)

    # Schedule: interval adapts to the publishing rate; hints come from ttl / sy:updatePeriod.
    poll_interval = models.PositiveIntegerField(default=3600)
    hint_interval = models.PositiveIntegerField(null=True, blank=True)
    next_poll_at = models.DateTimeField(default=timezone.now, db_index=True)

    # Health.
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error_reason = models.CharField(max_length=64, blank=True)
    last_error = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name", "url"]

    def __str__(self) -> str:
        return self.name or self.url

    @property
    def display_name(self) -> str:
        return self.name or self.site_url or self.url

    def get_absolute_url(self) -> str:
        return reverse("source", args=[self.pk])


class Article(models.Model):
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="articles")
    # `url` is the primary source: the page as the outlet publishes it; `canonical_url` is our
    # identity key (tracking stripped, rel=canonical followed within the same site).
    url = models.URLField(max_length=2048, db_index=True)  # takedowns match on it too
    canonical_url = models.URLField(max_length=2048, unique=True)
    guid = models.CharField(max_length=2048, blank=True)
    title = models.TextField(blank=True)
    text = models.TextField(blank=True)  # Markdown
    summary = models.TextField(blank=True)
    language = models.CharField(max_length=16, blank=True, db_index=True)
    sitename = models.CharField(max_length=300, blank=True)
    image = models.URLField(max_length=2048, blank=True)
    published = models.DateTimeField(null=True, blank=True, db_index=True)
    modified = models.DateTimeField(null=True, blank=True)  # the page's own update date
    authors = models.ManyToManyField(Author, blank=True, related_name="articles")
    categories = models.ManyToManyField(Category, blank=True, related_name="articles")
    content_hash = models.CharField(max_length=64, db_index=True)
    etag = models.CharField(max_length=500, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    fetched_at = models.DateTimeField(default=timezone.now)
    first_seen_at = models.DateTimeField(default=timezone.now, db_index=True)
    changed_at = models.DateTimeField(null=True, blank=True)  # last time the text changed
    # Never null, so listings can order and keyset-paginate on (sort_at, id): the publication
    # date when known, else when we first saw the article.
    sort_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Why the text is not shown ("" = shown). "noarchive": the publisher's robots meta tag or
    # X-Robots-Tag asks us to keep title and link only.
    withheld = models.CharField(max_length=32, blank=True)
    # Other outlets the text credits ("according to Reuters"), by name, in order of first mention
    # (pipeline.citations; filled by news.store).
    cited = models.JSONField(default=list, blank=True)
    # Near-duplicates and stories (news.grouping): the original this article copies (None when
    # it is an original or unique), and the story (event) it belongs to.
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="copies")
    story = models.ForeignKey("Story", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="articles")

    class Meta:
        ordering = ["-sort_at", "-id"]
        indexes = [
            models.Index(fields=["-sort_at", "-id"], name="article_sort"),
            models.Index(fields=["source", "-sort_at", "-id"], name="article_source_sort"),
        ]

    def __str__(self) -> str:
        return self.title or self.url

    def save(self, *args: object, **kwargs: object) -> None:
        self.sort_at = self.published or self.first_seen_at
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def slug(self) -> str:
        return slugify(self.title or "", allow_unicode=True)[:80] or "article"

    def get_absolute_url(self) -> str:
        return reverse("article", args=[self.pk, self.slug])


class QueuedPage(models.Model):
    """The crawl frontier: article pages discovered but not yet stored.

    A feed's new entries are written here in the same transaction as the feed's new validators,
    and a page leaves only in the transaction that stores its article, so a crash at any point
    loses nothing and a re-run duplicates nothing.
    """

    url = models.URLField(max_length=2048, unique=True)
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="queue")
    entry = models.JSONField(default=dict)  # feed metadata that fills gaps the page lacks
    discovered_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_error_reason = models.CharField(max_length=64, blank=True)
    last_error = models.TextField(blank=True)
    refetch = models.BooleanField(default=False)  # known article whose feed entry changed

    class Meta:
        ordering = ["discovered_at", "id"]


class FetchLog(models.Model):
    class Kind(models.TextChoices):
        FEED = "feed"
        PAGE = "page"

    source = models.ForeignKey(Source, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    url = models.URLField(max_length=2048)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    status = models.PositiveIntegerField(null=True)
    ok = models.BooleanField(default=True)
    reason = models.CharField(max_length=64, blank=True)  # e.g. not_modified, new, http_404
    message = models.TextField(blank=True)
    elapsed_ms = models.PositiveIntegerField(default=0)
    bytes = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at"]


class Story(models.Model):
    """One event as several outlets cover it (news.grouping keeps these up to date).

    `score` ranks the front page: breadth of coverage × freshness, stored as its logarithm
    ``ln(breadth) + last_updated / TAU`` (see news.grouping.story_score), which orders stories
    exactly like ``breadth × exp(-(now - last_updated) / TAU)`` at any "now", so it need not be
    recomputed as time passes, only when the story changes.
    """

    headline = models.TextField(blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_updated = models.DateTimeField(default=timezone.now, db_index=True)
    outlet_count = models.PositiveIntegerField(default=0)
    article_count = models.PositiveIntegerField(default=0)
    original = models.ForeignKey(Article, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    score = models.FloatField(default=0.0, db_index=True)
    # The live clusterer's id for this story while it is active (None once detached).
    cluster_id = models.BigIntegerField(null=True, blank=True, unique=True)

    class Meta:
        verbose_name_plural = "stories"
        ordering = ["-score", "-id"]

    def __str__(self) -> str:
        return self.headline or f"story {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("story", args=[self.pk])


class ClusterState(models.Model):
    """Persisted state of a live grouping stage (the story clusterer), by name."""

    name = models.CharField(max_length=64, unique=True)
    data = models.BinaryField()
    updated = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class SiteTemplateState(models.Model):
    """A host's learnt page template (pipeline.sitetemplate.SiteTemplate.to_bytes(): bounded,
    ~12 bytes a key, ~75 kB at its 6,000-key bound), so a restarted crawler keeps stripping
    that site's boilerplate."""

    host = models.CharField(max_length=255, unique=True)
    pages = models.PositiveIntegerField(default=0)
    data = models.BinaryField()
    updated = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.host} ({self.pages} pages)"
