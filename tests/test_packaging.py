"""`pip install .` gives a working package: the wheel carries the files the code reads at run time,
the `monitor` command starts, and the parse workers run from the installed copy with no
PYTHONPATH and no source checkout in sight.

The build and the install use what is already installed (`--no-build-isolation`, `--no-deps`, a
venv that sees this interpreter's site-packages), so nothing is downloaded."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Every file the package opens beside its code (not .py), as it must appear in the wheel.
DATA_FILES = [
    "monitor/taxonomy.toml",
    "monitor/default_feeds.opml",
    "monitor/classify/data/topic_examples.tsv",
    "monitor/classify/data/stance_examples.tsv",
    "monitor/store/migrations/env.py",
    "monitor/store/migrations/script.py.mako",
    "monitor/store/migrations/versions/0001_initial_schema.py",
]

pytest.importorskip("setuptools", reason="the build backend (setuptools) is in requirements-dev.txt")


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MONITOR_"))}
    env["MONITOR_SEED_DEFAULT_FEEDS"] = "0"
    return env


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the sources (the build writes build/ and egg-info beside them)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "monitor", src / "monitor", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), str(src)], src)
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed; it borrows the runtime libraries from this interpreter."""
    root = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(root)], root)
    python = root / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", str(wheel)], root)
    return root


def test_the_wheel_carries_every_data_file_and_every_module(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [f for f in DATA_FILES if f not in names]
    assert missing == [], f"the wheel lacks {missing}"
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "monitor").rglob("*.py")}
    assert sorted(modules - names) == []
    assert not any(n.startswith(("tests/", "views/", "bench/")) for n in names)


def test_installed_monitor_command_runs_outside_the_checkout(venv, tmp_path):
    done = _run([str(venv / "bin" / "monitor"), "--help"], tmp_path)
    assert done.stdout.startswith("usage: monitor ")
    for command in ("init", "feeds", "ingest", "poll", "tag", "train", "alerts", "export"):
        assert f"\n    {command} " in done.stdout
    where = _run([str(venv / "bin" / "python"), "-c", "import monitor; print(monitor.__file__)"], tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(venv), "the venv imported the checkout, not its own copy"
    # Installed, the default store is data/monitor.db under the working directory, not site-packages.
    url = _run([str(venv / "bin" / "python"), "-c", "from monitor.config import settings; print(settings().database_url)"], tmp_path)
    assert url.stdout.strip() == f"sqlite:///{tmp_path.resolve() / 'data' / 'monitor.db'}"


def test_installed_package_migrates_a_store_and_parses_through_its_workers(venv, tmp_path):
    """`monitor init` runs the packaged migrations; a feed parses in a worker started from the
    installed copy, with no PYTHONPATH set and the working directory outside the checkout."""
    db = tmp_path / "store.db"
    _run([str(venv / "bin" / "monitor"), "--db", str(db), "init"], tmp_path)
    assert db.is_file()
    feed = (
        b"<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>"
        b"<item><title>Interpol arrests</title><link>https://example.org/a</link></item></channel></rss>"
    )
    (tmp_path / "feed.xml").write_bytes(feed)
    script = (
        "import pathlib, monitor.parse as p, monitor.parse_workers as pw\n"
        "parsed = p.parse_feed(pathlib.Path('feed.xml').read_bytes(), 'application/rss+xml')\n"
        "print(parsed.entries[0].title)\n"
        "pw.shutdown_workers()\n"
    )
    done = _run([str(venv / "bin" / "python"), "-c", script], tmp_path)
    assert done.stdout.strip() == "Interpol arrests"


def test_source_checkout_workers_need_no_pythonpath_and_ignore_the_working_directory(tmp_path):
    """Run from a checkout the way the dashboard is (the checkout on the parent's path, started from
    another directory, here one holding an unrelated `monitor/`): the worker still imports our
    package, and its environment gains no PYTHONPATH for its own children to inherit."""
    decoy = tmp_path / "monitor"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise ImportError('the decoy monitor/ in the working directory')\n")
    (tmp_path / "feed.xml").write_bytes(
        b"<rss version='2.0'><channel><title>T</title><item><title>Europol raid</title></item></channel></rss>"
    )
    script = (
        "import pathlib, sys\n"
        f"sys.path[0] = {str(REPO)!r}\n"
        "import monitor.parse as p, monitor.parse_workers as pw\n"
        "print(p.parse_feed(pathlib.Path('feed.xml').read_bytes()).entries[0].title)\n"
        "(worker,) = pw._POOL.idle\n"
        "print(b'PYTHONPATH=' in pathlib.Path(f'/proc/{worker.proc.pid}/environ').read_bytes())\n"
        "pw.shutdown_workers()\n"
    )
    done = _run([sys.executable, "-c", script], tmp_path)
    assert done.stdout.split() == ["Europol", "raid", "False"]
