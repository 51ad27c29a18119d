"""The Coverage page: charts from SQL aggregates, filters in the URL, downloads of what is shown."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from monitor.coverage import coverage_counts
from monitor.export import read_export
from monitor.filters import Filters
from monitor.store import Database
from tests.dashboard_app import Downloads, assert_clean, make_app, texts
from tests.dashboard_data import fill


@pytest.fixture
def coverage(monkeypatch, db_url):
    db = Database(db_url)
    db.init()
    fill(db, n=90)
    downloads = Downloads(monkeypatch)
    at = make_app(monkeypatch, db_url).run()
    assert_clean(at)
    yield at, db, downloads
    db.dispose()


def _charts(at) -> int:
    return len(at.get("vega_lite_chart"))


def test_charts_render_and_the_download_equals_the_summary(coverage):
    at, db, downloads = coverage
    assert not at.error, [e.value for e in at.error]
    shown = texts(at)
    for heading in ("Topics over time", "Stance over time", "Top sources", "Top terms"):
        assert heading in shown
    assert _charts(at) >= 4
    assert "Showing every stored article" in shown or "Showing the 90 days up to the newest dated article" in shown
    # The topic chart's CSV holds exactly coverage_counts for the same filters (as `export summary`).
    record, header, rows = read_export(io.StringIO(downloads.of(at, "dl_topics").decode("utf-8"), newline=""))
    assert header == ["period", "topic", "count", "total", "share"]
    window = record["date_range"]
    expected = coverage_counts(db, Filters(date_from=date.fromisoformat(window["from"]), date_to=date.fromisoformat(window["to"])), by="day", group=("topic",))
    got = [(r[0], r[1], int(r[2]), int(r[3])) for r in rows]
    assert got == [(r.period.isoformat(), r.topic, r.count, r.total) for r in expected]
    assert sum(c for *_, c, _ in got) > 0


def test_period_filters_and_a_bad_query(coverage):
    at, _, downloads = coverage
    at.segmented_control(key="by").set_value("week").run()
    assert_clean(at)
    header = next(csv.reader(io.StringIO(downloads.of(at, "dl_topics").decode("utf-8").split("\n", 11)[-1])))
    assert header[0] == "period"
    at.sidebar.multiselect(key="topic").select("terrorism").run()
    at.sidebar.date_input(key="from").set_value(date(2026, 10, 1)).run()
    assert_clean(at)
    assert "Showing" not in texts(at)  # an explicit range replaces the default window
    at.sidebar.text_input(key="q").input("interpol AND (").run()
    assert_clean(at)
    assert at.error and "Traceback" not in at.error[0].value
    assert _charts(at) == 0


def test_saved_view_round_trip(coverage):
    at, db, _ = coverage
    at.sidebar.multiselect(key="topic").select("corruption").run()
    at.sidebar.text_input(key="q").input("interpol").run()
    at.sidebar.text_input(key="_view_name").input("Corruption and Interpol")
    next(b for b in at.sidebar.button if b.label == "Save view").click().run()
    assert_clean(at)
    from monitor.saved_views import list_views

    (view,) = list_views(db)
    assert view.params == {"q": ["interpol"], "topic": ["corruption"]}
    # clear the filters, then reopen the view
    at.sidebar.multiselect(key="topic").set_value([]).run()
    at.sidebar.text_input(key="q").input("").run()
    at.sidebar.selectbox(key="_view_pick").select(view.id).run()
    at.sidebar.button(key="_view_open").click().run()
    assert_clean(at)
    assert at.sidebar.multiselect(key="topic").value == ["corruption"]
    assert at.sidebar.text_input(key="q").value == "interpol"
