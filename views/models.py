"""Models: how well the topic and stance classifiers do, the labels they learn from, retraining."""

import streamlit as st

from views import _common as ui

db = ui.database()
st.title("Models")

if ui.api("monitor.classify", "model_status") is None:
    ui.missing_part("Model management", "monitor.classify (model_status)")
    st.stop()
