"""DDL of the full-text index (used by migrations).

On SQLite, Django applies many schema changes to news_article by rebuilding the table, which drops
its triggers: every migration that alters Article must end with `reinstall_triggers`.
"""

SQLITE_TABLE = """CREATE VIRTUAL TABLE news_article_fts USING fts5(
    title, text, content='news_article', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2')"""

SQLITE_TRIGGERS = [
    """CREATE TRIGGER news_article_fts_ai AFTER INSERT ON news_article BEGIN
        INSERT INTO news_article_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END""",
    """CREATE TRIGGER news_article_fts_ad AFTER DELETE ON news_article BEGIN
        INSERT INTO news_article_fts(news_article_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
    END""",
    """CREATE TRIGGER news_article_fts_au AFTER UPDATE OF title, text ON news_article BEGIN
        INSERT INTO news_article_fts(news_article_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
        INSERT INTO news_article_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END""",
]
SQLITE_DROP_TRIGGERS = [
    "DROP TRIGGER IF EXISTS news_article_fts_ai",
    "DROP TRIGGER IF EXISTS news_article_fts_ad",
    "DROP TRIGGER IF EXISTS news_article_fts_au",
]
SQLITE_REBUILD = "INSERT INTO news_article_fts(news_article_fts) VALUES ('rebuild')"

PG_INDEX = """CREATE INDEX news_article_tsv ON news_article USING GIN (
    to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(text, '')))"""


def reinstall_triggers(apps, schema_editor) -> None:  # noqa: ANN001 - migration signature
    if schema_editor.connection.vendor != "sqlite":
        return
    for sql in [*SQLITE_DROP_TRIGGERS, *SQLITE_TRIGGERS, SQLITE_REBUILD]:
        schema_editor.execute(sql)
