"""Keeping the store current: which feeds are due, who polls them, and what happens after.

A *round* (`poll_once`) claims due feeds in small batches, fetches them concurrently (at most one
request at a time per host, across pollers too: `monitor.hostgate`), ingests what changed, and
writes each feed's health and next poll. It is a pipeline: parse workers read the next documents
while one writer thread stores the previous ones and a hooks thread tags them (see `_round`).

- **Leases.** A claim sets `lease_owner`/`lease_until` on the feed row. On PostgreSQL the claim is
  `SELECT … FOR UPDATE SKIP LOCKED`, so any number of pollers on any machines share the due feeds
  without waiting on each other; on SQLite it runs inside `BEGIN IMMEDIATE`, which serialises
  claims. A poller that dies leaves its leases; they expire after `lease_seconds` and the feeds
  return to the pool. A round only claims feeds due at its start, so no feed is fetched twice in
  one round, and every feed's result is written with `WHERE lease_owner = me`.
- **Order of writes.** Articles are stored (one transaction per document, dedup in ingest) before
  the feed row is updated, so a crash between the two re-fetches the feed later and re-ingesting
  adds nothing: nothing is lost, nothing is doubled.
- **Schedule.** After a success the interval adapts to how much was new (Media Cloud: ≥ 67 %
  already known -> longer, < 33 % -> shorter), never below the feed's own hint (`ttl`,
  `sy:updatePeriod`, Cache-Control, Expires) and always within [min, max]. Failures back off
  exponentially from the minimum by weight (HARD 2, SOFT 1, TEMP 0.5), capped at the maximum;
  Retry-After is honoured up to a day. 410 disables the feed with its reason.
- **Redirects.** A 301/308 chain to the same target on `REDIRECTS_TO_MOVE` polls in a row moves
  the stored URL; 302/307 never do.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import random
import re
import socket
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import and_, delete, func, insert, or_, select, update

from monitor.config import Settings, settings as current_settings
from monitor.errors import InputError, MonitorError, ParseError
from monitor.fetch import FetchResult, Fetcher, sniff_not_a_feed
from monitor.hostgate import MAX_GAP_S, HostGate
from monitor.netguard import validate_feed_url
from monitor.outcomes import FetchOutcome, Reason
from monitor.store import Database, utcnow
from monitor.store.schema import feeds, fetch_events

if TYPE_CHECKING:
    from monitor.parse import NormalizedFeed

log = logging.getLogger(__name__)

EVENTS_KEPT = 30  # fetch events per feed (Media Cloud keeps the last 30)
RECORD_BATCH = 64  # feeds whose health is written in one transaction
STORE_BATCH = 8  # documents queued for the writer that are stored in one transaction
HOOK_BATCH = 500  # new articles handed to tagging and alerts at once (per-call costs amortised)
HOOK_IDLE_S = 0.2  # ...or as soon as no document has come for this long (alerts stay prompt)
REDIRECTS_TO_MOVE = 2  # consistent permanent redirects before the stored URL changes
RARE_AFTER_FAILURES = 30  # after this many failures in a row a feed is tried once per max interval
JITTER = 0.1  # ±10 % so that feeds added together do not stay in lock-step
MAX_RETRY_AFTER_S = 86400
# feeds of one host a round holds at once (one being fetched, the rest waiting their turn): more
# would only wait on the host's lock while other hosts' feeds could be fetched
HOST_SHARE = 3
CLAIM_SCAN = 4096  # due feeds a claim looks through for hosts that still have room


@dataclass(frozen=True)
class ClaimedFeed:
    id: int
    url: str
    name: str | None
    status: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    poll_interval_s: int | None
    consecutive_failures: int
    redirect_url: str | None
    redirect_count: int

    @property
    def host(self) -> str:
        return _host_of(self.url)


@dataclass
class PollSummary:
    """What a round (or a whole `poll --forever` run) did; printed by the CLI."""

    feeds: int = 0
    ok: int = 0
    unchanged: int = 0
    failed: int = 0
    disabled: int = 0
    moved: int = 0
    entries: int = 0
    new_articles: int = 0
    duplicates: int = 0
    abandoned: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    # where the time went, summed over feeds (fetches and parses overlap, so their sums can
    # exceed elapsed_s); store and record run one at a time on the writer thread, tag and alert
    # on the hooks thread
    fetch_s: float = 0.0
    parse_s: float = 0.0  # parse + normalise, in the worker processes (wall time per document)
    store_s: float = 0.0  # dedup + store
    tag_s: float = 0.0  # monitor.classify.tag_articles
    alert_s: float = 0.0  # monitor.alerts.evaluate_new_articles
    record_s: float = 0.0  # health, schedule, fetch event
    writer_s: float = 0.0  # the writer thread's busy time (store + record)
    hooks_s: float = 0.0  # the hooks thread's busy time (tag + alert)
    # why the round ended early: feeds could not be claimed (database locked past the busy
    # timeout, disk full, read-only); None when it polled everything due
    error: str | None = None

    def add(self, other: "PollSummary") -> None:
        for name in (
            "feeds", "ok", "unchanged", "failed", "disabled", "moved", "entries", "new_articles", "duplicates", "abandoned",
            "fetch_s", "parse_s", "store_s", "tag_s", "alert_s", "record_s", "writer_s", "hooks_s",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for reason, n in other.failures.items():
            self.failures[reason] = self.failures.get(reason, 0) + n
        self.elapsed_s += other.elapsed_s

    def __str__(self) -> str:
        text = (
            f"polled {self.feeds} feed{'s' if self.feeds != 1 else ''} in {self.elapsed_s:.1f} s: "
            f"{self.ok} ok, {self.unchanged} unchanged, {self.failed} failed"
        )
        if self.failures:
            text += " (" + ", ".join(f"{r} {n}" for r, n in sorted(self.failures.items(), key=lambda kv: (-kv[1], kv[0]))) + ")"
        if self.disabled:
            text += f", {self.disabled} disabled"
        if self.moved:
            text += f", {self.moved} moved"
        text += f"; {self.entries} entries, {self.new_articles} new articles, {self.duplicates} duplicates"
        if self.abandoned:
            text += f"; {self.abandoned} left for the next run"
        if self.error:
            text += f"; stopped early: {self.error}"
        return text


# --- schedule --------------------------------------------------------------------------------

_TTL = re.compile(rb"<ttl>\s*(\d{1,7})\s*</ttl>", re.I)
_SY_PERIOD = re.compile(rb"<sy:updatePeriod>\s*(hourly|daily|weekly|monthly|yearly)\s*</sy:updatePeriod>", re.I)
_SY_FREQUENCY = re.compile(rb"<sy:updateFrequency>\s*(\d{1,6})\s*</sy:updateFrequency>", re.I)
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


def _jitter(seconds: float) -> float:
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


def failure_delay(cfg: Settings, kind: FetchOutcome, failures: int, retry_after_s: float | None) -> float:
    """Seconds until the next try after `failures` failures in a row (this one included)."""
    if failures >= RARE_AFTER_FAILURES:
        delay = float(cfg.max_poll_interval_s)
    else:
        delay = cfg.min_poll_interval_s * FetchOutcome(kind).weight * (2 ** (max(failures, 1) - 1))
        delay = min(delay, cfg.max_poll_interval_s)
    if retry_after_s is not None:  # the server's own word wins, up to a day
        delay = max(delay, min(retry_after_s, MAX_RETRY_AFTER_S))
    return delay


# --- leases ----------------------------------------------------------------------------------


def new_owner() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Claim:
    """What one claim leased, and whether due feeds were left behind (their host already had its
    share of this round's feeds in hand, or another poller took them first): an empty claim with
    `more` set means "try again shortly", not "nothing is due"."""

    feeds: list[ClaimedFeed]
    more: bool = False


_CLAIM_COLUMNS = (
    feeds.c.id,
    feeds.c.url,
    feeds.c.name,
    feeds.c.status,
    feeds.c.etag,
    feeds.c.last_modified,
    feeds.c.body_hash,
    feeds.c.poll_interval_s,
    feeds.c.consecutive_failures,
    feeds.c.redirect_url,
    feeds.c.redirect_count,
)


def _due_conditions(owner: str, now: datetime, due_before: datetime, feed_ids: list[int] | None) -> list:
    cond = [
        feeds.c.enabled.is_(True),
        or_(feeds.c.lease_until.is_(None), feeds.c.lease_until < now),
        # never re-claim our own lease: a feed already queued in this round is not fetched twice
        or_(feeds.c.lease_owner.is_(None), feeds.c.lease_owner != owner),
    ]
    if feed_ids is not None:
        cond.append(feeds.c.id.in_(list(feed_ids)))
        cond.append(or_(feeds.c.last_fetch_at.is_(None), feeds.c.last_fetch_at < due_before))
    else:
        cond.append(or_(feeds.c.next_poll_at.is_(None), feeds.c.next_poll_at <= due_before))
    return cond


def _host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def pick_within_host_share(candidates: list[tuple[int, str]], limit: int, in_hand: Mapping[str, int], per_host: int) -> tuple[list[int], bool]:
    """The first `limit` candidate (id, url) pairs whose host has fewer than `per_host` feeds in
    hand (counting those picked here), and whether any due candidate was passed over."""
    taken: dict[str, int] = {}
    picked: list[int] = []
    passed = False
    for fid, url in candidates:
        if len(picked) >= limit:
            break
        host = _host_of(url)
        if in_hand.get(host, 0) + taken.get(host, 0) >= per_host:
            passed = True
            continue
        taken[host] = taken.get(host, 0) + 1
        picked.append(fid)
    return picked, passed


def claim_batch(
    db: Database,
    owner: str,
    limit: int,
    *,
    lease_s: int,
    due_before: datetime,
    feed_ids: list[int] | None = None,
    in_hand: Mapping[str, int] | None = None,
    per_host: int | None = None,
) -> Claim:
    """Lease up to `limit` due feeds for `owner` (SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite).

    With `per_host`, a host that already has that many feeds in hand (`in_hand`: claimed in
    this round and not yet fetched) gets no more: the claim takes other hosts' feeds instead, so
    one slow host with many due feeds cannot fill the round while workers wait on its lock.
    """
    now = utcnow()
    cond = _due_conditions(owner, now, due_before, feed_ids)
    order = (feeds.c.next_poll_at.asc().nulls_first(), feeds.c.id)
    more = False
    with db.write() as conn:
        if per_host is None:
            query = select(*_CLAIM_COLUMNS).where(and_(*cond)).order_by(*order).limit(limit)
        else:
            # Look past the hosts that have their share (up to CLAIM_SCAN rows, ids and URLs only,
            # unlocked), then lock just the feeds picked; one another poller took meanwhile is
            # skipped and the claim says there is more.
            scan = conn.execute(select(feeds.c.id, feeds.c.url).where(and_(*cond)).order_by(*order).limit(max(CLAIM_SCAN, limit))).all()
            picked, more = pick_within_host_share([(r.id, r.url) for r in scan], limit, in_hand or {}, per_host)
            if not picked:
                return Claim([], more)
            query = select(*_CLAIM_COLUMNS).where(and_(*cond), feeds.c.id.in_(picked)).order_by(*order)
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=feeds)
        rows = conn.execute(query).all()
        if per_host is not None and len(rows) < len(picked):
            more = True
        if not rows:
            return Claim([], more)
        conn.execute(
            update(feeds)
            .where(feeds.c.id.in_([r.id for r in rows]))
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_s))
        )
    return Claim([_claimed(r) for r in rows], more)


def _claimed(r) -> ClaimedFeed:
    return ClaimedFeed(
        id=r.id,
        url=r.url,
        name=r.name,
        status=r.status,
        etag=r.etag,
        last_modified=r.last_modified,
        body_hash=r.body_hash,
        poll_interval_s=r.poll_interval_s,
        consecutive_failures=r.consecutive_failures or 0,
        redirect_url=r.redirect_url,
        redirect_count=r.redirect_count or 0,
    )


def claim_due(
    db: Database, owner: str, limit: int, *, lease_s: int, due_before: datetime, feed_ids: list[int] | None = None
) -> list[ClaimedFeed]:
    """Lease up to `limit` due feeds for `owner`, whatever their hosts (see `claim_batch`)."""
    return claim_batch(db, owner, limit, lease_s=lease_s, due_before=due_before, feed_ids=feed_ids).feeds


def renew(db: Database, owner: str, feed_ids: list[int], lease_s: int) -> None:
    """Extend our leases on feeds still queued or in flight, so a long round keeps them."""
    if not feed_ids:
        return
    with db.write() as conn:
        conn.execute(
            update(feeds)
            .where(feeds.c.id.in_(feed_ids), feeds.c.lease_owner == owner)
            .values(lease_until=utcnow() + timedelta(seconds=lease_s))
        )


def release(db: Database, owner: str, feed_ids: list[int]) -> None:
    """Give back leases without polling (stop requested): the feeds stay due."""
    if not feed_ids:
        return
    with db.write() as conn:
        conn.execute(
            update(feeds)
            .where(feeds.c.id.in_(feed_ids), feeds.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )


# --- one feed's result -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    outcome: FetchOutcome
    reason: Reason | None
    detail: str | None
    entries: int = 0
    new_articles: int = 0
    duplicates: int = 0
    body_refused: bool = False  # the bytes came but were not a usable feed


def _parse_step(feed: ClaimedFeed, result: FetchResult, fetched_at: datetime) -> NormalizedFeed | _Outcome:
    """On a parse thread: the fetched body parsed and normalised in a sandboxed worker process, or
    the outcome that ends this feed's poll (fetch failure, not a feed, parse failure)."""
    if result.outcome is not FetchOutcome.OK:
        return _Outcome(result.outcome, result.reason, result.detail)
    not_feed = sniff_not_a_feed(result.body or b"")
    if not_feed:
        return _Outcome(FetchOutcome.SOFT, Reason.NOT_A_FEED, not_feed, body_refused=True)
    from monitor.parse import parse_articles

    try:
        return parse_articles(result.body, result.content_type, fetched_at=fetched_at)
    except ParseError as e:
        reason = Reason.of_parse_failure(e.reason)
        return _Outcome(reason.kind, reason, str(e)[:500], body_refused=True)


def _outcome_of(stats) -> _Outcome:
    notes = [f"ill-formed, kept what could be read: {w}" for w in stats.warnings.values()]
    if stats.rejected:
        notes.append("rejected: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.rejected.items())))
    return _Outcome(FetchOutcome.OK, None, "; ".join(notes) or None, stats.entries, stats.new_articles, stats.duplicates)


_STOP = object()


class _Writer:
    """The round's one database writer for documents and health, on its own thread.

    Several threads writing one SQLite file queue on its write lock with sleeps (SQLite's busy
    handler backs off up to 100 ms a try), which left the cores idle half of a cold poll; one
    writer never waits on itself, while the parse workers prepare the next documents. Documents
    that queued up while it was busy are stored together, up to STORE_BATCH in one transaction
    (`ingest.store_documents`: one commit instead of one each; a failure retries them one by one,
    so it stays the failing feed's own). The new articles go to `_Hooks` (tagging and alerts, on
    another thread), so a slow hook does not hold up storing.
    """

    def __init__(self, db: Database, hooks: "_Hooks"):
        import queue

        self.db = db
        self.hooks = hooks
        self.jobs: "queue.SimpleQueue" = queue.SimpleQueue()
        self.busy_s = 0.0
        self.thread = threading.Thread(target=self._run, name="poll-writer", daemon=True)
        self.thread.start()

    def submit(self, fn, *args) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self.jobs.put(("call", future, (fn, args)))
        return future

    def store(self, feed: ClaimedFeed, parsed, fetched_at: datetime) -> concurrent.futures.Future:
        """Store one document; the future gives (outcome, seconds spent on it)."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        self.jobs.put(("store", future, {"normalized": parsed, "source": feed.name, "feed_id": feed.id, "fetched_at": fetched_at}))
        return future

    def close(self) -> None:
        """Finish the queued jobs and stop the thread."""
        self.jobs.put(_STOP)
        self.thread.join()

    def _run(self) -> None:
        import queue

        carry = None
        while True:
            job, carry = (carry if carry is not None else self.jobs.get()), None
            if job is _STOP:
                return
            if job[0] == "call":
                self._call(job[1], *job[2])
                continue
            batch = [job]
            while len(batch) < STORE_BATCH:
                try:
                    more = self.jobs.get_nowait()
                except queue.Empty:
                    break
                if more is not _STOP and more[0] == "store":
                    batch.append(more)
                else:
                    carry = more
                    break
            self._store(batch)

    def _call(self, future: concurrent.futures.Future, fn, args) -> None:
        if not future.set_running_or_notify_cancel():
            return  # its feed was abandoned before the job started
        started = time.perf_counter()
        try:
            value = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the waiting feed
            future.set_exception(e)
        else:
            future.set_result(value)
        self.busy_s += time.perf_counter() - started

    def _store(self, batch: list[tuple]) -> None:
        from monitor.ingest import store_documents

        batch = [job for job in batch if job[1].set_running_or_notify_cancel()]
        if not batch:
            return
        started = time.perf_counter()
        try:
            results = store_documents(self.db, [document for _kind, _future, document in batch])
        except BaseException as e:  # noqa: BLE001
            if len(batch) == 1:
                batch[0][1].set_exception(e)
                self.busy_s += time.perf_counter() - started
                return
            results = None
        if results is None:  # one document spoilt the batch: each on its own, so it fails alone
            self.busy_s += time.perf_counter() - started
            for _kind, future, document in batch:
                one_started = time.perf_counter()
                try:
                    stats = store_documents(self.db, [document])[0]
                except BaseException as e:  # noqa: BLE001
                    future.set_exception(e)
                else:
                    self.hooks.add(stats.new_article_ids)
                    future.set_result((_outcome_of(stats), time.perf_counter() - one_started))
                self.busy_s += time.perf_counter() - one_started
            return
        spent = time.perf_counter() - started
        self.busy_s += spent
        for (_kind, future, _document), stats in zip(batch, results):
            self.hooks.add(stats.new_article_ids)
            future.set_result((_outcome_of(stats), spent / len(batch)))


class _Hooks:
    """Tagging and alerts (`ingest.run_hooks`) for the round's new articles, on their own thread,
    after their documents committed: in batches of HOOK_BATCH articles, or once no new article
    has come for HOOK_IDLE_S, and always before the round ends. Per-call costs (loading the
    models, compiling alert queries) are paid per batch, not per feed."""

    def __init__(self, db: Database, summary: "PollSummary"):
        self.db = db
        self.summary = summary
        self.ids: list[int] = []
        self.closing = False
        self.cond = threading.Condition()
        self.busy_s = 0.0
        self.thread = threading.Thread(target=self._run, name="poll-hooks", daemon=True)
        self.thread.start()

    def add(self, ids: list[int]) -> None:
        if not ids:
            return
        with self.cond:
            self.ids.extend(ids)
            self.cond.notify()

    def close(self) -> None:
        """Run the hooks on what is left, then stop the thread."""
        with self.cond:
            self.closing = True
            self.cond.notify()
        self.thread.join()

    def _run(self) -> None:
        from monitor.ingest import run_hooks

        while True:
            with self.cond:
                while not self.closing and len(self.ids) < HOOK_BATCH:
                    seen = len(self.ids)
                    self.cond.wait(HOOK_IDLE_S if seen else None)
                    if self.ids and len(self.ids) == seen:
                        break  # nothing new came for a while: do not keep the alerts waiting
                ids, self.ids = self.ids, []
                last = self.closing
            if ids:
                started = time.perf_counter()
                timings: dict[str, float] = {}
                run_hooks(self.db, ids, timings=timings)
                self.summary.tag_s += timings.get("tag", 0.0)
                self.summary.alert_s += timings.get("alerts", 0.0)
                self.busy_s += time.perf_counter() - started
            if last:
                return


def record(
    db: Database,
    cfg: Settings,
    owner: str,
    feed: ClaimedFeed,
    result: FetchResult,
    outcome: _Outcome,
    fetched_at: datetime,
    *,
    allow_private: bool,
    conn=None,
    events: list[dict] | None = None,
) -> dict:
    """Write the feed's health, schedule and fetch event in one transaction (or in `conn`'s);
    release the lease. With `events`, the fetch event is appended there for the caller to insert."""
    now = utcnow()
    values: dict = {"last_fetch_at": fetched_at, "lease_owner": None, "lease_until": None}
    effects = {"disabled": False, "moved": False}
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
            next_poll_at=now + timedelta(seconds=_jitter(interval)),
            etag=result.etag if result.etag is not None else feed.etag,
            last_modified=result.last_modified if result.last_modified is not None else feed.last_modified,
            body_hash=result.body_hash or feed.body_hash,
        )
    else:
        failures = feed.consecutive_failures + 1
        values.update(
            consecutive_failures=failures,
            error_count=feeds.c.error_count + 1,
            last_error_reason=(outcome.reason.value if outcome.reason else "error"),
            last_error=(outcome.detail or "")[:1000],
            next_poll_at=now + timedelta(seconds=_jitter(failure_delay(cfg, outcome.outcome, failures, result.retry_after_s))),
            status="failing",
        )
        if outcome.body_refused:
            # The body could not be used: forget validators and hash so the next poll reads it whole.
            values.update(etag=None, last_modified=None, body_hash=None)
        if outcome.reason is Reason.GONE:
            values.update(enabled=False, status="disabled", disabled_reason=outcome.detail or "410 Gone")
            effects["disabled"] = True

    redirect_target = result.permanent_redirect if outcome.outcome.succeeded else None
    if conn is not None:
        effects, event = _apply(conn, owner, feed, result, outcome, fetched_at, values, effects, redirect_target, allow_private)
        if event is not None:
            if events is None:
                _add_events(conn, [event])
            else:
                events.append(event)
        return effects
    with db.write() as conn:
        effects, event = _apply(conn, owner, feed, result, outcome, fetched_at, values, effects, redirect_target, allow_private)
        if event is not None:
            _add_events(conn, [event])
        return effects


def record_many(db: Database, cfg: Settings, owner: str, items: list[tuple], *, allow_private: bool) -> list[dict]:
    """`record` for several feeds in one transaction: re-polls of unchanged feeds are mostly
    this write, and one commit per batch, with the fetch events inserted and trimmed in one
    statement each, is what keeps them fast on SQLite."""
    events: list[dict] = []
    with db.write() as conn:
        effects = [record(db, cfg, owner, *item, allow_private=allow_private, conn=conn, events=events) for item in items]
        _add_events(conn, events)
    return effects


def _add_events(conn, events: list[dict]) -> None:
    """Insert fetch events, then keep only the last EVENTS_KEPT of each feed that got one."""
    if not events:
        return
    conn.execute(insert(fetch_events), events)
    ranked = (
        select(
            fetch_events.c.id,
            func.row_number().over(partition_by=fetch_events.c.feed_id, order_by=fetch_events.c.id.desc()).label("newer"),
        )
        .where(fetch_events.c.feed_id.in_(sorted({e["feed_id"] for e in events})))
        .subquery()
    )
    conn.execute(delete(fetch_events).where(fetch_events.c.id.in_(select(ranked.c.id).where(ranked.c.newer > EVENTS_KEPT))))


def _apply(conn, owner, feed, result, outcome, fetched_at, values, effects, redirect_target, allow_private) -> tuple[dict, dict | None]:
    if redirect_target and redirect_target != feed.url:
        count = feed.redirect_count + 1 if feed.redirect_url == redirect_target else 1
        values.update(redirect_url=redirect_target, redirect_count=count)
        if count >= REDIRECTS_TO_MOVE:
            try:
                target = validate_feed_url(redirect_target, allow_private=allow_private, resolve=False)
            except InputError:
                target = None
            taken = target and conn.execute(select(feeds.c.id).where(feeds.c.url == target, feeds.c.id != feed.id)).scalar()
            if target and not taken:
                values.update(url=target, redirect_url=None, redirect_count=0)
                effects["moved"] = True
    else:
        values.update(redirect_url=None, redirect_count=0)
    done = conn.execute(update(feeds).where(feeds.c.id == feed.id, feeds.c.lease_owner == owner).values(**values))
    if done.rowcount == 0:
        # Our lease expired and another poller took the feed, or the feed was removed:
        # its articles are stored already; the other poller writes the health.
        return effects, None
    detail = outcome.detail
    if effects["moved"]:
        detail = f"moved permanently to {values['url']}" + (f"; {detail}" if detail else "")
    event = {
        "feed_id": feed.id,
        "at": fetched_at,
        "outcome": outcome.outcome.value,
        "http_status": result.status,
        "reason": outcome.reason.value if outcome.reason else None,
        "detail": (detail or None) and detail[:1000],
        "duration_ms": result.duration_ms,
        "entries": outcome.entries if outcome.outcome is FetchOutcome.OK else None,
        "new_articles": outcome.new_articles if outcome.outcome is FetchOutcome.OK else None,
    }
    return effects, event


# --- a round ---------------------------------------------------------------------------------


def _interleave_hosts(batch: list[ClaimedFeed]) -> list[ClaimedFeed]:
    """Round-robin over hosts so one big site does not hold up everyone behind its host lock."""
    by_host: dict[str, list[ClaimedFeed]] = defaultdict(list)
    for f in batch:
        by_host[f.host].append(f)
    out: list[ClaimedFeed] = []
    queues = list(by_host.values())
    while queues:
        queues = [q for q in queues if q]
        for q in queues:
            out.append(q.pop(0))
    return out


async def _round(
    db: Database,
    cfg: Settings,
    *,
    concurrency: int,
    allow_private: bool,
    feed_ids: list[int] | None,
    stop_event: threading.Event | None,
    fetcher_options: dict,
    grace_s: float,
) -> PollSummary:
    """One round as a pipeline: fetch (event loop, `concurrency` at once, gated per host) ->
    parse (`pool_size()` threads, each driving a sandboxed worker process) -> store, tag, alert
    and health (one writer thread). Each stage works on the next feeds while the later ones work
    on the earlier ones, so the cores parse and store instead of waiting."""
    started = time.monotonic()
    summary = PollSummary()
    owner = new_owner()
    due_before = utcnow()
    loop = asyncio.get_running_loop()
    from monitor.parse import pool_size

    parsers = concurrent.futures.ThreadPoolExecutor(max_workers=pool_size(), thread_name_prefix="poll-parse")
    hooks = _Hooks(db, summary)
    writer = _Writer(db, hooks)
    # Claims and lease renewals get their own thread so a long write never delays a renewal.
    leases = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="poll-leases")
    gate = HostGate.for_database(db, cfg.host_spacing_s)
    # a poller elsewhere holds a host for one fetch and its gap at most; twice that is plenty
    host_wait_s = 2 * (cfg.fetch_timeout_s + max(cfg.host_spacing_s, MAX_GAP_S))
    queue: asyncio.Queue[ClaimedFeed] = asyncio.Queue()
    deferred: list[tuple[float, ClaimedFeed]] = []  # (retry at, feed): its host is busy in another poller
    first_deferred: dict[int, float] = {}
    claimed_ids: set[int] = set()
    finished_ids: set[int] = set()
    in_hand: Counter[str] = Counter()  # feeds per host claimed in this round and not yet fetched
    exhausted = False

    def stopping() -> bool:
        return stop_event is not None and stop_event.is_set()

    async def produce() -> None:
        nonlocal exhausted
        batch_size = max(4, concurrency * 2)
        try:
            while not stopping():
                # Feeds set aside for a host busy here do not fill the queue, so other hosts' feeds
                # keep coming; but at most 2 × concurrency wait aside, so one poller never hoards
                # a busy host's feeds that another poller could be fetching in turn.
                if queue.qsize() >= concurrency or len(deferred) >= 2 * concurrency:
                    await asyncio.sleep(0.02)
                    continue
                try:
                    claim = await loop.run_in_executor(
                        leases,
                        lambda: claim_batch(
                            db, owner, batch_size, lease_s=cfg.lease_seconds, due_before=due_before, feed_ids=feed_ids,
                            in_hand=dict(in_hand), per_host=HOST_SHARE,
                        ),
                    )
                except MonitorError as e:  # locked past the busy timeout, disk full, read-only
                    summary.error = f"could not claim feeds: {e}"  # the caller says it, once
                    return
                except Exception as e:  # a bug: still end the round instead of leaving workers waiting
                    log.exception("claiming feeds failed")
                    summary.error = f"could not claim feeds: {type(e).__name__}: {e}"
                    return
                if not claim.feeds:
                    if not claim.more:
                        break
                    await asyncio.sleep(0.05)  # every due host has its share in hand: wait for a turn
                    continue
                for f in _interleave_hosts(claim.feeds):
                    claimed_ids.add(f.id)
                    in_hand[f.host] += 1
                    queue.put_nowait(f)
        finally:
            # Workers stop once the queue is empty and this is set: whatever ends the producer
            # (no more due feeds, a failed claim, cancellation) must set it, or they wait for ever.
            exhausted = True

    def next_feed() -> ClaimedFeed | None:
        """A feed whose host is free in this poller. Feeds of a host busy here wait aside, so a
        slow host holds one worker, not all of them, and the producer keeps claiming others."""
        now = time.monotonic()
        for i, (at, f) in enumerate(deferred):
            if at <= now and not gate.busy_here(f.host):
                del deferred[i]
                return f
        while True:
            try:
                f = queue.get_nowait()
            except asyncio.QueueEmpty:
                return None
            if not gate.busy_here(f.host):
                return f
            deferred.append((now, f))

    async def work() -> None:
        while True:
            if stopping():
                return
            feed = next_feed()
            if feed is None:
                if exhausted and queue.empty() and not deferred:
                    return
                await asyncio.sleep(0.05 if deferred else 0.01)  # only busy hosts' feeds left: look less often
                continue
            stored: _Outcome | None = None  # its articles are committed: counted even if its health write fails
            try:
                if not await gate.acquire(feed.host):
                    # Another poller is fetching from this host: take other feeds meanwhile.
                    first = first_deferred.setdefault(feed.id, time.monotonic())
                    if time.monotonic() - first < host_wait_s:
                        deferred.append((time.monotonic() + random.uniform(0.05, 0.25), feed))
                    else:  # left leased, released at the end of the round: due again next round
                        in_hand[feed.host] -= 1
                        log.warning("host %s stayed busy in another poller; feed %s left for later", feed.host, feed.id)
                    continue
                asked = time.monotonic()
                try:
                    result = await fetcher.fetch(feed.url, etag=feed.etag, last_modified=feed.last_modified, previous_hash=feed.body_hash)
                finally:
                    gate.release(feed.host, time.monotonic() - asked)
                    in_hand[feed.host] -= 1
                fetched_at = utcnow()
                summary.fetch_s += result.duration_ms / 1000
                try:
                    parsed, parse_s = await loop.run_in_executor(parsers, _timed, _parse_step, feed, result, fetched_at)
                    summary.parse_s += parse_s
                    if isinstance(parsed, _Outcome):
                        outcome = parsed
                    else:
                        outcome, store_s = await asyncio.wrap_future(writer.store(feed, parsed, fetched_at))
                        summary.store_s += store_s
                        stored = outcome
                except MonitorError:
                    raise
                except Exception as e:  # a bug on one feed's bytes must not stop the round
                    log.exception("ingest of feed %s failed", feed.id)
                    outcome = _Outcome(Reason.INGEST_ERROR.kind, Reason.INGEST_ERROR, f"{type(e).__name__}: {e}"[:500], body_refused=True)
                done = loop.create_future()
                to_record.append(((feed, result, outcome, fetched_at), done))
                if len(to_record) >= RECORD_BATCH:
                    record_wanted.set()
                await done  # the feed counts as polled only once its health is written
            except MonitorError as e:  # the store refused (disk full, read-only): say so, keep going
                log.debug("poll of feed %s failed: %s", feed.id, e)  # the round's error says it once
                summary.failures[Reason.STORE_ERROR] = summary.failures.get(Reason.STORE_ERROR, 0) + 1
                summary.error = summary.error or f"the store refused to write: {e}"
                if stored is not None:  # the summary says exactly what the store holds
                    summary.entries += stored.entries
                    summary.new_articles += stored.new_articles
                    summary.duplicates += stored.duplicates
                finished_ids.add(feed.id)

    to_record: list[tuple[tuple, asyncio.Future]] = []
    record_wanted = asyncio.Event()

    async def write_records() -> None:
        # Health writes are batched: one transaction per RECORD_BATCH feeds or 50 ms, on the writer.
        while True:
            try:
                await asyncio.wait_for(record_wanted.wait(), timeout=0.05)
            except TimeoutError:
                pass
            record_wanted.clear()
            if not to_record:
                continue
            batch = to_record[:RECORD_BATCH]
            del to_record[: len(batch)]
            items = [item for item, _ in batch]
            try:
                effects, record_s = await asyncio.wrap_future(
                    writer.submit(lambda: _timed(record_many, db, cfg, owner, items, allow_private=allow_private))
                )
            except Exception as e:  # noqa: BLE001 - the feeds stay leased and come back after expiry
                log.debug("could not write the health of %d feeds: %s", len(items), e)  # the round's error says it once
                summary.failures[Reason.STORE_ERROR] = summary.failures.get(Reason.STORE_ERROR, 0) + len(items)
                summary.error = summary.error or f"the store refused to write: {e}"
                effects, record_s = [None] * len(items), 0.0
            summary.record_s += record_s
            for (item, done), effect in zip(batch, effects):
                feed, _result, outcome, _at = item
                if effect is not None:
                    _count(summary, outcome, effect)
                finished_ids.add(feed.id)
                if not done.done():
                    done.set_result(effect)
            if to_record:
                record_wanted.set()

    async def keep_leases() -> None:
        # A dead poller stops renewing, so its leases lapse after lease_seconds; a live one keeps
        # its queued and in-flight feeds however long the round takes.
        period = max(0.5, cfg.lease_seconds / 3)
        while True:
            await asyncio.sleep(period)
            pending_ids = sorted(claimed_ids - finished_ids)
            try:
                await loop.run_in_executor(leases, renew, db, owner, pending_ids, cfg.lease_seconds)
            except MonitorError as e:
                log.warning("could not renew leases: %s", e)

    try:
        async with Fetcher(allow_private=allow_private, settings=cfg, max_connections=max(concurrency * 2, 10), **fetcher_options) as fetcher:
            renewer = asyncio.create_task(keep_leases())
            recorder = asyncio.create_task(write_records())
            producer = asyncio.create_task(produce())
            tasks = [asyncio.create_task(work()) for _ in range(concurrency)]
            pending = {producer, *tasks}
            while pending:
                done, pending = await asyncio.wait(pending, timeout=0.1)
                if stopping() and pending:
                    # Let in-flight fetches finish within the grace period, then abandon them: their
                    # leases are released below, so the feeds are simply due again next time.
                    _done, pending = await asyncio.wait(pending, timeout=grace_s)
                    for t in pending:
                        t.cancel()
                    await asyncio.gather(*pending, return_exceptions=True)
                    pending = set()
            # results already fetched and stored are written before the round ends
            while to_record and not recorder.done():
                record_wanted.set()
                await asyncio.sleep(0.01)
            for t in (renewer, recorder):
                t.cancel()
            await asyncio.gather(renewer, recorder, return_exceptions=True)
            for t in (producer, *tasks):
                if t.done() and not t.cancelled() and t.exception() is not None:
                    log.error("poller task failed", exc_info=t.exception())
    finally:
        await gate.aclose()
        # Documents already being parsed or stored finish (whole transactions only), and their new
        # articles are tagged and alerted on, before we return.
        await loop.run_in_executor(None, lambda: (parsers.shutdown(wait=True), writer.close(), hooks.close()))
        leases.shutdown(wait=True)
    summary.writer_s = writer.busy_s
    summary.hooks_s = hooks.busy_s
    leftover = sorted(claimed_ids - finished_ids)
    if leftover:
        try:
            release(db, owner, leftover)
        except MonitorError as e:
            log.error("could not release leases (they expire by themselves): %s", e)
        summary.abandoned = len(leftover)
    summary.elapsed_s = time.monotonic() - started
    return summary


def _timed(fn, *args, **kwargs):
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - started


def _count(summary: PollSummary, outcome: _Outcome, effects: dict) -> None:
    summary.feeds += 1
    if outcome.outcome is FetchOutcome.OK:
        summary.ok += 1
    elif outcome.outcome.succeeded:
        summary.unchanged += 1
    else:
        summary.failed += 1
        reason = outcome.reason or "error"
        summary.failures[reason] = summary.failures.get(reason, 0) + 1
    summary.disabled += int(effects.get("disabled", False))
    summary.moved += int(effects.get("moved", False))
    summary.entries += outcome.entries
    summary.new_articles += outcome.new_articles
    summary.duplicates += outcome.duplicates


def poll_once(
    db: Database,
    *,
    concurrency: int | None = None,
    allow_private: bool = False,
    feed_ids: list[int] | None = None,
    stop_event: threading.Event | None = None,
    settings: Settings | None = None,
    grace_s: float | None = None,
    fetcher_options: dict | None = None,
) -> PollSummary:
    """Poll every feed due now (or exactly `feed_ids`, due or not) once; returns the summary.

    `allow_private` (or MONITOR_ALLOW_PRIVATE_NETWORKS) lets feeds on private addresses be
    fetched. `fetcher_options` go to `monitor.fetch.Fetcher` (tests: a resolver, a CA to trust).
    """
    cfg = settings or current_settings()
    concurrency = max(1, int(concurrency or cfg.poll_concurrency))
    coro = _round(
        db,
        cfg,
        concurrency=concurrency,
        allow_private=allow_private or cfg.allow_private_networks,
        feed_ids=list(feed_ids) if feed_ids is not None else None,
        stop_event=stop_event,
        fetcher_options=dict(fetcher_options or {}),
        grace_s=cfg.fetch_timeout_s if grace_s is None else grace_s,
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        summary = asyncio.run(coro)
    else:
        # Called from inside an event loop (a notebook, an async app): run the round on its own thread.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            summary = pool.submit(asyncio.run, coro).result()
    if summary.new_articles and not summary.error:  # a round that failed (a full disk) trains nothing
        from monitor import classify

        classify.bring_up_to_date(db)  # the round's end: train what it needs, tag what waits
    return summary


def seconds_until_due(db: Database, cap: float) -> float:
    """How long until the next feed is due (or a lease expires), at most `cap`."""
    now = utcnow()
    unleased = or_(feeds.c.lease_until.is_(None), feeds.c.lease_until < now)
    with db.read() as conn:
        # feeds another poller holds are not "due" for us until their lease lapses
        nxt = conn.execute(select(func.min(feeds.c.next_poll_at)).where(feeds.c.enabled.is_(True), unleased)).scalar()
        lease = conn.execute(select(func.min(feeds.c.lease_until)).where(feeds.c.lease_until >= now)).scalar()
    candidates = [t for t in (nxt, lease) if t is not None]
    if not candidates:
        return cap
    return max(1.0, min(cap, (min(candidates) - now).total_seconds() + 0.05))


def deliver_alerts(db: Database) -> None:
    """Send what the alerts outbox has due (digests, retries). Never breaks polling."""
    try:
        from monitor.alerts import deliver_due
    except ImportError:
        return
    try:
        deliver_due(db)
    except Exception:  # noqa: BLE001 - delivery trouble is recorded by the outbox itself
        log.exception("alert delivery failed")


def poll_forever(
    db: Database,
    stop_event: threading.Event,
    *,
    concurrency: int | None = None,
    allow_private: bool = False,
    settings: Settings | None = None,
    idle_s: float = 60.0,
    on_round=None,
    on_error=None,
    deliver: bool = True,
) -> PollSummary:
    """Poll rounds until `stop_event` is set; sleeps until the next feed is due (at most idle_s).

    When the event is set mid-round, in-flight fetches get the fetch deadline to finish and the
    rest of the claimed feeds are handed back, so nothing is lost. After each round the alerts
    outbox is drained (`monitor.alerts.deliver_due`) unless `deliver` is False. First, articles
    that a killed poller stored but never tagged or matched against alerts are caught up.

    A round that cannot claim feeds or fails on the store calls `on_error(reason)` and is tried
    again after `poll_retry_s`, so polling resumes by itself once the lock, disk or permission
    is fixed.
    """
    cfg = settings or current_settings()

    def failed(reason: str) -> None:
        log.error("poll round failed: %s; trying again in %g s", reason, cfg.poll_retry_s)
        if on_error is not None:
            on_error(reason)
        stop_event.wait(cfg.poll_retry_s)

    from monitor.ingest import resume_hooks

    def catch_up() -> bool:
        try:
            resumed = resume_hooks(db)
            if resumed:
                log.info("tagged and matched %d articles a stopped poller had left", resumed)
            return True
        except MonitorError as e:  # the store refuses for now: try again before the next round
            log.error("catching up on untagged articles failed: %s", e)
            return False
        except Exception:  # noqa: BLE001 - catching up must not keep the poller from polling
            log.exception("catching up on untagged articles failed")
            return True

    caught_up = False
    total = PollSummary()
    while not stop_event.is_set():
        caught_up = caught_up or catch_up()
        try:
            summary = poll_once(db, concurrency=concurrency, allow_private=allow_private, stop_event=stop_event, settings=settings)
        except MonitorError as e:
            failed(str(e))
            continue
        total.add(summary)
        if summary.error:
            if summary.feeds and on_round is not None:
                on_round(summary)
            failed(summary.error)
            continue
        warn_if_every_feed_failed(db, summary)
        if on_round is not None:
            on_round(summary)
        if stop_event.is_set():
            break
        if deliver:  # alert digests and retries fall due with the clock, not only with new articles
            deliver_alerts(db)
        try:
            wait = seconds_until_due(db, idle_s)
        except MonitorError:
            wait = idle_s
        stop_event.wait(wait)
    return total


def warn_if_every_feed_failed(db: Database, summary: PollSummary) -> None:
    """One server-log line per round in which every polled feed failed (no network, no DNS, a
    proxy needed): otherwise the poller goes on quietly and the archive silently stops growing."""
    if not summary.feeds or summary.failed < summary.feeds:
        return
    from monitor.feeds import all_feeds_failing

    try:
        trouble = all_feeds_failing(db)
    except MonitorError:
        trouble = None
    why = f": {trouble.explain()}" if trouble is not None else ""
    log.warning("every feed polled this round failed (%s)%s", summary, why)


# --- the dashboard's poller ------------------------------------------------------------------


@dataclass
class BackgroundPoller:
    thread: threading.Thread
    stop_event: threading.Event
    db_url: str
    rounds: int = 0
    last: PollSummary | None = None
    error: str | None = None  # why the last round failed; None once a round succeeds again

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def stop(self, timeout: float | None = None) -> None:
        self.stop_event.set()
        self.thread.join(timeout)


_background: BackgroundPoller | None = None
_background_lock = threading.Lock()


def start_background_poller(db: Database, *, settings: Settings | None = None) -> BackgroundPoller | None:
    """Start the process's one background poller (idempotent); None when the setting turns it off.

    Streamlit reruns the script on every interaction; the poller must start once per process,
    not once per rerun, so the handle lives at module level behind a lock.
    """
    global _background
    cfg = settings or current_settings()
    if not cfg.poll_in_dashboard:
        return None
    with _background_lock:
        if _background is not None and _background.running:
            return _background
        stop = threading.Event()
        handle = BackgroundPoller(thread=threading.Thread(), stop_event=stop, db_url=db.url)

        def run() -> None:
            def on_round(summary: PollSummary) -> None:
                handle.rounds += 1
                handle.last = summary
                handle.error = summary.error

            def on_error(reason: str) -> None:
                handle.error = reason

            while not stop.is_set():
                try:
                    poll_forever(db, stop, settings=cfg, on_round=on_round, on_error=on_error)
                except Exception:  # a bug must not silently end polling for the dashboard's lifetime
                    log.exception("background poller crashed; restarting in 30 s")
                    stop.wait(30)

        handle.thread = threading.Thread(target=run, name="monitor-background-poller", daemon=True)
        handle.thread.start()
        _background = handle
        return handle


def stop_background_poller(timeout: float | None = None) -> None:
    """Stop the background poller, if any (tests, clean shutdown)."""
    global _background
    with _background_lock:
        handle, _background = _background, None
    if handle is not None:
        handle.stop(timeout)
