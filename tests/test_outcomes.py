"""The fetch vocabulary: every reason has its kind, and the strings the store holds stay the same."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.outcomes import FetchOutcome, Reason

MONITOR = Path(__file__).resolve().parent.parent / "monitor"

# what databases written by earlier versions hold in fetch_events.reason / feeds.last_error_reason
STORED_BEFORE = {
    "gone": "HARD", "bad_url": "HARD", "bad_redirect": "HARD", "blocked_address": "HARD",
    "not_found": "SOFT", "forbidden": "SOFT", "http_error": "SOFT", "server_error": "SOFT",
    "rate_limited": "TEMP", "unavailable": "TEMP", "dns_temporary": "TEMP", "dns_unknown_host": "SOFT",
    "connect_failed": "SOFT", "proxy_error": "SOFT", "network_error": "SOFT", "timeout": "SOFT", "tls": "SOFT",
    "too_many_redirects": "SOFT", "redirect_loop": "SOFT", "too_large": "SOFT", "truncated": "SOFT",
    "bad_encoding": "SOFT", "empty": "SOFT", "protocol_error": "SOFT", "not_a_feed": "SOFT", "parse_error": "SOFT",
}  # fmt: skip


def test_outcomes_are_the_strings_the_store_has_always_held():
    assert {o.value for o in FetchOutcome} == {"ok", "not_modified", "unchanged", "SOFT", "HARD", "TEMP"}
    assert [o.value for o in FetchOutcome.successes()] == ["ok", "not_modified", "unchanged"]
    assert FetchOutcome("SOFT") is FetchOutcome.SOFT and FetchOutcome.OK == "ok"


@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_every_reason_has_a_failure_kind_and_a_weight(reason):
    assert isinstance(reason.kind, FetchOutcome) and reason.kind.failed
    assert reason.weight > 0


def test_reasons_keep_their_stored_strings_and_kinds():
    for value, kind in STORED_BEFORE.items():
        assert Reason(value).kind == kind


def test_failure_kinds_weigh_hard_over_soft_over_temp():
    assert FetchOutcome.HARD.weight > FetchOutcome.SOFT.weight > FetchOutcome.TEMP.weight > 0
    assert FetchOutcome.OK.weight == 0 and not FetchOutcome.UNCHANGED.failed


def test_an_unknown_reason_is_an_error_not_a_silent_soft_failure():
    with pytest.raises(ValueError):
        Reason("made_up")
    assert Reason.of_parse_failure("made_up") is Reason.PARSE_ERROR  # said as a parse error
    assert Reason.of_parse_failure("entity_expansion") is Reason.ENTITY_EXPANSION


def test_every_reason_the_code_gives_is_declared():
    """Reasons written as strings where a failure is raised (parse workers, ingest) are all members."""
    found = set()
    for path in MONITOR.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r"""ParseError\([^)]*?reason=["']([a-z_]+)["']""", text, re.DOTALL))
        found |= set(re.findall(r"""reason=["']([a-z_]+)["']""", text)) if path.name in ("parse.py", "ingest.py") else set()
        found |= set(re.findall(r"""\{"error": "([a-z_]+)\"""", text))
    assert found, "the scan found nothing: the pattern is out of date"
    assert found <= {r.value for r in Reason}, found - {r.value for r in Reason}
