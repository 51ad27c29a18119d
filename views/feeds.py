"""Feeds: add, remove, import and export feeds; see their health; poll now."""

import streamlit as st

from views import _common as ui

db = ui.database()
st.title("Feeds")

if ui.api("monitor.feeds", "list_feeds") is None:
    ui.missing_part("Feed management", "monitor.feeds")
    st.stop()
