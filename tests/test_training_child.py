"""The training child an ingest starts early (`training.prewarm`): it trains what it is told at
the run's end, or goes away unused; a lean process (no scikit-learn) is the one that uses it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.test_lean_tagging import FEED

REPO = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from monitor.classify import training
    from monitor.classify.modelstore import active_version
    from monitor.ingest import ingest_paths
    from monitor.store import Database
    db = Database(sys.argv[1]); db.init()
    # unused: it is stopped when the run ends
    training.prewarm(db)
    unused = training._warm
    training.release_warm()
    # used: the ingest of a store with no models starts one and trains in it at the end
    spawned = []
    original = training._spawn
    training._spawn = lambda *args: spawned.append(args) or original(*args)
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
