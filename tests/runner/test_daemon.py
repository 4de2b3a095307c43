"""`newsdesk run` and `serve` as processes: they serve, crawl, and stop cleanly on Ctrl-C."""

from __future__ import annotations

import json
import signal
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from newsdesk.devtools.replay import ReplayServer, load_big9
from newsdesk.news.models import Category, Source
from newsdesk.runner.daemon import ensure_sources
from tests.conftest import Cli, shared_data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.read()


def wait_for(pred, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if pred():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_run_serves_crawls_and_stops_on_ctrl_c(cli: Cli) -> None:
    sites = load_big9(shared_data() / "web", eras=["2005"], sites=["arstechnica"])
    sites[0].pages = sites[0].pages[:3]
    with ReplayServer(sites) as server:
        cli("sources", "add", server.feed_url("arstechnica"))
        port = free_port()
        proc = cli.popen("run", "--port", str(port))
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: json.loads(get(f"{base}/healthz")[1])["articles"] == 3)
            status, body = get(base + "/")
            assert status == 200
            # Every listed item links its primary source.
            for p in sites[0].pages:
                assert server.url("arstechnica", p.path).encode() in body
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
        _, err = proc.communicate()
        assert "Traceback" not in err, err


@pytest.mark.django_db
def test_default_sources_used_when_none_configured() -> None:
    assert ensure_sources() >= 100
    assert Source.objects.count() >= 100 and Category.objects.count() >= 20
    assert ensure_sources() == 0  # only when nothing is configured


def test_serve_alone(cli: Cli, tmp_path: Path) -> None:
    port = free_port()
    proc = cli.popen("serve", "--port", str(port))
    try:
        wait_for(lambda: get(f"http://127.0.0.1:{port}/healthz")[0] == 200, timeout=30)
        assert b"Nothing collected yet" in get(f"http://127.0.0.1:{port}/")[1]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
