"""Full-text search over articles: SQLite FTS5 on the embedded default, PostgreSQL tsvector else.

Both backends take the user's words as plain terms (all must match; "quoted phrases" kept), so a
query can never be a syntax error or reach the database as an operator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection

from newsdesk.news.models import Article

_TOKEN = re.compile(r'"([^"]+)"|(\w+)', re.UNICODE)


@dataclass(frozen=True)
class Hit:
    article: Article
    snippet: str
    rank: float


def terms(query: str) -> list[str]:
    out: list[str] = []
    for phrase, word in _TOKEN.findall(query):
        words = re.findall(r"\w+", phrase) if phrase else [word]
        if words:
            out.append(" ".join(words))
    return out[:32]


def _fts5_query(parts: list[str]) -> str:
    # Every term quoted: FTS5 treats "..." as a phrase of plain tokens, never as syntax.
    return " ".join('"' + p.replace('"', "") + '"' for p in parts)


def search(query: str, limit: int = 20, offset: int = 0) -> list[Hit]:
    parts = terms(query)
    if not parts:
        return []
    if connection.vendor == "sqlite":
        sql = (
            "SELECT rowid, bm25(news_article_fts, 5.0, 1.0) AS r, "
            "snippet(news_article_fts, 1, '[', ']', ' … ', 16) "
            "FROM news_article_fts WHERE news_article_fts MATCH %s "
            "ORDER BY r LIMIT %s OFFSET %s"
        )
        params: list[object] = [_fts5_query(parts), limit, offset]
    elif connection.vendor == "postgresql":
        doc = "to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(text, ''))"
        q = "websearch_to_tsquery('simple', %s)"
        sql = (
            f"SELECT id, -ts_rank({doc}, {q}) AS r, "
            f"ts_headline('simple', text, {q}, 'StartSel=[,StopSel=],MaxWords=30,MinWords=10') "
            f"FROM news_article WHERE {doc} @@ {q} ORDER BY r LIMIT %s OFFSET %s"
        )
        text = " ".join(f'"{p}"' if " " in p else p for p in parts)
        params = [text, text, text, limit, offset]
    else:  # pragma: no cover - other databases are not supported
        raise NotImplementedError(f"no full-text search for {connection.vendor}")
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    by_id = Article.objects.select_related("source").in_bulk([r[0] for r in rows])
    return [Hit(by_id[r[0]], r[2] or "", float(r[1])) for r in rows if r[0] in by_id]
