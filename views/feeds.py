"""Feeds: add, remove, import and export feeds; see their health; poll now."""

import pandas as pd
import streamlit as st

from monitor.config import Settings
from monitor.errors import MonitorError
from monitor.poller import poll_once
from views import components as ui

db = ui.database()
st.title("Feeds")

from monitor import feeds  # noqa: E402

settings = Settings.from_env()
allow_private = settings.allow_private_networks


def _show_poll(summary) -> None:
    """A round's outcome in the colour it deserves: a failed fetch is an error, never a success."""
    ui.store_changed()
    text = f"Poll finished: {ui.md(summary)}"
    if summary.feeds and summary.failed >= summary.feeds:
        st.error(text + ". Nothing could be fetched: see “last error” below.", icon=":material/error:")
    elif summary.failed:
        st.warning(text, icon=":material/warning:")
    elif summary.feeds == 0:
        st.info("No feed was due: each feed is polled again at its own next poll time.", icon=":material/schedule:")
    else:
        st.success(text, icon=":material/check_circle:")


# --- add, import, export ---------------------------------------------------------------------

add_col, opml_col = st.columns(2)
with add_col.form("add_feed", clear_on_submit=False, border=True):
    st.markdown("**Add a feed**")
    url = st.text_input("Feed URL", placeholder="https://example.org/rss.xml", key="add_url")
    name = st.text_input("Name (optional)", placeholder="The outlet's name, shown as the source", key="add_name")
    tags = st.text_input("Tags (optional, comma-separated)", placeholder="english, cyber", key="add_tags")
    if st.form_submit_button("Add feed", type="primary", icon=":material/add:"):
        try:
            fid = feeds.add_feed(db, url, name=name or None, tags=[t.strip() for t in tags.split(",") if t.strip()], allow_private=allow_private, added_by=ui.analyst())
            ui.store_changed()
            st.success(f"Added feed {fid}. It is fetched on the next poll.")
        except MonitorError as e:
            ui.show_error(e)

with opml_col.container(border=True):
    st.markdown("**OPML**")
    upload = st.file_uploader("Import an OPML file", type=["opml", "xml"], key="opml_upload")
    if upload is not None and st.button("Import feeds", key="opml_import", icon=":material/upload:"):
        try:
            report = feeds.import_opml_report(db, upload.getvalue(), allow_private=allow_private, added_by=ui.analyst())
        except MonitorError as e:
            ui.show_error(e)
        else:
            ui.store_changed()
            (st.success if not report.skipped else st.warning)(f"Imported {report.added} feeds; skipped {len(report.skipped)}.")
            if report.skipped:
                skipped_table = pd.DataFrame(
                    {"entry": [o.name or "" for o in report.skipped], "URL": [o.url for o in report.skipped], "why skipped": [o.reason for o in report.skipped]}
                )
                st.dataframe(skipped_table, hide_index=True, width="stretch", column_config={"why skipped": st.column_config.TextColumn(width="large")})
    st.download_button("Export all feeds (OPML)", feeds.export_opml(db), file_name="feeds.opml", mime="text/x-opml", key="opml_export", icon=":material/download:", on_click="ignore")

# --- health ------------------------------------------------------------------------------------

rows = feeds.feed_health(db)


