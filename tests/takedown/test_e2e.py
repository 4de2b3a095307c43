"""End to end, as an owner meets it: a crawled site, a removal request through the API, ownership
shown by an emailed link (a real SMTP sink) or by a file on the site (the loopback replay
server), the article gone from every surface within seconds, and a re-crawl not bringing it back.

Everything runs as processes, as in production: `newsdesk crawl` and `newsdesk serve` on a
throwaway data dir, email over SMTP. The one test hook: the served process maps the sites' domain
to the replay server's origin for the file check (real sites answer on port 443/80).
"""

from __future__ import annotations

import email
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import httpx
import pytest

from newsdesk.devtools.replay import Page, ReplayServer
from tests.conftest import Cli, cli_env
from tests.test_ingest_e2e import big9, crawl

FILE = "/.well-known/newsdesk-takedown.txt"
SERVE = """
import sys
from newsdesk.takedown import verify
origin = sys.argv[3]
verify.ORIGIN_FOR = lambda domain: origin  # the replay server stands in for the owner's site
from newsdesk.cli import main
sys.exit(main(["--data-dir", sys.argv[1], "serve", "--port", sys.argv[2]]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Sink:
    """aiosmtpd handler: keeps every message it is given."""

    messages: list[tuple[list[str], Message]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(
            envelope.original_content or envelope.content)))
        return "250 OK"

    def wait(self, n: int, timeout: float = 10.0) -> list[tuple[list[str], Message]]:
        end = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < end:
            time.sleep(0.05)
        assert len(self.messages) >= n, f"expected {n} messages, got {len(self.messages)}"
        return self.messages


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    from aiosmtpd.controller import Controller

    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def body_of(msg: Message) -> str:
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(msg.get_content_charset() or "utf-8")


def wait_for(pred: Any, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if pred():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def gone_everywhere(web: httpx.Client, article: dict[str, Any]) -> None:
    """The removed article answers 410 by id and is absent from lists, feeds and search."""
    assert web.get(f"/api/articles/{article['id']}").status_code == 410
    assert web.get(article["web_url"]).status_code == 410
    word = max(article["title"].split(), key=len).strip(".,:;!?\"'")
    for path in ("/", "/feed.atom", "/feed.json", "/sitemap.xml", f"/search?q={word}",
                 f"/api/articles?q={word}", "/api/articles"):
        r = web.get(path)
        assert r.status_code == 200, path
        assert article["url"] not in r.text and f"/article/{article['id']}/" not in r.text, path


def test_owner_removes_articles_by_email_and_by_file(tmp_path: Any, smtp: tuple[Sink, int]
                                                     ) -> None:
    pytest.importorskip("newsdesk.takedown.removal",
                        reason="newsdesk.takedown.removal (the removal step) is not there yet")
    sink, smtp_port = smtp
    sites = big9(["bbc"], era="2017", n=4)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cli = Cli(tmp_path / "data", cli_env(
        NEWSDESK_EMAIL_BACKEND="smtp", NEWSDESK_SMTP_HOST="127.0.0.1",
        NEWSDESK_SMTP_PORT=str(smtp_port), NEWSDESK_EMAIL_FROM="takedown@news.test",
        NEWSDESK_BASE_URL=base, NEWSDESK_ALLOWED_HOSTS="127.0.0.1"))
    with ReplayServer(sites) as replay:
        cli("sources", "add", replay.feed_url("bbc"))
        assert crawl(cli)["new"] == 4
        proc = subprocess.Popen([sys.executable, "-c", SERVE, str(cli.data_dir), str(port),
                                 replay.origin("bbc")], env=cli.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            with httpx.Client(base_url=base, timeout=10) as web:
                wait_for(lambda: web.get("/healthz").status_code == 200)
                listed = web.get("/api/articles?limit=10").json()["items"]
                assert len(listed) == 4
                by_email, by_file = listed[0], listed[1]
                _email_flow(web, sink, by_email, base)
                _file_flow(web, replay, by_file)
                # Forged Host header: refused outright, never used to build a link.
                assert web.post("/api/takedown-requests", json={"domain": "127.0.0.1"},
                                headers={"Host": "evil.example"}).status_code == 400

            # A re-crawl of every source does not bring either article back.
            again = crawl(cli, "--all")
            assert again["new"] == 0, again
            urls = [json.loads(x)["url"] for x in cli("export").stdout.splitlines()]
            assert by_email["url"] not in urls and by_file["url"] not in urls
            assert len(urls) == 2
            with httpx.Client(base_url=base, timeout=10) as web:
                gone_everywhere(web, by_email)
                gone_everywhere(web, by_file)
            report = {r["id"]: r for r in json.loads(
                cli("takedown", "report", "--json").stdout)}
            assert [r["status"] for r in report.values()] == ["removed", "removed"]
            assert not any(r["overdue"] for r in report.values())
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=20)
        # Django logs the refused Host header with its traceback; nothing else may crash.
        raised = re.findall(r"^([\w.]+(?:Error|Exception|DisallowedHost)): ", err, re.M)
        assert set(raised) <= {"django.core.exceptions.DisallowedHost"}, err


def _email_flow(web: httpx.Client, sink: Sink, article: dict[str, Any], base: str) -> None:
    r = web.post("/api/takedown-requests", json={
        "urls": [article["url"]], "name": "Webmaster", "email": "owner@owner.test",
        "reason": "our copyright", "verify_email": "webmaster@127.0.0.1"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["email_sent_to"] == "webmaster@127.0.0.1"
    rcpts, msg = sink.wait(1)[0]
    assert rcpts == ["webmaster@127.0.0.1"] and msg["From"] == "takedown@news.test"
    link = re.search(r"http://\S+/confirm/\S+", body_of(msg)).group(0)
    assert link.startswith(f"{base}/takedown/{created['id']}/confirm/")
    assert created["token"] not in link  # the requester cannot confirm by themselves
    path = link.removeprefix(base)
    # Following the link shows a Confirm button; only the POST removes.
    page = web.get(path)
    assert page.status_code == 200 and web.get(f"/api/articles/{article['id']}").status_code == 200
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    started = time.monotonic()
    done = web.post(path, data={"csrfmiddlewaretoken": csrf})
    assert done.status_code == 200, done.text
    gone_everywhere(web, article)
    assert time.monotonic() - started < 5
    status = web.get(f"/api/takedown-requests/{created['id']}").json()
    assert status["status"] == "removed" and status["removed_at"]
    assert 0 <= status["time_to_removal_seconds"] < 60
    # The link works once.
    assert web.post(path, data={"csrfmiddlewaretoken": csrf}).status_code == 409


def _file_flow(web: httpx.Client, replay: ReplayServer, article: dict[str, Any]) -> None:
    r = web.post("/api/takedown-requests", json={
        "urls": [article["url"]], "name": "Webmaster", "email": "owner@owner.test",
        "reason": "ours too"})
    assert r.status_code == 201, r.text
    created = r.json()
    verify_url = f"/api/takedown-requests/{created['id']}/verify"
    assert created["verification"]["file"]["url"] == f"https://127.0.0.1{FILE}"
    # Not there yet, then the wrong token: clear refusals, nothing removed.
    miss = web.post(verify_url)
    assert miss.status_code == 400 and "could not read" in miss.json()["detail"]
    replay.add_page("bbc", Page(path=FILE, body=b"some-other-token\n", content_type="text/plain",
                                meta={"in_feed": False}))
    wrong = web.post(verify_url)
    assert wrong.status_code == 400 and "does not contain" in wrong.json()["detail"]
    assert web.get(f"/api/articles/{article['id']}").status_code == 200
    replay.update_page("bbc", FILE, f"some-other-token\n{created['token']}\n".encode())
    ok = web.post(verify_url)
    assert ok.status_code == 200 and ok.json()["status"] == "removed", ok.text
    gone_everywhere(web, article)
    assert web.post(verify_url).status_code == 409  # already done
