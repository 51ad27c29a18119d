"""The filters an analyst sets (dates, query, topics, sources, stance), in one shape for every view.

Each filter dimension is declared once, in `DIMENSIONS`: its URL keys (also the dashboard
widgets' keys and the export command's options), how a typed value is parsed, its SQL condition
on `articles`, the same rule checked in memory (alerts match new articles that way), the sentence
a caption shows, and the widget that sets it. Search, charts, exports, alerts and the filter
sidebar all iterate the declarations, so what a chart shows, what a download holds and what an
alert fires on agree, and a new dimension is one declaration (plus its field on `Filters`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.sql.elements import ColumnElement

from monitor.classify.kinds import STANCES
from monitor.errors import InputError
from monitor.query import Prepared, parse_query, prepare_article, query_condition

# Dates a filter may name: wide enough for any archive and any "until whenever", narrow enough
# that the day after the last one still exists (9999-12-31 + 1 day overflows).
FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2999, 12, 31)


def _check_range(value: date, name: str) -> date:
    if not FIRST_DATE <= value <= LAST_DATE:
        raise InputError(f"{name} {value.isoformat()} is out of range: use a date from {FIRST_DATE} to {LAST_DATE}")
    return value


def parse_date(value: str | date | None, name: str = "date") -> date | None:
    """YYYY-MM-DD (or a date) -> date; a one-line InputError otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _check_range(value.date(), name)
    if isinstance(value, date):
        return _check_range(value, name)
    try:
        parsed = date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{name} {value!r} is not a date: use YYYY-MM-DD") from None
    return _check_range(parsed, name)


@dataclass(frozen=True)
class Filters:
    date_from: date | None = None
    date_to: date | None = None  # inclusive: the whole day counts
    query: str = ""
    topics: tuple[str, ...] = ()  # any of them
    sources: tuple[str, ...] = ()  # any of them
    stance: str | None = None  # FAVOR|AGAINST|NONE toward `target` (any target if None)
    target: str | None = None
    languages: tuple[str, ...] = ()  # any of them: the codes articles carry (en, ru, …)

    def __post_init__(self):
        if self.date_from:
            _check_range(self.date_from, "the From date")
        if self.date_to:
            _check_range(self.date_to, "the To date")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InputError(f"the date range is empty: {self.date_from} is after {self.date_to}")
        if self.stance is not None and self.stance not in STANCES:
            raise InputError(f"stance must be one of {', '.join(STANCES)}, not {self.stance!r}")
        parse_query(self.query)  # a malformed query is reported where the filter is made

    @classmethod
    def unchecked(cls, **values) -> Filters:
        """Filters stored earlier, not checked again: the rules may have tightened since, and a
        list of saved alerts must still load. Whoever applies them meets the one-line error."""
        made = object.__new__(cls)
        for f in fields(cls):
            object.__setattr__(made, f.name, values.pop(f.name, f.default))
        if values:
            raise TypeError(f"unknown filters: {', '.join(values)}")
        return made

    def to_params(self) -> dict[str, str | list[str]]:
        """URL parameters (st.query_params): empty values left out."""
        params: dict[str, str | list[str]] = {}
        for p in PARAMS:
            value = getattr(self, p.field)
            if value:
                params[p.key] = [p.show(v) for v in value] if p.many else p.show(value)
        return params

    @classmethod
    def from_params(cls, params: Mapping, *, names: Mapping[str, str] | None = None, checked: bool = True) -> Filters:
        """The inverse of to_params; accepts st.query_params or a plain dict. `names` says how to
        name a key in an error (the export command says --from where the URL says from);
        `checked=False` is for filters stored earlier (see `unchecked`)."""

        def many(key: str) -> tuple[str, ...]:
            if hasattr(params, "get_all"):
                values = params.get_all(key)
            else:
                value = params.get(key)
                values = [] if value is None else value if isinstance(value, (list, tuple)) else [value]
            return tuple(v for v in values if v)

        values: dict[str, Any] = {}
        for p in PARAMS:
            given = many(p.key)
            name = (names or {}).get(p.key, p.key)
            if p.many:
                values[p.field] = tuple(p.parse(v, name) for v in given)
            elif given:
                values[p.field] = p.parse(given[-1], name)
        return cls(**values) if checked else cls.unchecked(**values)

    def describe(self) -> dict:
        """A JSON-ready record of the filters, for provenance."""
        record: dict[str, Any] = {}
        for p in PARAMS:
            value = getattr(self, p.field)
            record[p.field] = list(value) if p.many else value.isoformat() if isinstance(value, date) else value
        return record

    def sentence(self, escape: Callable[[str], str] = str) -> str:
        """The filters in words, for a caption ("2024-01-01 to …; topics interpol"). `escape`
        quotes what the analyst typed (the dashboard escapes Markdown)."""
        said = [s for d in DIMENSIONS if d.active(self) for s in [d.sentence(self, escape)] if s]
        return "; ".join(said) or "all articles"

    def active(self) -> set[str]:
        """The names of the dimensions these filters restrict."""
        return {d.name for d in DIMENSIONS if d.active(self)}


