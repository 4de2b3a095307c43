"""The takedown workflow: requests, ownership proofs, abuse cases, rate limits, SLA and report.

File checks go through the real guarded Fetcher to a loopback replay server that stands in for
the owner's domain (origin_for); email goes to Django's locmem outbox. Removal is the real one.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from newsdesk.devtools.replay import Page, ReplayServer, Site
from newsdesk.news.models import Article, Source
from newsdesk.takedown import verify, workflow
from newsdesk.takedown.models import AuditLog, TakedownRequest, Tombstone, token_hash
from newsdesk.takedown.workflow import TakedownError

pytestmark = pytest.mark.django_db

BASE = "https://news.example.org"
DOMAIN = "coast-daily.example"
FILE = "/.well-known/newsdesk-takedown.txt"


@pytest.fixture(autouse=True)
def config(settings: Any) -> Any:
    cache.clear()  # rate-limit windows
    settings.CONFIG = dataclasses.replace(
        settings.CONFIG, allow_private_networks=True, host_delay=0.0, base_url=BASE,
        admin_emails="ops@news.example.org, editor@news.example.org", takedown_rate=5)
    settings.ALLOWED_HOSTS = ["testserver", "localhost"]
    return settings.CONFIG


@pytest.fixture
def owner() -> Iterator[ReplayServer]:
    """The owner's web server; every domain in these tests points at it."""
    with ReplayServer([Site("owner", pages=[], robots_txt="User-agent: *\nDisallow: /\n")]) as s:
        yield s


def origin_for(server: ReplayServer) -> verify.OriginFor:
    return lambda domain: server.origin("owner")


def serve_file(server: ReplayServer, body: str, path: str = FILE) -> None:
    if path in {p.path for p in server.site("owner").pages}:
        server.update_page("owner", path, body.encode())
    else:
        server.add_page("owner", Page(path=path, body=body.encode(), content_type="text/plain",
                                      meta={"in_feed": False}))


@pytest.fixture
def articles() -> list[Article]:
    src = Source.objects.create(url=f"https://{DOMAIN}/rss.xml", name="Coast Daily",
                                site_url=f"https://{DOMAIN}/")
    other = Source.objects.create(url="https://world-wire.example/feed", name="World Wire",
                                  site_url="https://world-wire.example/")
    out = []
    for i, s in enumerate([src, src, other]):
        host = s.site_url.removeprefix("https://").rstrip("/")
        url = f"https://{host}/news/{i}"
        out.append(Article.objects.create(source=s, url=url, canonical_url=url, title=f"Story {i}",
                                          text=f"Text {i}.", content_hash=f"{i:064d}"))
    return out


def make(urls: list[str] | None = None, domain: str | None = None,
         email: str = "owner@coast-daily.example") -> workflow.Created:
    return workflow.create_request(urls=urls, domain=domain, name="Ola Owner", email=email,
                                   reason="ours", ip="203.0.113.9")


def actions(req: TakedownRequest) -> list[str]:
    return list(AuditLog.objects.filter(request=req).values_list("action", flat=True))


def api_post(client: Client, path: str, body: Any = None, **extra: Any) -> Any:
    return client.post(path, json.dumps(body) if body is not None else "",
                       content_type="application/json", **extra)


# -- requests -----------------------------------------------------------------------------------
def test_target_rules() -> None:
    kind, site, urls = workflow.parse_target(
        ["https://news.bbc.co.uk/a?utm_source=x", "https://www.bbc.co.uk/b"], None)
    assert (kind, site) == ("urls", "bbc.co.uk") and urls == ["https://news.bbc.co.uk/a",
                                                             "https://www.bbc.co.uk/b"]
    assert workflow.parse_target(None, "https://www.Example.com/x")[:2] == ("domain",
                                                                            "example.com")
    with pytest.raises(TakedownError, match="one registrable domain.*a.example, b.example"):
        workflow.parse_target(["https://a.example/1", "https://b.example/2"], None)
    for urls, domain in ((None, None), (["https://a.example/1"], "a.example"),
                         (["ftp://a.example/1"], None), (None, "co.uk"), (None, "localhost")):
        with pytest.raises(TakedownError):
            workflow.parse_target(urls, domain)


