"""Full-text index kept in step with articles by the database itself.

SQLite: an FTS5 external-content table over news_article plus triggers, so every insert, update
and delete (ORM, raw SQL or cascade) keeps the index exact. PostgreSQL: a GIN index over the
same tsvector expression the search backend queries ('simple' config: the corpus is multilingual).
"""

from django.db import migrations

SQLITE_UP = [
    """CREATE VIRTUAL TABLE news_article_fts USING fts5(
        title, text, content='news_article', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
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
    "INSERT INTO news_article_fts(news_article_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS news_article_fts_ai",
    "DROP TRIGGER IF EXISTS news_article_fts_ad",
    "DROP TRIGGER IF EXISTS news_article_fts_au",
    "DROP TABLE IF EXISTS news_article_fts",
]
PG_UP = [
    """CREATE INDEX news_article_tsv ON news_article USING GIN (
        to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(text, '')))"""
]
PG_DOWN = ["DROP INDEX IF EXISTS news_article_tsv"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("news", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": PG_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": PG_DOWN}),
        )
    ]
