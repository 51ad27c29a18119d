"""Per-feed decisions of the poller, as pure functions: no database, no network."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from monitor.config import Settings
from monitor.errors import ParseError
from monitor.fetch import FetchResult
from monitor.models import IngestStats
from monitor.outcomes import FetchOutcome, Reason
from monitor.poller import decisions
from monitor.poller.leases import ClaimedFeed, pick_within_host_share

CFG = Settings(min_poll_interval_s=300, default_poll_interval_s=1800, max_poll_interval_s=86400)
NOW = datetime(2026, 1, 5, 12, 0, 0)
FEED = ClaimedFeed(
    id=7, url="https://news.example.org/feed.xml", name="News", status="ok", etag='"old"', last_modified=None,
    body_hash="aa", poll_interval_s=1800, consecutive_failures=2, redirect_url=None, redirect_count=0,
)  # fmt: skip


def result(outcome: FetchOutcome, **kw) -> FetchResult:
    return FetchResult(url=FEED.url, final_url=FEED.url, outcome=outcome, **kw)


def failed(reason: Reason, **kw) -> FetchResult:
    return result(reason.kind, reason=reason, detail=f"{reason} happened", **kw)


def test_a_failed_fetch_ends_the_poll_before_parsing_with_its_reason():
    outcome = decisions.before_parse(failed(Reason.TIMEOUT))
    assert (outcome.outcome, outcome.reason, outcome.body_refused) == (FetchOutcome.SOFT, Reason.TIMEOUT, False)
    assert decisions.before_parse(result(FetchOutcome.OK, body=b"<rss/>")) is None  # to the parser


def test_an_html_page_is_refused_before_parsing_and_its_validators_forgotten():
    outcome = decisions.before_parse(result(FetchOutcome.OK, body=b"<!DOCTYPE html><html>sign in</html>"))
    assert outcome.reason is Reason.NOT_A_FEED and outcome.body_refused
    change = decisions.health_change(CFG, FEED, result(FetchOutcome.OK), outcome, NOW, NOW)
    assert change.values["etag"] is None and change.values["body_hash"] is None


def test_a_parse_failure_keeps_the_workers_reason_and_an_unknown_one_is_a_parse_error():
    assert decisions.parse_failed(ParseError("deep", reason="entity_expansion")).reason is Reason.ENTITY_EXPANSION
    assert decisions.parse_failed(ParseError("odd", reason="from_a_newer_worker")).reason is Reason.PARSE_ERROR


def test_a_stored_document_says_what_the_parser_left_out():
    stats = IngestStats(entries=5, new_articles=3, duplicates=2, rejected={"no_title": 1}, warnings={"x": "truncated at line 9"})
    outcome = decisions.stored(stats)
    assert (outcome.outcome, outcome.entries, outcome.new_articles, outcome.duplicates) == (FetchOutcome.OK, 5, 3, 2)
    assert "truncated at line 9" in outcome.detail and "no_title 1" in outcome.detail


def test_success_resets_failures_and_keeps_validators_the_server_did_not_resend():
    outcome = decisions.stored(IngestStats(entries=10, new_articles=10))
    change = decisions.health_change(CFG, FEED, result(FetchOutcome.OK, body_hash="bb"), outcome, NOW, NOW)
    v = change.values
    assert (v["status"], v["consecutive_failures"], v["etag"], v["body_hash"]) == ("ok", 0, '"old"', "bb")
    assert v["poll_interval_s"] == 1200  # everything new: polled more often
    assert NOW + timedelta(seconds=1000) < v["next_poll_at"] < NOW + timedelta(seconds=1400)
    assert v["lease_owner"] is None and not change.disabled


def test_failures_back_off_by_their_kind_and_count():
    def delay(reason: Reason) -> float:
        v = decisions.health_change(CFG, FEED, failed(reason), decisions.before_parse(failed(reason)), NOW, NOW).values
        assert (v["status"], v["consecutive_failures"], v["last_error_reason"]) == ("failing", 3, reason.value)
        return (v["next_poll_at"] - NOW).total_seconds()

    temp, soft, hard = delay(Reason.RATE_LIMITED), delay(Reason.TIMEOUT), delay(Reason.BAD_URL)
    assert temp < soft < hard
    assert 300 * 4 * 0.9 <= soft <= 300 * 4 * 1.1  # third failure in a row: 4 × the minimum, ±10 %


def test_410_disables_the_feed_with_its_reason():
    gone = failed(Reason.GONE, status=410)
    change = decisions.health_change(CFG, FEED, gone, decisions.before_parse(gone), NOW, NOW)
    assert change.disabled and change.values["enabled"] is False and change.values["status"] == "disabled"
    assert change.values["disabled_reason"] == "gone happened"


def test_permanent_redirects_move_the_url_only_when_consistent():
    target = "https://news.example.org/new.xml"
    ok = decisions.FeedOutcome(FetchOutcome.NOT_MODIFIED, None, None)
    moved = result(FetchOutcome.NOT_MODIFIED, permanent_redirect=target)
    first = decisions.redirect_step(FEED, moved, ok)
    assert (first.redirect_url, first.redirect_count, first.move_to) == (target, 1, None)
    second = decisions.redirect_step(replace(FEED, redirect_url=target, redirect_count=1), moved, ok)
    assert (second.redirect_count, second.move_to) == (2, target)
    elsewhere = decisions.redirect_step(replace(FEED, redirect_url="https://other.example/x", redirect_count=1), moved, ok)
    assert (elsewhere.redirect_count, elsewhere.move_to) == (1, None)  # a different target starts again
    assert decisions.redirect_step(FEED, result(FetchOutcome.OK), ok) == decisions.RedirectStep(None, 0)
    fail = failed(Reason.TIMEOUT)
    assert decisions.redirect_step(FEED, replace(fail, permanent_redirect=target), decisions.before_parse(fail)).move_to is None


def test_the_fetch_event_stores_the_plain_strings_and_says_a_move():
    outcome = decisions.stored(IngestStats(entries=4, new_articles=1))
    event = decisions.fetch_event(FEED, result(FetchOutcome.OK, status=200, duration_ms=12), outcome, NOW, "https://n.example/x")
    assert type(event["outcome"]) is str and event["outcome"] == "ok" and event["reason"] is None
    assert (event["entries"], event["new_articles"], event["http_status"]) == (4, 1, 200)
    assert event["detail"].startswith("moved permanently to https://n.example/x")
    failure = decisions.fetch_event(FEED, failed(Reason.TLS), decisions.before_parse(failed(Reason.TLS)), NOW, None)
    assert (failure["outcome"], failure["reason"], failure["entries"]) == ("SOFT", "tls", None)
    assert type(failure["reason"]) is str


def test_a_claim_picks_around_hosts_that_have_their_share():
    candidates = [(1, "http://a.example/1"), (2, "http://a.example/2"), (3, "http://A.example/3"), (4, "http://b.example/1")]
    assert pick_within_host_share(candidates, 10, {}, 2) == ([1, 2, 4], True)
    assert pick_within_host_share(candidates, 10, {"a.example": 2}, 2) == ([4], True)
    assert pick_within_host_share(candidates, 2, {}, 5) == ([1, 2], False)