def test_api_create_and_status(client: Client) -> None:
    r = api_post(client, "/api/takedown-requests", {
        "urls": [f"https://{DOMAIN}/news/1"], "name": "Ola", "email": "ola@coast-daily.example",
        "reason": "copyright"}, REMOTE_ADDR="198.51.100.7")
    assert r.status_code == 201, r.content
    body = r.json()
    req = TakedownRequest.objects.get(public_id=body["id"])
    assert body["status"] == "pending" and body["token"]
    assert body["verification"]["file"] == {
        "url": f"https://{DOMAIN}/.well-known/newsdesk-takedown.txt", "content": body["token"],
        "how": body["verification"]["file"]["how"]}
    assert body["verification"]["email"]["addresses"] == [
        f"{b}@{DOMAIN}" for b in ("webmaster", "abuse", "admin", "postmaster")]
    assert body["status_url"] == f"{BASE}/takedown/{req.public_id}"
    # Only the hash is stored, and the token is long and random.
    assert req.token_hash == token_hash(body["token"]) and len(body["token"]) >= 32
    assert body["token"] not in json.dumps(list(TakedownRequest.objects.values()), default=str)
    assert req.deadline_at - req.created_at == timedelta(hours=24)
    assert req.token_expires_at - req.created_at == pytest.approx(timedelta(hours=72),
                                                                  abs=timedelta(seconds=5))
    assert actions(req) == ["requested"] and str(req.requester_ip) == "198.51.100.7"
    got = client.get(f"/api/takedown-requests/{req.public_id}")
    assert got.status_code == 200 and got["Cache-Control"] == "no-store"
    assert got.json()["status"] == "pending" and got.json()["removed_at"] is None
    assert got.json()["deadline"] == req.deadline_at.isoformat()
    assert client.get("/api/takedown-requests/nope").status_code == 404


def test_api_rejects_mixed_domains_clearly(client: Client) -> None:
    r = api_post(client, "/api/takedown-requests", {
        "urls": ["https://a.example/1", "https://b.example/2"], "name": "X",
        "email": "x@a.example"})
    assert r.status_code == 400
    assert "one registrable domain" in r.json()["detail"]
    assert not TakedownRequest.objects.exists()


def test_rate_limit_per_ip_and_per_email(client: Client, config: Any, settings: Any) -> None:
    settings.CONFIG = dataclasses.replace(config, takedown_rate=2)
    body = {"domain": DOMAIN, "name": "Flood", "reason": "spam"}
    for i in range(2):
        r = api_post(client, "/api/takedown-requests", {**body, "email": f"f{i}@x.example"},
                     REMOTE_ADDR="192.0.2.1")
        assert r.status_code == 201
    r = api_post(client, "/api/takedown-requests", {**body, "email": "f9@x.example"},
                 REMOTE_ADDR="192.0.2.1")
    assert r.status_code == 429 and "at most 2 per hour" in r.json()["detail"]
    assert 0 < int(r["Retry-After"]) <= 3600
    # The same email from ever new addresses is limited too.
    for i in range(3):
        r = api_post(client, "/api/takedown-requests", {**body, "email": "same@x.example"},
                     REMOTE_ADDR=f"192.0.2.{10 + i}")
    assert r.status_code == 429 and "email address" in r.json()["detail"]
    assert TakedownRequest.objects.count() == 4
    # The form answers with the same limit, as a page.
    r = client.post("/takedown", {"domain": DOMAIN, "name": "F", "email": "g@x.example"},
                    REMOTE_ADDR="192.0.2.1")
    assert r.status_code == 429 and r.has_header("Retry-After")


