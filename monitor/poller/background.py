"""The dashboard's poller: one `poll_forever` thread per process, whatever Streamlit reruns."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from monitor.config import Settings, settings as current_settings
from monitor.poller.lifecycle import poll_forever
from monitor.poller.summary import PollSummary
from monitor.store import Database

log = logging.getLogger("monitor.poller")


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


def background_poller() -> BackgroundPoller | None:
    """The process's background poller, if one was started."""
    return _background


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
        handle.thread = threading.Thread(target=_run, args=(db, cfg, handle), name="monitor-background-poller", daemon=True)
        handle.thread.start()
        _background = handle
        return handle


def _run(db: Database, cfg: Settings, handle: BackgroundPoller) -> None:
    def on_round(summary: PollSummary) -> None:
        handle.rounds += 1
        handle.last = summary
        handle.error = summary.error

    def on_error(reason: str) -> None:
        handle.error = reason

    while not handle.stop_event.is_set():
        try:
            poll_forever(db, handle.stop_event, settings=cfg, on_round=on_round, on_error=on_error)
        except Exception:  # a bug must not silently end polling for the dashboard's lifetime
            log.exception("background poller crashed; restarting in 30 s")
            handle.stop_event.wait(30)


def stop_background_poller(timeout: float | None = None) -> None:
    """Stop the background poller, if any (tests, clean shutdown)."""
    global _background
    with _background_lock:
        handle, _background = _background, None
    if handle is not None:
        handle.stop(timeout)
