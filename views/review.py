"""Review: for one topic, the articles the model is least sure about, each labelled in one click."""

import streamlit as st

from monitor import classify
from monitor.errors import MonitorError
from views import components as ui

db = ui.database()
st.title("Review")
st.caption(
    "The articles whose score for a topic sits nearest the topic's threshold: the model could go either way, so your "
    "answer teaches it most. Each click is saved as a label (as \"Correct a tag\" on the Articles page does) and is "
    "used from the next training on (Models page)."
)

notice = st.session_state.pop("review_notice", None)
if notice:
    st.success(notice, icon=":material/check:")

topics = ui.topic_options(db)
if not topics:
    st.info("No topics yet: the taxonomy is empty.", icon=":material/category:")
    st.stop()
c1, c2 = st.columns([2, 1])
topic = c1.selectbox("Topic", topics, key="review_topic", bind="query-params")
limit = c2.segmented_control("Articles", [10, 25, 50], default=10, key="review_limit", required=True) or 10

try:
    with st.spinner("Scoring the newest articles with the current model…"):
        queue = classify.review_queue(db, topic, int(limit))
except MonitorError as e:
    ui.show_error(e)
    st.stop()

if queue.model_version is None:
    st.info("No topic model yet. One is trained when the first articles are tagged, or on the Models page.", icon=":material/hourglass_empty:")
    st.stop()
if not queue.items:
    st.info(
        f"Nothing left to review for {topic}: every recent article is labelled for it."
        if queue.labelled else "No articles stored yet.",
        icon=":material/done_all:",
    )
    st.stop()

threshold = queue.items[0].threshold
st.caption(
    f"{len(queue.items)} of the {queue.scored:,} newest unlabelled articles, nearest the threshold {threshold:.2f} "
    f"of model {queue.model_version} · {queue.labelled:,} already labelled for {topic}"
)


def _save(item, about: bool) -> None:
    try:
        classify.add_label(db, item.article_id, "topic", topic, 1 if about else 0, target="", analyst=ui.analyst())
    except MonitorError as e:
        ui.show_error(e)
        return
    st.session_state["review_notice"] = (
        f"Saved: article {item.article_id} is {'about' if about else 'not about'} {topic}. The next training learns from it."
    )
    st.cache_data.clear()  # label counts on the Models page
    st.rerun()


for item in queue.items:
    with st.container(border=True):
        text_col, act_col = st.columns([5, 1], vertical_alignment="center")
        with text_col:
            st.text(item.title)  # plain text: a hostile title stays literal
            verdict = "tagged now" if item.tagged else "not tagged now"
            st.caption(
                f"{item.source} · {item.published_at:%Y-%m-%d} · score {item.score:.2f} (threshold {item.threshold:.2f}, {verdict}) · article {item.article_id}"
            )
            if item.summary:
                st.text(item.summary[:300] + ("…" if len(item.summary) > 300 else ""))
            link = ui.safe_link(item.link)
            if link:
                st.link_button("Open", link, icon=":material/open_in_new:")
        if act_col.button("About it", key=f"review_yes_{item.article_id}", icon=":material/thumb_up:", width="stretch"):
            _save(item, True)
        if act_col.button("Not about it", key=f"review_no_{item.article_id}", icon=":material/thumb_down:", width="stretch"):
            _save(item, False)
