"""JSON API for takedown requests, mounted at /api/takedown-requests.

POST /api/takedown-requests              create; 201 with the token and how to prove ownership
GET  /api/takedown-requests/{id}         status, created, deadline, removal time
POST /api/takedown-requests/{id}/verify  check the verification file now, or with
                                         {"verify_email": addr} mail a confirmation link
Errors are {"detail": "..."}: 400 invalid or proof not found, 404 unknown id, 409 not possible in
the request's state (expired, used, decided), 429 rate limited (with Retry-After).
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Body, Router, Schema

from newsdesk.takedown import workflow
from newsdesk.takedown.workflow import RateLimited, TakedownError

# Documented in the OpenAPI schema. The API's schema fuzzing test skips the POST operations: they
# would file requests and make the server fetch verification files from generated domains.
IN_SCHEMA = True
router = Router(tags=["takedown"])


class CreateIn(Schema):
    urls: list[str] | None = None
    domain: str | None = None
    name: str
    email: str
    reason: str = ""
    verify_email: str | None = None  # mail the confirmation link there right away


class VerifyIn(Schema):
    verify_email: str | None = None


class Detail(Schema):
    detail: str


def _error(exc: TakedownError) -> HttpResponse:
    # Built by hand rather than through HttpError so 429 can carry Retry-After.
    response = HttpResponse(json.dumps({"detail": str(exc)}), status=exc.status,
                            content_type="application/json")
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    response["Cache-Control"] = "no-store"
    return response


def _no_store(response: HttpResponse) -> None:
    # The API's default is "public, max-age=60"; a request's status must never be stale.
    response["Cache-Control"] = "no-store"


def _actor(request: HttpRequest) -> str:
    return f"requester {request.META.get('REMOTE_ADDR', '?')}"


@router.post("", response={201: dict, 400: Detail, 429: Detail}, url_name="takedown-create",
             include_in_schema=IN_SCHEMA)
def create(request: HttpRequest, response: HttpResponse, data: CreateIn) -> Any:
    try:
        created = workflow.create_request(
            urls=data.urls, domain=data.domain, name=data.name, email=data.email,
            reason=data.reason, ip=request.META.get("REMOTE_ADDR"))
    except TakedownError as exc:
        return _error(exc)
    req = created.request
    body: dict[str, Any] = {"id": req.public_id, "status": req.status, "token": created.token,
                            **workflow.api_status(req),
                            "verification": workflow.verification_info(req, created.token)}
    if data.verify_email:
        try:
            body["email_sent_to"] = workflow.send_email_link(
                req, data.verify_email, actor=f"requester {req.email}")
        except TakedownError as exc:
            body["email_error"] = str(exc)  # the request exists; the file route still works
    # A plain JsonResponse: ninja's tuple form for non-200 statuses is deprecated in 1.7 and
    # its replacement does not exist in the older versions pyproject allows.
    created_response = JsonResponse(body, status=201)
    _no_store(created_response)
    return created_response


@router.get("/{public_id}", response={200: dict, 404: Detail}, url_name="takedown-detail",
             include_in_schema=IN_SCHEMA)
def detail(request: HttpRequest, response: HttpResponse, public_id: str) -> Any:
    try:
        req = workflow.get(public_id)
    except TakedownError as exc:
        return _error(exc)
    _no_store(response)
    return workflow.api_status(req)


@router.post("/{public_id}/verify", response={200: dict, 400: Detail, 404: Detail, 409: Detail,
                                              429: Detail}, url_name="takedown-verify",
             include_in_schema=IN_SCHEMA)
def verify_now(request: HttpRequest, response: HttpResponse, public_id: str,
               data: VerifyIn | None = Body(None)) -> Any:  # noqa: B008 (ninja idiom)
    try:
        req = workflow.get(public_id)
        if data is not None and data.verify_email:
            sent = workflow.send_email_link(req, data.verify_email, actor=_actor(request))
            result = {**workflow.api_status(req), "email_sent_to": sent}
        else:
            workflow.verify_file(req, actor=_actor(request))
            result = workflow.api_status(req)
    except TakedownError as exc:
        return _error(exc)
    _no_store(response)
    return result
