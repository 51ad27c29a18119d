"""Feeds through HTTPS_PROXY / HTTP_PROXY / NO_PROXY, with the address guard still on the feed's host.

A small CONNECT proxy on loopback records every request line it gets and tunnels the bytes;
the feed server is tests/feedserver.py (plain and TLS). The proxy must only ever be asked for the
address the guard checked, never for a host name it would resolve itself.
"""

from __future__ import annotations

import asyncio
import socket
import socketserver
import ssl
import threading

import pytest

from monitor.config import Settings
from monitor.errors import ConfigError
from monitor.fetch import Fetcher
from monitor.proxy import ProxyRules, parse_proxy
from tests.feedserver import FeedServer
from tests.test_fetch import _certificate, _tls_server


class ConnectProxy:
    """A CONNECT-only proxy on 127.0.0.1 (like squid's tunnel); `refuse` answers 403 instead."""

    def __init__(self, refuse: bool = False):
        self.lines: list[str] = []
        self.auth: list[str | None] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = self.request.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                lines = head.decode("latin-1").split("\r\n")
                outer.lines.append(lines[0])
                outer.auth.append(next((line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("proxy-authorization:")), None))
                method, target, _ = lines[0].split(" ", 2)
                if method != "CONNECT" or refuse:
                    self.request.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                    return
                host, port = target.rsplit(":", 1)
                upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
                self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                pipe = threading.Thread(target=_pump, args=(upstream, self.request), daemon=True)
                pipe.start()
                _pump(self.request, upstream)
                pipe.join(10)
                upstream.close()

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


@pytest.fixture
def proxy():
    p = ConnectProxy()
    yield p
    p.close()


@pytest.fixture(scope="module")
def feeds():
    with FeedServer() as srv:
        yield srv


def _fetch(url: str, env: dict[str, str], **kw):
    settings = Settings.from_env(env)

    async def run():
        async with Fetcher(settings=settings, **kw) as f:
            return await f.fetch(url)

    return asyncio.run(run())


def test_http_feeds_go_through_http_proxy_as_a_tunnel_to_the_checked_address(proxy, feeds):
    url = f"http://feeds.test:{feeds.port}/gen/1"
    r = _fetch(url, {"HTTP_PROXY": proxy.url}, allow_private=True, resolver=lambda h, p: ["127.0.0.1"])
    assert r.outcome == "ok" and b"<rss" in r.body
    # the proxy was asked for the address the guard resolved and checked, not the name
    assert proxy.lines == [f"CONNECT 127.0.0.1:{feeds.port} HTTP/1.1"]


def test_https_feeds_use_https_proxy_and_tls_checks_the_feed_host(proxy, tmp_path):
    cert, key = _certificate(tmp_path, "proxy-tls")
    srv = _tls_server(cert, key)
    try:
        trust = ssl.create_default_context(cafile=str(cert))
        r = _fetch(f"https://localhost:{srv.port}/gen/2", {"https_proxy": proxy.url}, allow_private=True, verify=trust, resolver=lambda h, p: ["127.0.0.1"])
        assert r.outcome == "ok", r.detail
        assert proxy.lines == [f"CONNECT 127.0.0.1:{srv.port} HTTP/1.1"]
    finally:
        srv.stop()


def test_the_guard_still_refuses_a_private_feed_host_and_the_proxy_is_never_asked(proxy, feeds):
    r = _fetch(f"http://intranet.test:{feeds.port}/gen/1", {"HTTP_PROXY": proxy.url}, allow_private=False, resolver=lambda h, p: ["10.1.2.3"])
    assert r.reason == "blocked_address"
    r = _fetch(f"http://127.0.0.1:{feeds.port}/gen/1", {"HTTP_PROXY": proxy.url}, allow_private=False)
    assert r.reason == "blocked_address"
    assert proxy.lines == []


def test_no_proxy_hosts_are_fetched_directly(proxy, feeds):
    before = feeds.seen()
    r = _fetch(f"http://direct.test:{feeds.port}/gen/3", {"HTTP_PROXY": proxy.url, "NO_PROXY": "localhost,.test"}, allow_private=True, resolver=lambda h, p: ["127.0.0.1"])
    assert r.outcome == "ok"
    assert proxy.lines == [] and feeds.seen() == before + 1


def test_a_refusing_proxy_is_a_clear_failure_with_credentials_sent_not_shown(feeds):
    refusing = ConnectProxy(refuse=True)
    try:
        user_url = refusing.url.replace("http://", "http://ana:s%3Acret@")
        r = _fetch(f"http://feeds.test:{feeds.port}/gen/1", {"HTTP_PROXY": user_url}, allow_private=True, resolver=lambda h, p: ["127.0.0.1"])
        assert r.reason == "proxy_error" and "refused the tunnel" in r.detail and "403" in r.detail
        assert "cret" not in r.detail
        import base64

        assert refusing.auth == ["Basic " + base64.b64encode(b"ana:s:cret").decode()]
    finally:
        refusing.close()


def test_an_unreachable_proxy_names_the_proxy(feeds):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = _fetch(f"http://feeds.test:{feeds.port}/gen/1", {"HTTP_PROXY": f"http://127.0.0.1:{port}"}, allow_private=True, resolver=lambda h, p: ["127.0.0.1"])
    assert r.reason == "proxy_error" and f"cannot connect to the proxy 127.0.0.1:{port}" in r.detail


def test_proxy_settings_are_read_and_checked():
    rules = ProxyRules.from_settings("proxy.corp:3128", "", "*.internal, localhost")
    assert rules.https is not None and (rules.https.host, rules.https.port) == ("proxy.corp", 3128)
    assert rules.http is None and rules.bypass("localhost") and rules.bypass("feeds.internal") and not rules.bypass("bbc.co.uk")
    with pytest.raises(ConfigError, match="only http:// proxies"):
        parse_proxy("socks5://proxy:1080", "HTTPS_PROXY")
    assert ProxyRules.from_settings("", "", "*").bypass("anything")
