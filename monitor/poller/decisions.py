"""Per-feed decisions as pure functions: what a fetch, a parse or a store means for the feed's
health, schedule, stored URL and fetch event. No database, no network: `record` writes what
these decide, and they are tested on their own (tests/test_poller_decisions.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor.config import Settings
from monitor.errors import ParseError
from monitor.fetch import FetchResult, sniff_not_a_feed
from monitor.models import IngestStats
from monitor.outcomes import FetchOutcome, Reason
from monitor.poller.leases import ClaimedFeed
from monitor.poller.schedule import (
    failure_delay,
    feed_hint_seconds,
    jitter,
    success_interval,
)

REDIRECTS_TO_MOVE = 2  # consistent permanent redirects before the stored URL changes


@dataclass(frozen=True)
class FeedOutcome:
    """How one feed's poll ended, once fetched and (if there was a body) parsed and stored."""

    outcome: FetchOutcome
    reason: Reason | None
    detail: str | None
    entries: int = 0
    new_articles: int = 0
    duplicates: int = 0
    body_refused: bool = False  # the bytes came but were not a usable feed

    @classmethod
    def failure(cls, reason: Reason, detail: str | None, *, body_refused: bool = False) -> FeedOutcome:
        return cls(reason.kind, reason, detail, body_refused=body_refused)


@dataclass(frozen=True)
class FeedResult:
    """One feed's poll, ready for its health write (the writer's record job)."""

    feed: ClaimedFeed
    result: FetchResult
    outcome: FeedOutcome
    fetched_at: datetime


@dataclass(frozen=True)
class Effects:
    """What a health write changed beyond the schedule (counted in the round's summary)."""

    disabled: bool = False
    moved: bool = False


@dataclass(frozen=True)
class HealthChange:
    values: dict[str, Any]  # columns of the feed row
    disabled: bool = False


@dataclass(frozen=True)
class RedirectStep:
    redirect_url: str | None
    redirect_count: int
    move_to: str | None = None  # the stored URL should become this (once checked)


def before_parse(result: FetchResult) -> FeedOutcome | None:
    """The outcome that ends this feed's poll before parsing (a failed or empty-handed fetch, a
    body that is plainly not a feed); None when the body goes to the parser."""
    if result.outcome is not FetchOutcome.OK:
        return FeedOutcome(result.outcome, result.reason, result.detail)
    not_feed = sniff_not_a_feed(result.body or b"")
    if not_feed:
        return FeedOutcome.failure(Reason.NOT_A_FEED, not_feed, body_refused=True)
    return None


def parse_failed(error: ParseError) -> FeedOutcome:
    return FeedOutcome.failure(Reason.of_parse_failure(error.reason), str(error)[:500], body_refused=True)


def ingest_failed(error: Exception) -> FeedOutcome:
    """A bug on one feed's bytes: that feed fails, the round goes on."""
    return FeedOutcome.failure(Reason.INGEST_ERROR, f"{type(error).__name__}: {error}"[:500], body_refused=True)


def stored(stats: IngestStats) -> FeedOutcome:
    """A stored document: ok, with what the parser had to leave out said in the detail."""
    notes = [f"ill-formed, kept what could be read: {w}" for w in stats.warnings.values()]
    if stats.rejected:
        notes.append("rejected: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.rejected.items())))
    return FeedOutcome(FetchOutcome.OK, None, "; ".join(notes) or None, stats.entries, stats.new_articles, stats.duplicates)


def health_change(cfg: Settings, feed: ClaimedFeed, result: FetchResult, outcome: FeedOutcome, fetched_at: datetime, now: datetime) -> HealthChange:
    """The feed row's new health and next poll, and whether the feed is disabled (410 Gone)."""
    values: dict[str, Any] = {"last_fetch_at": fetched_at, "lease_owner": None, "lease_until": None}
    if outcome.outcome.succeeded:
        hint = feed_hint_seconds(result.body) if outcome.outcome is FetchOutcome.OK else None
        if result.cache_hint_s:
            hint = max(hint or 0, result.cache_hint_s)
        interval = success_interval(
            cfg,
            feed.poll_interval_s,
            first=feed.status == "new" or feed.poll_interval_s is None,
            entries=outcome.entries,
            new=outcome.new_articles,
            hint_s=hint,
        )
        values.update(
            status="ok",
            last_success_at=fetched_at,
            consecutive_failures=0,
            poll_interval_s=interval,
            next_poll_at=now + timedelta(seconds=jitter(interval)),
            etag=result.etag if result.etag is not None else feed.etag,
            last_modified=result.last_modified if result.last_modified is not None else feed.last_modified,
            body_hash=result.body_hash or feed.body_hash,
        )
        return HealthChange(values)
    failures = feed.consecutive_failures + 1
    values.update(
        consecutive_failures=failures,
        last_error_reason=outcome.reason.value if outcome.reason else "error",
        last_error=(outcome.detail or "")[:1000],
        next_poll_at=now + timedelta(seconds=jitter(failure_delay(cfg, outcome.outcome, failures, result.retry_after_s))),
        status="failing",
    )
    if outcome.body_refused:
        # The body could not be used: forget validators and hash so the next poll reads it whole.
        values.update(etag=None, last_modified=None, body_hash=None)
    if outcome.reason is Reason.GONE:
        values.update(enabled=False, status="disabled", disabled_reason=outcome.detail or "410 Gone")
        return HealthChange(values, disabled=True)
    return HealthChange(values)


def redirect_step(feed: ClaimedFeed, result: FetchResult, outcome: FeedOutcome) -> RedirectStep:
    """Permanent redirects (301/308 on every hop) to the same target on REDIRECTS_TO_MOVE polls in
    a row move the stored URL; anything else starts the count again."""
    target = result.permanent_redirect if outcome.outcome.succeeded else None
    if not target or target == feed.url:
        return RedirectStep(None, 0)
    count = feed.redirect_count + 1 if feed.redirect_url == target else 1
    return RedirectStep(target, count, target if count >= REDIRECTS_TO_MOVE else None)


def fetch_event(feed: ClaimedFeed, result: FetchResult, outcome: FeedOutcome, fetched_at: datetime, moved_to: str | None) -> dict[str, Any]:
    """The fetch_events row of this poll."""
    detail = outcome.detail
    if moved_to:
        detail = f"moved permanently to {moved_to}" + (f"; {detail}" if detail else "")
    ok = outcome.outcome is FetchOutcome.OK
    return {
        "feed_id": feed.id,
        "at": fetched_at,
        "outcome": outcome.outcome.value,
        "http_status": result.status,
        "reason": outcome.reason.value if outcome.reason else None,
        "detail": (detail or None) and detail[:1000],
        "duration_ms": result.duration_ms,
        "entries": outcome.entries if ok else None,
        "new_articles": outcome.new_articles if ok else None,
    }
