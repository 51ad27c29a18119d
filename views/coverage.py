"""Coverage: how much the press writes about each topic, over time, from SQL aggregates only."""

import dataclasses

import altair as alt
import pandas as pd
import streamlit as st

from monitor.errors import MonitorError
from views import _common as ui

db = ui.database()
st.title("Coverage")
state = ui.filter_sidebar(db)

if ui.store_status(db).articles == 0:
    ui.no_articles_yet(db)
    st.stop()
ui.stop_on_filter_error(state)

coverage_counts = ui.api("monitor.coverage", "coverage_counts")
if coverage_counts is None:
    ui.missing_part("The coverage charts", "monitor.coverage")
    st.stop()

PERIODS = {"day": "Day", "week": "Week", "month": "Month"}
MEASURES = {"share": "Share of all articles", "count": "Article count"}


def _frame(rows) -> pd.DataFrame:
    """CountRow dataclasses -> a DataFrame with the same columns, in the same order."""
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame([dataclasses.asdict(r) if dataclasses.is_dataclass(r) else dict(r) for r in rows])


@st.cache_data(ttl=ui.QUERY_TTL_S, show_spinner=False)
def _counts(url: str, key: tuple, by: str, group: tuple[str, ...]) -> pd.DataFrame:
    return _frame(coverage_counts(ui._database(url), ui.thaw(key), by=by, group=group))


@st.cache_data(ttl=ui.QUERY_TTL_S, show_spinner=False)
def _failing_days(url: str, key: tuple) -> pd.DataFrame:
    fn = ui.api("monitor.coverage", "feed_failure_days")
    if fn is None:
        return pd.DataFrame()
    return _frame(fn(ui._database(url), ui.thaw(key)))


@st.cache_data(ttl=ui.QUERY_TTL_S, show_spinner=False)
def _spikes(url: str, key: tuple, group: tuple[str, ...]) -> pd.DataFrame:
    fn = ui.api("monitor.coverage", "spike_days")
    if fn is None:
        return pd.DataFrame()
    return _frame(fn(ui._database(url), ui.thaw(key), group=group))


@st.cache_data(ttl=ui.QUERY_TTL_S, show_spinner=False)
def _top_terms(url: str, key: tuple) -> tuple[pd.DataFrame, int]:
    from monitor.terms import top_terms

    result = top_terms(ui._database(url), ui.thaw(key))
    return pd.DataFrame([dataclasses.asdict(t) for t in result.terms], columns=["term", "articles"]), result.sampled


c1, c2 = st.columns([1, 2])
by = c1.segmented_control("Per", list(PERIODS), format_func=PERIODS.get, default="day", key="by", bind="query-params", required=True) or "day"
measure = c2.segmented_control("Show", list(MEASURES), format_func=MEASURES.get, default="share", key="measure", bind="query-params", required=True) or "share"
y_title = MEASURES[measure]
y_format = ".1%" if measure == "share" else ",d"

try:
    topics = _counts(db.url, state.key(), by, ("topic",))
except MonitorError as e:
    ui.show_error(e)
    st.stop()

# --- topics over time --------------------------------------------------------------------------

st.subheader("Topics over time")
if topics.empty:
    st.info("No tagged articles in this range. Articles are tagged right after they are stored; check the Models page if this persists.")
