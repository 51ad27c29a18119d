"""One poll round as a pipeline of named stages (after lemon24/reader's update pipeline):

    claim (leases) -> pick (a feed whose host is free) -> fetch (event loop, gated per host)
    -> parse (threads driving sandboxed worker processes) -> store (the writer thread; tagging
    and alerts follow on the hooks thread) -> record (health, batched on the writer thread)

Each stage works on the next feeds while the later ones work on the earlier ones, so the cores
parse and store instead of waiting. What each outcome means for a feed is decided by the pure
functions of `monitor.poller.decisions`; this module only moves feeds between stages.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from monitor.config import Settings
from monitor.errors import MonitorError, ParseError
from monitor.fetch import Fetcher, FetchResult
from monitor.hostgate import MAX_GAP_S, HostGate
from monitor.poller.decisions import (
    Effects,
    FeedOutcome,
    FeedResult,
    before_parse,
    ingest_failed,
    parse_failed,
)
from monitor.poller.leases import (
    HOST_SHARE,
    Claim,
    ClaimedFeed,
    claim_batch,
    new_owner,
    release,
    renew,
)
from monitor.poller.record import record_many
from monitor.poller.summary import PollSummary
from monitor.poller.workers import Hooks, Writer
from monitor.store import Database, utcnow

log = logging.getLogger("monitor.poller")

RECORD_BATCH = 64  # feeds whose health is written in one transaction
T = TypeVar("T")


def interleave_hosts(batch: list[ClaimedFeed]) -> list[ClaimedFeed]:
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


def parse_stage(result: FetchResult, fetched_at: datetime) -> Any:
    """On a parse thread: the fetched body parsed and normalised in a sandboxed worker process
    (a `NormalizedFeed`), or the `FeedOutcome` that ends this feed's poll."""
    early = before_parse(result)
    if early is not None:
        return early
    from monitor.parse import parse_articles

    try:
        return parse_articles(result.body or b"", result.content_type, fetched_at=fetched_at)
    except ParseError as e:
        return parse_failed(e)


def timed(fn: Callable[..., T], *args: Any) -> tuple[T, float]:
    started = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - started


