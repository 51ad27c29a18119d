"""Saved views: the sidebar panel that names, lists, opens and deletes a set of filters (and the
page controls kept beside them)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from monitor import saved_views
from monitor.errors import MonitorError
from monitor.store import Database
from views.components.access import analyst
from views.components.session import open_database
from views.components.text import md, show_error

# Page controls that a saved view keeps beside the filters (Coverage's Per and Show); each is a
# widget key bound to the page URL, like the filters.
VIEW_KEYS = ("by", "measure")


def view_default(key: str, default: str) -> str | None:
    """A page control's default, or None when a saved view has already set its value (giving a
    widget both a default and a session value makes Streamlit warn on the page)."""
    return None if st.session_state.get(key) is not None else default


def _apply_view(params: dict[str, list[str]], apply_filters: Callable[[dict[str, list[str]]], None]) -> None:
    """Callback: put a saved view's values into the bound widgets (and so into the URL)."""
    apply_filters(params)
    for key in VIEW_KEYS:
        values = params.get(key) or []
        if values:
            st.session_state[key] = values[0]


def _view_params(filter_params: dict[str, list[str]]) -> dict[str, list[str]]:
    params = dict(filter_params)
    for key in VIEW_KEYS:
        value = st.session_state.get(key)
        if isinstance(value, str) and value:
            params[key] = [value]
    return params


def _save_view(db_url: str, params: dict[str, list[str]]) -> None:
    """Form callback: runs before the page is drawn, so the list below already shows the view."""
    name = st.session_state.get("_view_name") or ""
    try:
        view_id = saved_views.save_view(open_database(db_url), name, params, owner=analyst())
    except MonitorError as e:
        st.session_state["_view_error"] = str(e)
        return
    st.session_state["_view_pick"] = view_id
    st.toast(f"Saved view “{md(name.strip())}”", icon=":material/bookmark_added:")


def saved_views_panel(db: Database, filter_params: dict[str, list[str]], apply_filters: Callable[[dict[str, list[str]]], None]) -> None:
    """The panel under the filters: `filter_params` are what a saved view keeps, and
    `apply_filters` puts a view's values back into the filter widgets."""
    with st.sidebar.expander("Saved views", icon=":material/bookmark:"):
        try:
            views = saved_views.list_views(db)
        except MonitorError as e:
            show_error(e)
            return
        if views:
            labels = {v.id: f"{v.name} · {v.owner}" for v in views}  # selectbox options are plain text
            if st.session_state.get("_view_pick") not in labels:
                st.session_state.pop("_view_pick", None)
            chosen = st.selectbox("Open a view", list(labels), format_func=labels.__getitem__, index=None, key="_view_pick", placeholder="Choose a view")
            if chosen is not None:
                view = next(v for v in views if v.id == chosen)
                c1, c2 = st.columns(2)
                c1.button("Open", key="_view_open", on_click=_apply_view, args=(view.params, apply_filters), width="stretch")
                if view.owner == analyst() and c2.button("Delete", key="_view_delete", width="stretch"):
                    saved_views.delete_view(db, view.id, analyst())
                    st.session_state.pop("_view_pick", None)
                    st.rerun()
        else:
            st.caption("No saved views yet. Set filters, name them below and save.")
        with st.form("_view_save", clear_on_submit=True, border=False):
            st.text_input("Save these filters as", placeholder="e.g. Interpol, last month", key="_view_name")
            st.form_submit_button("Save view", on_click=_save_view, args=(db.url, _view_params(filter_params)))
        error = st.session_state.pop("_view_error", None)
        if error:
            st.error(md(error), icon=":material/error:")
        st.caption("The page address carries the filters (and Coverage's Per and Show) too: copy it to share this view.")

