"""The archive at a glance: what the dashboard's status panel, empty states and filter choices
show (no Streamlit).

Every query here is an aggregate over an indexed column, so a page can ask on every rerun, even
at a million articles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from monitor.classify import load_taxonomy
from monitor.errors import MonitorError
from monitor.store import Database, utcnow
from monitor.store.schema import articles, feeds, tags

if TYPE_CHECKING:
    from monitor.classify.taxonomy import Taxonomy

MAX_SOURCE_CHOICES = 2000  # a source list longer than this is searched, not scrolled


@dataclass(frozen=True)
class StoreStatus:
    feeds: int
    feeds_failing: int
    articles: int
    articles_24h: int  # with a real date in the last 24 h (an estimated date never counts)
    last_fetch_at: datetime | None
    untagged: int
    newest: datetime | None
    oldest: datetime | None
    newest_dated: datetime | None = None  # the newest article whose date is not estimated


def store_status(db: Database) -> StoreStatus:
    """Feeds (and how many fail), articles (all, last 24 h, untagged) and the archive's span."""
    since = utcnow() - timedelta(hours=24)
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


def topic_choices(db: Database) -> list[str]:
    """The topics a filter offers: the taxonomy's, or (when it cannot be read) those tagged."""
    return _taxonomy_or_tagged(db, lambda t: t.topic_names, tags.c.label, "topic")


def target_choices(db: Database) -> list[str]:
    """The stance targets a filter offers: the taxonomy's, or (when it cannot be read) those tagged."""
    return _taxonomy_or_tagged(db, lambda t: t.target_names, tags.c.target, "stance")


def _taxonomy_or_tagged(db: Database, names: Callable[[Taxonomy], Iterable[str]], column: Any, kind: str) -> list[str]:
    try:
        return sorted(names(load_taxonomy(db)))
    except MonitorError:
        pass
    with db.read() as conn:
        return sorted(r[0] for r in conn.execute(select(column).where(tags.c.kind == kind).distinct()) if r[0])


def source_choices(db: Database, limit: int = MAX_SOURCE_CHOICES) -> list[str]:
    """The sources a filter offers, alphabetically, at most `limit` of them."""
    # DISTINCT over the (source, published_at) index: a skip scan, cheap even at a million rows.
    with db.read() as conn:
        return [r[0] for r in conn.execute(select(articles.c.source).distinct().order_by(articles.c.source).limit(limit))]


def language_choices(db: Database) -> list[str]:
    """The language codes stored articles carry (the Languages filter's choices)."""
    with db.read() as conn:
        return sorted(r[0] for r in conn.execute(select(articles.c.lang).distinct()) if r[0])
