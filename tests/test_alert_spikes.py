"""Spike alerts on generated daily counts: a real spike fires (once, delivered); an artefact of
failing feeds is held back with the reason shown and not delivered."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import insert

from monitor import alerts
from monitor.alerts.spikes import SpikeSettings, assess
from monitor.store import utcnow
from monitor.store.schema import articles, feeds, fetch_events, tags
from tests.webhook import Receiver

CFG = SpikeSettings(sensitivity=3.0, baseline_days=14, min_count=5, failure_fraction=0.2)
# yesterday is the last closed day: the artefact; the day before it the real spike
START = utcnow().date() - timedelta(days=16)
SPIKE_DAY = START + timedelta(days=14)


def baseline(seed: int = 7) -> dict[date, tuple[int, int]]:
    """14 ordinary days: ~400 articles a day, ~5 % on the topic."""
    rng = random.Random(seed)
    out = {}
    for i in range(14):
        total = rng.randint(360, 440)
        out[START + timedelta(days=i)] = (round(total * rng.uniform(0.04, 0.06)), total)
    return out


def ok_feeds(days, n=30) -> dict[date, tuple[int, int]]:
    return {d: (0, n) for d in days}


def test_a_real_spike_fires():
    counts = baseline() | {SPIKE_DAY: (60, 410)}  # 15 % against ~5 %
    day = assess(SPIKE_DAY, counts, ok_feeds(counts), CFG)
    assert day.spike and day.held_reason is None
    assert day.share > day.threshold > day.baseline_mean


def test_an_ordinary_day_does_not_fire():
    counts = baseline() | {SPIKE_DAY: (22, 400)}
    assert not assess(SPIKE_DAY, counts, ok_feeds(counts), CFG).spike


def test_an_artefact_of_failing_feeds_is_held_back_with_the_reason():
    # 12 of 30 feeds failed: only the specialist feeds came through, the topic's share tripled
    counts = baseline() | {SPIKE_DAY: (20, 130)}
    failures = ok_feeds(counts) | {SPIKE_DAY: (12, 30)}
    day = assess(SPIKE_DAY, counts, failures, CFG)
    assert day.spike and day.held_reason
    assert "12 of 30 feeds failed" in day.held_reason and "usual volume" in day.held_reason
    # the same day without the failures would have fired
    assert assess(SPIKE_DAY, counts, ok_feeds(counts), CFG).held_reason is None


def test_a_real_spike_on_a_day_with_failures_still_fires():
    counts = baseline() | {SPIKE_DAY: (90, 300)}  # 90 articles is a spike even at the usual volume
    failures = ok_feeds(counts) | {SPIKE_DAY: (10, 30)}
    day = assess(SPIKE_DAY, counts, failures, CFG)
    assert day.spike and day.held_reason is None and "spike holds" in day.detail


@pytest.mark.parametrize(
    "counts, why",
    [
        ({START + timedelta(days=i): (0, 10) for i in range(14)} | {SPIKE_DAY: (3, 10)}, "below the minimum count"),
        ({START + timedelta(days=13): (5, 100), SPIKE_DAY: (50, 100)}, "not enough history"),
    ],
)
def test_no_spike_without_enough_evidence(counts, why):
    assert not assess(SPIKE_DAY, counts, ok_feeds(counts), CFG).spike, why


@pytest.mark.parametrize("sensitivity, fires", [(1.5, True), (12.0, False)])
def test_sensitivity_setting(sensitivity, fires):
    counts = baseline() | {SPIKE_DAY: (40, 400)}  # 10 %: well above noise, not enormous
    cfg = SpikeSettings(sensitivity, 14, 5, 0.2)
    assert assess(SPIKE_DAY, counts, ok_feeds(counts), cfg).spike is fires


# ---- in the store, through the alert ----------------------------------------------------


def generate(db, days: dict[date, tuple[int, int]], failures: dict[date, tuple[int, int]], topic: str) -> None:
    """Articles per day (topic-tagged ones first) and one fetch event per feed and day."""
    now = utcnow()
    n_feeds = max(f for _, f in failures.values())
    with db.write() as conn:
        feed_ids = [
            conn.execute(insert(feeds).values(url=f"https://f{i}.example.org/rss", name=f"F{i}", tags=[], created_at=now).returning(feeds.c.id)).scalar_one()
            for i in range(n_feeds)
        ]
        seq = 0
        for day, (count, total) in days.items():
            at = datetime.combine(day, datetime.min.time()) + timedelta(hours=12)
            rows = []
            for i in range(total):
                seq += 1
                rows.append(
                    dict(url_key=f"x.org/{seq}", title=f"Story {seq}", summary="", content="", source=f"F{i % n_feeds}", published_at=at, fetched_at=at, title_hash=f"{seq}", tag_status="tagged")
                )
            ids = conn.execute(insert(articles).returning(articles.c.id), rows).scalars().all()
            if count:
                conn.execute(
                    insert(tags),
                    [dict(article_id=a, kind="topic", target="", label=topic, score=0.9, model_version="t", published_at=at) for a in ids[:count]],
                )
            failing, _ = failures.get(day, (0, n_feeds))
            conn.execute(
                insert(fetch_events),
                [dict(feed_id=f, at=at, outcome="SOFT" if k < failing else "ok", reason="http_500" if k < failing else None) for k, f in enumerate(feed_ids)],
            )


def test_spike_alert_fires_once_and_holds_back_an_artefact_with_the_reason(db, cli):
    receiver = Receiver()
    try:
        counts = baseline() | {SPIKE_DAY: (60, 410), SPIKE_DAY + timedelta(days=1): (22, 130)}
        failures = ok_feeds(counts, 20) | {SPIKE_DAY + timedelta(days=1): (9, 20)}
        generate(db, counts, failures, "cybercrime")
        alerts.add_alert(db, "Cyber spike", kind="spike", topic="cybercrime", notify=[receiver.url()], allow_private=True)
        now = utcnow()
        for _ in range(2):  # evaluating again records nothing new
            days = alerts.evaluate_spikes(db, days=2, now=now)
        fired = {d.day: d for d in days if d.spike}
        assert set(fired) == {SPIKE_DAY, SPIKE_DAY + timedelta(days=1)}
        alerts.deliver_due(db, allow_private=True, now=now)
        (message,) = receiver.accepted()
        assert f"spike on {SPIKE_DAY}" in message.payload["title"]
        rows = {r.day.date(): r for r in alerts.list_inbox(db)}
        assert rows[SPIKE_DAY].delivery == "sent" and rows[SPIKE_DAY].held_reason is None
        held = rows[SPIKE_DAY + timedelta(days=1)]
        assert held.delivery == "held" and "9 of 20 feeds failed" in held.held_reason
        # the CLI shows the held-back day and its reason; nothing is sent again
        code, out, err = cli("alerts", "check", "--days", "30", "--allow-private-networks")
        assert code == 0, err
        assert "2 spike day(s)" in out and "held back: 9 of 20 feeds failed" in out
        code, out, _ = cli("alerts", "inbox")
        assert "held back" in out
        assert len(receiver.accepted()) == 1
    finally:
        receiver.close()
