"""Admin: the takedown queue (time left to the 24-hour deadline), approve/reject, the audit log.

Requests are created only by requesters (form/API) and changed only through the workflow, so the
admin shows them read-only; the audit log is append-only and read-only everywhere.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from newsdesk.takedown import workflow
from newsdesk.takedown.models import AuditLog, TakedownRequest
from newsdesk.takedown.workflow import TakedownError


class AuditInline(admin.TabularInline):
    model = AuditLog
    fields = ("at", "actor", "action", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("at", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TakedownRequest)
class TakedownRequestAdmin(admin.ModelAdmin):
    list_display = ("public_id", "domain", "kind", "status", "created_at", "time_left",
                    "overdue_flag", "verified_by", "removed_at", "removed_articles")
    list_filter = ("status", "kind")
    search_fields = ("public_id", "domain", "email", "name")
    ordering = ("deadline_at",)
    readonly_fields = [f.name for f in TakedownRequest._meta.fields if f.name != "token_hash"]
    exclude = ("token_hash",)
    inlines = (AuditInline,)
    actions = ("approve", "reject")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the audit log refers to requests; history is kept

    @admin.display(description="time left", ordering="deadline_at")
    def time_left(self, obj: TakedownRequest) -> str:
        if obj.status != TakedownRequest.Status.PENDING:
            return "—"
        left = obj.deadline_at - timezone.now()
        if left.total_seconds() < 0:
            return f"overdue by {workflow._human(left)}"
        return workflow._human(left)

    @admin.display(description="overdue", boolean=True)
    def overdue_flag(self, obj: TakedownRequest) -> bool:
        return obj.overdue

    def _actor(self, request: HttpRequest) -> str:
        return f"admin:{request.user.get_username()}"

    @admin.action(description="Approve removal (after my own check of ownership)")
    def approve(self, request: HttpRequest, queryset: QuerySet[TakedownRequest]) -> None:
        for req in queryset:
            try:
                n = workflow.approve(req, actor=self._actor(request))
            except TakedownError as exc:
                self.message_user(request, f"{req.public_id}: {exc}", messages.WARNING)
            else:
                self.message_user(request, f"{req.public_id}: removed {n} article(s).",
                                  messages.SUCCESS)

    @admin.action(description="Reject the selected requests")
    def reject(self, request: HttpRequest, queryset: QuerySet[TakedownRequest]) -> None:
        for req in queryset:
            try:
                workflow.reject(req, actor=self._actor(request), reason="rejected in the admin")
            except TakedownError as exc:
                self.message_user(request, f"{req.public_id}: {exc}", messages.WARNING)
            else:
                self.message_user(request, f"{req.public_id}: rejected.", messages.SUCCESS)


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("at", "actor", "action", "request_link", "detail")
    list_filter = ("action",)
    search_fields = ("actor", "action", "request__public_id", "request__domain")
    readonly_fields = ("at", "actor", "action", "request", "detail")

    @admin.display(description="request")
    def request_link(self, obj: AuditLog) -> str:
        if obj.request_id is None:
            return "—"
        return format_html('<a href="../takedownrequest/{}/change/">{}</a>', obj.request_id,
                           obj.request.public_id if obj.request else obj.request_id)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
