"""When a feed is polled next: pure functions of its history and of what the server said.

After a success the interval adapts to how much was new (Media Cloud: ≥ 67 % already known ->
longer, < 33 % -> shorter), never below the feed's own hint (`ttl`, `sy:updatePeriod`,
Cache-Control, Expires) and always within [min, max]. Failures back off exponentially from the
minimum by the weight of their kind (`FetchOutcome.weight`), capped at the maximum; Retry-After
is honoured up to a day.
"""

from __future__ import annotations

import random
import re

from monitor.config import Settings
from monitor.outcomes import FetchOutcome

RARE_AFTER_FAILURES = 30  # after this many failures in a row a feed is tried once per max interval
JITTER = 0.1  # ±10 % so that feeds added together do not stay in lock-step
MAX_RETRY_AFTER_S = 86400

_TTL = re.compile(rb"<ttl>\s*(\d{1,7})\s*</ttl>", re.IGNORECASE)
_SY_PERIOD = re.compile(rb"<sy:updatePeriod>\s*(hourly|daily|weekly|monthly|yearly)\s*</sy:updatePeriod>", re.IGNORECASE)
_SY_FREQUENCY = re.compile(rb"<sy:updateFrequency>\s*(\d{1,6})\s*</sy:updateFrequency>", re.IGNORECASE)
_PERIOD_S = {b"hourly": 3600, b"daily": 86400, b"weekly": 7 * 86400, b"monthly": 30 * 86400, b"yearly": 365 * 86400}


def feed_hint_seconds(body: bytes | None) -> int | None:
    """The feed's own polling hint: RSS `<ttl>` (minutes) or `sy:updatePeriod`/`updateFrequency`.

    Channel-level elements come before the items, so the first 64 KB are enough; a regex here
    avoids a second parse of the document.
    """
    if not body:
        return None
    head = body[:65536]
    m = _TTL.search(head)
    if m:
        return int(m.group(1)) * 60
    m = _SY_PERIOD.search(head)
    if m:
        freq = _SY_FREQUENCY.search(head)
        per = max(1, int(freq.group(1))) if freq else 1
        return _PERIOD_S[m.group(1).lower()] // per
    return None


def jitter(seconds: float) -> float:
    return seconds * (1 + random.uniform(-JITTER, JITTER))


def success_interval(cfg: Settings, previous_s: int | None, *, first: bool, entries: int, new: int, hint_s: int | None) -> int:
    """Next interval after a good poll: adapted to the change rate, floored by the feed's hint."""
    interval = float(previous_s or cfg.default_poll_interval_s)
    if not first:
        known_share = 1.0 if entries == 0 else 1.0 - new / entries
        if known_share >= 0.67:
            interval *= 1.5
        elif known_share < 0.33:
            interval /= 1.5
    floor = max(cfg.min_poll_interval_s, min(hint_s or 0, cfg.max_poll_interval_s))
    return int(min(max(interval, floor), cfg.max_poll_interval_s))


def failure_delay(cfg: Settings, kind: FetchOutcome | str, failures: int, retry_after_s: float | None) -> float:
    """Seconds until the next try after `failures` failures in a row (this one included)."""
    if failures >= RARE_AFTER_FAILURES:
        delay = float(cfg.max_poll_interval_s)
    else:
        delay = cfg.min_poll_interval_s * FetchOutcome(kind).weight * (2 ** (max(failures, 1) - 1))
        delay = min(delay, cfg.max_poll_interval_s)
    if retry_after_s is not None:  # the server's own word wins, up to a day
        delay = max(delay, min(retry_after_s, MAX_RETRY_AFTER_S))
    return delay
