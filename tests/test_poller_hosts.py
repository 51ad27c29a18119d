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


DRIP_FEEDS, GOOD_FEEDS, CONCURRENCY = 10, 6, 2


def test_many_feeds_of_a_slow_host_claimed_first_do_not_hold_up_another_hosts_feeds(db, two_hosts):
    """More than 2 × concurrency feeds of one dripping host come first in the due order; workers
    take the other host's feeds instead of waiting on the slow host's lock, so every good feed is
    fetched while the slow host is still on its first few."""
    slow, quick = two_hosts
    order: list[str] = []
    lock = threading.Lock()

    def drip(n: int):
        def handler(request) -> None:
            with lock:
                order.append("drip")
            body = generated_feed(n, 2)
            request.send_response(200)
            request.send_header("Content-Type", "application/rss+xml")
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            step = len(body) // 12 + 1
            for i in range(0, len(body), step):  # the whole feed, a piece every 0.1 s: about 1.2 s
                request.wfile.write(body[i : i + step])
                request.wfile.flush()
                time.sleep(0.1)

        return handler

    def good(n: int):
        def handler(request) -> None:
            with lock:
                order.append("good")
            request._send(200, generated_feed(n, 2))

        return handler

    for i in range(DRIP_FEEDS):  # added first: due first
        slow.handle(f"/drip/{i}", drip(700 + i))
        feeds.add_feed(db, slow.url(f"/drip/{i}"), allow_private=True)
    for i in range(GOOD_FEEDS):
        quick.handle(f"/good/{i}", good(800 + i))
        feeds.add_feed(db, quick.url(f"/good/{i}"), allow_private=True)
    assert DRIP_FEEDS > 2 * CONCURRENCY

    summary = poller.poll_once(db, allow_private=True, concurrency=CONCURRENCY, settings=Settings(allow_private_networks=True))
    assert (summary.feeds, summary.ok) == (DRIP_FEEDS + GOOD_FEEDS, DRIP_FEEDS + GOOD_FEEDS), summary
    assert order.count("good") == GOOD_FEEDS and order.count("drip") == DRIP_FEEDS
    assert slow.peak_active <= 1  # the slow host still gets one request at a time
    drips_before_last_good = order[: max(i for i, name in enumerate(order) if name == "good")].count("drip")
    # Waiting behind the slow host's queue, 7 of the 10 started first; taking the other host's
    # feeds instead, the good ones are done while the slow host is on its first few (a margin of
    # one for a busy machine, where a good feed's parse and store can take as long as a drip).
    assert drips_before_last_good <= 3, order


def test_a_claim_leaves_a_host_that_has_its_share_and_takes_other_hosts(db):
    for i in range(6):
        feeds.add_feed(db, f"http://127.0.0.1:9/a/{i}", allow_private=True)
    for i in range(2):
        feeds.add_feed(db, f"http://127.0.0.2:9/b/{i}", allow_private=True)
    now = poller.utcnow()
    first = poller.claim_batch(db, "me", 4, lease_s=60, due_before=now, in_hand={"127.0.0.1": 1}, per_host=3)
    assert sorted(f.host for f in first.feeds) == ["127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.2"]
    assert first.more  # feeds of the full host were left due
    full = poller.claim_batch(db, "me", 4, lease_s=60, due_before=now, in_hand={"127.0.0.1": 3, "127.0.0.2": 3}, per_host=3)
    assert full.feeds == [] and full.more  # "wait for a turn", not "nothing due"
    rest = poller.claim_batch(db, "me", 10, lease_s=60, due_before=now, in_hand={}, per_host=3)
    assert [f.host for f in rest.feeds] == ["127.0.0.1"] * 3 and rest.more  # three at most, one still due
    last = poller.claim_batch(db, "me", 10, lease_s=60, due_before=now, in_hand={}, per_host=3)
    assert len(last.feeds) == 1 and not last.more
    assert poller.claim_batch(db, "me", 10, lease_s=60, due_before=now, in_hand={}, per_host=3) == poller.Claim([], False)
