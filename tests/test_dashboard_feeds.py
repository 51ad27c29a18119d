"""The Feeds page: default feeds on first start, validated add, remove, OPML, health."""

from __future__ import annotations

import pytest

from tests.dashboard_app import assert_clean, make_app, shown, texts


def _feeds_page(monkeypatch, db_url, **kw):
    at = make_app(monkeypatch, db_url, **kw).run()
    at.switch_page("views/feeds.py").run()
    assert_clean(at)
    return at


def test_first_start_seeds_the_default_feeds(monkeypatch, db_url):
    at = _feeds_page(monkeypatch, db_url, seed=True)
    health = at.dataframe[0].value
    assert len(health) >= 10
    assert all(u.startswith(("http://", "https://")) for u in health["url"])
    assert "feeds ·" in texts(at)


def test_empty_feed_list_says_what_to_do(monkeypatch, sqlite_url):
    at = _feeds_page(monkeypatch, sqlite_url)
    assert "No feeds yet" in texts(at)


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "file:///etc/passwd", "http://127.0.0.1/feed", "http://169.254.169.254/latest", "not a url"])
def test_refused_urls_get_a_clear_message(monkeypatch, sqlite_url, bad):
    at = _feeds_page(monkeypatch, sqlite_url)
    at.text_input(key="add_url").input(bad)
    at.button[0].click().run()  # the form's submit button
    assert_clean(at)
    assert at.error and "Traceback" not in at.error[0].value
    assert "No feeds yet" in texts(at)


def test_add_pause_and_remove_a_feed(monkeypatch, sqlite_url):
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_NETWORKS", "1")  # an intranet feed on loopback
    at = _feeds_page(monkeypatch, sqlite_url)
    at.text_input(key="add_url").input("http://127.0.0.1:9/rss.xml")
    at.text_input(key="add_name").input("Intranet wire")
    at.button[0].click().run()
    assert_clean(at)
    assert "Added feed" in texts(at)
    at.run()
    assert list(at.dataframe[0].value["name"]) == ["Intranet wire"]
    at.selectbox(key="feed_pick").select(1).run()
    at.button(key="feed_pause").click().run()
    assert_clean(at)
    assert list(at.dataframe[0].value["status"]) == ["disabled"]
    at.button(key="feed_remove").click().run()
    assert_clean(at)
    assert "No feeds yet" in texts(at)


@pytest.fixture
def feed_server():
    """A loopback HTTP server serving one real feed file."""
    import http.server
    import threading

    from tests.conftest import shared_path

    body = shared_path("feeds", "real", "bbc-news-frontpage__bbc.xml").read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/rss.xml"
    server.shutdown()


def test_poll_now_fetches_a_new_feed(monkeypatch, sqlite_url, feed_server):
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_NETWORKS", "1")
    at = _feeds_page(monkeypatch, sqlite_url)
    at.text_input(key="add_url").input(feed_server)
    at.button[0].click().run()
    at.run()
    at.selectbox(key="feed_pick").select(1).run()
    at.button(key="feed_poll_one").click().run()
    assert_clean(at)
    assert "Poll finished: polled 1 feed" in texts(at)
    at.run()
    assert list(at.dataframe[0].value["status"]) == ["ok"]
    history = at.dataframe[1].value
    assert list(history["outcome"]) == ["ok"] and history["new articles"][0] > 0


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def test_a_failed_poll_now_is_an_error_and_every_page_says_all_feeds_fail(monkeypatch, sqlite_url):
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_NETWORKS", "1")
    at = _feeds_page(monkeypatch, sqlite_url)
    at.text_input(key="add_url").input(f"http://127.0.0.1:{_closed_port()}/rss.xml")
    at.button[0].click().run()
    at.run()
    at.selectbox(key="feed_pick").select(1).run()
    at.button(key="feed_poll_one").click().run()
    assert_clean(at)
    assert not at.success, [s.value for s in at.success]
    assert "Poll finished" in texts(at) and any("connect_failed 1" in shown(e.value) for e in at.error), [e.value for e in at.error]
    at.run()
    last_error = at.dataframe[0].value["last error"][0]
    assert last_error.startswith("connect_failed: cannot connect")
    import json

    assert json.loads(at.dataframe[0].proto.columns)["last error"]["width"] >= 400  # read whole, not "connect_fa…"
    from tests.dashboard_app import PAGES

    for page in PAGES:
        at.switch_page(page).run()
        assert_clean(at)
        page_text = texts(at)
        assert "The only feed is failing" in page_text and "connect_failed on 1" in page_text and "no feed server can be reached" in page_text, (page, page_text)
        assert "articles appear within minutes" not in page_text, page


def test_opml_import_says_which_entries_were_skipped_and_why(monkeypatch, sqlite_url):
    at = _feeds_page(monkeypatch, sqlite_url)
    opml = b"""<?xml version="1.0"?><opml version="2.0"><head/><body>
    <outline text="Good" xmlUrl="https://feeds.example.org/good.xml"/>
    <outline text="Twice" xmlUrl="https://feeds.example.org/good.xml"/>
    <outline text="Script" xmlUrl="javascript:alert(1)"/>
    <outline text="Metadata" xmlUrl="http://169.254.169.254/latest"/>
    </body></opml>"""
    at.file_uploader(key="opml_upload").set_value(("feeds.opml", opml, "text/x-opml")).run()
    at.button(key="opml_import").click().run()
    assert_clean(at)
    assert "Imported 1 feeds; skipped 3." in texts(at)
    skipped = at.dataframe[0].value
    why = dict(zip(skipped["entry"], skipped["why skipped"]))
    assert why["Twice"] == "listed twice in this file"
    assert "http:// and https://" in why["Script"]
    assert "non-public" in why["Metadata"]


@pytest.fixture
def cli_sqlite(sqlite_url, capsys):
    from monitor.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--db", sqlite_url, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_an_ingested_archive_is_not_seeded_and_its_sources_are_listed(monkeypatch, sqlite_url, cli_sqlite):
    from tests.conftest import shared_path

    folder = shared_path("feeds", "real")
    names = ["bbc-news-frontpage__bbc.xml", "spiegel__Rss20Spiegel.xml", "heise-developer__heise.atom.xml"]
    code, _, err = cli_sqlite("ingest", *[str(folder / n) for n in names])
    assert code == 0, err
    at = _feeds_page(monkeypatch, sqlite_url, seed=True)  # seeding on, as on a real first start
    from monitor.feeds import archive_sources, list_feeds
    from monitor.store import Database

    db = Database(sqlite_url)
    assert list_feeds(db) == []  # no default feeds poured into a research archive
    page_text = texts(at)
    assert "No feeds yet" in page_text and "Sources in the archive" in page_text
    table = at.dataframe[0].value
    sources = archive_sources(db)
    assert len(sources) == 3 and sorted(table["source"]) == sorted(s.source for s in sources)
    assert set(table["polled"]) == {"not polled (ingested)"}
    db.dispose()


def test_an_empty_store_is_still_seeded(monkeypatch, sqlite_url):
    at = _feeds_page(monkeypatch, sqlite_url, seed=True)
    assert len(at.dataframe[0].value) >= 10
