"""The server-rendered site (URL names are part of the contract: models reverse them)."""

from django.urls import path

from newsdesk.web import pages, static_files

urlpatterns = [
    path("", pages.index, name="index"),
    # <str:…>: slugs may be Unicode (slugify(allow_unicode=True)); the slug converter is ASCII.
    path("article/<int:id>/<str:slug>", pages.article, name="article"),
    path("story/<int:id>", pages.story, name="story"),
    path("category/<str:slug>", pages.category, name="category"),
    path("source/<int:id>", pages.source, name="source"),
    path("author/<str:slug>", pages.author, name="author"),
    path("archive/<int:year>/", pages.archive_year, name="archive_year"),
    path("archive/<int:year>/<int:month>/", pages.archive_month, name="archive_month"),
    path("archive/<int:year>/<int:month>/<int:day>/", pages.archive_day, name="archive_day"),
    path("search", pages.search, name="search"),
    path("about", pages.about, name="about"),
    path("static/<path:path>", static_files.static, name="static"),
]
