"""The app's database and its background work (default feeds, the poller): once per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from monitor.config import Settings
from monitor.errors import MonitorError
from monitor.feeds import seed_default_feeds
from monitor.poller import start_background_poller
from monitor.store import Database
from views.components.text import md

QUERY_TTL_S = 30  # query results: fresh enough for a poller that adds articles every few minutes
OPTIONS_TTL_S = 300  # filter choices (sources, topics) change rarely


def database_url() -> str:
    # Read fresh (not the process-wide cached settings) so tests can point each app at its own file.
    return Settings.from_env().database_url


@st.cache_resource(show_spinner=False)
def open_database(url: str) -> Database:
    """The Database at `url`, opened and migrated once per process (cached functions take the
    URL, which hashes, and call this)."""
    db = Database(url)
    db.init()
    return db


def database() -> Database:
    """The app's Database, opened and migrated once per process; stops the page on a store error."""
    try:
        return open_database(database_url())
    except MonitorError as e:
        st.error(f"The database cannot be opened: {md(e)}")
        st.caption("Check MONITOR_DATABASE_URL (or data/monitor.db) and restart `streamlit run dashboard.py`.")
        st.stop()
        raise  # unreachable: st.stop raises


@dataclass(frozen=True)
class Background:
    seeded_feeds: int
    poller_running: bool
    poller_note: str
    poller: Any = None  # monitor.poller.BackgroundPoller: rounds done, last summary


@st.cache_resource(show_spinner=False)
def _background(url: str) -> Background:
    """Seed default feeds and start the poller once per process, not once per page rerun."""
    settings = Settings.from_env()
    db = open_database(url)
    seeded = 0
    if settings.seed_default_feeds:
        try:
            seeded = int(seed_default_feeds(db) or 0)
        except MonitorError:
            seeded = 0
    if not settings.poll_in_dashboard:
        return Background(seeded, False, "The background poller is off (MONITOR_POLL_IN_DASHBOARD=0); run `python -m monitor poll --forever`.")
    handle = start_background_poller(db, settings=settings)
    if handle is None:
        return Background(seeded, False, "The background poller is off; run `python -m monitor poll --forever`.")
    return Background(seeded, True, "The background poller is running in this dashboard's process.", handle)


def background(db: Database) -> Background:
    return _background(db.url)
