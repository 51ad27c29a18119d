"""Who may use the dashboard: the allow-list behind OIDC sign-in (no Streamlit here).

Without an `[auth]` section the dashboard serves one local analyst on 127.0.0.1 and nobody signs
in. With `[auth]`, `st.login` proves who someone is and this policy decides whether they get in:
fail closed (no list means nobody), e-mails compared case-insensitively, unverified e-mails
refused.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from monitor.errors import ConfigError

# The [auth] keys Streamlit needs before st.login can work at all.
REQUIRED_AUTH_KEYS = ("redirect_uri", "cookie_secret")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


@dataclass(frozen=True)
class AccessPolicy:
    auth_required: bool
    allowed_emails: frozenset[str] = frozenset()
    allowed_domains: frozenset[str] = frozenset()

    def decide(self, email: str | None, email_verified: bool | None = None) -> Decision:
        """May this signed-in person use the dashboard? Without auth, everyone (it is loopback)."""
        if not self.auth_required:
            return Decision(True, "sign-in is not configured: local use")
        address = (email or "").strip().lower()
        if not address or "@" not in address:
            return Decision(False, "your identity provider did not give an e-mail address")
        if email_verified is False:
            return Decision(False, f"{address} is not verified by your identity provider")
        if not self.allowed_emails and not self.allowed_domains:
            return Decision(False, "no analysts are allowed yet: add e-mails to [access] allowed_emails")
        if address in self.allowed_emails:
            return Decision(True, "on the allow-list")
        if address.rsplit("@", 1)[1] in self.allowed_domains:
            return Decision(True, "allowed domain")
        return Decision(False, f"{address} is not on this dashboard's allow-list")


def _clean(values: object, what: str) -> frozenset[str]:
    if values is None:
        return frozenset()
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ConfigError(f"[access] {what} must be a list of strings")
    out = set()
    for v in values:
        if not isinstance(v, str):
            raise ConfigError(f"[access] {what} must be a list of strings")
        v = v.strip().lower().lstrip("@")
        if v:
            out.add(v)
    return frozenset(out)


def policy_from_secrets(secrets: Mapping) -> AccessPolicy:
    """Read `[auth]` and `[access]` from a secrets mapping (st.secrets or a parsed TOML dict)."""
    auth = secrets.get("auth") if hasattr(secrets, "get") else None
    if not auth:
        return AccessPolicy(auth_required=False)
    missing = [k for k in REQUIRED_AUTH_KEYS if not auth.get(k)]
    if missing:
        raise ConfigError(f"[auth] in .streamlit/secrets.toml lacks {', '.join(missing)}")
    access = secrets.get("access") or {}
    return AccessPolicy(
        auth_required=True,
        allowed_emails=_clean(access.get("allowed_emails"), "allowed_emails"),
        allowed_domains=_clean(access.get("allowed_domains"), "allowed_domains"),
    )


def local_analyst() -> str:
    """The name labels and alerts carry when nobody signs in: the operating-system user."""
    try:
        return getpass.getuser() or "analyst"
    except Exception:  # no user name in a container: still record something stable
        return "analyst"
