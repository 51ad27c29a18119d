"""A disk that fills up while `ingest` and `poll` write: a real 3 MB tmpfs mounted in a private
mount namespace (`unshare -m`), so nothing outside the test sees it. The command exits non-zero
with one line that says how much was stored before the disk filled, and that much is there."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from tests.dashboard_app import REPO
from tests.feedserver import FeedServer, generated_feed

N_FEEDS = 40


def _padded_feed(n: int) -> bytes:
    body = generated_feed(1000 + n, 60)
    # long summaries, so that a few documents fill the small disk
    return body.replace(b"</title>", b"</title><description>" + (b"lorem ipsum dolor sit amet %d " % n) * 60 + b"</description>", 60)


def _in_small_disk(folder, *commands: list[str]) -> subprocess.CompletedProcess:
    """Run the commands one after another with `folder` on a 3 MB tmpfs of their own."""
    lines = [f"mount -t tmpfs -o size=3m tmpfs {shlex.quote(str(folder))} || exit 97"]
    for i, command in enumerate(commands):
        lines.append(" ".join(shlex.quote(c) for c in command) + f" > {folder}/../out{i} 2> {folder}/../err{i}; echo $? > {folder}/../rc{i}")
    env = dict(os.environ, MONITOR_SEED_DEFAULT_FEEDS="0", PYTHONPATH=str(REPO))
    return subprocess.run(["unshare", "-m", "sh", "-c", "\n".join(lines)], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def _result(tmp_path, i: int) -> tuple[int, str, str]:
    return int((tmp_path / f"rc{i}").read_text()), (tmp_path / f"out{i}").read_text(), (tmp_path / f"err{i}").read_text()


COUNT = [sys.executable, "-c", "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from articles').fetchone()[0])"]


@pytest.fixture
def small_disk(tmp_path):
    if not shutil.which("unshare"):
        pytest.skip("no unshare(1) here: the full-disk test needs util-linux")
    folder = tmp_path / "disk"
    folder.mkdir()
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=1m tmpfs {folder}"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root or user namespaces)")
    return folder


def _stored_before(line: str) -> int:
    m = re.search(r"\((\d+) new articles\) were stored before that", line) or re.search(r"(\d+) new articles", line)
    assert m, line
    return int(m.group(1))


def test_ingest_on_a_full_disk_says_how_much_was_stored(tmp_path, small_disk):
    feeds_dir = tmp_path / "feeds"
    feeds_dir.mkdir()
    for n in range(N_FEEDS):
        (feeds_dir / f"f{n:02d}.xml").write_bytes(_padded_feed(n))
    url = f"sqlite:///{small_disk}/monitor.db"
    _in_small_disk(small_disk, [sys.executable, "-m", "monitor", "--db", url, "ingest", str(feeds_dir)], [*COUNT, f"{small_disk}/monitor.db"])
    code, out, err = _result(tmp_path, 0)
    assert code != 0
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: the disk is full") and "were stored before that and are kept" in last, err
    stored = _stored_before(last)
    assert 0 < stored < N_FEEDS * 60
    assert int(_result(tmp_path, 1)[1]) == stored  # exactly what it said is there


def test_poll_on_a_full_disk_exits_non_zero_with_one_line(tmp_path, small_disk):
    with FeedServer() as srv:
        for n in range(N_FEEDS):
            srv.set(f"/f{n}.xml", _padded_feed(n))
        opml = tmp_path / "feeds.opml"
        opml.write_text(
            '<?xml version="1.0"?><opml version="2.0"><body>'
            + "".join(f'<outline type="rss" text="f{n}" xmlUrl="{srv.url(f"/f{n}.xml")}"/>' for n in range(N_FEEDS))
            + "</body></opml>"
        )
        url = f"sqlite:///{small_disk}/monitor.db"
        cli = [sys.executable, "-m", "monitor", "--db", url]
        _in_small_disk(
            small_disk,
            [*cli, "feeds", "import", str(opml), "--allow-private-networks"],
            [*cli, "poll", "--once", "--allow-private-networks", "--concurrency", "4"],
            [*COUNT, f"{small_disk}/monitor.db"],
        )
    assert _result(tmp_path, 0)[0] == 0, _result(tmp_path, 0)
    code, out, err = _result(tmp_path, 1)
    assert code != 0, (out, err)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    # whichever write met the full disk first (storing a document, or claiming the next feeds)
    assert lines[-1].startswith("error: ") and "the disk is full" in lines[-1], err
    assert len([line for line in lines if line.startswith("error:")]) == 1 and len(lines) <= 3, err  # was 8 tracebacks
    assert "new articles" in out  # the summary of what did get stored
    stored = int(re.search(r"(\d+) new articles", out).group(1))
    assert 0 < stored == int(_result(tmp_path, 2)[1])
