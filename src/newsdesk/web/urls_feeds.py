"""Output feeds and discovery files, included at the site root (see newsdesk.urls).

Each feed route takes `fmt` ("atom", "rss" or "json"): reverse("feed_category", kwargs={"slug": s,
"fmt": "atom"}). Any other extension does not match, so it is a 404.
"""

from django.urls import path, register_converter

from newsdesk.web import feeds_out, sitemaps


class FeedFormat:
    regex = "atom|rss|json"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(FeedFormat, "feedfmt")

urlpatterns = [
    path("feed.<feedfmt:fmt>", feeds_out.front, name="feed_front"),
    path("category/<str:slug>/feed.<feedfmt:fmt>", feeds_out.category, name="feed_category"),
    path("source/<int:source_id>/feed.<feedfmt:fmt>", feeds_out.source, name="feed_source"),
    path("author/<str:slug>/feed.<feedfmt:fmt>", feeds_out.author, name="feed_author"),
    path("search/feed.<feedfmt:fmt>", feeds_out.search, name="feed_search"),
    path("sitemap.xml", sitemaps.sitemap_index, name="sitemap_index"),
    path("sitemaps/articles-<int:page>.xml", sitemaps.sitemap_articles, name="sitemap_articles"),
    path("news-sitemap.xml", sitemaps.news_sitemap, name="sitemap_news"),
    path("robots.txt", sitemaps.robots_txt, name="robots_txt"),
    path("opensearch.xml", sitemaps.opensearch, name="opensearch"),
]
