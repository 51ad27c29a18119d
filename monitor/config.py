"""Every setting in one place: its environment variable, its default, and why that default.

Settings are read once (`settings()`), so a module never reaches into `os.environ` itself. Tests
build their own `Settings(...)` and pass it where it matters.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path

from monitor.errors import ConfigError

# A source checkout keeps its data/ beside the code; an installed package (whose parent is
# site-packages) keeps it under the directory it is started from.
_SOURCE_ROOT = Path(__file__).resolve().parent.parent
REPO_ROOT = _SOURCE_ROOT if (_SOURCE_ROOT / "dashboard.py").is_file() else Path.cwd()


def _setting(env: str, default, why: str):
    """A dataclass field that remembers its environment variable and the reason for its default."""
    return field(default=default, metadata={"env": env, "why": why})


@dataclass(frozen=True)
class Settings:
    database_url: str = _setting(
        "MONITOR_DATABASE_URL",
        f"sqlite:///{REPO_ROOT / 'data' / 'monitor.db'}",
        "A laptop install needs no server: one SQLite file under data/. A team points this at "
        "PostgreSQL (postgresql+psycopg://…) to share the store between pollers and dashboards.",
    )
    poll_in_dashboard: bool = _setting(
        "MONITOR_POLL_IN_DASHBOARD",
        True,
        "On a laptop the dashboard is the only process, so it polls in the background; "
        "deployments with separate `poll --forever` workers set 0.",
    )
    seed_default_feeds: bool = _setting(
        "MONITOR_SEED_DEFAULT_FEEDS",
        True,
        "A new analyst should see coverage on the first start without hunting for feed URLs.",
    )
    allow_private_networks: bool = _setting(
        "MONITOR_ALLOW_PRIVATE_NETWORKS",
        False,
        "Feed and alert URLs come from outside; refusing loopback, link-local and private "
        "addresses stops them from probing the host's network (SSRF). Intranet installs set 1.",
    )
    https_proxy: str = _setting(
        "HTTPS_PROXY",
        "",
        "Offices that reach the web only through a proxy set the usual variables (lower-case "
        "too); feeds then go through CONNECT tunnels to the address the guard checked. Empty: direct.",
    )
    http_proxy: str = _setting(
        "HTTP_PROXY",
        "",
        "The proxy for http:// feeds (also tunnelled with CONNECT, so the proxy never resolves a "
        "feed host the guard did not check). Empty: direct.",
    )
    no_proxy: str = _setting(
        "NO_PROXY",
        "",
        "Hosts reached directly (comma-separated names, .domain suffixes, or *), as curl reads it.",
    )
    user_agent: str = _setting(
        "MONITOR_USER_AGENT",
        "policing-press-monitor/0.1 (+media monitoring; RSS reader)",
        "Publishers block anonymous scrapers; a descriptive agent says who polls them.",
    )
    fetch_timeout_s: float = _setting(
        "MONITOR_FETCH_TIMEOUT_S",
        30.0,
        "A total deadline per fetch (not per chunk): Media Cloud and Miniflux use 20-30 s, and "
        "a drip-feeding server must not hold a worker for ever.",
    )
    max_body_bytes: int = _setting(
        "MONITOR_MAX_BODY_BYTES",
        15 * 1024 * 1024,
        "Real feeds are under a few MB; 15 MiB decoded stops gzip bombs and endless bodies.",
    )
    max_redirects: int = _setting(
        "MONITOR_MAX_REDIRECTS",
        5,
        "Legitimate feeds redirect once or twice; more is a loop or a trick.",
    )
    max_items_per_feed: int = _setting(
        "MONITOR_MAX_ITEMS_PER_FEED",
        2000,
        "No real feed carries more; a larger one is a dump that would flood the archive.",
    )
    max_title_chars: int = _setting(
        "MONITOR_MAX_TITLE_CHARS",
        1000,
        "Titles are a line of text; a megabyte title is an attack or a bug.",
    )
    max_content_chars: int = _setting(
        "MONITOR_MAX_CONTENT_CHARS",
        200_000,
        "Full articles run to tens of kB; the cap keeps one item from bloating the store.",
    )
    parse_memory_mb: int = _setting(
        "MONITOR_PARSE_MEMORY_MB",
        1024,
        "feedparser can blow up quadratically on crafted entities (62 KB -> 600 MB); the parse "
        "worker is killed past this address-space limit instead of the whole machine suffering.",
    )
    parse_timeout_s: float = _setting(
        "MONITOR_PARSE_TIMEOUT_S",
        20.0,
        "A pathological <author> can take feedparser seconds; a real feed parses in well under one.",
    )
    title_dedup_days: int = _setting(
        "MONITOR_TITLE_DEDUP_DAYS",
        7,
        "The same story re-published under a new URL by one source within a week is one story "
        "(Media Cloud's window).",
    )
    default_poll_interval_s: int = _setting(
        "MONITOR_DEFAULT_POLL_INTERVAL_S",
        3600,
        "Miniflux's default: fresh enough for news, polite to publishers.",
    )
    min_poll_interval_s: int = _setting(
        "MONITOR_MIN_POLL_INTERVAL_S",
        600,
        "Media Cloud's lower bound: busy feeds are polled every 10 minutes, never faster.",
    )
    max_poll_interval_s: int = _setting(
        "MONITOR_MAX_POLL_INTERVAL_S",
        86400,
        "Even a quiet or failing feed is tried once a day so it can recover.",
    )
    poll_concurrency: int = _setting(
        "MONITOR_POLL_CONCURRENCY",
        16,
        "Fetching waits on the network; 16 requests in flight keep two cores busy parsing.",
    )
    host_spacing_s: float = _setting(
        "MONITOR_HOST_SPACING_S",
        0.02,
        "The gap between two requests to one host, from all pollers together (a host that took "
        "over 1 s to answer rests as long, up to 5 s): with one request at a time this caps a "
        "fast host at ~50 a second, yet 60 feeds of one host still re-poll in a few seconds.",
    )
    dashboard_hosts: str = _setting(
        "MONITOR_DASHBOARD_HOSTS",
        "",
        "Without sign-in the dashboard answers only to loopback names (localhost, 127.0.0.1, "
        "[::1]), so a web page that rebinds its own name to 127.0.0.1 cannot read or drive it; "
        "list other names (comma-separated) only for a host that is yours.",
    )
    sqlite_busy_timeout_s: float = _setting(
        "MONITOR_SQLITE_BUSY_TIMEOUT_S",
        30.0,
        "How long a SQLite write waits for another process's write lock before it gives up with "
        "a one-line error: a poller batch commits in well under a second, so 30 s is generous.",
    )
    poll_retry_s: float = _setting(
        "MONITOR_POLL_RETRY_S",
        30.0,
        "A `poll --forever` round that could not claim feeds (database locked, disk full, "
        "read-only) is tried again after this long, so polling resumes by itself once it is fixed.",
    )
    lease_seconds: int = _setting(
        "MONITOR_LEASE_SECONDS",
        300,
        "A poller that dies leaves its claimed feeds; after this they return to the pool.",
    )
    alert_retry_base_s: int = _setting(
        "MONITOR_ALERT_RETRY_BASE_S",
        60,
        "A failed alert delivery is retried after a minute, then twice as long each time: a "
        "webhook that is restarting is back within minutes, one that is down is not hammered.",
    )
    alert_retry_max_s: int = _setting(
        "MONITOR_ALERT_RETRY_MAX_S",
        3600,
        "Retries never wait more than an hour, so a target that recovers gets its queue the same "
        "hour; messages stay queued (never dropped) however long it is down.",
    )
    alert_read_timeout_s: float = _setting(
        "MONITOR_ALERT_READ_TIMEOUT_S",
        30.0,
        "How long a target may take to answer after the message was sent: chat bridges and "
        "ticket systems often work before they answer, and Apprise's 4 s cut them off. A URL's "
        "own `rto=` wins. Stays well under MONITOR_ALERT_LEASE_S.",
    )
    alert_lease_s: int = _setting(
        "MONITOR_ALERT_LEASE_S",
        120,
        "A sender holds a message this long; one Apprise call is bounded by its own connect and "
        "read timeouts (seconds), so an expired lease means the sender died and another may retry.",
    )
    spike_sensitivity: float = _setting(
        "MONITOR_SPIKE_SENSITIVITY",
        3.0,
        "A day's share must exceed the baseline mean by this many standard deviations: 3 fires "
        "on real news surges and rarely on noise (Meltwater-style 'medium' sensitivity).",
    )
    spike_baseline_days: int = _setting(
        "MONITOR_SPIKE_BASELINE_DAYS",
        14,
        "Two weeks of prior days: long enough to average out weekdays, short enough to follow "
        "a topic's drift (the window commercial tools use).",
    )
    spike_min_count: int = _setting(
        "MONITOR_SPIKE_MIN_COUNT",
        5,
        "A topic going from 0 to 2 articles is not a spike worth a message.",
    )
    min_share_denominator: int = _setting(
        "MONITOR_MIN_SHARE_DENOMINATOR",
        20,
        "A share is drawn only for periods with at least this many articles in all: on a day of "
        "two articles one story is '50 %', and each article moves a 20-article day by 5 points, "
        "about the size of a real topic swing. Thinner periods show their counts instead.",
    )
    spike_failure_fraction: float = _setting(
        "MONITOR_SPIKE_FAILURE_FRACTION",
        0.2,
        "When a fifth of the feeds failed that day the denominator is broken: a share spike that "
        "vanishes at the usual daily volume is held back and the reason shown.",
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = env.get(f.metadata["env"])
            if raw is None and not f.metadata["env"].startswith("MONITOR_"):
                raw = env.get(f.metadata["env"].lower())  # https_proxy, no_proxy: both spellings are usual
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(raw, type(f.default), f.metadata["env"])
        return cls(**values)


def _convert(raw: str, kind: type, name: str):
    try:
        if kind is bool:
            if raw.strip().lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.strip().lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {kind.__name__}") from None


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


def documented_settings() -> list[tuple[str, object, str]]:
    """(environment variable, default, why) for each setting: docs/configuration.md's table is checked against it."""
    return [(f.metadata["env"], f.default, f.metadata["why"]) for f in fields(Settings)]