# -- the verification file ----------------------------------------------------------------------
def test_file_verification_removes_at_once(client: Client, owner: ReplayServer,
                                           articles: list[Article]) -> None:
    created = make(urls=[articles[0].url])
    serve_file(owner, f"# newsdesk\n  other-token\n{created.token}  \n")
    n = workflow.verify_file(created.request, actor="requester test", origin_for=origin_for(owner))
    req = created.request
    assert n == 1 and req.status == "removed" and req.verified_by == "file"
    assert req.token_used_at and req.removed_at
    assert not Article.objects.filter(pk=articles[0].pk).exists()
    assert Article.objects.filter(pk=articles[1].pk).exists()  # only what was asked for
    assert Tombstone.objects.filter(request=req).count() == 1
    assert actions(req)[:2] == ["requested", "verified"] and "removed" in actions(req)
    # The file was read through the guarded fetcher, robots.txt (Disallow: /) notwithstanding.
    assert [r.path for r in owner.requests if r.path == FILE]
    body = client.get(f"/api/takedown-requests/{req.public_id}").json()
    assert body["removed_at"] and body["time_to_removal_seconds"] is not None
    # Reuse: the same proof does nothing more.
    with pytest.raises(TakedownError, match="already used") as exc:
        workflow.verify_file(req, actor="requester test", origin_for=origin_for(owner))
    assert exc.value.status == 409


def test_file_with_wrong_or_foreign_token_removes_nothing(owner: ReplayServer,
                                                          articles: list[Article]) -> None:
    mine = make(urls=[articles[0].url])
    foreign = make(domain="world-wire.example", email="x@world-wire.example")
    for content in ("not-the-token\n", foreign.token, mine.token[:-1], ""):
        serve_file(owner, content)
        with pytest.raises(TakedownError) as exc:
            workflow.verify_file(mine.request, actor="t", origin_for=origin_for(owner))
        assert exc.value.status == 400 and "does not contain this request's token" in str(exc.value)
    # A token of another request/domain presented directly fails too.
    with pytest.raises(TakedownError, match="does not belong"):
        workflow.verify_token(mine.request, foreign.token, method="file", actor="t")
    # The file missing altogether.
    owner.clear_fault("owner")
    owner.set_fault("owner", FILE, "status", code=404)
    with pytest.raises(TakedownError, match="could not read"):
        workflow.verify_file(mine.request, actor="t", origin_for=origin_for(owner))
    assert Article.objects.count() == 3 and not Tombstone.objects.exists()
    mine.request.refresh_from_db()
    assert mine.request.status == "pending" and mine.request.token_used_at is None
    fails = AuditLog.objects.filter(request=mine.request, action="verification_failed")
    assert fails.count() == 6 and all(f.detail["reason"] for f in fails)


def test_file_redirect_to_another_site_does_not_count(owner: ReplayServer,
                                                      articles: list[Article]) -> None:
    created = make(urls=[articles[0].url])
    with ReplayServer([Site("attacker", pages=[])]) as attacker:
        attacker.add_page("attacker", Page(path=FILE, body=created.token.encode(),
                                           content_type="text/plain", meta={"in_feed": False}))
        # Same host, other port: another origin, but registrable_domain() of an IP is the IP, so
        # point the domain at "localhost" and redirect to 127.0.0.1.
        port = owner.origin("owner").rsplit(":", 1)[1]
        owner.set_fault("owner", FILE, "redirect", to=attacker.url("attacker", FILE))
        with pytest.raises(TakedownError, match="another site"):
            workflow.verify_file(created.request, actor="t",
                                 origin_for=lambda d: f"http://localhost:{port}")
    assert Article.objects.filter(pk=articles[0].pk).exists()


def test_ssrf_guard_applies_to_the_file_check(config: Any, settings: Any, owner: ReplayServer,
                                              articles: list[Article]) -> None:
    settings.CONFIG = dataclasses.replace(config, allow_private_networks=False)
    created = make(urls=[articles[0].url])
    serve_file(owner, created.token)
    with pytest.raises(TakedownError, match="non-public address"):
        workflow.verify_file(created.request, actor="t", origin_for=origin_for(owner))
    assert Article.objects.filter(pk=articles[0].pk).exists()


