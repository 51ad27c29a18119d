"""Who is using the dashboard: the sign-in gate (st.login when [auth] is configured, else loopback only)."""

from __future__ import annotations

import logging

import streamlit as st
from streamlit import config as st_config
from streamlit.runtime.secrets import secrets_singleton

from monitor.access import (
    is_local_host,
    local_analyst,
    policy_from_secrets,
    read_secrets_files,
)
from monitor.config import Settings
from monitor.errors import MonitorError
from views.components.text import md


def _secrets() -> dict:
    """The secrets as this rerun finds them; raises ConfigError when a secrets file exists but
    cannot be used. Read from disk on every rerun (a tiny file), so an edit that breaks the file
    closes a running dashboard instead of leaving Streamlit's last good copy, or nothing, in
    charge. With no file, only secrets handed over in code count (AppTest's `at.secrets`)."""
    found = read_secrets_files(st_config.get_option("secrets.files"))
    if found is not None:
        return found
    if st.secrets is secrets_singleton:  # the server's own, file-backed secrets: no file, no secrets
        return {}
    return st.secrets.to_dict()


def access_policy():
    """The access policy, or the ConfigError that closes the dashboard."""
    return policy_from_secrets(_secrets())


def refuse_to_serve(e: MonitorError) -> None:
    """The page everyone gets while sign-in is misconfigured: what is wrong, nothing else."""
    logging.getLogger("monitor.dashboard").error("refusing to serve: %s", e)
    st.title("Policing press monitor")
    st.error(f"The dashboard is closed: sign-in is misconfigured. {md(e)}", icon=":material/lock:")
    st.caption(
        "The administrator must fix `.streamlit/secrets.toml` (see `.streamlit/secrets.toml.example`), "
        "or remove it for single-analyst use on 127.0.0.1. The page opens again once the file is fixed."
    )
    st.stop()


def _refuse_foreign_host() -> None:
    """Local mode answers only to loopback names: a page that rebinds its own name to 127.0.0.1
    gets this notice over the WebSocket, never a page, a widget or a row of the archive."""
    host = st.context.headers.get("Host")
    extra = Settings.from_env().dashboard_hosts.split(",")
    if is_local_host(host, extra):
        return
    logging.getLogger("monitor.dashboard").warning("refused a page for Host %r: not a loopback name (MONITOR_DASHBOARD_HOSTS)", host)
    st.title("Policing press monitor")
    st.error("This dashboard answers only at `http://localhost` or `http://127.0.0.1` on this computer.", icon=":material/block:")
    st.caption("It was reached under another name. If that name is yours, add it to MONITOR_DASHBOARD_HOSTS.")
    st.stop()


def require_access() -> str:
    """Gate the app behind st.login when [auth] is configured; returns the analyst's name."""
    try:
        policy = access_policy()
    except MonitorError as e:
        refuse_to_serve(e)
        raise  # unreachable: st.stop raises
    if not policy.auth_required:
        _refuse_foreign_host()
        st.session_state["analyst"] = local_analyst()
        return st.session_state["analyst"]
    if not st.user.get("is_logged_in"):
        st.title("Policing press monitor")
        st.write("Sign in with your organisation's account to see the dashboard.")
        st.button("Sign in", type="primary", on_click=st.login)
        st.stop()
    decision = policy.decide(st.user.get("email"), st.user.get("email_verified"))
    if not decision.allowed:
        st.title("Policing press monitor")
        st.error(f"Access refused: {md(decision.reason)}.")
        st.caption("Ask the dashboard's administrator to add you to the allow-list.")
        st.button("Sign out", on_click=st.logout)
        st.stop()
    st.session_state["analyst"] = str(st.user.get("email")).lower()
    return st.session_state["analyst"]


def analyst() -> str:
    """The signed-in analyst (or the local user): the owner of labels, alerts and views."""
    name = st.session_state.get("analyst")
    if not name:
        name = local_analyst()
    return name


def auth_enabled() -> bool:
    try:
        return access_policy().auth_required
    except MonitorError:
        return True  # misconfigured sign-in is never shown as local use

