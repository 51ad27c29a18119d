"""The outbox: messages queued per alert and target, sent with Apprise, retried with backoff.

Queueing. An immediate alert's new matches are queued in the transaction that records them (one
message per evaluation: one article, or the handful a feed brought at once); an hourly or daily
alert's matches wait (batch NULL) until the period closes, then `queue_digests` groups them into
one message. (alert_id, target, batch) is unique, so a message cannot be queued twice.

Sending. `deliver_due` claims one message at a time in a short transaction (status 'sending', a
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

import logging
import os
import random
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update

from monitor.alerts.match import dialect_insert
from monitor.alerts.rules import load_enabled
from monitor.alerts.targets import display_form, redact, send
from monitor.normalize import safe_link
from monitor.store import utcnow
from monitor.store.schema import alert_matches, alerts, articles, deliveries

log = logging.getLogger("monitor.alerts")

PERIODS = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}
MAX_LISTED = 25  # articles listed in one message; the rest are counted and in the inbox


# ---- composing --------------------------------------------------------------------------


def _line(text: str | None, limit: int = 200) -> str:
    text = " ".join((text or "").split())  # one line: no injected headers or fake list items
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compose(alert: dict, items: list[dict], *, kind: str, total: int | None = None) -> tuple[str, str]:
    """(title, body) of a message. `items` are (the first MAX_LISTED of `total`) inbox rows joined
    with their article (or a spike's day and detail). kind: now|check|hourly|daily."""
    name = _line(alert["name"], 80)
    n = len(items) if total is None else total
    spikes = [i for i in items if i.get("article_id") is None]
    if n == 1 and spikes:
        title = f"Alert {name}: spike on {spikes[0]['day']:%Y-%m-%d}"
    elif spikes and len(spikes) == len(items) and kind not in PERIODS:
        title = f"Alert {name}: {n} spike days"
    elif n == 1 and kind == "now":
        title = f"Alert {name}: {_line(items[0].get('title'), 120)}"
    elif kind in PERIODS:
        title = f"Alert {name}: {kind} digest, {n} new match{'es' if n != 1 else ''}"
    elif kind == "check":
        title = f"Alert {name}: {n} article{'s' if n != 1 else ''} in the archive match"
    else:
        title = f"Alert {name}: {n} new articles"
    lines = []
    for item in items[:MAX_LISTED]:
        if item.get("article_id") is None:
            lines.append(f"• Spike on {item['day']:%Y-%m-%d}: {_line(item.get('detail'), 400)}")
            continue
        when = item.get("published_at")
        lines.append(f"• {_line(item.get('title'))} — {_line(item.get('source'), 80)}{f', {when:%Y-%m-%d %H:%M} UTC' if when else ''}")
        link = safe_link(item.get("link"))  # http(s) only, characters that break out of HTML encoded
        if link:
            lines.append(f"  {link}")
    if n > MAX_LISTED:
        lines.append(f"… and {n - MAX_LISTED} more in the Alerts inbox.")
    return title, "\n".join(lines)


def _items(conn, match_ids: list[int], limit: int = MAX_LISTED) -> list[dict]:
    """The newest `limit` of these matches with their articles (the rest are only counted)."""
    chosen = match_ids[-limit * 4 :] if len(match_ids) > limit * 4 else match_ids  # the latest recorded
    rows = conn.execute(
        select(
            alert_matches.c.id,
            alert_matches.c.article_id,
            alert_matches.c.day,
            alert_matches.c.detail,
            articles.c.title,
            articles.c.source,
            articles.c.published_at,
            articles.c.link,
        )
        .select_from(alert_matches.outerjoin(articles, articles.c.id == alert_matches.c.article_id))
        .where(alert_matches.c.id.in_(chosen))
        .order_by(articles.c.published_at.desc(), alert_matches.c.id)
        .limit(limit)
    ).mappings()
    return [dict(r) for r in rows]


def _queue(conn, db, alert: dict, match_ids: list[int], batch: str, kind: str, now: datetime) -> bool:
    """One message per target for these matches; marks them with the batch. False (nothing done)
    when the alert has no targets or this batch was already queued."""
    targets = list(alert["notify"] or [])
    if not targets or not match_ids:
        return False
    exists_already = conn.execute(
        select(deliveries.c.id).where(deliveries.c.alert_id == alert["id"], deliveries.c.batch == batch).limit(1)
    ).first()
    if exists_already:
        return False
    title, body = compose(alert, _items(conn, match_ids), kind=kind, total=len(match_ids))
    body += f"\n\nref: alert-{alert['id']}/{batch}"
    for url in targets:
        conn.execute(
            dialect_insert(db, deliveries)
            .values(
                alert_id=alert["id"],
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


def enqueue_new_matches(conn, db, alert: dict, match_ids: list[int], *, archive: bool, now: datetime) -> None:
    """Called in the transaction that recorded the matches. Digest alerts leave them for
    `queue_digests`; immediate ones are queued now (archive finds as one grouped message)."""
    if alert["cadence"] != "immediate" or not match_ids:
        return
    kind = "check" if archive else "now"
    _queue(conn, db, alert, sorted(match_ids), f"{kind}:{min(match_ids)}", kind, now)


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
        digest_alerts = [a for kind in ("keyword", "spike") for a in load_enabled(conn, kind) if a["cadence"] in PERIODS and a["notify"]]
    for alert in digest_alerts:
        end = period_end(now, alert["cadence"])
        with db.write() as conn:
            if not db.is_sqlite:  # one digest-maker per alert at a time (SQLite: BEGIN IMMEDIATE already)
                conn.execute(select(alerts.c.id).where(alerts.c.id == alert["id"]).with_for_update())
            pending = (
                conn.execute(
                    select(alert_matches.c.id).where(
                        alert_matches.c.alert_id == alert["id"],
                        alert_matches.c.batch.is_(None),
                        alert_matches.c.held_reason.is_(None),
                        alert_matches.c.matched_at < end,
                    )
                )
                .scalars()
                .all()
            )
            if pending and _queue(conn, db, alert, sorted(pending), f"{alert['cadence']}:{end:%Y-%m-%dT%H}", alert["cadence"], now):
                queued += 1
    return queued


# ---- sending ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryReport:
    digests: int  # digests queued by this run
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


def deliver_due(db, *, now: datetime | None = None, allow_private: bool | None = None, limit: int = 500) -> DeliveryReport:
    """Assess spikes on the day that closed, queue closed digests, then send every message that
    is due (at most `limit` attempts).
    `now` is for tests and replays; by default the clock is read at each step."""
    from monitor.config import settings

    clock = (lambda: now) if now is not None else utcnow
    allow = settings().allow_private_networks if allow_private is None else allow_private
    try:
        from monitor.alerts.spikes import evaluate_closed_days

        evaluate_closed_days(db, clock())
    except Exception:  # a broken spike rule must not hold up the outbox
        log.exception("alerts: spike evaluation failed")
    digests = queue_digests(db, now=clock())
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
    return DeliveryReport(digests, sent, failed, waiting, unconfirmed)


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
            alerts.c.name,
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
        rows = conn.execute(query.add_columns(deliveries.c.target)).all()
    # The display form and the error are derived again from the stored URL, so rows written by
    # an older version, which showed more of the URL, are masked the same way.
    return [
        DeliveryRow(*r[:3], display_form(r.target), *r[4:9], redact(r.last_error, r.target) if r.last_error else None, *r[10:12])
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
