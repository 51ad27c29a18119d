"""Shared UI pieces for the dashboard pages: database, access, filters, downloads, safe links.

UI only: every number and row comes from a function in `monitor/`.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import streamlit as st

from monitor.classify import load_taxonomy
from monitor.classify.kinds import STANCES
from monitor.config import Settings
from monitor.errors import MonitorError
from monitor.export import write_articles_csv, write_summary_csv, write_table_csv
from monitor.feeds import seed_default_feeds
from monitor.poller import start_background_poller
from monitor.query import HELP as SEARCH_HELP
from monitor.store import Database

QUERY_TTL_S = 30  # query results: fresh enough for a poller that adds articles every few minutes
OPTIONS_TTL_S = 300  # filter choices (sources, topics) change rarely

# Widget keys double as URL query parameter names (bind="query-params"), so a link carries them.
FILTER_KEYS = ("from", "to", "q", "topic", "source", "stance", "target")


# --- the database and the background work --------------------------------------------------


def database_url() -> str:
    # Read fresh (not the process-wide cached settings) so tests can point each app at its own file.
    return Settings.from_env().database_url


@st.cache_resource(show_spinner=False)
def _database(url: str) -> Database:
    db = Database(url)
    db.init()
    return db


def database() -> Database:
    """The app's Database, opened and migrated once per process; stops the page on a store error."""
    try:
        return _database(database_url())
    except MonitorError as e:
        st.error(f"The database cannot be opened: {md(e)}")
        st.caption("Check MONITOR_DATABASE_URL (or data/monitor.db) and restart `streamlit run dashboard.py`.")
        st.stop()
        raise  # unreachable: st.stop raises


def db_key(db: Database) -> str:
    """The hashable handle cached query functions take instead of the Database itself."""
    return db.url


@dataclass(frozen=True)
class Background:
    seeded_feeds: int
    poller_running: bool
    poller_note: str
    poller: Any = None  # monitor.poller.BackgroundPoller: rounds done, last summary


@st.cache_resource(show_spinner=False)
def _background(url: str) -> Background:
    """Seed default feeds and start the poller once per process, not once per page rerun."""
    settings = Settings.from_env()
    db = _database(url)
    seeded = 0
    if settings.seed_default_feeds:
        try:
            seeded = int(seed_default_feeds(db) or 0)
        except MonitorError:
            seeded = 0
    if not settings.poll_in_dashboard:
        return Background(seeded, False, "The background poller is off (MONITOR_POLL_IN_DASHBOARD=0); run `python -m monitor poll --forever`.")
    handle = start_background_poller(db, settings=settings)
    if handle is None:
        return Background(seeded, False, "The background poller is off; run `python -m monitor poll --forever`.")
    return Background(seeded, True, "The background poller is running in this dashboard's process.", handle)


def background(db: Database) -> Background:
    return _background(db.url)


# --- who is using it -----------------------------------------------------------------------


def _secrets() -> dict:
    """The secrets as this rerun finds them; raises ConfigError when a secrets file exists but
    cannot be used. Read from disk on every rerun (a tiny file), so an edit that breaks the file
    closes a running dashboard instead of leaving Streamlit's last good copy, or nothing, in
    charge. With no file, only secrets handed over in code count (AppTest's `at.secrets`)."""
    from streamlit import config as st_config
    from streamlit.runtime.secrets import secrets_singleton

    from monitor.access import read_secrets_files

    found = read_secrets_files(st_config.get_option("secrets.files"))
    if found is not None:
        return found
    if st.secrets is secrets_singleton:  # the server's own, file-backed secrets: no file, no secrets
        return {}
    return st.secrets.to_dict()


def _policy():
    """The access policy, or the ConfigError that closes the dashboard."""
    from monitor.access import policy_from_secrets

    return policy_from_secrets(_secrets())


def refuse_to_serve(e: MonitorError) -> None:
    """The page everyone gets while sign-in is misconfigured: what is wrong, nothing else."""
    import logging

    logging.getLogger("monitor.dashboard").error("refusing to serve: %s", e)
    st.title("Policing press monitor")
    st.error(f"The dashboard is closed: sign-in is misconfigured. {md(e)}", icon=":material/lock:")
    st.caption(
        "The administrator must fix `.streamlit/secrets.toml` (see `.streamlit/secrets.toml.example`), "
        "or remove it for single-analyst use on 127.0.0.1. The page opens again once the file is fixed."
    )
    st.stop()


