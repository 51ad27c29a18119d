"""The store's state on every page: the all-feeds-failing banner, the empty state and the
sidebar footer (live status, who is signed in)."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from monitor.errors import MonitorError
from monitor.store import Database, utcnow
from views.components.access import access_policy, analyst, auth_enabled
from views.components.reads import feed_trouble, store_status, store_status_of
from views.components.session import Background, background
from views.components.text import md


def feed_trouble_banner(db: Database) -> None:
    """On every page: when every feed fails, nothing new can arrive, and the analyst must know why."""
    trouble = feed_trouble(db)
    if trouble is None:
        return
    reasons = ", ".join(f"{md(reason)} on {n}" for reason, n in trouble.reasons[:3])
    st.error(
        f"**{'All ' + str(trouble.feeds) + ' feeds are' if trouble.feeds != 1 else 'The only feed is'} failing** ({reasons}): {trouble.explain()}. "
        "No new articles arrive until this is fixed; the Feeds page shows each feed's last error.",
        icon=":material/cloud_off:",
    )


def no_articles_yet(db: Database, bg: Background | None = None) -> None:
    """The empty state every article-based page shows before the first article is stored."""
    status = store_status(db)
    bg = bg or background(db)
    st.info("No articles stored yet.", icon=":material/inbox:")
    steps = []
    trouble = feed_trouble(db)
    if trouble is not None:
        steps.append(
            f"{status.feeds} feed{'s are' if status.feeds != 1 else ' is'} registered, but "
            f"{'every one is' if status.feeds != 1 else 'it is'} failing ({trouble.explain()}), so no article has arrived."
        )
    elif status.feeds == 0:
        steps.append("Add feeds on the **Feeds** page (or import an OPML file): nothing is polled yet.")
    elif bg.poller_running:
        steps.append(f"{status.feeds} feeds are registered and the background poller is fetching them: articles appear within minutes.")
    else:
        steps.append(f"{status.feeds} feeds are registered. {bg.poller_note}")
    steps.append("To load an archive of feed files: `python -m monitor ingest PATH…`.")
    st.markdown("\n".join(f"- {s}" for s in steps))


def _ago(when: dt.datetime | None) -> str:
    if when is None:
        return "never"
    seconds = max(0, int((utcnow() - when).total_seconds()))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 5400:
        return f"{seconds // 60} min ago"
    if seconds < 129600:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def sidebar_footer(db: Database, bg: Background) -> None:
    with st.sidebar:
        _live_status(db.url, bg)
        who = analyst()
        if auth_enabled():
            c1, c2 = st.columns([3, 2])
            c1.caption(f"Signed in as {md(who)}")
            c2.button("Sign out", on_click=st.logout, key="_logout", type="tertiary")
        else:
            st.caption(f"Local analyst: {md(who)}")


@st.fragment(run_every=30)
def _live_status(url: str, bg: Background) -> None:
    """Refreshes by itself so a poller's progress shows without touching the page."""
    try:
        required = access_policy().auth_required
    except MonitorError:
        required = None
    if required != st.session_state.get("_auth_required", required):
        st.rerun(scope="app")  # secrets edited under an open page: the gate decides again
    st.session_state["_auth_required"] = required
    status = store_status_of(url)
    handle = bg.poller
    if handle is not None and not getattr(handle, "running", True):
        poller = "poller stopped: see the server log"
    elif handle is not None and getattr(handle, "error", None):
        poller = f"not polling, retrying: {handle.error}"  # the store refuses; it resumes by itself
    elif bg.poller_running:
        poller = f"polling ({getattr(handle, 'rounds', 0)} rounds)"
    else:
        poller = "poller off"
    st.caption(
        f"{status.articles:,} articles ({status.articles_24h:,} in 24 h) · {status.feeds} feed{'s' if status.feeds != 1 else ''}"
        + (f", {status.feeds_failing} failing" if status.feeds_failing else "")
        + f" · last fetch {_ago(status.last_fetch_at)} · {poller}"
    )
