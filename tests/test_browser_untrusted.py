"""Text from feeds, URLs and users is never Markdown or HTML on any page, and no page load
contacts anyone but the dashboard itself (the tab icon is shipped, not fetched).

Feed names, article sources, alert and saved-view names, the query and the selected sources
carry Markdown payloads aimed at a loopback listener: an image (a tracking pixel), a link, colour
and icon directives, KaTeX. The listener must receive no request, and each payload must be shown
as the literal text it is.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
import urllib.parse
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from monitor.search_index import index_stored
from tests.browser import idle, run_dashboard, settle, shot, sqlite_store

pytestmark = pytest.mark.browser


class _Listener:
    """A loopback HTTP server that records every request it gets (it must get none)."""

    def __init__(self):
        self.requests: list[str] = []
        hits = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _payloads(port: int) -> dict[str, str]:
    return {
        "pixel": f"![x](http://127.0.0.1:{port}/pixel)",
        "link": f"[Re-login](http://127.0.0.1:{port}/login)",
        "colour": ":red[x] outlet",
        "katex": "$x^2$ outlet",
        "icon": ":material/home: outlet",
    }


def _fill(db, payloads: dict[str, str]) -> None:
    from monitor.alerts import add_alert
    from monitor.saved_views import save_view
    from monitor.store.schema import articles, feeds, tags

    now = datetime(2026, 11, 1)
    sources = list(payloads.values())
    with db.write() as conn:
        feed_id = conn.execute(
            insert(feeds).values(url="https://feeds.example.org/rss", name=payloads["link"], tags=[], created_at=now, status="ok", consecutive_failures=0, error_count=0, redirect_count=0, enabled=True)
        ).inserted_primary_key[0]
        for i in range(150):  # 30 a day over five days: enough for shares to be drawn
            published = now - timedelta(hours=4 * i)
            title = f"Interpol story {i} from {sources[i % len(sources)]}"
            aid = conn.execute(
                insert(articles).values(
                    url_key=f"news.example.org/{i}", link=f"https://news.example.org/{i}", guid=f"g{i}", title=title, summary="police cooperation",
                    content="", source=sources[i % len(sources)], feed_id=feed_id, published_at=published, fetched_at=published,
                    title_hash=hashlib.md5(title.encode()).hexdigest(), tag_status="tagged",
                )
            ).inserted_primary_key[0]
            conn.execute(insert(tags).values(article_id=aid, kind="topic", target="", label="interpol", score=0.9, model_version="test-1", published_at=published))
            conn.execute(insert(tags).values(article_id=aid, kind="stance", target="Interpol", label=("FAVOR", "AGAINST", "NONE")[i % 3], score=0.7, model_version="test-1", published_at=published))
            index_stored(conn, db, [aid])  # rows written by hand are indexed for search by hand
    add_alert(db, f"{payloads['pixel']} {payloads['icon']}", "interpol", owner="ana")
    save_view(db, f"{payloads['link']} {payloads['katex']}", {"q": ["interpol"]}, owner="ana")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, browser):
    listener = _Listener()
    payloads = _payloads(listener.port)
    tmp = tmp_path_factory.mktemp("untrusted")
    url = sqlite_store(tmp, lambda db: _fill(db, payloads))
    try:
        with run_dashboard(tmp, url, env={"MONITOR_SEED_DEFAULT_FEEDS": "1", "MONITOR_MIN_SHARE_DENOMINATOR": "5"}) as dash:
            yield dash.base, browser, listener, payloads
    finally:
        listener.server.shutdown()


def _page(base: str, browser, outside: list[str], listener: _Listener | None = None):
    """A page that records (and refuses) every request to anything but the dashboard; requests
    for the listener go through, so the listener itself witnesses a loaded pixel."""
    page = browser.new_page(viewport={"width": 1400, "height": 2200})

    def route(r):
        url = r.request.url
        if url.startswith((base, "data:", "blob:")):
            r.continue_()
        elif listener is not None and url.startswith(f"http://127.0.0.1:{listener.port}/"):
            outside.append(url)
            r.continue_()
        else:
            outside.append(url)
            r.abort()

    page.route("**/*", route)
    return page


def _visible(page) -> str:
    return page.locator("body").inner_text().replace("\u2060", "")


def _assert_inert(page, listener: _Listener, payloads: dict[str, str], where: str, must_show: tuple[str, ...] = ()) -> None:
    port = str(listener.port)
    page.wait_for_timeout(500)  # an image would be requested by now
    assert listener.requests == [], (where, listener.requests)
    assert page.locator(f"img[src*='{port}']").count() == 0, where
    assert page.locator(f"a[href*='{port}']").count() == 0, where
    assert page.locator(".katex").count() == 0, where
    colour = page.locator("[data-testid=stApp] span[style*='color']", has_text="x")
    assert colour.count() == 0 or all("red" not in (s.get_attribute("style") or "") for s in colour.all()), where
    text = _visible(page)
    for name in must_show:
        assert payloads[name] in text, (where, name)
    assert page.locator("[data-testid=stException]").count() == 0, where


def _shot(page, name: str) -> None:
    shot(page, f"untrusted-{name}")


def test_feed_and_user_text_is_never_markup_on_any_page(hostile):
    base, browser, listener, payloads = hostile
    outside: list[str] = []
    page = _page(base, browser, outside, listener)
    q = urllib.parse.quote(payloads["pixel"])
    source = urllib.parse.quote(payloads["colour"])
    visits = [
        ("coverage", "", "[data-testid=stVegaLiteChart]", ()),
        ("articles", f"articles?q={q}%20OR%20interpol&source={source}", "[data-testid=stDataFrame]", ("pixel", "colour")),  # echoed in the caption
        ("articles-bad-query", f"articles?q=%22{q}", "[data-testid=stAlertContentError]", ()),
        ("feeds", "feeds", "[data-testid=stDataFrame]", ()),
        ("models", "models", "[data-testid=stMainBlockContainer] h1", ()),
    ]
    for name, path, ready, must_show in visits:
        page.goto(f"{base}/{path}")
        settle(page, ready)
        _shot(page, name)
        _assert_inert(page, listener, payloads, name, must_show)
    # the bad query's own text is quoted in its error, literally
    page.goto(f"{base}/articles?q=%22{q}")
    settle(page, "[data-testid=stAlertContentError]")
    assert "Re-login" not in page.locator("[data-testid=stAlertContentError]").inner_text()

    # an article's detail: its source in the caption
    page.goto(f"{base}/articles")
    settle(page, "[data-testid=stDataFrame]")
    grid = page.locator("[data-testid=stDataFrame]").first
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 12, box["y"] + 35 + 5 * 35 + 17)  # the selection checkbox of the sixth row
    page.wait_for_selector("text=Correct a tag", timeout=30_000)
    settle(page, "text=Correct a tag")
    _shot(page, "article-detail")
    _assert_inert(page, listener, payloads, "article detail")
    detail = _visible(page)
    assert any(payloads[k] + " · published" in detail for k in payloads), detail[:2000]

    # saving a view: its name in the toast and the list
    page.goto(f"{base}/")
    settle(page, "[data-testid=stVegaLiteChart]")
    page.locator("[data-testid=stSidebar] summary", has_text="Saved views").click()
    page.locator("[data-testid=stSidebar] input[aria-label='Save these filters as']").fill(payloads["icon"] + " view")
    idle(page)
    page.locator("[data-testid=stSidebar] button", has_text="Save view").click()
    page.wait_for_selector("[data-testid=stToast]", timeout=30_000)
    _shot(page, "saved-view-toast")
    assert payloads["icon"] + " view" in page.locator("[data-testid=stToast]").inner_text().replace("\u2060", "")
    _assert_inert(page, listener, payloads, "saved view")

    # an alert: its name in the save message and the delete confirmation
    page.goto(f"{base}/alerts")
    settle(page, "[data-testid=stTabs]")
    page.get_by_role("tab", name="Alerts (1)").click()
    page.locator("summary", has_text="Create an alert").click()
    page.locator("input[aria-label='Name']").first.fill(payloads["katex"] + " alert")
    page.locator("input[aria-label='Query']").first.fill("interpol")
    idle(page)  # saved once the page is still, as a person would click it
    page.locator("button", has_text="Save alert").click()
    settle(page, "[data-testid=stAlertContentSuccess]")
    _shot(page, "alert-saved")
    assert "Saved alert “" + payloads["katex"] + " alert”" in page.locator("[data-testid=stAlertContentSuccess]").inner_text().replace("\u2060", "")
    _assert_inert(page, listener, payloads, "alert saved")
    page.get_by_role("tab", name="Alerts (2)").click()
    page.locator(".st-key-edit_alert [data-testid=stSelectbox]").click()
    page.get_by_role("option").filter(has_text="material/home").first.click()
    settle(page, "button:has-text('Delete alert')")
    page.locator("button", has_text="Delete alert").click()
    page.wait_for_selector("text=with its inbox and unsent messages", timeout=30_000)
    _shot(page, "alert-delete")
    assert f"Delete “{payloads['pixel']} {payloads['icon']}” with its inbox" in _visible(page)
    _assert_inert(page, listener, payloads, "alert delete")

    page.close()
    assert listener.requests == [], listener.requests  # no pixel loaded, no link followed
    assert outside == [], outside  # nothing but the dashboard itself was contacted


def test_the_tab_icon_is_shipped_not_fetched(hostile):
    base, browser, _, _ = hostile
    outside: list[str] = []
    page = _page(base, browser, outside)
    page.goto(f"{base}/")
    settle(page, "[data-testid=stVegaLiteChart]")
    page.wait_for_function("document.querySelector(\"link[rel*='icon']\") !== null", timeout=30_000)
    hrefs = [page.evaluate("(l) => l.href", link) for link in page.locator("link[rel*='icon']").element_handles()]
    assert hrefs and all(h.startswith(base) for h in hrefs), hrefs
    assert "gstatic" not in " ".join(outside) and outside == [], outside
    page.close()
