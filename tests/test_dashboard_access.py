"""Who gets into the dashboard: no sign-in on loopback; with [auth], only the allow-list."""

from __future__ import annotations

import tomllib

import pytest

from monitor.access import AccessPolicy, policy_from_secrets
from monitor.errors import ConfigError
from tests.dashboard_app import REPO

AUTH = {"redirect_uri": "https://m.example.org/oauth2callback", "cookie_secret": "x" * 40, "client_id": "c", "client_secret": "s"}


def test_without_auth_everyone_local_is_let_in():
    policy = policy_from_secrets({})
    assert not policy.auth_required
    assert policy.decide(None).allowed


@pytest.mark.parametrize(
    ("email", "verified", "allowed"),
    [
        ("ana@example.org", None, True),
        ("ANA@Example.org", True, True),  # e-mails compare case-insensitively
        ("bob@partner.net", None, True),  # allowed domain
        ("eve@example.org", None, False),  # same domain as a listed person is not enough
        ("eve@evil.net", None, False),
        ("ana@example.org", False, False),  # provider says the address is unverified
        ("", None, False),
        (None, None, False),
        ("bob@partner.net.evil.com", None, False),
    ],
)
def test_allow_list_decides(email, verified, allowed):
    policy = policy_from_secrets({"auth": AUTH, "access": {"allowed_emails": ["ana@example.org"], "allowed_domains": ["@partner.net"]}})
    decision = policy.decide(email, verified)
    assert decision.allowed is allowed, decision.reason
    assert decision.reason


def test_auth_without_an_allow_list_fails_closed():
    policy = policy_from_secrets({"auth": AUTH})
    decision = policy.decide("ana@example.org", True)
    assert not decision.allowed
    assert "allowed_emails" in decision.reason


@pytest.mark.parametrize("bad", [{"auth": {"client_id": "c"}}, {"auth": AUTH, "access": {"allowed_emails": "ana@example.org"}}])
def test_misconfiguration_is_a_clear_error(bad):
    with pytest.raises(ConfigError):
        policy_from_secrets(bad)


def test_the_committed_example_is_a_working_configuration():
    example = tomllib.loads((REPO / ".streamlit" / "secrets.toml.example").read_text())
    policy = policy_from_secrets(example)
    assert policy == AccessPolicy(True, frozenset({"analyst.one@example.org", "analyst.two@example.org"}), frozenset())


def test_server_listens_on_loopback_and_hides_tracebacks():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["client"]["showErrorDetails"] == "none"
    assert config["browser"]["gatherUsageStats"] is False


SECRETS = {"auth": AUTH, "access": {"allowed_emails": ["ana@example.org"]}}


@pytest.mark.parametrize(
    ("user", "sees"),
    [
        ({}, "Sign in with your organisation's account"),
        ({"is_logged_in": True, "email": "eve@example.org", "email_verified": True}, "Access refused"),
        ({"is_logged_in": True, "email": "ANA@example.org", "email_verified": True}, "Coverage"),
    ],
)
def test_with_auth_only_allowed_analysts_get_in(monkeypatch, sqlite_url, user, sees):
    from tests.dashboard_app import assert_clean, make_app, texts

    at = make_app(monkeypatch, sqlite_url)
    for section, values in SECRETS.items():
        at.secrets[section] = values
    at.user = user
    at.run()
    assert_clean(at)
    assert sees in texts(at)
    if sees == "Coverage":
        assert "Signed in as ana@example.org" in texts(at)
    else:
        assert "No articles stored yet" not in texts(at)  # no page is shown to outsiders
