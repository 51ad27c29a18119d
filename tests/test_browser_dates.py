"""Dates in a real browser: the From/To pickers reach back to the archive's first day (2015 here,
before Streamlit's ten-year default), a date in the URL is honoured, a broken one is reported."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from tests.browser import run_dashboard, settle, shot, sqlite_store

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
def server(tmp_path_factory, browser):
    tmp = tmp_path_factory.mktemp("browser-dates")
    with run_dashboard(tmp, sqlite_store(tmp, _fill)) as dash:
        yield dash.base


def _caption(page) -> str:
    return " ".join(page.locator("[data-testid=stCaptionContainer]").all_inner_texts())


def test_a_2015_date_can_be_typed_into_from(server, browser):
    base = server
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{base}/articles")
    settle(page, "[data-testid=stDataFrame]")
    assert "36 articles match" in _caption(page)
    # typed digit by digit into the year, month and day fields, as a person would
    page.get_by_role("spinbutton", name="year, From").click()
    page.keyboard.type("20150601", delay=60)
    page.keyboard.press("Escape")
    page.locator("h1").first.click()  # leave the field: the value is committed
    page.wait_for_url("**from=2015-06-01**", timeout=30_000)
    settle(page, "[data-testid=stDataFrame]")
    shot(page, "articles-from-2015")
    # 2015-06-01 … 2015-06-18 (18) + 2026 (5) + the estimated one
    assert "24 articles match: 2015-06-01 to …" in _caption(page)
    assert page.locator("[data-testid=stException]").count() == 0
    page.close()


def test_a_2015_date_in_the_url_is_honoured(server, browser):
    base = server
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{base}/articles?from=2015-06-01&to=2015-06-03")
    settle(page, "[data-testid=stDataFrame]")
    shot(page, "articles-url-2015")
    assert "3 articles match: 2015-06-01 to 2015-06-03" in _caption(page)
    assert "from=2015-06-01" in page.url
    year = page.get_by_role("spinbutton", name="year, From")
    assert year.inner_text() == "2015" and page.get_by_role("spinbutton", name="month, From").inner_text() == "06"
    page.close()


def test_a_broken_date_in_the_url_is_reported_in_the_page(server, browser):
    base = server
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{base}/articles?from=2015-13-45")
    settle(page, "[data-testid=stDataFrame]")
    shot(page, "articles-url-bad-date")
    warning = page.locator("[data-testid=stMain] [data-testid=stAlertContentWarning]")
    assert warning.count() == 1 and "is not a date" in warning.inner_text()
    page.close()
