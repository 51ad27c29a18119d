"""Migration 0005: alerts' per-dimension filter columns move into one JSON value, nothing lost."""

from __future__ import annotations

from datetime import datetime

from alembic import command
from sqlalchemy import insert, inspect, text

from monitor import alerts
from monitor.store import Database
from monitor.store.migrate import alembic_config, upgrade
from monitor.store.schema import articles, tags

T = datetime(2024, 3, 1, 12, 0)

# as 0004 stored them: (name, query, topic, stance, target, source, notify)
OLD_ALERTS = [
    ("Interpol doubts", "notice", "interpol", "AGAINST", "Interpol", "TASS", '["json://hooks.example.org/t0ken"]'),
    ("Any Europol", "europol", None, None, "Europol", None, "[]"),
    ("Just a topic", "", "organized_crime", None, None, None, "[]"),
]


def _make_0004_store(url: str) -> Database:
    db = Database(url)
    upgrade(db, "0004")
    with db.engine.begin() as conn:
        for name, query, topic, stance, target, source, notify in OLD_ALERTS:
            conn.execute(
                text(
                    "INSERT INTO alerts (name, kind, query, topic, stance, target, source, notify, cadence, enabled, created_at, updated_at, allow_private_networks) "
                    "VALUES (:name, 'keyword', :query, :topic, :stance, :target, :source, :notify, 'immediate', :yes, :t, :t, :no)"
                ),
                dict(name=name, query=query, topic=topic, stance=stance, target=target, source=source, notify=notify, yes=True, no=False, t=T),
            )
        conn.execute(
            text("INSERT INTO alert_matches (alert_id, match_key, matched_at, state) VALUES (1, 'd2024-02-29', :t, 'reviewed')"), {"t": T}
        )
    return db


def test_alerts_made_at_0004_keep_every_filter_after_the_upgrade(db_url):
    db = _make_0004_store(db_url)
    db.init()  # to head
    got = {a.name: a for a in alerts.list_alerts(db)}
    for name, query, topic, stance, target, source, _ in OLD_ALERTS:
        a = got[name]
        assert (a.query, a.topic, a.stance, a.target, a.source) == (query, topic, stance, target, source), name
    assert got["Interpol doubts"].targets == ("json://hooks.example.org/****",)  # the secret stays, masked
    assert got["Interpol doubts"].matches == 1  # the inbox is untouched
    assert "topic" not in {c["name"] for c in inspect(db.engine).get_columns("alerts")}

    # and the moved filters still select: the stance/target/source alert matches only its article
    with db.write() as conn:
        ids = []
        for title, source, stance in (("Red notice doubts", "TASS", "AGAINST"), ("Red notice praised", "TASS", "FAVOR"), ("Red notice doubts", "Reuters", "AGAINST")):
            aid = conn.execute(
                insert(articles).values(title=title, summary="", content="", lang="en", source=source, published_at=T, fetched_at=T, title_hash=title + source).returning(articles.c.id)
            ).scalar_one()
            conn.execute(insert(tags).values(article_id=aid, kind="topic", target="", label="interpol", score=0.9, model_version="t", published_at=T))
            conn.execute(insert(tags).values(article_id=aid, kind="stance", target="Interpol", label=stance, score=0.9, model_version="s", published_at=T))
            ids.append(aid)
    from monitor.search_index import index_stored

    with db.write() as conn:
        index_stored(conn, db, ids)
    assert [r.id for r in alerts.preview_alert(db, "Interpol doubts").rows] == [ids[0]]
    assert alerts.match_new_articles(db, ids, now=T) == {1: [ids[0]]}
    db.dispose()


def test_downgrade_to_0004_puts_the_columns_back(db_url):
    db = _make_0004_store(db_url)
    db.init()
    with db.engine.begin() as conn:
        command.downgrade(alembic_config(db, conn), "0004")
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT name, query, topic, stance, target, source FROM alerts ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [o[:6] for o in OLD_ALERTS]
    db.dispose()
