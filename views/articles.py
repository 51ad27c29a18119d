"""Articles: search with the query language, read tags and their reasons, correct a tag."""

import streamlit as st

from views import _common as ui

db = ui.database()
st.title("Articles")
filters = ui.filter_sidebar(db)

if ui.store_status(db).articles == 0:
    ui.no_articles_yet(db)
    st.stop()
