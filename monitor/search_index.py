"""Writing the full-text index: the words and stems `monitor.search_tokens` makes of each article.

The index is filled from Python, not by the database's own tokenizer, so SQLite, PostgreSQL and
the alert matcher read the same words:

- SQLite: a contentless FTS5 table `articles_fts(words, stems)` (rowid = article id) whose
  `ascii` tokenizer splits only on the spaces between the tokens given to it;
- PostgreSQL: the `articles.search_vector` column (0002 made it a generated column; now it is
  written with the row), a tsvector built as a literal (so no text-search configuration re-parses
  it), with its GIN index. In the row itself, a search is a condition on `articles` that the
  planner combines with the date and source indexes, and a count needs no second table.

The stemmed languages the index holds are listed in `meta` (`search_language:<code>`): a query
is stemmed in those languages only (a handful, not all 34), which keeps it small and its
row estimates sane. A language is listed before its first article is
searchable: in the same transaction on SQLite, in its own committed one on PostgreSQL (two writers
meeting there must not deadlock; a language listed for a batch that then failed costs nothing).

Articles are indexed in the transaction that stores them. The product never deletes articles; a
contentless FTS5 row can only be deleted with its tokens (FTS5's 'delete' command, given the
`index_rows` of the article).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import Column, MetaData, Table, cast, select, text
from sqlalchemy.dialects.postgresql import TSVECTOR, insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.types import TypeDecorator

from monitor.search_tokens import STEMMED_LANGUAGES, index_text, stem_language
from monitor.store.schema import articles, meta

if TYPE_CHECKING:
    from monitor.store import Database

REBUILD_BATCH = 500  # articles read, tokenised and written at a time when rebuilding

# The DDL, shared by migration 0004 and the benchmarks' bulk loaders.
SQLITE_CREATE = (
    "CREATE VIRTUAL TABLE articles_fts USING fts5(words, stems, content='', columnsize=0, "
    "tokenize=\"ascii tokenchars '_'\")"
)
POSTGRES_INDEX = "CREATE INDEX ix_articles_fts ON articles USING GIN (search_vector)"

_SQLITE_INSERT = text("INSERT INTO articles_fts(rowid, words, stems) VALUES (:id, :words, :stems)")
_POSTGRES_UPDATE = text("UPDATE articles SET search_vector = CAST(:document AS tsvector) WHERE id = :id")


class _TsVectorLiteral(TypeDecorator):
    """A tsvector sent as its text form and cast by the server."""

    impl = TSVECTOR
    cache_ok = True

    def bind_expression(self, bindvalue):
        return cast(bindvalue, TSVECTOR)


@lru_cache(maxsize=1)
def postgres_articles() -> Table:
    """`articles` with PostgreSQL's `search_vector`, for inserts that write it with the row (the
    shared schema leaves it out: SQLite has no such column)."""
    table = articles.to_metadata(MetaData())
    table.append_column(Column("search_vector", _TsVectorLiteral()))
    return table


@dataclass(frozen=True)
class ArticleText:
    """The fields of a stored article that search reads."""

    id: int
    title: str | None
    summary: str | None
    content: str | None
    lang: str | None


LANGUAGE_KEY = "search_language:"


def archive_languages(conn) -> tuple[str, ...]:
    """The stemmed languages of the indexed articles, as stemmer codes."""
    keys = conn.execute(select(meta.c.key).where(meta.c.key.like(LANGUAGE_KEY + "%"))).scalars()
    known = {k[len(LANGUAGE_KEY) :] for k in keys}
    return tuple(code for code in STEMMED_LANGUAGES if code in known)


def register_languages(conn, db: Database, langs: Iterable[str | None]) -> None:
    """List the stemmed languages among `langs` that the index does not list yet."""
    missing = _unlisted(conn, (stem_language(lang) for lang in langs))
    if not missing:
        return
    if db.is_sqlite:
        _insert_languages(conn, missing, sqlite=True)
    else:
        with db.engine.connect() as own, own.begin():
            _insert_languages(own, missing, sqlite=False)


def _unlisted(conn, codes: Iterable[str | None]) -> list[str]:
    """The stemmer codes among `codes` that the index does not list yet, sorted."""
    return sorted({code for code in codes if code is not None} - set(archive_languages(conn)))


def _insert_languages(conn, codes: list[str], *, sqlite: bool) -> None:
    insert = sqlite_insert(meta) if sqlite else postgres_insert(meta)
    rows = [{"key": LANGUAGE_KEY + code, "value": code} for code in codes]
    conn.execute(insert.on_conflict_do_nothing(index_elements=["key"]), rows)


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


def postgres_document(title: str | None, summary: str | None, content: str | None, lang: str | None) -> str:
    """The `search_vector` value of an article, for an insert into `postgres_articles()`."""
    return index_text(title, summary, content, lang).tsvector()


def index_articles(conn, db: Database, items: Iterable[ArticleText]) -> None:
    """Index stored articles, inside the caller's transaction (ingest writes PostgreSQL's
    vector with the row instead; this is for rows inserted without it)."""
    items = list(items)
    register_languages(conn, db, {a.lang for a in items})
    rows = index_rows(items, sqlite=db.is_sqlite)
    if rows:
        conn.execute(_SQLITE_INSERT if db.is_sqlite else _POSTGRES_UPDATE, rows)


def index_stored(conn, db: Database, article_ids: Iterable[int]) -> None:
    """Index articles already in the table by id (for code that inserts rows itself)."""
    ids = sorted(set(article_ids))
    columns = (articles.c.id, articles.c.title, articles.c.summary, articles.c.content, articles.c.lang)
    for start in range(0, len(ids), REBUILD_BATCH):
        rows = conn.execute(select(*columns).where(articles.c.id.in_(ids[start : start + REBUILD_BATCH]))).all()
        index_articles(conn, db, (ArticleText(*r) for r in rows))


def rebuild(conn, *, sqlite: bool) -> int:
    """Index every stored article (SQLite's table must be empty); returns how many. Used by the
    migration that introduced this index, on whatever connection Alembic runs with."""
    insert = _SQLITE_INSERT if sqlite else _POSTGRES_UPDATE
    columns = (articles.c.id, articles.c.title, articles.c.summary, articles.c.content, articles.c.lang)
    last, done = 0, 0
    while True:
        batch = conn.execute(select(*columns).where(articles.c.id > last).order_by(articles.c.id).limit(REBUILD_BATCH)).all()
        if not batch:
            return done
        items = [ArticleText(*r) for r in batch]
        # the migration holds the store alone (SQLite's write lock, PostgreSQL's advisory lock)
        codes = _unlisted(conn, (stem_language(a.lang) for a in items))
        if codes:
            _insert_languages(conn, codes, sqlite=sqlite)
        conn.execute(insert, index_rows(items, sqlite=sqlite))
        last = batch[-1].id
        done += len(batch)
