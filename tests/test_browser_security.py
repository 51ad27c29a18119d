"""What an attacker or a bad day meets in a real browser against a real `streamlit run`:
a broken secrets file closes the dashboard (also while it runs)."""

from __future__ import annotations

import pytest

from tests.browser import (
    CHROMIUM_ARGS,
    chromium,
    free_port,
    run_dashboard,
    settle,
    shot,
    sqlite_store,
)
from tests.test_dashboard_access import BROKEN_TOML

CLOSED = "The dashboard is closed: sign-in is misconfigured"

pytestmark = pytest.mark.browser


@pytest.fixture
def store(tmp_path) -> str:
    from tests.dashboard_data import fill

    return sqlite_store(tmp_path, lambda db: fill(db, n=20))


def test_a_broken_secrets_file_closes_a_running_dashboard(tmp_path, store, browser):
    secrets = tmp_path / "secrets.toml"
    with run_dashboard(tmp_path, store, secrets=secrets) as dash:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(dash.base)
        settle(page, "h1:has-text('Coverage')")
        assert page.get_by_text("Local analyst").count() == 1  # no file: local mode

        secrets.write_text(BROKEN_TOML)  # an administrator's typo, on the running server
        page.goto(dash.base + "/articles")
        settle(page, "[data-testid=stAlertContentError]")
        shot(page, "secrets-broken")
        body = page.inner_text("body")
        assert CLOSED in body and "is not valid TOML" in body
        assert "Local analyst" not in body and "Coverage" not in body
        assert page.locator("[data-testid=stDataFrame]").count() == 0
        page.close()
    assert "refusing to serve" in dash.log_text()


def test_a_broken_secrets_file_at_start_serves_nobody(tmp_path, store, browser):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(BROKEN_TOML)
    with run_dashboard(tmp_path, store, secrets=secrets) as dash:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        for path in ("", "/articles", "/alerts", "/feeds", "/models"):
            page.goto(dash.base + path)
            settle(page, "[data-testid=stAlertContentError]")
            body = page.inner_text("body")
            assert CLOSED in body, path
            assert page.locator("[data-testid=stDataFrame], [data-testid=stVegaLiteChart], [data-testid=stSidebar]").count() == 0, path
        page.close()


# --- sign-in, end to end, against a fake OpenID Connect provider on loopback ---------------------


def test_sign_in_end_to_end_lets_in_only_verified_allow_listed_addresses(tmp_path, store, browser):
    from tests.oidc_provider import FakeOIDCProvider

    provider = FakeOIDCProvider()
    port = free_port()
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(provider.secrets_toml(f"http://127.0.0.1:{port}/oauth2callback", 'allowed_emails = ["ana@example.org"]\nallowed_domains = ["partner.net"]\n'))
    try:
        with run_dashboard(tmp_path, store, secrets=secrets, port=port) as dash:

            def sign_in(claims: dict, name: str) -> str:
                provider.claims = claims
                context = browser.new_context(viewport={"width": 1200, "height": 900})
                page = context.new_page()
                page.goto(dash.base)
                settle(page, "button:has-text('Sign in')")
                assert page.locator("[data-testid=stDataFrame], [data-testid=stSidebar]").count() == 0
                before = provider.logins
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url(f"{dash.base}/**", timeout=60_000)
                settle(page, "h1")
                page.wait_for_timeout(1500)  # the rerun after the cookie is set
                settle(page, "h1")
                assert provider.logins == before + 1  # the browser really went through the provider
                shot(page, f"signin-{name}")
                # what a reader sees: the word joiner that keeps an address from becoming a link is invisible
                body = page.inner_text("body").replace("\u2060", "")
                context.close()
                return body

            body = sign_in({"email": "ana@example.org", "email_verified": True}, "verified")
            assert "Signed in as ana@example.org" in body and "Coverage" in body

            body = sign_in({"email": "ana@example.org"}, "no-verified-claim")
            assert "Access refused" in body and "did not confirm" in body and "Signed in as" not in body

            body = sign_in({"email": "bob@partner.net"}, "domain-no-verified-claim")
            assert "Access refused" in body and "Signed in as" not in body

            body = sign_in({"email": "eve@evil.net", "email_verified": True}, "not-listed")
            assert "Access refused" in body and "not on this dashboard's allow-list" in body
        assert "Traceback" not in dash.log_text()
    finally:
        provider.close()


# --- DNS rebinding: a page on another name that resolves to 127.0.0.1 ---------------------------


def test_a_rebound_name_gets_no_page_and_no_data(tmp_path, store, playwright):
    with run_dashboard(tmp_path, store, secrets=tmp_path / "absent.toml") as dash:
        # Chromium resolves the attacker's name to loopback, as a rebinding DNS server would.
        b = playwright.chromium.launch(executable_path=chromium(), args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP rebind.attacker.example 127.0.0.1"])
        try:
            page = b.new_page(viewport={"width": 1200, "height": 900})
            page.goto(f"http://rebind.attacker.example:{dash.port}/alerts")
            settle(page, "[data-testid=stAlertContentError]")
            shot(page, "rebind-refused")
            body = page.inner_text("body")
            assert "answers only at http://localhost or http://127.0.0.1" in body
            assert "Local analyst" not in body and "Alerts" not in body.replace("Policing", "")
            assert page.locator("[data-testid=stSidebar], [data-testid=stDataFrame], input, textarea, [data-testid=stTabs]").count() == 0

            # the same browser, the same server, a loopback name: the dashboard as usual
            page.goto(f"http://localhost:{dash.port}/alerts")
            settle(page, "[data-testid=stTabs]")
            assert "Local analyst" in page.inner_text("body")
            page.close()
        finally:
            b.close()
    assert "refused a page for Host 'rebind.attacker.example:" in dash.log_text()
