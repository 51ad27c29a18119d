"""Articles: search with the query language, read tags and their reasons, correct a tag."""

import math

import pandas as pd
import streamlit as st

from monitor.classify import add_label, explain
from monitor.errors import MonitorError
from views import components as ui

PAGE_SIZE = 50

db = ui.database()
st.title("Articles")
state = ui.filter_sidebar(db)

if ui.store_status(db).articles == 0:
    ui.no_articles_yet(db)
    st.stop()
ui.stop_on_filter_error(state)


@st.cache_data(ttl=ui.QUERY_TTL_S, show_spinner=False)
def _count(url: str, key: tuple) -> int:
    from monitor.browse import count_articles

    return count_articles(ui.open_database(url), ui.thaw(key))


@st.cache_data(ttl=ui.QUERY_TTL_S, show_spinner=False)
def _page(url: str, key: tuple, page: int):
    from monitor.browse import article_page

    return article_page(ui.open_database(url), ui.thaw(key), offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)


def _topics_cell(row) -> str:
    return ", ".join(f"{t.label} {t.score:.2f}" for t in row.topics)


def _stance_cell(row) -> str:
    return ", ".join(f"{t.target}: {t.label} {t.score:.2f}" for t in row.stances)


total = _count(db.url, state.key())
if total == 0:
    st.info("No article matches these filters. Widen the dates, remove a topic or simplify the search.", icon=":material/search_off:")
    st.stop()

pages = max(1, math.ceil(total / PAGE_SIZE))
st.caption(f"{total:,} articles match: {state.describe()}. Newest first, {PAGE_SIZE} a page.")
page = st.pagination(pages, key="page", bind="query-params") if pages > 1 else 1
rows = _page(db.url, state.key(), int(page or 1))

# Feed text is shown as data-grid cells (plain text, never markdown or HTML); links only http(s).
table = pd.DataFrame(
    {
        "id": [r.id for r in rows],
        "published": [r.published_at for r in rows],
        "estimated": [r.date_estimated for r in rows],
        "source": [r.source for r in rows],
        "title": [r.title for r in rows],
        "topics": [_topics_cell(r) for r in rows],
        "stance": [_stance_cell(r) for r in rows],
        "link": [ui.safe_link(r.link) for r in rows],
    }
)
picked = st.dataframe(
    table,
    hide_index=True, placeholder="—",
    width="stretch",
    key="articles_table",
    on_select="rerun",
    selection_mode="single-row",
    # Every column wide enough for its content (on a narrow window the grid scrolls sideways,
    # with the id pinned), so no tag, stance or id is cut to "interpol 0.9…".
    column_config={
        "id": st.column_config.NumberColumn(format="%d", width=72, pinned=True),
        "published": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm", help="UTC", width=124),
        "estimated": st.column_config.CheckboxColumn(
            "date est.", width=64, help="The item gave no readable date: the feed's own date, else the time it was fetched"
        ),
        "source": st.column_config.TextColumn(width=150),
        "title": st.column_config.TextColumn(width=340),
        "topics": st.column_config.TextColumn(width=230),
        "stance": st.column_config.TextColumn(width=210),
        "link": st.column_config.LinkColumn(display_text="open", width=48),
    },
)
d1, d2 = st.columns(2)
with d1:
    ui.articles_page_download(db, state, int(page or 1), PAGE_SIZE, key="dl_articles_page")
with d2:
    ui.articles_download(db, state, total, key="dl_articles_all")

# --- one article: its tags, why, and a correction ------------------------------------------------

st.subheader("Article details")
selected = picked.selection.rows if picked else []
if not selected or selected[0] >= len(rows):
    st.caption("Click a row of the table to see the article's tags, why it got them, and to correct one.")
    st.stop()
chosen = rows[selected[0]].id

from monitor.browse import article_detail  # noqa: E402

detail = article_detail(db, int(chosen))
if detail is None:
    st.warning("That article is no longer stored.")
    st.stop()

with st.container(border=True):
    st.text(detail.row.title)  # plain text: a title with <img onerror> or [x](javascript:) stays literal
    estimate = " (estimated: the item gave no readable date)" if detail.row.date_estimated else ""
    st.caption(f"{ui.md(detail.row.source)} · published {detail.row.published_at:%Y-%m-%d %H:%M} UTC{estimate} · article {detail.row.id}")
    if detail.summary:
        st.text(detail.summary[:2000] + ("…" if len(detail.summary) > 2000 else ""))
    link = ui.safe_link(detail.row.link)
    if link:
        st.link_button("Open the article", link, icon=":material/open_in_new:")
    else:
        st.caption("No web link (the feed gave none, or not an http(s) one).")

if detail.row.tag_status == "failed":
    st.warning(f"This article could not be tagged: {detail.tag_error or 'no reason recorded'}. It is tagged again with the next model.")
