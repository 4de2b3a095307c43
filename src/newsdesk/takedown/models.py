"""Owners' requests to remove their content, the tombstones that keep it out, and the audit log."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import models
from django.utils import timezone

SLA = timedelta(hours=24)


def url_hash(canonical_url: str) -> str:
    """Tombstones keep a hash of the canonical URL, not the URL (nothing of the content stays)."""
    return hashlib.sha256(canonical_url.encode()).hexdigest()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_public_id() -> str:
    # Unguessable, so one requester cannot read another's status page by counting. Never with a
    # leading "-": `newsdesk takedown approve -x...` would read it as an option (1 id in 64).
    while (public_id := secrets.token_urlsafe(12)).startswith("-"):
        pass
    return public_id


class TakedownRequest(models.Model):
    class Kind(models.TextChoices):
        URLS = "urls"
        DOMAIN = "domain"

    class Status(models.TextChoices):
        PENDING = "pending", "waiting for ownership verification"
        REMOVED = "removed", "verified and removed"
        REJECTED = "rejected", "rejected"
        EXPIRED = "expired", "verification expired"

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    urls = models.JSONField(default=list, blank=True)  # as submitted (kind=urls)
    domain = models.CharField(max_length=253)  # registrable domain the request is about
    name = models.CharField(max_length=200)
    email = models.EmailField()
    reason = models.TextField(blank=True)
    requester_ip = models.GenericIPAddressField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING,
                              db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    deadline_at = models.DateTimeField()  # created_at + SLA
    # Verification: the token is shown to the requester once; only its hash is kept.
    token_hash = models.CharField(max_length=64, blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    token_used_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.CharField(max_length=100, blank=True)  # "file", "email", "admin:<user>"
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_articles = models.PositiveIntegerField(default=0)
    admins_notified_at = models.DateTimeField(null=True, blank=True)  # the 12-hour reminder

    class Meta:
        ordering = ["deadline_at"]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.domain}, {self.status})"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.deadline_at is None:
            self.deadline_at = (self.created_at or timezone.now()) + SLA
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def time_to_removal(self) -> timedelta | None:
        return self.removed_at - self.created_at if self.removed_at else None

    @property
    def overdue(self) -> bool:
        end = self.removed_at or timezone.now()
        return self.status in {self.Status.PENDING, self.Status.REMOVED} and end > self.deadline_at


class Tombstone(models.Model):
    """What must never be shown or ingested again: one canonical URL, or a whole domain."""

    url_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    domain = models.CharField(max_length=253, db_index=True)
    whole_domain = models.BooleanField(default=False)
    request = models.ForeignKey(TakedownRequest, null=True, on_delete=models.SET_NULL,
                                related_name="tombstones")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["domain", "whole_domain"])]


class RemovedArticle(models.Model):
    """Former article ids, so their old page and API URLs answer 410 Gone, not 404."""

    id = models.BigIntegerField(primary_key=True)  # the deleted Article's id
    tombstone = models.ForeignKey(Tombstone, on_delete=models.CASCADE, related_name="removed")
    removed_at = models.DateTimeField(default=timezone.now)


class AuditLog(models.Model):
    """Append-only record of requests, verifications, decisions and removals."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.CharField(max_length=200)  # "requester <email>", "system", "admin:<user>"
    action = models.CharField(max_length=40)
    request = models.ForeignKey(TakedownRequest, null=True, on_delete=models.PROTECT,
                                related_name="audit")
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValueError("the audit log is append-only")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("the audit log is append-only")

    @classmethod
    def record(cls, actor: str, action: str, request: TakedownRequest | None = None,
               **detail: object) -> AuditLog:
        return cls.objects.create(actor=actor[:200], action=action[:40], request=request,
                                  detail=detail)
