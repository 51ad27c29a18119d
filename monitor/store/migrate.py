"""Schema migrations with Alembic, run programmatically (no alembic.ini to find).

A database made by an older version is upgraded in place by `python -m monitor init` or, on
demand, by the first command that opens it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from monitor.locks import LockKey

if TYPE_CHECKING:  # engine.py imports this module to migrate on first use
    from monitor.store.engine import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(db: Database, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    # Two processes starting at once (dashboard and poller) must not both migrate: SQLite's
    # IMMEDIATE transaction and PostgreSQL's advisory lock make the second wait, then find
    # nothing left to do.
    if revision == "head" and _is_at_head(db):
        return  # nothing to do: no write lock, so a store another process is writing still opens
    with db.engine.connect() as conn:
        if db.is_sqlite:
            conn = conn.execution_options(sqlite_immediate=True)
        with conn.begin():
            if not db.is_sqlite:
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({int(LockKey.MIGRATIONS)})")
            command.upgrade(alembic_config(db, conn), revision)


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _is_at_head(db: Database) -> bool:
    heads = set(ScriptDirectory.from_config(alembic_config(db)).get_heads())
    try:
        return current_revision(db) in heads and len(heads) == 1
    except Exception:  # noqa: BLE001 - no version table yet, or unreadable: let upgrade decide
        return False
