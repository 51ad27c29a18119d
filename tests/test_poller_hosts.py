"""One slow host must not stall the others: two loopback hosts (127.0.0.1 and 127.0.0.2), a
slow one with many feeds claimed first and a quick one; the quick host's feeds are fetched while
the slow host's first request is still being answered, not after its queue."""

from __future__ import annotations

import threading
import time

import pytest

from monitor import feeds, poller
from monitor.config import Settings
from tests.feedserver import FeedServer, generated_feed

SLOW_FEEDS, QUICK_FEEDS = 5, 3


@pytest.fixture
def two_hosts():
    try:
        quick = FeedServer(host="127.0.0.2").start()
    except OSError:
        pytest.skip("127.0.0.2 is not a loopback address on this machine")
    with FeedServer(host="127.0.0.1") as slow:
        yield slow, quick
    quick.stop()


def test_a_slow_host_does_not_hold_up_another_hosts_feeds(db, two_hosts):
    slow, quick = two_hosts
    order: list[str] = []
    lock = threading.Lock()

    def answer(name: str, n: int, delay: float):
        def handler(request) -> None:
            with lock:
                order.append(name)
            time.sleep(delay)
            request._send(200, generated_feed(n, 2))

        return handler

    for i in range(SLOW_FEEDS):  # added first: the first claims are all of the slow host
        slow.handle(f"/slow/{i}", answer("slow", 500 + i, 1.2))
        feeds.add_feed(db, slow.url(f"/slow/{i}"), allow_private=True)
    for i in range(QUICK_FEEDS):
        quick.handle(f"/quick/{i}", answer("quick", 600 + i, 0.0))
        feeds.add_feed(db, quick.url(f"/quick/{i}"), allow_private=True)

    summary = poller.poll_once(db, allow_private=True, concurrency=2, settings=Settings(allow_private_networks=True))
    assert (summary.feeds, summary.ok) == (SLOW_FEEDS + QUICK_FEEDS, SLOW_FEEDS + QUICK_FEEDS), summary
    assert quick.peak_active <= 1 and slow.peak_active <= 1  # still one request at a time per host
    last_quick = max(i for i, name in enumerate(order) if name == "quick")
    second_slow = [i for i, name in enumerate(order) if name == "slow"][1]
    assert last_quick < second_slow, order  # the quick host did not wait for the slow host's queue
