"""Alerts: keyword and spike alerts, their inbox and their deliveries."""

import pandas as pd
import streamlit as st

from monitor.errors import MonitorError
from views import components as ui

db = ui.database()
st.title("Alerts")

from monitor import alerts as alerts_api  # noqa: E402  (after the page title, as on every page)

CADENCE_LABELS = {"immediate": "At once", "hourly": "Hourly digest", "daily": "Daily digest"}
KIND_LABELS = {"keyword": "Keyword (every matching article)", "spike": "Spike (a day far above the usual share)"}
DT = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")

try:
    all_alerts = alerts_api.list_alerts(db)
except MonitorError as e:
    ui.show_error(e)
    st.stop()

new_total = sum(a.new for a in all_alerts)
failing_total = sum(a.failing for a in all_alerts)
tab_names = [
    f"Inbox ({new_total} new)" if new_total else "Inbox",
    f"Alerts ({len(all_alerts)})",
    f"Deliveries ({failing_total} failing)" if failing_total else "Deliveries",
]
# Set by the save below, which reruns the page so the list and the tab counts include the alert.
just_saved = st.session_state.pop("_alert_saved", None)
if just_saved:
    st.success(just_saved, icon=":material/check_circle:")
# A new user has nothing in the inbox: open on the tab where alerts are made (and stay there
# right after saving one).
# The default stays put for the session: a changed default makes Streamlit treat the tabs as
# new and jump back to it on the next click.
if just_saved:
    st.session_state["_alerts_tab"] = 1
tab_index = st.session_state.setdefault("_alerts_tab", 0 if all_alerts else 1)
inbox_tab, alerts_tab, outbox_tab = st.tabs(tab_names, default=tab_names[tab_index])


def _alert_form(prefix: str, current=None) -> dict:
    """The fields of an alert; returns the options for add_alert/update_alert/draft_alert."""
    c1, c2 = st.columns(2)
    name = c1.text_input("Name", value=current.name if current else "", key=f"{prefix}_name", placeholder="e.g. Interpol red notices")
    kinds = list(KIND_LABELS)
    kind = c2.selectbox("Kind", kinds, index=kinds.index(current.kind) if current else 0, format_func=KIND_LABELS.get, key=f"{prefix}_kind")
    query = st.text_input(
        "Query",
        value=current.query if current else "",
        key=f"{prefix}_query",
        placeholder='"red notice" OR extradition',
        help='The Articles search language: words, "exact phrases", AND / OR / NOT, parentheses.',
    )
    c3, c4, c5, c6 = st.columns(4)
    topics = ui.topic_options(db)
    topic = c3.selectbox("Topic", topics, index=topics.index(current.topic) if current and current.topic in topics else None, key=f"{prefix}_topic", placeholder="Any topic")
    stance = c4.selectbox("Stance", ui.STANCES, index=ui.STANCES.index(current.stance) if current and current.stance in ui.STANCES else None, key=f"{prefix}_stance", placeholder="Any")
    targets = ui.target_options(db)
    target = c5.selectbox("Toward", targets, index=targets.index(current.target) if current and current.target in targets else None, key=f"{prefix}_target", placeholder="Any target")
    sources = ui.source_options(db)
    source = c6.selectbox("Source", sources, index=sources.index(current.source) if current and current.source in sources else None, key=f"{prefix}_source", placeholder="Any source")
    c7, c8 = st.columns([3, 1])
    notify = c7.text_area(
        "Deliver to (Apprise URLs, one a line; optional)",
        value="\n".join(current.targets) if current else "",
        key=f"{prefix}_notify",
        height=80,
        placeholder="mailto://user:password@example.org\njsons://hooks.example.org/monitor",
        help="E-mail, webhooks (json://, jsons://), Slack, Telegram… Secrets are never shown again after saving. Without a target, matches only go to the inbox.",
    )
    cadences = list(CADENCE_LABELS)
    cadence = c8.radio("Send", cadences, index=cadences.index(current.cadence) if current else 0, format_func=CADENCE_LABELS.get, key=f"{prefix}_cadence")
    options = dict(
        name=name,
        query=query,
        kind=kind,
        topic=topic,
        stance=stance,
        target=target,
        source=source,
        notify=[line.strip() for line in notify.splitlines() if line.strip()],
        cadence=cadence,
    )
    sensitivity = st.slider(
        "Spike sensitivity (spike alerts only): standard deviations above the 14-day baseline",
        1.0,
        6.0,
        float(current.sensitivity) if current and current.sensitivity else 3.0,
        0.5,
        key=f"{prefix}_sensitivity",
        help="Lower fires more often. Days when many feeds failed are held back, with the reason shown.",
    )
    if kind == "spike":
        options["sensitivity"] = sensitivity
    return options


