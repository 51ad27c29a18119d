"""A real threaded HTTP server on loopback with one route per fault a feed server can commit.

Reusable: `with FeedServer() as srv: srv.url("/real/bbc-news-home__bbc.xml")`. Tests can also
register their own responses (`srv.set(path, body, status=…, headers=…)`) or a callable
(`srv.handle(path, fn)` where fn(handler) writes the whole response) — e.g. a webhook receiver.
Every request is recorded in `srv.requests` (method, path, headers, body), so a test can assert
that the server saw nothing; `srv.peak_active` is the most requests it answered at once.

Routes:
  /real/<file>            a file of ../shared/data/feeds/real with ETag/Last-Modified (304 on match)
  /plain/<file>           the same bytes without validators (identical body every time)
  /gen/<n>?entries=K&delay=S  a generated RSS feed, K entries unique to n (stable), after S seconds
                          (&nv=1: without ETag/Last-Modified)
  /status/<code>          that status, a short body; ?retry-after=V adds Retry-After: V
  /redirect/<code>?to=U   a redirect with that code to U
  /chain/<n>              n more 302 hops, then /gen/0
  /loop                   redirects to itself
  /hang                   accepts and never answers
  /drip                   200, then one byte every 0.25 s, for ever
  /endless                200, chunked, never ends
  /gzip-bomb              ~65 KB gzip that decodes to ~67 MB
  /gzip-truncated         a gzip body cut in half (Content-Length matches the cut)
  /length-lie             Content-Length 100000, then 100 bytes and a close
  /html  /json  /empty    200 with an HTML challenge page, JSON, an empty body
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

REPO = Path(__file__).resolve().parent.parent
REAL_FEEDS = Path(os.environ.get("MONITOR_SHARED_DATA", REPO.parent / "shared" / "data")) / "feeds" / "real"


@dataclass
class Canned:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def generated_feed(n: int, entries: int = 20, title: str | None = None, start: int = 0) -> bytes:
    """A small valid RSS 2.0 document whose items are unique to feed n."""
    items = []
    for i in range(start, start + entries):
        items.append(
            f"<item><title>Feed {n} story {i}: police cooperation update</title>"
            f"<link>https://news{n}.example.org/story/{n}/{i}</link>"
            f"<guid>feed{n}-story{i}</guid>"
            f"<description>Story {i} of feed {n}: investigators and prosecutors report progress.</description>"
            f"<pubDate>Mon, 0{1 + i % 9} Jan 2024 10:{i % 60:02d}:00 GMT</pubDate></item>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title or f"Generated feed {n}"}</title>'
        f"<link>https://news{n}.example.org/</link><description>test</description>{''.join(items)}</channel></rss>"
    ).encode()


_BOMB: bytes | None = None


def gzip_bomb() -> bytes:
    global _BOMB
    if _BOMB is None:
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as gz:
            block = b"\0" * (1024 * 1024)
            for _ in range(67):
                gz.write(block)
        _BOMB = buf.getvalue()
    return _BOMB


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        owner = self.server.owner
        parts = urlsplit(self.path)
        with owner.lock:
            owner.requests.append(SeenRequest(self.command, self.path, dict(self.headers.items()), body))
            owner.hits[parts.path] = owner.hits.get(parts.path, 0) + 1
            custom = owner.handlers.get(parts.path)
            canned = owner.canned.get(parts.path)
            owner.active += 1
            owner.peak_active = max(owner.peak_active, owner.active)
        try:
            if custom is not None:
                custom(self)
            elif canned is not None:
                self._send(canned.status, canned.body, canned.headers)
            else:
                self._builtin(parts.path, parse_qs(parts.query))
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with owner.lock:
                owner.active -= 1

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, content_type: str = "application/rss+xml") -> None:
        self.send_response(status)
        headers = dict(headers or {})
        headers.setdefault("Content-Type", content_type)
        for k, v in headers.items():
            self.send_header(k, v)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _validated(self, body: bytes, etag: str, last_modified: str, extra: dict | None = None) -> None:
        if self.headers.get("If-None-Match") == etag or (
            self.headers.get("If-Modified-Since") == last_modified and not self.headers.get("If-None-Match")
        ):
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = {"ETag": etag, "Last-Modified": last_modified, **(extra or {})}
        self._send(200, body, headers)

    def _builtin(self, path: str, query: dict) -> None:
        owner = self.server.owner
        if path.startswith("/real/") or path.startswith("/plain/"):
            name = path.split("/", 2)[2]
            file = (REAL_FEEDS / name).resolve()
            if REAL_FEEDS.resolve() not in file.parents or not file.is_file():
                return self._send(404, b"no such feed", content_type="text/plain")
            body = file.read_bytes()
            if path.startswith("/plain/"):
                return self._send(200, body)
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            return self._validated(body, etag, "Mon, 01 Jan 2024 00:00:00 GMT")
        if path.startswith("/gen/"):
            n = int(path.split("/")[2].split(".")[0])
            entries = int(query.get("entries", ["20"])[0])
            delay = float(query.get("delay", ["0"])[0])
            if delay:
                owner.stopping.wait(delay)
            body = owner.generated(n, entries)
            if "nv" in query:  # no validators: the same body every time, for body-hash checks
                return self._send(200, body)
            etag = '"g' + str(n) + "-" + str(entries) + '"'
            return self._validated(body, etag, "Mon, 01 Jan 2024 00:00:00 GMT")
        if path.startswith("/status/"):
            code = int(path.split("/")[2])
            headers = {}
            if "retry-after" in query:
                headers["Retry-After"] = query["retry-after"][0]
            return self._send(code, f"status {code}".encode(), headers, content_type="text/plain")
        if path.startswith("/redirect/"):
            code = int(path.split("/")[2])
            return self._send(code, b"", {"Location": query.get("to", ["/gen/0"])[0]}, content_type="text/plain")
        if path.startswith("/chain/"):
            n = int(path.split("/")[2])
            return self._send(302, b"", {"Location": f"/chain/{n - 1}" if n > 1 else "/gen/0"}, content_type="text/plain")
        if path == "/loop":
            return self._send(302, b"", {"Location": "/loop"}, content_type="text/plain")
        if path == "/hang":
            owner.stopping.wait(60)
            return None
        if path == "/drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            for _ in range(240):
                if owner.stopping.wait(0.25):
                    return None
                self.wfile.write(b" ")
                self.wfile.flush()
            return None
        if path == "/endless":
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"<rss>" + b"x" * 65536
            frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            while not owner.stopping.is_set():
                self.wfile.write(frame)
            return None
        if path == "/gzip-bomb":
            return self._send(200, gzip_bomb(), {"Content-Encoding": "gzip"})
        if path == "/gzip-truncated":
            full = gzip.compress(owner.generated(1, 50))
            return self._send(200, full[: len(full) // 2], {"Content-Encoding": "gzip"})
        if path == "/length-lie":
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(owner.generated(2, 1)[:100])
            self.wfile.flush()
            self.close_connection = True
            return None
        if path == "/html":
            return self._send(200, b"<!DOCTYPE html><html><body>Checking your browser...</body></html>", content_type="text/html")
        if path == "/json":
            return self._send(200, b'{"items": []}', content_type="application/json")
        if path == "/empty":
            return self._send(200, b"")
        return self._send(404, b"not found", content_type="text/plain")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FeedServer

    def handle_error(self, request, client_address) -> None:
        # Clients that vanish mid-response (deadlines, killed pollers) are part of the tests.
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, OSError)):
            super().handle_error(request, client_address)


class FeedServer:
    """The server, started on enter and stopped on exit. `ssl_context` makes it HTTPS."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, ssl_context=None):
        self.lock = threading.Lock()
        self.requests: list[SeenRequest] = []
        self.hits: dict[str, int] = {}
        self.canned: dict[str, Canned] = {}
        self.handlers: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}
        self.stopping = threading.Event()
        self.active = 0  # requests being answered now (one server = one host)
        self.peak_active = 0  # the most at once since start or `reset_peak()`
        self._generated: dict[tuple[int, int], bytes] = {}
        self._server = _Server((host, port), _Handler)
        self._server.owner = self
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        self.host, self.port = self._server.server_address[:2]
        self.scheme = "https" if ssl_context is not None else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def generated(self, n: int, entries: int) -> bytes:
        key = (n, entries)
        body = self._generated.get(key)
        if body is None:
            body = self._generated[key] = generated_feed(n, entries)
        return body

    def url(self, path: str, host: str | None = None) -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    def set(self, path: str, body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> None:
        with self.lock:
            self.canned[path] = Canned(body, status, dict(headers or {}))

    def handle(self, path: str, fn: Callable[[BaseHTTPRequestHandler], None]) -> None:
        with self.lock:
            self.handlers[path] = fn

    def seen(self, path: str | None = None) -> int:
        with self.lock:
            return len(self.requests) if path is None else self.hits.get(path, 0)

    def reset_peak(self) -> None:
        with self.lock:
            self.peak_active = self.active

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.02) -> bool:
    """Poll predicate until true or timeout (for background threads in tests; not a timed assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
