"""Alerts: keyword and spike alerts, their inbox and their deliveries."""

import streamlit as st

from views import _common as ui

db = ui.database()
st.title("Alerts")

if ui.api("monitor.alerts", "list_alerts") is None:
    ui.missing_part("Alerts", "monitor.alerts")
    st.stop()
