"""Full-text index kept in step with articles by the database itself.

SQLite: an FTS5 external-content table over news_article plus triggers, so every insert, update
and delete (ORM, raw SQL or cascade) keeps the index exact. PostgreSQL: a GIN index over the
same tsvector expression the search backend queries ('simple' config: the corpus is multilingual).
"""

from django.db import migrations

from newsdesk.news import fulltext_sql as fts


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(fts.SQLITE_TABLE)
        fts.reinstall_triggers(apps, schema_editor)
    elif vendor == "postgresql":
        schema_editor.execute(fts.PG_INDEX)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for sql in fts.SQLITE_DROP_TRIGGERS:
            schema_editor.execute(sql)
        schema_editor.execute("DROP TABLE IF EXISTS news_article_fts")
    elif vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS news_article_tsv")


class Migration(migrations.Migration):
    dependencies = [("news", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall)]
