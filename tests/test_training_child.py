"""The training child an ingest starts early (`monitor.classify.child`): it trains what it is told at
the run's end, or goes away unused; a lean process (no scikit-learn) is the one that uses it."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import pytest

import monitor.cli as cli
import monitor.cli.ingest as cli_ingest
from monitor.classify import child, training
from monitor.store import Database
from tests.test_lean_tagging import FEED

REPO = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from monitor.classify import child, upkeep
    from monitor.classify.modelstore import active_version
    from monitor.ingest import ingest_paths
    from monitor.store import Database
    db = Database(sys.argv[1]); db.init()
    # unused: it is stopped when the run ends
    upkeep.prewarm(db)
    unused = child._warm
    upkeep.release_warm()
    # used: the ingest of a store with no models starts one and trains in it at the end
    spawned = []
    original = child._spawn
    child._spawn = lambda *args: spawned.append(args) or original(*args)
    stats = ingest_paths(db, [sys.argv[2]])
    heavy = sorted({m.split(".")[0] for m in sys.modules} & {"sklearn", "scipy"})
    with db.read() as conn:
        status = dict(conn.exec_driver_sql("select tag_status, count(*) from articles group by 1").all())
    print(json.dumps({"unused_exit": unused.returncode, "spawned": spawned, "new": stats.new_articles, "status": status,
                      "models": [active_version(db, k) is not None for k in ("topics", "stance")], "heavy": heavy}))
    """
)


