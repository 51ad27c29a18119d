"""What every browser test shares: a real `streamlit run dashboard.py` on a free loopback port
over a store the test fills, Debian's Chromium, waiting for a page to settle, and screenshots
in tests/screenshots/ for a person to look at.

The `playwright` and `browser` fixtures (one Chromium per test module) are in conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.store import Database
from tests.dashboard_app import REPO

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "tests" / "screenshots"
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
    tmp: Path, db_url: str, *, secrets: Path | None = None, args: tuple[str, ...] = (), env: dict | None = None, port: int | None = None
) -> Iterator[Dashboard]:
    """`streamlit run dashboard.py` with its secrets read from `secrets` (which may not exist;
    by default a file that does not, so a developer's own secrets never change a test)."""
    port = port or free_port()
    secrets = secrets or tmp / "no-secrets.toml"
    environ = {**os.environ, "MONITOR_DATABASE_URL": db_url, "MONITOR_POLL_IN_DASHBOARD": "0", "MONITOR_SEED_DEFAULT_FEEDS": "0", **(env or {})}
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


def sqlite_store(tmp: Path, fill: Callable[[Database], object]) -> str:
    """A fresh SQLite store in `tmp`, filled by `fill`; returns its URL (the store is closed)."""
    url = f"sqlite:///{tmp / 'monitor.db'}"
    db = Database(url)
    db.init()
    try:
        fill(db)
    finally:
        db.dispose()
    return url


def settle(page, ready: str = "h1") -> None:
    """Wait until the page's script has run: `ready` is drawn, nothing is running, no skeleton.
    When `ready` never comes, the failure says what the page shows instead."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.wait_for_selector("[data-testid=stApp]", timeout=30_000)
    try:
        page.wait_for_selector(ready, timeout=60_000)
    except PlaywrightTimeout:
        shown = page.locator("body").inner_text().replace("\u2060", "")
        raise AssertionError(f"{ready} not drawn in 60 s; the page shows: {shown[:1500]}") from None
    idle(page)
    page.wait_for_timeout(1000)  # charts draw a moment after the script ends


def idle(page) -> None:
    """Wait until the page's script is not running and nothing is still a skeleton."""
    for _ in range(120):
        running = page.locator("[data-testid=stStatusWidget] button, [data-testid=stStatusWidget] img").count()
        if running == 0 and page.locator("[data-testid=stSkeleton]").count() == 0:
            return
        page.wait_for_timeout(250)


def shot(page, name: str) -> Path:
    """A full-page screenshot as tests/screenshots/<name>.png, checked to show something: a
    blank or one-colour image means the page drew nothing a person could look at."""
    from PIL import Image  # Streamlit's own dependency

    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=64)
    assert colours is None or len(colours) >= 8, f"{path} is nearly blank ({len(colours)} colours)"
    return path
