"""The filters an analyst sets (dates, query, topics, sources, stance), in one shape for every view.

The dashboard keeps them in the URL, exports record them as provenance, and every list, chart and
CSV turns them into the same SQL conditions, so what a chart shows and what a download holds agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, time, timedelta

from sqlalchemy import exists, select
from sqlalchemy.sql.elements import ColumnElement

from monitor.errors import InputError
from monitor.query import parse_query, query_condition

STANCES = ("FAVOR", "AGAINST", "NONE")
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
    def unchecked(cls, **values) -> "Filters":
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
        if self.date_from:
            params["from"] = self.date_from.isoformat()
        if self.date_to:
            params["to"] = self.date_to.isoformat()
        if self.query:
            params["q"] = self.query
        if self.topics:
            params["topic"] = list(self.topics)
        if self.sources:
            params["source"] = list(self.sources)
        if self.stance:
            params["stance"] = self.stance
        if self.target:
            params["target"] = self.target
        return params

    @classmethod
    def from_params(cls, params: Mapping) -> "Filters":
        """The inverse of to_params; accepts st.query_params or a plain dict."""

        def many(key: str) -> tuple[str, ...]:
            if hasattr(params, "get_all"):
                values = params.get_all(key)
            else:
                value = params.get(key)
                values = [] if value is None else value if isinstance(value, (list, tuple)) else [value]
            return tuple(v for v in values if v)

        def one(key: str) -> str | None:
            values = many(key)
            return values[-1] if values else None

        stance = one("stance")
        return cls(
            date_from=parse_date(one("from"), "from"),
            date_to=parse_date(one("to"), "to"),
            query=one("q") or "",
            topics=many("topic"),
            sources=many("source"),
            stance=stance.upper() if stance else None,
            target=one("target"),
        )

    def describe(self) -> dict:
        """A JSON-ready record of the filters, for provenance."""
        record = asdict(self)
        record["date_from"] = self.date_from.isoformat() if self.date_from else None
        record["date_to"] = self.date_to.isoformat() if self.date_to else None
        record["topics"] = list(self.topics)
        record["sources"] = list(self.sources)
        return record


def day_start(d: date) -> datetime:
    return datetime.combine(d, time.min)


def article_conditions(filters: Filters, db, *, skip: tuple[str, ...] = ()) -> list[ColumnElement]:
    """SQL conditions on `articles` for the filters. `skip` leaves some out (e.g. "topics" when
    the topics are the groups being counted rather than a restriction)."""
    from monitor.store.schema import articles, tags

    conditions: list[ColumnElement] = []
    if filters.date_from and "dates" not in skip:
        conditions.append(articles.c.published_at >= day_start(filters.date_from))
    if filters.date_to and "dates" not in skip:
        conditions.append(articles.c.published_at < day_start(filters.date_to + timedelta(days=1)))
    if filters.query and "query" not in skip:
        conditions.append(query_condition(parse_query(filters.query), db))
    if filters.sources and "sources" not in skip:
        conditions.append(articles.c.source.in_(filters.sources))
    if filters.topics and "topics" not in skip:
        conditions.append(
            exists(
                select(1).where(
                    tags.c.article_id == articles.c.id, tags.c.kind == "topic", tags.c.label.in_(filters.topics)
                )
            )
        )
    if (filters.stance or filters.target) and "stance" not in skip:
        stance_tag = [tags.c.article_id == articles.c.id, tags.c.kind == "stance"]
        if filters.stance:
            stance_tag.append(tags.c.label == filters.stance)
        if filters.target:
            stance_tag.append(tags.c.target == filters.target)
        conditions.append(exists(select(1).where(*stance_tag)))
    return conditions
