"""The search language: what analysts type, what it finds, and clear errors for what it cannot read.

The same query must find the same articles in SQL (FTS5 / tsvector) and in memory (alerts).
"""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from monitor.errors import QueryError
from monitor.query import parse_query, query_condition
from monitor.search_index import index_stored
from monitor.store import utcnow
from monitor.store.schema import articles

CORPUS = {
    "notice": ("Interpol issues red notice", "Extradition of a fugitive banker requested"),
    "ransom": ("Ransomware gang hits hospital", "A cybercrime wave across Europe"),
    "football": ("Football results", "Interpol Cup: the police team won at football"),
    "russian": ("Экстрадиция задержанного", "Интерпол объявил его в международный розыск"),
    "accents": ("Café owner charged", "Blanchiment d'argent présumé à Genève"),
    "punct": ("E-mail fraud ring", "U.S. authorities arrest 12 in e-mail scam"),
}

CASES = [
    ("interpol", {"notice", "football"}),
    ("INTERPOL", {"notice", "football"}),
    ('"red notice"', {"notice"}),
    ('"notice red"', set()),
    ("interpol NOT football", {"notice"}),
    ("interpol AND NOT football", {"notice"}),
    ("interpol and extradition", {"notice"}),
    ("(ransomware OR football) AND NOT interpol", {"ransom"}),
    ("ransomware OR extradition", {"notice", "ransom"}),
    ("NOT interpol", {"ransom", "russian", "accents", "punct"}),
    ("экстрадиц*", {"russian"}),
    ("интерпол", {"russian"}),
    ("extradit*", {"notice"}),
    ('"international" OR "международный розыск"', {"russian"}),
    ("e-mail", {"punct"}),
    ("genève", {"accents"}),
    ("международный", {"russian"}),
    ("(zz+)+$", set()),  # regex syntax is just words and punctuation here
    ("cybercrime (europe OR asia)", {"ransom"}),
    ("", set(CORPUS)),
]


@pytest.fixture
def corpus_db(db):
    now = utcnow()
    ids = {}
    with db.write() as conn:
        for key, (title, summary) in CORPUS.items():
            ids[key] = conn.execute(
                insert(articles)
                .values(title=title, summary=summary, content="", source="test", published_at=now, fetched_at=now, title_hash=key)
                .returning(articles.c.id)
            ).scalar_one()
        index_stored(conn, db, ids.values())
    return db, {v: k for k, v in ids.items()}


@pytest.mark.parametrize("query, expected", CASES)
def test_sql_search_finds_what_the_analyst_means(corpus_db, query, expected):
    db, keys = corpus_db
    with db.read() as conn:
        found = {keys[i] for i in conn.execute(select(articles.c.id).where(query_condition(parse_query(query), db))).scalars()}
    assert found == expected


@pytest.mark.parametrize("query, expected", CASES)
def test_in_memory_match_agrees_with_sql(query, expected):
    q = parse_query(query)
    assert {k for k, (t, s) in CORPUS.items() if q.matches(f"{t} {s}")} == expected


def test_accented_words_match_as_written():
    assert parse_query("café").matches("Café owner charged")
    assert parse_query("genève").matches("à Genève")


@pytest.mark.parametrize(
    "query, message",
    [
        ('"red notice', "unclosed quote"),
        ("(interpol OR europol", "never closed"),
        ("interpol)", "no matching"),
        ("()", "empty parentheses"),
        ("AND interpol", "before it"),
        ("interpol AND", "after it"),
        ("interpol OR", "missing after OR"),
        ("NOT", "NOT needs a term"),
        ("+$", "no words"),
        ("(" * 40 + "a" + ")" * 40, "nested"),
        ("a " * 100, "more than 64 terms"),
        ("x" * 2000, "longer than"),
    ],
)
def test_malformed_query_gives_one_line_message(query, message):
    with pytest.raises(QueryError, match=message) as err:
        parse_query(query)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("query", ['title:foo', 'NEAR(a b)', 'foo^', '"a" * OR', "a'b", "col:=1--", "%_%"])
def test_fts_and_sql_syntax_is_plain_text(corpus_db, query):
    db, _ = corpus_db
    try:
        q = parse_query(query)
    except QueryError:
        return  # refused with a message is fine; a crash is not
    with db.read() as conn:
        conn.execute(select(articles.c.id).where(query_condition(q, db))).all()
