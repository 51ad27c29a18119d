"""The Articles page on a populated store: search, paging, safe display, tags, label correction."""

from __future__ import annotations

import pytest

from tests.dashboard_app import assert_clean, make_app, texts
from tests.dashboard_data import HOSTILE_TITLES, fill


@pytest.fixture
def articles_app(monkeypatch, db_url):
    from monitor.store import Database

    db = Database(db_url)
    db.init()
    fill(db)
    at = make_app(monkeypatch, db_url).run()
    at.switch_page("views/articles.py").run()
    assert_clean(at)
    yield at, db
    db.dispose()


def test_lists_articles_with_safe_links_and_literal_titles(articles_app):
    at, _ = articles_app
    table = at.dataframe[0].value
    assert len(table) == 50  # one page, not everything
    assert "60 articles match" in texts(at)
    by_title = dict(zip(table["title"], table["link"]))
    for title in HOSTILE_TITLES:
        assert title in by_title  # shown as the literal text
    assert not isinstance(by_title[HOSTILE_TITLES[1]], str)  # javascript: never becomes a link
    assert all(v.startswith("https://") for v in table["link"] if isinstance(v, str))
    assert not at.markdown or all("onerror" not in m.value for m in at.markdown)


def test_search_narrows_and_a_malformed_query_says_why(articles_app):
    at, _ = articles_app
    at.sidebar.text_input(key="q").input("cybercrime").run()
    assert_clean(at)
    table = at.dataframe[0].value
    assert 0 < len(table) < 50
    assert all("cybercrime" in t.lower() for t in table["title"])
    at.sidebar.text_input(key="q").input('(interpol AND "red').run()
    assert_clean(at)
    message = " ".join(e.value for e in at.error)
    assert message and "Traceback" not in message
    assert not at.dataframe


def test_filters_by_topic_and_source(articles_app):
    at, _ = articles_app
    at.sidebar.multiselect(key="topic").select("corruption").run()
    at.sidebar.multiselect(key="source").select("Daily Planet").run()
    assert_clean(at)
    table = at.dataframe[0].value
    assert len(table) > 0
    assert set(table["source"]) == {"Daily Planet"}
    assert all("corruption" in t for t in table["topics"])
