"""The store: schema from migrations, idempotent init, errors a user can act on."""

from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select, text

from monitor.errors import StoreError
from monitor.store import Database, utcnow
from monitor.store.migrate import current_revision, upgrade
from monitor.store.schema import articles, feeds, metadata


def _ours(obj, name, type_, reflected, compare_to):
    # FTS5's shadow tables and the GIN index are created by migration 0002, not the metadata.
    return not (name or "").startswith(("articles_fts", "ix_articles_fts", "alembic_version"))


def test_migrations_build_exactly_the_schema(db):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_object": _ours}), metadata)
    assert diff == []


def test_init_is_idempotent_and_keeps_data(db):
    with db.write() as conn:
        conn.execute(insert(feeds).values(url="https://example.org/rss", created_at=utcnow(), tags=[]))
    again = Database(db.url)
    again.init()
    with again.read() as conn:
        assert conn.execute(select(feeds.c.url)).scalars().all() == ["https://example.org/rss"]
    again.dispose()


def test_old_database_upgrades_in_place_and_becomes_searchable(sqlite_url):
    db = Database(sqlite_url)
    upgrade(db, "0001")  # as made by the first release, before full-text search
    now = utcnow()
    with db.engine.begin() as conn:
        conn.execute(
            insert(articles).values(
                title="Interpol red notice", summary="", content="", source="s", published_at=now, fetched_at=now, title_hash="h"
            )
        )
    db.init()
    assert current_revision(db) == "0002"
    with db.read() as conn:
        hits = conn.execute(text("SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'interpol'")).all()
    assert len(hits) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_database_write_is_a_clear_error(sqlite_url, tmp_path):
    db = Database(sqlite_url)
    db.init()
    db.dispose()
    os.chmod(tmp_path / "monitor.db", 0o444)
    ro = Database(sqlite_url)
    with pytest.raises(StoreError, match="read-only"):
        with ro.write() as conn:
            conn.execute(insert(feeds).values(url="https://example.org/x", created_at=utcnow(), tags=[]))