def day_start(d: date) -> datetime:
    return datetime.combine(d, time.min)


# ---- the declarations ---------------------------------------------------------------------


class WidgetKind(enum.Enum):
    """How the sidebar lets an analyst set one URL key."""

    DATE = "date"
    TEXT = "text"
    PICK_MANY = "pick_many"  # a multiselect: any of them
    PICK_ONE = "pick_one"  # a selectbox, or nothing picked


@dataclass
class ArticleFacts:
    """One stored article as the in-memory check reads it (alerts on new articles)."""

    source: str
    published_at: datetime | None
    lang: str | None
    tags: frozenset[tuple[str, str, str]]  # (kind, target or "", label)
    title: str | None = None
    summary: str | None = None
    content: str | None = None

    @cached_property
    def text(self) -> Prepared:
        """Words and stems exactly as the search index holds them, made once per article."""
        return prepare_article(self.title, self.summary, self.content, self.lang)


def _text(value: str, name: str) -> str:
    return value


def _upper(value: str, name: str) -> str:
    return value.strip().upper()


def _lower(value: str, name: str) -> str:
    return value.strip().lower()


def _date(value: str, name: str) -> date | None:
    return parse_date(value, name)


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


@dataclass(frozen=True)
class Param:
    """One URL key: a field of `Filters`, its widget in the sidebar and its export option."""

    key: str  # URL key; also the sidebar widget's key
    field: str  # the Filters attribute it sets
    label: str  # the widget's label
    widget: WidgetKind
    cli: str  # the export command's option (repeatable when `many`)
    help: str  # the option's help
    many: bool = False  # repeated in the URL: any of them
    parse: Callable[[str, str], Any] = _text  # one typed value and its name (for the error) -> value
    show: Callable[[Any], str] = _iso  # one value -> its URL form
    options: str | None = None  # which list the widget picks from (see the sidebar)
    placeholder: str = ""
    metavar: str = "V"  # the option's value in --help


@dataclass(frozen=True)
class Dimension:
    """One filter dimension, declared once for every view."""

    name: str  # what `article_conditions(skip=...)` names
    params: tuple[Param, ...]
    sql: Callable[[Filters, Any], list[ColumnElement]]  # conditions on `articles` (set filters only)
    # the same rule in memory: given the filters, the test of one article (made once per set of
    # filters, since an alert tests thousands of articles)
    check: Callable[[Filters], Callable[[ArticleFacts], bool]]
    sentence: Callable[[Filters, Callable[[str], str]], str | None]
    reads: frozenset[str] = field(default=frozenset())  # article facts `check` needs: "tags", "text"
    side_by_side: bool = False  # its widgets share one row of the sidebar

    def active(self, filters: Filters) -> bool:
        return any(getattr(filters, p.field) for p in self.params)


def _articles():
    from monitor.store.schema import articles

    return articles


def _tags():
    from monitor.store.schema import tags

    return tags


def _date_sql(f: Filters, db) -> list[ColumnElement]:
    a = _articles()
    out = []
    if f.date_from:
        out.append(a.c.published_at >= day_start(f.date_from))
    if f.date_to:
        out.append(a.c.published_at < day_start(f.date_to + timedelta(days=1)))
    return out


def _date_check(f: Filters) -> Callable[[ArticleFacts], bool]:
    lo = day_start(f.date_from) if f.date_from else None
    hi = day_start(f.date_to + timedelta(days=1)) if f.date_to else None

    def check(a: ArticleFacts) -> bool:
        when = a.published_at
        return when is not None and (lo is None or when >= lo) and (hi is None or when < hi)

    return check


def _topic_sql(f: Filters, db) -> list[ColumnElement]:
    a, t = _articles(), _tags()
    return [exists(select(1).where(t.c.article_id == a.c.id, t.c.kind == "topic", t.c.label.in_(f.topics)))]


def _stance_sql(f: Filters, db) -> list[ColumnElement]:
    a, t = _articles(), _tags()
    stance_tag = [t.c.article_id == a.c.id, t.c.kind == "stance"]
    if f.stance:
        stance_tag.append(t.c.label == f.stance)
    if f.target:
        stance_tag.append(t.c.target == f.target)
    return [exists(select(1).where(*stance_tag))]


def _stance_check(f: Filters) -> Callable[[ArticleFacts], bool]:
    def check(a: ArticleFacts) -> bool:
        return any(
            kind == "stance" and (f.target is None or target == f.target) and (f.stance is None or label == f.stance)
            for kind, target, label in a.tags
        )

    return check


def _topic_check(f: Filters) -> Callable[[ArticleFacts], bool]:
    wanted = frozenset(("topic", "", t) for t in f.topics)
    return lambda a: not wanted.isdisjoint(a.tags)


def _query_check(f: Filters) -> Callable[[ArticleFacts], bool]:
    query = parse_query(f.query)
    return lambda a: query.matches(a.text)


def _any_of(attribute: str, values: Iterable[str]) -> Callable[[ArticleFacts], bool]:
    wanted = frozenset(values)
    return lambda a: getattr(a, attribute) in wanted