def _refuse_foreign_host() -> None:
    """Local mode answers only to loopback names: a page that rebinds its own name to 127.0.0.1
    gets this notice over the WebSocket, never a page, a widget or a row of the archive."""
    import logging

    from monitor.access import is_local_host

    host = st.context.headers.get("Host")
    extra = Settings.from_env().dashboard_hosts.split(",")
    if is_local_host(host, extra):
        return
    logging.getLogger("monitor.dashboard").warning("refused a page for Host %r: not a loopback name (MONITOR_DASHBOARD_HOSTS)", host)
    st.title("Policing press monitor")
    st.error("This dashboard answers only at `http://localhost` or `http://127.0.0.1` on this computer.", icon=":material/block:")
    st.caption("It was reached under another name. If that name is yours, add it to MONITOR_DASHBOARD_HOSTS.")
    st.stop()


def require_access() -> str:
    """Gate the app behind st.login when [auth] is configured; returns the analyst's name."""
    from monitor.access import local_analyst

    try:
        policy = _policy()
    except MonitorError as e:
        refuse_to_serve(e)
        raise  # unreachable: st.stop raises
    if not policy.auth_required:
        _refuse_foreign_host()
        st.session_state["analyst"] = local_analyst()
        return st.session_state["analyst"]
    if not st.user.get("is_logged_in"):
        st.title("Policing press monitor")
        st.write("Sign in with your organisation's account to see the dashboard.")
        st.button("Sign in", type="primary", on_click=st.login)
        st.stop()
    decision = policy.decide(st.user.get("email"), st.user.get("email_verified"))
    if not decision.allowed:
        st.title("Policing press monitor")
        st.error(f"Access refused: {md(decision.reason)}.")
        st.caption("Ask the dashboard's administrator to add you to the allow-list.")
        st.button("Sign out", on_click=st.logout)
        st.stop()
    st.session_state["analyst"] = str(st.user.get("email")).lower()
    return st.session_state["analyst"]


def analyst() -> str:
    """The signed-in analyst (or the local user): the owner of labels, alerts and views."""
    name = st.session_state.get("analyst")
    if not name:
        from monitor.access import local_analyst

        name = local_analyst()
    return name


def auth_enabled() -> bool:
    try:
        return _policy().auth_required
    except MonitorError:
        return True  # misconfigured sign-in is never shown as local use


# --- safe display of text that came from strangers' feeds -------------------------------------


def safe_link(url: object) -> str | None:
    """The URL if it is a plain http(s) link, else None (javascript:, data:, file: never link)."""
    if not isinstance(url, str):
        return None
    candidate = url.strip()
    if any(ord(c) < 0x21 for c in candidate):  # control chars and spaces hide schemes (jav\tascript:)
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return candidate


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=^\"'])")
_WORD_JOINER = "\u2060"  # invisible and unbreakable: splits a markup token without changing what is read


def md(value: object) -> str:
    """Text from a feed, a URL or a user, made safe to put inside Markdown: shown as typed.

    Every element Streamlit renders as Markdown (st.caption, st.write, st.success, st.toast…)
    would otherwise load `![x](http://…)` as a remote image, make `[Re-login](http://…)` a live
    link and render `:red[…]`, `$…$` and `:material/…:`. Backslashes escape the Markdown
    characters; a word joiner breaks what escaping cannot: colon directives and icons, and the
    bare URLs, `www.` names and e-mail addresses that GitHub Markdown turns into links.
    """
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", str(value))
    text = re.sub(r":(?=[^\W\d_])", ":" + _WORD_JOINER, text)
    text = re.sub(r"(?<=[A-Za-z])\\:(?=//)", _WORD_JOINER + r"\\:", text)
    text = re.sub(r"(?i)(?<![\w])(www)(?=\\\.)", r"\1" + _WORD_JOINER, text)
    return text.replace("@", "@" + _WORD_JOINER).replace("\n", " ")


