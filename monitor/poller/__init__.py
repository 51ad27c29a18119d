"""Keeping the store current: which feeds are due, who polls them, and what happens after.

A *round* (`poll_once`, `round.PollRound`) claims due feeds in small batches, fetches them
concurrently (at most one request at a time per host, across pollers too: `monitor.hostgate`),
ingests what changed, and writes each feed's health and next poll. Its stages are named in
`round`; what an outcome means for a feed is decided by pure functions (`decisions`,
`schedule`); `lifecycle` puts catch-up -> round -> alert delivery in one place for `poll
--once`, `poll --forever` and the dashboard's background poller (`background`).

- **Leases** (`leases`). A claim sets `lease_owner`/`lease_until` on the feed row (SKIP LOCKED on
  PostgreSQL, BEGIN IMMEDIATE on SQLite). A round only claims feeds due at its start, so no feed
  is fetched twice in one round, and a host never has more than HOST_SHARE of its feeds in hand:
  one slow host with many due feeds cannot fill a round while other hosts wait.
- **Order of writes** (`record`). Articles are stored before the feed row is updated, so a crash
  between the two re-fetches the feed later and re-ingesting adds nothing.
- **Schedule** (`schedule`). After a success the interval adapts to how much was new, floored by
  the feed's own hint; failures back off by the weight of their kind (`monitor.outcomes`).
  410 disables the feed with its reason.
- **Redirects** (`decisions.redirect_step`). A 301/308 chain to the same target on
  REDIRECTS_TO_MOVE polls in a row moves the stored URL; 302/307 never do.
"""

from monitor.poller.background import (
    BackgroundPoller,
    background_poller,
    start_background_poller,
    stop_background_poller,
)
from monitor.poller.decisions import REDIRECTS_TO_MOVE, Effects, FeedOutcome, FeedResult
from monitor.poller.leases import (
    CLAIM_SCAN,
    HOST_SHARE,
    Claim,
    ClaimedFeed,
    claim_batch,
    claim_due,
    new_owner,
    release,
    renew,
    seconds_until_due,
)
from monitor.poller.lifecycle import (
    Cycle,
    deliver_alerts,
    poll_cycle,
    poll_forever,
    poll_once,
    warn_if_every_feed_failed,
)
from monitor.poller.record import EVENTS_KEPT, record, record_many
from monitor.poller.round import PollRound
from monitor.poller.schedule import (
    RARE_AFTER_FAILURES,
    failure_delay,
    feed_hint_seconds,
    success_interval,
)
from monitor.poller.summary import PollSummary
from monitor.store import utcnow

__all__ = [
    "CLAIM_SCAN", "EVENTS_KEPT", "HOST_SHARE", "RARE_AFTER_FAILURES", "REDIRECTS_TO_MOVE",
    "BackgroundPoller", "Claim", "ClaimedFeed", "Cycle", "Effects", "FeedOutcome", "FeedResult", "PollRound", "PollSummary",
    "background_poller", "claim_batch", "claim_due", "deliver_alerts", "failure_delay", "feed_hint_seconds", "new_owner",
    "poll_cycle", "poll_forever", "poll_once", "record", "record_many", "release", "renew", "seconds_until_due",
    "start_background_poller", "stop_background_poller", "success_interval", "utcnow", "warn_if_every_feed_failed",
]  # fmt: skip
