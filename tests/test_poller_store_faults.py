"""A poll round when the store refuses to hand out feeds: SQLite's write lock held by another
process for longer than the busy timeout. The round ends with its one-line reason instead of
hanging; `poll --once` exits non-zero; `poll --forever` and the dashboard's background poller
recover by themselves within one retry once the lock is released."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import threading

import pytest

from monitor import feeds, poller
from tests.feedserver import FeedServer, wait_until
from tests.test_poller import _poller_process

# Short enough for a test, long enough that a held lock clearly outlasts it.
BUSY_S = "0.5"
RETRY_S = "1"


@pytest.fixture(scope="module")
def srv():
    with FeedServer() as s:
        yield s


@contextlib.contextmanager
def write_lock(db_url: str):
    """Another process's writer, as SQLite sees it: a real connection inside BEGIN IMMEDIATE."""
    path = db_url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    conn.execute("BEGIN IMMEDIATE")
    released = threading.Event()

    def release() -> None:
        if not released.is_set():
            conn.execute("ROLLBACK")
            conn.close()
            released.set()

    try:
        yield release
    finally:
        release()


def test_poll_once_with_the_database_locked_exits_non_zero_with_one_line(sqlite_db, sqlite_url, srv):
    fid = feeds.add_feed(sqlite_db, srv.url("/gen/10?entries=2"), allow_private=True)
    with write_lock(sqlite_url):
        proc = _poller_process(sqlite_url, "--once", MONITOR_SQLITE_BUSY_TIMEOUT_S=BUSY_S)
        try:
            out, err = proc.communicate(timeout=120)  # used to hang here for ever
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail("poll --once did not return while the database was locked")
    assert proc.returncode != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "locked" in lines[0] and "Traceback" not in err
    assert srv.seen("/gen/10") == 0
    assert next(f for f in feeds.list_feeds(sqlite_db) if f.id == fid).last_fetch_at is None  # nothing half-done


def test_poll_forever_recovers_by_itself_once_the_lock_is_released(sqlite_db, sqlite_url, srv):
    feeds.add_feed(sqlite_db, srv.url("/gen/11?entries=2"), allow_private=True)
    with write_lock(sqlite_url) as release:
        proc = _poller_process(sqlite_url, "--forever", MONITOR_SQLITE_BUSY_TIMEOUT_S=BUSY_S, MONITOR_POLL_RETRY_S=RETRY_S)
        err_lines: list[str] = []
        reader = threading.Thread(target=lambda: err_lines.extend(iter(proc.stderr.readline, "")), daemon=True)
        reader.start()
        try:
            # while the lock is held it fails each round, says why, and fetches nothing
            assert wait_until(lambda: sum("could not claim feeds" in line for line in err_lines) >= 2, timeout=120), err_lines
            assert srv.seen("/gen/11") == 0 and proc.poll() is None
            release()
            assert wait_until(lambda: srv.seen("/gen/11") > 0, timeout=60), "poll --forever never recovered"
            assert wait_until(lambda: any(f.status == "ok" for f in feeds.list_feeds(sqlite_db)), timeout=60)
        finally:
            proc.send_signal(signal.SIGTERM)
            out = proc.communicate(timeout=90)[0]
            reader.join(timeout=10)
    err = "".join(err_lines)
    assert proc.returncode == 0, err
    assert "could not claim feeds: the database stayed locked by another process for 0.5 s; trying again in 1 s" in err
    assert "Traceback" not in err
    assert "polled 1 feed" in out


def test_the_background_poller_says_it_is_not_polling_while_the_store_refuses(monkeypatch, sqlite_db, sqlite_url, srv):
    from monitor.config import settings as current_settings
    from tests.dashboard_app import make_app

    feeds.add_feed(sqlite_db, srv.url("/gen/12?entries=2"), allow_private=True)
    at = make_app(monkeypatch, sqlite_url)
    for name, value in {
        "MONITOR_POLL_IN_DASHBOARD": "1",
        "MONITOR_ALLOW_PRIVATE_NETWORKS": "1",
        "MONITOR_SQLITE_BUSY_TIMEOUT_S": BUSY_S,
        "MONITOR_POLL_RETRY_S": RETRY_S,
    }.items():
        monkeypatch.setenv(name, value)
    current_settings.cache_clear()

    def sidebar() -> str:
        at.run()
        return "\n".join(str(c.value) for c in at.caption)

    try:
        with write_lock(sqlite_url) as release:
            assert "polling (" in sidebar()  # the dashboard started its poller
            handle = poller.background_poller()
            assert wait_until(lambda: handle.error is not None, timeout=60)
            shown = sidebar()
            assert "polling (" not in shown and "not polling, retrying" in shown and "locked" in shown
            assert handle.running
            release()
            assert wait_until(lambda: handle.rounds >= 1 and handle.error is None, timeout=60), "never recovered"
        assert srv.seen("/gen/12") > 0
        shown = sidebar()
        assert "polling (" in shown and "not polling" not in shown
    finally:
        poller.stop_background_poller(timeout=60)
        monkeypatch.undo()
        current_settings.cache_clear()
