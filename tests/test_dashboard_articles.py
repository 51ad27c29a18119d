"""The Articles page on a populated store: search, paging, safe display, tags, label correction."""

from __future__ import annotations

import pytest

from tests.dashboard_app import assert_clean, make_app, texts
from tests.dashboard_data import HOSTILE_TITLES, fill


@pytest.fixture
def articles_app(monkeypatch, db_url):
    from monitor.store import Database

    db = Database(db_url)
    db.init()
    fill(db)
    at = make_app(monkeypatch, db_url).run()
    at.switch_page("views/articles.py").run()
    assert_clean(at)
    yield at, db
    db.dispose()


def test_lists_articles_with_safe_links_and_literal_titles(articles_app):
    at, _ = articles_app
    table = at.dataframe[0].value
    assert len(table) == 50  # one page, not everything
    assert "60 articles match" in texts(at)
    by_title = dict(zip(table["title"], table["link"]))
    for title in HOSTILE_TITLES:
        assert title in by_title  # shown as the literal text
    assert not isinstance(by_title[HOSTILE_TITLES[1]], str)  # javascript: never becomes a link
    assert all(v.startswith("https://") for v in table["link"] if isinstance(v, str))
    assert not at.markdown or all("onerror" not in m.value for m in at.markdown)


def test_search_narrows_and_a_malformed_query_says_why(articles_app):
    at, _ = articles_app
    at.sidebar.text_input(key="q").input("cybercrime").run()
    assert_clean(at)
    table = at.dataframe[0].value
    assert 0 < len(table) < 50
    assert all("cybercrime" in t.lower() for t in table["title"])
    at.sidebar.text_input(key="q").input('(interpol AND "red').run()
    assert_clean(at)
    message = " ".join(e.value for e in at.error)
    assert message and "Traceback" not in message
    assert not at.dataframe


def test_search_reads_the_text_and_other_word_forms_and_its_help_says_so(articles_app):
    at, db = articles_app
    from tests.factories import add_article

    add_article(db, "Hospital systems down", "2026-10-20", content="<p>Hackers used ransomware.</p>", lang="en")
    at.sidebar.text_input(key="q").input("hacker").run()  # the article says "Hackers", in its text
    assert_clean(at)
    assert list(at.dataframe[0].value["title"]) == ["Hospital systems down"]
    help_text = at.sidebar.text_input(key="q").help
    assert "*" in help_text and "forms" in help_text


def test_filters_by_topic_and_source(articles_app):
    at, _ = articles_app
    at.sidebar.multiselect(key="topic").select("corruption").run()
    at.sidebar.multiselect(key="source").select("Daily Planet").run()
    assert_clean(at)
    table = at.dataframe[0].value
    assert len(table) > 0
    assert set(table["source"]) == {"Daily Planet"}
    assert all("corruption" in t for t in table["topics"])


def test_correcting_a_topic_becomes_a_training_label(articles_app):
    at, db = articles_app
    from sqlalchemy import select

    from monitor.store.schema import labels

    assert at.selectbox(key="article").value is not None  # the newest article is open
    article_id = at.selectbox(key="article").value
    at.selectbox(key="label_topic_name").select("terrorism")
    at.radio(key="label_topic_value").set_value("is not about it")
    next(b for b in at.button if b.label == "Save topic label").click().run()
    assert_clean(at)
    assert "Saved: not about terrorism" in texts(at)
    with db.read() as conn:
        rows = conn.execute(select(labels.c.article_id, labels.c.kind, labels.c.label, labels.c.value, labels.c.analyst, labels.c.used_in_version)).all()
    assert [(r.article_id, r.kind, r.label, r.value, r.used_in_version) for r in rows] == [(article_id, "topic", "terrorism", 0, None)]
    assert rows[0].analyst  # the local analyst, recorded as the label's author
    # the Models page counts it as waiting for the next training
    at.switch_page("views/models.py").run()
    assert_clean(at)
    waiting = next(m for m in at.metric if m.label == "Labels waiting for training")
    assert waiting.value == "1"