def _listed(word: str, values: Iterable[str], escape: Callable[[str], str]) -> str:
    return f"{word} " + ", ".join(escape(v) for v in values)


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension(
        "dates",
        (
            Param("from", "date_from", "From", WidgetKind.DATE, "--from", "first day, YYYY-MM-DD (UTC)", parse=_date, metavar="DATE"),
            Param("to", "date_to", "To", WidgetKind.DATE, "--to", "last day, YYYY-MM-DD, included", parse=_date, metavar="DATE"),
        ),
        sql=_date_sql,
        check=_date_check,
        sentence=lambda f, esc: f"{f.date_from or '…'} to {f.date_to or '…'}",
    ),
    Dimension(
        "query",
        (
            Param(
                "q", "query", "Search", WidgetKind.TEXT, "--query", 'search query: words, "phrases", prefix*, AND/OR/NOT, ()',
                placeholder='e.g. interpol AND "red notice"', metavar="Q",
            ),
        ),
        sql=lambda f, db: [query_condition(parse_query(f.query), db)],
        check=_query_check,
        sentence=lambda f, esc: f"query “{esc(f.query)}”",
        reads=frozenset({"text"}),
    ),
    Dimension(
        "topics",
        (
            Param(
                "topic", "topics", "Topics", WidgetKind.PICK_MANY, "--topic", "only articles with this topic (repeatable: any of them)",
                many=True, options="topics", placeholder="All topics", metavar="T",
            ),
        ),
        sql=_topic_sql,
        check=_topic_check,
        sentence=lambda f, esc: _listed("topics", f.topics, esc),
        reads=frozenset({"tags"}),
    ),
    Dimension(
        "sources",
        (
            Param(
                "source", "sources", "Sources", WidgetKind.PICK_MANY, "--source", "only articles from this source (repeatable)",
                many=True, options="sources", placeholder="All sources", metavar="S",
            ),
        ),
        sql=lambda f, db: [_articles().c.source.in_(f.sources)],
        check=lambda f: _any_of("source", f.sources),
        sentence=lambda f, esc: _listed("sources", f.sources, esc),
    ),
    Dimension(
        "stance",
        (
            Param(
                "stance", "stance", "Stance", WidgetKind.PICK_ONE, "--stance", "only articles with this stance: FAVOR, AGAINST or NONE",
                parse=_upper, options="stances", placeholder="Any", metavar="S",
            ),
            Param(
                "target", "target", "Toward", WidgetKind.PICK_ONE, "--target", "stance target for --stance (default: any)",
                options="targets", placeholder="Any target", metavar="T",
            ),
        ),
        sql=_stance_sql,
        check=_stance_check,
        sentence=lambda f, esc: f"stance {f.stance or 'any'}" + (f" toward {esc(f.target)}" if f.target else ""),
        reads=frozenset({"tags"}),
        side_by_side=True,
    ),
    Dimension(
        "languages",
        (
            Param(
                "lang", "languages", "Languages", WidgetKind.PICK_MANY, "--lang", "only articles in this language, e.g. ru (repeatable: any of them)",
                many=True, parse=_lower, options="languages", placeholder="All languages", metavar="L",
            ),
        ),
        sql=lambda f, db: [_articles().c.lang.in_(f.languages)],
        check=lambda f: _any_of("lang", f.languages),
        sentence=lambda f, esc: _listed("languages", f.languages, esc),
    ),
)

PARAMS: tuple[Param, ...] = tuple(p for d in DIMENSIONS for p in d.params)
# The in-memory check runs the cheap dimensions first: reading an article's words costs most.
_BY_COST = tuple(sorted(DIMENSIONS, key=lambda d: "text" in d.reads))


def dimension(name: str) -> Dimension:
    for d in DIMENSIONS:
        if d.name == name:
            return d
    raise KeyError(name)


def article_conditions(filters: Filters, db, *, skip: tuple[str, ...] = ()) -> list[ColumnElement]:
    """SQL conditions on `articles` for the filters. `skip` leaves some dimensions out (e.g.
    "topics" when the topics are the groups being counted rather than a restriction)."""
    return [c for d in DIMENSIONS if d.name not in skip and d.active(filters) for c in d.sql(filters, db)]


def reads(filters: Filters) -> frozenset[str]:
    """What `accepts` will read of an article ("tags", "text"), so a caller loads only that."""
    return frozenset().union(*(d.reads for d in DIMENSIONS if d.active(filters)))


def accepts(filters: Filters, article: ArticleFacts) -> bool:
    """The filters' SQL conditions, checked on one article in memory."""
    return matcher(filters)(article)


def matcher(filters: Filters) -> Callable[[ArticleFacts], bool]:
    """`accepts` for many articles: the set dimensions are picked once (alerts check thousands
    of articles against each alert's filters, and the picking costs as much as the checks)."""
    checks = [d.check(filters) for d in _BY_COST if d.active(filters)]
    if not checks:
        return lambda article: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda article: first(article) and second(article)
    return lambda article: all(check(article) for check in checks)
