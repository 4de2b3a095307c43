"""The basic commands on PostgreSQL (DATABASE_URL), against the machine's real server."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from newsdesk.devtools.replay import ReplayServer, load_big9
from tests.conftest import Cli, cli_env, shared_data

ADMIN_URL = os.environ.get("NEWSDESK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def pg_url() -> Iterator[str]:
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {ADMIN_URL}: {exc}")
    name = f"newsdesk_test_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_basic_commands_on_postgres(pg_url: str, tmp_path: Path) -> None:
    sites = load_big9(shared_data() / "web", eras=["2009"], sites=["bbc", "cnn"])
    for s in sites:
        s.pages = s.pages[:5]
    cli = Cli(tmp_path / "data", cli_env(DATABASE_URL=pg_url))
    with ReplayServer(sites) as server:
        for s in sites:
            cli("sources", "add", server.feed_url(s.name), "--category", "World")
        summary = json.loads(cli("crawl", "--once", "--json").stdout.splitlines()[-1])
        assert summary["new"] == 10 and summary["errors"] == {}
        again = json.loads(cli("crawl", "--once", "--all", "--json").stdout.splitlines()[-1])
        assert again["new"] == 0 and again["feeds_not_modified"] == 2
    rows = json.loads(cli("sources", "list", "--json").stdout)
    assert sorted(r["articles"] for r in rows) == [5, 5]
    exported = [json.loads(x) for x in cli("export").stdout.splitlines()]
    assert len(exported) == 10
    word = max(exported[0]["title"].split(), key=len).strip(".,:;!?\"'")
    hits = json.loads(cli("search", word, "--json").stdout)
    assert exported[0]["id"] in [h["id"] for h in hits]
    # The data lives in PostgreSQL, not in a SQLite file in the data dir.
    assert not (tmp_path / "data" / "newsdesk.sqlite3").exists()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM news_article").fetchone()[0] == 10