def show_error(e: Exception) -> None:
    """A MonitorError's one line; it may quote the query, a name or a URL, so it is escaped."""
    st.error(md(str(e) or type(e).__name__), icon=":material/error:")


# --- filters, kept in the URL --------------------------------------------------------------


@dataclass(frozen=True)
class FilterState:
    """What the sidebar holds: valid Filters, or the one-line reason they are not valid."""

    filters: Any  # monitor.filters.Filters, or None when `error` says why not
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None

    def params(self) -> dict[str, list[str]]:
        if self.filters is None:
            return {}
        return {k: ([v] if isinstance(v, str) else list(v)) for k, v in self.filters.to_params().items()}

    def key(self) -> tuple:
        """Hashable form for st.cache_data (see `thaw`)."""
        return tuple(sorted((k, tuple(v)) for k, v in self.params().items()))

    def describe(self) -> str:
        f = self.filters
        if f is None:
            return "invalid filters"
        bits = []
        if f.date_from or f.date_to:
            bits.append(f"{f.date_from or '…'} to {f.date_to or '…'}")
        if f.query:
            bits.append(f"query “{md(f.query)}”")
        if f.topics:
            bits.append("topics " + ", ".join(md(t) for t in f.topics))
        if f.sources:
            bits.append("sources " + ", ".join(md(s) for s in f.sources))
        if f.stance or f.target:
            bits.append(f"stance {f.stance or 'any'}" + (f" toward {md(f.target)}" if f.target else ""))
        return "; ".join(bits) or "all articles"


def with_default_window(db: Database, state: FilterState, days: int = 90) -> tuple[FilterState, str | None]:
    """Without a date filter, charts cover the `days` up to the newest article (a decade of
    daily points is neither readable nor quick); returns the state to use and a note saying so."""
    import dataclasses

    f = state.filters
    if f is None or f.date_from or f.date_to:
        return state, None
    status = store_status(db)
    # the window ends at the newest article with a real date: an estimated one (an undated item
    # stamped with its fetch time) would pull it to today and leave the line flat
    newest = status.newest_dated or status.newest
    if newest is None:
        return state, None
    start = newest.date() - dt.timedelta(days=days - 1)
    if status.oldest is not None and status.oldest.date() > start:  # a young archive: no empty lead-in
        start = status.oldest.date()
        note = f"Showing every stored article ({start:%Y-%m-%d} to {newest:%Y-%m-%d}); set From and To in the sidebar to narrow it."
    else:
        note = f"Showing the {days} days up to the newest dated article ({start:%Y-%m-%d} to {newest:%Y-%m-%d}); set From and To in the sidebar for another range."
    return FilterState(dataclasses.replace(f, date_from=start, date_to=newest.date()), None), note


def thaw(key: tuple):
    """FilterState.key() back to monitor.filters.Filters (inside cached functions)."""
    from monitor.filters import Filters

    return Filters.from_params({k: list(v) for k, v in key})


def stop_on_filter_error(state: FilterState) -> None:
    if not state.ok:
        st.error(md(state.error), icon=":material/search_off:")
        st.caption('Queries use words, "exact phrases", AND, OR, NOT and parentheses, e.g. `interpol AND ("red notice" OR extradition)`.')
        st.stop()


@st.cache_data(ttl=OPTIONS_TTL_S, show_spinner=False)
def _topic_options(url: str) -> list[str]:
    db = _database(url)
    try:
        return sorted(_names(load_taxonomy(db), "topics"))
    except MonitorError:
        pass
    from sqlalchemy import select

    from monitor.store.schema import tags

    with db.read() as conn:
        return sorted(r[0] for r in conn.execute(select(tags.c.label).where(tags.c.kind == "topic").distinct()))


@st.cache_data(ttl=OPTIONS_TTL_S, show_spinner=False)
def _target_options(url: str) -> list[str]:
    db = _database(url)
    try:
        return sorted(_names(load_taxonomy(db), "targets"))
    except MonitorError:
        pass
    from sqlalchemy import select

    from monitor.store.schema import tags

    with db.read() as conn:
        return sorted(r[0] for r in conn.execute(select(tags.c.target).where(tags.c.kind == "stance").distinct()) if r[0])


