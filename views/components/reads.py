"""Cached reads of the store that several components share: the store at a glance, feed
trouble and the filter choices; `store_changed` makes them read afresh."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import streamlit as st

from monitor.classify import load_taxonomy
from monitor.errors import MonitorError
from monitor.store import Database
from views.components.session import OPTIONS_TTL_S, open_database


@st.cache_data(ttl=OPTIONS_TTL_S, show_spinner=False)
def _topic_options(url: str) -> list[str]:
    db = open_database(url)
    try:
        return sorted(_names(load_taxonomy(db), "topics"))
    except MonitorError:
        pass
    from sqlalchemy import select

    from monitor.store.schema import tags

    with db.read() as conn:
        return sorted(r[0] for r in conn.execute(select(tags.c.label).where(tags.c.kind == "topic").distinct()))


@st.cache_data(ttl=OPTIONS_TTL_S, show_spinner=False)
def _target_options(url: str) -> list[str]:
    db = open_database(url)
    try:
        return sorted(_names(load_taxonomy(db), "targets"))
    except MonitorError:
        pass
    from sqlalchemy import select

    from monitor.store.schema import tags

    with db.read() as conn:
        return sorted(r[0] for r in conn.execute(select(tags.c.target).where(tags.c.kind == "stance").distinct()) if r[0])


def _names(taxonomy: Any, attr: str) -> list[str]:
    """Names of a taxonomy's topics/targets, whatever container the classifier part uses."""
    items = getattr(taxonomy, attr, None) or []
    if isinstance(items, dict):
        return [str(k) for k in items]
    return [str(getattr(i, "name", i)) for i in items]


@st.cache_data(ttl=OPTIONS_TTL_S, show_spinner=False)
def _source_options(url: str) -> list[str]:
    from sqlalchemy import select

    from monitor.store.schema import articles

    db = open_database(url)
    # DISTINCT over the (source, published_at) index: a skip scan, cheap even at a million rows.
    with db.read() as conn:
        return [r[0] for r in conn.execute(select(articles.c.source).distinct().order_by(articles.c.source).limit(2000))]


@st.cache_data(ttl=OPTIONS_TTL_S, show_spinner=False)
def _language_options(url: str) -> list[str]:
    from monitor.browse import stored_languages

    return stored_languages(open_database(url))


def language_options(db: Database) -> list[str]:
    return _language_options(db.url)


def topic_options(db: Database) -> list[str]:
    return _topic_options(db.url)


def target_options(db: Database) -> list[str]:
    return _target_options(db.url)


def source_options(db: Database) -> list[str]:
    return _source_options(db.url)



@dataclass(frozen=True)
class StoreStatus:
    feeds: int
    feeds_failing: int
    articles: int
    articles_24h: int
    last_fetch_at: dt.datetime | None
    untagged: int
    newest: dt.datetime | None
    oldest: dt.datetime | None
    newest_dated: dt.datetime | None = None  # the newest article whose date is not estimated


@st.cache_data(ttl=10, show_spinner=False)
def store_status_of(url: str) -> StoreStatus:
    from sqlalchemy import func, select

    from monitor.store import utcnow
    from monitor.store.schema import articles, feeds

    db = open_database(url)
    since = utcnow() - dt.timedelta(hours=24)
    with db.read() as conn:
        n_feeds, failing, last_fetch = conn.execute(
            select(func.count(), func.count().filter(feeds.c.status == "failing"), func.max(feeds.c.last_fetch_at))
        ).one()
        # published_at and tag_status are indexed: these stay cheap at a million articles.
        n_articles = conn.execute(select(func.count()).select_from(articles)).scalar_one()
        # an estimated date is the fetch time of an undated item: never "in 24 h"
        dated = articles.c.date_estimated.is_(False)
        recent = conn.execute(select(func.count()).select_from(articles).where(articles.c.published_at >= since, dated)).scalar_one()
        untagged = conn.execute(select(func.count()).select_from(articles).where(articles.c.tag_status != "tagged")).scalar_one()
        newest = conn.execute(select(func.max(articles.c.published_at))).scalar()
        oldest = conn.execute(select(func.min(articles.c.published_at))).scalar()
        newest_dated = conn.execute(select(func.max(articles.c.published_at)).where(dated)).scalar()
    return StoreStatus(int(n_feeds), int(failing or 0), int(n_articles), int(recent), last_fetch, int(untagged), newest, oldest, newest_dated)


def store_status(db: Database) -> StoreStatus:
    return store_status_of(db.url)


@st.cache_data(ttl=10, show_spinner=False)
def _feed_trouble(url: str):
    from monitor.feeds import all_feeds_failing

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


def feed_trouble(db: Database):
    """monitor.feeds.FeedTrouble when every enabled feed is failing, else None."""
    return _feed_trouble(db.url)

