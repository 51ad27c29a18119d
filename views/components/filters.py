"""The filter sidebar: one widget per filter URL key, as `monitor.filters.DIMENSIONS` declares
them (dates, query, topics, sources, stance), kept in the page URL."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from monitor.errors import MonitorError
from monitor.filters import DIMENSIONS, PARAMS, STANCES, Filters, Param, WidgetKind, parse_date
from monitor.query import HELP as SEARCH_HELP
from monitor.store import Database
from views.components.reads import (
    language_options,
    source_options,
    store_status,
    target_options,
    topic_options,
)
from views.components.saved_views import saved_views_panel
from views.components.text import md

# Widget keys double as URL query parameter names (bind="query-params"), so a link carries them.
FILTER_KEYS = tuple(p.key for p in PARAMS)

# The lists a picker offers, by the name its declaration gives (`Param.options`)
OPTIONS: dict[str, Callable[[Database], list[str]]] = {
    "topics": topic_options,
    "sources": source_options,
    "targets": target_options,
    "stances": lambda db: list(STANCES),
    "languages": language_options,
}


@dataclass(frozen=True)
class FilterState:
    """What the sidebar holds: valid Filters, or the one-line reason they are not valid."""

    filters: Any  # monitor.filters.Filters, or None when `error` says why not
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None

    def params(self) -> dict[str, list[str]]:
        if self.filters is None:
            return {}
        return {k: ([v] if isinstance(v, str) else list(v)) for k, v in self.filters.to_params().items()}

    def key(self) -> tuple:
        """Hashable form for st.cache_data (see `thaw`)."""
        return tuple(sorted((k, tuple(v)) for k, v in self.params().items()))

    def describe(self) -> str:
        if self.filters is None:
            return "invalid filters"
        return self.filters.sentence(md)


def with_default_window(db: Database, state: FilterState, days: int = 90) -> tuple[FilterState, str | None]:
    """Without a date filter, charts cover the `days` up to the newest article (a decade of
    daily points is neither readable nor quick); returns the state to use and a note saying so."""
    f = state.filters
    if f is None or f.date_from or f.date_to:
        return state, None
    status = store_status(db)
    # the window ends at the newest article with a real date: an estimated one (an undated item
    # stamped with its fetch time) would pull it to today and leave the line flat
    newest = status.newest_dated or status.newest
    if newest is None:
        return state, None
    start = newest.date() - dt.timedelta(days=days - 1)
    if status.oldest is not None and status.oldest.date() > start:  # a young archive: no empty lead-in
        start = status.oldest.date()
        note = f"Showing every stored article ({start:%Y-%m-%d} to {newest:%Y-%m-%d}); set From and To in the sidebar to narrow it."
    else:
        note = f"Showing the {days} days up to the newest dated article ({start:%Y-%m-%d} to {newest:%Y-%m-%d}); set From and To in the sidebar for another range."
    return FilterState(dataclasses.replace(f, date_from=start, date_to=newest.date()), None), note


def thaw(key: tuple):
    """FilterState.key() back to monitor.filters.Filters (inside cached functions)."""
    return Filters.from_params({k: list(v) for k, v in key})


def stop_on_filter_error(state: FilterState) -> None:
    if not state.ok:
        st.error(md(state.error), icon=":material/search_off:")
        st.caption('Queries use words, "exact phrases", AND, OR, NOT and parentheses, e.g. `interpol AND ("red notice" OR extradition)`.')
        st.stop()


def _widget(where, p: Param, db: Database, first: dt.date, last: dt.date) -> Any:
    """The widget for one URL key, bound to it."""
    bound = dict(key=p.key, bind="query-params", persist_state="session")
    if p.widget is WidgetKind.DATE:
        # "this day is included" on To: the range is inclusive, which a picker cannot show
        note = "; this day is included." if p.field == "date_to" else "."
        return where.date_input(
            p.label, value=None, min_value=first, max_value=last, format="YYYY-MM-DD",
            help=f"The archive runs from {first:%Y-%m-%d} to {last:%Y-%m-%d} (UTC){note}", **bound,
        )
    if p.widget is WidgetKind.TEXT:
        return where.text_input(p.label, placeholder=p.placeholder, help=SEARCH_HELP if p.key == "q" else None, **bound)
    options = OPTIONS[p.options](db) if p.options else []
    if p.widget is WidgetKind.PICK_MANY:
        return where.multiselect(p.label, options, placeholder=p.placeholder, **bound)
    return where.selectbox(p.label, options, index=None, placeholder=p.placeholder, **bound)


def _value(p: Param, raw: Any) -> Any:
    if p.widget is WidgetKind.TEXT:
        return (raw or "").strip()
    if p.widget is WidgetKind.PICK_MANY:
        return tuple(raw or ())
    return raw


def filter_sidebar(db: Database, *, stance: bool = True) -> FilterState:
    """Every filter dimension's widgets in the sidebar (dates one above the other: side by side,
    a field is too narrow to show a whole date), bound to the page URL. `stance=False` leaves
    the stance filter out (pages that chart stance themselves)."""
    sb = st.sidebar
    sb.subheader("Filters")
    first, last = date_bounds(db)
    values: dict[str, Any] = {}
    for d in DIMENSIONS:
        if d.name == "stance" and not stance:
            continue
        places = sb.columns(len(d.params)) if d.side_by_side else [sb] * len(d.params)
        for where, p in zip(places, d.params):
            values[p.field] = _value(p, _widget(where, p, db, first, last))
    try:
        filters, error = Filters(**values), None
    except MonitorError as e:
        filters, error = None, str(e)  # shown once, in the page, by stop_on_filter_error
    state = FilterState(filters, error)
    saved_views_panel(db, state.params(), apply_params)
    return state


def date_bounds(db: Database) -> tuple[dt.date, dt.date]:
    """What the From/To pickers offer: the archive's first to last day (Streamlit's own default,
    ten years either side of today, cuts off older archives), widened to a date a link carries
    so that it is honoured; a link's date that is not a date at all is reported in the page."""
    status = store_status(db)
    today = dt.datetime.now(dt.UTC).date()
    first = status.oldest.date() if status.oldest else today
    last = max(status.newest.date(), first) if status.newest else today
    for key in ("from", "to"):
        raw = st.query_params.get(key)
        if not raw:
            continue
        try:
            asked = parse_date(str(raw), f"The link's {key}")
        except MonitorError as e:
            st.warning(f"{e}. It was ignored.", icon=":material/event_busy:")
            continue
        if asked is None:  # raw is not empty, so parse_date gave a date or raised
            continue
        if asked < first or asked > last:
            st.info(
                f"The link's {key}={asked:%Y-%m-%d} is outside the archive ({first:%Y-%m-%d} to {last:%Y-%m-%d}): kept as given.",
                icon=":material/event:",
            )
            first, last = min(first, asked), max(last, asked)
    return first, last


def apply_params(params: dict[str, list[str]]) -> None:
    """Put a saved view's filter values into the bound widgets (and so into the URL)."""
    for p in PARAMS:
        values = params.get(p.key) or []
        if p.widget is WidgetKind.DATE:
            try:
                st.session_state[p.key] = dt.date.fromisoformat(values[0]) if values else None
            except ValueError:
                st.session_state[p.key] = None
        elif p.widget is WidgetKind.PICK_MANY:
            st.session_state[p.key] = list(values)
        elif p.widget is WidgetKind.TEXT:
            st.session_state[p.key] = values[0] if values else ""
        else:
            st.session_state[p.key] = values[0] if values else None
