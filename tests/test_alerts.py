"""Keyword alerts: exactly once per article, delivered from the outbox to a real webhook receiver
on 127.0.0.1, through failures, restarts, digests and two senders; bad targets and bad queries
refused with a clear message (a delivery is retried from the outbox, never lost, never sent
twice, never to a private address; a bad query is a clear message, never a crash)."""

from __future__ import annotations

import hashlib
import itertools
import logging
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, update

from monitor import alerts
from monitor.alerts import outbox
from monitor.errors import InputError, QueryError
from monitor.search_index import index_stored
from monitor.store import Database, utcnow
from monitor.store.schema import alert_matches, alerts as alerts_table, articles, deliveries, tags
from tests.feedserver import wait_until
from tests.webhook import Answer, Receiver, free_port

_seq = itertools.count(1)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def add_articles(db, titles, *, source="Example Wire", published=None, topics=(), stance=None, summary="") -> list[int]:
    """Store articles as ingest would (plus tags as the classifier would)."""
    published = published or utcnow()
    ids = []
    with db.write() as conn:
        for title in titles:
            n = next(_seq)
            aid = conn.execute(
                insert(articles)
                .values(
                    url_key=f"news.example.org/{n}",
                    link=f"https://news.example.org/{n}",
                    guid=f"g{n}",
                    title=title,
                    summary=summary,
                    content="",
                    source=source,
                    published_at=published,
                    fetched_at=published,
                    title_hash=hashlib.md5(f"{n}{title}".encode()).hexdigest(),
                    tag_status="tagged",
                )
                .returning(articles.c.id)
            ).scalar_one()
            for topic in topics:
                conn.execute(insert(tags).values(article_id=aid, kind="topic", target="", label=topic, score=0.9, model_version="t", published_at=published))
            if stance:
                target, label = stance
                conn.execute(insert(tags).values(article_id=aid, kind="stance", target=target, label=label, score=0.8, model_version="t", published_at=published))
            ids.append(aid)
        index_stored(conn, db, ids)
    return ids


def inbox_size(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(alert_matches)).scalar_one()


def outbox_rows(db) -> list[dict]:
    with db.read() as conn:
        return [dict(r) for r in conn.execute(select(deliveries).order_by(deliveries.c.id)).mappings()]


LATER = timedelta(days=2)  # past any backoff


# ---- exactly once -----------------------------------------------------------------------


def test_alert_fires_once_per_matching_article_across_repeated_ingests_and_a_restart(db, receiver):
    alerts.add_alert(db, "Red notices", '"red notice" OR extradition', notify=[receiver.url()], allow_private=True)
    ids = add_articles(db, ["Interpol issues red notice for fugitive banker", "Football: cup final tonight", "Court approves extradition to Spain"])
    for _ in range(3):  # the same articles evaluated again, as a re-poll or a re-ingest would
        alerts.evaluate_new_articles(db, ids)
    alerts.deliver_due(db, allow_private=True)
    assert inbox_size(db) == 2
    (message,) = receiver.accepted()
    assert "red notice for fugitive banker" in message.payload["message"] and "extradition to Spain" in message.payload["message"]
    assert "Football" not in message.payload["message"]

    # restart: a new Database object on the same store, the same articles once more, the archive checked
    again = Database(db.url)
    alerts.evaluate_new_articles(again, ids)
    report = alerts.check_alerts(again, allow_private=True)
    assert report.alerts[0].matching == 2 and report.alerts[0].recorded == 0
    alerts.deliver_due(again, allow_private=True)
    assert len(receiver.accepted()) == 1 and inbox_size(again) == 2

    # a new matching article fires, alone
    new = add_articles(again, ["Second red notice this week"])
    alerts.evaluate_new_articles(again, new + ids)
    alerts.deliver_due(again, allow_private=True)
    accepted = receiver.accepted()
    assert len(accepted) == 2 and "Second red notice" in accepted[1].payload["title"]
    assert len({m.ref for m in accepted}) == 2
    again.dispose()


