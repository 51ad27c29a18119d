"""Filters: the same shape in the URL, in provenance and in SQL."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import and_, insert, select

from monitor.errors import InputError, QueryError
from monitor.filters import Filters, article_conditions, parse_date
from monitor.search_index import index_stored
from monitor.store.schema import articles, tags


def test_params_round_trip():
    f = Filters(date_from=date(2024, 1, 1), date_to=date(2024, 1, 31), query='"red notice"', topics=("interpol", "corruption"), sources=("TASS",), stance="AGAINST", target="Interpol")
    assert Filters.from_params(f.to_params()) == f
    assert Filters.from_params({}) == Filters()


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"date_from": date(2024, 2, 1), "date_to": date(2024, 1, 1)}, InputError),
        ({"stance": "MAYBE"}, InputError),
        ({"query": '"unclosed'}, QueryError),
    ],
)
def test_bad_filters_are_refused(kwargs, error):
    with pytest.raises(error):
        Filters(**kwargs)


@pytest.mark.parametrize("value", ["2024-13-01", "yesterday", "01/02/2024"])
def test_bad_date_is_one_line(value):
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        parse_date(value)


def test_conditions_select_the_filtered_articles(db):
    rows = [
        # (title, source, published, topic, stance)
        ("Interpol red notice", "TASS", datetime(2024, 1, 10, 23, 59), "interpol", "AGAINST"),
        ("Europol raid", "Reuters", datetime(2024, 1, 11, 0, 0), "organized_crime", "FAVOR"),
        ("Football", "Reuters", datetime(2024, 1, 12), None, None),
    ]
    with db.write() as conn:
        for title, source, published, topic, stance in rows:
            aid = conn.execute(
                insert(articles).values(title=title, summary="", content="", source=source, published_at=published, fetched_at=published, title_hash=title).returning(articles.c.id)
            ).scalar_one()
            index_stored(conn, db, [aid])
            if topic:
                conn.execute(insert(tags).values(article_id=aid, kind="topic", target="", label=topic, score=0.9, model_version="t", published_at=published))
                conn.execute(insert(tags).values(article_id=aid, kind="stance", target="Interpol", label=stance, score=0.8, model_version="s", published_at=published))

    def titles(f: Filters) -> list[str]:
        with db.read() as conn:
            return conn.execute(select(articles.c.title).where(and_(True, *article_conditions(f, db))).order_by(articles.c.id)).scalars().all()

    assert titles(Filters(date_to=date(2024, 1, 10))) == ["Interpol red notice"]  # the whole last day counts
    assert titles(Filters(date_from=date(2024, 1, 11))) == ["Europol raid", "Football"]
    assert titles(Filters(sources=("Reuters",), query="raid OR football")) == ["Europol raid", "Football"]
    assert titles(Filters(topics=("interpol", "organized_crime"))) == ["Interpol red notice", "Europol raid"]
    assert titles(Filters(stance="AGAINST", target="Interpol")) == ["Interpol red notice"]
    assert titles(Filters(topics=("interpol",)), ) == ["Interpol red notice"]
