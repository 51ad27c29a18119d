"""Fixtures that make real things: SQLite files, PostgreSQL schemas, the shared data folder.

`db` runs a test once on a fresh SQLite file and once on a fresh PostgreSQL schema. The
PostgreSQL half skips only when MONITOR_TEST_POSTGRES_URL is unset (a newcomer's laptop); CI sets
it, and then an unreachable server fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from monitor.store import Database

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("MONITOR_SHARED_DATA", REPO.parent / "shared" / "data"))
PG_URL = os.environ.get("MONITOR_TEST_POSTGRES_URL")


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test when that data is not on this machine."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    return path


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"shared data not present: {SHARED_DATA}")
    return SHARED_DATA


def _pg_schema_url(base: str, schema: str) -> str:
    url = make_url(base)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


@pytest.fixture
def postgres_url():
    """A URL whose search_path is a fresh, empty schema, dropped afterwards."""
    if not PG_URL:
        pytest.skip("MONITOR_TEST_POSTGRES_URL is unset: PostgreSQL tests skipped")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_schema_url(PG_URL, schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'monitor.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


@pytest.fixture
def db(db_url):
    database = Database(db_url)
    database.init()
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(sqlite_url):
    database = Database(sqlite_url)
    database.init()
    yield database
    database.dispose()


@pytest.fixture
def cli(db_url, capsys):
    """Run `python -m monitor --db <test db> ARGS…` in-process on an existing (initialised) test
    database; returns (exit code, stdout, stderr)."""
    from monitor.cli import main

    made = Database(db_url)
    made.init()
    made.dispose()

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--db", db_url, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(autouse=True)
def _idle_connections_closed():
    """Close the pooled connections of every store a test opened (its own, and the dashboard's,
    which Streamlit caches per URL for the life of the process): with a fresh PostgreSQL schema
    per test, idle pools would otherwise pile up past the server's connection limit. A disposed
    engine still works; it connects again when next used."""
    made: list[Database] = []
    original = Database.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    Database.__init__ = init
    try:
        yield
    finally:
        Database.__init__ = original
        for database in made:
            try:
                database.dispose()
            except Exception:  # noqa: BLE001 - a store the test already broke on purpose
                pass


@pytest.fixture(scope="module")
def playwright():
    """Playwright for one browser-test module (skips, saying why, where there is no Chromium)."""
    from playwright.sync_api import sync_playwright

    from tests.browser import chromium

    chromium()
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright):
    """One headless Chromium for a browser-test module."""
    from tests.browser import CHROMIUM_ARGS, chromium

    b = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
    yield b
    b.close()
