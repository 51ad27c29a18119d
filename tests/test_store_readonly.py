"""A WAL database on a read-only filesystem: a real read-only bind mount in a private mount
namespace (`unshare -m`, so nothing outside the test sees it). SQLite cannot even read such a
file without writing its -shm; the CLI says so in one line and how to read it anyway."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

import pytest

from monitor.store import Database
from tests.dashboard_app import REPO


def _run_read_only(folder, *args: str) -> subprocess.CompletedProcess:
    cli = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "monitor", *args))
    script = f"mount --bind {shlex.quote(str(folder))} {shlex.quote(str(folder))} && mount -o remount,bind,ro {shlex.quote(str(folder))} && exec {cli}"
    env = dict(os.environ, MONITOR_SEED_DEFAULT_FEEDS="0", PYTHONPATH=str(REPO))
    return subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def read_only_wal_db(tmp_path):
    if not shutil.which("unshare"):
        pytest.skip("no unshare(1) here: the read-only mount test needs util-linux")
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind {tmp_path} {tmp_path} && mount -o remount,bind,ro {tmp_path}"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot make a read-only mount here (needs root or user namespaces)")
    path = tmp_path / "monitor.db"
    db = Database(f"sqlite:///{path}")
    db.init()
    from monitor import feeds

    feeds.add_feed(db, "https://feeds.example.org/rss.xml")
    db.dispose()  # the last connection checkpoints the WAL and removes -wal and -shm
    return path


def test_a_wal_database_on_a_read_only_filesystem_gets_a_clear_message(read_only_wal_db):
    done = _run_read_only(read_only_wal_db.parent, "--db", f"sqlite:///{read_only_wal_db}", "feeds", "list")
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "WAL database in a folder that cannot be written" in lines[0]
    assert "immutable=1" in lines[0]


def test_the_suggested_url_reads_it(read_only_wal_db):
    url = f"sqlite:///file:{read_only_wal_db}?mode=ro&immutable=1&uri=true"
    done = _run_read_only(read_only_wal_db.parent, "--db", url, "feeds", "list")
    assert done.returncode == 0, done.stderr
    assert "feeds.example.org" in done.stdout
