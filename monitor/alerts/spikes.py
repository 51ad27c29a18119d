"""Spike alerts: a topic's (or query's) daily share of coverage far above its recent baseline.

For a closed UTC day D: share = matching articles ÷ all articles published that day. The baseline
is the prior `MONITOR_SPIKE_BASELINE_DAYS` days that have articles; D spikes when its share
exceeds mean + k·sd (k = the alert's sensitivity) and at least `MONITOR_SPIKE_MIN_COUNT` articles
match. sd is floored at the binomial noise of the usual daily volume, so a flat baseline does not
turn one extra article into a spike.

Feed failures fake spikes: when the general-news feeds fail, the day's denominator collapses and a
specialist topic's share jumps. So when a large part of the feeds failed on D (fetch_events: feeds
whose every fetch that day failed), the share is recomputed at the usual daily volume; if the spike
disappears, it is recorded in the inbox as held back, with the figures that explain it, and not
delivered.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from monitor.alerts.found import Match
from monitor.alerts.rules import Alert
from monitor.coverage import feed_failures as failures_per_period
from monitor.filters import Filters, article_conditions
from monitor.periods import as_date
from monitor.store.schema import articles


@dataclass(frozen=True)
class SpikeDay:
    day: date
    count: int
    total: int
    share: float
    baseline_mean: float
    baseline_sd: float
    threshold: float
    spike: bool  # above the threshold (fired, or held back if held_reason)
    held_reason: str | None
    detail: str
    recorded: bool = False  # new in the inbox by this evaluation


@dataclass(frozen=True)
class SpikeSettings:
    sensitivity: float
    baseline_days: int
    min_count: int
    failure_fraction: float

    @classmethod
    def current(cls, sensitivity: float | None = None) -> SpikeSettings:
        from monitor.config import settings

        s = settings()
        return cls(sensitivity or s.spike_sensitivity, s.spike_baseline_days, s.spike_min_count, s.spike_failure_fraction)


def daily_counts(db, filters: Filters, start: date, end: date) -> dict[date, tuple[int, int]]:
    """{day: (matching articles, all articles)} for start..end inclusive (days with none absent)."""
    window = Filters(date_from=start, date_to=end)
    day = func.date(articles.c.published_at)
    with db.read() as conn:
        totals = dict(
            conn.execute(select(day, func.count()).where(*article_conditions(window, db)).group_by(day)).all()
        )
        matching = dict(
            conn.execute(
                select(day, func.count())
                .where(*article_conditions(window, db), *article_conditions(filters, db, skip=("dates",)))
                .group_by(day)
            ).all()
        )
    return {as_date(d): (int(matching.get(d, 0)), int(t)) for d, t in totals.items()}


def feed_failures(db, start: date, end: date) -> dict[date, tuple[int, int]]:
    """{day: (feeds whose every fetch failed, feeds fetched)}: the coverage chart's own count."""
    return {f.day: (f.failing, f.polled) for f in failures_per_period(db, Filters(date_from=start, date_to=end), "day")}


def assess(
    day: date,
    counts: dict[date, tuple[int, int]],
    failures: dict[date, tuple[int, int]],
    cfg: SpikeSettings,
) -> SpikeDay:
    """Decide one day from the daily counts and feed failures (pure: the test drives it with
    generated series)."""
    count, total = counts.get(day, (0, 0))
    share = count / total if total else 0.0
    prior = [day - timedelta(days=i) for i in range(1, cfg.baseline_days + 1)]
    base = [counts[d] for d in prior if counts.get(d, (0, 0))[1] > 0]
    needed = max(3, cfg.baseline_days // 2)
    if len(base) < needed or not total:
        return SpikeDay(day, count, total, share, 0.0, 0.0, math.inf, False, None, f"not enough history: {len(base)} of {needed} days needed")
    shares = [c / t for c, t in base]
    mean = statistics.fmean(shares)
    sd = statistics.pstdev(shares)
    usual_total = statistics.fmean(t for _, t in base)
    p = min(max(mean, 1 / usual_total), 1.0)
    noise = math.sqrt(p * (1 - p) / usual_total)
    threshold = mean + cfg.sensitivity * max(sd, noise)
    detail = (
        f"{count} of {total} articles ({share:.1%}) against a usual {mean:.1%} ± {sd:.1%} over the prior "
        f"{len(base)} days (threshold {threshold:.1%}, sensitivity {cfg.sensitivity:g})"
    )
    spike = count >= cfg.min_count and share > threshold
    held = None
    if spike:
        failing, fetched = failures.get(day, (0, 0))
        fraction = failing / fetched if fetched else 0.0
        usual = [failures[d][0] / failures[d][1] for d in prior if failures.get(d, (0, 0))[1]]
        usual_fraction = statistics.fmean(usual) if usual else 0.0
        if fraction >= cfg.failure_fraction and fraction > usual_fraction:
            at_usual_volume = count / max(total, usual_total)
            if at_usual_volume <= threshold:
                held = (
                    f"held back: {failing} of {fetched} feeds failed on {day} ({fraction:.0%}, usually "
                    f"{usual_fraction:.0%}) and only {total} articles were stored against a usual {usual_total:.0f}; "
                    f"at the usual volume the share would be {at_usual_volume:.1%}, under the threshold {threshold:.1%}"
                )
            else:
                detail += f"; {failing} of {fetched} feeds failed that day, but the spike holds at the usual volume"
    return SpikeDay(day, count, total, share, mean, sd, threshold, spike, held, detail)


def assess_alert(db, alert: Alert, first: date, last: date) -> list[SpikeDay]:
    """Every day first..last (closed UTC days) assessed for one spike alert; records nothing."""
    cfg = SpikeSettings.current(alert.sensitivity)
    start = first - timedelta(days=cfg.baseline_days)
    counts = daily_counts(db, alert.filters, start, last)
    failures = feed_failures(db, start, last)
    return [assess(first + timedelta(days=i), counts, failures, cfg) for i in range((last - first).days + 1)]


def spike_match(day: SpikeDay) -> Match:
    """A day that spiked, as the inbox records it (held back ones too, never delivered)."""
    return Match(f"d{day.day.isoformat()}", None, datetime.combine(day.day, time.min), day.detail, day.held_reason)
