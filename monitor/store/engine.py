"""Opening the database: SQLite tuned for one writer and many readers, or PostgreSQL.

`Database.write()` is the one way to change data: on SQLite it starts `BEGIN IMMEDIATE`, which
waits for the write lock (a deferred transaction that reads then writes fails at once with
"database is locked"). WAL lets the dashboard read while a poller writes.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from monitor.config import settings
from monitor.errors import InputError, StoreError
from monitor.store.migrate import upgrade

SQLITE_BUSY_TIMEOUT_MS = 30_000  # the default of MONITOR_SQLITE_BUSY_TIMEOUT_S, in ms


def utcnow() -> datetime:
    """Naive UTC, the one representation of time in the database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Database:
    """An engine plus the two ways of using it: `read()` and `write()`."""

    def __init__(self, url: str):
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise InputError(f"not a database URL: {url!r} (try sqlite:///path.db or postgresql+psycopg://…)") from None
        self.url = url
        self.dialect = parsed.get_backend_name()
        self.busy_timeout_ms = SQLITE_BUSY_TIMEOUT_MS
        if self.dialect == "sqlite":
            self.busy_timeout_ms = max(1, int(settings().sqlite_busy_timeout_s * 1000))
            self.engine = _sqlite_engine(parsed, self.busy_timeout_ms)
        elif self.dialect == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            self.engine = create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=10)
        else:
            raise InputError(f"unsupported database {self.dialect!r}: use sqlite:/// or postgresql+psycopg://")
        self._migrated = False
        self._migrate_lock = threading.Lock()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def display_url(self) -> str:
        """The URL with any password hidden, for provenance and messages."""
        rendered = make_url(self.url).render_as_string(hide_password=True)
        # SQLAlchemy escapes ':' in a SQLite URI filename ("file%3A/…"); show it as typed.
        return rendered.replace("sqlite:///file%3A", "sqlite:///file:", 1) if self.is_sqlite else rendered

    def exists(self) -> bool:
        """Is there a store at this URL already? A SQLite file (an in-memory or `file:` URI
        counts as there), or a PostgreSQL database that holds the schema. Nothing is created."""
        if self.is_sqlite:
            path = _sqlite_path(make_url(self.url))
            return path is None or path.is_file()
        try:
            with translate_errors(self), self.engine.connect() as conn:
                return inspect(conn).has_table("alembic_version")
        except StoreError as e:
            if "does not exist" in str(e):
                return False
            raise  # the server cannot be reached: say so, not "no database"

    def init(self) -> None:
        """Create or upgrade the schema (idempotent, once per process); a SQLite file's folder
        is made here, not when the Database is opened, so opening never creates anything."""
        if self._migrated:
            return
        with self._migrate_lock:
            if self._migrated:
                return
            if self.is_sqlite:
                _make_sqlite_folder(make_url(self.url))

            with translate_errors(self):
                upgrade(self)
            self._migrated = True

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        self.init()
        with translate_errors(self), self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction that commits on success and rolls back on any error."""
        self.init()
        with translate_errors(self), self.engine.connect() as conn:
            if self.is_sqlite:
                conn = conn.execution_options(sqlite_immediate=True)
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_path(parsed) -> Path | None:
    """The file a SQLite URL names, or None for an in-memory database or a `file:` URI."""
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        return Path(database)
    return None


def _make_sqlite_folder(parsed) -> None:
    path = _sqlite_path(parsed)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the folder for {path}: {e.strerror}") from None


def _sqlite_engine(parsed, busy_timeout_ms: int) -> Engine:
    engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy's `begin` event issue BEGIN itself (pysqlite's own handling defers it).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        cur.execute("PRAGMA foreign_keys = ON")
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        except Exception:
            # A read-only file cannot switch journal mode; reading still works.
            pass
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        immediate = conn.get_execution_options().get("sqlite_immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@contextlib.contextmanager
def translate_errors(db: Database) -> Iterator[None]:
    """Turn the database driver's errors about the environment into one-line StoreErrors."""
    try:
        yield
    except (OperationalError, DBAPIError) as e:
        message = str(getattr(e, "orig", e)).strip().splitlines()[0] if str(getattr(e, "orig", e)).strip() else type(e).__name__
        lowered = message.lower()
        if "readonly" in lowered or "read-only" in lowered or "read only" in lowered:
            raise StoreError(f"the database is read-only ({db.display_url()}): check the file's permissions") from e
        if "disk is full" in lowered or "no space" in lowered or "disk full" in lowered:
            raise StoreError(f"the disk is full: the last write to {db.display_url()} was rolled back") from e
        if "unable to open" in lowered and db.is_sqlite:
            hint = _read_only_wal(db)
            if hint:
                raise StoreError(hint) from e
        if "unable to open" in lowered or "could not connect" in lowered or "connection refused" in lowered or "connection failed" in lowered:
            raise StoreError(f"cannot open the database {db.display_url()}: {message}") from e
        if "database is locked" in lowered:
            raise StoreError(f"the database stayed locked by another process for {db.busy_timeout_ms / 1000:g} s") from e
        if "malformed" in lowered or "not a database" in lowered:
            raise StoreError(f"the database file is damaged or not a database: {db.display_url()}") from e
        raise


def _read_only_wal(db: Database) -> str | None:
    """Why a SQLite file that exists cannot be opened, when it is a WAL database in a folder that
    cannot be written (a read-only mount, a CD, a snapshot): SQLite must create its -shm file
    beside it even to read. None when that is not the case."""
    name = make_url(db.url).database or ""
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    path = Path(name)
    try:
        with path.open("rb") as f:
            header = f.read(20)
    except OSError:
        return None
    if len(header) < 20 or header[18:20] != b"\x02\x02" or os.access(path.parent, os.W_OK):
        return None  # not WAL (bytes 18-19 are the read/write format versions), or the folder is writable
    return (
        f"{path} is a WAL database in a folder that cannot be written (a read-only filesystem?): SQLite must "
        f"create {path.name}-shm beside it even to read. Copy it somewhere writable, or read it as it is with "
        f"--db 'sqlite:///file:{path}?mode=ro&immutable=1&uri=true'"
    )


_open: dict[str, Database] = {}
_open_lock = threading.Lock()


def open_database(url: str | None = None) -> Database:
    """The shared Database for a URL (default: the configured one), created once per process."""
    url = url or settings().database_url
    with _open_lock:
        db = _open.get(url)
        if db is None:
            db = _open[url] = Database(url)
        return db
