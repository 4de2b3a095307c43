"""What the search page needs beyond news.queries: relevance order and snippets for a page.

Filtering (words, source, category, language, dates) is `queries.articles()`, the same as every
other list. news.search.search() ranks the whole index and cannot take those filters, so here the
filtered queryset is ranked in one query driven by the index, and snippets are fetched for the shown page only,
with the same weights and the same `[`…`]` markers as news.search.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet

from newsdesk.news.models import Article
from newsdesk.news.search import _fts5_query, terms

_PG_DOC = "to_tsvector('simple', coalesce(a.title, '') || ' ' || coalesce(a.text, ''))"


def _pg_text(parts: list[str]) -> str:
    return " ".join(f'"{p}"' if " " in p else p for p in parts)


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
        params: list[object] = [_fts5_query(parts), *sub_params, limit, offset]
    else:
        sql = (
            f"SELECT a.id FROM news_article a WHERE a.id IN ({sub_sql}) "
            f"ORDER BY ts_rank({_PG_DOC}, "
            "websearch_to_tsquery('simple', %s)) DESC, a.sort_at DESC, a.id DESC "
            "LIMIT %s OFFSET %s"
        )
        params = [*sub_params, _pg_text(parts), limit, offset]
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
        params: list[object] = [_fts5_query(parts), *ids]
    else:
        sql = (
            "SELECT id, ts_headline('simple', text, websearch_to_tsquery('simple', %s), "
            "'StartSel=[,StopSel=],MaxWords=40,MinWords=15') "
            f"FROM news_article WHERE id IN ({marks})"
        )
        params = [_pg_text(parts), *ids]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return {row[0]: row[1] or "" for row in cur.fetchall()}
