"""Shared fixtures: where the recorded corpus lives, and a CLI runner on a throwaway data dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def shared_data() -> Path:
    """The recorded corpus beside the repo; skip (saying why) where it is absent."""
    if not (SHARED / "web").is_dir():
        pytest.skip(f"recorded corpus not found at {SHARED} (../shared/data beside the repo)")
    return SHARED


@pytest.fixture
def shared() -> Path:
    return shared_data()


class Cli:
    """Runs `newsdesk` in a subprocess, as a user would, on its own data dir."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.env = env

    def __call__(self, *args: str, check: bool = True, input: str | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "newsdesk.cli", "--data-dir", str(self.data_dir), *args],
            env=self.env, capture_output=True, text=True, input=input, timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"newsdesk {' '.join(args)} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
            )
        return proc

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "newsdesk.cli", "--data-dir", str(self.data_dir), *args],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NEWSDESK_", "DATABASE_URL", "DJANGO_"))}
    # Tests crawl the loopback replay server: allow it, and don't wait between requests.
    env.update(NEWSDESK_ALLOW_PRIVATE_NETWORKS="1", NEWSDESK_HOST_DELAY="0",
               NEWSDESK_WORKERS="1")
    env.update(extra)
    return env


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "data", cli_env())


@pytest.fixture(autouse=True)
def _fresh_grouping() -> None:
    """news.grouping and news.store keep per-process state (index, clusterer, cached source
    names): each test starts without it."""
    from newsdesk.news import grouping, store

    grouping.reset()
    store.reset_caches()
