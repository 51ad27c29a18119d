"""Delivery targets: Apprise URLs checked at input, shown only in Apprise's privacy form, and sent
to through an address guard.

The guard has two halves. At input, every host an Apprise URL names (the webhook host, an SMTP
server) that resolves must resolve to public addresses only, unless private networks are allowed
(`MONITOR_ALLOW_PRIVATE_NETWORKS`, `--allow-private-networks`), the same rule as feed URLs. At send
time the check is repeated on the connection itself: while we send, urllib3's connect step (used by
`requests`, which Apprise's HTTP services use) resolves the host, refuses any non-public address and
connects to the address it checked, so a DNS answer that changes after the check cannot reach the
local network. Redirects are never followed: a webhook that answers 3xx is a failed delivery (kept
queued, the reason shown), so a redirect to 169.254.169.254 or 127.0.0.1 is never requested.
"""

from __future__ import annotations

import functools
import logging
import re
import socket
import threading
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from monitor.errors import InputError

log = logging.getLogger("monitor.alerts")

MAX_TARGETS = 10  # per alert: more is a mailing list, not an alert


@dataclass(frozen=True)
class Target:
    url: str  # as typed, secrets included: stored for sending, never displayed
    display: str  # Apprise's privacy form: what the UI, the CLI and logs show


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str | None = None
    # The message was sent but no answer came in time: it may well have arrived, so sending it
    # again blindly would duplicate it. The outbox leaves it for a person to retry.
    unconfirmed: bool = False


def _asset():
    import apprise

    # Redirects off for every service: see the module docstring.
    return apprise.AppriseAsset(http_redirects=False)


def _instantiate(url: str):
    import apprise

    try:
        with _scrubbed(url, _raw_pieces(url), ("apprise",)):  # Apprise logs each URL it loads
            plugin = apprise.Apprise.instantiate(url, asset=_asset())
    except Exception:  # a plugin that chokes on odd input is the same as "not a URL we can use"
        plugin = None
    if plugin is not None:
        plugin.redirects = False  # even when the URL itself says redirect=yes
    return plugin


def _scheme(url: str) -> str:
    head = url.split("://", 1)[0] if "://" in url else ""
    return head if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,20}", head or "") else "?"


def display_form(url: str) -> str:
    """The URL as shown anywhere (alerts list and its JSON, dashboard, delivery log): scheme,
    user and host as typed, every path segment and option value masked, or a placeholder that
    reveals nothing."""
    return _display_form(url)


@functools.lru_cache(maxsize=512)
def _display_form(url: str) -> str:
    plugin = _instantiate(url)
    if plugin is None:
        return f"{_scheme(url)}://…"
    return _tidy_privacy_url(plugin.url(privacy=True), url)


# Option values that say how to send, never who to or with what key: shown as typed.
_PLAIN_OPTIONS = frozenset({"format", "overflow", "method", "mode", "verify", "rto", "cto", "emojis", "tz"})
_MASK = "****"


def _masked(piece: str) -> str:
    """A path segment or option value: Apprise's own mask (`T...A`, `****`) or ours. Apprise's
    privacy form keeps the path and the `-header`/`:payload` options of its generic json, xml
    and form plugins, where webhook tokens and API keys live, so nothing there is shown."""
    if not piece or "..." in piece or piece == _MASK:
        return piece
    return _MASK


def _tidy_privacy_url(private: str, raw: str) -> str:
    """Apprise appends every default option (`?method=POST&overflow=upstream…`); keep only the
    options the analyst wrote, with their values masked, and mask every path segment."""
    parts = urlsplit(private)
    asked = {k.lower() for k, _ in parse_qsl(urlsplit(raw).query, keep_blank_values=True)}
    kept = [
        (k, v if k.lower() in _PLAIN_OPTIONS else _masked(v))
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() in asked
    ]
    query = "&".join(f"{k}={v}" for k, v in kept)
    path = "/".join(_masked(segment) for segment in parts.path.split("/"))
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def parse_target(url: str, *, allow_private: bool) -> Target:
    """Validate one Apprise URL; raises InputError naming it only in its privacy form."""
    url = (url or "").strip()
    if not url:
        raise InputError("a notification URL is empty")
    if len(url) > 2048:
        raise InputError("a notification URL is longer than 2048 characters")
    plugin = _instantiate(url)
    if plugin is None:
        raise InputError(
            f"not a notification URL Apprise can send to: {_scheme(url)}://… "
            "(e.g. json://host/path, mailto://user:pass@example.org, slack://…, tgram://…)"
        )
    display = _tidy_privacy_url(plugin.url(privacy=True), url)
    if not allow_private:
        problem = _private_host(plugin)
        if problem:
            raise InputError(
                f"{display}: {problem}; delivery targets must be public "
                "(allow intranet targets with MONITOR_ALLOW_PRIVATE_NETWORKS=1 or --allow-private-networks)"
            )
    return Target(url, display)


