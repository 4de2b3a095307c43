"""End-to-end ingest benchmark on a replayed corpus (loopback only).

Serves >= 1,000 recorded real pages as live sites (one origin per site, feeds + robots.txt +
ETags), runs `newsdesk crawl --once` on a fresh data dir with politeness delay 0 (robots.txt and
conditional GET stay on), and in the same run times bare trafilatura extraction of the same
pages. Prints pages/s, peak memory, text quality against the gold, and the ratios.

    .venv/bin/python bench/ingest.py [--pages 1000] [--workers 2] [--rounds 1]

With ``--rounds N`` the crawl runs N times, each on a fresh data dir and followed by a bare
extraction pass: each round's CPU ratio uses the bare passes just before and after it, and the
median of the rounds is printed (this machine's speed drifts by 10-20% within minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import trafilatura

from newsdesk.devtools.replay import ReplayServer, load_corpus, shared_data_dir
from newsdesk.pipeline.extract import ExtractionError, extract
from newsdesk.pipeline.metrics import corpus_scores, markdown_text
from newsdesk.pipeline.sitetemplate import SiteTemplate

REPO = Path(__file__).resolve().parents[1]


class _PeakRss:
    """Peak resident memory of the crawl's processes, sampled from /proc every 50 ms.

    Not getrusage: a child started by vfork/exec from this process, big with the corpus,
    inherits this process's high-water mark in its ru_maxrss."""

    def __init__(self) -> None:
        self.crawler_mb = self.worker_mb = self.total_mb = 0.0
        self._stop = threading.Event()
        self._me = os.getpid()

    @staticmethod
    def _rss_mb(pid: int) -> float:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    @staticmethod
    def _children(pid: int) -> list[int]:
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                return [int(c) for c in f.read().split()]
        except OSError:
            return []

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            for crawler in self._children(self._me):
                mine = self._rss_mb(crawler)
                # the workers and their resource tracker: the crawler's children
                kids = [self._rss_mb(k) for k in self._children(crawler)]
                self.crawler_mb = max(self.crawler_mb, mine)
                self.worker_mb = max(self.worker_mb, *kids, 0.0)
                self.total_mb = max(self.total_mb, mine + sum(kids))

    def __enter__(self) -> _PeakRss:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _crawl(nd: list[str], env: dict[str, str]) -> tuple[float, float, float, dict, _PeakRss]:
    """One `newsdesk crawl --once`: wall s, CPU s of it and its workers, this process's CPU s
    meanwhile (the replay server's), its JSON summary, peak memory."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    with _PeakRss() as rss:
        proc = subprocess.run([*nd, "crawl", "--once", "--json"], env=env, check=True,
                              capture_output=True, text=True)
    crawl_s = time.perf_counter() - t0
    server_cpu = time.process_time() - cpu0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    crawl_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return crawl_s, crawl_cpu, server_cpu, json.loads(proc.stdout.strip().splitlines()[-1]), rss


def _bare_pass(pages: list) -> float:
    """CPU ms/page of bare trafilatura over the pages."""
    c0 = time.process_time()
    for _s, p in pages:
        trafilatura.extract(p.body)
    return (time.process_time() - c0) / len(pages) * 1000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    data = shared_data_dir()
    if data is None:
        print("bench/ingest.py: ../shared/data not found; nothing to measure")
        return 0
    sites = load_corpus(data, min_pages=args.pages)
    pages = [(s, p) for s in sites for p in s.pages]
    print(f"corpus: {len(pages)} pages on {len(sites)} sites")

    with ReplayServer(sites) as server, tempfile.TemporaryDirectory() as tmp:
        url_gold = {server.url(s.name, p.path): p.gold_text for s, p in pages if p.gold_text}

        # Baseline: bare trafilatura on the same bytes, one core, same process (the replay
        # server is idle meanwhile, so this process's CPU time is the extraction's). Beside
        # it, page by page in turn, our extraction stage as the crawl's workers run it (a
        # template per site, learnt page by page; noarchive pages keep no text): taking turns
        # on each page cancels the drift of this machine's speed, which moved bare's figure
        # by 20% between two runs of this script measured one after the other.
        templates: dict[str, SiteTemplate] = {}
        base_out: dict[str, str] = {}
        base_cpu = ours_cpu = base_s = 0.0
        for s, p in pages:
            url = server.url(s.name, p.path)
            t0, c0 = time.perf_counter(), time.process_time()
            base_out[url] = trafilatura.extract(p.body) or ""
            base_s += time.perf_counter() - t0
            c1 = time.process_time()
            base_cpu += c1 - c0
            site = templates.setdefault(s.name, SiteTemplate())
            with contextlib.suppress(ExtractionError):
                ex = extract(p.body, url, None, site, skip_noarchive_text=True)
                if ex.blocks is not None:
                    site.learn(ex.blocks)
            ours_cpu += time.process_time() - c1
        base_rate = len(pages) / base_s
        ours_ms = ours_cpu / len(pages) * 1000

        opml = Path(tmp) / "sources.opml"
        outlines = "".join(
            f'<outline type="rss" text="{s.name}" xmlUrl="{server.feed_url(s.name)}"/>'
            for s in sites
        )
        opml.write_text(f'<opml version="2.0"><body>{outlines}</body></opml>')
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
        env.update(NEWSDESK_ALLOW_PRIVATE_NETWORKS="1", NEWSDESK_HOST_DELAY="0",
                   NEWSDESK_WORKERS=str(args.workers), NEWSDESK_DATA_DIR=f"{tmp}/data")
        nd = [sys.executable, "-m", "newsdesk.cli"]
        subprocess.run([*nd, "sources", "import", str(opml)], env=env, check=True,
                       capture_output=True)
        # the server compresses a page on its first request: done now, not during the crawl,
        # where it took the cores the crawl shares with it
        server.precompress()
        server.reset_log()
        crawl_s, crawl_cpu, server_cpu, summary, rss = _crawl(nd, env)
        # bare extraction again after the crawl: the crawl is compared with the mean of the
        # two passes that bracket it (both printed: their gap shows the machine's drift)
        base_after_ms = _bare_pass(pages)
        robots = sum(1 for r in server.requests if r.path == "/robots.txt")
        # more rounds, each on a fresh data dir, each followed by a bare pass:
        # (pipeline CPU ms/page, bare before, bare after)
        rounds = [(crawl_cpu / max(summary["new"], 1) * 1000, base_cpu / len(pages) * 1000,
                   base_after_ms)]
        for i in range(2, args.rounds + 1):
            env_i = {**env, "NEWSDESK_DATA_DIR": f"{tmp}/data{i}"}
            subprocess.run([*nd, "sources", "import", str(opml)], env=env_i, check=True,
                           capture_output=True)
            _s_i, cpu_i, _srv_i, summary_i, _rss_i = _crawl(nd, env_i)
            after = _bare_pass(pages)
            rounds.append((cpu_i / max(summary_i["new"], 1) * 1000, rounds[-1][2], after))

        # Second pass: feeds answer 304, nothing is fetched again.
        server.reset_log()
        proc2 = subprocess.run([*nd, "crawl", "--once", "--all", "--json"], env=env, check=True,
                               capture_output=True, text=True)
        summary2 = json.loads(proc2.stdout.strip().splitlines()[-1])
        conditional = sum(1 for r in server.requests if "if-none-match" in r.headers)

        exported = subprocess.run([*nd, "export", "--format", "jsonl"], env=env, check=True,
                                  capture_output=True, text=True).stdout.splitlines()
        records = [json.loads(line) for line in exported]
        ours = {r["url"]: markdown_text(r["text"]) for r in records}
        # Pages whose publisher says noarchive keep no text by design: scored apart.
        withheld = {r["url"] for r in records if r.get("withheld")}

    stored = summary["new"]
    rate = stored / crawl_s
    base_before_ms = base_cpu / len(pages) * 1000  # bare extraction CPU per page
    base_ms = (base_before_ms + base_after_ms) / 2
    pipe_ms = crawl_cpu / max(stored, 1) * 1000  # crawler process + extraction workers per page
    scored = {u: g for u, g in url_gold.items() if u not in withheld}
    golds = list(scored.values())
    ours_q = corpus_scores([ours.get(u, "") for u in scored], golds)
    base_q = corpus_scores([base_out.get(u, "") for u in scored], golds)
    print(f"bare trafilatura extract: {base_rate:.1f} pages/s on 1 core ({base_s:.1f} s); CPU "
          f"{base_before_ms:.1f} ms/page before the crawl, {base_after_ms:.1f} after")
    print(f"newsdesk crawl --once:    {rate:.1f} pages/s end to end ({stored} stored of "
          f"{len(pages)} in {crawl_s:.1f} s, {args.workers} extraction workers), "
          f"errors {summary['errors']}")
    print(f"  CPU: crawl incl. extraction workers {crawl_cpu:.1f} s "
          f"({pipe_ms:.1f} ms/page, of which the crawler process "
          f"{summary['cpu'] / max(stored, 1) * 1000:.1f} ms/page; bare extraction "
          f"{base_ms:.1f} ms/page), replay server {server_cpu:.1f} s")
    print(f"  of which extraction alone (same pages, in this process, templates learnt as "
          f"the crawl does, page by page in turn with bare): {ours_ms:.1f} ms/page, "
          f"{ours_ms / base_before_ms:.2f}x bare's CPU")
    print(f"  robots.txt fetched {robots}x; peak RSS: crawler process {rss.crawler_mb:.0f} MB, "
          f"largest extraction worker {rss.worker_mb:.0f} MB, all together {rss.total_mb:.0f} MB")
    print(f"  second pass: {summary2['feeds_not_modified']} of {summary2['sources_polled']} feeds "
          f"304, {summary2['pages_fetched']} pages refetched, {conditional} conditional requests")
    # Three ratios, each pipeline / bare extraction (1.0 = as fast as bare trafilatura; bare's
    # CPU is the mean of the passes before and after the crawl):
    # - overall: end-to-end pages/s against one core of bare extraction, on whatever cores the
    #   pipeline used (its extraction workers, crawler process and the replay server share them);
    # - per core used: the same divided by the cores the extraction workers can occupy; a wall
    #   clock figure, so it also counts idle waits and other load on the machine;
    # - CPU per core: bare extraction CPU ms/page / pipeline CPU ms/page (crawler process +
    #   workers, replay server excluded): what the pipeline would reach per fully busy core,
    #   the least noisy of the three on a shared machine.
    cores = min(args.workers, os.cpu_count() or 1)
    print(f"ratio pipeline / bare extraction: {rate / base_rate:.2f}x overall, "
          f"{rate / cores / base_rate:.2f}x per core used ({cores}, wall clock), "
          f"{base_ms / pipe_ms:.2f}x per core by CPU time "
          f"({base_ms:.1f} / {pipe_ms:.1f} ms/page)")
    if len(rounds) > 1:
        ratios = sorted((before + after) / 2 / pipe for pipe, before, after in rounds)
        print(f"rounds ({len(rounds)}): pipeline CPU ms/page (bare before/after) "
              + "; ".join(f"{p:.1f} ({b:.1f}/{a:.1f})" for p, b, a in rounds))
        print(f"  ratio per core by CPU time, each round: "
              f"{', '.join(f'{r:.2f}' for r in ratios)}; median {ratios[len(ratios) // 2]:.2f}")
    print(f"withheld (publisher's noarchive: title and link only): {len(withheld)} pages, "
          f"{len(url_gold) - len(scored)} of them with gold text")
    print(f"text quality vs gold ({len(scored)} pages): newsdesk P={ours_q[0]:.3f} "
          f"R={ours_q[1]:.3f} F1={ours_q[2]:.3f} | bare trafilatura P={base_q[0]:.3f} "
          f"R={base_q[1]:.3f} F1={base_q[2]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