def _sources_in_the_archive() -> None:
    """Every outlet the archive holds, those ingested from files too (they are not polled)."""
    sources = feeds.archive_sources(db)
    if not sources:
        return
    st.subheader("Sources in the archive")
    names = {r.id: r.name or r.url for r in rows}
    not_polled = sum(1 for s in sources if not s.polled)
    st.caption(
        f"{len(sources)} source{'s' if len(sources) != 1 else ''} with stored articles"
        + (f"; {not_polled} came from ingested files or removed feeds and are not polled (add their feed URL above to poll them)." if not_polled else ".")
    )
    table = pd.DataFrame(
        {
            "source": [s.source for s in sources],
            "articles": [s.articles for s in sources],
            "newest article (UTC)": [s.newest for s in sources],
            "polled": ["yes: " + ", ".join(str(names.get(i, i)) for i in s.feed_ids) if s.polled else "not polled (ingested)" for s in sources],
        }
    )
    st.dataframe(table, hide_index=True, placeholder="—", width="stretch", column_config={"newest article (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})
    ui.download(table, label="Download sources (CSV)", file_name="archive-sources.csv", key="dl_sources_archive", title="Sources in the archive")


if not rows:
    st.info("No feeds yet. Add a feed URL above or import an OPML reading list; the poller fetches new feeds within minutes.", icon=":material/rss_feed:")
    _sources_in_the_archive()
    st.stop()

bg = ui.background(db)
failing = sum(1 for r in rows if r.status == "failing")
disabled = sum(1 for r in rows if not r.enabled)
st.subheader("Health")
st.caption(f"{len(rows)} feed{'s' if len(rows) != 1 else ''} · {failing} failing · {disabled} disabled · {bg.poller_note}")
only_problems = st.toggle("Only failing or disabled feeds", key="feeds_problems")
shown_rows = [r for r in rows if r.status in ("failing", "disabled") or not r.enabled] if only_problems else rows
health = pd.DataFrame(
    {
        "id": [r.id for r in shown_rows],
        "name": [r.name or "" for r in shown_rows],
        "url": [ui.safe_link(r.url) for r in shown_rows],
        "status": [r.status for r in shown_rows],
        "last error": [(f"{r.last_error_reason}: {r.last_error}" if r.last_error else (r.last_error_reason or r.disabled_reason or "")) for r in shown_rows],
        "last fetch (UTC)": [r.last_fetch_at for r in shown_rows],
        "last success (UTC)": [r.last_success_at for r in shown_rows],
        "failures in a row": [r.consecutive_failures for r in shown_rows],
        "errors": [r.error_count for r in shown_rows],
        "next poll (UTC)": [r.next_poll_at for r in shown_rows],
        "tags": [", ".join(r.tags) for r in shown_rows],
    }
)
dt_col = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")
st.dataframe(
    health,
    hide_index=True, placeholder="—",
    width="stretch",
    column_config={
        "id": st.column_config.NumberColumn(width="small", format="%d"),
        "url": st.column_config.LinkColumn(width="medium"),
        "last fetch (UTC)": dt_col,
        "last success (UTC)": dt_col,
        "next poll (UTC)": dt_col,
        # next to the status and wide: "dns_unknown_host: cannot resolve …" must be read whole
        "last error": st.column_config.TextColumn(width=480, help="The reason and the detail of the last failed fetch"),
    },
)
ui.download(health, label="Download feed health (CSV)", file_name="feed-health.csv", key="dl_health", title="Feed health")

# --- one feed: history, pause, remove; poll now -----------------------------------------------

st.subheader("Manage a feed")
labels = {r.id: f"{r.id} · {r.name or r.url} ({r.status})" for r in rows}
chosen = st.selectbox("Feed", list(labels), format_func=labels.get, index=None, key="feed_pick", placeholder="Choose a feed")
if chosen is not None:
    feed = next(r for r in rows if r.id == chosen)
    c1, c2, c3 = st.columns(3)
    if feed.enabled:
        if c1.button("Pause feed", key="feed_pause", icon=":material/pause:", width="stretch"):
            feeds.set_feed_enabled(db, feed.id, False)
            ui.store_changed()
            st.rerun()
    elif c1.button("Enable feed", key="feed_enable", icon=":material/play_arrow:", width="stretch"):
        feeds.set_feed_enabled(db, feed.id, True)
        ui.store_changed()
        st.rerun()
    with c2.popover("Remove feed", icon=":material/delete:", width="stretch"):
        st.write("Stored articles stay in the archive; only the feed and its fetch history go.")
        if st.button("Remove it", type="primary", key="feed_remove"):
            try:
                feeds.remove_feed(db, feed.id)
                ui.store_changed()
                st.session_state.pop("feed_pick", None)
                st.rerun()
            except MonitorError as e:
                ui.show_error(e)
    if c3.button("Poll this feed now", key="feed_poll_one", icon=":material/refresh:", width="stretch"):
        with st.spinner("Fetching…"):
            try:
                _show_poll(poll_once(db, allow_private=allow_private, feed_ids=[feed.id]))
            except MonitorError as e:
                ui.show_error(e)
    events = feeds.recent_fetch_events(db, feed.id)
    if events:
        history = pd.DataFrame(
            {
                "at (UTC)": [e.at for e in events],
                "outcome": [e.outcome for e in events],
                "HTTP": [e.http_status for e in events],
                "reason": [e.reason or "" for e in events],
                "detail": [e.detail or "" for e in events],
                "ms": [e.duration_ms for e in events],
                "entries": [e.entries for e in events],
                "new articles": [e.new_articles for e in events],
            }
        )
        st.dataframe(history, hide_index=True, placeholder="—", width="stretch", column_config={"at (UTC)": dt_col})
        ui.download(history, label="Download fetch history (CSV)", file_name=f"feed-{feed.id}-fetches.csv", key="dl_fetches", title=f"Fetch history of feed {feed.id}")
    else:
        st.caption("Not fetched yet.")

st.divider()
if st.button("Poll all due feeds now", key="poll_now", icon=":material/sync:"):
    with st.spinner("Polling the feeds that are due…"):
        try:
            _show_poll(poll_once(db, allow_private=allow_private))
        except MonitorError as e:
            ui.show_error(e)

st.divider()
_sources_in_the_archive()