def _names(taxonomy: Any, attr: str) -> list[str]:
    """Names of a taxonomy's topics/targets, whatever container the classifier part uses."""
    items = getattr(taxonomy, attr, None) or []
    if isinstance(items, dict):
        return [str(k) for k in items]
    return [str(getattr(i, "name", i)) for i in items]


@st.cache_data(ttl=OPTIONS_TTL_S, show_spinner=False)
def _source_options(url: str) -> list[str]:
    from sqlalchemy import select

    from monitor.store.schema import articles

    db = _database(url)
    # DISTINCT over the (source, published_at) index: a skip scan, cheap even at a million rows.
    with db.read() as conn:
        return [r[0] for r in conn.execute(select(articles.c.source).distinct().order_by(articles.c.source).limit(2000))]


def topic_options(db: Database) -> list[str]:
    return _topic_options(db.url)


def target_options(db: Database) -> list[str]:
    return _target_options(db.url)


def source_options(db: Database) -> list[str]:
    return _source_options(db.url)


def filter_sidebar(db: Database, *, stance: bool = True) -> FilterState:
    """Date, query, topic, source and stance filters in the sidebar, bound to the page URL."""
    sb = st.sidebar
    sb.subheader("Filters")
    first, last = date_bounds(db)
    # one above the other: side by side, each field is too narrow to show a whole date
    date_from = sb.date_input(
        "From", value=None, min_value=first, max_value=last, key="from", bind="query-params", persist_state="session", format="YYYY-MM-DD",
        help=f"The archive runs from {first:%Y-%m-%d} to {last:%Y-%m-%d} (UTC).",
    )
    date_to = sb.date_input(
        "To", value=None, min_value=first, max_value=last, key="to", bind="query-params", persist_state="session", format="YYYY-MM-DD",
        help=f"The archive runs from {first:%Y-%m-%d} to {last:%Y-%m-%d} (UTC); this day is included.",
    )
    query = sb.text_input(
        "Search",
        key="q",
        bind="query-params",
        persist_state="session",
        placeholder='e.g. interpol AND "red notice"',
        help=SEARCH_HELP,
    )
    topics = sb.multiselect("Topics", topic_options(db), key="topic", bind="query-params", persist_state="session", placeholder="All topics")
    sources = sb.multiselect("Sources", source_options(db), key="source", bind="query-params", persist_state="session", placeholder="All sources")
    stance_value = target_value = None
    if stance:
        targets = target_options(db)
        c3, c4 = sb.columns(2)
        stance_value = c3.selectbox("Stance", STANCES, index=None, key="stance", bind="query-params", persist_state="session", placeholder="Any")
        target_value = c4.selectbox("Toward", targets, index=None, key="target", bind="query-params", persist_state="session", placeholder="Any target")
    from monitor.filters import Filters

    try:
        filters, error = (
            Filters(
                date_from=date_from,
                date_to=date_to,
                query=(query or "").strip(),
                topics=tuple(topics),
                sources=tuple(sources),
                stance=stance_value,
                target=target_value,
            ),
            None,
        )
    except MonitorError as e:
        filters, error = None, str(e)  # shown once, in the page, by stop_on_filter_error
    state = FilterState(filters, error)
    saved_views_panel(db, state)
    return state


# Page controls that a saved view keeps beside the filters (Coverage's Per and Show); each is a
# widget key bound to the page URL, like the filters.
VIEW_KEYS = ("by", "measure")


def view_default(key: str, default: str) -> str | None:
    """A page control's default, or None when a saved view has already set its value (giving a
    widget both a default and a session value makes Streamlit warn on the page)."""
    return None if st.session_state.get(key) is not None else default


def date_bounds(db: Database) -> tuple[dt.date, dt.date]:
    """What the From/To pickers offer: the archive's first to last day (Streamlit's own default,
    ten years either side of today, cuts off older archives), widened to a date a link carries
    so that it is honoured; a link's date that is not a date at all is reported in the page."""
    from monitor.filters import parse_date

    status = store_status(db)
    today = dt.datetime.now(dt.timezone.utc).date()
    first = status.oldest.date() if status.oldest else today
    last = max(status.newest.date(), first) if status.newest else today
    for key in ("from", "to"):
        raw = st.query_params.get(key)
        if not raw:
            continue
        try:
            asked = parse_date(str(raw), f"The link's {key}")
        except MonitorError as e:
            st.warning(f"{e}. It was ignored.", icon=":material/event_busy:")
            continue
        if asked < first or asked > last:
            st.info(
                f"The link's {key}={asked:%Y-%m-%d} is outside the archive ({first:%Y-%m-%d} to {last:%Y-%m-%d}): kept as given.",
                icon=":material/event:",
            )
            first, last = min(first, asked), max(last, asked)
    return first, last