def test_expired_token_removes_nothing(owner: ReplayServer, articles: list[Article]) -> None:
    created = make(urls=[articles[0].url])
    req = created.request
    TakedownRequest.objects.filter(pk=req.pk).update(
        token_expires_at=timezone.now() - timedelta(seconds=1))
    req.refresh_from_db()
    serve_file(owner, created.token)
    with pytest.raises(TakedownError, match="expired") as exc:
        workflow.verify_file(req, actor="t", origin_for=origin_for(owner))
    assert exc.value.status == 409
    req.refresh_from_db()
    assert req.status == "expired" and "expired" in actions(req)
    assert not [r for r in owner.requests if r.path == FILE]  # not even fetched
    assert Article.objects.count() == 3


def test_expire_stale_in_the_sla_pass(articles: list[Article]) -> None:
    old, fresh = make(domain=DOMAIN), make(domain="world-wire.example", email="a@b.example")
    TakedownRequest.objects.filter(pk=old.request.pk).update(
        token_expires_at=timezone.now() - timedelta(minutes=1))
    assert workflow.sla_pass()["expired"] == 1
    old.request.refresh_from_db()
    fresh.request.refresh_from_db()
    assert old.request.status == "expired" and fresh.request.status == "pending"
    assert Article.objects.count() == 3


# -- the emailed link ---------------------------------------------------------------------------
def confirm_link(message: Any) -> str:
    m = re.search(r"https?://\S+/confirm/\S+", message.body)
    assert m, message.body
    return m.group(0)


def test_email_link_flow_and_abuse(client: Client, articles: list[Article]) -> None:
    created = make(urls=[articles[0].url, articles[1].url])
    req = created.request
    # Only mailboxes at the content's domain.
    with pytest.raises(TakedownError, match="not an address at"):
        workflow.send_email_link(req, "me@attacker.example", actor="t")
    with pytest.raises(TakedownError, match="neither a standard mailbox"):
        workflow.send_email_link(req, f"boss@{DOMAIN}", actor="t",
                                 origin_for=lambda d: "http://127.0.0.1:9")  # no security.txt
    assert mail.outbox == []
    # Requested through a host we answer to, but not our public address: the link must still
    # use NEWSDESK_BASE_URL.
    r = api_post(client, f"/api/takedown-requests/{req.public_id}/verify",
                 {"verify_email": f"webmaster@{DOMAIN}"}, HTTP_HOST="localhost")
    assert r.status_code == 200 and r.json()["email_sent_to"] == f"webmaster@{DOMAIN}"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [f"webmaster@{DOMAIN}"]
    link = confirm_link(mail.outbox[0])
    assert link.startswith(f"{BASE}/takedown/{req.public_id}/confirm/")
    secret = link.rsplit("/", 1)[1]
    assert secret != created.token and created.token not in mail.outbox[0].body
    # The requester knows the file token, but it does not confirm the emailed link.
    path = link.removeprefix(BASE)
    forged = path.rsplit("/", 1)[0] + "/" + created.token
    assert client.post(forged).status_code == 400
    # Another request's link does not work for this one.
    other = make(domain="world-wire.example", email="z@world-wire.example")
    other_secret = workflow.email_secret(other.request)
    assert client.post(f"/takedown/{req.public_id}/confirm/{other_secret}").status_code == 400
    assert client.post(f"/takedown/{other.request.public_id}/confirm/{secret}").status_code == 400
    assert Article.objects.count() == 3
    # GET only shows a Confirm button (mail scanners prefetch links); POST confirms.
    page = client.get(path)
    assert page.status_code == 200 and b"Confirm removal" in page.content
    assert Article.objects.count() == 3
    done = client.post(path)
    assert done.status_code == 200 and b"removed" in done.content
    req.refresh_from_db()
    assert req.status == "removed" and req.verified_by == "email"
    assert Article.objects.count() == 1
    # Reuse of the link.
    again = client.post(path)
    assert again.status_code == 409 and Article.objects.count() == 1
    acts = actions(req)
    assert acts.count("verification_failed") >= 4 and "verified" in acts


