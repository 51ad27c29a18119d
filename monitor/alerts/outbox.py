"""The outbox: sends the messages `record` queued, with Apprise, retried with backoff. It only
sends: what to send is decided upstream (`monitor.alerts.record`), and `monitor.alerts.flow.tick`
runs it after the evaluators.

Sending. `send_due` claims one message at a time in a short transaction (status 'sending', a
lease owner and a lease expiry; `FOR UPDATE SKIP LOCKED` on PostgreSQL, `BEGIN IMMEDIATE` on
SQLite), sends it outside any transaction, then marks it 'sent' only if it still holds the lease.
Two processes never hold the same message. A failure puts it back to 'queued' with the attempt
count, the reason and the next attempt time (exponential backoff, capped): a failing target keeps
its messages queued and visible, never dropped.

The crash window, and the choice made. If a sender dies after the target accepted a message but
before 'sent' is committed, the database cannot know whether the message went out. When the lease
expires the message is sent again: at-least-once, not at-most-once, because a lost alert is worse
for an analyst than a duplicate of one message. The window is one Apprise call (its connect and
read timeouts, a few seconds), and each message carries its reference ("ref: alert-7/now:42") so
a receiver can drop the rare duplicate. A restart outside that window loses nothing and sends
nothing twice: 'sent' rows are never claimed again.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update

from monitor.alerts.targets import display_form, redact, send
from monitor.store import utcnow
from monitor.store.schema import alerts, deliveries

log = logging.getLogger("monitor.alerts")


# ---- sending ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryReport:
    digests: int  # digests queued by this run (by `tick`, before sending)
    sent: int
    failed: int  # attempts that failed (the messages stay queued)
    waiting: int  # messages still queued afterwards (due later or failing)
    unconfirmed: int = 0  # sent, but the target never answered: left for a person to retry


@dataclass(frozen=True)
class _Job:
    id: int
    target: str
    target_display: str
    title: str
    body: str
    attempts: int
    allow_private: bool = False  # recorded with the alert (`alerts add --allow-private-networks`)


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def backoff(attempts: int) -> timedelta:
    """Delay after the n-th failed attempt: base·2^(n-1), capped, ±10 % jitter so a recovering
    target is not hit by every queued message in the same second."""
    from monitor.config import settings

    s = settings()
    delay = min(s.alert_retry_base_s * 2 ** max(attempts - 1, 0), s.alert_retry_max_s)
    return timedelta(seconds=delay * random.uniform(0.9, 1.1))


def _claim(db, owner: str, now: datetime) -> _Job | None:
    from monitor.config import settings

    due = or_(
        and_(deliveries.c.status == "queued", deliveries.c.next_attempt_at <= now),
        # a sender died holding it (see the crash window in the module docstring)
        and_(deliveries.c.status == "sending", deliveries.c.lease_until < now),
    )
    with db.write() as conn:
        pick = select(deliveries.c.id).where(due).order_by(deliveries.c.next_attempt_at, deliveries.c.id).limit(1)
        if not db.is_sqlite:
            pick = pick.with_for_update(skip_locked=True)
        delivery_id = conn.execute(pick).scalar()
        if delivery_id is None:
            return None
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id)
            .values(
                status="sending",
                lease_owner=owner,
                lease_until=now + timedelta(seconds=settings().alert_lease_s),
                attempts=deliveries.c.attempts + 1,
            )
        )
        row = conn.execute(
            select(deliveries, alerts.c.allow_private_networks)
            .join(alerts, alerts.c.id == deliveries.c.alert_id)
            .where(deliveries.c.id == delivery_id)
        ).mappings().one()
    return _Job(row["id"], row["target"], row["target_display"], row["title"], row["body"], row["attempts"], bool(row["allow_private_networks"]))


def _finish(db, job: _Job, owner: str, ok: bool, error: str | None, now: datetime, *, unconfirmed: bool = False) -> None:
    mine = and_(deliveries.c.id == job.id, deliveries.c.lease_owner == owner, deliveries.c.status == "sending")
    with db.write() as conn:
        if ok:
            values = {"status": "sent", "sent_at": now, "lease_owner": None, "lease_until": None, "last_error": None}
        elif unconfirmed:
            # Not retried by itself: the receiver may have it already. "Retry now" sends it again
            # with the same `ref:`, which a receiver uses to drop the duplicate.
            values = {"status": "unconfirmed", "last_error": (error or "no answer")[:500], "lease_owner": None, "lease_until": None}
        else:
            values = {
                "status": "queued",
                "next_attempt_at": now + backoff(job.attempts),
                "last_error": (error or "failed")[:500],
                "lease_owner": None,
                "lease_until": None,
            }
        if conn.execute(update(deliveries).where(mine).values(**values)).rowcount == 0:
            log.warning("alerts: lost the lease on message #%s to %s before it was marked", job.id, job.target_display)


def send_due(db, *, now: datetime | None = None, allow_private: bool | None = None, limit: int = 500) -> DeliveryReport:
    """Send every queued message that is due (at most `limit` attempts).
    `now` is for tests and replays; by default the clock is read at each step."""
    from monitor.config import settings

    clock = (lambda: now) if now is not None else utcnow
    allow = settings().allow_private_networks if allow_private is None else allow_private
    owner = _worker_id()
    sent = failed = unconfirmed = 0
    for _ in range(limit):
        job = _claim(db, owner, clock())
        if job is None:
            break
        result = send(job.target, job.title, job.body, allow_private=allow or job.allow_private)
        _finish(db, job, owner, result.ok, result.error, clock(), unconfirmed=result.unconfirmed)
        if result.ok:
            sent += 1
            log.info("alerts: sent message #%s to %s", job.id, job.target_display)
        elif result.unconfirmed:
            unconfirmed += 1
            log.warning("alerts: message #%s to %s is unconfirmed (not retried by itself): %s", job.id, job.target_display, result.error)
        else:
            failed += 1
            log.warning("alerts: message #%s to %s failed (attempt %s): %s", job.id, job.target_display, job.attempts, result.error)
    with db.read() as conn:
        waiting = conn.execute(select(func.count()).select_from(deliveries).where(deliveries.c.status.in_(("queued", "sending")))).scalar_one()
    return DeliveryReport(0, sent, failed, waiting, unconfirmed)


# ---- for the Alerts page ----------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    alert_id: int
    alert_name: str
    target: str  # privacy form
    title: str
    match_count: int
    status: str  # queued|sending|sent|unconfirmed|cancelled
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


def list_deliveries(db, *, alert: int | None = None, status: str | None = None, limit: int = 200) -> list[DeliveryRow]:
    """Outbox rows, newest first; unsent ones show their attempts, next attempt and last error."""
    query = (
        select(
            deliveries.c.id,
            deliveries.c.alert_id,
            alerts.c.name.label("alert_name"),
            deliveries.c.target_display,
            deliveries.c.title,
            deliveries.c.match_count,
            deliveries.c.status,
            deliveries.c.attempts,
            deliveries.c.next_attempt_at,
            deliveries.c.last_error,
            deliveries.c.created_at,
            deliveries.c.sent_at,
        )
        .select_from(deliveries.join(alerts, alerts.c.id == deliveries.c.alert_id))
        .order_by(deliveries.c.created_at.desc(), deliveries.c.id.desc())
        .limit(limit)
    )
    if alert is not None:
        query = query.where(deliveries.c.alert_id == alert)
    if status is not None:
        query = query.where(deliveries.c.status == status)
    with db.read() as conn:
        rows = conn.execute(query.add_columns(deliveries.c.target)).mappings().all()
    # The display form and the error are derived again from the stored URL, so rows written by
    # an older version, which showed more of the URL, are masked the same way.
    shown = {f.name for f in dataclasses.fields(DeliveryRow)} - {"target", "last_error"}
    return [
        DeliveryRow(
            **{k: r[k] for k in shown},
            target=display_form(r["target"]),
            last_error=redact(r["last_error"], r["target"]) if r["last_error"] else None,
        )
        for r in rows
    ]


def retry_now(db, delivery_id: int) -> None:
    """Make a queued message due at once (after the analyst fixed the target)."""
    with db.write() as conn:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id, deliveries.c.status.in_(("queued", "unconfirmed")))
            .values(status="queued", next_attempt_at=utcnow())
        )


def cancel_delivery(db, delivery_id: int) -> None:
    """Drop a queued message for good (it stays listed as cancelled)."""
    with db.write() as conn:
        conn.execute(update(deliveries).where(deliveries.c.id == delivery_id, deliveries.c.status.in_(("queued", "unconfirmed"))).values(status="cancelled"))
