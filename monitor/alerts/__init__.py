"""Keyword and spike alerts that reach the analyst exactly once.

    rules.py     the Alert record; add / edit / remove / list alerts; validation (query, filters, Apprise URLs, cadence)
    match.py     the keyword evaluator: new articles matched in one in-memory pass; the archive matched in SQL
    spikes.py    the spike evaluator: a topic's or query's daily share far above its baseline, unless feed failures explain it
    found.py     `Match`, what an evaluator hands on
    record.py    the one place a match is stored in the inbox and its message queued (immediately or as a digest)
    messages.py  the text of a message
    outbox.py    sends queued messages with retries, backoff and leases; nothing else
    targets.py   Apprise URLs: privacy form for display, public-address guard, sending
    inbox.py     new/reviewed matches for the dashboard
    flow.py      the order: evaluate → record → send (`tick`), and `check_alerts`

Ingest calls `evaluate_new_articles(db, ids)`; pollers (and `alerts check`/`alerts deliver`) call
`deliver_due(db)` (the flow's `tick`) to assess closed days, queue digests and send what is due.
"""

from __future__ import annotations

from monitor.alerts.flow import (
    AlertCheck,
    CheckReport,
    check_alerts,
    deliver_due,
    evaluate_new_articles,
    evaluate_spikes,
    match_archive,
    match_new_articles,
    tick,
)
from monitor.alerts.inbox import InboxRow, inbox_counts, list_inbox, mark_all_reviewed, set_state
from monitor.alerts.match import Preview, PreviewRow, draft_alert, preview_alert
from monitor.alerts.outbox import DeliveryReport, DeliveryRow, cancel_delivery, list_deliveries, retry_now
from monitor.alerts.record import queue_digests
from monitor.alerts.rules import CADENCES, KINDS, Alert, add_alert, get_alert, list_alerts, remove_alert, update_alert
from monitor.alerts.spikes import SpikeDay

__all__ = [
    "Alert",
    "AlertCheck",
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
    "tick",
    "update_alert",
]