def test_security_txt_contact_on_the_domain(owner: ReplayServer, articles: list[Article]) -> None:
    created = make(urls=[articles[0].url])
    req = created.request
    # origin_for maps the domain to 127.0.0.1, so that is the domain the contact must be on.
    req.domain = "127.0.0.1"
    req.save(update_fields=["domain"])
    serve_file(owner, "Contact: mailto:security@127.0.0.1\nContact: mailto:x@evil.example\n"
                      "Contact: https://127.0.0.1/report\n", path="/.well-known/security.txt")
    sent = workflow.send_email_link(req, "security@127.0.0.1", actor="t",
                                    origin_for=origin_for(owner))
    assert sent == "security@127.0.0.1" and mail.outbox[0].to == ["security@127.0.0.1"]
    with pytest.raises(TakedownError):
        workflow.send_email_link(req, "x@evil.example", actor="t", origin_for=origin_for(owner))


def test_forged_host_header_is_refused(client: Client) -> None:
    r = client.post("/api/takedown-requests", "{}", content_type="application/json",
                    HTTP_HOST="evil.example")
    assert r.status_code == 400
    assert client.get("/takedown", HTTP_HOST="evil.example").status_code == 400


# -- the form -----------------------------------------------------------------------------------
def test_form_is_csrf_protected_and_csp_clean(articles: list[Article]) -> None:
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/takedown")
    html = page.content.decode()
    assert page.status_code == 200 and 'name="csrfmiddlewaretoken"' in html
    assert "<script" not in html and "style=" not in html and "<style" not in html
    data = {"urls": articles[0].url, "name": "Ola", "email": "ola@coast-daily.example",
            "reason": "mine"}
    assert browser.post("/takedown", data).status_code == 403  # no CSRF token
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    r = browser.post("/takedown", {**data, "csrfmiddlewaretoken": token})
    assert r.status_code == 201
    req = TakedownRequest.objects.get()
    body = r.content.decode()
    assert req.public_id in body and "only now" in body
    shown = re.search(r"<pre><code>([^<]+)</code></pre>", body).group(1)
    assert req.token_hash == token_hash(shown)
    status = browser.get(f"/takedown/{req.public_id}").content.decode()
    assert shown not in status and "waiting for ownership verification" in status.lower()
    bad = browser.post("/takedown", {**data, "urls": "https://a.example/1\nhttps://b.example/2",
                                     "csrfmiddlewaretoken": token})
    assert bad.status_code == 400 and "one registrable domain" in bad.content.decode()


# -- admins, SLA, report ------------------------------------------------------------------------
def test_admin_queue_approve_and_reject(admin_client: Client, articles: list[Article]) -> None:
    a = make(urls=[articles[0].url]).request
    b = make(domain="world-wire.example", email="b@world-wire.example").request
    TakedownRequest.objects.filter(pk=b.pk).update(
        created_at=timezone.now() - timedelta(hours=30),
        deadline_at=timezone.now() - timedelta(hours=6))
    page = admin_client.get("/admin/takedown/takedownrequest/").content.decode()
    assert a.public_id in page and "overdue by 6h" in page
    url = "/admin/takedown/takedownrequest/"
    admin_client.post(url, {"action": "approve", "_selected_action": [a.pk]})
    a.refresh_from_db()
    assert a.status == "removed" and a.verified_by == "admin:admin"
    assert not Article.objects.filter(pk=articles[0].pk).exists()
    assert AuditLog.objects.filter(request=a, action="verified", actor="admin:admin").exists()
    admin_client.post(url, {"action": "reject", "_selected_action": [b.pk]})
    b.refresh_from_db()
    assert b.status == "rejected" and "rejected" in actions(b)
    assert Article.objects.filter(pk=articles[2].pk).exists()
    assert admin_client.get(f"/admin/takedown/takedownrequest/{a.pk}/change/").status_code == 200
    assert admin_client.get("/admin/takedown/auditlog/").status_code == 200
    assert admin_client.get("/admin/takedown/auditlog/add/").status_code == 403


