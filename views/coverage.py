"""Coverage: how much the press writes about each topic, over time, from SQL aggregates only."""

import dataclasses

import altair as alt
import pandas as pd
import streamlit as st

from monitor.config import Settings
from monitor.coverage import coverage_counts, feed_failure_days, top_sources
from monitor.errors import MonitorError
from views import components as ui

db = ui.database()
st.title("Coverage")
state = ui.filter_sidebar(db)

if ui.store_status(db).articles == 0:
    ui.no_articles_yet(db)
    st.stop()
ui.stop_on_filter_error(state)

state, window_note = ui.with_default_window(db, state)

PERIODS = {"day": "Day", "week": "Week", "month": "Month"}
MEASURES = {"share": "Share of all articles", "count": "Article count"}


def _frame(rows) -> pd.DataFrame:
    """CountRow dataclasses -> a DataFrame with the same columns, in the same order."""
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame([dataclasses.asdict(r) if dataclasses.is_dataclass(r) else dict(r) for r in rows])


@st.cache_data(ttl=ui.QUERY_TTL_S, show_spinner=False)
def _rows(url: str, key: tuple, by: str, group: tuple[str, ...]) -> list:
    return coverage_counts(ui.open_database(url), ui.thaw(key), by=by, group=group)


def _table(rows: list, group: tuple[str, ...]) -> pd.DataFrame:
    """CountRows as a table with exactly `export summary`'s columns for this grouping."""
    from monitor.coverage import columns

    return pd.DataFrame([dataclasses.asdict(r) for r in rows], columns=columns(group))


@st.cache_data(ttl=ui.QUERY_TTL_S, show_spinner=False)
def _failing(url: str, key: tuple) -> pd.DataFrame:
    """Days when many feeds failed (drawn as dashed rules whatever the period)."""
    days = feed_failure_days(ui.open_database(url), ui.thaw(key))
    return pd.DataFrame(
        {
            "day": [f.day for f in days],
            "failing feeds": [f.failing for f in days],
            "polled feeds": [f.polled for f in days],
            "note": [f"{f.failing} of {f.polled} feeds failed: a dip may be missing articles, not news" for f in days],
        }
    )


@st.cache_data(ttl=ui.QUERY_TTL_S, show_spinner=False)
def _spikes(url: str, key: tuple) -> pd.DataFrame:
    from monitor.coverage import coverage_counts as counts
    from monitor.coverage_marks import spike_marks

    db = ui.open_database(url)
    return _frame(spike_marks(db, counts(db, ui.thaw(key), by="day", group=("topic",))))


@st.cache_data(ttl=ui.QUERY_TTL_S, show_spinner=False)
def _top(url: str, key: tuple, what: str) -> tuple[pd.DataFrame, bool]:
    db = ui.open_database(url)
    if what == "source":
        result = top_sources(db, ui.thaw(key), limit=15)
        return pd.DataFrame(result.items, columns=["source", "articles"]), result.cut
    from monitor.terms import top_terms

    result = top_terms(db, ui.thaw(key), limit=20)
    return pd.DataFrame([(t.term, t.articles) for t in result.terms], columns=["term", "articles"]), result.sampled


@st.cache_data(ttl=ui.QUERY_TTL_S, show_spinner=False)
def _mentions(url: str, key: tuple):
    from monitor.mentions import target_mentions

    return target_mentions(ui.open_database(url), ui.thaw(key))


def _articles(n: int) -> str:
    return f"{n:,} article" + ("" if n == 1 else "s")