def _apply_params(params: dict[str, list[str]]) -> None:
    """Callback: put a saved view's values into the bound widgets (and so into the URL)."""
    for key in FILTER_KEYS:
        values = params.get(key) or []
        if key in ("from", "to"):
            try:
                st.session_state[key] = dt.date.fromisoformat(values[0]) if values else None
            except ValueError:
                st.session_state[key] = None
        elif key in ("topic", "source"):
            st.session_state[key] = list(values)
        elif key == "q":
            st.session_state[key] = values[0] if values else ""
        else:
            st.session_state[key] = values[0] if values else None
    for key in VIEW_KEYS:
        values = params.get(key) or []
        if values:
            st.session_state[key] = values[0]


def _view_params(state: FilterState) -> dict[str, list[str]]:
    params = state.params()
    for key in VIEW_KEYS:
        value = st.session_state.get(key)
        if isinstance(value, str) and value:
            params[key] = [value]
    return params


def _save_view(db_url: str, params: dict[str, list[str]]) -> None:
    """Form callback: runs before the page is drawn, so the list below already shows the view."""
    from monitor import saved_views

    name = st.session_state.get("_view_name") or ""
    try:
        view_id = saved_views.save_view(_database(db_url), name, params, owner=analyst())
    except MonitorError as e:
        st.session_state["_view_error"] = str(e)
        return
    st.session_state["_view_pick"] = view_id
    st.toast(f"Saved view “{md(name.strip())}”", icon=":material/bookmark_added:")


def saved_views_panel(db: Database, state: FilterState) -> None:
    from monitor import saved_views

    with st.sidebar.expander("Saved views", icon=":material/bookmark:"):
        try:
            views = saved_views.list_views(db)
        except MonitorError as e:
            show_error(e)
            return
        if views:
            labels = {v.id: f"{v.name} · {v.owner}" for v in views}  # selectbox options are plain text
            if st.session_state.get("_view_pick") not in labels:
                st.session_state.pop("_view_pick", None)
            chosen = st.selectbox("Open a view", list(labels), format_func=labels.get, index=None, key="_view_pick", placeholder="Choose a view")
            if chosen is not None:
                view = next(v for v in views if v.id == chosen)
                c1, c2 = st.columns(2)
                c1.button("Open", key="_view_open", on_click=_apply_params, args=(view.params,), width="stretch")
                if view.owner == analyst() and c2.button("Delete", key="_view_delete", width="stretch"):
                    saved_views.delete_view(db, view.id, analyst())
                    st.session_state.pop("_view_pick", None)
                    st.rerun()
        else:
            st.caption("No saved views yet. Set filters, name them below and save.")
        with st.form("_view_save", clear_on_submit=True, border=False):
            st.text_input("Save these filters as", placeholder="e.g. Interpol, last month", key="_view_name")
            st.form_submit_button("Save view", on_click=_save_view, args=(db.url, _view_params(state)))
        error = st.session_state.pop("_view_error", None)
        if error:
            st.error(md(error), icon=":material/error:")
        st.caption("The page address carries the filters (and Coverage's Per and Show) too: copy it to share this view.")


# --- downloads -------------------------------------------------------------------------------


def table_csv(df: pd.DataFrame, *, title: str, filters: FilterState | None = None) -> bytes:
    """CSV bytes of exactly this table, written by monitor.export."""
    out = io.StringIO()
    rows = df.astype(object).where(df.notna(), None).itertuples(index=False, name=None)
    write_table_csv(list(df.columns), rows, out, title=title, filters=filters.filters if filters else None, db=database())
    return out.getvalue().encode("utf-8")