def _show_preview(options: dict, alert_id: int | None = None) -> None:
    """'Test this alert': what it would match in the archive, recording nothing."""
    try:
        if alert_id is not None:
            preview = alerts_api.preview_alert(db, alert_id, limit=20)
        else:
            draft = {k: v for k, v in options.items() if k not in ("name", "query")}
            preview = alerts_api.preview_alert(db, alerts_api.draft_alert(db, options.get("name") or "(draft)", options.get("query", ""), **draft), limit=20)
    except MonitorError as e:
        ui.show_error(e)
        return
    if options.get("kind") == "spike":
        st.caption("A spike alert fires on days, not articles; here are the archived articles its topic/query covers.")
    st.write(f"It matches **{preview.total:,}** stored articles. The newest:")
    if preview.rows:
        table = pd.DataFrame(
            {
                "published (UTC)": [r.published_at for r in preview.rows],
                "date estimated": [r.date_estimated for r in preview.rows],
                "source": [r.source for r in preview.rows],
                "title": [r.title for r in preview.rows],
                "link": [ui.safe_link(r.link) for r in preview.rows],
            }
        )
        st.dataframe(table, hide_index=True, placeholder="—", width="stretch", column_config={"published (UTC)": DT, "link": st.column_config.LinkColumn(display_text="open")})
        ui.download(table, label="Download test matches (CSV)", file_name="alert-test.csv", key=f"dl_preview_{alert_id or 'new'}", title="Alert test: newest matches")


def _first_check(alert_id: int, name: str, kind: str) -> str:
    """Search the archive for a new alert at once (its finds go to the inbox; sending waits for
    the next delivery round) and say what it found."""
    label = f"Saved alert “{ui.md(name.strip())}”"
    try:
        report = alerts_api.check_alerts(db, alert=alert_id, deliver=False)
    except MonitorError as e:
        return f"{label}, but the archive could not be searched: {ui.md(e)}. New articles are still checked as they arrive."
    check = report.alerts[0] if report.alerts else None
    if check is None:
        return f"{label}. New articles are checked against it as they arrive."
    if kind == "spike":
        return f"{label}: {check.matching:,} spike days in the last 30, {check.recorded:,} new to the inbox. New days are checked as articles arrive."
    return f"{label}: it matches {check.matching:,} stored articles, {check.recorded:,} now in its inbox. New articles are checked as they arrive."


# --- inbox ---------------------------------------------------------------------------------------