def test_reminders_once_after_12_hours() -> None:
    now = timezone.now()
    old = make(domain=DOMAIN).request
    young = make(domain="world-wire.example", email="y@world-wire.example").request
    TakedownRequest.objects.filter(pk=old.pk).update(created_at=now - timedelta(hours=13),
                                                     deadline_at=now + timedelta(hours=11))
    TakedownRequest.objects.filter(pk=young.pk).update(created_at=now - timedelta(hours=11))
    assert workflow.notify_admins() == 1
    assert len(mail.outbox) == 1
    msg = mail.outbox[0]
    assert msg.to == ["ops@news.example.org", "editor@news.example.org"]
    assert old.public_id in msg.body and young.public_id not in msg.body
    assert f"{BASE}/takedown/{old.public_id}" in msg.body and "m left)" in msg.body
    old.refresh_from_db()
    assert old.admins_notified_at and "admins_notified" in actions(old)
    assert workflow.notify_admins() == 0 and len(mail.outbox) == 1  # once only


def test_reminders_wait_for_configured_admins(config: Any, settings: Any) -> None:
    settings.CONFIG = dataclasses.replace(config, admin_emails="")
    req = make(domain=DOMAIN).request
    TakedownRequest.objects.filter(pk=req.pk).update(
        created_at=timezone.now() - timedelta(hours=13))
    assert workflow.notify_admins() == 0 and mail.outbox == []
    req.refresh_from_db()
    assert req.admins_notified_at is None


def test_report_and_cli(capsys: pytest.CaptureFixture[str], articles: list[Article]) -> None:
    from newsdesk import cli

    now = timezone.now()
    done = make(urls=[articles[0].url]).request
    workflow.approve(done, actor="admin:t")
    late = make(domain="world-wire.example", email="l@world-wire.example").request
    TakedownRequest.objects.filter(pk=late.pk).update(
        created_at=now - timedelta(hours=25), deadline_at=now - timedelta(hours=1))
    rows = {r["id"]: r for r in workflow.report()}
    assert rows[done.public_id]["status"] == "removed" and not rows[done.public_id]["overdue"]
    assert rows[done.public_id]["time_to_removal_seconds"] is not None
    assert rows[done.public_id]["time_left_seconds"] is None
    assert rows[late.public_id]["overdue"] and rows[late.public_id]["time_left_seconds"] < 0
    assert cli.main(["takedown", "report", "--json"]) == 0
    printed = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert printed[late.public_id]["overdue"] is True
    assert cli.main(["takedown", "report"]) == 0
    out = capsys.readouterr().out
    assert "OVERDUE" in out and "1 over the 24-hour deadline" in out
    assert cli.main(["takedown", "approve", "nope"]) == 1
    assert cli.main(["takedown", "approve", late.public_id]) == 0
    late.refresh_from_db()
    assert late.status == "removed" and late.verified_by.startswith("admin:cli:")
    assert cli.main(["takedown", "notify"]) == 0


async def test_daemon_sla_pass_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from newsdesk.runner import daemon

    def boom() -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(workflow, "sla_pass", boom)
    await daemon.sla_pass()  # logged, not raised


def test_public_ids_never_look_like_options(monkeypatch: pytest.MonkeyPatch) -> None:
    # `newsdesk takedown approve ID` must take every id: argparse reads "-x..." as an option
    import secrets

    from newsdesk.takedown.models import new_public_id

    tokens = iter(["-leading-dash", "_ok-token_"])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n: next(tokens))
    assert new_public_id() == "_ok-token_"
