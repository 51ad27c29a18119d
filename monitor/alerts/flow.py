"""The alerts flow, one way: evaluators find matches, `record` stores them and queues their
messages, the outbox sends. Every entry point (ingest's hook, `alerts check`, a poller's round)
runs its steps in the order set here and nowhere else.

    new articles ─► match.new_article_matches ─┐
    the archive  ─► match.archive_matches ─────┼─► record ─► (deliveries queued) ─► outbox.send_due
    closed days  ─► spikes.assess_alert ───────┘             queue_digests ─┘
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from monitor.alerts import match, outbox, spikes
from monitor.alerts.record import queue_digests, record as record_matches, record_many
from monitor.alerts.rules import Alert, find_alert, load_enabled
from monitor.errors import StoreError
from monitor.store import utcnow

log = logging.getLogger("monitor.alerts")

def match_new_articles(db, article_ids: Sequence[int], *, now: datetime | None = None) -> dict[int, list[int]]:
    """Record (and queue) the matches among these articles; returns {alert id: newly matched
    article ids}. Articles already matched by an alert are left alone."""
    found = match.new_article_matches(db, article_ids)
    if not found:
        return {}
    recorded = record_many(db, found, archive=False, now=now)
    return {alert_id: [r.match.article_id for r in new if r.match.article_id is not None] for alert_id, new in recorded.items()}


def evaluate_new_articles(db, article_ids: Iterable[int]) -> None:
    """Match freshly stored (and tagged) articles against every alert. Never raises into ingest:
    a failure is logged, and `alerts check` records whatever was missed (exactly once)."""
    try:
        ids = sorted({int(i) for i in article_ids or ()})
        if ids:
            match_new_articles(db, ids)
    except StoreError as e:  # the store refused (disk full, read-only): one line, no traceback
        log.error("alerts: evaluating new articles failed: %s; `python -m monitor alerts check` catches up", e)
    except Exception:
        log.exception("alerts: evaluating new articles failed; `python -m monitor alerts check` catches up")


def match_archive(db, alert: Alert, *, now: datetime | None = None) -> tuple[int, list[int]]:
    """Record every archived article an alert matches; returns (total matching, newly recorded).
    New archive matches of an immediate alert go out as one grouped message, not one per article."""
    total, found = match.archive_matches(db, alert)
    new = record_matches(db, alert, found, archive=True, now=now) if found else []
    return total, [r.match.article_id for r in new if r.match.article_id is not None]


def evaluate_spikes(
    db, *, alert: int | None = None, days: int = 1, now: datetime | None = None, record: bool = True
) -> list[spikes.SpikeDay]:
    """Assess the last `days` closed UTC days for each enabled spike alert (or one alert) and record
    spikes in the inbox, each (alert, day) once; fired ones are queued like keyword matches."""
    now = now or utcnow()
    last = now.date() - timedelta(days=1)
    first = last - timedelta(days=max(days, 1) - 1)
    with db.read() as conn:
        if alert is not None:
            chosen = find_alert(conn, alert)
            watched = [chosen] if chosen.kind == "spike" else []
        else:
            watched = load_enabled(conn, "spike")
    out: list[spikes.SpikeDay] = []
    for spike_alert in watched:
        assessed = spikes.assess_alert(db, spike_alert, first, last)
        fired = [s for s in assessed if s.spike]
        recorded_days: set[date] = set()
        if record and fired:
            new = record_matches(db, spike_alert, [spikes.spike_match(s) for s in fired], now=now)
            recorded_days = {r.match.day.date() for r in new if r.match.day is not None}
        out.extend(replace(s, recorded=s.day in recorded_days) if s.spike else s for s in assessed)
    return out


_checked: dict[str, date] = {}
_checked_lock = threading.Lock()


def evaluate_closed_days(db, now: datetime | None = None) -> None:
    """Once per process and UTC day: assess the day that just closed (`tick` runs it, and
    pollers run `tick` every cycle)."""
    now = now or utcnow()
    with _checked_lock:
        if _checked.get(db.url) == now.date():
            return
        _checked[db.url] = now.date()
    evaluate_spikes(db, days=2, now=now)


def tick(db, *, now: datetime | None = None, allow_private: bool | None = None, limit: int = 500) -> outbox.DeliveryReport:
    """One turn of the flow: assess spikes on the day that closed, queue closed digests, then send
    every message that is due (at most `limit` attempts).
    `now` is for tests and replays; by default the clock is read at each step."""
    clock = (lambda: now) if now is not None else utcnow
    try:
        evaluate_closed_days(db, clock())
    except Exception:  # a broken spike rule must not hold up the outbox
        log.exception("alerts: spike evaluation failed")
    digests = queue_digests(db, now=clock())
    report = outbox.send_due(db, now=now, allow_private=allow_private, limit=limit)
    return replace(report, digests=digests)


deliver_due = tick  # the name pollers and `alerts deliver` have always called


@dataclass(frozen=True)
class AlertCheck:
    alert: Alert
    matching: int  # keyword: archived articles that match; spike: days that spiked
    recorded: int  # of those, new to the inbox now
    sample: list = field(default_factory=list)  # PreviewRow (keyword) or SpikeDay (spike)


@dataclass(frozen=True)
class CheckReport:
    alerts: list[AlertCheck]
    delivery: outbox.DeliveryReport | None


def check_alerts(
    db,
    *,
    alert: int | str | None = None,
    deliver: bool = True,
    allow_private: bool | None = None,
    spike_days: int = 30,
    sample: int = 5,
    now: datetime | None = None,
) -> CheckReport:
    """Evaluate alerts over the archive: record every match not yet in the inbox (exactly once;
    an immediate alert's archive finds go out as one grouped message), evaluate spike alerts over
    the last `spike_days` days, then send what is due."""
    now = now or utcnow()
    with db.read() as conn:
        chosen = [find_alert(conn, alert)] if alert is not None else load_enabled(conn, "keyword") + load_enabled(conn, "spike")
    checks = []
    for one in chosen:
        if one.kind == "spike":
            days = evaluate_spikes(db, alert=one.id, days=spike_days, now=now)
            fired = [d for d in days if d.spike]
            checks.append(AlertCheck(one, len(fired), sum(1 for d in fired if d.recorded), fired[-sample:]))
        else:
            total, recorded = match_archive(db, one, now=now)
            preview = match.preview_alert(db, one, limit=sample) if total else match.Preview(0, [])
            checks.append(AlertCheck(one, total, len(recorded), preview.rows))
    report = tick(db, allow_private=allow_private) if deliver else None
    return CheckReport(checks, report)