def test_end_to_end_through_ingest_document(db, receiver):
    from monitor.ingest import ingest_document

    alerts.add_alert(db, "Europol", "europol", notify=[receiver.url()], allow_private=True)
    feed = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>
    <item><title>Europol dismantles cartel network</title><link>https://wire.example.org/1</link><guid>1</guid></item>
    <item><title>Weather: rain tomorrow</title><link>https://wire.example.org/2</link><guid>2</guid></item>
    </channel></rss>"""
    for _ in range(2):
        ingest_document(db, feed, source="Wire")
    alerts.deliver_due(db, allow_private=True)
    rows = alerts.list_inbox(db)
    assert [r.title for r in rows] == ["Europol dismantles cartel network"]
    assert rows[0].delivery == "sent"
    assert len(receiver.accepted()) == 1


def test_archive_check_records_each_article_once_and_sends_one_grouped_message(db, receiver):
    add_articles(db, [f"Corruption trial day {i}" for i in range(30)] + ["Unrelated"])
    alerts.add_alert(db, "Corruption", "corruption", notify=[receiver.url()], allow_private=True)
    first = alerts.check_alerts(db, allow_private=True)
    second = alerts.check_alerts(db, allow_private=True)
    assert (first.alerts[0].matching, first.alerts[0].recorded) == (30, 30)
    assert (second.alerts[0].matching, second.alerts[0].recorded) == (30, 0)
    (message,) = receiver.accepted()
    assert "30 articles in the archive match" in message.payload["title"]
    assert "and 5 more in the Alerts inbox" in message.payload["message"]


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"topic": "corruption"}, {"Minister charged", "Bribery probe widens"}),
        ({"query": "probe", "topic": "corruption"}, {"Bribery probe widens"}),
        ({"stance": "AGAINST"}, {"Minister charged"}),
        ({"stance": "AGAINST", "target": "Europol"}, set()),
        ({"source": "Daily Planet"}, {"Bribery probe widens", "Cyber probe"}),
        ({"query": "probe NOT cyber"}, {"Bribery probe widens"}),
    ],
)
def test_filters_match_new_articles_as_the_archive_search_does(db, options, expected):
    add_articles(db, ["Minister charged"], topics=["corruption"], stance=("Interpol", "AGAINST"))
    add_articles(db, ["Bribery probe widens"], topics=["corruption"], source="Daily Planet")
    ids = add_articles(db, ["Cyber probe"], topics=["cybercrime"], stance=("Interpol", "FAVOR"), source="Daily Planet")
    options = dict(options)
    alert_id = alerts.add_alert(db, "a", options.pop("query", ""), **options)
    preview = alerts.preview_alert(db, alert_id)
    alerts.evaluate_new_articles(db, range(1, max(ids) + 1))
    assert {r.title for r in preview.rows} == expected
    assert {r.title for r in alerts.list_inbox(db)} == expected


def test_two_senders_at_once_send_each_message_once(db_url, receiver):
    db = Database(db_url)
    alerts.add_alert(db, "Every", "interpol", notify=[receiver.url()], allow_private=True)
    for i in range(12):  # twelve evaluations: twelve messages
        alerts.evaluate_new_articles(db, add_articles(db, [f"Interpol story {i}"]))
    assert len(outbox_rows(db)) == 12
    senders = [Database(db_url), Database(db_url)]
    threads = [threading.Thread(target=alerts.deliver_due, args=(s,), kwargs={"allow_private": True}) for s in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refs = [m.ref for m in receiver.accepted()]
    assert len(refs) == 12 and len(set(refs)) == 12
    assert {r["status"] for r in outbox_rows(db)} == {"sent"}
    for d in [db, *senders]:
        d.dispose()


def test_a_message_held_by_a_live_sender_is_not_sent_by_another_and_an_expired_lease_is_retried(db, receiver):
    alerts.add_alert(db, "Every", "interpol", notify=[receiver.url()], allow_private=True)
    alerts.evaluate_new_articles(db, add_articles(db, ["Interpol story"]))
    now = utcnow()
    job = outbox._claim(db, "sender-that-dies", now)  # claimed, then the sender is killed
    assert job is not None
    assert alerts.deliver_due(db, allow_private=True, now=now).sent == 0
    assert receiver.accepted() == []
    # after the lease: sent by the survivor (at-least-once in the crash window; see outbox.py)
    assert alerts.deliver_due(db, allow_private=True, now=now + timedelta(minutes=10)).sent == 1
    assert alerts.deliver_due(db, allow_private=True, now=now + timedelta(minutes=20)).sent == 0
    assert len(receiver.accepted()) == 1


# ---- failing targets: retried from the outbox, neither lost nor sent twice ------------------


def test_a_receiver_that_fails_then_recovers_gets_each_message_once(db, receiver):
    receiver.plan = [Answer(500), Answer(500)]
    alerts.add_alert(db, "Interpol", "interpol", notify=[receiver.url()], allow_private=True)
    alerts.evaluate_new_articles(db, add_articles(db, ["Interpol arrests suspect"]))
    alerts.evaluate_new_articles(db, add_articles(db, ["Interpol conference opens"]))
    t0 = utcnow()
    first = alerts.deliver_due(db, allow_private=True, now=t0)
    assert (first.sent, first.failed, first.waiting) == (0, 2, 2)
    rows = outbox_rows(db)
    assert {r["status"] for r in rows} == {"queued"} and all(r["attempts"] == 1 for r in rows)
    assert all("500" in r["last_error"] for r in rows)
    assert alerts.deliver_due(db, allow_private=True, now=t0).sent == 0  # backing off
    assert alerts.deliver_due(db, allow_private=True, now=t0 + LATER).sent == 2
    assert alerts.deliver_due(db, allow_private=True, now=t0 + 2 * LATER).sent == 0
    accepted = receiver.accepted()
    assert len(accepted) == 2 and len({m.ref for m in accepted}) == 2
    assert [a.failing for a in alerts.list_alerts(db)] == [0]


def _queue_one(db, url):
    alerts.add_alert(db, "Watch", "interpol", notify=[url], allow_private=True)
    alerts.evaluate_new_articles(db, add_articles(db, ["Interpol news"]))


@pytest.mark.parametrize("fault", ["down", "500", "redirect to a private address", "redirect to metadata"])
def test_failing_target_keeps_the_message_queued_and_visible_then_delivers_it_once(db, receiver, fault):
    internal = Receiver()  # stands for a service on the local network
    try:
        if fault == "down":
            port = free_port()
            url = f"json://127.0.0.1:{port}/hook"
        else:
            url = receiver.url()
            receiver.plan = {
                "500": [Answer(500)],
                "redirect to a private address": [Answer(307, location=f"http://127.0.0.1:{internal.port}/admin")],
                "redirect to metadata": [Answer(302, location="http://169.254.169.254/latest/meta-data/")],
            }[fault]
        _queue_one(db, url)
        t0 = utcnow()
        report = alerts.deliver_due(db, allow_private=True, now=t0)
        assert (report.sent, report.failed, report.waiting) == (0, 1, 1)
        (row,) = alerts.list_deliveries(db)
        assert row.status == "queued" and row.attempts == 1 and row.last_error
        assert row.next_attempt_at > t0
        (alert,) = alerts.list_alerts(db)
        assert alert.failing == 1 and alert.last_error
        assert internal.received == []  # a redirect is never followed
        # the target recovers
        if fault == "down":
            recovered = Receiver(port)
            try:
                assert alerts.deliver_due(db, allow_private=True, now=t0 + LATER).sent == 1
                got = recovered.accepted()
            finally:
                recovered.close()
        else:
            assert alerts.deliver_due(db, allow_private=True, now=t0 + LATER).sent == 1
            got = receiver.accepted()
        assert len(got) == 1
        assert alerts.deliver_due(db, allow_private=True, now=t0 + 2 * LATER).sent == 0
        assert alerts.list_deliveries(db)[0].status == "sent"
    finally:
        internal.close()


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1:8080/hook",
        "json://[::1]/hook",
        "json://127.1/hook",
        "json://2130706433/hook",
        "jsons://169.254.169.254/latest",
        "json://10.1.2.3/hook",
        "json://100.64.0.1/hook",
        "json://224.0.0.1/hook",
        "json://localhost/hook",
        "mailto://user:pass@127.0.0.1?smtp=127.0.0.1",
    ],
)
def test_private_targets_are_refused_at_input(sqlite_db, url):
    # refused as non-public, or (127.1) already by Apprise as not a usable URL
    with pytest.raises(InputError, match="non-public|not a notification URL"):
        alerts.add_alert(sqlite_db, "x", "interpol", notify=[url], allow_private=False)
    assert alerts.list_alerts(sqlite_db) == []


def test_private_target_refused_at_send_time_when_private_networks_are_not_allowed(db, receiver):
    _queue_one(db, receiver.url())
    with db.write() as conn:  # as stored under MONITOR_ALLOW_PRIVATE_NETWORKS=1, which is not recorded
        conn.execute(update(alerts_table).values(allow_private_networks=False))
    report = alerts.deliver_due(db, allow_private=False)
    assert report.sent == 0 and receiver.received == []
    (row,) = alerts.list_deliveries(db)
    assert row.status == "queued" and "non-public" in row.last_error


def test_allow_private_networks_is_recorded_with_the_alert_and_honoured_by_later_deliveries(db, receiver, cli):
    code, out, err = cli("alerts", "add", "Intranet", "--query", "interpol", "--notify", receiver.url(), "--allow-private-networks")
    assert code == 0, err
    alerts.evaluate_new_articles(db, add_articles(db, ["Interpol news for the intranet"]))
    code, out, err = cli("alerts", "deliver")  # no flag this time
    assert code == 0, err
    assert "1 sent" in out and len(receiver.accepted()) == 1
    code, out, _ = cli("alerts", "list")
    assert "private networks allowed" in out
    # an edit that does not mention the choice keeps it
    alerts.update_alert(db, "Intranet", query="interpol OR europol")
    assert alerts.get_alert(db, "Intranet").allow_private_networks is True


@pytest.mark.parametrize("url", ["", "not a url", "foo://bar", "http://", "json://", "file:///etc/passwd"])
def test_unusable_notification_urls_are_refused(sqlite_db, url):
    with pytest.raises(InputError):
        alerts.add_alert(sqlite_db, "x", "interpol", notify=[url], allow_private=True)


def test_secrets_in_urls_never_shown(db, receiver, caplog, cli):
    secret = "s3cr3tTOKENvalue"
    receiver.plan = [Answer(500)]
    _queue_one(db, receiver.url(secret=secret))
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="apprise"):
        alerts.deliver_due(db, allow_private=True)
    shown = [
        repr(alerts.list_alerts(db)),
        repr(alerts.list_deliveries(db)),
        repr(alerts.list_inbox(db)),
        repr(alerts.get_alert(db, "Watch")),
        caplog.text,
    ]
    for args in (("alerts", "list"), ("alerts", "list", "--format", "json"), ("alerts", "inbox")):
        code, out, err = cli(*args)
        shown.append(out + err)
    for text in shown:
        assert secret not in text
    assert "****" in repr(alerts.list_alerts(db))
    # editing with the masked form keeps the real secret
    alerts.update_alert(db, "Watch", notify=list(alerts.get_alert(db, "Watch").targets), allow_private=True)
    receiver.plan = []
    alerts.deliver_due(db, allow_private=True, now=utcnow() + LATER)
    assert len(receiver.accepted()) == 1


def test_a_slow_webhook_gets_a_message_once(db, receiver, monkeypatch):
    """Slow -> once: an answer later than the read timeout means the message went out, so it is
    not sent again by itself (each retry used to repeat it); a slow answer within the (longer)
    default read timeout is a normal delivery."""
    from monitor.config import settings

    receiver.plan = [Answer(200, delay=2.5)]
    _queue_one(db, receiver.url(rto=1))
    t0 = utcnow()
    report = alerts.deliver_due(db, allow_private=True, now=t0)
    assert (report.sent, report.unconfirmed) == (0, 1)
    (row,) = alerts.list_deliveries(db)
    assert row.status == "unconfirmed" and "may have arrived" in row.last_error
    for later in (LATER, 2 * LATER, 3 * LATER):  # the retries that used to repeat it
        assert alerts.deliver_due(db, allow_private=True, now=t0 + later).sent == 0
    assert wait_until(lambda: len(receiver.received) >= 1, timeout=30)
    assert len(receiver.received) == 1  # once, however many delivery rounds ran
    (alert,) = alerts.list_alerts(db)
    assert alert.failing == 1  # shown as needing attention
    # the analyst decides: retry by hand sends it again, with the same ref for the receiver
    alerts.retry_now(db, row.id)
    assert alerts.deliver_due(db, allow_private=True, now=utcnow() + LATER).sent == 1
    first, second = receiver.received
    assert first.ref == second.ref and alerts.list_deliveries(db)[0].status == "sent"

    # a webhook that needs 5 s is within the default read timeout (Apprise alone cut it at 4 s)
    monkeypatch.setenv("MONITOR_ALERT_READ_TIMEOUT_S", "30")
    settings.cache_clear()
    try:
        receiver.plan = [Answer(200, delay=5)]
        alerts.update_alert(db, "Watch", notify=[receiver.url()], allow_private=True)  # no rto= of its own
        alerts.evaluate_new_articles(db, add_articles(db, ["Interpol again"]))
        assert alerts.deliver_due(db, allow_private=True).sent == 1
        assert len(receiver.accepted()) == 3
    finally:
        monkeypatch.undo()
        settings.cache_clear()


# ---- digests ------------------------------------------------------------------------------


def test_hourly_digest_groups_the_matches_of_the_hour(db, receiver):
    alerts.add_alert(db, "Hourly", "cybercrime", notify=[receiver.url()], cadence="hourly", allow_private=True)
    t = datetime(2026, 3, 2, 10, 15)
    alerts.match_new_articles(db, add_articles(db, ["Cybercrime ring busted", "Cybercrime law passed"]), now=t)
    alerts.match_new_articles(db, add_articles(db, ["Cybercrime forum seized", "Tennis"]), now=t + timedelta(minutes=20))
    assert alerts.deliver_due(db, allow_private=True, now=t + timedelta(minutes=30)).sent == 0  # the hour is open
    assert [r.delivery for r in alerts.list_inbox(db)] == ["pending"] * 3
    report = alerts.deliver_due(db, allow_private=True, now=t + timedelta(minutes=50))
    assert (report.digests, report.sent) == (1, 1)
    (digest,) = receiver.accepted()
    assert "hourly digest, 3 new matches" in digest.payload["title"]
    for title in ("ring busted", "law passed", "forum seized"):
        assert title in digest.payload["message"]
    # the next hour's digest holds only what is new; an empty hour sends nothing
    alerts.match_new_articles(db, add_articles(db, ["Cybercrime summit"]), now=t + timedelta(hours=1))
    assert alerts.deliver_due(db, allow_private=True, now=t + timedelta(hours=1, minutes=50)).sent == 1
    assert alerts.deliver_due(db, allow_private=True, now=t + timedelta(hours=3)).sent == 0
    second = receiver.accepted()[1]
    assert "1 new match" in second.payload["title"] and "Cybercrime summit" in second.payload["message"]
    assert {r.delivery for r in alerts.list_inbox(db)} == {"sent"}


def test_daily_digest_to_two_targets_sends_one_message_to_each(db, receiver):
    other = Receiver()
    try:
        alerts.add_alert(db, "Daily", "drugs", notify=[receiver.url("/a"), other.url("/b")], cadence="daily", allow_private=True)
        t = datetime(2026, 3, 2, 9, 0)
        alerts.match_new_articles(db, add_articles(db, ["Drugs seized at port", "Drugs lab found"]), now=t)
        alerts.deliver_due(db, allow_private=True, now=t + timedelta(hours=10))
        assert receiver.accepted() == [] and other.accepted() == []
        alerts.deliver_due(db, allow_private=True, now=t + timedelta(hours=16))
        assert len(receiver.accepted()) == 1 and len(other.accepted()) == 1
        assert "daily digest, 2 new matches" in other.accepted()[0].payload["title"]
    finally:
        other.close()


# ---- bad queries: a clear message, no crash, no unbounded CPU --------------------------------

BAD_QUERIES = ['"red notice', "(interpol", "interpol)", "((a)", "AND", "interpol AND", "NOT", "OR interpol", "()", "x" * 2000]
ODD_QUERIES = ["(a+)+$", "title:interpol", "NEAR(interpol europol)", "interpol*", "^interpol", '"*"', "a OR OR b", "-interpol", "interpol; DROP TABLE articles"]


@pytest.mark.parametrize("query", BAD_QUERIES)
def test_malformed_queries_are_refused_with_a_clear_message(db, cli, query):
    with pytest.raises(QueryError) as refused:
        alerts.add_alert(db, "bad", query)
    message = str(refused.value)
    assert message and "\n" not in message and len(message) < 300
    code, out, err = cli("alerts", "add", "bad", "--query", query)
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1 and "Traceback" not in err
    assert alerts.list_alerts(db) == []


@pytest.mark.parametrize("query", ODD_QUERIES)
def test_odd_queries_are_either_refused_clearly_or_matched_safely(db, cli, query):
    add_articles(db, ["Interpol and Europol meet", "a b c", "Articles table"])
    try:
        alerts.add_alert(db, "odd", query)
    except QueryError as e:
        assert "\n" not in str(e)
        return
    report = alerts.check_alerts(db, deliver=False)  # FTS syntax in the query never reaches FTS raw
    assert report.alerts[0].matching <= 3
    code, out, err = cli("alerts", "check", "--no-deliver")
    assert code == 0 and "odd" in out
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(articles)).scalar_one() == 3


@pytest.mark.parametrize(
    "options, message",
    [
        ({"query": ""}, "a query or at least one filter"),
        ({"cadence": "weekly"}, "immediate, hourly, daily"),
        ({"stance": "LOVE"}, "FAVOR, AGAINST, NONE"),
        ({"kind": "spike", "query": "", "source": "x"}, "topic or a query"),
        ({"kind": "spike", "sensitivity": -1}, "sensitivity"),
        ({"name": " "}, "needs a name"),
        ({"topic": "football"}, "unknown topic"),
    ],
)
def test_invalid_alert_fields_are_refused(sqlite_db, options, message):
    options = {"name": "n", "query": "interpol", **options}
    with pytest.raises(InputError, match=message):
        alerts.add_alert(sqlite_db, options.pop("name"), options.pop("query"), **options)


def test_duplicate_names_are_refused_and_edit_and_remove_work(db):
    alerts.add_alert(db, "Watch", "interpol")
    with pytest.raises(InputError, match="already exists"):
        alerts.add_alert(db, "Watch", "europol")
    alerts.update_alert(db, "Watch", query="europol", cadence="daily", enabled=False)
    alert = alerts.get_alert(db, "Watch")
    assert (alert.query, alert.cadence, alert.enabled) == ("europol", "daily", False)
    with pytest.raises(QueryError):
        alerts.update_alert(db, "Watch", query="(europol")
    assert alerts.get_alert(db, "Watch").query == "europol"
    alerts.evaluate_new_articles(db, add_articles(db, ["Europol raid"]))
    assert inbox_size(db) == 0  # disabled alerts do not fire
    assert alerts.remove_alert(db, alert.id) == "Watch"
    with pytest.raises(InputError, match="no alert"):
        alerts.get_alert(db, "Watch")


def test_inbox_new_and_reviewed(db):
    alerts.add_alert(db, "Watch", "interpol")
    alerts.evaluate_new_articles(db, add_articles(db, ["Interpol one", "Interpol two"]))
    rows = alerts.list_inbox(db, state="new")
    assert len(rows) == 2 and {r.delivery for r in rows} == {"none"}
    assert alerts.set_state(db, [rows[0].id], "reviewed") == 1
    assert len(alerts.list_inbox(db, state="new")) == 1
    assert alerts.inbox_counts(db) == {rows[0].alert_id: 1}
    assert alerts.mark_all_reviewed(db) == 1
    assert alerts.list_inbox(db, state="new") == []


def test_cli_add_list_check_inbox_remove(cli, db_url, receiver):
    code, out, err = cli("alerts", "add", "Interpol", "--query", "interpol", "--notify", receiver.url(secret="tok3nSecret"), "--every", "immediate", "--allow-private-networks")
    assert code == 0, err
    assert "added alert" in out and "tok3nSecret" not in out
    code, out, _ = cli("alerts", "list")
    assert code == 0 and "Interpol" in out and "tok3nSecret" not in out
    db = Database(db_url)
    add_articles(db, ["Interpol meets Europol", "Nothing here"])
    code, out, _ = cli("alerts", "check", "--allow-private-networks")
    assert code == 0 and "1 matching article(s) (1 new in the inbox)" in out and "1 sent" in out
    code, out, _ = cli("alerts", "inbox")
    assert "Interpol meets Europol" in out and "delivery: sent" in out
    code, out, _ = cli("alerts", "remove", "Interpol")
    assert code == 0
    code, _, err = cli("alerts", "remove", "Interpol")
    assert code == 2 and "no alert" in err
    assert len(receiver.accepted()) == 1
    db.dispose()


@pytest.mark.parametrize("command", [("alerts", "--help"), ("alerts", "add", "--help"), ("alerts", "list", "--help"), ("alerts", "check", "--help"), ("alerts", "remove", "--help"), ("alerts", "deliver", "--help"), ("alerts", "inbox", "--help")])
def test_help_works_on_every_alerts_command(command, capsys):
    from monitor.cli import main

    with pytest.raises(SystemExit) as done:
        main(list(command))
    assert done.value.code == 0
    assert "usage:" in capsys.readouterr().out