elif detail.row.tag_status == "pending":
    st.info("Not tagged yet: tagging runs after each ingest and after training.")

tag_table = pd.DataFrame(
    [{"kind": t.kind, "target": t.target, "label": t.label, "score": round(t.score, 3), "model": t.model_version} for t in detail.row.tags],
    columns=["kind", "target", "label", "score", "model"],
)
if tag_table.empty:
    st.caption("No tags above the models' thresholds.")
else:
    st.dataframe(tag_table, hide_index=True, placeholder="—", width="content")
    ui.download(tag_table, label="Download tags (CSV)", file_name=f"article-{detail.row.id}-tags.csv", key="dl_tags", title=f"Tags of article {detail.row.id}")
    pick = {i: f"{t.kind}: {t.target + ' ' if t.target else ''}{t.label}" for i, t in enumerate(detail.row.tags)}
    which = st.selectbox("Why this tag?", list(pick), format_func=pick.get, key="explain_tag")
    tag = detail.row.tags[which]
    try:
        terms = explain(db, detail.row.id, tag.kind, tag.label, target=tag.target)
    except MonitorError as e:
        ui.show_error(e)
        terms = []
    if terms:
        why = pd.DataFrame([(str(term), float(weight)) for term, weight in terms], columns=["term", "weight"])
        import altair as alt

        st.altair_chart(
            alt.Chart(why)
            .mark_bar()
            .encode(
                x=alt.X("weight:Q", title="weight toward the tag"),
                y=alt.Y("term:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False)),
                color=alt.condition("datum.weight > 0", alt.value("#1f4e79"), alt.value("#c0392b")),
                tooltip=["term:N", alt.Tooltip("weight:Q", format=".3f")],
            )
            .properties(height=alt.Step(20)),
            width="stretch",
        )
        st.caption("Blue terms pushed the score up, red ones down; a term starting with ~ is a word beginning that covers its inflected forms.")
        ui.download(why, label="Download explanation (CSV)", file_name=f"article-{detail.row.id}-why.csv", key="dl_why", title=f"Explanation of {pick[which]} for article {detail.row.id}")
    else:
        st.caption("No terms of this article weigh on that tag.")

st.subheader("Correct a tag")

# Keys carry the article id: a new article gets fresh, empty forms, never the last one's choice.
aid = detail.row.id
topic_col, stance_col = st.columns(2)
with topic_col.form(f"label_topic_{aid}", border=True):
    st.caption("Topic")
    topic = st.selectbox("Topic", ui.topic_options(db), index=None, key=f"label_topic_name_{aid}", placeholder="Choose a topic")
    belongs = st.radio("This article", ["is about it", "is not about it"], index=None, horizontal=True, key=f"label_topic_value_{aid}")
    if st.form_submit_button("Save topic label", type="primary"):
        if topic is None or belongs is None:
            st.warning("Choose a topic and whether the article is about it, then save.")
        else:
            try:
                add_label(db, aid, "topic", topic, 1 if belongs == "is about it" else 0, target="", analyst=ui.analyst())
                st.success(f"Saved: {'about' if belongs == 'is about it' else 'not about'} {ui.md(topic)}. The next training learns from it (see Models).")
            except MonitorError as e:
                ui.show_error(e)
with stance_col.form(f"label_stance_{aid}", border=True):
    st.caption("Stance")
    target = st.selectbox("Toward", ui.target_options(db), index=None, key=f"label_stance_target_{aid}", placeholder="Choose a target")
    stance = st.radio("Stance", ui.STANCES, index=None, horizontal=True, key=f"label_stance_value_{aid}")
    if st.form_submit_button("Save stance label", type="primary"):
        if target is None or stance is None:
            st.warning("Choose a target and a stance, then save.")
        else:
            try:
                add_label(db, aid, "stance", stance, 1, target=target, analyst=ui.analyst())
                st.success(f"Saved: {stance} toward {ui.md(target)}. The next training learns from it (see Models).")
            except MonitorError as e:
                ui.show_error(e)

given_labels = article_detail(db, detail.row.id).labels  # read again: includes a label just saved
if given_labels:
    st.caption("Labels analysts gave this article")
    given = pd.DataFrame(
        [
            {
                "kind": lab.kind,
                "target": lab.target,
                "label": lab.label,
                "value": "yes" if lab.value else "no",
                "analyst": lab.analyst or "",
                "given (UTC)": lab.created_at,
                "used in": lab.used_in_version or "waiting for training",
            }
            for lab in given_labels
        ]
    )
    st.dataframe(given, hide_index=True, placeholder="—", width="stretch")
    ui.download(given, label="Download labels (CSV)", file_name=f"article-{detail.row.id}-labels.csv", key="dl_given", title=f"Labels of article {detail.row.id}")