with inbox_tab:
    if not all_alerts:
        st.info("No alerts yet. Create one in the **Alerts** tab: a query like `interpol AND extradition`, and where to send matches.", icon=":material/notifications:")
    else:
        names = {a.id: a.name for a in all_alerts}
        c1, c2 = st.columns([2, 1])
        which = c1.selectbox("Alert", list(names), format_func=names.get, index=None, key="inbox_alert", placeholder="All alerts")
        state = c2.segmented_control("Show", ["new", "reviewed", "all"], default="new", key="inbox_state", required=True) or "new"
        rows = alerts_api.list_inbox(db, alert=which, state=None if state == "all" else state, limit=200)
        if not rows:
            st.caption("Nothing here." if state != "new" else "No new matches. New articles are checked against every alert as they arrive.")
        else:
            inbox = pd.DataFrame(
                {
                    "matched (UTC)": [r.matched_at for r in rows],
                    "alert": [r.alert_name for r in rows],
                    "published (UTC)": [r.published_at for r in rows],
                    "date estimated": [r.date_estimated for r in rows],
                    "source": [r.source or "" for r in rows],
                    "title": [r.title if r.article_id is not None else f"Spike on {r.day:%Y-%m-%d}: {r.detail or ''}" for r in rows],
                    "link": [ui.safe_link(r.link) for r in rows],
                    "state": [r.state for r in rows],
                    "delivery": [r.delivery + (f" ({r.held_reason})" if r.held_reason else "") for r in rows],
                }
            )
            picked = st.dataframe(
                inbox,
                hide_index=True, placeholder="—",
                width="stretch",
                key="inbox_table",
                on_select="rerun",
                selection_mode="multi-row",
                column_config={"matched (UTC)": DT, "published (UTC)": DT, "link": st.column_config.LinkColumn(display_text="open"), "title": st.column_config.TextColumn(width="large")},
            )
            st.caption(f"{len(rows)} matches shown (newest first, at most 200). Select rows to mark them.")
            selected = [rows[i].id for i in (picked.selection.rows if picked else [])]
            b1, b2, b3 = st.columns(3)
            if b1.button("Mark selected reviewed", key="inbox_review_sel", disabled=not selected, width="stretch"):
                alerts_api.set_state(db, selected, "reviewed")
                st.rerun()
            if b2.button("Mark selected new", key="inbox_new_sel", disabled=not selected, width="stretch"):
                alerts_api.set_state(db, selected, "new")
                st.rerun()
            if b3.button("Mark all reviewed", key="inbox_review_all", width="stretch", disabled=state == "reviewed"):
                n = alerts_api.mark_all_reviewed(db, alert=which)
                st.toast(f"{n} matches marked reviewed")
                st.rerun()
            ui.download(inbox, label="Download inbox (CSV)", file_name="alert-inbox.csv", key="dl_inbox", title="Alert inbox")

# --- the alerts themselves ----------------------------------------------------------------------

with alerts_tab:
    if all_alerts:
        table = pd.DataFrame(
            {
                "id": [a.id for a in all_alerts],
                "name": [a.name for a in all_alerts],
                "kind": [a.kind for a in all_alerts],
                "watches": [a.describe() for a in all_alerts],
                "send": [CADENCE_LABELS.get(a.cadence, a.cadence) for a in all_alerts],
                "to": [", ".join(a.targets) or "inbox only" for a in all_alerts],
                "owner": [a.owner or "" for a in all_alerts],
                "on": [a.enabled for a in all_alerts],
                "matches": [a.matches for a in all_alerts],
                "new": [a.new for a in all_alerts],
                "queued": [a.queued for a in all_alerts],
                "failing": [a.failing for a in all_alerts],
                "sent": [a.sent for a in all_alerts],
                "last error": [a.last_error or "" for a in all_alerts],
            }
        )
        st.dataframe(table, hide_index=True, placeholder="—", width="stretch", column_config={"id": st.column_config.NumberColumn(format="%d", width="small")})
        ui.download(table, label="Download alerts (CSV)", file_name="alerts.csv", key="dl_alerts", title="Alerts")
    else:
        st.info("No alerts yet. Describe one below, test it against the archive, then save it.", icon=":material/notifications:")

    with st.expander("Create an alert", expanded=not all_alerts, icon=":material/add_alert:"):
        with st.form("alert_new", border=False):
            options = _alert_form("new")
            c1, c2 = st.columns(2)
            test = c1.form_submit_button("Test against the archive", icon=":material/science:", width="stretch")
            save = c2.form_submit_button("Save alert", type="primary", icon=":material/save:", width="stretch")
        if test:
            _show_preview(options)
        if save:
            try:
                options["owner"] = ui.analyst()
                name = options.pop("name")
                new_id = alerts_api.add_alert(db, name, options.pop("query"), **options)
            except MonitorError as e:
                ui.show_error(e)
            else:
                st.session_state["_alert_saved"] = _first_check(new_id, name, options.get("kind", "keyword"))
                st.rerun()

    if all_alerts:
        st.subheader("Edit an alert")
        labels = {a.id: f"{a.name} ({a.kind}, {a.owner or 'no owner'})" for a in all_alerts}
        chosen = st.selectbox("Alert", list(labels), format_func=labels.get, index=None, key="edit_alert", placeholder="Choose an alert to edit, test or delete")
        if chosen is not None:
            current = next(a for a in all_alerts if a.id == chosen)
            with st.form(f"alert_edit_{chosen}", border=True):
                options = _alert_form(f"edit{chosen}", current)
                enabled = st.toggle("Enabled", value=current.enabled, key=f"edit{chosen}_enabled")
                c1, c2 = st.columns(2)
                test = c1.form_submit_button("Test against the archive", icon=":material/science:", width="stretch")
                save = c2.form_submit_button("Save changes", type="primary", icon=":material/save:", width="stretch")
            if test:
                _show_preview(options)
            if save:
                try:
                    alerts_api.update_alert(db, chosen, enabled=enabled, **options)
                    st.success("Saved.")
                    st.rerun()
                except MonitorError as e:
                    ui.show_error(e)
            c1, c2 = st.columns(2)
            if c1.button("Check the archive now", key="alert_check", icon=":material/manage_search:", width="stretch", help="Record every stored article this alert matches (each once) and send what is due."):
                with st.spinner("Checking the archive…"):
                    try:
                        report = alerts_api.check_alerts(db, alert=chosen)
                        check = report.alerts[0] if report.alerts else None
                        if check is not None:
                            st.success(f"{check.matching:,} matching, {check.recorded:,} new to the inbox.")
                    except MonitorError as e:
                        ui.show_error(e)
            with c2.popover("Delete alert", icon=":material/delete:", width="stretch"):
                st.write(f"Delete “{ui.md(current.name)}” with its inbox and unsent messages?")
                if st.button("Delete it", type="primary", key="alert_delete"):
                    alerts_api.remove_alert(db, chosen)
                    st.session_state.pop("edit_alert", None)
                    st.rerun()

