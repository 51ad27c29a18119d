"""The poller against a real loopback server and real databases: schedule, failures, redirects,
410, leases, many pollers, clean stops, a killed poller that loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from monitor import feeds, poller
from monitor.config import Settings
from monitor.store import utcnow
from monitor.store.schema import articles, feeds as feeds_table, fetch_events
from tests.feedserver import REPO, FeedServer, generated_feed, wait_until

REAL = ["bbc-news-home__bbc.xml", "lenta-ru__lenta.xml", "meduza__meduza.xml"]
CFG = Settings()


@pytest.fixture(scope="module")
def srv():
    with FeedServer() as s:
        yield s


def add(db, srv, path: str) -> int:
    return feeds.add_feed(db, srv.url(path), allow_private=True)


def poll(db, ids=None, **kw) -> poller.PollSummary:
    return poller.poll_once(db, allow_private=True, feed_ids=ids, concurrency=kw.pop("concurrency", 4), **kw)


def row(db, fid: int) -> feeds.FeedRow:
    return next(f for f in feeds.list_feeds(db) if f.id == fid)


def count_articles(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(articles)).scalar()


def events(db, fid: int) -> list[str]:
    return [e.outcome for e in feeds.recent_fetch_events(db, fid)]


def test_real_feeds_are_stored_then_not_parsed_again(db, srv, shared_data):
    ids = [add(db, srv, f"/real/{REAL[0]}"), add(db, srv, f"/plain/{REAL[2]}")]
    first = poll(db)
    assert (first.feeds, first.ok, first.failed) == (2, 2, 0) and first.new_articles > 50
    stored = count_articles(db)
    assert stored == first.new_articles
    for fid in ids:
        r = row(db, fid)
        assert r.status == "ok" and r.last_success_at and r.next_poll_at > utcnow() and r.consecutive_failures == 0
    again = poll(db, ids)  # 304 for the one with validators, identical body for the plain one
    assert (again.unchanged, again.new_articles) == (2, 0)
    assert count_articles(db) == stored
    assert events(db, ids[0]) == ["not_modified", "ok"] and events(db, ids[1]) == ["unchanged", "ok"]


def test_nothing_is_due_twice(db, srv):
    add(db, srv, "/gen/20?entries=0")
    assert poll(db).feeds == 1
    assert poll(db).feeds == 0  # next poll is in the future


# each failure is soft, reasoned, backed off, and stores nothing
def _closed_port() -> int:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize(
    "path, reason",
    [
        ("/status/404", "not_found"),
        ("/status/500", "server_error"),
        ("/status/502", "server_error"),
        ("/status/504", "server_error"),
        ("/status/401", "forbidden"),
        ("/status/403", "forbidden"),
        ("/html", "not_a_feed"),
        ("/json", "not_a_feed"),
        ("/empty", "empty"),
        ("/gzip-truncated", "truncated"),
        ("refused", "connect_failed"),
    ],
)
def test_failures_are_soft_with_a_reason(db, srv, path, reason):
    url = f"http://127.0.0.1:{_closed_port()}/feed" if path == "refused" else srv.url(path)
    fid = feeds.add_feed(db, url, allow_private=True)
    summary = poll(db)
    assert summary.failed == 1 and summary.failures == {reason: 1}
    r = row(db, fid)
    assert (r.status, r.last_error_reason, r.consecutive_failures, r.enabled) == ("failing", reason, 1, True)
    assert r.last_error and r.next_poll_at > utcnow() + timedelta(seconds=CFG.min_poll_interval_s * 0.4)
    assert count_articles(db) == 0


def test_backoff_grows_is_capped_and_recovers(db, srv):
    srv.set("/flaky", generated_feed(31, 5))
    fid = add(db, srv, "/flaky")
    poll(db)
    stored = count_articles(db)
    assert stored == 5
    srv.set("/flaky", b"down", status=500)
    delays = []
    for _ in range(8):
        poll(db, [fid])
        r = row(db, fid)
        delays.append((r.next_poll_at - r.last_fetch_at).total_seconds())
    assert row(db, fid).consecutive_failures == 8
    assert delays[1] > delays[0] * 1.5 and delays[2] > delays[1] * 1.5  # grows
    assert max(delays) <= CFG.max_poll_interval_s * 1.11  # capped (plus jitter)
    assert count_articles(db) == stored  # nothing stored is touched
    srv.set("/flaky", generated_feed(31, 7))
    summary = poll(db, [fid])
    r = row(db, fid)
    assert summary.ok == 1 and r.status == "ok" and r.consecutive_failures == 0 and r.error_count == 8
    assert count_articles(db) == 7


# Retry-After is honoured, capped at a day
@pytest.mark.parametrize(
    "value, low, high",
    [
        ("7200", 7200 * 0.9, 7200 * 1.11),
        ("31536000", 86400 * 0.9, 86400 * 1.11),  # one year -> one day
        ("not-a-date", 0.5 * 600 * 0.9, 0.5 * 600 * 1.11),  # garbage ignored: normal TEMP backoff
    ],
)
def test_retry_after_is_honoured_and_capped(db, srv, value, low, high):
    fid = add(db, srv, f"/status/429?retry-after={value}")
    poll(db)
    r = row(db, fid)
    wait = (r.next_poll_at - r.last_fetch_at).total_seconds()
    assert r.last_error_reason == "rate_limited"
    assert low <= wait <= high


# 410 Gone disables the feed, with its reason
def test_410_disables_the_feed_with_its_reason(db, srv):
    fid = add(db, srv, "/status/410")
    summary = poll(db)
    assert summary.disabled == 1
    r = row(db, fid)
    assert not r.enabled and r.status == "disabled" and "410" in r.disabled_reason
    hits = srv.seen("/status/410")
    with db.write() as conn:
        conn.execute(update(feeds_table).values(next_poll_at=utcnow() - timedelta(seconds=1)))
    assert poll(db).feeds == 0
    assert srv.seen("/status/410") == hits


# only consistent permanent redirects move the stored URL
@pytest.mark.parametrize("code, moves", [(301, True), (308, True), (302, False), (307, False)])
def test_permanent_redirects_move_the_url_after_two_in_a_row(db, srv, code, moves):
    target = srv.url(f"/gen/{40 + code}?entries=0")
    old = f"/moved-{code}"
    srv.set(old, b"", status=code, headers={"Location": target})
    fid = add(db, srv, old)
    poll(db, [fid])
    assert row(db, fid).url == srv.url(old)  # one redirect is not yet "consistent"
    poll(db, [fid])
    poll(db, [fid])
    assert row(db, fid).url == (target if moves else srv.url(old))
    assert row(db, fid).status == "ok"


def test_a_permanent_redirect_that_changes_target_does_not_move_the_url(db, srv):
    old = "/wobbly"
    fid = add(db, srv, old)
    for n in (50, 51, 52):
        srv.set(old, b"", status=301, headers={"Location": srv.url(f"/gen/{n}?entries=0")})
        poll(db, [fid])
    assert row(db, fid).url == srv.url(old)


# the feed's own hints
@pytest.mark.parametrize(
    "extra, headers, at_least",
    [
        ("<ttl>300</ttl>", {}, 300 * 60),
        ("<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>", {}, 43200),
        ("", {"Cache-Control": "public, max-age=14400"}, 14400),
    ],
)
def test_feed_hints_set_a_floor_on_the_interval(db, srv, extra, headers, at_least):
    body = generated_feed(60, 0).replace(b"<description>test</description>", b"<description>test</description>" + extra.encode())
    body = body.replace(b'<rss version="2.0">', b'<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">')
    path = f"/hinted-{at_least}"
    srv.set(path, body, headers=headers)
    fid = add(db, srv, path)
    poll(db)
    assert row(db, fid).poll_interval_s >= at_least


@pytest.mark.parametrize(
    "previous, first, entries, new, hint, expected",
    [
        (None, True, 20, 20, None, 3600),  # first poll: the default
        (3600, False, 20, 20, None, 2400),  # all new: shorter
        (3600, False, 20, 0, None, 5400),  # all known: longer
        (3600, False, 20, 10, None, 3600),  # half new: unchanged
        (700, False, 20, 20, None, 600),  # never below the minimum
        (80000, False, 0, 0, None, 86400),  # never above the maximum
        (3600, False, 20, 20, 7200, 7200),  # never below the feed's hint
    ],
)
def test_success_interval_adapts_within_bounds(previous, first, entries, new, hint, expected):
    assert poller.success_interval(CFG, previous, first=first, entries=entries, new=new, hint_s=hint) == expected


def test_failure_delay_is_graded_and_capped():
    soft = [poller.failure_delay(CFG, "SOFT", n, None) for n in range(1, 12)]
    assert soft[0] == CFG.min_poll_interval_s and soft == sorted(soft) and soft[-1] == CFG.max_poll_interval_s
    assert poller.failure_delay(CFG, "TEMP", 1, None) < poller.failure_delay(CFG, "SOFT", 1, None) < poller.failure_delay(CFG, "HARD", 1, None)
    assert poller.failure_delay(CFG, "TEMP", 1, 10 * 365 * 86400) == 86400
    assert poller.failure_delay(CFG, "SOFT", 40, None) == CFG.max_poll_interval_s


def test_only_the_last_30_fetch_events_are_kept(db, srv):
    fid = add(db, srv, "/gen/70?entries=0")
    for _ in range(33):
        poll(db, [fid])
    with db.read() as conn:
        n = conn.execute(select(func.count()).select_from(fetch_events).where(fetch_events.c.feed_id == fid)).scalar()
    assert n == poller.EVENTS_KEPT


def test_at_most_one_request_at_a_time_per_host(db, srv):
    active, peak, lock = [0], [0], threading.Lock()

    def slow(handler):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        body = generated_feed(80, 0)
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    for i in range(6):
        srv.handle(f"/one-host/{i}", slow)
        add(db, srv, f"/one-host/{i}")
    assert poll(db, concurrency=6).feeds == 6
    assert peak[0] == 1


# --- leases ------------------------------------------------------------------------------------


def test_a_leased_feed_is_not_claimed_again_until_the_lease_expires(db, srv):
    add(db, srv, "/gen/90")
    add(db, srv, "/gen/91")
    now = utcnow() + timedelta(seconds=1)
    mine = poller.claim_due(db, "poller-a", 10, lease_s=1, due_before=now)
    assert len(mine) == 2
    assert poller.claim_due(db, "poller-b", 10, lease_s=1, due_before=now) == []
    time.sleep(1.2)
    theirs = poller.claim_due(db, "poller-b", 10, lease_s=60, due_before=utcnow())
    assert sorted(f.id for f in theirs) == sorted(f.id for f in mine)


def test_released_leases_make_feeds_due_again(db, srv):
    fid = add(db, srv, "/gen/92")
    claimed = poller.claim_due(db, "poller-a", 10, lease_s=600, due_before=utcnow())
    poller.release(db, "poller-a", [f.id for f in claimed])
    assert [f.id for f in poller.claim_due(db, "poller-b", 10, lease_s=60, due_before=utcnow())] == [fid]


def _subprocess_env(**extra) -> dict:
    env = dict(os.environ)
    env.update({"MONITOR_SEED_DEFAULT_FEEDS": "0", "PYTHONPATH": str(REPO), **extra})
    return env


def _poller_process(db_url: str, *args: str, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--db", db_url, "poll", "--allow-private-networks", *args],
        cwd=REPO,
        env=_subprocess_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


ENTRIES = 5


def n_feeds(db) -> int:
    """200 feeds on PostgreSQL (the acceptance case); 40 on SQLite, where claims are serialised
    anyway and the point is that a second poller is safe."""
    return 40 if db.is_sqlite else 200


def _add_generated(db, srv, offset: int, delay: float, count: int | None = None, entries: int = ENTRIES) -> list[str]:
    paths = [f"/gen/{offset + i}" for i in range(count or n_feeds(db))]
    feeds.import_opml(
        db,
        (
            '<?xml version="1.0"?><opml version="2.0"><body>'
            + "".join(f'<outline type="rss" text="g{p}" xmlUrl="{srv.url(p)}?entries={entries}&amp;delay={delay}"/>' for p in paths)
            + "</body></opml>"
        ).encode(),
        allow_private=True,
    )
    return paths


def _assert_all_stored_once(db, n_feeds: int) -> None:
    with db.read() as conn:
        total = conn.execute(select(func.count()).select_from(articles)).scalar()
        distinct = conn.execute(select(func.count(func.distinct(articles.c.url_key)))).scalar()
        states = dict(conn.execute(select(feeds_table.c.status, func.count()).group_by(feeds_table.c.status)).all())
        leased = conn.execute(select(func.count()).select_from(feeds_table).where(feeds_table.c.lease_owner.is_not(None))).scalar()
    assert total == distinct == n_feeds * ENTRIES
    assert states == {"ok": n_feeds}
    assert leased == 0


def test_documents_stored_together_give_each_its_own_stats_and_nothing_twice(db):
    """The writer stores queued documents in one transaction (`ingest.store_documents`): each
    keeps its own counts, in order, a story in two of them is one article, a re-run adds nothing."""
    from monitor.ingest import DocumentToStore, store_documents
    from monitor.parse import parse_articles

    shared = generated_feed(4000, 3)  # the same three stories in two feeds
    bodies = [generated_feed(4001, 5), shared, shared, generated_feed(4002, 0)]
    docs = [
        DocumentToStore(parse_articles(body, fetched_at=utcnow()), source=f"source {chr(90 - i)}")
        for i, body in enumerate(bodies)
    ]
    first = store_documents(db, docs)
    assert [s.entries for s in first] == [5, 3, 3, 0]
    assert (first[0].new_articles, first[3].new_articles) == (5, 0)
    # one of the two copies stores the stories, the other sees them as duplicates
    assert sorted((s.new_articles, s.duplicates) for s in first[1:3]) == [(0, 3), (3, 0)]
    assert count_articles(db) == 8
    again = store_documents(db, docs)
    assert [s.new_articles for s in again] == [0, 0, 0, 0] and count_articles(db) == 8


def test_two_pollers_share_the_feeds_without_fetching_any_twice(db, db_url, srv):
    """Acceptance: two pollers, one database, 200 feeds: each feed fetched once, each article stored once."""
    paths = _add_generated(db, srv, 1000, delay=0.01)
    before = {p: srv.seen(p) for p in paths}
    procs = [_poller_process(db_url, "--once", "--concurrency", "4") for _ in range(2)]
    outputs = [p.communicate(timeout=900) for p in procs]
    for p, (_out, err) in zip(procs, outputs):
        assert p.returncode == 0, err
    fetched = {p: srv.seen(p) - before[p] for p in paths}
    assert set(fetched.values()) == {1}
    per_poller = [int(out.split("polled ")[1].split(" ")[0]) for out, _ in outputs]
    assert sum(per_poller) == len(paths)
    _assert_all_stored_once(db, len(paths))


def test_two_pollers_never_fetch_from_one_host_at_once(db, db_url):
    """Politeness across processes: every feed on one host, two pollers with 4 fetches each in
    flight; the host still sees one request at a time (a PostgreSQL advisory lock per host, or a
    byte-range lock in the SQLite file's `-hosts` lock file)."""
    with FeedServer() as one_host:
        paths = _add_generated(db, one_host, 3000, 0.05, count=24, entries=2)
        procs = [_poller_process(db_url, "--once", "--concurrency", "4") for _ in range(2)]
        outputs = [p.communicate(timeout=300) for p in procs]
        for p, (_out, err) in zip(procs, outputs):
            assert p.returncode == 0, err
        assert sorted(one_host.seen(p) for p in paths) == [1] * len(paths)
        assert one_host.peak_active == 1
        per_poller = [int(out.split("polled ")[1].split(" ")[0]) for out, _ in outputs]
        assert sum(per_poller) == len(paths) and min(per_poller) > 0  # both took part


def test_a_killed_poller_loses_nothing_and_its_leases_come_back(db, db_url, srv):
    """kill -9 mid-round: its leased feeds stay untouched until the lease lapses,
    then another poller takes them; every article ends up stored exactly once."""
    paths = _add_generated(db, srv, 2000, delay=0.03)
    before = sum(srv.seen(p) for p in paths)
    victim = _poller_process(db_url, "--once", "--concurrency", "2", MONITOR_LEASE_SECONDS="5")
    assert wait_until(lambda: sum(srv.seen(p) for p in paths) - before >= len(paths) // 10, timeout=300)
    victim.kill()  # SIGKILL: no cleanup at all
    victim.communicate(timeout=60)
    with db.read() as conn:
        stuck = set(conn.execute(select(feeds_table.c.id).where(feeds_table.c.lease_until > utcnow())).scalars())
        lapse = conn.execute(select(func.max(feeds_table.c.lease_until))).scalar()
    assert stuck  # it died holding leases
    probe = poller.claim_due(db, "probe", 10_000, lease_s=60, due_before=utcnow())
    assert probe and not ({f.id for f in probe} & stuck)  # still leased: nobody else takes them
    poller.release(db, "probe", [f.id for f in probe])
    time.sleep(max(0.0, (lapse - utcnow()).total_seconds()) + 0.2)
    late = poller.poll_once(db, allow_private=True, concurrency=4, settings=Settings(lease_seconds=30))
    assert late.failed == 0 and late.feeds >= len(stuck)
    _assert_all_stored_once(db, len(paths))


# --- stopping ----------------------------------------------------------------------------------


def test_poll_forever_stops_when_asked(db, srv):
    add(db, srv, "/gen/95?entries=0")
    stop = threading.Event()
    rounds = []
    t = threading.Thread(target=poller.poll_forever, args=(db, stop), kwargs={"allow_private": True, "on_round": rounds.append, "idle_s": 0.5})
    t.start()
    assert wait_until(lambda: len(rounds) >= 1, timeout=60)
    stop.set()
    t.join(timeout=60)
    assert not t.is_alive() and rounds[0].ok == 1


def test_poll_forever_process_stops_cleanly_on_sigterm(sqlite_db, sqlite_url, srv):
    ids = [feeds.add_feed(sqlite_db, srv.url(f"/gen/{300 + i}?entries=0&delay=0.2"), allow_private=True) for i in range(30)]
    proc = _poller_process(sqlite_url, "--forever", "--concurrency", "2")
    assert wait_until(lambda: srv.seen("/gen/300") + srv.seen("/gen/301") > 0, timeout=120)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
    with sqlite_db.read() as conn:
        leased = conn.execute(select(func.count()).select_from(feeds_table).where(feeds_table.c.lease_owner.is_not(None))).scalar()
        checked = conn.execute(select(func.count()).select_from(feeds_table).where(feeds_table.c.status == "ok")).scalar()
    assert leased == 0  # unstarted feeds were handed back
    assert checked < len(ids)  # it stopped mid-round rather than finishing everything


def test_cli_poll_once_prints_a_summary(cli, srv):
    code, out, err = cli("feeds", "add", srv.url("/gen/96?entries=0"), "--allow-private-networks")
    assert code == 0, err
    code, out, err = cli("poll", "--once", "--allow-private-networks")
    assert code == 0, err
    assert "polled 1 feed" in out and "1 ok" in out and "0 failed" in out


def test_cli_poll_refuses_a_bad_concurrency(cli):
    code, out, err = cli("poll", "--concurrency", "0")
    assert code != 0 and "concurrency" in err


def test_private_feeds_are_not_fetched_without_permission(db, srv):
    fid = add(db, srv, "/gen/97")
    before = srv.seen("/gen/97")
    summary = poller.poll_once(db, allow_private=False, settings=Settings(allow_private_networks=False))
    assert summary.failures == {"blocked_address": 1}
    assert srv.seen("/gen/97") == before and row(db, fid).last_error_reason == "blocked_address"


# --- the dashboard's background poller ---------------------------------------------------------


def test_background_poller_is_started_once_and_can_be_switched_off(db, srv):
    assert poller.start_background_poller(db, settings=Settings(poll_in_dashboard=False)) is None
    fid = add(db, srv, "/gen/98?entries=0")
    cfg = Settings(poll_in_dashboard=True, allow_private_networks=True)
    try:
        first = poller.start_background_poller(db, settings=cfg)
        again = poller.start_background_poller(db, settings=cfg)
        assert first is again and first.running
        assert wait_until(lambda: row(db, fid).status == "ok", timeout=60)
    finally:
        poller.stop_background_poller(timeout=60)
    assert not first.running
