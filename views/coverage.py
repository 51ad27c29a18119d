"""Coverage: how much the press writes about each topic, over time, from SQL aggregates only."""

import streamlit as st

from views import _common as ui

db = ui.database()
st.title("Coverage")
filters = ui.filter_sidebar(db)

if ui.store_status(db).articles == 0:
    ui.no_articles_yet(db)
    st.stop()

coverage_counts = ui.api("monitor.coverage", "coverage_counts")
if coverage_counts is None:
    ui.missing_part("The coverage charts", "monitor.coverage")
    st.stop()
