"""The takedown workflow: request -> ownership proof -> removal, with its SLA and audit trail.

One place for the rules, shared by the public form, the JSON API, the admin and the CLI:

* A request names article URLs (all on one registrable domain) or a whole domain.
* Nothing is removed before ownership is shown, by a token in
  https://<domain>/.well-known/newsdesk-takedown.txt or by a confirmation link mailed to a
  mailbox of the domain, or before an admin approves after their own check.
* The requester sees the token once; only its hash is kept. It expires, is single-use and is
  bound to its request and domain. The emailed link carries a different secret (an HMAC of the
  request), since the requester knows the file token and must not confirm by themselves.
* Verified requests are removed at once; undecided ones older than 12 hours remind the admins
  (deadline: 24 hours). Every step is written to the append-only AuditLog.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from newsdesk.pipeline.urls import canonicalize, registrable_domain
from newsdesk.takedown import verify
from newsdesk.takedown.models import AuditLog, TakedownRequest, token_hash

log = logging.getLogger(__name__)

Status = TakedownRequest.Status
REMINDER_AFTER = timedelta(hours=12)
MAX_URLS = 100
RATE_WINDOW = 3600  # seconds; fixed window
OPEN = (Status.PENDING, Status.EXPIRED)  # states an admin may still decide


class TakedownError(Exception):
    """A request the workflow refuses; `status` is the HTTP status, str() the reason."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class RateLimited(TakedownError):
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Created:
    request: TakedownRequest
    token: str  # shown to the requester once; never stored


def _config() -> Any:
    return settings.CONFIG


# -- rate limiting ------------------------------------------------------------------------------
def check_rate(kind: str, key: str, limit: int | None = None) -> None:
    """Fixed-window counter in the Django cache; raises RateLimited past `limit` per hour."""
    limit = limit or _config().takedown_rate
    now = int(time.time())
    window = now // RATE_WINDOW
    digest = hashlib.sha256(key.strip().lower().encode()).hexdigest()[:32]
    cache_key = f"newsdesk:takedown:rate:{kind.replace(' ', '-')}:{digest}:{window}"
    cache.add(cache_key, 0, RATE_WINDOW + 60)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # evicted between add and incr
        cache.set(cache_key, 1, RATE_WINDOW + 60)
        count = 1
    if count > limit:
        retry_after = (window + 1) * RATE_WINDOW - now
        raise RateLimited(
            f"too many takedown requests from this {kind}: at most {limit} per hour; "
            f"try again in {retry_after // 60 + 1} minutes", retry_after)


# -- creating a request -------------------------------------------------------------------------
def parse_target(urls: Sequence[str] | None, domain: str | None) -> tuple[str, str, list[str]]:
    """(kind, registrable domain, canonical URLs) or TakedownError with a clear message."""
    urls = [u.strip() for u in (urls or []) if u and u.strip()]
    domain = (domain or "").strip()
    if bool(urls) == bool(domain):
        raise TakedownError("give either article URLs or a whole domain (not both, not neither)")
    if domain:
        site = registrable_domain(domain if "//" in domain else f"http://{domain}")
        if not site or ("." not in site and ":" not in site):
            raise TakedownError(f"{domain[:100]!r} is not a domain name such as example.com")
        return TakedownRequest.Kind.DOMAIN, site, []
    if len(urls) > MAX_URLS:
        raise TakedownError(f"at most {MAX_URLS} URLs per request; send several requests or "
                            "ask for the whole domain")
    canonical: list[str] = []
    sites: dict[str, str] = {}
    for url in urls:
        c = canonicalize(url)
        if not c.startswith(("http://", "https://")):
            raise TakedownError(f"not an http(s) article URL: {url[:200]!r}")
        site = registrable_domain(c)
        if not site:
            raise TakedownError(f"no registrable domain in {url[:200]!r}")
        sites.setdefault(site, url)
        if c not in canonical:
            canonical.append(c)
    if len(sites) > 1:
        raise TakedownError(
            "all URLs of one request must be on one registrable domain; these are on "
            f"{', '.join(sorted(sites))}: send one request per domain")
    return TakedownRequest.Kind.URLS, next(iter(sites)), canonical


def _clean_person(name: str, email: str, reason: str) -> tuple[str, str, str]:
    name, email, reason = (name or "").strip(), (email or "").strip(), (reason or "").strip()
    if not name:
        raise TakedownError("your name is required")
    if len(name) > 200:
        raise TakedownError("name: at most 200 characters")
    try:
        validate_email(email)
    except ValidationError:
        raise TakedownError(f"not a valid email address: {email[:100]!r}") from None
    if len(reason) > 5000:
        raise TakedownError("reason: at most 5000 characters")
    return name, email, reason


