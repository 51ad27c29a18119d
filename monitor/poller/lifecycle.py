"""What a poller does around its rounds, in one place for `poll --once`, `poll --forever` and the
dashboard's background poller: catch up (articles a killed poller stored but never tagged or
matched) -> poll a round -> deliver what the alerts outbox has due.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from monitor.config import Settings, settings as current_settings
from monitor.errors import MonitorError
from monitor.poller.leases import seconds_until_due
from monitor.poller.round import PollRound
from monitor.poller.summary import PollSummary
from monitor.store import Database

log = logging.getLogger("monitor.poller")


def poll_once(
    db: Database,
    *,
    concurrency: int | None = None,
    allow_private: bool = False,
    feed_ids: list[int] | None = None,
    stop_event: threading.Event | None = None,
    settings: Settings | None = None,
    grace_s: float | None = None,
    fetcher_options: dict[str, Any] | None = None,
) -> PollSummary:
    """Poll every feed due now (or exactly `feed_ids`, due or not) once; returns the summary.

    `allow_private` (or MONITOR_ALLOW_PRIVATE_NETWORKS) lets feeds on private addresses be
    fetched. `fetcher_options` go to `monitor.fetch.Fetcher` (tests: a resolver, a CA to trust).
    """
    cfg = settings or current_settings()
    poll_round = PollRound(
        db,
        cfg,
        concurrency=max(1, int(concurrency or cfg.poll_concurrency)),
        allow_private=allow_private or cfg.allow_private_networks,
        feed_ids=list(feed_ids) if feed_ids is not None else None,
        stop_event=stop_event,
        fetcher_options=dict(fetcher_options or {}),
        grace_s=cfg.fetch_timeout_s if grace_s is None else grace_s,
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        summary = asyncio.run(poll_round.run())
    else:
        # Called from inside an event loop (a notebook, an async app): run the round on its own thread.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            summary = pool.submit(lambda: asyncio.run(poll_round.run())).result()
    if summary.new_articles and not summary.error:  # a round that failed (a full disk) trains nothing
        from monitor import classify

        classify.bring_up_to_date(db)  # the round's end: train what it needs, tag what waits
    return summary


def catch_up(db: Database, *, strict: bool) -> bool:
    """Tag and match articles a stopped poller left; False when the store refused for now (try
    again before the next round). `strict` lets the store's refusal through (`poll --once`)."""
    from monitor.ingest import resume_hooks

    try:
        resumed = resume_hooks(db)
    except MonitorError as e:
        if strict:
            raise
        log.error("catching up on untagged articles failed: %s", e)
        return False
    except Exception:  # catching up must not keep the poller from polling
        if strict:
            raise
        log.exception("catching up on untagged articles failed")
        return True
    if resumed:
        log.info("tagged and matched %d articles a stopped poller had left", resumed)
    return True


def deliver_alerts(db: Database) -> None:
    """Send what the alerts outbox has due (digests, retries). Never breaks polling."""
    try:
        from monitor.alerts import deliver_due
    except ImportError:
        return
    try:
        deliver_due(db)
    except Exception:  # delivery trouble is recorded by the outbox itself
        log.exception("alert delivery failed")


@dataclass
class Cycle:
    """One catch-up -> round -> delivery."""

    summary: PollSummary
    caught_up: bool  # the catch-up ran (or was not needed); False: try it again next cycle


def poll_cycle(
    db: Database,
    *,
    catch_up_first: bool = True,
    strict: bool = False,
    deliver: bool = True,
    stop_event: threading.Event | None = None,
    **poll_options: Any,
) -> Cycle:
    """Catch up, poll one round, then deliver due alerts unless the round failed or a stop was
    asked for. `strict` (`poll --once`): a store that refuses the catch-up raises."""
    caught_up = catch_up(db, strict=strict) if catch_up_first else True
    summary = poll_once(db, stop_event=stop_event, **poll_options)
    stopped = stop_event is not None and stop_event.is_set()
    if deliver and not summary.error and not stopped:  # digests and retries fall due with the clock too
        deliver_alerts(db)
    return Cycle(summary, caught_up)


def poll_forever(
    db: Database,
    stop_event: threading.Event,
    *,
    concurrency: int | None = None,
    allow_private: bool = False,
    settings: Settings | None = None,
    idle_s: float = 60.0,
    on_round: Callable[[PollSummary], None] | None = None,
    on_error: Callable[[str], None] | None = None,
    deliver: bool = True,
) -> PollSummary:
    """Poll cycles until `stop_event` is set; sleeps until the next feed is due (at most idle_s).

    When the event is set mid-round, in-flight fetches get the fetch deadline to finish and the
    rest of the claimed feeds are handed back, so nothing is lost. After each round the alerts
    outbox is drained unless `deliver` is False.

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

    caught_up = False
    total = PollSummary()
    while not stop_event.is_set():
        try:
            cycle = poll_cycle(
                db, catch_up_first=not caught_up, deliver=deliver, stop_event=stop_event,
                concurrency=concurrency, allow_private=allow_private, settings=settings,
            )  # fmt: skip
        except MonitorError as e:
            failed(str(e))
            continue
        caught_up, summary = cycle.caught_up, cycle.summary
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