def download(df: pd.DataFrame, *, label: str, file_name: str, key: str, title: str, filters: FilterState | None = None) -> None:
    """A CSV download of exactly the rows and columns shown above it."""
    data = table_csv(df, title=title, filters=filters)
    st.download_button(label, data, file_name=file_name, mime="text/csv", key=key, icon=":material/download:", on_click="ignore")


def summary_download(rows: list, *, by: str, group: tuple[str, ...], filters: FilterState, label: str, file_name: str, key: str, title: str) -> None:
    """A chart's download: the very CountRows it draws, as `export summary` writes them."""
    out = io.StringIO()
    write_summary_csv(database(), filters.filters, out, by=by, group=group, rows=rows, title=title)
    st.download_button(label, out.getvalue().encode("utf-8"), file_name=file_name, mime="text/csv", key=key, icon=":material/download:", on_click="ignore")


MAX_DASHBOARD_EXPORT = 100_000  # larger lists go through `python -m monitor export articles`, which streams to a file


def articles_page_download(db: Database, filters: FilterState, page: int, page_size: int, *, key: str) -> None:
    """The page's articles in the export's order and columns (`write_articles_csv`), so a page,
    the whole list and `export articles` read alike."""
    out = io.StringIO()
    write_articles_csv(db, filters.filters, out, limit=page_size, offset=(page - 1) * page_size, title=f"articles (dashboard), page {page}")
    data = out.getvalue().encode("utf-8")
    st.download_button("Download this page (CSV)", data, file_name=f"articles-page-{page}.csv", mime="text/csv", key=key, icon=":material/download:", on_click="ignore")


def articles_download(db: Database, filters: FilterState, total: int, *, key: str) -> None:
    """Every matching article (not just the page), built only when clicked."""
    if total > MAX_DASHBOARD_EXPORT:
        st.caption(f"{total:,} articles match: download them with `python -m monitor export articles` (it streams to a file).")
        return

    def build() -> bytes:
        out = io.StringIO()
        write_articles_csv(db, filters.filters, out, title="articles (dashboard)")
        return out.getvalue().encode("utf-8")

    st.download_button(f"Download all {total:,} matching articles (CSV)", build, file_name="articles.csv", mime="text/csv", key=key, icon=":material/download:", on_click="ignore")


def columns_safe(rows: Sequence[dict], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(columns))


# --- the store at a glance (empty states and the live status panel) ---------------------------


@dataclass(frozen=True)
class StoreStatus:
    feeds: int
    feeds_failing: int
    articles: int
    articles_24h: int
    last_fetch_at: dt.datetime | None
    untagged: int
    newest: dt.datetime | None
    oldest: dt.datetime | None
    newest_dated: dt.datetime | None = None  # the newest article whose date is not estimated


@st.cache_data(ttl=10, show_spinner=False)
def _store_status(url: str) -> StoreStatus:
    from sqlalchemy import func, select

    from monitor.store import utcnow
    from monitor.store.schema import articles, feeds

    db = _database(url)
    since = utcnow() - dt.timedelta(hours=24)
    with db.read() as conn:
        n_feeds, failing, last_fetch = conn.execute(
            select(func.count(), func.count().filter(feeds.c.status == "failing"), func.max(feeds.c.last_fetch_at))
        ).one()
        # published_at and tag_status are indexed: these stay cheap at a million articles.
        n_articles = conn.execute(select(func.count()).select_from(articles)).scalar_one()
        # an estimated date is the fetch time of an undated item: never "in 24 h"
        dated = articles.c.date_estimated.is_(False)
        recent = conn.execute(select(func.count()).select_from(articles).where(articles.c.published_at >= since, dated)).scalar_one()
        untagged = conn.execute(select(func.count()).select_from(articles).where(articles.c.tag_status != "tagged")).scalar_one()
        newest = conn.execute(select(func.max(articles.c.published_at))).scalar()
        oldest = conn.execute(select(func.min(articles.c.published_at))).scalar()
        newest_dated = conn.execute(select(func.max(articles.c.published_at)).where(dated)).scalar()
    return StoreStatus(int(n_feeds), int(failing or 0), int(n_articles), int(recent), last_fetch, int(untagged), newest, oldest, newest_dated)


def store_status(db: Database) -> StoreStatus:
    return _store_status(db.url)


