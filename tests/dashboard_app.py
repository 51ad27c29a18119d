"""Helpers for the dashboard tests: run dashboard.py in AppTest against a given database."""

from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parent.parent
PAGES = ("views/coverage.py", "views/articles.py", "views/alerts.py", "views/feeds.py", "views/review.py", "views/models.py")


def make_app(monkeypatch, db_url: str, *, seed: bool = False) -> AppTest:
    """An AppTest of the real dashboard.py on `db_url`, with no background poller."""
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    monkeypatch.setenv("MONITOR_POLL_IN_DASHBOARD", "0")
    monkeypatch.setenv("MONITOR_SEED_DEFAULT_FEEDS", "1" if seed else "0")
    monkeypatch.chdir(REPO)
    return AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=60)


def shown(markdown: str) -> str:
    """Markdown source as a reader sees it: backslash escapes and word joiners (views.components.text.md) gone."""
    bold_gone = re.sub(r"(?<!\\)\*\*", "", markdown)
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", bold_gone).replace("\u2060", "")


def texts(at: AppTest) -> str:
    """Everything a reader sees as text on the page, for 'does it say X' assertions."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success", "text"):
        parts += [shown(str(e.value)) for e in getattr(at, kind)]
    return "\n".join(parts)


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


class Downloads:
    """The bytes behind every st.download_button of an AppTest run, by the button's URL.

    AppTest keeps media files in a per-run in-memory store that is gone after the run; this
    records what was put there, so a test can read exactly what a browser would download."""

    def __init__(self, monkeypatch):
        from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

        self.files: dict[str, bytes] = {}
        original = MemoryMediaFileStorage.load_and_get_id
        files = self.files

        def recording(storage, path_or_data, mimetype, kind, filename=None):
            file_id = original(storage, path_or_data, mimetype, kind, filename)
            files[storage.get_url(file_id)] = path_or_data if isinstance(path_or_data, bytes) else b""
            return file_id

        monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)

    def of(self, at: AppTest, key: str) -> bytes:
        button = at.get("download_button")
        url = next(b.proto.url for b in button if b.proto.id.endswith(key) or key in b.proto.id)
        return self.files[url]
