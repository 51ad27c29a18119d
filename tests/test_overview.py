"""The archive at a glance (monitor.overview): the dashboard's status line, empty states and
filter choices read these, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from monitor import overview
from monitor.classify import add_topic, load_taxonomy, taxonomy as taxonomy_module
from monitor.feeds import add_feed
from monitor.store import utcnow
from monitor.store.schema import articles, feeds
from tests.factories import add_article


def test_an_empty_store_has_nothing_to_show(db):
    status = overview.store_status(db)
    assert (status.feeds, status.feeds_failing, status.articles, status.articles_24h, status.untagged) == (0, 0, 0, 0, 0)
    assert status.newest is status.oldest is status.newest_dated is status.last_fetch_at is None
    assert overview.source_choices(db) == []


def test_status_counts_feeds_articles_and_the_archive_span(db):
    now = utcnow().replace(microsecond=0)
    ok = add_feed(db, "https://example.org/ok.xml", allow_private=True)
    bad = add_feed(db, "https://example.org/bad.xml", allow_private=True)
    with db.write() as conn:
        conn.execute(update(feeds).where(feeds.c.id == ok).values(status="ok", last_fetch_at=now - timedelta(minutes=5)))
        conn.execute(update(feeds).where(feeds.c.id == bad).values(status="failing", last_fetch_at=now - timedelta(minutes=2)))
    old = add_article(db, "Europol report", now - timedelta(days=400), source="Reuters")
    add_article(db, "Interpol notice", now - timedelta(hours=3), source="TASS")
    estimated = add_article(db, "Undated item", now - timedelta(hours=1), source="AFP")
    pending = add_article(db, "Fresh item", now - timedelta(days=2), source="AFP")
    with db.write() as conn:
        conn.execute(update(articles).where(articles.c.id == estimated).values(date_estimated=True))
        conn.execute(update(articles).where(articles.c.id.in_([old, pending])).values(tag_status="pending"))

    status = overview.store_status(db)
    assert (status.feeds, status.feeds_failing) == (2, 1)
    assert status.last_fetch_at is not None and abs(status.last_fetch_at - (now - timedelta(minutes=2))) < timedelta(seconds=1)
    assert status.articles == 4
    assert status.articles_24h == 1  # the estimated date (a fetch time) is not "in 24 h"
    assert status.untagged == 2
    assert status.oldest is not None and status.oldest.date() == (now - timedelta(days=400)).date()
    assert status.newest is not None and abs(status.newest - (now - timedelta(hours=1))) < timedelta(seconds=1)
    assert status.newest_dated is not None and abs(status.newest_dated - (now - timedelta(hours=3))) < timedelta(seconds=1)


def test_source_choices_are_distinct_sorted_and_capped(db):
    for source in ("TASS", "AFP", "Reuters", "AFP"):
        add_article(db, f"Item from {source}", "2025-03-04", source=source)
    assert overview.source_choices(db) == ["AFP", "Reuters", "TASS"]
    assert overview.source_choices(db, limit=2) == ["AFP", "Reuters"]


def test_topic_and_target_choices_come_from_the_taxonomy_with_analysts_additions(db):
    add_topic(db, "cybercrime_extra", "Analyst-added", ["ransomware gang"])
    taxonomy = load_taxonomy(db)
    assert overview.topic_choices(db) == sorted(taxonomy.topic_names)
    assert "cybercrime_extra" in overview.topic_choices(db)
    assert overview.target_choices(db) == sorted(taxonomy.target_names)
    assert overview.target_choices(db)  # the shipped taxonomy names stance targets


def test_without_a_readable_taxonomy_the_choices_are_what_was_tagged(db, monkeypatch, tmp_path):
    add_article(db, "Interpol notice", "2025-03-04", topics=["interpol", "extradition"], stances={"Interpol": "AGAINST"})
    add_article(db, "Europol raid", "2025-03-05", topics=["europol"], stances={"Europol": "FAVOR"})
    monkeypatch.setattr(taxonomy_module, "TAXONOMY_FILE", tmp_path / "missing.toml")
    taxonomy_module._file_taxonomy.cache_clear()
    try:
        assert overview.topic_choices(db) == ["europol", "extradition", "interpol"]
        assert overview.target_choices(db) == ["Europol", "Interpol"]
    finally:
        monkeypatch.undo()
        taxonomy_module._file_taxonomy.cache_clear()