def parse_targets(urls, *, allow_private: bool) -> list[Target]:
    targets: list[Target] = []
    seen: set[str] = set()
    for url in urls or ():
        target = parse_target(url, allow_private=allow_private)
        if target.url not in seen:
            seen.add(target.url)
            targets.append(target)
    if len(targets) > MAX_TARGETS:
        raise InputError(f"an alert can notify at most {MAX_TARGETS} targets")
    return targets


def _hosts(plugin) -> list[str]:
    hosts = []
    for attr in ("host", "smtp_host"):
        value = getattr(plugin, attr, None)
        if isinstance(value, str) and value and value not in hosts:
            hosts.append(value)
    return hosts


def _is_public(ip: str) -> bool:
    from monitor.netguard import is_public_ip

    return bool(is_public_ip(ip))


def _resolve(host: str) -> list[str] | None:
    """The addresses a host name resolves to, or None when it does not resolve (many services put
    a token where the host would be: those are fixed public APIs)."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return None
    return sorted({str(info[4][0]) for info in infos})


def _private_host(plugin) -> str | None:
    for host in _hosts(plugin):
        addresses = _resolve(host)
        for ip in addresses or ():
            if not _is_public(ip):
                return f"{host} is a non-public address ({ip})"
    return None


# ---- sending ----------------------------------------------------------------------------

_guard_state = threading.local()
_install_lock = threading.Lock()
_installed = False


def _install_connection_guard() -> None:
    """Wrap urllib3's connect step once; the wrapper acts only inside `_guarded_send` on this thread."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from urllib3.util import connection

        original = connection.create_connection

        def guarded_create_connection(address, *args, **kwargs):
            policy = getattr(_guard_state, "policy", None)
            if policy is None:
                return original(address, *args, **kwargs)
            host, port = address
            addresses = _resolve(host)
            if not addresses:
                policy["refused"] = f"cannot resolve {host}"
                raise OSError(policy["refused"])
            for ip in addresses:
                if not _is_public(ip):
                    policy["refused"] = f"refused: {host} resolves to a non-public address ({ip})"
                    raise OSError(policy["refused"])
            # Connect to the address we checked, not to a second DNS answer.
            return original((addresses[0], port), *args, **kwargs)

        connection.create_connection = guarded_create_connection
        _installed = True


def send(url: str, title: str, body: str, *, allow_private: bool) -> SendResult:
    """Send one message to one target with Apprise. Never raises; errors never carry secrets."""
    import apprise

    plugin = _instantiate(url)
    if plugin is None:
        return SendResult(False, "not a notification URL Apprise can send to")
    if not allow_private:
        problem = _private_host(plugin)
        if problem:
            return SendResult(False, f"refused: {problem}")
        _install_connection_guard()
    _read_timeout(plugin, url)
    policy: dict = {}
    _guard_state.policy = None if allow_private else policy
    try:
        # whatever a plugin (or urllib3, which logs each request line) logs while sending, the
        # target's secrets are masked
        # DEBUG: the plugins log the socket exception (a read timeout, a refused connection) only there
        with _scrubbed(url, _secret_pieces(url), SCRUBBED_LOGGERS), apprise.LogCapture(level=logging.DEBUG) as captured:
            # Bodies are plain text that quotes strangers' feeds: declared as TEXT, Apprise
            # escapes them for HTML targets (e-mail's default) instead of passing markup through.
            ok = bool(plugin.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT))
        logs = captured.getvalue()
    except Exception as e:  # a plugin bug must not stop the outbox
        ok, logs = False, f"{type(e).__name__}: {e}"
    finally:
        _guard_state.policy = None
    if ok:
        return SendResult(True)
    if _READ_TIMEOUT in (logs or "").lower():
        waited = getattr(plugin, "socket_read_timeout", None)
        reason = f"the message was sent but no answer came within {waited:g} s: it may have arrived" if waited else "the message was sent but no answer came: it may have arrived"
        return SendResult(False, reason, unconfirmed=True)
    reason = policy.get("refused") or _last_line(logs) or "the target did not accept the message"
    return SendResult(False, redact(reason, url))


