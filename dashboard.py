"""The analysts' dashboard: `streamlit run dashboard.py`.

UI only. Each page is a file in views/ (so AppTest.switch_page can reach it); the numbers come from
monitor/. On first start the default feeds are seeded and, unless MONITOR_POLL_IN_DASHBOARD=0, one
background poller starts for the whole process.
"""

import streamlit as st

from views import _common as ui

st.set_page_config(page_title="Policing press monitor", page_icon=":material/newspaper:", layout="wide")

ui.require_access()
db = ui.database()
state = ui.background(db)

pages = st.navigation(
    [
        st.Page("views/coverage.py", title="Coverage", icon=":material/monitoring:", default=True),
        st.Page("views/articles.py", title="Articles", icon=":material/article:"),
        st.Page("views/alerts.py", title="Alerts", icon=":material/notifications:"),
        st.Page("views/feeds.py", title="Feeds", icon=":material/rss_feed:"),
        st.Page("views/models.py", title="Models", icon=":material/model_training:"),
    ]
)
ui.sidebar_footer(db, state)
ui.feed_trouble_banner(db)
pages.run()