def _mention_note(target: str, mentions, shown: int, *, narrowed: bool) -> str:
    """Why the stance chart holds what it holds: how many articles name the target at all."""
    where = "in this window" + (" and these filters" if narrowed else "")
    sample = f" (counted in the newest {mentions.read:,} of {mentions.matching:,} articles)" if mentions.sampled else ""
    m = mentions.of(target)
    if m is None:  # a target no longer in the taxonomy: its old tags are all there is
        return f"Stance toward {target} is shown from {_articles(shown)}; it is no longer a stance target, so new articles get none."
    of = f"the {mentions.matching:,} articles {where}" if mentions.matching != 1 else f"the one article {where}"
    if m.mentions == 0:
        note = f"None of {of} mentions {target}{sample}, so there is no stance to show."
    else:
        verb = "mentions" if m.mentions == 1 else "mention"
        note = f"{m.mentions:,} of {of} {verb} {target}{sample}; stance is shown from {_articles(shown)}."
    if m.without_stance:
        note += (
            f" {_articles(m.without_stance)} naming it {'has' if m.without_stance == 1 else 'have'} no stance tag yet "
            "(tagged before its aliases were added, or not tagged yet): re-tag the archive on the Models page."
        )
    if m.stale:
        note += (
            f" {_articles(m.stale)} with a stance toward it no longer {'names' if m.stale == 1 else 'name'} it "
            "(tagged with an alias since removed): re-tag the archive on the Models page."
        )
    return note


c1, c2 = st.columns([1, 2])
by = c1.segmented_control("Per", list(PERIODS), format_func=PERIODS.get, default=ui.view_default("by", "day"), key="by", bind="query-params", required=True) or "day"
measure = c2.segmented_control("Show", list(MEASURES), format_func=MEASURES.get, default=ui.view_default("measure", "share"), key="measure", bind="query-params", required=True) or "share"
if window_note:
    st.caption(window_note)
y_title = MEASURES[measure]
y_format = ".1%" if measure == "share" else ",d"
# A share of a handful of articles is noise that reads as news ("50 %" of a two-article day).
MIN_TOTAL = Settings.from_env().min_share_denominator


def _thin(frame: pd.DataFrame) -> pd.Series:
    """Rows whose period has too few articles in all for a share to mean anything."""
    return frame["total"] < MIN_TOTAL


def _volume(frame: pd.DataFrame, x: alt.X) -> alt.Chart:
    """All articles per period: the denominator under the shares, so a thin day is seen as thin."""
    totals = frame.groupby("period", as_index=False)["total"].max()
    totals["drawn"] = totals["total"].map(lambda t: "share drawn" if t >= MIN_TOTAL else f"too few for a share (< {MIN_TOTAL})")
    return (
        alt.Chart(totals)
        .mark_bar(opacity=0.8)
        .encode(
            x=x,
            y=alt.Y("total:Q", title="All articles", axis=alt.Axis(format=",d", tickCount=3, minExtent=56)),
            color=alt.Color("drawn:N", title=None, scale=alt.Scale(domain=["share drawn", f"too few for a share (< {MIN_TOTAL})"], range=["#9aa5b1", "#e0b050"]), legend=alt.Legend(orient="top", direction="horizontal")),
            tooltip=[alt.Tooltip("period:T", title=PERIODS[by]), alt.Tooltip("total:Q", title="all articles", format=",d"), alt.Tooltip("drawn:N", title="share")],
        )
        .properties(height=150)  # autosize "fit" takes the axis and legend out of this
    )


try:
    topic_rows = _rows(db.url, state.key(), by, ("topic",))
    topics = _table(topic_rows, ("topic",))
except MonitorError as e:
    ui.show_error(e)
    st.stop()


