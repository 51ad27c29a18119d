"""Cached reads of the store that several components share: the store at a glance, feed
trouble and the filter choices; `store_changed` makes them read afresh."""

from __future__ import annotations

import streamlit as st

from monitor import overview
from monitor.errors import MonitorError
from monitor.feeds import FeedTrouble, all_feeds_failing
from monitor.overview import StoreStatus
from monitor.store import Database
from views.components.session import OPTIONS_TTL_S, open_database


@st.cache_data(ttl=OPTIONS_TTL_S, show_spinner=False)
def _topic_options(url: str) -> list[str]:
    return overview.topic_choices(open_database(url))


@st.cache_data(ttl=OPTIONS_TTL_S, show_spinner=False)
def _target_options(url: str) -> list[str]:
    return overview.target_choices(open_database(url))


@st.cache_data(ttl=OPTIONS_TTL_S, show_spinner=False)
def _source_options(url: str) -> list[str]:
    return overview.source_choices(open_database(url))


@st.cache_data(ttl=OPTIONS_TTL_S, show_spinner=False)
def _language_options(url: str) -> list[str]:
    return overview.language_choices(open_database(url))


def language_options(db: Database) -> list[str]:
    return _language_options(db.url)


def topic_options(db: Database) -> list[str]:
    return _topic_options(db.url)


def target_options(db: Database) -> list[str]:
    return _target_options(db.url)


def source_options(db: Database) -> list[str]:
    return _source_options(db.url)


@st.cache_data(ttl=10, show_spinner=False)
def store_status_of(url: str) -> StoreStatus:
    return overview.store_status(open_database(url))


def store_status(db: Database) -> StoreStatus:
    return store_status_of(db.url)


@st.cache_data(ttl=10, show_spinner=False)
def _feed_trouble(url: str) -> FeedTrouble | None:
    try:
        return all_feeds_failing(open_database(url))
    except MonitorError:
        return None


def store_changed() -> None:
    """After this session changed feeds or polled: the status panel and banners read afresh,
    rather than saying "no feeds" for ten more seconds."""
    store_status_of.clear()
    _feed_trouble.clear()
    _source_options.clear()


def feed_trouble(db: Database) -> FeedTrouble | None:
    """monitor.feeds.FeedTrouble when every enabled feed is failing, else None."""
    return _feed_trouble(db.url)