class PollRound:
    """One round: `await PollRound(...).run()` gives its summary (see the module doc)."""

    def __init__(
        self,
        db: Database,
        cfg: Settings,
        *,
        concurrency: int,
        allow_private: bool,
        feed_ids: list[int] | None,
        stop_event: threading.Event | None,
        fetcher_options: dict[str, Any],
        grace_s: float,
    ):
        self.db, self.cfg = db, cfg
        self.concurrency = concurrency
        self.allow_private = allow_private
        self.feed_ids = feed_ids
        self.stop_event = stop_event
        self.fetcher_options = fetcher_options
        self.grace_s = grace_s
        self.summary = PollSummary()
        self.owner = new_owner()
        self.due_before = utcnow()
        # a poller elsewhere holds a host for one fetch and its gap at most; twice that is plenty
        self.host_wait_s = 2 * (cfg.fetch_timeout_s + max(cfg.host_spacing_s, MAX_GAP_S))
        self.queue: asyncio.Queue[ClaimedFeed] = asyncio.Queue()
        self.deferred: list[tuple[float, ClaimedFeed]] = []  # (retry at, feed): its host is busy
        self.first_deferred: dict[int, float] = {}
        self.claimed_ids: set[int] = set()
        self.finished_ids: set[int] = set()
        self.in_hand: Counter[str] = Counter()  # feeds per host claimed in this round, not yet fetched
        self.exhausted = False
        self.to_record: list[tuple[FeedResult, asyncio.Future[Effects | None]]] = []
        self.record_wanted = asyncio.Event()

    def stopping(self) -> bool:
        return self.stop_event is not None and self.stop_event.is_set()

    # --- the round ------------------------------------------------------------------------------

    async def run(self) -> PollSummary:
        started = time.monotonic()
        from monitor.parse_workers import pool_size

        self.loop = asyncio.get_running_loop()
        self.parsers = concurrent.futures.ThreadPoolExecutor(max_workers=pool_size(), thread_name_prefix="poll-parse")
        self.hooks = Hooks(self.db, self.summary)
        self.writer = Writer(self.db, self.hooks)
        # Claims and lease renewals get their own thread so a long write never delays a renewal.
        self.leases = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="poll-leases")
        self.gate = HostGate.for_database(self.db, self.cfg.host_spacing_s)
        try:
            max_connections = max(self.concurrency * 2, 10)
            async with Fetcher(allow_private=self.allow_private, settings=self.cfg, max_connections=max_connections, **self.fetcher_options) as fetcher:
                self.fetcher = fetcher
                await self._run_stages()
        finally:
            await self.gate.aclose()
            # Documents already being parsed or stored finish (whole transactions only), and their
            # new articles are tagged and alerted on, before we return.
            await self.loop.run_in_executor(None, self._close_threads)
            self.leases.shutdown(wait=True)
        self.summary.writer_s = self.writer.busy_s
        self.summary.hooks_s = self.hooks.busy_s
        self._release_leftovers()
        self.summary.elapsed_s = time.monotonic() - started
        return self.summary

    async def _run_stages(self) -> None:
        renewer = asyncio.create_task(self.keep_leases())
        recorder = asyncio.create_task(self.record_stage())
        producer = asyncio.create_task(self.claim_stage())
        workers = [asyncio.create_task(self.worker()) for _ in range(self.concurrency)]
        pending: set[asyncio.Task[None]] = {producer, *workers}
        while pending:
            _done, pending = await asyncio.wait(pending, timeout=0.1)
            if self.stopping() and pending:
                # Let in-flight fetches finish within the grace period, then abandon them: their
                # leases are released at the end, so the feeds are simply due again next time.
                _done, pending = await asyncio.wait(pending, timeout=self.grace_s)
                for t in pending:
                    t.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                pending = set()
        # results already fetched and stored are written before the round ends
        while self.to_record and not recorder.done():
            self.record_wanted.set()
            await asyncio.sleep(0.01)
        for t in (renewer, recorder):
            t.cancel()
        await asyncio.gather(renewer, recorder, return_exceptions=True)
        for t in (producer, *workers):
            if t.done() and not t.cancelled() and t.exception() is not None:
                log.error("poller task failed", exc_info=t.exception())

    def _close_threads(self) -> None:
        self.parsers.shutdown(wait=True)
        self.writer.close()
        self.hooks.close()

    def _release_leftovers(self) -> None:
        leftover = sorted(self.claimed_ids - self.finished_ids)
        if not leftover:
            return
        try:
            release(self.db, self.owner, leftover)
        except MonitorError as e:
            log.error("could not release leases (they expire by themselves): %s", e)
        self.summary.abandoned = len(leftover)

    # --- claim ------------------------------------------------------------------------------------

    async def claim_stage(self) -> None:
        """Claim due feeds in batches while the queue has room. Feeds set aside for a host busy
        here do not fill the queue, so other hosts' feeds keep coming; but at most 2 ×
        concurrency wait aside, and a host gets no more than HOST_SHARE feeds in hand, so one
        poller never hoards a busy host's feeds that another poller could be fetching in turn."""
        try:
            while not self.stopping():
                if self.queue.qsize() >= self.concurrency or len(self.deferred) >= 2 * self.concurrency:
                    await asyncio.sleep(0.02)
                    continue
                claim = await self._claim()
                if claim is None:
                    return
                if not claim.feeds:
                    if not claim.more:
                        break
                    await asyncio.sleep(0.05)  # every due host has its share in hand: wait for a turn
                    continue
                for f in interleave_hosts(claim.feeds):
                    self.claimed_ids.add(f.id)
                    self.in_hand[f.host] += 1
                    self.queue.put_nowait(f)
        finally:
            # Workers stop once the queue is empty and this is set: whatever ends the claims (no
            # more due feeds, a failed claim, cancellation) must set it, or they wait for ever.
            self.exhausted = True

    async def _claim(self) -> Claim | None:
        """The next batch, or None when claiming failed (the round's error says why)."""
        batch_size = max(4, self.concurrency * 2)
        in_hand = dict(self.in_hand)
        try:
            return await self.loop.run_in_executor(
                self.leases,
                lambda: claim_batch(
                    self.db, self.owner, batch_size, lease_s=self.cfg.lease_seconds, due_before=self.due_before,
                    feed_ids=self.feed_ids, in_hand=in_hand, per_host=HOST_SHARE,
                ),
            )  # fmt: skip
        except MonitorError as e:  # locked past the busy timeout, disk full, read-only
            self.summary.error = f"could not claim feeds: {e}"  # the caller says it, once
        except Exception as e:  # a bug: still end the round instead of leaving workers waiting
            log.exception("claiming feeds failed")
            self.summary.error = f"could not claim feeds: {type(e).__name__}: {e}"
        return None

    async def keep_leases(self) -> None:
        """A dead poller stops renewing, so its leases lapse after lease_seconds; a live one keeps
        its queued and in-flight feeds however long the round takes."""
        period = max(0.5, self.cfg.lease_seconds / 3)
        while True:
            await asyncio.sleep(period)
            pending_ids = sorted(self.claimed_ids - self.finished_ids)
            try:
                await self.loop.run_in_executor(self.leases, renew, self.db, self.owner, pending_ids, self.cfg.lease_seconds)
            except MonitorError as e:
                log.warning("could not renew leases: %s", e)

    # --- pick -------------------------------------------------------------------------------------

    def next_feed(self) -> ClaimedFeed | None:
        """A feed whose host is free in this poller. Feeds of a host busy here wait aside, so a
        slow host holds one worker, not all of them, and the claims go on with other hosts."""
        now = time.monotonic()
        for i, (at, f) in enumerate(self.deferred):
            if at <= now and not self.gate.busy_here(f.host):
                del self.deferred[i]
                return f
        while True:
            try:
                f = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                return None
            if not self.gate.busy_here(f.host):
                return f
            self.deferred.append((now, f))

    async def worker(self) -> None:
        while not self.stopping():
            feed = self.next_feed()
            if feed is None:
                if self.exhausted and self.queue.empty() and not self.deferred:
                    return
                await asyncio.sleep(0.05 if self.deferred else 0.01)  # only busy hosts' feeds left: look less often
                continue
            await self.poll_feed(feed)

    def _set_aside(self, feed: ClaimedFeed) -> None:
        """Another poller is fetching from this host: take other feeds meanwhile, for a while."""
        first = self.first_deferred.setdefault(feed.id, time.monotonic())
        if time.monotonic() - first < self.host_wait_s:
            self.deferred.append((time.monotonic() + random.uniform(0.05, 0.25), feed))
        else:  # left leased, released at the end of the round: due again next round
            self.in_hand[feed.host] -= 1
            log.warning("host %s stayed busy in another poller; feed %s left for later", feed.host, feed.id)

    # --- fetch, parse, store ----------------------------------------------------------------------

    async def poll_feed(self, feed: ClaimedFeed) -> None:
        """One feed through fetch, parse, store and record; a store that refuses is counted."""
        stored: FeedOutcome | None = None  # its articles are committed: counted even if its health write fails
        try:
            if not await self.gate.acquire(feed.host):
                self._set_aside(feed)
                return
            result = await self.fetch_stage(feed)
            fetched_at = utcnow()
            try:
                outcome, stored = await self.parse_and_store(feed, result, fetched_at)
            except MonitorError:
                raise
            except Exception as e:  # a bug on one feed's bytes must not stop the round
                log.exception("ingest of feed %s failed", feed.id)
                outcome = ingest_failed(e)
            written = await self.record(FeedResult(feed, result, outcome, fetched_at))
            if written is None and stored is not None:  # its health write failed; its articles are in
                self.summary.count_stored(stored)
        except MonitorError as e:  # the store refused (disk full, read-only): say so, keep going
            log.debug("poll of feed %s failed: %s", feed.id, e)  # the round's error says it once
            self.summary.store_refused(e)
            if stored is not None:  # the summary says exactly what the store holds
                self.summary.count_stored(stored)
            self.finished_ids.add(feed.id)

    async def fetch_stage(self, feed: ClaimedFeed) -> FetchResult:
        asked = time.monotonic()
        try:
            result = await self.fetcher.fetch(feed.url, etag=feed.etag, last_modified=feed.last_modified, previous_hash=feed.body_hash)
        finally:
            self.gate.release(feed.host, time.monotonic() - asked)
            self.in_hand[feed.host] -= 1
        self.summary.fetch_s += result.duration_ms / 1000
        return result

    async def parse_and_store(self, feed: ClaimedFeed, result: FetchResult, fetched_at: datetime) -> tuple[FeedOutcome, FeedOutcome | None]:
        """(the feed's outcome, the same when its articles were stored, else None)."""
        parsed, parse_s = await self.loop.run_in_executor(self.parsers, timed, parse_stage, result, fetched_at)
        self.summary.parse_s += parse_s
        if isinstance(parsed, FeedOutcome):
            return parsed, None
        outcome, store_s = await asyncio.wrap_future(self.writer.store(feed, parsed, fetched_at))
        self.summary.store_s += store_s
        return outcome, outcome

    # --- record -----------------------------------------------------------------------------------

    async def record(self, item: FeedResult) -> Effects | None:
        """Queue the feed's health write; the feed counts as polled only once it is written
        (None: the write failed, and the round's error says why)."""
        done: asyncio.Future[Effects | None] = self.loop.create_future()
        self.to_record.append((item, done))
        if len(self.to_record) >= RECORD_BATCH:
            self.record_wanted.set()
        return await done

    async def record_stage(self) -> None:
        """Health writes are batched: one transaction per RECORD_BATCH feeds or 50 ms, on the writer."""
        while True:
            try:
                await asyncio.wait_for(self.record_wanted.wait(), timeout=0.05)
            except TimeoutError:
                pass
            self.record_wanted.clear()
            if not self.to_record:
                continue
            batch = self.to_record[:RECORD_BATCH]
            del self.to_record[: len(batch)]
            await self._record_batch(batch)
            if self.to_record:
                self.record_wanted.set()

    async def _record_batch(self, batch: list[tuple[FeedResult, asyncio.Future[Effects | None]]]) -> None:
        items = [item for item, _ in batch]
        effects: list[Effects | None]
        try:
            written, record_s = await asyncio.wrap_future(
                self.writer.submit(lambda: timed(partial(record_many, self.db, self.cfg, self.owner, items, allow_private=self.allow_private)))
            )
            effects = list(written)
        except Exception as e:  # noqa: BLE001 - the feeds stay leased and come back after expiry
            log.debug("could not write the health of %d feeds: %s", len(items), e)  # the round's error says it once
            self.summary.store_refused(e, len(items))
            effects, record_s = [None] * len(items), 0.0
        self.summary.record_s += record_s
        for (item, done), effect in zip(batch, effects, strict=True):
            if effect is not None:
                self.summary.count(item.outcome, effect)
            self.finished_ids.add(item.feed.id)
            if not done.done():
                done.set_result(effect)
