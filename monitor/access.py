"""Who may use the dashboard: the allow-list behind OIDC sign-in (no Streamlit here).

Without an `[auth]` section the dashboard serves one local analyst on 127.0.0.1 and nobody signs
in. With `[auth]`, `st.login` proves who someone is and this policy decides whether they get in:
fail closed (no list means nobody), e-mails compared case-insensitively, and only e-mails the
provider says are verified (`email_verified` is true) let in.

Only a missing secrets file means local mode. A file that exists but cannot be read or parsed,
an `[auth]` that `st.login` cannot use, or an `[access]` list without `[auth]` is a ConfigError,
and the dashboard serves nobody until it is fixed (an edit that breaks sign-in must not open
the archive to whoever reaches the port).
"""

from __future__ import annotations

import getpass
import ipaddress
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from monitor.errors import ConfigError

# The [auth] keys Streamlit needs before st.login can work at all: the cookie and callback, and
# the default provider that `st.login()` (no provider name) signs in with.
REQUIRED_AUTH_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


@dataclass(frozen=True)
class AccessPolicy:
    auth_required: bool
    allowed_emails: frozenset[str] = frozenset()
    allowed_domains: frozenset[str] = frozenset()
    # Only addresses the provider vouches for (email_verified is True): a provider that omits the
    # claim may let anyone type someone else's address. `[access] require_verified_email = false`
    # is the administrator's explicit way to trust a provider that never sends it.
    require_verified_email: bool = True

    def decide(self, email: str | None, email_verified: bool | None = None) -> Decision:
        """May this signed-in person use the dashboard? Without auth, everyone (it is loopback)."""
        if not self.auth_required:
            return Decision(True, "sign-in is not configured: local use")
        address = (email or "").strip().lower()
        if not address or "@" not in address:
            return Decision(False, "your identity provider did not give an e-mail address")
        if email_verified is False:
            return Decision(False, f"{address} is not verified by your identity provider")
        if self.require_verified_email and email_verified is not True:
            return Decision(False, f"your identity provider did not confirm that {address} is verified")
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


def read_secrets_files(paths: Sequence[str | Path]) -> dict | None:
    """The secrets of those `paths` that exist, merged in order (later files win, as in
    Streamlit); None when not one of them exists, which is what local mode means.

    A file that exists but cannot be read (a folder, bad UTF-8, no permission) or is not valid
    TOML raises ConfigError naming the file and the TOML error's line, never its contents."""
    merged: dict = {}
    found = False
    for entry in paths:
        path = Path(entry).expanduser()
        if path.suffix != ".toml" and path.is_dir():
            raise ConfigError(f"{path}: folder-style secrets are not supported here; use a secrets.toml file")
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except UnicodeDecodeError:
            raise ConfigError(f"{path} cannot be read: it is not UTF-8 text") from None
        except OSError as e:
            raise ConfigError(f"{path} cannot be read: {e.strerror or type(e).__name__}") from None
        try:
            merged.update(tomllib.loads(text))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path} is not valid TOML ({e})") from None
        found = True
    return merged if found else None


def policy_from_secrets(secrets: Mapping) -> AccessPolicy:
    """Read `[auth]` and `[access]` from a secrets mapping (st.secrets or a parsed TOML dict)."""
    if not isinstance(secrets, Mapping):
        raise ConfigError("the secrets are not a TOML table")
    auth = secrets.get("auth")
    access = secrets.get("access")
    if access is not None and not isinstance(access, Mapping):
        raise ConfigError("[access] in .streamlit/secrets.toml must be a table")
    if auth is None:
        if access:  # someone meant to restrict the dashboard: never serve it open instead
            raise ConfigError("[access] lists who may sign in, but .streamlit/secrets.toml has no [auth] section to sign them in with")
        return AccessPolicy(auth_required=False)
    if not isinstance(auth, Mapping):
        raise ConfigError("[auth] in .streamlit/secrets.toml must be a table")
    missing = [k for k in REQUIRED_AUTH_KEYS if not auth.get(k)]
    if missing:
        raise ConfigError(f"[auth] in .streamlit/secrets.toml lacks {', '.join(missing)}")
    access = access or {}
    require_verified = access.get("require_verified_email", True)
    if not isinstance(require_verified, bool):
        raise ConfigError("[access] require_verified_email must be true or false")
    return AccessPolicy(
        auth_required=True,
        allowed_emails=_clean(access.get("allowed_emails"), "allowed_emails"),
        allowed_domains=_clean(access.get("allowed_domains"), "allowed_domains"),
        require_verified_email=require_verified,
    )


def is_local_host(host_header: str | None, extra_names: Iterable[str] = ()) -> bool:
    """May a dashboard without sign-in answer a request whose Host header is this?

    Only loopback addresses, `localhost` (and `*.localhost`, which browsers never resolve
    through DNS) and names the administrator listed. Any other name may be a DNS-rebinding
    page that pointed its own name at 127.0.0.1 to read the archive with the analyst's
    browser. No header at all is not a browser (AppTest, a health probe): allowed."""
    if host_header is None:
        return True
    try:
        name = (urlsplit("//" + host_header.strip()).hostname or "").rstrip(".").lower()
    except ValueError:
        return False
    if not name:
        return False
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    return name in {n.strip().rstrip(".").lower() for n in extra_names if n.strip()}


def local_analyst() -> str:
    """The name labels and alerts carry when nobody signs in: the operating-system user."""
    try:
        return getpass.getuser() or "analyst"
    except Exception:  # no user name in a container: still record something stable
        return "analyst"
