"""The Alerts page: create (with a clear error for a bad query), test, inbox, edit, delete."""

from __future__ import annotations

import pytest

from monitor.store import Database
from tests.dashboard_app import assert_clean, make_app, texts
from tests.dashboard_data import fill


@pytest.fixture
def alerts_page(monkeypatch, sqlite_url):
    db = Database(sqlite_url)
    db.init()
    fill(db)
    at = make_app(monkeypatch, sqlite_url).run()
    at.switch_page("views/alerts.py").run()
    assert_clean(at)
    yield at, db
    db.dispose()


def _submit(at, label):
    next(b for b in at.button if b.label == label).click().run()
    assert_clean(at)


def test_empty_alert_list_says_what_to_do(alerts_page):
    at, _ = alerts_page
    assert "No alerts yet" in texts(at)


def test_a_malformed_query_is_refused_with_its_reason(alerts_page):
    at, db = alerts_page
    at.text_input(key="new_name").input("Broken")
    at.text_input(key="new_query").input('"red notice')
    _submit(at, "Save alert")
    assert at.error
    message = at.error[0].value.lower()
    assert "quote" in message or "query" in message, message
    from monitor.alerts import list_alerts

    assert list_alerts(db) == []


def test_test_save_inbox_and_delete(alerts_page):
    at, db = alerts_page
    at.text_input(key="new_name").input("Corruption watch")
    at.text_input(key="new_query").input("corruption")
    _submit(at, "Test against the archive")
    assert "matches" in texts(at) and at.dataframe  # the preview table
    _submit(at, "Save alert")
    assert "Saved alert" in texts(at)
    from monitor.alerts import list_alerts

    (alert,) = list_alerts(db)
    assert alert.owner  # the local analyst owns it
    at.run()
    at.selectbox(key="edit_alert").select(alert.id).run()
    at.button(key="alert_check").click().run()
    assert_clean(at)
    assert "new to the inbox" in texts(at)
    at.run()
    inbox = at.dataframe[0].value
    assert len(inbox) > 0 and all("corruption" in t.lower() for t in inbox["title"])
    at.button(key="inbox_review_all").click().run()
    assert_clean(at)
    assert "No new matches" in texts(at)
    at.button(key="alert_delete").click().run()
    assert_clean(at)
    assert list_alerts(db) == []


def test_a_new_alert_is_listed_and_searches_the_archive_at_once(alerts_page):
    at, db = alerts_page
    at.text_input(key="new_name").input("Corruption at once")
    at.text_input(key="new_query").input("corruption")
    _submit(at, "Save alert")
    shown = texts(at)
    assert "No alerts yet" not in shown
    assert [t.label for t in at.tabs][1] == "Alerts (1)"
    from monitor.alerts import list_alerts, list_inbox

    (alert,) = list_alerts(db)
    inbox = list_inbox(db, alert=alert.id, state="new", limit=200)
    assert inbox  # the archive was searched on saving, without "Check the archive now"
    assert f"it matches {len(inbox):,} stored articles, {len(inbox):,} now in its inbox" in shown, shown
    assert [t.label for t in at.tabs][0] == f"Inbox ({len(inbox)} new)"