@st.cache_data(ttl=10, show_spinner=False)
def _feed_trouble(url: str):
    from monitor.feeds import all_feeds_failing

    try:
        return all_feeds_failing(_database(url))
    except MonitorError:
        return None


def store_changed() -> None:
    """After this session changed feeds or polled: the status panel and banners read afresh,
    rather than saying "no feeds" for ten more seconds."""
    _store_status.clear()
    _feed_trouble.clear()
    _source_options.clear()


def feed_trouble(db: Database):
    """monitor.feeds.FeedTrouble when every enabled feed is failing, else None."""
    return _feed_trouble(db.url)


def feed_trouble_banner(db: Database) -> None:
    """On every page: when every feed fails, nothing new can arrive, and the analyst must know why."""
    trouble = feed_trouble(db)
    if trouble is None:
        return
    reasons = ", ".join(f"{md(reason)} on {n}" for reason, n in trouble.reasons[:3])
    st.error(
        f"**{'All ' + str(trouble.feeds) + ' feeds are' if trouble.feeds != 1 else 'The only feed is'} failing** ({reasons}): {trouble.explain()}. "
        "No new articles arrive until this is fixed; the Feeds page shows each feed's last error.",
        icon=":material/cloud_off:",
    )


def no_articles_yet(db: Database, bg: Background | None = None) -> None:
    """The empty state every article-based page shows before the first article is stored."""
    status = store_status(db)
    bg = bg or background(db)
    st.info("No articles stored yet.", icon=":material/inbox:")
    steps = []
    trouble = feed_trouble(db)
    if trouble is not None:
        steps.append(
            f"{status.feeds} feed{'s are' if status.feeds != 1 else ' is'} registered, but "
            f"{'every one is' if status.feeds != 1 else 'it is'} failing ({trouble.explain()}), so no article has arrived."
        )
    elif status.feeds == 0:
        steps.append("Add feeds on the **Feeds** page (or import an OPML file): nothing is polled yet.")
    elif bg.poller_running:
        steps.append(f"{status.feeds} feeds are registered and the background poller is fetching them: articles appear within minutes.")
    else:
        steps.append(f"{status.feeds} feeds are registered. {bg.poller_note}")
    steps.append("To load an archive of feed files: `python -m monitor ingest PATH…`.")
    st.markdown("\n".join(f"- {s}" for s in steps))


def _ago(when: dt.datetime | None) -> str:
    if when is None:
        return "never"
    from monitor.store import utcnow

    seconds = max(0, int((utcnow() - when).total_seconds()))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 5400:
        return f"{seconds // 60} min ago"
    if seconds < 129600:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def sidebar_footer(db: Database, bg: Background) -> None:
    with st.sidebar:
        _live_status(db.url, bg)
        who = analyst()
        if auth_enabled():
            c1, c2 = st.columns([3, 2])
            c1.caption(f"Signed in as {md(who)}")
            c2.button("Sign out", on_click=st.logout, key="_logout", type="tertiary")
        else:
            st.caption(f"Local analyst: {md(who)}")


@st.fragment(run_every=30)
def _live_status(url: str, bg: Background) -> None:
    """Refreshes by itself so a poller's progress shows without touching the page."""
    try:
        required = _policy().auth_required
    except MonitorError:
        required = None
    if required != st.session_state.get("_auth_required", required):
        st.rerun(scope="app")  # secrets edited under an open page: the gate decides again
    st.session_state["_auth_required"] = required
    status = _store_status(url)
    handle = bg.poller
    if handle is not None and not getattr(handle, "running", True):
        poller = "poller stopped: see the server log"
    elif handle is not None and getattr(handle, "error", None):
        poller = f"not polling, retrying: {handle.error}"  # the store refuses; it resumes by itself
    elif bg.poller_running:
        poller = f"polling ({getattr(handle, 'rounds', 0)} rounds)"
    else:
        poller = "poller off"
    st.caption(
        f"{status.articles:,} articles ({status.articles_24h:,} in 24 h) · {status.feeds} feed{'s' if status.feeds != 1 else ''}"
        + (f", {status.feeds_failing} failing" if status.feeds_failing else "")
        + f" · last fetch {_ago(status.last_fetch_at)} · {poller}"
    )
