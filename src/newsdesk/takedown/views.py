"""Public takedown pages: the request form, each request's status page, the email confirmation.

Plain server-rendered forms with CSRF tokens and no inline script or style (the site's CSP).
The token is shown once, in the answer to the form; only its hash is stored. The emailed link
opens a page with a Confirm button rather than acting on GET, so mail scanners that prefetch
links cannot confirm a removal on the owner's behalf.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from newsdesk.takedown import verify, workflow
from newsdesk.takedown.models import TakedownRequest
from newsdesk.takedown.workflow import RateLimited, TakedownError


class RequestForm(forms.Form):
    urls = forms.CharField(
        label="Article addresses", required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "https://example.com/news/1\n…"}),
        help_text="The original pages on your site, one per line, all on one domain.")
    domain = forms.CharField(label="…or a whole domain", required=False, max_length=253,
                             help_text="Everything from this domain, e.g. example.com.")
    name = forms.CharField(label="Your name", max_length=200)
    email = forms.EmailField(label="Your email address")
    reason = forms.CharField(label="Reason", required=False, max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 3}))


def _page(request: HttpRequest, template: str, context: dict[str, Any],
          status: int = 200) -> HttpResponse:
    return render(request, f"takedown/{template}", context, status=status)


def _error_page(request: HttpRequest, exc: TakedownError,
                req: TakedownRequest | None = None) -> HttpResponse:
    if req is not None and exc.status != 404:
        response = _status_page(request, req, error=str(exc), status=exc.status)
    else:
        response = _page(request, "error.html", {"message": str(exc), "status": exc.status},
                         status=exc.status)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


def _status_page(request: HttpRequest, req: TakedownRequest, *, token: str | None = None,
                 error: str | None = None, notice: str | None = None,
                 status: int = 200) -> HttpResponse:
    now = timezone.now()
    left = req.deadline_at - now
    return _page(request, "status.html", {
        "req": req, "token": token, "error": error, "notice": notice,
        "pending": req.status == TakedownRequest.Status.PENDING,
        "file_url": verify.public_file_url(req.domain),
        "addresses": workflow.email_options(req),
        "time_left": workflow._human(left) if left.total_seconds() > 0 else None,
        "time_to_removal": workflow._human(req.time_to_removal) if req.time_to_removal else None,
    }, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def request_form(request: HttpRequest) -> HttpResponse:
    form = RequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            created = workflow.create_request(
                urls=d["urls"].split(), domain=d["domain"], name=d["name"], email=d["email"],
                reason=d["reason"], ip=request.META.get("REMOTE_ADDR"))
        except TakedownError as exc:
            if isinstance(exc, RateLimited):
                return _error_page(request, exc)
            form.add_error(None, str(exc))
        else:
            return _status_page(request, created.request, token=created.token, status=201)
    status = 400 if form.errors else 200
    return _page(request, "form.html", {"form": form}, status=status)


@never_cache
def status(request: HttpRequest, public_id: str) -> HttpResponse:
    try:
        req = workflow.get(public_id)
    except TakedownError as exc:
        return _error_page(request, exc)
    return _status_page(request, req)


@never_cache
@require_POST
def verify_file(request: HttpRequest, public_id: str) -> HttpResponse:
    try:
        req = workflow.get(public_id)
    except TakedownError as exc:
        return _error_page(request, exc)
    try:
        n = workflow.verify_file(req, actor=f"requester {request.META.get('REMOTE_ADDR', '?')}")
    except TakedownError as exc:
        return _error_page(request, exc, req)
    return _status_page(request, req, notice=f"Ownership verified; {n} item(s) removed.")


@never_cache
@require_POST
def send_email(request: HttpRequest, public_id: str) -> HttpResponse:
    try:
        req = workflow.get(public_id)
    except TakedownError as exc:
        return _error_page(request, exc)
    address = request.POST.get("address", "")
    if address == "other":
        address = request.POST.get("other", "")
    try:
        sent = workflow.send_email_link(
            req, address, actor=f"requester {request.META.get('REMOTE_ADDR', '?')}")
    except TakedownError as exc:
        return _error_page(request, exc, req)
    return _status_page(request, req, notice=f"A confirmation link was sent to {sent}.")


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, public_id: str, token: str) -> HttpResponse:
    try:
        req = workflow.get(public_id)
    except TakedownError as exc:
        return _error_page(request, exc)
    if request.method == "GET":
        return _page(request, "confirm.html", {"req": req, "pending":
                                               req.status == TakedownRequest.Status.PENDING})
    try:
        n = workflow.verify_token(req, token, method="email", actor="owner via email link")
    except TakedownError as exc:
        return _error_page(request, exc, req)
    return _status_page(request, req, notice=f"Confirmed; {n} item(s) removed.")
