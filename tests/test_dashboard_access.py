"""Who gets into the dashboard: no sign-in on loopback; with [auth], only the allow-list."""

from __future__ import annotations

import tomllib

import pytest

from monitor.access import AccessPolicy, policy_from_secrets
from monitor.errors import ConfigError
from tests.dashboard_app import REPO

AUTH = {
    "redirect_uri": "https://m.example.org/oauth2callback",
    "cookie_secret": "x" * 40,
    "client_id": "c",
    "client_secret": "s",
    "server_metadata_url": "https://idp.example.org/.well-known/openid-configuration",
}


def test_without_auth_everyone_local_is_let_in():
    policy = policy_from_secrets({})
    assert not policy.auth_required
    assert policy.decide(None).allowed


@pytest.mark.parametrize(
    ("email", "verified", "allowed"),
    [
        ("ana@example.org", True, True),
        ("ANA@Example.org", True, True),  # e-mails compare case-insensitively
        ("bob@partner.net", True, True),  # allowed domain
        ("eve@example.org", True, False),  # same domain as a listed person is not enough
        ("eve@evil.net", True, False),
        ("ana@example.org", False, False),  # provider says the address is unverified
        ("ana@example.org", None, False),  # provider does not say it is verified
        ("bob@partner.net", None, False),  # ...also not through an allowed domain
        ("ana@example.org", "true", False),  # only a JSON true counts
        ("", True, False),
        (None, True, False),
        ("bob@partner.net.evil.com", True, False),
    ],
)
def test_allow_list_decides(email, verified, allowed):
    policy = policy_from_secrets({"auth": AUTH, "access": {"allowed_emails": ["ana@example.org"], "allowed_domains": ["@partner.net"]}})
    decision = policy.decide(email, verified)
    assert decision.allowed is allowed, decision.reason
    assert decision.reason


def test_the_administrator_may_trust_a_provider_that_sends_no_email_verified():
    policy = policy_from_secrets({"auth": AUTH, "access": {"allowed_emails": ["ana@example.org"], "require_verified_email": False}})
    assert policy.decide("ana@example.org", None).allowed
    assert not policy.decide("ana@example.org", False).allowed  # an explicit "unverified" still counts
    assert not policy.decide("eve@example.org", None).allowed
    with pytest.raises(ConfigError, match="require_verified_email"):
        policy_from_secrets({"auth": AUTH, "access": {"allowed_emails": ["a@b.c"], "require_verified_email": "no"}})


def test_auth_without_an_allow_list_fails_closed():
    policy = policy_from_secrets({"auth": AUTH})
    decision = policy.decide("ana@example.org", True)
    assert not decision.allowed
    assert "allowed_emails" in decision.reason


@pytest.mark.parametrize(
    "bad",
    [
        {"auth": {"client_id": "c"}},
        {"auth": AUTH, "access": {"allowed_emails": "ana@example.org"}},
        # an allow-list without a usable [auth]: meant to be closed, so never served open
        {"access": {"allowed_emails": ["ana@example.org"]}},
        {"auth": {}, "access": {"allowed_emails": ["ana@example.org"]}},
        {"auth": {k: v for k, v in AUTH.items() if k != "server_metadata_url"}, "access": {"allowed_emails": ["ana@example.org"]}},
        {"auth": "on", "access": {"allowed_emails": ["ana@example.org"]}},
    ],
)
def test_misconfiguration_is_a_clear_error(bad):
    with pytest.raises(ConfigError):
        policy_from_secrets(bad)


def test_the_committed_example_is_a_working_configuration():
    example = tomllib.loads((REPO / ".streamlit" / "secrets.toml.example").read_text())
    policy = policy_from_secrets(example)
    assert policy == AccessPolicy(True, frozenset({"analyst.one@example.org", "analyst.two@example.org"}), frozenset(), require_verified_email=True)


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


# --- the secrets file itself: only a missing file means local mode -------------------------------

GOOD_TOML = """
[auth]
redirect_uri = "https://m.example.org/oauth2callback"
cookie_secret = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
client_id = "c"
client_secret = "s"
server_metadata_url = "https://idp.example.org/.well-known/openid-configuration"

[access]
allowed_emails = ["ana@example.org"]
"""
# A missing closing quote in [auth]: the mistake that used to switch sign-in off.
BROKEN_TOML = GOOD_TOML.replace('client_id = "c"', 'client_id = "c')


