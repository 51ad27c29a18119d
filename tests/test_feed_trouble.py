"""When every feed fails (no network, no DNS, a proxy needed), the server log says so once a round."""

from __future__ import annotations

import logging
import socket
import threading

from monitor.feeds import add_feed, all_feeds_failing
from monitor.poller import poll_forever


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_feed_failing_is_logged_once_per_round_with_the_reason(sqlite_db, caplog):
    for i in range(3):
        add_feed(sqlite_db, f"http://127.0.0.1:{_closed_port()}/feed{i}.xml", allow_private=True)
    stop = threading.Event()
    rounds = []

    def on_round(summary):
        rounds.append(summary)
        stop.set()

    with caplog.at_level(logging.WARNING, logger="monitor.poller"):
        poll_forever(sqlite_db, stop, allow_private=True, on_round=on_round, deliver=False)
    warnings = [r.getMessage() for r in caplog.records if "every feed polled this round failed" in r.getMessage()]
    assert len(rounds) == 1 and len(warnings) == 1, warnings
    assert "connect_failed 3" in warnings[0] and "no feed server can be reached" in warnings[0]
    trouble = all_feeds_failing(sqlite_db)
    assert trouble is not None and trouble.feeds == 3 and trouble.reasons == [("connect_failed", 3)]


def test_one_working_feed_means_no_trouble(sqlite_db):
    add_feed(sqlite_db, "http://127.0.0.1:9/a.xml", allow_private=True)
    assert all_feeds_failing(sqlite_db) is None  # never fetched: not known to fail
