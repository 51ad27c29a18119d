"""The round's two threads beside the event loop: one database writer, one hooks runner."""

from __future__ import annotations

import concurrent.futures
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monitor.poller.decisions import FeedOutcome, stored
from monitor.poller.leases import ClaimedFeed
from monitor.poller.summary import PollSummary
from monitor.store import Database

if TYPE_CHECKING:
    from monitor.ingest import DocumentToStore
    from monitor.parse import NormalizedFeed

STORE_BATCH = 8  # documents queued for the writer that are stored in one transaction
HOOK_BATCH = 500  # new articles handed to tagging and alerts at once (per-call costs amortised)
HOOK_IDLE_S = 0.2  # ...or as soon as no document has come for this long (alerts stay prompt)


@dataclass(frozen=True)
class CallJob:
    """Run `fn()` on the writer thread; the future gets its value or its exception."""

    fn: Callable[[], Any]
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)


@dataclass(frozen=True)
class StoreJob:
    """Store one parsed document of a feed; the future gets (FeedOutcome, seconds spent)."""

    feed: ClaimedFeed
    parsed: NormalizedFeed
    fetched_at: datetime
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)

    def document(self) -> DocumentToStore:
        from monitor.ingest import DocumentToStore

        return DocumentToStore(self.parsed, source=self.feed.name, feed_id=self.feed.id, fetched_at=self.fetched_at)


@dataclass(frozen=True)
class StopJob:
    """Finish what is queued before this, then end the thread."""


Job = CallJob | StoreJob | StopJob


class Writer:
    """The round's one database writer for documents and health, on its own thread.

    Several threads writing one SQLite file queue on its write lock with sleeps (SQLite's busy
    handler backs off up to 100 ms a try), which left the cores idle half of a cold poll; one
    writer never waits on itself, while the parse workers prepare the next documents. Documents
    that queued up while it was busy are stored together, up to STORE_BATCH in one transaction
    (`ingest.store_documents`: one commit instead of one each; a failure retries them one by one,
    so it stays the failing feed's own). The new articles go to `Hooks` (tagging and alerts, on
    another thread), so a slow hook does not hold up storing.
    """

    def __init__(self, db: Database, hooks: Hooks):
        self.db = db
        self.hooks = hooks
        self.jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self.busy_s = 0.0
        self.thread = threading.Thread(target=self._run, name="poll-writer", daemon=True)
        self.thread.start()

    def submit(self, fn: Callable[[], Any]) -> concurrent.futures.Future:
        job = CallJob(fn)
        self.jobs.put(job)
        return job.future

    def store(self, feed: ClaimedFeed, parsed: NormalizedFeed, fetched_at: datetime) -> concurrent.futures.Future:
        """Store one document; the future gives (outcome, seconds spent on it)."""
        job = StoreJob(feed, parsed, fetched_at)
        self.jobs.put(job)
        return job.future

    def close(self) -> None:
        """Finish the queued jobs and stop the thread."""
        self.jobs.put(StopJob())
        self.thread.join()

    def _run(self) -> None:
        carry: Job | None = None
        while True:
            job, carry = (carry if carry is not None else self.jobs.get()), None
            if isinstance(job, StopJob):
                return
            if isinstance(job, CallJob):
                self._call(job)
                continue
            batch = [job]
            while len(batch) < STORE_BATCH:
                try:
                    more = self.jobs.get_nowait()
                except queue.Empty:
                    break
                if isinstance(more, StoreJob):
                    batch.append(more)
                else:
                    carry = more
                    break
            self._store(batch)

    def _call(self, job: CallJob) -> None:
        if not job.future.set_running_or_notify_cancel():
            return  # its feed was abandoned before the job started
        started = time.perf_counter()
        try:
            value = job.fn()
        except BaseException as e:  # noqa: BLE001 - handed to the waiting feed
            job.future.set_exception(e)
        else:
            job.future.set_result(value)
        self.busy_s += time.perf_counter() - started

    def _store(self, batch: list[StoreJob]) -> None:
        from monitor.ingest import store_documents

        batch = [job for job in batch if job.future.set_running_or_notify_cancel()]
        if not batch:
            return
        started = time.perf_counter()
        try:
            results = store_documents(self.db, [job.document() for job in batch])
        except BaseException as e:  # noqa: BLE001
            self.busy_s += time.perf_counter() - started
            if len(batch) == 1:
                batch[0].future.set_exception(e)
            else:  # one document spoilt the batch: each on its own, so it fails alone
                self._store_one_by_one(batch)
            return
        spent = time.perf_counter() - started
        self.busy_s += spent
        for job, stats in zip(batch, results, strict=True):
            self.hooks.add(stats.new_article_ids)
            job.future.set_result((stored(stats), spent / len(batch)))

    def _store_one_by_one(self, batch: list[StoreJob]) -> None:
        from monitor.ingest import store_documents

        for job in batch:
            started = time.perf_counter()
            try:
                stats = store_documents(self.db, [job.document()])[0]
            except BaseException as e:  # noqa: BLE001
                job.future.set_exception(e)
            else:
                self.hooks.add(stats.new_article_ids)
                outcome: FeedOutcome = stored(stats)
                job.future.set_result((outcome, time.perf_counter() - started))
            self.busy_s += time.perf_counter() - started


class Hooks:
    """Tagging and alerts (`ingest.run_hooks`) for the round's new articles, on their own thread,
    after their documents committed: in batches of HOOK_BATCH articles, or once no new article
    has come for HOOK_IDLE_S, and always before the round ends. Per-call costs (loading the
    models, compiling alert queries) are paid per batch, not per feed."""

    def __init__(self, db: Database, summary: PollSummary):
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

    def _next_batch(self) -> tuple[list[int], bool]:
        with self.cond:
            while not self.closing and len(self.ids) < HOOK_BATCH:
                seen = len(self.ids)
                self.cond.wait(HOOK_IDLE_S if seen else None)
                if self.ids and len(self.ids) == seen:
                    break  # nothing new came for a while: do not keep the alerts waiting
            ids, self.ids = self.ids, []
            return ids, self.closing

    def _run(self) -> None:
        from monitor.ingest import run_hooks

        while True:
            ids, last = self._next_batch()
            if ids:
                started = time.perf_counter()
                timings: dict[str, float] = {}
                run_hooks(self.db, ids, timings=timings)
                self.summary.tag_s += timings.get("tag", 0.0)
                self.summary.alert_s += timings.get("alerts", 0.0)
                self.busy_s += time.perf_counter() - started
            if last:
                return