def _stance_chart(frame: pd.DataFrame, target: str) -> None:
    st.altair_chart(
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("period:T", title=None),
            y=alt.Y(f"{measure}:Q", title=y_title, axis=alt.Axis(format=y_format), stack=True),
            color=alt.Color("stance:N", title=f"Stance toward {target}", scale=alt.Scale(domain=list(ui.STANCES), range=["#2e8b57", "#c0392b", "#9aa5b1"]), legend=alt.Legend(orient="bottom")),
            tooltip=[alt.Tooltip("period:T", title=PERIODS[by]), "stance:N", alt.Tooltip("count:Q", format=",d"), alt.Tooltip("total:Q", title="all articles", format=",d"), alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(height=260),
        width="stretch",
    )


# --- topics over time --------------------------------------------------------------------------

st.subheader("Topics over time")
if topics.empty:
    st.info("No tagged articles in this range. Articles are tagged right after they are stored; check the Models page if this persists.")
else:
    # The lines and the volume bars below get one x domain, so each bar sits under its period
    # (a vconcat chart cannot stretch to the page width, so they are two charts).
    first, last = pd.Timestamp(topics["period"].min()), pd.Timestamp(topics["period"].max())
    domain = [alt.DateTime(year=d.year, month=d.month, date=d.day, utc=True) for d in (first, last)]
    x = alt.X("period:T", title=None, scale=alt.Scale(domain=domain))
    drawn = topics[~_thin(topics)] if measure == "share" else topics
    thin_periods = topics.loc[_thin(topics), "period"].nunique() if measure == "share" else 0
    # Straight segments with a point per period: a smoothed curve invents hills between sparse days.
    lines = (
        alt.Chart(drawn)
        .mark_line(point=True, strokeWidth=1.5)
        .encode(
            x=x,
            y=alt.Y(f"{measure}:Q", title=y_title, axis=alt.Axis(format=y_format, minExtent=56)),
            color=alt.Color("topic:N", title="Topic", legend=alt.Legend(orient="bottom", columns=5)),
            tooltip=[alt.Tooltip("period:T", title=PERIODS[by]), "topic:N", alt.Tooltip("count:Q", format=",d"), alt.Tooltip("total:Q", title="all articles", format=",d"), alt.Tooltip("share:Q", format=".1%")],
        )
    )
    layers = [lines]
    failing = _failing(db.url, state.key())
    if not failing.empty:
        layers.insert(
            0,
            alt.Chart(failing)
            .mark_rule(color="#9aa5b1", strokeDash=[4, 3], size=2)
            .encode(x=alt.X("day:T"), tooltip=[alt.Tooltip("day:T", title="Day"), alt.Tooltip("note:N", title="Feeds")]),
        )
    spikes = _spikes(db.url, state.key()) if by == "day" else pd.DataFrame()
    if not spikes.empty:
        layers.append(
            alt.Chart(spikes)
            .mark_point(shape="triangle-up", size=150, filled=True, opacity=1)
            .encode(
                x=alt.X("period:T"),
                y=alt.Y(f"{measure}:Q"),
                color=alt.Color("topic:N"),
                tooltip=[alt.Tooltip("period:T", title="Day"), "topic:N", alt.Tooltip("count:Q", format=",d"), alt.Tooltip("share:Q", format=".1%"), alt.Tooltip("threshold:Q", format=".1%"), alt.Tooltip("detail:N")],
            )
        )
    if measure == "share" and drawn.empty:
        st.info(f"Every {by} in this range has fewer than {MIN_TOTAL} articles in all, too few for a share: choose a longer period (Per week or month) or “Article count”.", icon=":material/info:")
    else:
        st.altair_chart(alt.layer(*layers).properties(height=320), width="stretch")
    st.altair_chart(_volume(topics, x), width="stretch")
    notes = []
    if thin_periods and not drawn.empty:
        notes.append(
            f"shares are left out for {thin_periods} {by}{'s' if thin_periods != 1 else ''} with fewer than {MIN_TOTAL} articles in all "
            "(MONITOR_MIN_SHARE_DENOMINATOR); the bars below show every period's article count"
        )
    if not spikes.empty:
        notes.append("▲ a spike: the topic's share far above its 14-day baseline (hover for the figures)")
    if not failing.empty:
        notes.append("dashed lines: days when many feeds failed, so a dip may be missing articles rather than news")
    if notes:
        st.caption(" · ".join(notes))
    ui.summary_download(topic_rows, by=by, group=("topic",), filters=state, label="Download topic counts (CSV)", file_name=f"coverage-topics-by-{by}.csv", key="dl_topics", title=f"Topic coverage per {by}")
    if not failing.empty:
        with st.expander("Days with many failing feeds"):
            st.dataframe(failing, hide_index=True, placeholder="—", width="stretch")
            ui.download(failing, label="Download (CSV)", file_name="feed-failure-days.csv", key="dl_failing", title="Days with many failing feeds", filters=state)
    if not spikes.empty:
        with st.expander("Spikes"):
            st.dataframe(spikes, hide_index=True, placeholder="—", width="stretch")
            ui.download(spikes, label="Download (CSV)", file_name="spikes.csv", key="dl_spikes", title="Topic spikes", filters=state)

# --- stance over time ------------------------------------------------------------------------

st.subheader("Stance over time")
stance_rows = _rows(db.url, state.key(), by, ("stance",))
stance = _table(stance_rows, ("stance",))
mentions = _mentions(db.url, state.key())
known = [t.target for t in mentions.targets]
targets = known + sorted(set(stance["target"].dropna()) - set(known)) if not stance.empty else known
if not targets:
    st.info("No stance targets. Add one (e.g. Europol) on the Models page: articles that mention it get a stance.")
else:
    target = state.filters.target if state.filters.target in targets else None
    if target is None:
        target = st.selectbox("Toward", targets, key="coverage_target") if len(targets) > 1 else targets[0]
    shown = stance[stance["target"] == target] if not stance.empty else stance
    shown_n = int(shown["count"].sum()) if not shown.empty else 0
    explained = _mention_note(target, mentions, shown_n, narrowed=bool(state.filters.query or state.filters.topics or state.filters.sources))
    if measure == "share" and not shown.empty:
        thin_stance = shown.loc[_thin(shown), "period"].nunique()
        shown = shown[~_thin(shown)]
    else:
        thin_stance = 0
    if shown_n == 0:
        st.info(explained, icon=":material/info:")
    elif shown.empty:
        st.info(f"Every {by} in this range has fewer than {MIN_TOTAL} articles in all, too few for a stance share: choose a longer period or “Article count”.", icon=":material/info:")
        st.caption(explained)
    else:
        _stance_chart(shown, target)
        st.caption(explained)
    if thin_stance and not shown.empty:
        st.caption(f"No stance share is drawn for {thin_stance} {by}{'s' if thin_stance != 1 else ''} with fewer than {MIN_TOTAL} articles in all; choose “Article count” to see them.")
    if shown_n:
        ui.summary_download([r for r in stance_rows if r.target == target], by=by, group=("stance",), filters=state, label="Download stance counts (CSV)", file_name=f"coverage-stance-{target}-by-{by}.csv", key="dl_stance", title=f"Stance toward {target} per {by}")

# --- who writes, and about what ----------------------------------------------------------------

left, right = st.columns(2)
with left:
    st.subheader("Top sources")
    top, cut = _top(db.url, state.key(), "source")
    if top.empty:
        st.caption("No articles in this range.")
    else:
        st.altair_chart(
            alt.Chart(top)
            .mark_bar(color="#1f4e79")
            .encode(x=alt.X("articles:Q", title="Articles"), y=alt.Y("source:N", sort="-x", title=None, axis=alt.Axis(labelLimit=220, labelOverlap=False)), tooltip=["source:N", alt.Tooltip("articles:Q", format=",d")])
            .properties(height=alt.Step(24)),
            width="stretch",
        )
        if cut:
            st.caption(f"The {len(top)} sources with the most matching articles.")
        ui.download(top, label="Download top sources (CSV)", file_name="top-sources.csv", key="dl_sources", title="Top sources", filters=state)
with right:
    st.subheader("Top terms")
    terms, sampled = _top(db.url, state.key(), "term")
    if terms.empty:
        st.caption("No words to count in this range.")
    else:
        st.altair_chart(
            alt.Chart(terms)
            .mark_bar(color="#5b7fa6")
            .encode(x=alt.X("articles:Q", title="Articles using it"), y=alt.Y("term:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False)), tooltip=["term:N", "articles:Q"])
            .properties(height=alt.Step(20)),
            width="stretch",
        )
        st.caption(f"Counted in the titles and summaries of the newest {sampled:,} matching articles.")
        ui.download(terms, label="Download top terms (CSV)", file_name="top-terms.csv", key="dl_terms", title=f"Top terms in the newest {sampled} matching articles", filters=state)
