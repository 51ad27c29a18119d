"""A real `streamlit run dashboard.py` on a free loopback port, for browser and raw-HTTP tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.dashboard_app import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    found = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    if not found:
        pytest.skip("no chromium on this machine (Debian: apt-get install chromium); the browser test needs one")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Dashboard:
    base: str
    port: int
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def run_dashboard(
    tmp: Path, db_url: str, *, secrets: Path, args: tuple[str, ...] = (), env: dict | None = None, port: int | None = None
) -> Iterator[Dashboard]:
    """`streamlit run dashboard.py` with its secrets read from `secrets` (which may not exist)."""
    port = port or free_port()
    environ = dict(os.environ, MONITOR_DATABASE_URL=db_url, MONITOR_POLL_IN_DASHBOARD="0", MONITOR_SEED_DEFAULT_FEEDS="0", **(env or {}))
    log_path = tmp / f"streamlit-{port}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", "dashboard.py",
                "--server.port", str(port), "--server.headless", "true", "--server.address", "127.0.0.1",
                "--browser.gatherUsageStats", "false", "--secrets.files", str(secrets), *args,
            ],
            cwd=REPO,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(120):
                if proc.poll() is not None:
                    pytest.fail("streamlit exited: " + log_path.read_text())
                try:
                    if urllib.request.urlopen(f"{base}/_stcore/health", timeout=1).status == 200:
                        break
                except OSError:
                    time.sleep(0.5)
            else:
                pytest.fail("streamlit did not start: " + log_path.read_text())
            yield Dashboard(base, port, log_path)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def settle(page, ready: str) -> None:
    """Wait until `ready` is drawn and the script has stopped running."""
    page.wait_for_selector("[data-testid=stApp]", timeout=30_000)
    page.wait_for_selector(ready, timeout=60_000)
    for _ in range(120):
        if page.locator("[data-testid=stStatusWidget] button, [data-testid=stStatusWidget] img").count() == 0:
            break
        page.wait_for_timeout(250)
    page.wait_for_timeout(500)
