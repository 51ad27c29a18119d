"""Dates in a real browser: the From/To pickers reach back to the archive's first day (2015 here,
before Streamlit's ten-year default), a date in the URL is honoured, a broken one is reported."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from tests.dashboard_app import REPO
from tests.test_browser import CHROMIUM_ARGS, SHOTS, _chromium, _free_port, _settle

pytestmark = pytest.mark.browser

FIRST = datetime(2015, 5, 20, 8, 0)


def _fill(db) -> None:
    """Thirty articles a day apart from 2015-05-20, then five in 2026 and one undated item
    stamped with its fetch time (estimated)."""
    from monitor.store import utcnow
    from monitor.store.schema import articles

    rows = [(FIRST + timedelta(days=i), False) for i in range(30)]
    rows += [(datetime(2026, 11, 1, 9, 0) + timedelta(days=i), False) for i in range(5)]
    rows.append((utcnow().replace(microsecond=0), True))
    with db.write() as conn:
        for i, (when, estimated) in enumerate(rows):
            title = f"Story {i} of {when:%Y-%m-%d} about Interpol and Europol"
            conn.execute(
                insert(articles).values(
                    url_key=f"https://news.example.org/{i}", link=f"https://news.example.org/{i}", title=title, summary="",
                    content="", source="Example Wire", published_at=when, fetched_at=when if not estimated else when,
                    date_estimated=estimated, title_hash=hashlib.md5(title.encode()).hexdigest(), tag_status="tagged",
                )
            )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from monitor.store import Database

    chromium = _chromium()
    db_url = f"sqlite:///{tmp_path_factory.mktemp('browser-dates') / 'monitor.db'}"
    db = Database(db_url)
    db.init()
    _fill(db)
    db.dispose()
    port = _free_port()
    env = dict(os.environ, MONITOR_DATABASE_URL=db_url, MONITOR_POLL_IN_DASHBOARD="0", MONITOR_SEED_DEFAULT_FEEDS="0")
    log = (tmp_path_factory.getbasetemp() / "streamlit-dates.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard.py", "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
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


def _caption(page) -> str:
    return " ".join(page.locator("[data-testid=stCaptionContainer]").all_inner_texts())


def test_a_2015_date_can_be_typed_into_from(server, browser):
    base, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{base}/articles")
    _settle(page, "[data-testid=stDataFrame]")
    assert "36 articles match" in _caption(page)
    # typed digit by digit into the year, month and day fields, as a person would
    page.get_by_role("spinbutton", name="year, From").click()
    page.keyboard.type("20150601", delay=60)
    page.keyboard.press("Escape")
    page.locator("h1").first.click()  # leave the field: the value is committed
    page.wait_for_url("**from=2015-06-01**", timeout=30_000)
    _settle(page, "[data-testid=stDataFrame]")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "articles-from-2015.png"), full_page=True)
    # 2015-06-01 … 2015-06-18 (18) + 2026 (5) + the estimated one
    assert "24 articles match: 2015-06-01 to …" in _caption(page)
    assert page.locator("[data-testid=stException]").count() == 0
    page.close()


def test_a_2015_date_in_the_url_is_honoured(server, browser):
    base, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{base}/articles?from=2015-06-01&to=2015-06-03")
    _settle(page, "[data-testid=stDataFrame]")
    page.screenshot(path=str(SHOTS / "articles-url-2015.png"), full_page=True)
    assert "3 articles match: 2015-06-01 to 2015-06-03" in _caption(page)
    assert "from=2015-06-01" in page.url
    year = page.get_by_role("spinbutton", name="year, From")
    assert year.inner_text() == "2015" and page.get_by_role("spinbutton", name="month, From").inner_text() == "06"
    page.close()


def test_a_broken_date_in_the_url_is_reported_in_the_page(server, browser):
    base, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{base}/articles?from=2015-13-45")
    _settle(page, "[data-testid=stDataFrame]")
    page.screenshot(path=str(SHOTS / "articles-url-bad-date.png"), full_page=True)
    warning = page.locator("[data-testid=stMain] [data-testid=stAlertContentWarning]")
    assert warning.count() == 1 and "is not a date" in warning.inner_text()
    page.close()
