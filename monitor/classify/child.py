"""The training child: a `python -m monitor.classify.upkeep` process that fits models, so a lean
process (a poller, an ingest) never loads scikit-learn and the ~150 MB fitting costs go away
with the child. When and what to train is decided in `upkeep`; this module starts children,
hands them their request and reports how they ended.

A child can be started ahead of need ("warm"): loading scikit-learn and scipy takes it a couple
of seconds of one core, and an ingest into a store with no models starts one while it parses,
so the bootstrap at its end starts training at once. While it waits it prepares the articles
already stored (monitor.classify.prepared); what it trains on is still read when it is told to
train, at the run's end, so the model does not depend on how far it got. This module imports
nothing heavy, so the command line can start that child before it has loaded its own libraries
(`prewarm_for_url`).
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import tempfile
import threading
from typing import IO

from monitor.classify.kinds import ModelKind
from monitor.errors import ModelError

TIMEOUT = 3600  # seconds: a training child that takes longer is stuck, not slow

_warm: subprocess.Popen[str] | None = None
_warm_pid = 0
_warm_lock = threading.Lock()


def run(what: str, *args: str, url: str) -> None:
    """Run a child with these arguments on the database at `url` and wait for it; ModelError
    with the child's last line of error output when it fails."""
    proc = _start(*args, url=url)
    errors: IO[bytes] = proc.errors  # type: ignore[attr-defined]  # set by _spawn
    # a timer ends a stuck child: wait(timeout=...) would poll every 50 ms, and a first ingest
    # waits for its child to the last of those milliseconds
    stuck = threading.Timer(TIMEOUT, proc.kill)
    stuck.daemon = True
    stuck.start()
    try:
        try:
            proc.wait()
        finally:
            stuck.cancel()
        if proc.returncode != 0:
            errors.seek(0)
            lines = errors.read().decode("utf-8", "replace").strip().splitlines()
            raise ModelError(f"{what} failed: {lines[-1] if lines else f'exit status {proc.returncode}'}")
    finally:
        errors.close()


def start_warm(url: str = "") -> None:
    """Start a warm child for `run` to use later in this process, unless one is waiting already.
    With `url`, it prepares that store's articles for the topic bootstrap while it waits."""
    global _warm, _warm_pid
    with _warm_lock:
        if _warm is not None and _warm_pid == os.getpid() and _warm.poll() is None:
            return
        proc = _spawn("--warm")
        stdin: IO[str] = proc.stdin  # type: ignore[assignment]  # PIPE: never None
        try:
            stdin.write(url.replace("\n", "") + "\n")
            stdin.flush()
        except OSError:  # gone already: `run` starts a fresh child
            pass
        _warm, _warm_pid = proc, os.getpid()


def prewarm_for_url(url: str) -> None:
    """Start a warm child now if the SQLite store at `url` lacks a model of some kind: checked with
    the standard library's sqlite3, before this process has loaded SQLAlchemy. Nothing for
    other databases: `upkeep.prewarm` decides for them once the store is open."""
    from pathlib import Path

    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix or ":memory:" in url or "?" in url:
        return
    path = Path(url[len(prefix):])
    if path.exists():
        import sqlite3

        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                active = {k for (k,) in conn.execute("select kind from classifier_models where active")}
        except sqlite3.Error:  # not a store yet (no tables), or locked: a new store has no models
            active = set()
        if all(kind.value in active for kind in ModelKind):
            return
    start_warm(url)


def release_warm() -> None:
    """Stop an unused warm child: it has only loaded libraries, so nothing is lost."""
    proc = _take_warm()
    if proc is not None:
        proc.kill()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        proc.errors.close()  # type: ignore[attr-defined]  # set by _spawn


atexit.register(release_warm)


def _start(*args: str, url: str) -> subprocess.Popen[str]:
    # the URL goes through stdin: a password on the command line would show in `ps`
    proc = _take_warm()
    if proc is not None:  # it has loaded scikit-learn already: it reads what to train from stdin
        request = " ".join(args) + "\n" + url
    else:
        proc, request = _spawn(*args), url
    try:
        _send(proc, request)
    except OSError:  # a warm child that died meanwhile: a fresh one reports what goes wrong
        proc = _spawn(*args)
        _send(proc, url)
    return proc


def _send(proc: subprocess.Popen[str], request: str) -> None:
    stdin: IO[str] = proc.stdin  # type: ignore[assignment]  # PIPE: never None
    stdin.write(request)
    stdin.close()


def _spawn(*args: str) -> subprocess.Popen[str]:
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - a file, not a pipe: nobody reads while the child runs; closed by run
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.classify.upkeep", *args], stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL, stderr=errors, text=True,
    )
    proc.errors = errors  # type: ignore[attr-defined]  # read by run
    return proc


def _take_warm() -> subprocess.Popen[str] | None:
    global _warm
    with _warm_lock:
        proc, _warm = _warm, None
    if proc is None or _warm_pid != os.getpid() or proc.poll() is not None:
        return None
    return proc