def test_the_early_training_child_trains_at_the_end_of_a_first_ingest_or_goes_away(tmp_path):
    feed = tmp_path / "wire.xml"
    feed.write_bytes(FEED)
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    done = subprocess.run([sys.executable, "-c", SCRIPT, url, str(feed)], capture_output=True, cwd=REPO, timeout=600, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["unused_exit"] is not None  # gone, not left waiting
    # one child, started before the documents were parsed, trained both models: none started after
    assert got["spawned"] == [["--warm"]]
    assert got["models"] == [True, True] and got["heavy"] == []
    assert got["new"] == 3 and got["status"] == {"tagged": 3}


@pytest.fixture
def warm_starts(monkeypatch):
    """The warm starts asked for, with no child started."""
    started: list[str] = []
    monkeypatch.setattr(child, "start_warm", lambda url="": started.append(url))
    return started


def test_a_store_with_no_models_gets_its_training_child_before_it_is_opened(tmp_path, warm_starts):
    new, empty = f"sqlite:///{tmp_path / 'new.db'}", tmp_path / "empty.db"
    child.prewarm_for_url(new)  # not there yet
    sqlite3.connect(empty).close()  # there, but no tables
    child.prewarm_for_url(f"sqlite:///{empty}")
    assert warm_starts == [new, f"sqlite:///{empty}"]  # each prepares the articles of its store


def test_a_store_with_its_models_starts_no_training_child(tmp_path, warm_starts):
    db = Database(f"sqlite:///{tmp_path / 'trained.db'}")
    db.init()
    training.train(db, "topics")
    child.prewarm_for_url(db.url)
    assert warm_starts == [db.url]  # the stance model is still missing
    training.train(db, "stance")
    child.prewarm_for_url(db.url)
    child.prewarm_for_url("postgresql+psycopg://monitor@127.0.0.1/monitor")  # decided once the store is open
    child.prewarm_for_url("sqlite:///:memory:")
    assert warm_starts == [db.url]


@pytest.mark.parametrize(
    "argv, url",
    [
        (["--db", "{dir}/a.db", "ingest", "feed.xml"], "sqlite:///{dir}/a.db"),
        (["--db={dir}/a.db", "ingest", "--source", "Wire", "feed.xml", "more.xml"], "sqlite:///{dir}/a.db"),
        (["ingest", "feed.xml"], None),
        (["--db", "{dir}/a.db", "tag", "--all"], "no head start"),
        (["--db"], "no head start"),
        (["ingest", "--help"], "no head start"),
        ([], "no head start"),
    ],
)
def test_the_command_line_starts_the_training_child_of_an_ingest_first(tmp_path, monkeypatch, argv, url):
    asked: list[str | None] = []
    monkeypatch.setattr(cli_ingest, "head_start", asked.append)
    cli._head_start([a.format(dir=tmp_path) for a in argv])
    assert asked == ([] if url == "no head start" else [None if url is None else url.format(dir=tmp_path)])


def _processes_marked(mark: str) -> list[int]:
    """Live processes whose environment holds `mark` (children inherit it, orphans included)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if mark.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:  # gone meanwhile, or not ours to read
                pass
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc to find the run's processes")
def test_the_command_line_ends_with_its_store_in_one_file_and_no_process_left(tmp_path):
    """`python -m monitor` skips the interpreter's teardown at its end: what it stored is still all
    in the database file (a copy of that file alone holds it), and its parse workers and training
    child end with it."""
    feed = tmp_path / "wire.xml"
    feed.write_bytes(FEED)
    store = tmp_path / "fresh.db"
    mark = f"MONITOR_TEST_RUN={uuid.uuid4().hex}"
    env = {**os.environ, "MONITOR_TEST_RUN": mark.split("=", 1)[1]}
    done = subprocess.run([sys.executable, "-m", "monitor", "--db", str(store), "ingest", str(feed)],
                          capture_output=True, cwd=REPO, timeout=600, text=True, check=False, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    copy = tmp_path / "copy.db"
    shutil.copyfile(store, copy)  # the file alone, as an analyst would copy or mail it
    with sqlite3.connect(copy) as conn:
        assert conn.execute("select count(*) from articles where tag_status = 'tagged'").fetchone() == (3,)
        assert conn.execute("select count(*) from classifier_models where active").fetchone() == (2,)
    # orphans of the run (workers reading their closed pipe) would still be here a moment later
    for _ in range(50):
        if not _processes_marked(mark):
            break
        time.sleep(0.1)
    assert _processes_marked(mark) == []


RETRAIN = textwrap.dedent(
    """
    import json, sys
    from monitor.classify import tagging, training, upkeep
    from monitor.classify.modelstore import active_version
    from monitor.store import Database
    upkeep.without_pandas()  # as `python -m monitor.classify.upkeep` starts
    db = Database(sys.argv[1])
    before = [active_version(db, k) for k in ("topics", "stance")]
    for kind in ("topics", "stance"):
        training.train(db, kind)
    tagging.retag_all(db)
    after = [active_version(db, k) for k in ("topics", "stance")]
    print(json.dumps({"new_models": [a != b for a, b in zip(after, before)], "pandas": "pandas" in sys.modules,
                      "sklearn": "sklearn" in sys.modules}))
    """
)


def test_the_training_child_fits_and_tags_without_pandas(tmp_path):
    """The training child keeps scikit-learn from importing pandas (half a second of a first
    ingest); every fit it makes must still work without it."""
    feed = tmp_path / "wire.xml"
    feed.write_bytes(FEED)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert cli.main(["--db", url, "ingest", str(feed)]) == 0
    done = subprocess.run([sys.executable, "-c", RETRAIN, url], capture_output=True, cwd=REPO, timeout=600, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"new_models": [True, True], "pandas": False, "sklearn": True}
    with sqlite3.connect(tmp_path / "store.db") as conn:
        assert conn.execute("select tag_status, count(*) from articles group by 1").fetchall() == [("tagged", 3)]


def test_a_stuck_training_child_is_ended_and_reported(monkeypatch):
    """A child that never finishes (a hung fit) is killed after child.TIMEOUT, and the caller
    gets a ModelError saying so, not a wait without end."""
    from monitor.errors import ModelError

    def hanging(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], stdin=subprocess.PIPE, text=True)
        proc.errors = tempfile.TemporaryFile()  # type: ignore[attr-defined]  # noqa: SIM115 - closed by child.run
        return proc

    monkeypatch.setattr(child, "_spawn", hanging)
    monkeypatch.setattr(child, "TIMEOUT", 1)
    monkeypatch.setattr(child, "_warm", None)
    started = time.monotonic()
    with pytest.raises(ModelError, match="exit status -9"):
        child.run("training topics", "topics", url="sqlite:///unused.db")
    assert time.monotonic() - started < 30