else:
    x = alt.X("period:T", title=None)
    lines = (
        alt.Chart(topics)
        .mark_line(point=by != "day", interpolate="monotone")
        .encode(
            x=x,
            y=alt.Y(f"{measure}:Q", title=y_title, axis=alt.Axis(format=y_format)),
            color=alt.Color("topic:N", title="Topic", legend=alt.Legend(orient="bottom", columns=5)),
            tooltip=[alt.Tooltip("period:T", title=PERIODS[by]), "topic:N", alt.Tooltip("count:Q", format=",d"), alt.Tooltip("total:Q", title="all articles", format=",d"), alt.Tooltip("share:Q", format=".1%")],
        )
    )
    layers = [lines]
    failing = _failing_days(db.url, state.key())
    if not failing.empty:
        day_col = "day" if "day" in failing.columns else failing.columns[0]
        layers.append(
            alt.Chart(failing)
            .mark_rule(color="#b0b0b0", strokeDash=[4, 3], size=2)
            .encode(x=alt.X(f"{day_col}:T"), tooltip=[alt.Tooltip(f"{c}", title=c.replace("_", " ")) for c in failing.columns])
        )
    spikes = _spikes(db.url, state.key(), ("topic",)) if by == "day" else pd.DataFrame()
    if not spikes.empty:
        layers.append(
            alt.Chart(spikes)
            .mark_point(shape="triangle-up", size=140, filled=True, color="#c0392b")
            .encode(x=alt.X("period:T"), y=alt.Y(f"{measure}:Q"), tooltip=[alt.Tooltip(c) for c in spikes.columns])
        )
    st.altair_chart(alt.layer(*layers).properties(height=360), width="stretch")
    notes = []
    if not spikes.empty:
        notes.append("▲ a spike: far above the topic's recent baseline")
    if not failing.empty:
        notes.append("dashed lines: days when many feeds failed, so a dip may be missing articles rather than news")
    if notes:
        st.caption(" · ".join(notes))
    ui.download(topics, label="Download topic counts (CSV)", file_name=f"coverage-topics-by-{by}.csv", key="dl_topics", title=f"Topic coverage per {by}", filters=state)
    if not failing.empty:
        with st.expander("Days with many failing feeds"):
            st.dataframe(failing, hide_index=True, width="stretch")
            ui.download(failing, label="Download (CSV)", file_name="feed-failure-days.csv", key="dl_failing", title="Days with many failing feeds", filters=state)
    if not spikes.empty:
        with st.expander("Spikes"):
            st.dataframe(spikes, hide_index=True, width="stretch")
            ui.download(spikes, label="Download (CSV)", file_name="spikes.csv", key="dl_spikes", title="Topic spikes", filters=state)

# --- stance over time ------------------------------------------------------------------------

st.subheader("Stance over time")
stance = _counts(db.url, state.key(), by, ("target", "stance"))
if stance.empty:
    st.info("No stance tags in this range. Stance targets (e.g. Interpol) are tagged when an article mentions them.")
else:
    targets = sorted(stance["target"].dropna().unique())
    target = state.filters.target if state.filters.target in targets else None
    if target is None:
        target = st.selectbox("Toward", targets, key="coverage_target") if len(targets) > 1 else targets[0]
    shown = stance[stance["target"] == target]
    st.altair_chart(
        alt.Chart(shown)
        .mark_bar()
        .encode(
            x=alt.X("period:T", title=None),
            y=alt.Y(f"{measure}:Q", title=y_title, axis=alt.Axis(format=y_format), stack=True),
            color=alt.Color("stance:N", title=f"Stance toward {target}", scale=alt.Scale(domain=list(ui.STANCES), range=["#2e8b57", "#c0392b", "#9aa5b1"]), legend=alt.Legend(orient="bottom")),
            tooltip=[alt.Tooltip("period:T", title=PERIODS[by]), "stance:N", alt.Tooltip("count:Q", format=",d"), alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(height=260),
        width="stretch",
    )
    ui.download(shown, label="Download stance counts (CSV)", file_name=f"coverage-stance-{target}-by-{by}.csv", key="dl_stance", title=f"Stance toward {target} per {by}", filters=state)

# --- who writes, and about what ----------------------------------------------------------------

left, right = st.columns(2)
with left:
    st.subheader("Top sources")
    sources = _counts(db.url, state.key(), "month", ("source",))
    if sources.empty:
        st.caption("No articles in this range.")
    else:
        top = sources.groupby("source", as_index=False)["count"].sum().sort_values("count", ascending=False).head(15)
        st.altair_chart(
            alt.Chart(top)
            .mark_bar(color="#1f4e79")
            .encode(x=alt.X("count:Q", title="Articles"), y=alt.Y("source:N", sort="-x", title=None), tooltip=["source:N", alt.Tooltip("count:Q", format=",d")])
            .properties(height=max(120, 24 * len(top))),
            width="stretch",
        )
        ui.download(top, label="Download top sources (CSV)", file_name="top-sources.csv", key="dl_sources", title="Top sources", filters=state)
with right:
    st.subheader("Top terms")
    terms, sampled = _top_terms(db.url, state.key())
    if terms.empty:
        st.caption("No words to count in this range.")
    else:
        st.altair_chart(
            alt.Chart(terms)
            .mark_bar(color="#5b7fa6")
            .encode(x=alt.X("articles:Q", title="Articles using it"), y=alt.Y("term:N", sort="-x", title=None), tooltip=["term:N", "articles:Q"])
            .properties(height=max(120, 20 * len(terms))),
            width="stretch",
        )
        st.caption(f"In the newest {sampled:,} matching articles (titles and summaries).")
        ui.download(terms, label="Download top terms (CSV)", file_name="top-terms.csv", key="dl_terms", title=f"Top terms in the newest {sampled} matching articles", filters=state)
