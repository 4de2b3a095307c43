"""Process start-up: resolve the data dir, configure Django, migrate an empty database."""

from __future__ import annotations

import os
from pathlib import Path

from newsdesk import conf

_done = False


def setup(data_dir: str | Path | None = None, *, migrate: bool = True) -> conf.Config:
    """Idempotent. `data_dir` (the --data-dir flag) wins over NEWSDESK_DATA_DIR."""
    global _done
    if data_dir is not None:
        os.environ["NEWSDESK_DATA_DIR"] = str(Path(data_dir).expanduser().resolve())
    config = conf.load()
    if _done:
        return config
    from django.apps import apps

    if apps.ready:
        # Django is already set up by whoever runs us in-process (a test runner, an embedding
        # app): its database is theirs to manage, so neither create a data dir nor migrate.
        _done = True
        return config
    config.data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsdesk.settings")
    import django

    django.setup()
    if migrate:
        migrate_if_needed()
    _done = True
    return config


def migrate_if_needed() -> bool:
    """Apply pending migrations (the first command on an empty data dir creates the database)."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        return False
    call_command("migrate", interactive=False, verbosity=0)
    return True
