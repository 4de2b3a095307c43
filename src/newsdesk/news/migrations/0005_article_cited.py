from django.db import migrations, models

from newsdesk.news.fulltext_sql import reinstall_triggers


class Migration(migrations.Migration):

    dependencies = [
        ('news', '0004_article_withheld'),
    ]

    operations = [
        migrations.AddField(
            model_name='article',
            name='cited',
            field=models.JSONField(blank=True, default=list),
        ),
        # SQLite may rebuild news_article for AddField, dropping the full-text triggers.
        migrations.RunPython(reinstall_triggers, migrations.RunPython.noop),
    ]
