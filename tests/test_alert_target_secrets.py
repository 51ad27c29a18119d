"""Secrets in Apprise URLs (path tokens, `-header` and `:payload` options of the generic json,
xml and form plugins) are never shown: not in `alerts list` or its JSON, the inbox, the delivery
log and its errors, nor on the dashboard's Alerts page."""

from __future__ import annotations

import logging

import pytest

from monitor import alerts
from monitor.store import utcnow
from tests.test_alerts import LATER, add_articles
from tests.webhook import Answer, Receiver

SECRETS = ("PathT0kenAAAA", "HeaderSecretBBBB", "PayloadSecretCCCC", "xmlTokenDDDD", "Bearer%20EEEE", "EEEE")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _targets(receiver) -> list[str]:
    base = receiver.url("/hook/PathT0kenAAAA")
    return [
        base + "?-X-Api-Key=HeaderSecretBBBB&:token=PayloadSecretCCCC",
        f"xml://127.0.0.1:{receiver.port}/in/xmlTokenDDDD?-Authorization=Bearer%20EEEE",
    ]


def _assert_masked(texts: list[str]) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, (secret, text[:500])


def test_path_tokens_and_option_values_are_masked_everywhere(db, receiver, cli, caplog):
    receiver.plan = [Answer(500), Answer(500)]
    alerts.add_alert(db, "Watch", "interpol", notify=_targets(receiver), allow_private=True)
    alerts.evaluate_new_articles(db, add_articles(db, ["Interpol news"]))
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="apprise"):
        alerts.deliver_due(db, allow_private=True)
    (alert,) = alerts.list_alerts(db)
    assert alert.targets == (
        f"json://127.0.0.1:{receiver.port}/****/****?-X-Api-Key=****&:token=****",
        f"xml://127.0.0.1:{receiver.port}/****/****?-Authorization=****",
    )
    deliveries = alerts.list_deliveries(db)
    assert len(deliveries) == 2 and all(d.last_error for d in deliveries)
    shown = [repr(alert), repr(alerts.get_alert(db, "Watch")), repr(deliveries), repr(alerts.list_inbox(db)), caplog.text]
    for args in (("alerts", "list"), ("alerts", "list", "--format", "json"), ("alerts", "inbox")):
        code, out, err = cli(*args)
        assert code == 0, err
        shown.append(out + err)
    _assert_masked(shown)

    # editing with the masked forms keeps both real URLs, even where two look alike
    alerts.update_alert(db, "Watch", notify=list(alert.targets), allow_private=True)
    receiver.plan = []
    alerts.deliver_due(db, allow_private=True, now=utcnow() + LATER)
    paths = sorted(m.path.split("?")[0] for m in receiver.accepted())
    assert paths == ["/hook/PathT0kenAAAA", "/in/xmlTokenDDDD"], paths


def test_two_webhooks_that_look_alike_stay_two(db, receiver):
    urls = [receiver.url("/hook/AAAAone"), receiver.url("/hook/BBBBtwo")]
    alerts.add_alert(db, "Twins", "interpol", notify=urls, allow_private=True)
    (alert,) = alerts.list_alerts(db)
    assert alert.targets[0] == alert.targets[1]  # nothing of the tokens is shown
    alerts.update_alert(db, "Twins", notify=list(alert.targets), allow_private=True)
    alerts.evaluate_new_articles(db, add_articles(db, ["Interpol twins"]))
    alerts.deliver_due(db, allow_private=True)
    assert sorted(m.path for m in receiver.accepted()) == ["/hook/AAAAone", "/hook/BBBBtwo"]


def test_the_alerts_page_shows_no_target_secret(monkeypatch, sqlite_url, receiver):
    from monitor.store import Database
    from tests.dashboard_app import assert_clean, make_app

    db = Database(sqlite_url)
    db.init()
    receiver.plan = [Answer(500), Answer(500)]
    alerts.add_alert(db, "Watch", "interpol", notify=_targets(receiver), allow_private=True)
    alerts.evaluate_new_articles(db, add_articles(db, ["Interpol news"]))
    alerts.deliver_due(db, allow_private=True)
    at = make_app(monkeypatch, sqlite_url).run()
    at.switch_page("views/alerts.py").run()
    assert_clean(at)
    seen = [str(e.value) for kind in ("markdown", "caption", "text", "error", "info", "warning") for e in getattr(at, kind)]
    seen += [df.value.to_csv() for df in at.dataframe]
    seen += [str(t.value) for t in at.text_input] + [str(t.value) for t in at.text_area]
    seen += [str(o) for s in at.multiselect for o in s.options] + [str(o) for s in at.selectbox for o in s.options]
    assert any("****" in s for s in seen)  # the targets are on the page, masked
    _assert_masked(seen)
    db.dispose()
