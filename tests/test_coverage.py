"""Coverage counts: what the Coverage chart and `export summary` show, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import insert

from monitor.coverage import coverage_counts, feed_failure_days, feed_failures, top_sources
from monitor.errors import InputError
from monitor.filters import Filters
from monitor.store import utcnow
from monitor.store.schema import feeds, fetch_events
from tests.factories import add_article


@pytest.fixture
def corpus(db):
    """A small week of news. 2025-03-05 has no article at all; 2025-03-09 is a Sunday."""
    add_article(db, "Interpol issues red notice", "2025-03-03", source="TASS", topics=["interpol"], stances={"Interpol": "FAVOR"})
    add_article(db, "Europol and Interpol arrest hackers", "2025-03-03T20:00", source="BBC", topics=["interpol", "cybercrime"], stances={"Interpol": "FAVOR"})
    add_article(db, "Weather is fine", "2025-03-03", source="BBC")  # untagged: counts in the total only
    add_article(db, "Ransomware gang hits hospital", "2025-03-04", source="TASS", topics=["cybercrime"])
    add_article(db, "Interpol criticised over notices", "2025-03-06", source="TASS", topics=["interpol"], stances={"Interpol": "AGAINST"})
    add_article(db, "Football results", "2025-03-06", source="BBC")
    add_article(db, "Cartel money laundering case", "2025-03-09T23:59:59", source="BBC", topics=["money_laundering", "organized_crime"])
    add_article(db, "Interpol general assembly", "2025-03-10T00:00", source="TASS", topics=["interpol"], stances={"Interpol": "NONE"})
    return db


def _table(rows, *fields):
    return {tuple(getattr(r, f) for f in ("period", *fields)): (r.count, r.total) for r in rows}


def test_days_without_articles_are_zero_rows_with_the_denominator(corpus):
    rows = coverage_counts(corpus, Filters(topics=("interpol",)), by="day", group=("topic",))
    table = _table(rows, "topic")
    assert [r.period for r in rows] == [date(2025, 3, d) for d in range(3, 11)]
    assert table[(date(2025, 3, 3), "interpol")] == (2, 3)  # untagged article in the total
    assert table[(date(2025, 3, 5), "interpol")] == (0, 0)
    assert table[(date(2025, 3, 4), "interpol")] == (0, 1)
    assert table[(date(2025, 3, 6), "interpol")] == (1, 2)
    assert [r.share for r in rows][:2] == [pytest.approx(2 / 3), 0.0]


def test_every_topic_has_a_row_for_every_period(corpus):
    rows = coverage_counts(corpus, Filters(date_from=date(2025, 3, 1), date_to=date(2025, 3, 4)), by="day", group="topic")
    topics = {"interpol", "cybercrime"}  # the ones seen in the range
    assert {r.topic for r in rows} == topics
    assert len(rows) == 4 * len(topics)
    assert sum(r.count for r in rows if r.period == date(2025, 3, 1)) == 0


def test_weeks_start_on_monday_and_months_on_the_first(corpus):
    weeks = _table(coverage_counts(corpus, Filters(), by="week", group=()))
    # Sunday 2025-03-09 belongs to the week of Monday 2025-03-03; Monday the 10th starts a new one
    assert weeks == {(date(2025, 3, 3),): (7, 7), (date(2025, 3, 10),): (1, 1)}
    months = _table(coverage_counts(corpus, Filters(), by="month", group=()))
    assert months == {(date(2025, 3, 1),): (8, 8)}


def test_a_date_range_cuts_the_first_and_last_periods(corpus):
    rows = coverage_counts(corpus, Filters(date_from=date(2025, 3, 4), date_to=date(2025, 3, 9)), by="week", group=())
    assert _table(rows) == {(date(2025, 3, 3),): (4, 4)}  # the 3rd (3 articles) and the 10th are outside


def test_query_narrows_the_count_not_the_denominator(corpus):
    rows = coverage_counts(corpus, Filters(query="interpol"), by="day", group=())
    table = _table(rows)
    assert table[(date(2025, 3, 3),)] == (2, 3)
    assert table[(date(2025, 3, 6),)] == (1, 2)
    assert table[(date(2025, 3, 10),)] == (1, 1)


def test_sources_filter_narrows_the_denominator(corpus):
    rows = coverage_counts(corpus, Filters(sources=("BBC",)), by="day", group=("topic",))
    table = _table(rows, "topic")
    assert table[(date(2025, 3, 3), "interpol")] == (1, 2)
    assert table[(date(2025, 3, 4), "cybercrime")] == (0, 0)
    assert {r.topic for r in rows} == {"interpol", "cybercrime", "money_laundering", "organized_crime"}


def test_stance_rows_are_per_target(corpus):
    rows = coverage_counts(corpus, Filters(target="Interpol"), by="week", group=("stance",))
    table = _table(rows, "target", "stance")
    assert table[(date(2025, 3, 3), "Interpol", "FAVOR")] == (2, 7)
    assert table[(date(2025, 3, 3), "Interpol", "AGAINST")] == (1, 7)
    assert table[(date(2025, 3, 3), "Interpol", "NONE")] == (0, 7)
    assert table[(date(2025, 3, 10), "Interpol", "NONE")] == (1, 1)


def test_combinations_of_groups(corpus):
    rows = coverage_counts(corpus, Filters(), by="month", group=("source", "topic"))
    table = {(r.topic, r.source): r.count for r in rows}
    assert table == {
        ("interpol", "TASS"): 3,
        ("interpol", "BBC"): 1,
        ("cybercrime", "BBC"): 1,
        ("cybercrime", "TASS"): 1,
        ("money_laundering", "BBC"): 1,
        ("organized_crime", "BBC"): 1,
    }
    assert rows[0].as_dict(("topic", "source")).keys() == {"period", "topic", "source", "count", "total", "share"}


CASES = [
    ("day", ("topic",), Filters()),
    ("week", ("topic",), Filters(topics=("interpol", "terrorism"))),
    ("month", ("topic",), Filters(date_from=date(2025, 3, 4))),
    ("day", ("stance",), Filters()),
    ("week", ("stance",), Filters(target="Interpol", stance="FAVOR")),
    ("day", (), Filters(date_to=date(2025, 3, 6))),
    ("week", (), Filters(sources=("BBC",))),
]


@pytest.mark.parametrize("by,group,filters", CASES)
def test_index_counts_equal_group_by_counts(corpus, by, group, filters):
    """The fast path (index range counts) and the general GROUP BY agree to the row."""
    fast = coverage_counts(corpus, filters, by=by, group=group, strategy="index")
    general = coverage_counts(corpus, filters, by=by, group=group, strategy="groupby")
    assert fast == general and fast


def test_an_empty_store_has_no_rows(db):
    assert coverage_counts(db, Filters(), group=("topic",)) == []


@pytest.mark.parametrize("by,group,message", [("hour", ("topic",), "cannot count by"), ("day", ("colour",), "cannot group by")])
def test_bad_options_are_one_line_errors(db, by, group, message):
    with pytest.raises(InputError, match=message):
        coverage_counts(db, Filters(), by=by, group=group)


def test_top_sources_say_when_the_list_was_cut(corpus):
    top = top_sources(corpus, Filters(), limit=1)
    assert top.items == [("BBC", 4)] and top.cut
    top = top_sources(corpus, Filters(date_from=date(2025, 3, 4), query="interpol"), limit=5)
    assert top.items == [("TASS", 2)] and not top.cut


def test_days_with_many_failing_feeds_are_marked(db):
    now = utcnow()
    with db.write() as conn:
        ids = [
            conn.execute(insert(feeds).values(url=f"https://example.org/{i}.xml", created_at=now, tags=[])).inserted_primary_key[0]
            for i in range(5)
        ]
        events = []
        for i, feed_id in enumerate(ids):
            events.append(dict(feed_id=feed_id, at=datetime(2025, 3, 3, 8), outcome="ok"))
            # on the 4th three of five feeds fail; one recovers later that day and lost nothing
            events.append(dict(feed_id=feed_id, at=datetime(2025, 3, 4, 8), outcome="TEMP" if i < 3 else "ok"))
        events.append(dict(feed_id=ids[0], at=datetime(2025, 3, 4, 9), outcome="ok"))
        events.append(dict(feed_id=ids[0], at=datetime(2025, 3, 5, 9), outcome="HARD"))  # one flaky feed
        conn.execute(insert(fetch_events), events)
    everything = feed_failures(db, Filters())
    assert [(f.day, f.failing, f.polled) for f in everything] == [
        (date(2025, 3, 3), 0, 5),
        (date(2025, 3, 4), 2, 5),
        (date(2025, 3, 5), 1, 1),
    ]
    assert [f.day for f in feed_failure_days(db, Filters())] == [date(2025, 3, 4)]
