"""Full-text search over articles: SQLite FTS5 on the embedded default, PostgreSQL tsvector else.

The one search backend: which ids match (`fulltext_ids`, used by every filtered listing),
relevance order for a page of any filtered queryset (`ranked_page`), highlighted excerpts
(`snippets`), and the plain `search()` the CLI uses. The user's words are taken as plain terms
(all must match; "quoted phrases" kept), so a query is never a syntax error or an operator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from newsdesk.news.models import Article

_TOKEN = re.compile(r'"([^"]+)"|(\w+)', re.UNICODE)
# The same document expression as the GIN index of migration 0002 (so PostgreSQL uses it).
_PG_DOC = "to_tsvector('simple', coalesce({t}title, '') || ' ' || coalesce({t}text, ''))"


@dataclass(frozen=True)
class Hit:
    article: Article
    snippet: str
    rank: int  # 1 = best


def terms(query: str) -> list[str]:
    out: list[str] = []
    for phrase, word in _TOKEN.findall(query):
        words = re.findall(r"\w+", phrase) if phrase else [word]
        if words:
            out.append(" ".join(words))
    return out[:32]


def fts5_query(parts: list[str]) -> str:
    # Every term quoted: FTS5 treats "..." as a phrase of plain tokens, never as syntax.
    return " ".join('"' + p.replace('"', "") + '"' for p in parts)


def pg_query(parts: list[str]) -> str:
    """websearch_to_tsquery input: plain words, phrases quoted."""
    return " ".join(f'"{p}"' if " " in p else p for p in parts)


def fulltext_ids(query: str) -> RawSQL | None:
    """A subquery of the ids matching `query` (None: no searchable words)."""
    parts = terms(query)
    if not parts:
        return None
    if connection.vendor == "sqlite":
        return RawSQL("SELECT rowid FROM news_article_fts WHERE news_article_fts MATCH %s",
                      [fts5_query(parts)])
    doc = _PG_DOC.format(t="")
    return RawSQL(f"SELECT id FROM news_article WHERE {doc} @@ "
                  "websearch_to_tsquery('simple', %s)", [pg_query(parts)])


def ranked_page(qs: QuerySet[Article], query: str, offset: int, limit: int) -> list[Article]:
    """One page of `qs` (already restricted to matches of `query`): best match first, then newest.

    The full-text index drives the query and the filters arrive as an `id IN (…)` subquery, so
    ranking costs one pass over the matches (a per-row rank subquery would be quadratic).
    """
    parts = terms(query)
    if not parts:
        return []
    sub_sql, sub_params = qs.order_by().values("id").query.get_compiler(qs.db).as_sql()
    if connection.vendor == "sqlite":
        sql = (
            "SELECT a.id FROM news_article_fts f JOIN news_article a ON a.id = f.rowid "
            f"WHERE news_article_fts MATCH %s AND a.id IN ({sub_sql}) "
            "ORDER BY bm25(news_article_fts, 5.0, 1.0), a.sort_at DESC, a.id DESC "
            "LIMIT %s OFFSET %s"
        )
        params: list[object] = [fts5_query(parts), *sub_params, limit, offset]
    else:
        sql = (
            f"SELECT a.id FROM news_article a WHERE a.id IN ({sub_sql}) "
            f"ORDER BY ts_rank({_PG_DOC.format(t='a.')}, "
            "websearch_to_tsquery('simple', %s)) DESC, a.sort_at DESC, a.id DESC "
            "LIMIT %s OFFSET %s"
        )
        params = [*sub_params, pg_query(parts), limit, offset]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        ids = [row[0] for row in cur.fetchall()]
    by_id = Article.objects.select_related("source").in_bulk(ids)
    return [by_id[i] for i in ids if i in by_id]


def snippets(ids: list[int], query: str) -> dict[int, str]:
    """Highlighted excerpts (with `[`…`]` markers) of these articles for `query`."""
    parts = terms(query)
    if not parts or not ids:
        return {}
    marks = ",".join(["%s"] * len(ids))
    if connection.vendor == "sqlite":
        sql = (
            "SELECT rowid, snippet(news_article_fts, 1, '[', ']', ' … ', 24) "
            "FROM news_article_fts WHERE news_article_fts MATCH %s "
            f"AND rowid IN ({marks})"
        )
        params: list[object] = [fts5_query(parts), *ids]
    else:
        sql = (
            "SELECT id, ts_headline('simple', text, websearch_to_tsquery('simple', %s), "
            "'StartSel=[,StopSel=],MaxWords=40,MinWords=15') "
            f"FROM news_article WHERE id IN ({marks})"
        )
        params = [pg_query(parts), *ids]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return {row[0]: row[1] or "" for row in cur.fetchall()}


def search(query: str, limit: int = 20, offset: int = 0) -> list[Hit]:
    """The best matches of `query` over all articles, with snippets."""
    ids = fulltext_ids(query)
    if ids is None:
        return []
    page = ranked_page(Article.objects.filter(id__in=ids), query, offset, limit)
    marks = snippets([a.pk for a in page], query)
    return [Hit(a, marks.get(a.pk, ""), offset + i + 1) for i, a in enumerate(page)]
