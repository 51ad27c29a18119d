"""The inbox: every match an alert recorded, new until an analyst marks it reviewed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from monitor.errors import InputError
from monitor.store.schema import alert_matches, alerts, articles, deliveries

STATES = ("new", "reviewed")


@dataclass(frozen=True)
class InboxRow:
    id: int
    alert_id: int
    alert_name: str
    matched_at: datetime
    state: str  # new|reviewed
    article_id: int | None  # None for a spike
    title: str | None
    source: str | None
    published_at: datetime | None
    link: str | None
    day: datetime | None  # spikes: the day
    detail: str | None  # spikes: the figures
    held_reason: str | None  # spikes held back (not delivered), and why
    delivery: str  # pending|queued|sent|failing|held|none (no targets)
    date_estimated: bool = False  # the article gave no readable date (see monitor.dates)


def list_inbox(
    db, *, alert: int | None = None, state: str | None = None, limit: int = 200, offset: int = 0
) -> list[InboxRow]:
    """Matches newest first, with the article and where its message stands."""
    if state is not None and state not in STATES:
        raise InputError(f"state must be one of {', '.join(STATES)}")
    query = (
        select(
            alert_matches.c.id,
            alert_matches.c.alert_id,
            alerts.c.name,
            alert_matches.c.matched_at,
            alert_matches.c.state,
            alert_matches.c.article_id,
            articles.c.title,
            articles.c.source,
            articles.c.published_at,
            articles.c.date_estimated,
            articles.c.link,
            alert_matches.c.day,
            alert_matches.c.detail,
            alert_matches.c.held_reason,
            alert_matches.c.batch,
            alerts.c.notify,
        )
        .select_from(
            alert_matches.join(alerts, alerts.c.id == alert_matches.c.alert_id).outerjoin(
                articles, articles.c.id == alert_matches.c.article_id
            )
        )
        .order_by(alert_matches.c.matched_at.desc(), alert_matches.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if alert is not None:
        query = query.where(alert_matches.c.alert_id == alert)
    if state is not None:
        query = query.where(alert_matches.c.state == state)
    with db.read() as conn:
        rows = conn.execute(query).all()
        batches = {(r.alert_id, r.batch) for r in rows if r.batch}
        status: dict[tuple[int, str], str] = {}
        if batches:
            for d in conn.execute(
                select(deliveries.c.alert_id, deliveries.c.batch, deliveries.c.status, deliveries.c.attempts).where(
                    deliveries.c.batch.in_({b for _, b in batches}), deliveries.c.alert_id.in_({a for a, _ in batches})
                )
            ):
                key = (d.alert_id, d.batch)
                here = "sent" if d.status == "sent" else "failing" if d.attempts > 0 and d.status != "cancelled" else d.status
                # a message to several targets is only as delivered as its worst target
                order = ["failing", "queued", "sending", "cancelled", "sent"]
                if key not in status or order.index(here) < order.index(status[key]):
                    status[key] = here
    out = []
    for r in rows:
        if r.held_reason:
            delivery = "held"
        elif not r.notify:
            delivery = "none"
        elif r.batch is None:
            delivery = "pending"  # waiting for its digest
        else:
            delivery = status.get((r.alert_id, r.batch), "queued")
        out.append(
            InboxRow(
                r.id, r.alert_id, r.name, r.matched_at, r.state, r.article_id, r.title, r.source, r.published_at,
                r.link, r.day, r.detail, r.held_reason, delivery, bool(r.date_estimated),
            )
        )
    return out


def set_state(db, match_ids: Iterable[int], state: str = "reviewed") -> int:
    """Mark inbox rows new or reviewed; returns how many changed."""
    if state not in STATES:
        raise InputError(f"state must be one of {', '.join(STATES)}")
    ids = [int(i) for i in match_ids]
    if not ids:
        return 0
    with db.write() as conn:
        return conn.execute(update(alert_matches).where(alert_matches.c.id.in_(ids), alert_matches.c.state != state).values(state=state)).rowcount


def mark_all_reviewed(db, *, alert: int | None = None) -> int:
    with db.write() as conn:
        stmt = update(alert_matches).where(alert_matches.c.state == "new")
        if alert is not None:
            stmt = stmt.where(alert_matches.c.alert_id == alert)
        return conn.execute(stmt.values(state="reviewed")).rowcount


def inbox_counts(db) -> dict[int, int]:
    """New (unreviewed) matches per alert id, for badges."""
    with db.read() as conn:
        return dict(
            conn.execute(
                select(alert_matches.c.alert_id, func.count()).where(alert_matches.c.state == "new").group_by(alert_matches.c.alert_id)
            ).all()
        )
