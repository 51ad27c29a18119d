"""The one place a match becomes an inbox row and its message a queued delivery.

Evaluators (keyword matching in `match`, spike days in `spikes`) only say what matched, as
`Match` records. `record` writes them to `alert_matches` and, in the same transaction, queues
the message of an immediate alert; `queue_digests` queues an hourly or daily alert's message when
its period closes. The outbox then only sends what is queued here.

Exactly once: an alert and an article (or a spike day) meet in `alert_matches` at most once
(unique (alert_id, match_key), `INSERT … ON CONFLICT DO NOTHING … RETURNING`), and (alert_id,
target, batch) is unique in `deliveries`, so re-ingesting, re-checking or two processes matching
the same article add nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from monitor.alerts.found import Match
from monitor.alerts.messages import PERIODS, compose, message_items
from monitor.alerts.rules import Alert, load_enabled
from monitor.alerts.targets import display_form
from monitor.store import utcnow
from monitor.store.schema import alert_matches, alerts, deliveries


@dataclass(frozen=True)
class Recorded:
    """A match new to the inbox, with the id it got there."""

    id: int
    match: Match


def dialect_insert(db, table):
    """INSERT with ON CONFLICT DO NOTHING, in the store's own dialect."""
    from sqlalchemy.dialects import postgresql, sqlite

    return sqlite.insert(table) if db.is_sqlite else postgresql.insert(table)


def _insert_matches(conn, db, alert_id: int, matches: list[Match], now: datetime) -> list[Recorded]:
    """Inbox rows for these matches; returns the ones that are new (the database skips known keys)."""
    if not matches:
        return []
    # one cached statement run with many parameter sets ("insertmanyvalues" batches them with
    # RETURNING); a multi-row VALUES clause would be compiled afresh for every batch size
    stmt = dialect_insert(db, alert_matches).on_conflict_do_nothing().returning(alert_matches.c.id, alert_matches.c.match_key)
    params = [
        {
            "alert_id": alert_id,
            "match_key": m.key,
            "article_id": m.article_id,
            "day": m.day,
            "detail": m.detail,
            "held_reason": m.held_reason,
            "matched_at": now,
            "state": "new",
            "batch": None,
        }
        for m in matches
    ]
    by_key = {m.key: m for m in matches}
    return [Recorded(r.id, by_key[r.match_key]) for r in conn.execute(stmt, params)]


def record(db, alert: Alert, matches: list[Match], *, archive: bool = False, now: datetime | None = None) -> list[Recorded]:
    """Record these matches of one alert; an immediate alert's new, not held-back ones are queued
    as one message in the same transaction (archive finds as one grouped "check" message).
    Returns the matches that were new."""
    return record_many(db, [(alert, matches)], archive=archive, now=now).get(alert.id, [])


def record_many(
    db, found: list[tuple[Alert, list[Match]]], *, archive: bool = False, now: datetime | None = None
) -> dict[int, list[Recorded]]:
    """`record` for several alerts in one transaction: {alert id: new matches}."""
    now = now or utcnow()
    out: dict[int, list[Recorded]] = {}
    with db.write() as conn:
        for alert, matches in found:
            new = _insert_matches(conn, db, alert.id, matches, now)
            if not new:
                continue
            out[alert.id] = new
            fired = [r.id for r in new if r.match.held_reason is None]
            if alert.cadence == "immediate" and fired:
                kind = "check" if archive else "now"
                _queue(conn, db, alert, sorted(fired), f"{kind}:{min(fired)}", kind, now)
    return out


def _queue(conn, db, alert: Alert, match_ids: list[int], batch: str, kind: str, now: datetime) -> bool:
    """One message per target for these matches; marks them with the batch. False (nothing done)
    when the alert has no targets or this batch was already queued."""
    if not alert.notify or not match_ids:
        return False
    exists_already = conn.execute(
        select(deliveries.c.id).where(deliveries.c.alert_id == alert.id, deliveries.c.batch == batch).limit(1)
    ).first()
    if exists_already:
        return False
    title, body = compose(alert, message_items(conn, match_ids), kind=kind, total=len(match_ids))
    body += f"\n\nref: alert-{alert.id}/{batch}"
    for url in alert.notify:
        conn.execute(
            dialect_insert(db, deliveries)
            .values(
                alert_id=alert.id,
                target=url,
                target_display=display_form(url),
                batch=batch,
                match_count=len(match_ids),
                title=title,
                body=body,
                status="queued",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            .on_conflict_do_nothing()
        )
    for start in range(0, len(match_ids), 500):
        conn.execute(update(alert_matches).where(alert_matches.c.id.in_(match_ids[start : start + 500])).values(batch=batch))
    return True


def period_end(now: datetime, cadence: str) -> datetime:
    """The end of the last complete period (UTC hour or day)."""
    if cadence == "hourly":
        return now.replace(minute=0, second=0, microsecond=0)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def queue_digests(db, *, now: datetime | None = None) -> int:
    """Queue one message per digest alert and target for the matches of every closed period that
    are not queued yet; returns the number of digests queued."""
    now = now or utcnow()
    queued = 0
    with db.read() as conn:
        digest_alerts = [a for a in load_enabled(conn, "keyword", "spike") if a.cadence in PERIODS and a.notify]
    for alert in digest_alerts:
        end = period_end(now, alert.cadence)
        with db.write() as conn:
            if not db.is_sqlite:  # one digest-maker per alert at a time (SQLite: BEGIN IMMEDIATE already)
                conn.execute(select(alerts.c.id).where(alerts.c.id == alert.id).with_for_update())
            pending = (
                conn.execute(
                    select(alert_matches.c.id).where(
                        alert_matches.c.alert_id == alert.id,
                        alert_matches.c.batch.is_(None),
                        alert_matches.c.held_reason.is_(None),
                        alert_matches.c.matched_at < end,
                    )
                )
                .scalars()
                .all()
            )
            if pending and _queue(conn, db, alert, sorted(pending), f"{alert.cadence}:{end:%Y-%m-%dT%H}", alert.cadence, now):
                queued += 1
    return queued
