"""Matching articles against keyword alerts: new articles as they are ingested, and the archive
on demand.

New articles are matched in memory, in one pass: each article's words and stems are made once
(`monitor.query.prepare_article`, the same words the search index holds) and every alert's query
runs against that; topic, stance and source
filters are checked first because they are cheaper. The archive is matched in SQL with the same
`Filters` the Articles page uses, so "test this alert" shows what a search would.

Exactly once: an alert and an article meet in `alert_matches` at most once (unique
(alert_id, match_key), `INSERT … ON CONFLICT DO NOTHING … RETURNING`), and a match is queued for
delivery in the same transaction that records it. Re-ingesting, re-checking or two processes
matching the same article add nothing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, select

from monitor.alerts.rules import Alert, _find, _to_alert, load_enabled
from monitor.errors import StoreError
from monitor.query import Query, parse_query, prepare_article
from monitor.store import utcnow
from monitor.store.schema import alert_matches, articles, tags

log = logging.getLogger("monitor.alerts")

CHUNK = 1000  # article ids per read: well under SQLite's bound-parameter limit


def dialect_insert(db, table):
    if db.is_sqlite:
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    return insert(table)


def _chunks(values: Sequence, size: int) -> Iterable[Sequence]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


@dataclass(frozen=True)
class _Rule:
    """An alert compiled for in-memory matching."""

    row: dict
    query: Query
    topic: str | None
    stance: str | None
    target: str | None
    source: str | None

    @property
    def needs_tags(self) -> bool:
        return bool(self.topic or self.stance or self.target)

    def accepts_meta(self, source: str, tagset: frozenset) -> bool:
        if self.source is not None and source != self.source:
            return False
        if self.topic is not None and ("topic", "", self.topic) not in tagset:
            return False
        if self.stance or self.target:
            if not any(
                kind == "stance" and (self.target is None or target == self.target) and (self.stance is None or label == self.stance)
                for kind, target, label in tagset
            ):
                return False
        return True


def _rules(conn) -> list[_Rule]:
    rules = []
    for row in load_enabled(conn, "keyword"):
        try:
            query = parse_query(row["query"] or "")
        except Exception:  # stored before a stricter parser: skip it, never block ingest
            log.warning("alert #%s has a query that no longer parses; skipped", row["id"])
            continue
        rules.append(_Rule(row, query, row["topic"], row["stance"], row["target"], row["source"]))
    return rules


def evaluate_new_articles(db, article_ids: Iterable[int]) -> None:
    """Match freshly stored (and tagged) articles against every alert. Never raises into ingest:
    a failure is logged, and `alerts check` records whatever was missed (exactly once)."""
    try:
        ids = sorted({int(i) for i in article_ids or ()})
        if ids:
            match_new_articles(db, ids)
    except StoreError as e:  # the store refused (disk full, read-only): one line, no traceback
        log.error("alerts: evaluating new articles failed: %s; `python -m monitor alerts check` catches up", e)
    except Exception:
        log.exception("alerts: evaluating new articles failed; `python -m monitor alerts check` catches up")


def match_new_articles(db, article_ids: Sequence[int], *, now: datetime | None = None) -> dict[int, list[int]]:
    """Record (and queue) the matches among these articles; returns {alert id: newly matched
    article ids}. Articles already matched by an alert are left alone."""
    with db.read() as conn:
        rules = _rules(conn)
    if not rules:
        return {}
    want_tags = any(rule.needs_tags for rule in rules)
    found: dict[int, list[int]] = defaultdict(list)
    for chunk in _chunks(list(article_ids), CHUNK):
        with db.read() as conn:
            rows = conn.execute(
                select(articles.c.id, articles.c.title, articles.c.summary, articles.c.content, articles.c.lang, articles.c.source).where(
                    articles.c.id.in_(chunk)
                )
            ).all()
            tagsets: dict[int, set] = defaultdict(set)
            if want_tags:
                for t in conn.execute(select(tags.c.article_id, tags.c.kind, tags.c.target, tags.c.label).where(tags.c.article_id.in_(chunk))):
                    tagsets[t.article_id].add((t.kind, t.target or "", t.label))
        for article_id, title, summary, content, lang, source in rows:
            tagset = frozenset(tagsets.get(article_id, ()))
            doc = None
            for rule in rules:
                if not rule.accepts_meta(source, tagset):
                    continue
                if doc is None:
                    doc = prepare_article(title, summary, content, lang)  # as the archive search reads it
                if rule.query.matches(doc):
                    found[rule.row["id"]].append(article_id)
    if not found:
        return {}
    return _record_all(db, {rule.row["id"]: rule.row for rule in rules}, found, archive=False, now=now)


def _record_all(db, rows: dict[int, dict], found: dict[int, list[int]], *, archive: bool, now: datetime | None) -> dict[int, list[int]]:
    from monitor.alerts.outbox import enqueue_new_matches

    now = now or utcnow()
    recorded: dict[int, list[int]] = {}
    with db.write() as conn:
        for alert_id, article_ids in found.items():
            new = record_matches(conn, db, alert_id, [(f"a{a}", a, None, None, None) for a in article_ids], now=now)
            if new:
                recorded[alert_id] = [article_id for _, article_id in new]
                enqueue_new_matches(conn, db, rows[alert_id], [match_id for match_id, _ in new], archive=archive, now=now)
    return recorded


def record_matches(conn, db, alert_id: int, items: list[tuple], *, now: datetime) -> list[tuple[int, int | None]]:
    """Insert inbox rows (match_key, article_id, day, detail, held_reason); returns (match id,
    article id) of the rows that are new. Existing keys are skipped by the database itself."""
    if not items:
        return []
    # one cached statement run with many parameter sets ("insertmanyvalues" batches them with
    # RETURNING); a multi-row VALUES clause would be compiled afresh for every batch size
    stmt = dialect_insert(db, alert_matches).on_conflict_do_nothing().returning(alert_matches.c.id, alert_matches.c.article_id)
    params = [
        {
            "alert_id": alert_id,
            "match_key": key,
            "article_id": article_id,
            "day": day,
            "detail": detail,
            "held_reason": held,
            "matched_at": now,
            "state": "new",
            "batch": None,
        }
        for key, article_id, day, detail, held in items
    ]
    return [(r.id, r.article_id) for r in conn.execute(stmt, params)]


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

    return article_conditions(alert.filters(), db)


def preview_alert(db, alert: int | str | Alert, *, limit: int = 50) -> Preview:
    """What a keyword alert matches in the archive (newest first), without recording anything:
    the dashboard's "test this alert". Accepts a stored alert or an unsaved `Alert` from a form."""
    if not isinstance(alert, Alert):
        with db.read() as conn:
            alert = _to_alert(_find(conn, alert))
    conditions = _archive_conditions(alert, db)
    with db.read() as conn:
        total = conn.execute(select(func.count()).select_from(articles).where(and_(*conditions))).scalar_one()
        rows = conn.execute(
            select(articles.c.id, articles.c.published_at, articles.c.source, articles.c.title, articles.c.link, articles.c.date_estimated)
            .where(and_(*conditions))
            .order_by(articles.c.published_at.desc(), articles.c.id.desc())
            .limit(limit)
        ).all()
    return Preview(total, [PreviewRow(*r[:5], bool(r[5])) for r in rows])


