"""The analysts' dashboard: `streamlit run dashboard.py`.

UI only. Each page is a file in views/ (so AppTest.switch_page can reach it); the numbers come from
monitor/. On first start an empty store gets the default feeds and, unless MONITOR_POLL_IN_DASHBOARD=0, one
background poller starts for the whole process.
"""

from pathlib import Path

import streamlit as st

from views import components as ui

# The tab icon is a file shipped here: a :material/…: icon would make every page load fetch it
# from a third-party font server (which then learns when analysts work; offline it is broken).
st.set_page_config(page_title="Policing press monitor", page_icon=str(Path(__file__).with_name("assets") / "page_icon.png"), layout="wide")

ui.require_access()
db = ui.database()
state = ui.background(db)

pages = st.navigation(
    [
        st.Page("views/coverage.py", title="Coverage", icon=":material/monitoring:", default=True),
        st.Page("views/articles.py", title="Articles", icon=":material/article:"),
        st.Page("views/alerts.py", title="Alerts", icon=":material/notifications:"),
        st.Page("views/feeds.py", title="Feeds", icon=":material/rss_feed:"),
        st.Page("views/review.py", title="Review", icon=":material/rule:"),
        st.Page("views/models.py", title="Models", icon=":material/model_training:"),
    ]
)
ui.sidebar_footer(db, state)
ui.feed_trouble_banner(db)
pages.run()
