"""The dashboard's shared pieces, one module each; pages use them as `ui.<name>`.

- session: the database (once per process) and the background work (default feeds, poller)
- access: who is using it (the sign-in gate, the analyst's name)
- text: safe display of text from strangers' feeds (links, Markdown, error lines)
- reads: cached reads of the store shared by the pieces below
- filters: the filter sidebar, kept in the page URL
- saved_views: the saved-views panel under the filters
- downloads: CSV of exactly what a page shows
- status: the feed-trouble banner, the empty state and the sidebar footer

UI only: every number and row comes from a function in `monitor/`.
"""

from views.components.access import analyst, auth_enabled, require_access
from views.components.downloads import (
    articles_download,
    articles_page_download,
    download,
    summary_download,
)
from views.components.filters import (
    STANCES,
    FilterState,
    filter_sidebar,
    stop_on_filter_error,
    thaw,
    with_default_window,
)
from views.components.reads import (
    source_options,
    store_changed,
    store_status,
    target_options,
    topic_options,
)
from views.components.saved_views import view_default
from views.components.session import (
    QUERY_TTL_S,
    Background,
    background,
    database,
    open_database,
)
from views.components.status import feed_trouble_banner, no_articles_yet, sidebar_footer
from views.components.text import md, safe_link, show_error

__all__ = [
    "QUERY_TTL_S",
    "STANCES",
    "Background",
    "FilterState",
    "analyst",
    "articles_download",
    "articles_page_download",
    "auth_enabled",
    "background",
    "database",
    "download",
    "feed_trouble_banner",
    "filter_sidebar",
    "md",
    "no_articles_yet",
    "open_database",
    "require_access",
    "safe_link",
    "show_error",
    "sidebar_footer",
    "source_options",
    "stop_on_filter_error",
    "store_changed",
    "store_status",
    "summary_download",
    "target_options",
    "thaw",
    "topic_options",
    "view_default",
    "with_default_window",
]
