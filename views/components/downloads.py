"""Downloads: CSV of exactly what a page shows, written by monitor.export."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from monitor.export import write_articles_csv, write_summary_csv, write_table_csv
from monitor.store import Database
from views.components.filters import FilterState
from views.components.session import database


def table_csv(df: pd.DataFrame, *, title: str, filters: FilterState | None = None) -> bytes:
    """CSV bytes of exactly this table, written by monitor.export."""
    out = io.StringIO()
    rows = df.astype(object).where(df.notna(), None).itertuples(index=False, name=None)
    write_table_csv(list(df.columns), rows, out, title=title, filters=filters.filters if filters else None, db=database())
    return out.getvalue().encode("utf-8")


def download(df: pd.DataFrame, *, label: str, file_name: str, key: str, title: str, filters: FilterState | None = None) -> None:
    """A CSV download of exactly the rows and columns shown above it."""
    data = table_csv(df, title=title, filters=filters)
    st.download_button(label, data, file_name=file_name, mime="text/csv", key=key, icon=":material/download:", on_click="ignore")


def summary_download(rows: list, *, by: str, group: tuple[str, ...], filters: FilterState, label: str, file_name: str, key: str, title: str) -> None:
    """A chart's download: the very CountRows it draws, as `export summary` writes them."""
    out = io.StringIO()
    write_summary_csv(database(), filters.filters, out, by=by, group=group, rows=rows, title=title)
    st.download_button(label, out.getvalue().encode("utf-8"), file_name=file_name, mime="text/csv", key=key, icon=":material/download:", on_click="ignore")


MAX_DASHBOARD_EXPORT = 100_000  # larger lists go through `python -m monitor export articles`, which streams to a file


def articles_page_download(db: Database, filters: FilterState, page: int, page_size: int, *, key: str) -> None:
    """The page's articles in the export's order and columns (`write_articles_csv`), so a page,
    the whole list and `export articles` read alike."""
    out = io.StringIO()
    write_articles_csv(db, filters.filters, out, limit=page_size, offset=(page - 1) * page_size, title=f"articles (dashboard), page {page}")
    data = out.getvalue().encode("utf-8")
    st.download_button("Download this page (CSV)", data, file_name=f"articles-page-{page}.csv", mime="text/csv", key=key, icon=":material/download:", on_click="ignore")


def articles_download(db: Database, filters: FilterState, total: int, *, key: str) -> None:
    """Every matching article (not just the page), built only when clicked."""
    if total > MAX_DASHBOARD_EXPORT:
        st.caption(f"{total:,} articles match: download them with `python -m monitor export articles` (it streams to a file).")
        return

    def build() -> bytes:
        out = io.StringIO()
        write_articles_csv(db, filters.filters, out, title="articles (dashboard)")
        return out.getvalue().encode("utf-8")

    st.download_button(f"Download all {total:,} matching articles (CSV)", build, file_name="articles.csv", mime="text/csv", key=key, icon=":material/download:", on_click="ignore")


def columns_safe(rows: Sequence[dict], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(columns))

