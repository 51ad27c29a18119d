"""Writing one feed's poll: health, schedule, stored URL and fetch event, in one transaction.

Articles are stored (one transaction per document, dedup in ingest) before the feed row is
updated, so a crash between the two re-fetches the feed later and re-ingesting adds nothing.
Every write is `WHERE lease_owner = me`: a feed whose lease another poller took meanwhile keeps
that poller's health.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from monitor.config import Settings
from monitor.errors import InputError
from monitor.netguard import validate_feed_url
from monitor.poller.decisions import (
    Effects,
    FeedResult,
    fetch_event,
    health_change,
    redirect_step,
)
from monitor.store import Database, utcnow
from monitor.store.schema import feeds, fetch_events

EVENTS_KEPT = 30  # fetch events per feed (Media Cloud keeps the last 30)


def record_many(db: Database, cfg: Settings, owner: str, items: list[FeedResult], *, allow_private: bool) -> list[Effects]:
    """The health of several feeds in one transaction: re-polls of unchanged feeds are mostly
    this write, and one commit per batch, with the fetch events inserted and trimmed in one
    statement each, is what keeps them fast on SQLite."""
    events: list[dict[str, Any]] = []
    with db.write() as conn:
        effects = [_record(conn, cfg, owner, item, allow_private, events) for item in items]
        _add_events(conn, events)
    return effects


def record(db: Database, cfg: Settings, owner: str, item: FeedResult, *, allow_private: bool) -> Effects:
    """One feed's health, schedule and fetch event in one transaction; the lease is released."""
    return record_many(db, cfg, owner, [item], allow_private=allow_private)[0]


def _record(conn: Connection, cfg: Settings, owner: str, item: FeedResult, allow_private: bool, events: list[dict[str, Any]]) -> Effects:
    feed, outcome = item.feed, item.outcome
    change = health_change(cfg, feed, item.result, outcome, item.fetched_at, utcnow())
    values = dict(change.values)
    if outcome.outcome.failed:
        values["error_count"] = feeds.c.error_count + 1
    step = redirect_step(feed, item.result, outcome)
    values.update(redirect_url=step.redirect_url, redirect_count=step.redirect_count)
    moved_to = _checked_move(conn, feed.id, step.move_to, allow_private)
    if moved_to:
        values.update(url=moved_to, redirect_url=None, redirect_count=0)
    done = conn.execute(update(feeds).where(feeds.c.id == feed.id, feeds.c.lease_owner == owner).values(**values))
    if done.rowcount == 0:
        # Our lease expired and another poller took the feed, or the feed was removed:
        # its articles are stored already; the other poller writes the health.
        return Effects(disabled=change.disabled, moved=bool(moved_to))
    events.append(fetch_event(feed, item.result, outcome, item.fetched_at, moved_to))
    return Effects(disabled=change.disabled, moved=bool(moved_to))


def _checked_move(conn: Connection, feed_id: int, target: str | None, allow_private: bool) -> str | None:
    """The redirect target the stored URL may become: a valid feed URL no other feed has."""
    if not target:
        return None
    try:
        checked = validate_feed_url(target, allow_private=allow_private, resolve=False)
    except InputError:
        return None
    taken = conn.execute(select(feeds.c.id).where(feeds.c.url == checked, feeds.c.id != feed_id)).scalar()
    return None if taken else checked


def _add_events(conn: Connection, events: list[dict[str, Any]]) -> None:
    """Insert fetch events, then keep only the last EVENTS_KEPT of each feed that got one."""
    if not events:
        return
    conn.execute(insert(fetch_events), events)
    ranked = (
        select(
            fetch_events.c.id,
            func.row_number().over(partition_by=fetch_events.c.feed_id, order_by=fetch_events.c.id.desc()).label("newer"),
        )
        .where(fetch_events.c.feed_id.in_(sorted({e["feed_id"] for e in events})))
        .subquery()
    )
    conn.execute(delete(fetch_events).where(fetch_events.c.id.in_(select(ranked.c.id).where(ranked.c.newer > EVENTS_KEPT))))
