"""End to end, as a user runs it: sources -> crawl -> stored articles -> search -> export.

Real recorded pages served by the loopback replay server, the real `newsdesk` command in a
subprocess on a throwaway data dir, text checked against the human gold of site-level-big9.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from newsdesk.devtools.replay import Page, ReplayServer, Site, load_big9
from newsdesk.pipeline.metrics import shingle_scores
from tests.conftest import Cli, shared_data


def big9(sites: list[str], era: str = "2017", n: int = 8) -> list[Site]:
    out = []
    for s in load_big9(shared_data() / "web", eras=[era], sites=sites):
        s.pages = s.pages[:n]
        out.append(s)
    assert out, "big9 corpus did not load"
    return out


def crawl(cli: Cli, *extra: str) -> dict:
    proc = cli("crawl", "--once", "--json", *extra)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def opml_for(tmp_path: Path, server: ReplayServer, names: list[str], category: str) -> Path:
    items = "".join(
        f'<outline type="rss" text="{n}" xmlUrl="{server.feed_url(n)}"/>' for n in names)
    path = tmp_path / "sources.opml"
    path.write_text(f'<opml version="2.0"><body><outline text="{category}">{items}</outline>'
                    "</body></opml>")
    return path


def test_sources_crawl_search_export(cli: Cli, tmp_path: Path) -> None:
    sites = big9(["bbc", "arstechnica", "cnn"])
    with ReplayServer(sites) as server:
        # A home page: its feed is discovered through <link rel="alternate">.
        out = cli("sources", "add", server.url("bbc", "/"), "--category", "World").stdout
        assert server.feed_url("bbc") in out
        cli("sources", "import", str(opml_for(tmp_path, server, ["arstechnica", "cnn"], "Tech")))

        summary = crawl(cli)
        total = sum(len(s.pages) for s in sites)
        assert summary["sources_polled"] == 3
        assert summary["new"] == total, summary
        assert summary["errors"] == {}
        robots = [r for r in server.requests if r.path == "/robots.txt"]
        assert {r.site for r in robots} == {"bbc", "arstechnica", "cnn"}  # obeyed, per site

        health = {r["url"]: r for r in json.loads(cli("sources", "list", "--json").stdout)}
        for s in sites:
            row = health[server.feed_url(s.name)]
            assert row["articles"] == len(s.pages) and row["last_success"]
            assert row["consecutive_failures"] == 0 and row["next_poll"] > row["last_success"]
        exported = [json.loads(x) for x in cli("export", "--format", "jsonl").stdout.splitlines()]
        assert len(exported) == total
        gold = {server.url(s.name, p.path): (s.name, p) for s in sites for p in s.pages}
        f1s = []
        for rec in exported:
            site, page = gold[rec["url"]]  # every article names its primary source URL
            assert rec["source"]["url"] == server.feed_url(site) and rec["source"]["name"]
            assert rec["title"] and rec["fetched_at"] and rec["canonical_url"]
            p, r = shingle_scores(rec["text"], page.gold_text or "")
            f1s.append(2 * p * r / (p + r) if p + r else 0.0)
        assert sum(f1s) / len(f1s) > 0.8, f1s
        cats = {c for rec in exported for c in rec["categories"]}
        assert {"World", "Tech"} <= cats

        # Search finds an article by a distinctive word of its title.
        target = exported[0]
        word = max(target["title"].split(), key=len).strip(".,:;!?\"'")
        hits = json.loads(cli("search", word, "--json").stdout)
        assert target["id"] in [h["id"] for h in hits]

        # Second pass: every feed answers 304 to the validators we kept; nothing refetched.
        server.reset_log()
        again = crawl(cli, "--all")
        assert again["feeds_not_modified"] == 3 and again["new"] == 0
        assert again["pages_fetched"] == 0
        feed_reqs = [r for r in server.requests if r.path.startswith("/feed")]
        assert feed_reqs and all("if-none-match" in r.headers for r in feed_reqs)

        # A new article appears in one feed: exactly it is fetched and stored.
        extra = sites[0].pages[0]
        server.add_page("bbc", Page(path="/new/story.html", body=extra.body, title="New story"))
        third = crawl(cli, "--all")
        assert third["new"] + third["duplicate"] == 1 and third["pages_fetched"] == 1


def test_failures_are_recorded_and_do_not_stop_the_crawl(cli: Cli, tmp_path: Path) -> None:
    sites = big9(["bbc", "forbes", "yahoo"], n=4)
    with ReplayServer(sites) as server:
        cli("sources", "import", str(opml_for(tmp_path, server, ["bbc", "forbes", "yahoo"], "X")))
        server.set_fault("forbes", "/feed.xml", "status", code=500)
        bad_page = sites[0].pages[1].path
        server.set_fault("bbc", bad_page, "status", code=404)
        server.site("yahoo").robots_txt = "User-agent: newsdesk\nDisallow: /\n"

        summary = crawl(cli)
        assert summary["errors"] == {"http_500": 1, "http_404": 1, "robots": 4}
        assert summary["new"] == 3  # bbc's other pages
        assert not [r for r in server.requests if r.site == "yahoo" and r.path.endswith(".html")]
        health = {r["url"]: r for r in json.loads(cli("sources", "list", "--json").stdout)}
        forbes = health[server.feed_url("forbes")]
        assert forbes["last_error_reason"] == "http_500" and forbes["consecutive_failures"] == 1
        assert forbes["last_success"] is None and forbes["articles"] == 0
        first_retry = forbes["next_poll"]

        # Failing again backs off further; recovery resets the count.
        crawl(cli, "--all")
        forbes = {r["url"]: r for r in json.loads(cli("sources", "list", "--json").stdout)}[
            server.feed_url("forbes")]
        assert forbes["consecutive_failures"] == 2 and forbes["next_poll"] > first_retry
        server.clear_fault("forbes")
        assert crawl(cli, "--all")["new"] == 4
        forbes = {r["url"]: r for r in json.loads(cli("sources", "list", "--json").stdout)}[
            server.feed_url("forbes")]
        assert forbes["consecutive_failures"] == 0 and forbes["articles"] == 4


def test_kill_mid_crawl_loses_and_duplicates_nothing(cli: Cli, tmp_path: Path) -> None:
    sites = big9(["nymag", "cnn"], era="2013", n=10)
    with ReplayServer(sites) as server:
        cli("sources", "import", str(opml_for(tmp_path, server, ["nymag", "cnn"], "X")))
        # Slow pages so the kill lands while pages are in flight.
        for s in sites:
            server.set_fault(s.name, "*", "slow", delay=0.3)
            server.set_fault(s.name, "/feed.xml", "slow", delay=0)
        proc = cli.popen("crawl", "--once")
        db = cli.data_dir / "newsdesk.sqlite3"
        deadline = time.monotonic() + 60
        stored = 0
        while time.monotonic() < deadline and stored < 4:
            time.sleep(0.1)
            stored = _count(db, "news_article")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        at_kill = (_count(db, "news_article"), _count(db, "news_queuedpage"))
        total = sum(len(s.pages) for s in sites)
        assert at_kill[0] >= 4 and at_kill[1] > 0 and sum(at_kill) == total, at_kill
        for s in sites:
            server.clear_fault(s.name)
        # The feeds now answer 304 (validators were kept with the queued pages), so everything
        # left must come from the persisted frontier.
        summary = crawl(cli)
        exported = [json.loads(x) for x in cli("export").stdout.splitlines()]
        urls = [e["url"] for e in exported]
        expected = {server.url(s.name, p.path) for s in sites for p in s.pages}
        assert len(urls) == len(set(urls)) == len(expected), summary
        assert set(urls) == expected


def _count(db: Path, table: str) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_import_warc_and_extract_cli(cli: Cli) -> None:
    warc = shared_data() / "web" / "warc" / "cc-main-bbc-news" / "www_bbc_co_uk_news.warc"
    out = cli("import-warc", str(warc)).stdout
    assert "new=1" in out
    rec = json.loads(cli("export").stdout.splitlines()[0])
    assert rec["url"] == "https://www.bbc.co.uk/news" and rec["text"]

    page = shared_data() / "web" / "warc" / "cc-main-bbc-news" / "bbc-article-keir-starmer.html"
    one = json.loads(cli("extract", str(page), "--url", "https://www.bbc.com/news/x").stdout)
    assert one["title"] and "Starmer" in one["text"]
    lines = "\n".join([
        json.dumps({"id": 1, "path": str(page)}),
        "{not json",
        json.dumps({"id": 3, "path": "/nonexistent.html"}),
    ])
    proc = cli("extract", "--jsonl", input=lines)
    outs = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [o["id"] for o in outs] == [1, None, 3]
    assert "Starmer" in outs[0]["text"] and "error" in outs[1] and "error" in outs[2]
    assert "line 2" in proc.stderr and "line 3" in proc.stderr


@pytest.mark.parametrize("bad", ["--bogus", "nonexistent-command"])
def test_cli_usage_errors(cli: Cli, bad: str) -> None:
    assert cli(bad, check=False).returncode == 2


@pytest.mark.parametrize("fmt", ["atom", "json", "sitemap"])
def test_every_source_kind_crawls(cli: Cli, fmt: str) -> None:
    sites = big9(["yahoo"], era="2009", n=5)
    if fmt != "sitemap":
        sites[0].feed_format = fmt
    with ReplayServer(sites) as server:
        url = server.sitemap_url("yahoo") if fmt == "sitemap" else server.feed_url("yahoo")
        cli("sources", "add", url)
        kinds = {r["kind"] for r in json.loads(cli("sources", "list", "--json").stdout)}
        assert kinds == {fmt}
        summary = crawl(cli)
        assert summary["new"] == 5 and summary["errors"] == {}


def test_changed_article_is_refetched_and_updated(cli: Cli) -> None:
    sites = big9(["bbc"], era="2009", n=3)
    sites[0].feed_format = "atom"  # Atom entries carry <updated>
    with ReplayServer(sites) as server:
        cli("sources", "add", server.feed_url("bbc"))
        assert crawl(cli)["new"] == 3
        page = sites[0].pages[0]
        # Edit inside the article body: after a long word of the gold text found in the HTML.
        words = sorted(set((page.gold_text or "").split()), key=len, reverse=True)
        anchor = next(w.encode() for w in words if page.body.count(w.encode()) == 1)
        edited = page.body.replace(anchor, anchor + b" A correction was appended.", 1)
        time.sleep(1.1)  # feed dates have one-second resolution
        server.update_page("bbc", page.path, edited)
        again = crawl(cli, "--all")
        assert again["updated"] == 1 and again["new"] == 0 and again["pages_fetched"] == 1
        rec = {json.loads(x)["url"]: json.loads(x) for x in cli("export").stdout.splitlines()}
        changed = rec[server.url("bbc", page.path)]
        assert changed["changed_at"] and "A correction was appended." in changed["text"]


def test_periodic_unconditional_poll_beats_lying_validators(tmp_path: Path) -> None:
    from tests.conftest import cli_env

    sites = big9(["cnn"], era="2005", n=4)
    new_page = sites[0].pages.pop()
    with ReplayServer(sites) as server:
        # First with a long unconditional period: the lying 304 hides the new article.
        cli = Cli(tmp_path / "data", cli_env(NEWSDESK_UNCONDITIONAL_EVERY="3600"))
        cli("sources", "add", server.feed_url("cnn"))
        assert crawl(cli)["new"] == 3
        server.set_fault("cnn", "/feed.xml", "lying_validators", mode="always_304")
        server.add_page("cnn", new_page)
        hidden = crawl(cli, "--all")
        assert hidden["feeds_not_modified"] == 1 and hidden["new"] == 0
        # Once the unconditional period has passed, the feed is asked without validators.
        cli = Cli(tmp_path / "data", cli_env(NEWSDESK_UNCONDITIONAL_EVERY="1"))
        time.sleep(1.1)
        server.reset_log()
        found = crawl(cli, "--all")
        assert found["new"] == 1 and found["feeds_not_modified"] == 0
        feed_req = [r for r in server.requests if r.path == "/feed.xml"][0]
        assert "if-none-match" not in feed_req.headers


def test_broken_feed_is_a_recorded_parse_failure(cli: Cli) -> None:
    sites = big9(["nymag", "bbc"], era="2017", n=2)
    with ReplayServer(sites) as server:
        for s in sites:
            cli("sources", "add", server.feed_url(s.name))
        # A page stored at the feed's path replaces the generated feed.
        server.add_page("nymag", Page(path="/feed.xml", body=b"<p>Maintenance</p>",
                                      content_type="application/rss+xml"))
        summary = crawl(cli)
        assert summary["errors"] == {"parse": 1} and summary["new"] == 2  # bbc unaffected
        row = {r["url"]: r for r in json.loads(cli("sources", "list", "--json").stdout)}[
            server.feed_url("nymag")]
        assert row["last_error_reason"] == "parse" and row["consecutive_failures"] == 1
        assert row["last_error_message"]


def test_manage_passes_django_commands_through(cli: Cli) -> None:
    env = {**cli.env, "DJANGO_SUPERUSER_PASSWORD": "pw-for-test"}
    proc = Cli(cli.data_dir, env)("manage", "createsuperuser", "--noinput", "--username",
                                   "editor", "--email", "editor@example.org")
    assert "Superuser created" in proc.stdout
    assert "no issues" in cli("manage", "check").stdout


def test_noarchive_pages_keep_title_and_link_only(cli: Cli) -> None:
    sites = big9(["cnn"], era="2017", n=3)
    page = sites[0].pages[0]
    page.body = page.body.replace(b"<head>", b'<head><meta name="robots" content="noarchive">', 1)
    assert b"noarchive" in page.body
    with ReplayServer(sites) as server:
        cli("sources", "add", server.feed_url("cnn"))
        assert crawl(cli)["new"] == 3
        recs = {json.loads(x)["url"]: json.loads(x) for x in cli("export").stdout.splitlines()}
        opted_out = recs.pop(server.url("cnn", page.path))
    assert opted_out["withheld"] == "noarchive" and opted_out["title"]
    assert opted_out["text"] == "" and opted_out["summary"] is None and opted_out["authors"] == []
    assert all(r["withheld"] is None and r["text"] for r in recs.values())
