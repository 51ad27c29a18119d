"""Spike markers drawn over the Coverage chart (no Streamlit).

They reuse the spike alerts' own rule (monitor.alerts.spikes.assess, with its baseline, noise
floor and feed-failure hold-back), so a triangle on the chart means what a spike alert would
have said about that day. (Days with many failing feeds come from monitor.coverage.)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from monitor.coverage import CountRow
from monitor.store import Database


@dataclass(frozen=True)
class SpikeMark:
    period: date
    topic: str
    count: int
    total: int
    share: float
    threshold: float
    held_back: bool  # spiked only because feeds failed: shown, but flagged as such
    detail: str


def spike_marks(db: Database, rows: Iterable[CountRow], *, sensitivity: float | None = None) -> list[SpikeMark]:
    """Days on which a topic's share is far above its baseline, from per-day topic CountRows."""
    # Here, not at the top: importing monitor.alerts loads the whole alerts package (Apprise and
    # delivery), which a chart without spike marks never needs.
    from monitor.alerts.spikes import SpikeSettings, assess, feed_failures

    series: dict[str, dict[date, tuple[int, int]]] = {}
    for r in rows:
        if r.topic is not None:
            series.setdefault(r.topic, {})[r.period] = (r.count, r.total)
    days = sorted({d for s in series.values() for d in s})
    if not days:
        return []
    cfg = SpikeSettings.current(sensitivity)
    failures = feed_failures(db, days[0] - timedelta(days=cfg.baseline_days), days[-1])
    marks = []
    for topic, counts in series.items():
        for day in days:
            if not _may_spike(day, counts, cfg):
                continue
            verdict = assess(day, counts, failures, cfg)
            if verdict.spike:
                marks.append(SpikeMark(day, topic, verdict.count, verdict.total, verdict.share, verdict.threshold, verdict.held_reason is not None, verdict.held_reason or verdict.detail))
    return sorted(marks, key=lambda m: (m.period, m.topic))


def _may_spike(day: date, counts: dict[date, tuple[int, int]], cfg) -> bool:
    """A cheap necessary condition for `assess` to call the day a spike, so the exact (and much
    slower: statistics.pstdev) rule runs only for candidates. assess's threshold is at least
    mean + k * noise, so a day at or under that bound cannot spike."""
    count, total = counts.get(day, (0, 0))
    if count < cfg.min_count or not total:
        return False
    base = [counts[d] for d in (day - timedelta(days=i) for i in range(1, cfg.baseline_days + 1)) if counts.get(d, (0, 0))[1] > 0]
    if len(base) < max(3, cfg.baseline_days // 2):
        return False
    mean = sum(c / t for c, t in base) / len(base)
    usual_total = sum(t for _, t in base) / len(base)
    p = min(max(mean, 1 / usual_total), 1.0)
    noise = math.sqrt(p * (1 - p) / usual_total)
    return count / total > mean + cfg.sensitivity * noise - 1e-9
