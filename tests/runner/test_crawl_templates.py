"""The crawler learns each site's template as it stores pages and strips it from later ones."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

from newsdesk.devtools.replay import Page, ReplayServer, Site
from tests.conftest import Cli
from tests.pipeline.test_sitetemplate import BOILERPLATE, site_page

T0 = datetime(2026, 11, 1, 8, tzinfo=UTC)


def _site(first: int, n: int) -> Site:
    pages = [Page(f"/news/{i}.html", site_page(i).encode(), published=T0 + timedelta(hours=i),
                  title=f"Story {i}") for i in range(first, first + n)]
    return Site("bugle", pages)


def _texts(cli: Cli) -> dict[str, str]:
    return {json.loads(x)["url"].rsplit("/", 1)[1]: json.loads(x)["text"]
            for x in cli("export").stdout.splitlines()}


def test_crawler_learns_and_strips_site_template(cli: Cli) -> None:
    with ReplayServer([_site(0, 12)]) as server:
        cli("sources", "add", server.feed_url("bugle"))
        cli("crawl", "--once")
        first = _texts(cli)
        assert len(first) == 12
        # pages extracted before the site had three stored pages keep the site's blocks; the
        # later ones come out clean (extraction runs in parallel: the split is not exact)
        clean = [n for n, text in first.items() if not [b for b in BOILERPLATE if b in text]]
        assert len(clean) >= 4, clean
        with sqlite3.connect(cli.data_dir / "newsdesk.sqlite3") as db:
            rows = db.execute("SELECT host, pages FROM news_sitetemplatestate").fetchall()
        assert rows == [(server.origin("bugle").removeprefix("http://"), 12)]

        # the next pass (a new crawler process) starts from the saved template
        for i in range(12, 15):
            server.add_page("bugle", _site(i, 1).pages[0])
        cli("crawl", "--once", "--all")
    later = _texts(cli)
    for name in ("12.html", "13.html", "14.html"):
        assert not [b for b in BOILERPLATE if b in later[name]], name
        assert "Story number" not in later[name]  # the title is not repeated in the text
