"""Politeness (monitor.hostgate): one request at a time per host, a gap after each, and on
PostgreSQL one host lock shared by every poller (the two-process case is in test_poller.py)."""

from __future__ import annotations

import threading
import time

import pytest

from monitor import feeds, poller
from monitor.config import Settings
from monitor.hostgate import MAX_GAP_S, HostGate, SharedHostLocks
from monitor.store import Database
from tests.feedserver import FeedServer, generated_feed


@pytest.mark.parametrize(
    "spacing, busy, gap",
    [
        (0.02, 0.001, 0.02),  # a quick answer: the least gap
        (0.02, 0.5, 0.02),
        (0.02, 2.0, 2.0),  # a host that took 2 s gets 2 s of rest
        (0.02, 600.0, MAX_GAP_S),  # ...but never more than a few seconds
        (0.0, 0.0, 0.0),
    ],
)
def test_gap_is_the_spacing_or_the_last_answer_time_capped(spacing, busy, gap):
    assert HostGate(spacing).gap(busy) == gap


def test_requests_to_one_host_are_spaced(db):
    """Each request to the host starts at least the spacing after the previous answer ended."""
    spans, lock = [], threading.Lock()

    def timed(handler):
        started = time.monotonic()
        body = generated_feed(7, 1)
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()
        with lock:
            spans.append((started, time.monotonic()))

    with FeedServer() as srv:
        for i in range(4):
            srv.handle(f"/spaced/{i}", timed)
            feeds.add_feed(db, srv.url(f"/spaced/{i}"), allow_private=True)
        summary = poller.poll_once(db, allow_private=True, concurrency=4, settings=Settings(host_spacing_s=0.3))
    assert summary.feeds == 4 and summary.failed == 0
    spans.sort()
    for (_, ended), (started, _) in zip(spans, spans[1:]):
        assert started - ended >= 0.3 - 0.01


def test_two_rounds_in_one_process_take_turns_on_a_host(db):
    """The dashboard's background poller and its "poll now" run in one process: their rounds
    share the host locks too, so the host never sees two requests at once."""
    with FeedServer() as one_host:
        ids = [feeds.add_feed(db, one_host.url(f"/gen/{5000 + i}?entries=1&delay=0.05"), allow_private=True) for i in range(12)]
        summaries = []

        def round_(part: list[int]) -> None:
            summaries.append(poller.poll_once(db, allow_private=True, feed_ids=part, concurrency=3))

        threads = [threading.Thread(target=round_, args=(ids[k::2],)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(s.feeds for s in summaries) == [6, 6]
        assert one_host.peak_active == 1


def test_a_host_lock_is_shared_between_sessions(postgres_url):
    """Two pollers' lock connections on PostgreSQL: while one holds a host, the other cannot
    take it. (SQLite's lock file excludes other processes only: test_poller runs two of them.)"""
    db = Database(postgres_url)
    db.init()
    a, b = SharedHostLocks(db), SharedHostLocks(db)
    try:
        assert a.try_lock("news.example.org")
        assert not b.try_lock("news.example.org")
        assert b.try_lock("other.example.org")  # other hosts are free
        a.unlock("news.example.org")
        assert b.try_lock("news.example.org")
    finally:
        a.close()
        b.close()
        db.dispose()
