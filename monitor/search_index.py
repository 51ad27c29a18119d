"""Writing the full-text index: the words and stems `monitor.search_tokens` makes of each article.

The index is filled from Python, not by the database's own tokenizer, so SQLite, PostgreSQL and
the alert matcher read the same words:

- SQLite: a contentless FTS5 table `articles_fts(words, stems)` (rowid = article id) whose
  `ascii` tokenizer splits only on the spaces between the tokens given to it;
- PostgreSQL: `articles_fts(article_id, document)`, a tsvector built as a literal (so no
  text-search configuration re-parses it) with a GIN index.

Articles are indexed in the transaction that stores them. The product never deletes articles; a
contentless FTS5 row can only be deleted with its tokens (FTS5's 'delete' command, given the
`index_rows` of the article).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, text

from monitor.search_tokens import index_text

REBUILD_BATCH = 500  # articles read, tokenised and written at a time when rebuilding

# The DDL, shared by migration 0004 and the benchmarks' bulk loaders.
SQLITE_CREATE = (
    "CREATE VIRTUAL TABLE articles_fts USING fts5(words, stems, content='', columnsize=0, "
    "tokenize=\"ascii tokenchars '_'\")"
)
POSTGRES_CREATE = (
    "CREATE TABLE articles_fts (article_id INTEGER PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE, "
    "document TSVECTOR NOT NULL)"
)
POSTGRES_INDEX = "CREATE INDEX ix_articles_fts ON articles_fts USING GIN (document)"

_SQLITE_INSERT = text("INSERT INTO articles_fts(rowid, words, stems) VALUES (:id, :words, :stems)")
_POSTGRES_INSERT = text(
    "INSERT INTO articles_fts(article_id, document) VALUES (:id, CAST(:document AS tsvector)) "
    "ON CONFLICT (article_id) DO UPDATE SET document = EXCLUDED.document"
)


@dataclass(frozen=True)
class ArticleText:
    """The fields of a stored article that search reads."""

    id: int
    title: str | None
    summary: str | None
    content: str | None
    lang: str | None


def index_rows(items: Iterable[ArticleText], *, sqlite: bool) -> list[dict]:
    """Parameter sets for the insert statement of the given backend."""
    rows = []
    for a in items:
        indexed = index_text(a.title, a.summary, a.content, a.lang)
        if sqlite:
            rows.append({"id": a.id, "words": indexed.words_text(), "stems": indexed.stems_text()})
        else:
            rows.append({"id": a.id, "document": indexed.tsvector()})
    return rows


def index_articles(conn, db, items: Iterable[ArticleText]) -> None:
    """Add freshly inserted articles to the index, inside the caller's transaction."""
    rows = index_rows(items, sqlite=db.is_sqlite)
    if rows:
        conn.execute(_SQLITE_INSERT if db.is_sqlite else _POSTGRES_INSERT, rows)


def index_stored(conn, db, article_ids: Iterable[int]) -> None:
    """Index articles already in the table by id (for code that inserts rows itself)."""
    from monitor.store.schema import articles

    ids = sorted(set(article_ids))
    columns = (articles.c.id, articles.c.title, articles.c.summary, articles.c.content, articles.c.lang)
    for start in range(0, len(ids), REBUILD_BATCH):
        rows = conn.execute(select(*columns).where(articles.c.id.in_(ids[start : start + REBUILD_BATCH]))).all()
        index_articles(conn, db, (ArticleText(*r) for r in rows))


def rebuild(conn, *, sqlite: bool) -> int:
    """Index every stored article (the table must be empty); returns how many. Used by the
    migration that introduced this index, on whatever connection Alembic runs with."""
    from monitor.store.schema import articles

    insert = _SQLITE_INSERT if sqlite else _POSTGRES_INSERT
    columns = (articles.c.id, articles.c.title, articles.c.summary, articles.c.content, articles.c.lang)
    last, done = 0, 0
    while True:
        batch = conn.execute(select(*columns).where(articles.c.id > last).order_by(articles.c.id).limit(REBUILD_BATCH)).all()
        if not batch:
            return done
        conn.execute(insert, index_rows((ArticleText(*r) for r in batch), sqlite=sqlite))
        last = batch[-1].id
        done += len(batch)
