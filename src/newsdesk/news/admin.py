"""Django admin: sources with their health, articles, categories, authors; OPML import."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from newsdesk.news.models import Article, Author, Category, Named, Source, Story, name_key
from newsdesk.news.sources import import_opml

MAX_OPML_BYTES = 5 * 1024 * 1024


class OpmlImportForm(forms.Form):
    file = forms.FileField(label="OPML file", help_text="Outline folders become categories.")


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("__str__", "kind", "active", "article_count", "last_success_at",
                    "error_reason", "consecutive_failures", "next_poll_at")
    list_filter = ("active", "kind", "last_error_reason", "category")
    search_fields = ("name", "url", "site_url")
    readonly_fields = ("created_at", "last_polled_at", "last_success_at", "last_error_at",
                       "last_error_reason", "last_error", "consecutive_failures", "etag",
                       "last_modified", "last_unconditional_at")
    actions = ("pause", "resume")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    change_list_template = "admin/news/source/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Source]:
        return super().get_queryset(request).annotate(n_articles=Count("articles"))

    @admin.display(description="articles", ordering="n_articles")
    def article_count(self, obj: Source) -> int:
        return obj.n_articles  # type: ignore[attr-defined]

    @admin.display(description="last error", ordering="last_error_reason")
    def error_reason(self, obj: Source) -> str:
        if not obj.last_error_reason:
            return "—"
        return format_html('<span title="{}">{}</span>', obj.last_error[:500],
                           obj.last_error_reason)

    @admin.action(description="Pause polling of the selected sources")
    def pause(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        n = queryset.update(active=False)
        self.message_user(request, f"Paused {n} source(s).", messages.SUCCESS)

    @admin.action(description="Resume polling of the selected sources")
    def resume(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        n = queryset.update(active=True)
        self.message_user(request, f"Resumed {n} source(s).", messages.SUCCESS)

    def get_urls(self) -> list[URLPattern]:
        own = [path("import-opml/", self.admin_site.admin_view(self.import_opml_view),
                    name="news_source_import_opml")]
        return own + super().get_urls()

    def import_opml_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:news_source_changelist"))
        form = OpmlImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > MAX_OPML_BYTES:
                form.add_error("file", "That file is too large for an OPML list.")
            else:
                try:
                    added, existing = import_opml(upload.read())
                except ValueError as exc:
                    form.add_error("file", f"Not a readable OPML file: {exc}")
                else:
                    self.message_user(
                        request, f"Imported {added} new source(s); {existing} already present.",
                        messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:news_source_changelist"))
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import sources from OPML",
            "form": form,
        }
        return TemplateResponse(request, "admin/news/source/import_opml.html", context)


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ("__str__", "source", "language", "sort_at", "first_seen_at")
    list_filter = ("language", "source", ("published", admin.DateFieldListFilter))
    list_select_related = ("source",)
    search_fields = ("title", "url", "canonical_url")
    date_hierarchy = "sort_at"
    autocomplete_fields = ("source", "authors", "categories")
    readonly_fields = ("content_hash", "fetched_at", "first_seen_at", "changed_at", "sort_at",
                       "etag", "last_modified")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    show_full_result_count = False  # COUNT(*) on a big table for every change list is wasted
    list_per_page = 50

    def view_on_site(self, obj: Article) -> str:
        return obj.get_absolute_url()


class NamedAdmin(admin.ModelAdmin):
    """Categories and authors: `key` is the case-folded identity, kept in step with the name."""

    list_display = ("name", "slug", "article_count")
    search_fields = ("name", "slug")
    fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).annotate(n_articles=Count("articles"))

    @admin.display(description="articles", ordering="n_articles")
    def article_count(self, obj: Named) -> int:
        return obj.n_articles  # type: ignore[attr-defined]

    def save_model(self, request: HttpRequest, obj: Named, form: Any, change: bool) -> None:
        obj.key = name_key(obj.name)
        super().save_model(request, obj, form, change)


admin.site.register(Category, NamedAdmin)
admin.site.register(Author, NamedAdmin)



@admin.register(Story)
class StoryAdmin(admin.ModelAdmin):
    list_display = ("headline", "outlet_count", "article_count", "first_seen", "last_updated")
    ordering = ("-score",)
    search_fields = ("headline",)
    readonly_fields = ("first_seen", "last_updated", "outlet_count", "article_count", "score",
                       "original")
