"""Every filter dimension is one declaration (monitor.filters.DIMENSIONS): its SQL condition and its
in-memory check must select the same articles, or an alert would fire on articles the Articles
page does not list (or miss ones it does). A new dimension adds its examples to EXAMPLES."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import and_, insert, select

from monitor.filters import DIMENSIONS, ArticleFacts, Filters, accepts, article_conditions
from monitor.search_index import index_stored
from monitor.store.schema import articles, tags

# (title, source, published_at, lang, topic, (stance target, stance label))
ARTICLES = [
    ("Interpol red notice for a banker", "TASS", datetime(2024, 1, 10, 23, 59), "en", "interpol", ("Interpol", "AGAINST")),
    ("Europol raid on a drugs lab", "Reuters", datetime(2024, 1, 11, 0, 0), "en", "organized_crime", ("Europol", "FAVOR")),
    ("Интерпол объявил розыск", "TASS", datetime(2024, 1, 12, 8, 0), "ru", "interpol", ("Interpol", "NONE")),
    ("Football results", "Reuters", datetime(2024, 1, 13), "en", None, None),
]

# Filters that each restrict one dimension (names must cover DIMENSIONS: see the last test)
EXAMPLES: dict[str, list[Filters]] = {
    "dates": [Filters(date_to=date(2024, 1, 10)), Filters(date_from=date(2024, 1, 11), date_to=date(2024, 1, 12))],
    "query": [Filters(query="interpol OR raid"), Filters(query='"red notice"'), Filters(query="NOT football")],
    "topics": [Filters(topics=("interpol",)), Filters(topics=("interpol", "organized_crime"))],
    "sources": [Filters(sources=("Reuters",)), Filters(sources=("TASS", "Reuters"), query="interpol")],
    "stance": [Filters(stance="AGAINST"), Filters(target="Interpol"), Filters(stance="NONE", target="Interpol")],
    "languages": [Filters(languages=("ru",)), Filters(languages=("en",), sources=("TASS",))],
}


@pytest.fixture
def stored(db):
    facts: dict[int, ArticleFacts] = {}
    with db.write() as conn:
        for i, (title, source, published, lang, topic, stance) in enumerate(ARTICLES):
            aid = conn.execute(
                insert(articles)
                .values(title=title, summary="", content="", lang=lang, source=source, published_at=published, fetched_at=published, title_hash=str(i))
                .returning(articles.c.id)
            ).scalar_one()
            index_stored(conn, db, [aid])
            tagset = set()
            if topic:
                conn.execute(insert(tags).values(article_id=aid, kind="topic", target="", label=topic, score=0.9, model_version="t", published_at=published))
                tagset.add(("topic", "", topic))
            if stance:
                conn.execute(insert(tags).values(article_id=aid, kind="stance", target=stance[0], label=stance[1], score=0.8, model_version="s", published_at=published))
                tagset.add(("stance", stance[0], stance[1]))
            facts[aid] = ArticleFacts(source, published, lang, frozenset(tagset), title, "", "")
    return facts


def _in_sql(db, f: Filters) -> set[int]:
    with db.read() as conn:
        return set(conn.execute(select(articles.c.id).where(and_(True, *article_conditions(f, db)))).scalars())


@pytest.mark.parametrize("name", [d.name for d in DIMENSIONS])
def test_sql_and_in_memory_select_the_same_articles(db, stored, name):
    for f in EXAMPLES[name]:
        selected = _in_sql(db, f)
        assert selected == {aid for aid, facts in stored.items() if accepts(f, facts)}, f
        assert selected and selected != set(stored), f"{f} should pick some articles, not all"


@pytest.mark.parametrize("name", [d.name for d in DIMENSIONS])
def test_each_dimension_round_trips_through_the_url_and_is_said_in_words(name):
    for f in EXAMPLES[name]:
        assert Filters.from_params(f.to_params()) == f
        assert f.active() >= {name}
        assert f.sentence() != "all articles"
    assert Filters().sentence() == "all articles"


def test_every_dimension_has_examples():
    assert set(EXAMPLES) == {d.name for d in DIMENSIONS}


def test_a_language_filter_narrows_alerts_and_exports_alike(db, stored, tmp_path, capsys):
    from monitor import alerts
    from monitor.cli import main

    alert = alerts.add_alert(db, "Russian Interpol", "", topic="interpol", languages=["RU"])
    assert alerts.get_alert(db, alert).describe() == "(any words) topic=interpol lang=ru"
    russian = [aid for aid, facts in stored.items() if facts.lang == "ru"]
    assert alerts.match_new_articles(db, list(stored)) == {alert: russian}  # in memory
    assert [r.id for r in alerts.preview_alert(db, alert).rows] == russian  # in SQL
    out = tmp_path / "ru.csv"
    assert main(["--db", db.url, "export", "articles", "--lang", "ru", "--output", str(out)]) == 0
    assert "Интерпол" in out.read_text(encoding="utf-8") and "Europol" not in out.read_text(encoding="utf-8")


def test_the_sidebar_offers_the_languages_stored_and_the_page_says_which(monkeypatch, db_url):
    from monitor.store import Database
    from tests.dashboard_app import assert_clean, make_app, texts
    from tests.dashboard_data import fill
    from tests.factories import add_article

    db = Database(db_url)
    db.init()
    fill(db)
    add_article(db, "Интерпол объявил розыск", "2026-10-20", lang="ru")
    at = make_app(monkeypatch, db_url).run()
    at.switch_page("views/articles.py").run()
    assert_clean(at)
    picker = at.sidebar.multiselect(key="lang")
    assert "ru" in picker.options
    picker.select("ru").run()
    assert_clean(at)
    assert list(at.dataframe[0].value["title"]) == ["Интерпол объявил розыск"]
    assert "languages ru" in texts(at)
    db.dispose()