_READ_TIMEOUT = "read timed out"  # urllib3's ReadTimeoutError: the request went out, the answer did not come


def _read_timeout(plugin, url: str) -> None:
    """MONITOR_ALERT_READ_TIMEOUT_S instead of Apprise's 4 s, unless the URL sets `rto=`."""
    from monitor.config import settings

    asked = {k.lower() for k, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
    if "rto" not in asked and hasattr(plugin, "socket_read_timeout"):
        plugin.socket_read_timeout = settings().alert_read_timeout_s


def _last_line(logs: str) -> str:
    lines = [line.strip() for line in (logs or "").splitlines() if " - WARNING - " in line or " - ERROR - " in line]
    if not lines:
        return ""
    # "2026-… - WARNING - Failed to send JSON POST notification: Internal Server Error, error=500."
    return lines[-1].split(" - ", 2)[-1][:300]


SCRUBBED_LOGGERS = ("apprise", "urllib3.connectionpool")


def _raw_pieces(url: str) -> set[str]:
    """What the display form masks, read from the URL's text alone: the password, every path
    segment and every option value, as typed and as decoded."""
    from urllib.parse import unquote, unquote_plus

    rest = url.split("://", 1)[-1]
    netloc, _, tail = rest.partition("/")
    if "?" in netloc:  # no path: json://host?-X-Key=…
        netloc, _, query = netloc.partition("?")
        tail = "?" + query
    path, _, query = tail.partition("?")
    pieces: set[str] = set()
    userinfo = netloc.rpartition("@")[0]
    if ":" in userinfo:
        pieces.add(userinfo.split(":", 1)[1])
    pieces.update(path.split("#", 1)[0].split("/"))
    for pair in query.split("#", 1)[0].split("&"):
        key, _, value = pair.partition("=")
        if unquote_plus(key).strip().lower() not in _PLAIN_OPTIONS:
            pieces.add(value)
    out = set()
    for piece in pieces:
        for form in (piece, unquote(piece), unquote_plus(piece), piece.replace("%20", "+")):
            if len(form) >= 4:
                out.add(form)
    return out


def _secret_pieces(url: str) -> list[str]:
    """The parts of a raw URL that its display form hides (tokens, passwords), longest first."""
    shown = display_form(url)
    pieces = {p for p in re.split(r"[:/@?&=#,]+", url) if len(p) >= 4 and p not in shown} | _raw_pieces(url)
    return sorted(pieces, key=len, reverse=True)


class _scrubbed:
    """Mask `pieces` in every record these loggers emit inside the block."""

    def __init__(self, url: str, pieces, loggers: tuple[str, ...]):
        self.filter = _Redactor(url, sorted(pieces, key=len, reverse=True))
        self.loggers = [logging.getLogger(name) for name in loggers]

    def __enter__(self):
        for logger in self.loggers:
            logger.addFilter(self.filter)
        return self

    def __exit__(self, *exc):
        for logger in self.loggers:
            logger.removeFilter(self.filter)
        return False


def redact(message: str, url: str, pieces: list[str] | None = None) -> str:
    """Remove from a message every piece of the raw URL that its privacy form hides."""
    for piece in _secret_pieces(url) if pieces is None else pieces:
        message = message.replace(piece, "****")
    return message


class _Redactor(logging.Filter):
    """Masks one target's secrets in every record Apprise logs while we send to it."""

    def __init__(self, url: str, pieces: list[str]):
        super().__init__()
        self.url = url
        self.pieces = pieces

    def filter(self, record: logging.LogRecord) -> bool:
        if self.pieces:
            record.msg = redact(record.getMessage(), self.url, self.pieces)
            record.args = ()
        return True
