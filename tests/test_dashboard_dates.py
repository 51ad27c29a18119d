"""Estimated dates on the dashboard: never "in 24 h", never the end of the default Coverage
window, and marked on the Articles page."""

from __future__ import annotations

import hashlib
from datetime import datetime

import pytest
from sqlalchemy import insert

from monitor.store import utcnow
from monitor.store.schema import articles
from tests.dashboard_app import assert_clean, make_app, texts
from tests.dashboard_data import fill


@pytest.fixture
def store(db_url):
    """Sixty dated articles up to 2026-10-20, and three undated items stamped with the fetch
    time just now (as ingest stores them: estimated)."""
    from monitor.store import Database

    db = Database(db_url)
    db.init()
    fill(db)
    now = utcnow().replace(microsecond=0)
    with db.write() as conn:
        for i in range(3):
            title = f"An undated story number {i} from an archive feed"
            conn.execute(
                insert(articles).values(
                    url_key=f"https://undated.example.org/{i}", link=f"https://undated.example.org/{i}", title=title, summary="",
                    content="", source="Example Wire", published_at=now, fetched_at=now, date_estimated=True,
                    title_hash=hashlib.md5(title.encode()).hexdigest(), tag_status="tagged",
                )
            )
    yield db
    db.dispose()


def test_estimated_dates_are_not_in_24_h_and_do_not_set_the_default_window(monkeypatch, store):
    at = make_app(monkeypatch, store.url).run()
    assert_clean(at)
    shown = texts(at)
    assert "63 articles (0 in 24 h)" in shown
    newest_dated = datetime(2026, 10, 1) + (60 - 1) * (datetime(2026, 10, 1, 8) - datetime(2026, 10, 1))
    assert f"to {newest_dated:%Y-%m-%d})" in shown
    assert f"to {utcnow():%Y-%m-%d})" not in shown


def test_the_articles_page_marks_estimated_dates(monkeypatch, store):
    at = make_app(monkeypatch, store.url).run()
    at.switch_page("views/articles.py").run()
    assert_clean(at)
    table = at.dataframe[0].value
    estimated = dict(zip(table["title"], table["estimated"]))
    assert estimated["An undated story number 0 from an archive feed"] is True
    assert sum(bool(v) for v in estimated.values()) == 3
    first = list(table["title"]).index("An undated story number 0 from an archive feed")
    at.session_state["articles_table"] = {"selection": {"rows": [first], "columns": [], "cells": []}}  # a click on its row
    at.run()
    assert "estimated: the item gave no readable date" in texts(at)  # its details say so
