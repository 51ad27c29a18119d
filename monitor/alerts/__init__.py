"""Keyword and spike alerts that reach the analyst exactly once.

    rules.py    add / edit / remove / list alerts; validation (query, filters, Apprise URLs, cadence)
    match.py    new articles matched in one in-memory pass; the archive matched in SQL
    outbox.py   messages per alert × target, digests, sending with retries, backoff and leases
    targets.py  Apprise URLs: privacy form for display, public-address guard, sending
    spikes.py   a topic's or query's daily share far above its baseline, unless feed failures explain it
    inbox.py    new/reviewed matches for the dashboard

Ingest calls `evaluate_new_articles(db, ids)`; pollers (and `alerts check`/`alerts deliver`) call
`deliver_due(db)` to send what is queued.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from monitor.alerts.inbox import InboxRow, inbox_counts, list_inbox, mark_all_reviewed, set_state
from monitor.alerts.match import Preview, PreviewRow, draft_alert, evaluate_new_articles, match_archive, match_new_articles, preview_alert
from monitor.alerts.outbox import DeliveryReport, DeliveryRow, cancel_delivery, deliver_due, list_deliveries, queue_digests, retry_now
from monitor.alerts.rules import CADENCES, KINDS, Alert, add_alert, get_alert, list_alerts, remove_alert, update_alert
from monitor.alerts.spikes import SpikeDay, evaluate_spikes

__all__ = [
    "Alert",
    "CADENCES",
    "CheckReport",
    "DeliveryReport",
    "DeliveryRow",
    "InboxRow",
    "KINDS",
    "Preview",
    "PreviewRow",
    "add_alert",
    "cancel_delivery",
    "check_alerts",
    "deliver_due",
    "draft_alert",
    "evaluate_new_articles",
    "get_alert",
    "inbox_counts",
    "list_alerts",
    "list_deliveries",
    "list_inbox",
    "mark_all_reviewed",
    "match_archive",
    "match_new_articles",
    "preview_alert",
    "queue_digests",
    "remove_alert",
    "retry_now",
    "set_state",
    "SpikeDay",
    "evaluate_spikes",
    "update_alert",
]


@dataclass(frozen=True)
class AlertCheck:
    alert: Alert
    matching: int  # keyword: archived articles that match; spike: days that spiked
    recorded: int  # of those, new to the inbox now
    sample: list = field(default_factory=list)  # PreviewRow (keyword) or SpikeDay (spike)


@dataclass(frozen=True)
class CheckReport:
    alerts: list[AlertCheck]
    delivery: DeliveryReport | None


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
    from monitor.alerts import rules, spikes
    from monitor.store import utcnow

    now = now or utcnow()
    with db.read() as conn:
        if alert is not None:
            rows = [dict(rules._find(conn, alert))]
        else:
            rows = rules.load_enabled(conn, "keyword") + rules.load_enabled(conn, "spike")
    checks = []
    for row in rows:
        if row["kind"] == "spike":
            days = spikes.evaluate_spikes(db, alert=row["id"], days=spike_days, now=now)
            fired = [d for d in days if d.spike]
            checks.append(AlertCheck(rules._to_alert(row), len(fired), sum(1 for d in fired if d.recorded), fired[-sample:]))
        else:
            total, recorded = match_archive(db, row, now=now)
            preview = preview_alert(db, rules._to_alert(row), limit=sample) if total else Preview(0, [])
            checks.append(AlertCheck(rules._to_alert(row), total, len(recorded), preview.rows))
    report = deliver_due(db, allow_private=allow_private) if deliver else None
    return CheckReport(checks, report)