# --- the outbox ----------------------------------------------------------------------------------

with outbox_tab:
    deliveries = alerts_api.list_deliveries(db, limit=200)
    if not deliveries:
        st.caption("No messages yet. Alerts with a delivery target queue a message here for each match or digest.")
    else:
        outbox = pd.DataFrame(
            {
                "id": [d.id for d in deliveries],
                "created (UTC)": [d.created_at for d in deliveries],
                "alert": [d.alert_name for d in deliveries],
                "to": [d.target for d in deliveries],  # Apprise's privacy form: no secrets
                "title": [d.title for d in deliveries],
                "matches": [d.match_count for d in deliveries],
                "status": [d.status for d in deliveries],
                "attempts": [d.attempts for d in deliveries],
                "next attempt (UTC)": [d.next_attempt_at if d.status == "queued" else None for d in deliveries],
                "last error": [d.last_error or "" for d in deliveries],
                "sent (UTC)": [d.sent_at for d in deliveries],
            }
        )
        st.dataframe(
            outbox,
            hide_index=True, placeholder="—",
            width="stretch",
            column_config={"id": st.column_config.NumberColumn(format="%d", width="small"), "created (UTC)": DT, "next attempt (UTC)": DT, "sent (UTC)": DT},
        )
        st.caption(
            "Failed messages stay queued and are retried with growing pauses (at most an hour). A message the target "
            "took but never answered is 'unconfirmed': it may have arrived, so it is retried only when you say so "
            "(receivers drop a repeat by its `ref:` line)."
        )
        ui.download(outbox, label="Download deliveries (CSV)", file_name="alert-deliveries.csv", key="dl_outbox", title="Alert deliveries")
        queued = {d.id: f"{d.id} · {d.alert_name} → {d.target} ({d.attempts} attempts)" for d in deliveries if d.status in ("queued", "unconfirmed")}
        if queued:
            pick = st.selectbox("Queued message", list(queued), format_func=queued.get, index=None, key="outbox_pick", placeholder="Choose a queued message")
            c1, c2 = st.columns(2)
            if c1.button("Retry now", key="outbox_retry", disabled=pick is None, width="stretch"):
                alerts_api.retry_now(db, pick)
                st.toast("It will be sent on the next delivery round.")
            if c2.button("Cancel it", key="outbox_cancel", disabled=pick is None, width="stretch"):
                alerts_api.cancel_delivery(db, pick)
                st.rerun()
            if st.button("Send due messages now", key="outbox_send", icon=":material/send:"):
                with st.spinner("Sending…"):
                    report = alerts_api.deliver_due(db)
                st.success(f"Delivery round finished: {report.sent} sent, {report.failed} failed (kept queued), {report.waiting} still waiting.")
