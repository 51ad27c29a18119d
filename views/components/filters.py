"""The filter sidebar: date, query, topic, source and stance filters, kept in the page URL."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

import streamlit as st

from monitor.errors import MonitorError
from monitor.filters import Filters, parse_date
from monitor.query import HELP as SEARCH_HELP
from monitor.store import Database
from views.components.reads import (
    source_options,
    store_status,
    target_options,
    topic_options,
)
from views.components.saved_views import saved_views_panel
from views.components.text import md

STANCES = ("FAVOR", "AGAINST", "NONE")

# Widget keys double as URL query parameter names (bind="query-params"), so a link carries them.
FILTER_KEYS = ("from", "to", "q", "topic", "source", "stance", "target")


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
        f = self.filters
        if f is None:
            return "invalid filters"
        bits = []
        if f.date_from or f.date_to:
            bits.append(f"{f.date_from or '…'} to {f.date_to or '…'}")
        if f.query:
            bits.append(f"query “{md(f.query)}”")
        if f.topics:
            bits.append("topics " + ", ".join(md(t) for t in f.topics))
        if f.sources:
            bits.append("sources " + ", ".join(md(s) for s in f.sources))
        if f.stance or f.target:
            bits.append(f"stance {f.stance or 'any'}" + (f" toward {md(f.target)}" if f.target else ""))
        return "; ".join(bits) or "all articles"


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



def filter_sidebar(db: Database, *, stance: bool = True) -> FilterState:
    """Date, query, topic, source and stance filters in the sidebar, bound to the page URL."""
    sb = st.sidebar
    sb.subheader("Filters")
    first, last = date_bounds(db)
    # one above the other: side by side, each field is too narrow to show a whole date
    date_from = sb.date_input(
        "From", value=None, min_value=first, max_value=last, key="from", bind="query-params", persist_state="session", format="YYYY-MM-DD",
        help=f"The archive runs from {first:%Y-%m-%d} to {last:%Y-%m-%d} (UTC).",
    )
    date_to = sb.date_input(
        "To", value=None, min_value=first, max_value=last, key="to", bind="query-params", persist_state="session", format="YYYY-MM-DD",
        help=f"The archive runs from {first:%Y-%m-%d} to {last:%Y-%m-%d} (UTC); this day is included.",
    )
    query = sb.text_input(
        "Search",
        key="q",
        bind="query-params",
        persist_state="session",
        placeholder='e.g. interpol AND "red notice"',
        help=SEARCH_HELP,
    )
    topics = sb.multiselect("Topics", topic_options(db), key="topic", bind="query-params", persist_state="session", placeholder="All topics")
    sources = sb.multiselect("Sources", source_options(db), key="source", bind="query-params", persist_state="session", placeholder="All sources")
    stance_value = target_value = None
    if stance:
        targets = target_options(db)
        c3, c4 = sb.columns(2)
        stance_value = c3.selectbox("Stance", STANCES, index=None, key="stance", bind="query-params", persist_state="session", placeholder="Any")
        target_value = c4.selectbox("Toward", targets, index=None, key="target", bind="query-params", persist_state="session", placeholder="Any target")
    try:
        filters, error = (
            Filters(
                date_from=date_from,
                date_to=date_to,
                query=(query or "").strip(),
                topics=tuple(topics),
                sources=tuple(sources),
                stance=stance_value,
                target=target_value,
            ),
            None,
        )
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
    for key in FILTER_KEYS:
        values = params.get(key) or []
        if key in ("from", "to"):
            try:
                st.session_state[key] = dt.date.fromisoformat(values[0]) if values else None
            except ValueError:
                st.session_state[key] = None
        elif key in ("topic", "source"):
            st.session_state[key] = list(values)
        elif key == "q":
            st.session_state[key] = values[0] if values else ""
        else:
            st.session_state[key] = values[0] if values else None

