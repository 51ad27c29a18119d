"""A real browser against a real `streamlit run dashboard.py`: every page loads without an
exception box, and a screenshot of each is saved in tests/screenshots/ for a person to look at."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.dashboard_app import REPO

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "tests" / "screenshots"
# (path, title, an element that appears only once the page's script has finished)
PAGES = [
    ("", "Coverage", "[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg"),
    ("articles", "Articles", "[data-testid=stDataFrame]"),
    ("alerts", "Alerts", "[data-testid=stTabs]"),
    ("feeds", "Feeds", "[data-testid=stDataFrame]"),
    ("review", "Review", "[data-testid=stMainBlockContainer] h1"),
    ("models", "Models", "[data-testid=stMainBlockContainer] h1"),
]
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

pytestmark = pytest.mark.browser


def _chromium() -> str:
    found = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    if not found:
        pytest.skip("no chromium on this machine (Debian: apt-get install chromium); the browser test needs one")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`streamlit run dashboard.py` on loopback over a store filled from real feeds."""
    from monitor.ingest import ingest_paths
    from monitor.store import Database
    from tests.conftest import SHARED_DATA
    from tests.dashboard_data import fill

    chromium = _chromium()
    db_url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'monitor.db'}"
    db = Database(db_url)
    db.init()
    fill(db, n=120)
    real = SHARED_DATA / "feeds" / "real"
    if real.exists():  # real feed text too, hostile or odd as it comes
        ingest_paths(db, sorted(real.glob("*.xml"))[:8])
    db.dispose()
    port = _free_port()
    env = dict(os.environ, MONITOR_DATABASE_URL=db_url, MONITOR_POLL_IN_DASHBOARD="0", MONITOR_SEED_DEFAULT_FEEDS="1")
    log = (tmp_path_factory.getbasetemp() / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard.py", "--server.port", str(port), "--server.headless", "true", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{base}/_stcore/health", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not start: see " + log.name)
        yield base, chromium
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    _, chromium = server
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _settle(page, ready: str = "h1") -> None:
    """Wait until the page's script has run: its last element is drawn and nothing is running."""
    page.wait_for_selector("[data-testid=stApp]", timeout=30_000)
    page.wait_for_selector(ready, timeout=60_000)
    for _ in range(120):
        if page.locator("[data-testid=stStatusWidget] button, [data-testid=stStatusWidget] img").count() == 0 and page.locator("[data-testid=stSkeleton]").count() == 0:
            break
        page.wait_for_timeout(250)
    page.wait_for_timeout(1000)  # charts draw a moment after the script ends


@pytest.mark.parametrize(("path", "title", "ready"), PAGES)
def test_each_page_loads_without_an_exception(server, browser, path, title, ready):
    base, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/{path}")
    _settle(page, ready)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{title.lower()}.png"), full_page=True)
    assert page.locator("h1", has_text=title).count() >= 1
    assert page.locator("[data-testid=stException]").count() == 0
    assert not errors, errors
    page.close()


def test_a_malformed_search_shows_a_message_not_a_crash(server, browser):
    base, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    page.goto(f"{base}/articles?q=%22red%20notice")
    _settle(page, "[data-testid=stAlertContentError]")
    page.screenshot(path=str(SHOTS / "articles-bad-query.png"), full_page=True)
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.locator("[data-testid=stAlertContentError]").count() >= 1
    # hostile titles are text: no image from a feed title was ever requested or rendered
    assert page.locator("img[src='x']").count() == 0
    page.close()


def test_filters_travel_in_the_url(server, browser):
    base, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    page.goto(f"{base}/articles?topic=corruption&source=Daily%20Planet")
    _settle(page, "[data-testid=stDataFrame]")
    assert page.locator("[data-testid=stException]").count() == 0
    assert "topic=corruption" in page.url
    page.screenshot(path=str(SHOTS / "articles-filtered.png"), full_page=True)
    page.close()


def test_one_click_in_the_review_queue_saves_a_label(server, browser):
    from tests.conftest import SHARED_DATA

    if not (SHARED_DATA / "feeds" / "real").exists():
        pytest.skip("shared data not present: the review queue needs the model trained on the real feeds")
    base, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    page.goto(f"{base}/review?review_topic=cybercrime")
    _settle(page, "button:has-text('Not about it')")
    page.screenshot(path=str(SHOTS / "review.png"), full_page=True)
    first = page.locator("[data-testid=stMainBlockContainer] [data-testid=stText]").first.inner_text()
    page.locator("button:has-text('Not about it')").first.click()
    _settle(page, "[data-testid=stAlertContentSuccess]")
    assert "not about cybercrime" in page.locator("[data-testid=stAlertContentSuccess]").inner_text()
    assert page.locator("[data-testid=stMainBlockContainer] [data-testid=stText]").first.inner_text() != first  # it left the queue
    assert page.locator("[data-testid=stException]").count() == 0
    page.screenshot(path=str(SHOTS / "review-after-click.png"), full_page=True)
    page.close()


def test_after_train_and_retag_the_models_page_says_what_changed(server, browser):
    from tests.conftest import SHARED_DATA

    if not (SHARED_DATA / "feeds" / "real").exists():
        pytest.skip("shared data not present: the Models page needs the model trained on the real feeds")
    base, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(f"{base}/models")
    _settle(page, "button:has-text('Train topic model')")
    page.locator("button:has-text('Train topic model')").click()
    _settle(page, "[data-testid=stAlertContentSuccess]:has-text('Trained and activated')")
    page.locator("button:has-text('Re-tag the archive')").click()
    _settle(page, "[data-testid=stAlertContentSuccess]:has-text('Re-tagged')")
    assert page.locator("text=What the last re-tag changed").count() == 1
    assert page.locator("text=How far to trust each topic").count() == 1
    assert page.locator("[data-testid=stException]").count() == 0
    page.screenshot(path=str(SHOTS / "models-after-retag.png"), full_page=True)
    page.close()