def draft_alert(db, name: str = "(draft)", query: str = "", **options) -> Alert:
    """An unsaved, validated Alert built from form fields, for `preview_alert` before saving."""
    from monitor.alerts.rules import validate

    spec = validate(db, name, query, **options)
    now = utcnow()
    return Alert(
        id=0,
        name=spec.name,
        kind=spec.kind,
        query=spec.query,
        topic=spec.topic,
        stance=spec.stance,
        target=spec.target,
        source=spec.source,
        targets=tuple(t.display for t in spec.notify),
        cadence=spec.cadence,
        sensitivity=spec.sensitivity,
        owner=spec.owner,
        enabled=spec.enabled,
        created_at=now,
        updated_at=now,
    )


def match_archive(db, alert_row: dict, *, now: datetime | None = None) -> tuple[int, list[int]]:
    """Record every archived article an alert matches; returns (total matching, newly recorded).
    New archive matches of an immediate alert go out as one grouped message, not one per article."""
    alert = _to_alert(alert_row)
    conditions = _archive_conditions(alert, db)
    already = exists(select(1).where(alert_matches.c.alert_id == alert.id, alert_matches.c.article_id == articles.c.id))
    with db.read() as conn:
        total = conn.execute(select(func.count()).select_from(articles).where(and_(*conditions))).scalar_one()
        ids = conn.execute(select(articles.c.id).where(and_(*conditions), ~already).order_by(articles.c.id)).scalars().all()
    if not ids:
        return total, []
    recorded = _record_all(db, {alert.id: alert_row}, {alert.id: list(ids)}, archive=True, now=now)
    return total, recorded.get(alert.id, [])
