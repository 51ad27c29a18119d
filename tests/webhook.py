"""A real webhook receiver on 127.0.0.1 for alert delivery tests (Apprise `json://` posts to it).

Each request takes the next planned answer (status, delay, Location), then 200 for ever after;
every request is recorded, so a test can count what the target really received.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    status: int = 200
    delay: float = 0.0
    location: str | None = None


@dataclass
class Received:
    path: str
    status: int
    payload: dict = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """The outbox reference at the end of every message body."""
        return self.payload.get("message", "").rsplit("ref: ", 1)[-1]


class Receiver:
    def __init__(self, port: int = 0):
        self.plan: list[Answer] = []
        self.received: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with receiver.lock:
                    answer = receiver.plan.pop(0) if receiver.plan else Answer()
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    payload = json.loads(raw or b"{}")
                except ValueError:
                    payload = {}
                with receiver.lock:
                    receiver.received.append(Received(self.path, answer.status, payload))
                try:
                    self.send_response(answer.status)
                    if answer.location:
                        self.send_header("Location", answer.location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the client gave up (slow-target tests)
                    pass

            do_GET = do_POST  # noqa: N815 - a followed redirect would arrive as GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook", *, secret: str | None = None, **params) -> str:
        auth = f"analyst:{secret}@" if secret else ""
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"json://{auth}127.0.0.1:{self.port}{path}" + (f"?{query}" if query else "")

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.status == 200]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    """A loopback port nobody listens on (for a target that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
