"""Coverage over time: counts per period and group, with the period's denominator and the share.

The Coverage page's charts and `export summary` both call `coverage_counts`, so a chart and its
CSV always agree.

What the numbers mean (Media Cloud's normalisation: query count ÷ all stories from the same
sources and dates):

- `count`: articles in the period that pass *every* filter and belong to the row's group
  (have that topic; have that stance toward that target; come from that source). An article
  with two topics counts once under each, so counts of a period need not add up to its total.
- `total`: the denominator, *all* articles stored for the period from the same sources (the
  sources filter applies; with none, every source) whatever their topic, stance or search
  match. The query, topic and stance filters narrow the numerator only, so the share answers
  "what part of everything these outlets published that period was this?", and a dip caused
  by fewer articles overall (a feed outage) does not look like a dip in attention.
- `share` = count ÷ total (0.0 for a period with no article at all).

Periods run from the start of the date range (or the first stored article) to its end (or the
last one) with a row for every period and group, zero when nothing matched. Days are UTC
calendar days; weeks start on Monday (ISO 8601); a period is named by its first day. When the
date range cuts a week or month, the first and last periods hold only the days inside the range
(their totals too, so the share stays comparable).

How it stays fast at a million articles: the denominator, and on SQLite the common views too
(per topic, per stance target, overall; filtered by dates only), are one index range count per
period and group (`count(*) … WHERE kind = ? AND label = ? AND published_at >= ? AND
published_at < ?`), many per statement; each reads only an index, where SQLite's GROUP BY over a
date function would sort every row. Tags carry the article's `published_at` for this, so counts
per topic or stance never join the articles table unless a filter needs it. Everything else (a
search query, sources, combinations; and grouped counts on PostgreSQL, whose hash aggregate
beats hundreds of separately planned small counts) is one SQL GROUP BY per dialect:
`date()`/`strftime` on SQLite, `date_trunc` on PostgreSQL (whose weeks start on Monday too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from sqlalchemy import DateTime, bindparam, case, func, literal_column, select
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.elements import ColumnElement

from monitor.errors import InputError
from monitor.filters import Filters, article_conditions
from monitor.outcomes import FetchOutcome
from monitor.periods import Period, as_date, bounds, check_by, day_of, period_expr, period_ranges
from monitor.store.schema import articles, fetch_events, tags

GROUPS = ("topic", "stance", "source")
_CHUNK = 400  # scalar subqueries per statement (SQLite allows 500 compound terms, 32 766 params)
FAILED_OUTCOMES = tuple(o.value for o in FetchOutcome.failures())


@dataclass(frozen=True)
class CountRow:
    """One period and group. Group fields not asked for stay None."""

    period: date
    count: int
    total: int
    share: float
    topic: str | None = field(default=None, kw_only=True)
    target: str | None = field(default=None, kw_only=True)
    stance: str | None = field(default=None, kw_only=True)
    source: str | None = field(default=None, kw_only=True)

    def as_dict(self, group: tuple[str, ...] | list[str]) -> dict:
        """Ordered as `columns(group)`: what a table or CSV of these rows shows."""
        out: dict = {"period": self.period}
        for name in group_columns(group):
            out[name] = getattr(self, name)
        out.update(count=self.count, total=self.total, share=self.share)
        return out


def group_columns(group: tuple[str, ...] | list[str]) -> list[str]:
    """The columns that name a group: stance is per target, so it takes two."""
    out: list[str] = []
    for g in group:
        out.extend(("target", "stance") if g == "stance" else (g,))
    return out


def columns(group: tuple[str, ...] | list[str]) -> list[str]:
    return ["period", *group_columns(group), "count", "total", "share"]


def normalise_group(group) -> tuple[str, ...]:
    """('topic',) from 'topic', ['topic'], … ; () or ('none',) for overall counts."""
    if isinstance(group, str):
        group = (group,)
    out: list[str] = []
    for g in group or ():
        g = g.strip().lower()
        if g in ("none", ""):
            continue
        if g not in GROUPS:
            raise InputError(f"cannot group by {g!r}: use topic, stance or source")
        if g not in out:
            out.append(g)
    # a fixed order keeps columns stable however the options were typed
    return tuple(g for g in GROUPS if g in out)


# ---- the counts -------------------------------------------------------------------------


def coverage_counts(
    db,
    filters: Filters | None = None,
    by: str = "day",
    group=("topic",),
    *,
    strategy: str = "auto",
) -> list[CountRow]:
    """Counts per period and group with the period's denominator and share (see the module doc).

    `group` is any combination of "topic", "stance" (per target) and "source", or () for one row
    per period (the articles that pass every filter: Media Cloud's `date,count,total_count,ratio`).
    `strategy` is for tests: "index" or "groupby" forces one way of counting.
    """
    filters = filters or Filters()
    by = check_by(by)
    group = normalise_group(group)
    lo, hi = bounds(filters)
    with db.read() as conn:
        span = _data_span(conn, filters, lo, hi)
        if span is None:
            return []
        first, last = span
        periods = period_ranges(first, last, by, lo, hi)
        totals = (
            _range_counts(conn, periods, "articles_sources", sources=list(filters.sources))
            if filters.sources
            else _range_counts(conn, periods, "articles")
        )
        counts: dict[tuple, dict[date, int]]
        if strategy == "auto":
            # SQLite: index range counts beat its GROUP BY (which sorts every row). PostgreSQL
            # plans each of hundreds of small counts separately, and its hash GROUP BY over the
            # tags' index is faster there, so only the overall count (the denominator) uses them.
            use_index = _index_countable(filters, group) and (db.is_sqlite or not group)
        else:
            use_index = strategy == "index"
        if use_index and strategy != "groupby":
            counts = {(): totals} if not group else _counts_by_index(conn, db, filters, group, periods, lo, hi)
        else:
            counts = _counts_by_groupby(conn, db, filters, group, by, lo, hi)
    keys = set(counts)
    keys.update(_selected_groups(filters, group))
    if not group:
        keys = {()}
    names = group_columns(group)
    ordered = sorted(keys, key=lambda k: tuple("" if v is None else str(v) for v in k))
    rows: list[CountRow] = []
    for p in periods:
        total = totals[p.start]
        for key in ordered:
            n = counts.get(key, {}).get(p.start, 0)
            rows.append(
                CountRow(p.start, n, total, (n / total) if total else 0.0, **dict(zip(names, key)))
            )
    return rows


def _total_conditions(filters: Filters) -> list[ColumnElement]:
    """The denominator: same sources (and dates, applied per period), nothing else."""
    return [articles.c.source.in_(filters.sources)] if filters.sources else []


def _data_span(conn, filters: Filters, lo, hi) -> tuple[date, date] | None:
    """The first and last day to show: the date range, or the stored articles' span (None: no
    article to show)."""
    first = filters.date_from
    last = filters.date_to
    if first is None or last is None:
        conds = _total_conditions(filters)
        if lo:
            conds.append(articles.c.published_at >= lo)
        if hi:
            conds.append(articles.c.published_at < hi)
        # two queries, so each is one step down the published_at index
        if first is None:
            v = conn.execute(select(func.min(articles.c.published_at)).where(*conds)).scalar()
            if v is None:
                return None
            first = day_of(v)
        if last is None:
            v = conn.execute(select(func.max(articles.c.published_at)).where(*conds)).scalar()
            if v is None:
                return None
            last = day_of(v)
    return first, last


def _range_counts(conn, periods: list[Period], shape: str, **params) -> dict[date, int]:
    """One index range count per period, many per statement (see _range_statement)."""
    out: dict[date, int] = {}
    for i in range(0, len(periods), _CHUNK):
        chunk = periods[i : i + _CHUNK]
        values = dict(params)
        for j, p in enumerate(chunk):
            values[f"lo{j}"] = p.lo
            values[f"hi{j}"] = p.hi
        row = conn.execute(_range_statement(shape, len(chunk)), values).one()
        for p, v in zip(chunk, row):
            out[p.start] = int(v or 0)
    return out


@lru_cache(maxsize=64)
def _range_statement(shape: str, n: int):
    """SELECT (SELECT count(*) … range 0), (… range 1), …: built once per shape and size, since
    building hundreds of subqueries costs more than running them."""
    base: list[ColumnElement[bool]]
    if shape in ("articles", "articles_sources"):
        table, column = articles, articles.c.published_at
        base = [articles.c.source.in_(bindparam("sources", expanding=True))] if shape == "articles_sources" else []
    elif shape == "topic":
        table, column = tags, tags.c.published_at
        base = [tags.c.kind == literal_column("'topic'"), tags.c.label == bindparam("g0")]
    elif shape == "stance":
        table, column = tags, tags.c.published_at
        base = [tags.c.kind == literal_column("'stance'"), tags.c.target == bindparam("g0"), tags.c.label == bindparam("g1")]
    else:  # pragma: no cover - internal
        raise ValueError(shape)
    return select(
        *(
            select(func.count())
            .select_from(table)
            .where(*base, column >= bindparam(f"lo{j}", type_=DateTime), column < bindparam(f"hi{j}", type_=DateTime))
            .scalar_subquery()
            .label(f"c{j}")
            for j in range(n)
        )
    )


def _index_countable(filters: Filters, group: tuple[str, ...]) -> bool:
    """Whether every count is a range on one index (the common, unfiltered views): the filters
    restrict nothing but the dates and what that index is keyed by."""
    keyed = {("topic",): "topics", ("stance",): "stance"}
    if not group:  # every article of the period (of the chosen sources): the denominator itself
        allowed = {"dates", "sources"}
    elif group in keyed:
        allowed = {"dates", keyed[group]}
    else:
        return False
    return filters.active() <= allowed


def _selected_groups(filters: Filters, group: tuple[str, ...]) -> set[tuple]:
    """Groups the analyst picked in the filters: shown (as zeros) even when nothing matched."""
    if group == ("topic",):
        return {(t,) for t in filters.topics}
    if group == ("source",):
        return {(s,) for s in filters.sources}
    if group == ("stance",) and filters.target:
        from monitor.filters import STANCES

        return {(filters.target, s) for s in ([filters.stance] if filters.stance else STANCES)}
    return set()


def _tag_conditions(t, kind: str, filters: Filters) -> list[ColumnElement]:
    conds = [t.c.kind == kind]
    if kind == "topic" and filters.topics:
        conds.append(t.c.label.in_(filters.topics))
    if kind == "stance":
        if filters.stance:
            conds.append(t.c.label == filters.stance)
        if filters.target:
            conds.append(t.c.target == filters.target)
    return conds


def _counts_by_index(conn, db, filters: Filters, group, periods, lo, hi) -> dict[tuple, dict[date, int]]:
    kind = "topic" if group == ("topic",) else "stance"
    conds = _tag_conditions(tags, kind, filters)
    if lo:
        conds.append(tags.c.published_at >= lo)
    if hi:
        conds.append(tags.c.published_at < hi)
    if kind == "topic":
        keys = [(v,) for v in conn.execute(select(tags.c.label).where(*conds).distinct()).scalars()]
    else:
        keys = [tuple(r) for r in conn.execute(select(tags.c.target, tags.c.label).where(*conds).distinct())]
    keys = sorted(set(keys) | _selected_groups(filters, group))
    out: dict[tuple, dict[date, int]] = {}
    for key in keys:
        out[key] = _range_counts(conn, periods, kind, **{f"g{i}": v for i, v in enumerate(key)})
    return out


def _counts_by_groupby(conn, db, filters: Filters, group, by, lo, hi) -> dict[tuple, dict[date, int]]:
    skip = ["dates"]
    if "topic" in group:
        skip.append("topics")
    if "stance" in group:
        skip.append("stance")
    article_conds = article_conditions(filters, db, skip=tuple(skip))
    topic_t = tags.alias("topic_tag")
    stance_t = tags.alias("stance_tag")
    tag_tables = [t for g, t in (("topic", topic_t), ("stance", stance_t)) if g in group]
    where: list[ColumnElement] = []
    group_cols: list[ColumnElement] = []
    if tag_tables and not article_conds and "source" not in group:
        # Tags alone answer it (they carry published_at): no join with a million articles.
        first = tag_tables[0]
        source: FromClause = first
        when = first.c.published_at
        for other in tag_tables[1:]:
            source = source.join(other, other.c.article_id == first.c.article_id)
    else:
        source, when = articles, articles.c.published_at
        for t in tag_tables:
            source = source.join(t, t.c.article_id == articles.c.id)
        where += article_conds
    if "topic" in group:
        where += _tag_conditions(topic_t, "topic", filters)
        group_cols.append(topic_t.c.label)
    if "stance" in group:
        where += _tag_conditions(stance_t, "stance", filters)
        group_cols += [stance_t.c.target, stance_t.c.label]
    if "source" in group:
        group_cols.append(articles.c.source)
    if lo:
        where.append(when >= lo)
    if hi:
        where.append(when < hi)
    bucket = period_expr(db, by, when).label("period")
    stmt = (
        select(bucket, *group_cols, func.count().label("n"))
        .select_from(source)
        .where(*where)
        .group_by(bucket, *group_cols)
    )
    out: dict[tuple, dict[date, int]] = {}
    for row in conn.execute(stmt):
        key = tuple(row[1:-1])
        out.setdefault(key, {})[as_date(row[0])] = int(row[-1])
    return out


# ---- lists beside the chart -------------------------------------------------------------


@dataclass(frozen=True)
class TopList:
    """The top items and whether the list was cut (more items exist than shown)."""

    items: list[tuple[str, int]]
    cut: bool


def top_sources(db, filters: Filters | None = None, limit: int = 10) -> TopList:
    """Sources with the most articles passing the filters (GROUP BY … LIMIT n+1)."""
    filters = filters or Filters()
    conds = article_conditions(filters, db, skip=("dates",))
    lo, hi = bounds(filters)
    # On SQLite a bare published_at range makes the planner read every row through the date
    # index; `+published_at` (no index) lets it scan the (source, published_at) index alone.
    when = literal_column("+articles.published_at", DateTime) if db.is_sqlite else articles.c.published_at
    if lo:
        conds.append(when >= lo)
    if hi:
        conds.append(when < hi)
    n = func.count().label("n")
    stmt = (
        select(articles.c.source, n)
        .where(*conds)
        .group_by(articles.c.source)
        .order_by(n.desc(), articles.c.source)
        .limit(limit + 1)
    )
    with db.read() as conn:
        rows = [(r[0], int(r[1])) for r in conn.execute(stmt)]
    return TopList(rows[:limit], len(rows) > limit)


@dataclass(frozen=True)
class FeedFailures:
    day: date  # the period's first day
    failing: int  # feeds whose every fetch in the period failed (SOFT, HARD or TEMP)
    polled: int  # feeds fetched at all in the period


def feed_failures(db, filters: Filters | None = None, by: str = "day") -> list[FeedFailures]:
    """Per period with any fetch, how many feeds were polled and how many failed throughout.

    A feed that failed once and then recovered lost nothing (the next fetch brings the items),
    so only feeds with no successful fetch in the period count as failing. Spike alerts use the
    same count for their hold-back, so a chart marker and a held-back spike agree."""
    filters = filters or Filters()
    by = check_by(by)
    lo, hi = bounds(filters)
    bucket = period_expr(db, by, fetch_events.c.at).label("period")
    conds = []
    if lo:
        conds.append(fetch_events.c.at >= lo)
    if hi:
        conds.append(fetch_events.c.at < hi)
    failed = case((fetch_events.c.outcome.in_(FAILED_OUTCOMES), 1), else_=0)
    per_feed = (
        select(bucket, fetch_events.c.feed_id, func.min(failed).label("all_failed"))
        .where(*conds)
        .group_by(bucket, fetch_events.c.feed_id)
        .subquery()
    )
    stmt = (
        select(per_feed.c.period, func.sum(per_feed.c.all_failed), func.count())
        .group_by(per_feed.c.period)
        .order_by(per_feed.c.period)
    )
    with db.read() as conn:
        return [FeedFailures(as_date(r[0]), int(r[1] or 0), int(r[2])) for r in conn.execute(stmt)]


MANY_FAILING_SHARE = 0.2  # a fifth of the polled feeds failing visibly thins a day's coverage
MANY_FAILING_MIN = 2  # one flaky feed is not worth a marker


def feed_failure_days(
    db, filters: Filters | None = None, *, min_share: float = MANY_FAILING_SHARE, min_failing: int = MANY_FAILING_MIN
) -> list[FeedFailures]:
    """The days to mark on coverage charts: many feeds failed, so a dip may be missing articles."""
    return [
        f
        for f in feed_failures(db, filters, "day")
        if f.failing >= min_failing and f.polled and f.failing / f.polled >= min_share
    ]


__all__ = [
    "CountRow",
    "FeedFailures",
    "TopList",
    "columns",
    "coverage_counts",
    "feed_failure_days",
    "feed_failures",
    "group_columns",
    "normalise_group",
    "top_sources",
]
