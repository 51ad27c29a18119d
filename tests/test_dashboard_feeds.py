"""The Feeds page: default feeds on first start, validated add, remove, OPML, health."""

from __future__ import annotations

import pytest

from tests.dashboard_app import assert_clean, make_app, texts


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
