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
    monkeypatch.setenv("MONITOR_MIN_SHARE_DENOMINATOR", "2")  # three articles a day: shares are drawn
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
    assert view.params == {"q": ["interpol"], "topic": ["corruption"], "by": ["day"], "measure": ["share"]}
    # clear the filters, then reopen the view
    at.sidebar.multiselect(key="topic").set_value([]).run()
    at.sidebar.text_input(key="q").input("").run()
    at.sidebar.selectbox(key="_view_pick").select(view.id).run()
    at.sidebar.button(key="_view_open").click().run()
    assert_clean(at)
    assert at.sidebar.multiselect(key="topic").value == ["corruption"]
    assert at.sidebar.text_input(key="q").value == "interpol"


def test_a_saved_view_keeps_per_and_show_and_is_listed_at_once(coverage):
    at, db, _ = coverage
    at.segmented_control(key="by").set_value("week").run()
    at.segmented_control(key="measure").set_value("count").run()
    at.sidebar.text_input(key="_view_name").input("Weekly counts")
    next(b for b in at.sidebar.button if b.label == "Save view").click().run()
    assert_clean(at)
    # right after saving, the panel lists the view (no "No saved views yet"), chosen already
    assert "No saved views yet" not in texts(at)
    from monitor.saved_views import list_views

    (view,) = list_views(db)
    assert at.sidebar.selectbox(key="_view_pick").value == view.id
    assert view.params["by"] == ["week"] and view.params["measure"] == ["count"]
    at.segmented_control(key="by").set_value("month").run()
    at.segmented_control(key="measure").set_value("share").run()
    at.sidebar.button(key="_view_open").click().run()
    assert_clean(at)
    assert not at.warning, [w.value for w in at.warning]
    assert at.segmented_control(key="by").value == "week"
    assert at.segmented_control(key="measure").value == "count"


def _chart_data(chart) -> list:
    """The data frames a Vega-Lite chart element carries (what the browser draws)."""
    from streamlit import dataframe_util

    return [dataframe_util.convert_arrow_bytes_to_pandas_df(ds.data.data) for ds in chart.proto.datasets]


def _marks(spec) -> list:
    if isinstance(spec, dict):
        found = [spec["mark"]] if "mark" in spec else []
        return found + [m for v in spec.values() for m in _marks(v)]
    if isinstance(spec, list):
        return [m for v in spec for m in _marks(v)]
    return []


def _day(value) -> date:
    return value.date() if hasattr(value, "date") and callable(value.date) else value


def test_a_thin_day_is_not_drawn_as_a_share_and_its_count_is_shown(monkeypatch, db_url):
    import json
    from datetime import datetime

    from sqlalchemy import delete, select

    from monitor.store.schema import articles, tags

    monkeypatch.setenv("MONITOR_MIN_SHARE_DENOMINATOR", "3")
    db = Database(db_url)
    db.init()
    fill(db, n=90)  # three articles a day
    with db.write() as conn:  # leave one article on 2026-10-15: "100 %" of one article
        day = [r.id for r in conn.execute(select(articles.c.id).where(articles.c.published_at >= datetime(2026, 10, 15), articles.c.published_at < datetime(2026, 10, 16)))]
        conn.execute(delete(tags).where(tags.c.article_id.in_(day[1:])))
        conn.execute(delete(articles).where(articles.c.id.in_(day[1:])))
    at = make_app(monkeypatch, db_url).run()
    assert_clean(at)
    topic_chart, volume_chart, stance_chart = at.get("vega_lite_chart")[:3]
    spec = json.loads(topic_chart.proto.spec)
    lines = [m for m in _marks(spec) if isinstance(m, dict) and m.get("type") == "line"]
    assert lines and all(m.get("point") and "interpolate" not in m for m in lines)  # straight, with points
    frames = _chart_data(topic_chart)
    line_data = next(f for f in frames if "share" in f.columns and "topic" in f.columns)
    volume = next(f for f in _chart_data(volume_chart) if "drawn" in f.columns)
    thin = date(2026, 10, 15)
    assert thin not in {_day(p) for p in line_data["period"]}  # no "100 % of all articles"
    assert (line_data["total"] >= 3).all()
    assert int(volume.loc[[_day(p) == thin for p in volume["period"]], "total"].iloc[0]) == 1  # its count is shown
    stance_data = next(f for f in _chart_data(stance_chart) if "stance" in f.columns)
    assert thin not in {_day(p) for p in stance_data["period"]}  # no "100 % AGAINST Interpol"
    shown = texts(at)
    assert "shares are left out for 1 day with fewer than 3 articles" in shown
    assert "No stance share is drawn for 1 day" in shown
    # counts are still drawn for that day
    at.segmented_control(key="measure").set_value("count").run()
    counts = next(f for f in _chart_data(at.get("vega_lite_chart")[0]) if "topic" in f.columns)
    assert thin in {_day(p) for p in counts["period"]}
    db.dispose()
