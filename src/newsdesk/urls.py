"""URL map. Each surface lives in its own module: pages, JSON API, output feeds/sitemaps."""

from django.contrib import admin
from django.urls import include, path

from newsdesk.web import views
from newsdesk.web.api import api

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("newsdesk.web.urls_feeds")),
    path("", include("newsdesk.takedown.urls")),
    path("", include("newsdesk.web.urls_pages")),
]
