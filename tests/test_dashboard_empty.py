"""Every dashboard page renders on an empty database and tells a new user what to do."""

from __future__ import annotations

import pytest

from tests.dashboard_app import PAGES, assert_clean, make_app, texts


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_an_empty_database(monkeypatch, db_url, page):
    at = make_app(monkeypatch, db_url).run()
    assert_clean(at)
    if page != PAGES[0]:
        at.switch_page(page).run()
        assert_clean(at)
    shown = texts(at)
    assert not at.error, [e.value for e in at.error]
    if page in ("views/coverage.py", "views/articles.py"):
        assert "No articles stored yet" in shown
        assert "Feeds" in shown  # points a new user at where to add feeds


def test_sidebar_shows_the_local_analyst_and_poller_state(monkeypatch, sqlite_url):
    at = make_app(monkeypatch, sqlite_url).run()
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "Local analyst" in captions
    assert "poller off" in captions
