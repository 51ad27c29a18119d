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


def _click_row(at, i: int) -> int:
    """Click row i of the Articles table (st.dataframe's row selection); returns its article id."""
    at.session_state["articles_table"] = {"selection": {"rows": [i], "columns": [], "cells": []}}
    at.run()
    assert_clean(at)
    return int(at.dataframe[0].value["id"][i])


def test_the_table_shows_topics_stance_and_id_whole_and_a_row_click_opens_the_article(articles_app):
    import json

    at, _ = articles_app
    table = at.dataframe[0]
    config = json.loads(table.proto.columns)
    for column in ("topics", "stance", "id"):  # wide enough for their text, not the narrow default
        width = config[column].get("width")
        assert isinstance(width, int) and width >= 72 or width in ("medium", "large"), (column, config[column])
    assert table.proto.selection_mode  # rows are selectable: the article is chosen by clicking
    assert not [s for s in at.selectbox if s.label == "Article"]  # no long select box
    article_id = _click_row(at, 3)
    assert f"article {article_id}" in texts(at)


def test_the_label_form_starts_empty_and_resets_on_a_new_article(articles_app):
    at, _ = articles_app
    first = _click_row(at, 0)
    assert at.selectbox(key=f"label_topic_name_{first}").value is None
    assert at.radio(key=f"label_topic_value_{first}").value is None
    assert at.selectbox(key=f"label_stance_target_{first}").value is None
    assert at.radio(key=f"label_stance_value_{first}").value is None
    # saving with nothing chosen stores nothing and says what is missing
    next(b for b in at.button if b.label == "Save stance label").click().run()
    assert "Choose a target and a stance" in texts(at)
    at.selectbox(key=f"label_topic_name_{first}").select("terrorism")
    at.radio(key=f"label_topic_value_{first}").set_value("is about it").run()
    second = _click_row(at, 1)
    assert second != first
    assert at.selectbox(key=f"label_topic_name_{second}").value is None
    assert at.radio(key=f"label_topic_value_{second}").value is None


def test_correcting_a_topic_becomes_a_training_label(articles_app):
    at, db = articles_app
    from sqlalchemy import select

    from monitor.store.schema import labels

    assert "Click a row of the table" in texts(at)  # no article is open until its row is clicked
    article_id = _click_row(at, 0)
    at.selectbox(key=f"label_topic_name_{article_id}").select("terrorism")
    at.radio(key=f"label_topic_value_{article_id}").set_value("is not about it")
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
