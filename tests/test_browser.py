"""A real browser against a real `streamlit run dashboard.py`: every page loads without an
exception box, and a screenshot of each is saved in tests/screenshots/ for a person to look at."""

from __future__ import annotations

import pytest

from tests.browser import run_dashboard, settle, shot, sqlite_store

# (path, title, an element that appears only once the page's script has finished)
PAGES = [
    ("", "Coverage", "[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg"),
    ("articles", "Articles", "[data-testid=stDataFrame]"),
    ("alerts", "Alerts", "[data-testid=stTabs]"),
    ("feeds", "Feeds", "[data-testid=stDataFrame]"),
    ("review", "Review", "[data-testid=stMainBlockContainer] h1"),
    ("models", "Models", "[data-testid=stMainBlockContainer] h1"),
]

pytestmark = pytest.mark.browser


def _fill(db) -> None:
    from monitor.ingest import ingest_paths
    from tests.conftest import SHARED_DATA
    from tests.dashboard_data import fill

    fill(db, n=120)
    real = SHARED_DATA / "feeds" / "real"
    if real.exists():  # real feed text too, hostile or odd as it comes
        ingest_paths(db, sorted(real.glob("*.xml"))[:8])


@pytest.fixture(scope="module")
def server(tmp_path_factory, browser):
    """`streamlit run dashboard.py` on loopback over a store filled from real feeds."""
    tmp = tmp_path_factory.mktemp("browser")
    with run_dashboard(tmp, sqlite_store(tmp, _fill), env={"MONITOR_SEED_DEFAULT_FEEDS": "1"}) as dash:
        yield dash.base


@pytest.mark.parametrize(("path", "title", "ready"), PAGES)
def test_each_page_loads_without_an_exception(server, browser, path, title, ready):
    base = server
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/{path}")
    settle(page, ready)
    shot(page, title.lower())
    assert page.locator("h1", has_text=title).count() >= 1
    assert page.locator("[data-testid=stException]").count() == 0
    assert not errors, errors
    page.close()


def test_a_malformed_search_shows_a_message_not_a_crash(server, browser):
    base = server
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    page.goto(f"{base}/articles?q=%22red%20notice")
    settle(page, "[data-testid=stAlertContentError]")
    shot(page, "articles-bad-query")
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.locator("[data-testid=stAlertContentError]").count() >= 1
    # hostile titles are text: no image from a feed title was ever requested or rendered
    assert page.locator("img[src='x']").count() == 0
    page.close()


def test_filters_travel_in_the_url(server, browser):
    base = server
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    page.goto(f"{base}/articles?topic=corruption&source=Daily%20Planet")
    settle(page, "[data-testid=stDataFrame]")
    assert page.locator("[data-testid=stException]").count() == 0
    assert "topic=corruption" in page.url
    shot(page, "articles-filtered")
    page.close()


def test_one_click_in_the_review_queue_saves_a_label(server, browser):
    from tests.conftest import SHARED_DATA

    if not (SHARED_DATA / "feeds" / "real").exists():
        pytest.skip("shared data not present: the review queue needs the model trained on the real feeds")
    base = server
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    page.goto(f"{base}/review?review_topic=cybercrime")
    settle(page, "button:has-text('Not about it')")
    shot(page, "review")
    first = page.locator("[data-testid=stMainBlockContainer] [data-testid=stText]").first.inner_text()
    page.locator("button:has-text('Not about it')").first.click()
    settle(page, "[data-testid=stAlertContentSuccess]")
    assert "not about cybercrime" in page.locator("[data-testid=stAlertContentSuccess]").inner_text()
    assert page.locator("[data-testid=stMainBlockContainer] [data-testid=stText]").first.inner_text() != first  # it left the queue
    assert page.locator("[data-testid=stException]").count() == 0
    shot(page, "review-after-click")
    page.close()


def test_after_train_and_retag_the_models_page_says_what_changed(server, browser):
    from tests.conftest import SHARED_DATA

    if not (SHARED_DATA / "feeds" / "real").exists():
        pytest.skip("shared data not present: the Models page needs the model trained on the real feeds")
    base = server
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(f"{base}/models")
    settle(page, "button:has-text('Train topic model')")
    page.locator("button:has-text('Train topic model')").click()
    settle(page, "[data-testid=stAlertContentSuccess]:has-text('Trained and activated')")
    page.locator("button:has-text('Re-tag the archive')").click()
    settle(page, "[data-testid=stAlertContentSuccess]:has-text('Re-tagged')")
    assert page.locator("text=What the last re-tag changed").count() == 1
    assert page.locator("text=How far to trust each topic").count() == 1
    assert page.locator("[data-testid=stException]").count() == 0
    shot(page, "models-after-retag")
    page.close()
