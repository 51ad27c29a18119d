"""Every page renders on a store filled by the real CLI from real feeds (hostile feed text is shown as text)."""

from __future__ import annotations

import pytest

from tests.conftest import shared_path
from tests.dashboard_app import PAGES, assert_clean, make_app, texts

# A handful of real feeds: English, Russian, Chinese, a YouTube feed and a Catalan one.
REAL = ["bbc-news-frontpage__bbc.xml", "bbc-chinese__bbc.xml", "abcnews-international__abcnews.xml", "aljazeera-english-youtube__aljazeeraenglish.xml", "20minutos-catalan__Rss10Minutos20Catalans.xml"]


@pytest.fixture
def ingested(cli):
    folder = shared_path("feeds", "real")
    code, out, err = cli("ingest", *[str(folder / name) for name in REAL if (folder / name).exists()])
    assert code == 0, err
    assert "new articles" in out


def test_every_page_renders_on_real_feeds(monkeypatch, db_url, ingested):
    # One ingest per database, every page against it: ingesting real feeds is the slow part.
    for page in PAGES:
        at = make_app(monkeypatch, db_url).run()
        if page != PAGES[0]:
            at.switch_page(page).run()
        assert_clean(at)
        assert not at.error, (page, [e.value for e in at.error])
        assert "No articles stored yet" not in texts(at), page
        if page == "views/articles.py":
            table = at.dataframe[0].value
            assert len(table) == 50
            assert all(link.startswith(("http://", "https://")) for link in table["link"] if isinstance(link, str))
