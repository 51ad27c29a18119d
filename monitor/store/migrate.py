"""Schema migrations with Alembic, run programmatically (no alembic.ini to find).

A database made by an older version is upgraded in place by `python -m monitor init` or, on
demand, by the first command that opens it.

Alembic is imported only when a store is not at the newest revision: importing it costs a
quarter of a second of CPU, paid by every process that opens a store (a training child, a
dashboard) if the check that the store is up to date needed it. That check reads the store's
`alembic_version` row and compares it with the newest migration file's revision; the files are
named `NNNN_what.py` for their revision `NNNN` (tests/test_store.py holds the two to each other).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text

from monitor.locks import LockKey

if TYPE_CHECKING:  # engine.py imports this module to migrate on first use
    from alembic.config import Config

    from monitor.store.engine import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(db: Database, connection: Connection | None = None) -> Config:
    from alembic.config import Config

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
    from alembic import command

    with db.engine.connect() as conn:
        if db.is_sqlite:
            conn = conn.execution_options(sqlite_immediate=True)
        with conn.begin():
            if not db.is_sqlite:
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({int(LockKey.MIGRATIONS)})")
            command.upgrade(alembic_config(db, conn), revision)


def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@lru_cache(maxsize=1)
def newest_revision() -> str:
    """The revision of the newest migration file (what alembic calls head)."""
    return max(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def _is_at_head(db: Database) -> bool:
    try:
        with db.engine.connect() as conn:
            stored = [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
    except Exception:  # noqa: BLE001 - no version table yet, or unreadable: let upgrade decide
        return False
    return stored == [newest_revision()]
