"""The keyword evaluator: which articles keyword alerts match, new articles as they are ingested
and the archive on demand. It only finds (`Match` records); `monitor.alerts.record` stores them.

New articles are matched in memory, in one pass: each alert's filters are checked with the
in-memory half of the filter declarations (`monitor.filters.matcher`: the cheap dimensions first,
the query last, on the words and stems the search index holds, made once per article). The
archive is matched in SQL with the same `Filters` the Articles page uses, so "test this alert"
shows what a search would.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, select

from monitor.alerts.found import Match
from monitor.alerts.rules import Alert, find_alert, load_enabled
from monitor.filters import ArticleFacts, matcher, reads
from monitor.query import parse_query
from monitor.store.schema import alert_matches, articles, tags

log = logging.getLogger("monitor.alerts")

CHUNK = 1000  # article ids per read: well under SQLite's bound-parameter limit


def _chunks(values: Sequence, size: int) -> Iterable[Sequence]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _watching(conn) -> list[Alert]:
    """Enabled keyword alerts whose filters still apply (a query stored before a stricter parser
    is skipped, never blocking ingest)."""
    watching = []
    for alert in load_enabled(conn, "keyword"):
        try:
            parse_query(alert.query)
        except Exception:
            log.warning("alert #%s has a query that no longer parses; skipped", alert.id)
            continue
        watching.append(alert)
    return watching


def new_article_matches(db, article_ids: Sequence[int]) -> list[tuple[Alert, list[Match]]]:
    """Which enabled keyword alerts these (stored, tagged) articles match, each alert with its
    matches; articles an alert matched before are found again (recording skips them). Each
    alert's filters are checked in memory by the rules the Articles page applies in SQL."""
    with db.read() as conn:
        watching = _watching(conn)
    if not watching:
        return []
    want_tags = any("tags" in reads(alert.filters) for alert in watching)
    checks = [(alert.id, matcher(alert.filters)) for alert in watching]
    found: dict[int, list[Match]] = defaultdict(list)
    for chunk in _chunks(list(article_ids), CHUNK):
        with db.read() as conn:
            rows = conn.execute(
                select(
                    articles.c.id, articles.c.title, articles.c.summary, articles.c.content, articles.c.lang, articles.c.source,
                    articles.c.published_at,
                ).where(articles.c.id.in_(chunk))
            ).all()
            tagsets: dict[int, set] = defaultdict(set)
            if want_tags:
                for t in conn.execute(select(tags.c.article_id, tags.c.kind, tags.c.target, tags.c.label).where(tags.c.article_id.in_(chunk))):
                    tagsets[t.article_id].add((t.kind, t.target or "", t.label))
        for r in rows:
            # one ArticleFacts per article: its words are read once, for the first alert that asks
            article = ArticleFacts(r.source, r.published_at, r.lang, frozenset(tagsets.get(r.id, ())), r.title, r.summary, r.content)
            for alert_id, accepts in checks:
                if accepts(article):
                    found[alert_id].append(Match.article(r.id))
    return [(alert, found[alert.id]) for alert in watching if alert.id in found]


# ---- the archive ------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewRow:
    id: int
    published_at: datetime
    source: str
    title: str
    link: str | None
    date_estimated: bool = False  # the item gave no readable date (see monitor.dates)


@dataclass(frozen=True)
class Preview:
    total: int
    rows: list[PreviewRow]


def _archive_conditions(alert: Alert, db) -> list:
    from monitor.filters import article_conditions

    return article_conditions(alert.filters, db)


def preview_alert(db, alert: int | str | Alert, *, limit: int = 50) -> Preview:
    """What a keyword alert matches in the archive (newest first), without recording anything:
    the dashboard's "test this alert". Accepts a stored alert or an unsaved `Alert` from a form."""
    if not isinstance(alert, Alert):
        with db.read() as conn:
            alert = find_alert(conn, alert)
    conditions = _archive_conditions(alert, db)
    with db.read() as conn:
        total = conn.execute(select(func.count()).select_from(articles).where(and_(*conditions))).scalar_one()
        rows = conn.execute(
            select(articles.c.id, articles.c.published_at, articles.c.source, articles.c.title, articles.c.link, articles.c.date_estimated)
            .where(and_(*conditions))
            .order_by(articles.c.published_at.desc(), articles.c.id.desc())
            .limit(limit)
        ).all()
    return Preview(
        total,
        [PreviewRow(id=r.id, published_at=r.published_at, source=r.source, title=r.title, link=r.link, date_estimated=bool(r.date_estimated)) for r in rows],
    )


def draft_alert(db, name: str = "(draft)", query: str = "", **options) -> Alert:
    """An unsaved, validated Alert built from form fields, for `preview_alert` before saving."""
    from monitor.alerts.rules import validate

    return validate(db, name, query, **options)


def archive_matches(db, alert: Alert) -> tuple[int, list[Match]]:
    """(how many archived articles the alert matches, those it has not recorded yet)."""
    conditions = _archive_conditions(alert, db)
    already = exists(select(1).where(alert_matches.c.alert_id == alert.id, alert_matches.c.article_id == articles.c.id))
    with db.read() as conn:
        total = conn.execute(select(func.count()).select_from(articles).where(and_(*conditions))).scalar_one()
        ids = conn.execute(select(articles.c.id).where(and_(*conditions), ~already).order_by(articles.c.id)).scalars().all()
    return total, [Match.article(i) for i in ids]