def _write_unreadable(path) -> None:
    path.write_bytes(b"[auth]\nclient_id = \"\xff\xfe\"\n")  # not UTF-8: unreadable even for root


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: p.write_text(BROKEN_TOML), "is not valid TOML"),
        (_write_unreadable, "cannot be read"),
        (lambda p: p.mkdir(), "cannot be read"),
    ],
    ids=["syntax-error", "not-utf8", "a-folder"],
)
def test_a_secrets_file_that_cannot_be_used_is_an_error_not_local_mode(tmp_path, make, says):
    from monitor.access import read_secrets_files

    path = tmp_path / "secrets.toml"
    make(path)
    with pytest.raises(ConfigError, match=says):
        read_secrets_files([tmp_path / "absent.toml", path])
    assert read_secrets_files([tmp_path / "absent.toml"]) is None  # missing: local mode


@pytest.fixture
def secrets_file(tmp_path, monkeypatch):
    """Point Streamlit's `secrets.files` at one file in tmp_path (not the repo's .streamlit)."""
    from streamlit import config as st_config

    path = tmp_path / "secrets.toml"
    saved = st_config.get_option("secrets.files")
    st_config.set_option("secrets.files", [str(path)])
    yield path
    st_config.set_option("secrets.files", saved)


CLOSED = "The dashboard is closed: sign-in is misconfigured"


@pytest.mark.parametrize(
    "contents",
    [
        BROKEN_TOML,
        "[access]\nallowed_emails = ['ana@example.org']\n",  # allow-list, no [auth]
        GOOD_TOML.replace("server_metadata_url", "# server_metadata_url"),  # [auth] st.login cannot use
    ],
    ids=["syntax-error", "access-without-auth", "unusable-auth"],
)
def test_a_broken_secrets_file_closes_the_dashboard(monkeypatch, sqlite_url, secrets_file, contents):
    from tests.dashboard_app import assert_clean, make_app, texts

    secrets_file.write_text(contents)
    at = make_app(monkeypatch, sqlite_url)
    at.run()
    assert_clean(at)
    shown = texts(at)
    assert CLOSED in shown
    assert "No articles stored yet" not in shown and "Local analyst" not in shown
    assert "xxxxxxxx" not in shown  # the reason names the problem, never the secrets


def test_editing_the_secrets_of_a_running_dashboard_closes_and_reopens_it(monkeypatch, sqlite_url, secrets_file):
    from tests.dashboard_app import assert_clean, make_app, texts

    at = make_app(monkeypatch, sqlite_url)
    at.run()  # no file: the local analyst's dashboard
    assert "No articles stored yet" in texts(at) and CLOSED not in texts(at)
    secrets_file.write_text(BROKEN_TOML)
    at.run()
    assert_clean(at)
    assert CLOSED in texts(at) and "No articles stored yet" not in texts(at)
    secrets_file.write_text(GOOD_TOML)
    at.run()
    assert "Sign in with your organisation's account" in texts(at) and "No articles stored yet" not in texts(at)
    secrets_file.unlink()
    at.run()
    assert "No articles stored yet" in texts(at)


# --- DNS rebinding: without sign-in, only loopback names ----------------------------------------


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1:8501", True),
        ("localhost:8501", True),
        ("LOCALHOST.:8501", True),
        ("[::1]:8501", True),
        ("127.0.0.2", True),
        ("monitor.localhost:8501", True),
        (None, True),  # no browser (AppTest, health probes)
        ("rebind.attacker.example:8501", False),
        ("localhost.attacker.example", False),
        ("127.0.0.1.nip.io:8501", False),
        ("192.168.1.10:8501", False),
        ("", False),
        ("[::1", False),
    ],
)
def test_local_mode_answers_only_to_loopback_names(host, ok):
    from monitor.access import is_local_host

    assert is_local_host(host) is ok
    assert is_local_host("analyst-box.lan:8501", ["analyst-box.lan"])  # a name the administrator listed