def _new_token(req: TakedownRequest) -> str:
    token = secrets.token_urlsafe(24)
    req.token_hash = token_hash(token)
    req.token_expires_at = timezone.now() + timedelta(hours=_config().takedown_token_hours)
    req.token_used_at = None
    return token


def create_request(*, urls: Sequence[str] | None = None, domain: str | None = None, name: str,
                   email: str, reason: str = "", ip: str | None = None) -> Created:
    # Validate first so a typo does not eat the requester's hourly allowance.
    kind, site, canonical = parse_target(urls, domain)
    name, email, reason = _clean_person(name, email, reason)
    if ip:
        check_rate("IP address", ip)
    check_rate("email address", email)
    req = TakedownRequest(kind=kind, domain=site, urls=canonical, name=name, email=email,
                          reason=reason, requester_ip=ip or None)
    token = _new_token(req)
    with transaction.atomic():
        req.save()
        AuditLog.record(f"requester {email}", "requested", req, kind=kind, domain=site,
                        urls=len(canonical), ip=ip)
    return Created(req, token)


def get(public_id: str) -> TakedownRequest:
    req = TakedownRequest.objects.filter(public_id=public_id[:32]).first()
    if req is None:
        raise TakedownError("no such takedown request", 404)
    return req


# -- links and email ----------------------------------------------------------------------------
def email_secret(req: TakedownRequest) -> str:
    """The secret in the confirmation link: bound to this request, its domain and its current
    token (a new token or another request gives another secret), unknown to the requester."""
    msg = f"newsdesk-takedown-email|{req.public_id}|{req.domain}|{req.token_hash}".encode()
    digest = hmac.new(settings.SECRET_KEY.encode(), msg, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def site_url(path: str) -> str:
    """Absolute URL on this site from NEWSDESK_BASE_URL; never from the Host header."""
    return _config().effective_base_url + path


def status_url(req: TakedownRequest) -> str:
    return site_url(reverse("takedown-status", args=[req.public_id]))


def confirm_url(req: TakedownRequest) -> str:
    return site_url(reverse("takedown-confirm", args=[req.public_id, email_secret(req)]))


def email_options(req: TakedownRequest) -> list[str]:
    return verify.standard_addresses(req.domain)


def send_email_link(req: TakedownRequest, address: str, *, actor: str,
                    origin_for: verify.OriginFor | None = None) -> str:
    """Mail the confirmation link to a mailbox of the request's domain (never elsewhere)."""
    _require_pending(req)
    address = (address or "").strip()
    if address not in email_options(req):
        # Besides the standard mailboxes, only a mailto: Contact of the domain's own
        # security.txt that is itself on the domain.
        if not verify.address_on_domain(address, req.domain):
            _failed(req, actor, "email",
                    f"{address[:100]!r} is not an address at {req.domain}; choose one of "
                    f"{', '.join(email_options(req))} or the security.txt contact")
        if address not in verify.security_txt_contacts(req.domain, origin_for):
            _failed(req, actor, "email",
                    f"{address} is neither a standard mailbox of {req.domain} "
                    f"({', '.join(verify.STANDARD_MAILBOXES)}) nor a mailto: Contact in "
                    f"https://{req.domain}{verify.SECURITY_TXT_PATH}")
    check_rate("request", f"email-link:{req.public_id}")  # no mail-bombing a webmaster
    verify.send_confirmation(address, domain=req.domain, public_id=req.public_id,
                             link=confirm_url(req), urls=req.urls)
    AuditLog.record(actor, "verification_email_sent", req, address=address)
    return address


# -- verification -------------------------------------------------------------------------------
def _failed(req: TakedownRequest, actor: str, method: str, reason: str,
            status: int = 400) -> None:
    AuditLog.record(actor, "verification_failed", req, method=method, reason=reason)
    raise TakedownError(reason, status)


def _require_pending(req: TakedownRequest) -> None:
    if req.status != Status.PENDING:
        raise TakedownError(f"this request is already {req.get_status_display()}; nothing to do",
                            409)


def _check_token_state(req: TakedownRequest, actor: str, method: str) -> None:
    if req.token_used_at is not None:
        _failed(req, actor, method, "this token was already used; it works only once", 409)
    if req.status == Status.EXPIRED or (req.token_expires_at
                                        and req.token_expires_at <= timezone.now()):
        if req.status == Status.PENDING:
            _expire(req)
        _failed(req, actor, method, "this token has expired; send a new takedown request", 409)
    _require_pending(req)


def verify_token(req: TakedownRequest, token: str, *, method: str, actor: str) -> int:
    """Checks a presented secret against `req` and removes on success (returns the number of
    articles removed). Everything that fails is audited and removes nothing."""
    req.refresh_from_db()
    _check_token_state(req, actor, method)
    expected = email_secret(req) if method == "email" else req.token_hash
    presented = (token or "") if method == "email" else token_hash(token or "")
    if not hmac.compare_digest(expected.encode(), presented.encode()):
        _failed(req, actor, method, "this link or token does not belong to this request")
    with transaction.atomic():
        # Re-read under the write lock: two clicks on the same link must not both pass.
        locked = TakedownRequest.objects.select_for_update().get(pk=req.pk)
        fresh = (locked.token_used_at is None and locked.status == Status.PENDING
                 and locked.token_hash == req.token_hash)
        removed = _verified(locked, actor=actor, by=method) if fresh else 0
    if not fresh:  # audited outside the transaction so the record persists
        _failed(req, actor, method, "this token was already used; it works only once", 409)
    req.refresh_from_db()
    return removed


def verify_file(req: TakedownRequest, *, actor: str,
                origin_for: verify.OriginFor | None = None) -> int:
    """Fetch https://<domain>/.well-known/newsdesk-takedown.txt now; remove if it holds the
    request's token. The file holds the plain token and we keep only its hash, so the lines
    are hashed and compared."""
    _check_token_state(req, actor, "file")
    check_rate("request", f"file-check:{req.public_id}", limit=max(10, _config().takedown_rate))
    try:
        lines = verify.file_lines(req.domain, origin_for)
    except verify.VerificationFailed as exc:
        _failed(req, actor, "file", str(exc))
        raise  # unreachable: _failed raises
    for line in lines:
        if hmac.compare_digest(token_hash(line), req.token_hash):
            return verify_token(req, line, method="file", actor=actor)
    _failed(req, actor, "file",
            f"{verify.public_file_url(req.domain)} does not contain this request's token (one "
            "token per line; tokens of other requests or domains do not count)")
    return 0  # unreachable: _failed raises


def _remove(req: TakedownRequest, actor: str) -> int:
    from newsdesk.takedown.removal import remove  # written in parallel; imported when needed

    return remove(req, actor=actor)


def _verified(req: TakedownRequest, *, actor: str, by: str) -> int:
    now = timezone.now()
    req.verified_at = now
    req.verified_by = by
    if not by.startswith("admin:"):
        req.token_used_at = now
    req.save(update_fields=["verified_at", "verified_by", "token_used_at"])
    AuditLog.record(actor, "verified", req, method=by)
    # Removal in the same transaction: verified and removed, or neither.
    return _remove(req, actor)


# -- admin decisions ----------------------------------------------------------------------------
def approve(req: TakedownRequest, *, actor: str) -> int:
    """An admin approves after their own check of ownership: removal at once."""
    with transaction.atomic():
        locked = TakedownRequest.objects.select_for_update().get(pk=req.pk)
        if locked.status not in OPEN:
            raise TakedownError(f"request {locked.public_id} is already "
                                f"{locked.get_status_display()}", 409)
        removed = _verified(locked, actor=actor, by=actor)
    req.refresh_from_db()
    return removed


def reject(req: TakedownRequest, *, actor: str, reason: str = "") -> None:
    with transaction.atomic():
        locked = TakedownRequest.objects.select_for_update().get(pk=req.pk)
        if locked.status not in OPEN:
            raise TakedownError(f"request {locked.public_id} is already "
                                f"{locked.get_status_display()}", 409)
        locked.status = Status.REJECTED
        locked.save(update_fields=["status"])
        AuditLog.record(actor, "rejected", locked, reason=reason)
    req.refresh_from_db()


def _expire(req: TakedownRequest) -> None:
    n = TakedownRequest.objects.filter(pk=req.pk, status=Status.PENDING).update(
        status=Status.EXPIRED)
    if n:
        AuditLog.record("system", "expired", req, token_expired_at=req.token_expires_at.isoformat()
                        if req.token_expires_at else None)
    req.refresh_from_db()


def expire_stale(now: datetime | None = None) -> int:
    now = now or timezone.now()
    stale = TakedownRequest.objects.filter(status=Status.PENDING, verified_at__isnull=True,
                                           token_expires_at__lte=now)
    n = 0
    for req in stale:
        _expire(req)
        n += 1
    return n


# -- SLA ----------------------------------------------------------------------------------------
def notify_admins(now: datetime | None = None) -> int:
    """Remind the admins, once per request, of requests undecided 12 hours after creation.

    Returns how many requests were included. With no NEWSDESK_ADMIN_EMAILS nothing is marked,
    so the reminder still goes out once addresses are configured.
    """
    now = now or timezone.now()
    due = list(TakedownRequest.objects.filter(
        status=Status.PENDING, admins_notified_at__isnull=True,
        created_at__lte=now - REMINDER_AFTER).order_by("deadline_at"))
    if not due:
        return 0
    recipients = _config().admin_email_list
    if not recipients:
        log.warning("%d takedown request(s) undecided after 12 hours, but "
                    "NEWSDESK_ADMIN_EMAILS is empty", len(due))
        return 0
    lines = []
    for req in due:
        left = req.deadline_at - now
        lines.append(f"- {req.public_id}  {req.domain}  ({req.kind}, "
                     f"{len(req.urls) or 'whole domain'} URL(s))  requested by {req.email}\n"
                     f"  deadline {req.deadline_at:%Y-%m-%d %H:%M} UTC "
                     f"({_human(left)} {'left' if left.total_seconds() >= 0 else 'overdue'})\n"
                     f"  {status_url(req)}")
    body = ("These takedown requests are still undecided 12 hours after they were made; the "
            "deadline is 24 hours. Check ownership and approve in the admin "
            f"({site_url('/admin/takedown/takedownrequest/')}) or with "
            "`newsdesk takedown approve ID`.\n\n" + "\n".join(lines) + "\n")
    verify.send_admin_reminder(f"[newsdesk] {len(due)} takedown request(s) need a decision",
                               body)
    for req in due:
        TakedownRequest.objects.filter(pk=req.pk).update(admins_notified_at=now)
        AuditLog.record("system", "admins_notified", req, recipients=recipients)
    return len(due)


def sla_pass(now: datetime | None = None) -> dict[str, int]:
    """One scheduler pass: expire stale tokens, send due reminders."""
    return {"expired": expire_stale(now), "admins_notified": notify_admins(now)}


def _human(delta: timedelta) -> str:
    s = abs(int(delta.total_seconds()))
    h, m = divmod(s // 60, 60)
    return f"{h}h{m:02d}m"


def report(now: datetime | None = None) -> list[dict[str, Any]]:
    """Every request with status, created, time to removal, time left and an overdue flag."""
    now = now or timezone.now()
    rows = []
    for req in TakedownRequest.objects.order_by("created_at", "id"):
        ttr = req.time_to_removal
        end = req.removed_at or now
        overdue = req.status in (Status.PENDING, Status.REMOVED) and end > req.deadline_at
        open_ = req.status == Status.PENDING
        rows.append({
            "id": req.public_id, "kind": req.kind, "domain": req.domain, "urls": len(req.urls),
            "status": req.status, "created": req.created_at.isoformat(),
            "deadline": req.deadline_at.isoformat(),
            "verified_by": req.verified_by or None,
            "removed_at": req.removed_at.isoformat() if req.removed_at else None,
            "removed_articles": req.removed_articles,
            "time_to_removal_seconds": int(ttr.total_seconds()) if ttr is not None else None,
            "time_left_seconds": int((req.deadline_at - now).total_seconds()) if open_ else None,
            "overdue": overdue,
        })
    return rows


def api_status(req: TakedownRequest) -> dict[str, Any]:
    ttr = req.time_to_removal
    return {
        "id": req.public_id, "status": req.status, "status_text": req.get_status_display(),
        "kind": req.kind, "domain": req.domain, "urls": req.urls,
        "created": req.created_at.isoformat(), "deadline": req.deadline_at.isoformat(),
        "verified_at": req.verified_at.isoformat() if req.verified_at else None,
        "removed_at": req.removed_at.isoformat() if req.removed_at else None,
        "removed_articles": req.removed_articles if req.removed_at else None,
        "time_to_removal_seconds": int(ttr.total_seconds()) if ttr is not None else None,
        "status_url": status_url(req),
    }


def verification_info(req: TakedownRequest, token: str) -> dict[str, Any]:
    return {
        "file": {"url": verify.public_file_url(req.domain), "content": token,
                 "how": f"Serve a text file at {verify.public_file_url(req.domain)} (http:// and "
                        f"www.{req.domain} are tried too) with the token on a line of its own, "
                        f"then POST /api/takedown-requests/{req.public_id}/verify or use the "
                        "button on the status page."},
        "email": {"addresses": email_options(req),
                  "how": f"POST /api/takedown-requests/{req.public_id}/verify with "
                         '{"verify_email": "<address>"} (or pick it on the status page): a '
                         "confirmation link is mailed there. Besides these mailboxes, a mailto: "
                         f"Contact on {req.domain} listed in "
                         f"https://{req.domain}{verify.SECURITY_TXT_PATH} is accepted."},
        "expires": req.token_expires_at.isoformat() if req.token_expires_at else None,
    }
