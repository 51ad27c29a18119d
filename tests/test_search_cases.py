"""One search language, three places that run it: the cases in search_cases.toml (query,
articles, the ones it must match) give the same answer on SQLite, on PostgreSQL and in the alert
matcher that runs on freshly ingested articles.

Each backend gets one store holding every case's articles (a case only looks at its own), indexed
by the same `monitor.search_index` call that ingest makes.
"""

from __future__ import annotations

import tomllib
import uuid
from pathlib import Path

import pytest
from sqlalchemy import and_, create_engine, insert, select, text

from monitor.alerts import add_alert, match_new_articles
from monitor.query import parse_query, query_condition
from monitor.search_index import index_stored
from monitor.store import Database, utcnow
from monitor.store.schema import articles
from tests.conftest import PG_URL, _pg_schema_url

CASES = tomllib.loads((Path(__file__).with_name("search_cases.toml")).read_text(encoding="utf-8"))["case"]


def _fill(db: Database) -> dict[int, tuple[int, str]]:
    """Store every case's articles; returns {article id: (case number, document id)}."""
    now = utcnow()
    where: dict[int, tuple[int, str]] = {}
    with db.write() as conn:
        for n, case in enumerate(CASES):
            for doc in case["doc"]:
                article_id = conn.execute(
                    insert(articles)
                    .values(
                        title=doc.get("title", ""),
                        summary=doc.get("summary", ""),
                        content=doc.get("content", ""),
                        lang=doc.get("lang") or None,
                        source="cases",
                        published_at=now,
                        fetched_at=now,
                        title_hash=f"{n}-{doc['id']}",
                    )
                    .returning(articles.c.id)
                ).scalar_one()
                where[article_id] = (n, doc["id"])
        index_stored(conn, db, where)
    return where


def _answers_from_sql(db: Database, where: dict[int, tuple[int, str]]) -> list[set[str]]:
    answers: list[set[str]] = []
    with db.read() as conn:
        for n, case in enumerate(CASES):
            ids = [i for i, (c, _) in where.items() if c == n]
            found = conn.execute(select(articles.c.id).where(and_(articles.c.id.in_(ids), query_condition(case["query"], db)))).scalars()
            answers.append({where[i][1] for i in found})
    return answers


@pytest.fixture(scope="module")
def sqlite_answers(tmp_path_factory) -> list[set[str]]:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('cases') / 'monitor.db'}")
    try:
        return _answers_from_sql(db, _fill(db))
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def postgres_answers() -> list[set[str]]:
    if not PG_URL:
        pytest.skip("MONITOR_TEST_POSTGRES_URL is unset: PostgreSQL tests skipped")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = Database(_pg_schema_url(PG_URL, schema))
    try:
        return _answers_from_sql(db, _fill(db))
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def alert_answers(tmp_path_factory) -> list[set[str]]:
    """Every case's query saved as an alert; the new articles matched as ingest does."""
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('alerts') / 'monitor.db'}")
    try:
        where = _fill(db)
        alert_of = {add_alert(db, f"case {n}", case["query"]): n for n, case in enumerate(CASES)}
        matched = match_new_articles(db, sorted(where))
        answers: list[set[str]] = [set() for _ in CASES]
        for alert_id, ids in matched.items():
            n = alert_of[alert_id]
            answers[n] = {where[i][1] for i in ids if where[i][0] == n}
        return answers
    finally:
        db.dispose()


_IDS = [case["name"] for case in CASES]


@pytest.mark.parametrize("n", range(len(CASES)), ids=_IDS)
def test_sqlite_finds_the_expected_articles(sqlite_answers, n):
    assert sqlite_answers[n] == set(CASES[n]["expect"]), CASES[n]["query"]


@pytest.mark.parametrize("n", range(len(CASES)), ids=_IDS)
def test_postgresql_finds_the_same(postgres_answers, n):
    assert postgres_answers[n] == set(CASES[n]["expect"]), CASES[n]["query"]


@pytest.mark.parametrize("n", range(len(CASES)), ids=_IDS)
def test_alerts_match_the_same(alert_answers, n):
    assert alert_answers[n] == set(CASES[n]["expect"]), CASES[n]["query"]


def test_the_cases_are_well_formed():
    for case in CASES:
        parse_query(case["query"])  # raises on a typo in the file
        ids = [d["id"] for d in case["doc"]]
        assert len(ids) == len(set(ids)), case["name"]
        assert set(case["expect"]) <= set(ids), case["name"]
    assert sum(case["name"].startswith("unicode ") for case in CASES) == 20
