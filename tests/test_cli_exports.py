"""The CLI refuses what it cannot honour in one line (no store made by a typo, unknown topics and
sources, dates out of range), and exports read cleanly in pandas with clean links, estimated
dates and one order and format for the CLI and the dashboard."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import insert

from monitor.cli import main
from monitor.export import ARTICLE_COLUMNS, read_export
from monitor.store import Database
from monitor.store.schema import articles, tags
from tests.dashboard_app import Downloads, assert_clean, make_app

TITLES = [
    "Interpol #1 priority, says chief; \"red notice\" issued",
    "=HYPERLINK(\"http://evil\") corruption trial",
    "Europol: organised crime, in numbers",
]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def fill(db: Database) -> None:
    base = datetime(2025, 3, 1, 9, 0)
    with db.write() as conn:
        for i, title in enumerate(TITLES):
            when = base + timedelta(days=i)
            aid = conn.execute(
                insert(articles).values(
                    url_key=f"https://news.example.org/{i}", title=title, summary="s", content="", source="Example Wire",
                    link=f"https://www.news.example.org/{i}?id={i}&utm_source=rss&fbclid=abc#comments",
                    published_at=when, fetched_at=when, title_hash=hashlib.md5(title.encode()).hexdigest(), tag_status="tagged",
                    date_estimated=(i == 2),
                )
            ).inserted_primary_key[0]
            for label, score in (("interpol", 0.9), ("corruption", 0.6)):
                conn.execute(insert(tags).values(article_id=aid, kind="topic", target="", label=label, score=score, model_version="t", published_at=when))


@pytest.fixture
def store(db_url):
    db = Database(db_url)
    db.init()
    fill(db)
    yield db
    db.dispose()


# --- a mistyped --db --------------------------------------------------------------------------

READERS = [
    ("export", "articles"),
    ("export", "summary"),
    ("alerts", "list"),
    ("alerts", "inbox"),
    ("alerts", "check"),
    ("alerts", "deliver"),
    ("alerts", "remove", "x"),
    ("alerts", "add", "x", "--query", "interpol"),
    ("feeds", "list"),
    ("feeds", "export"),
    ("feeds", "remove", "1"),
    ("tag",),
]


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_a_mistyped_db_is_refused_and_nothing_is_created(tmp_path, capsys, args):
    missing = tmp_path / "typo" / "monitr.db"
    code, _, err = run(capsys, "--db", str(missing), *args)
    assert code != 0
    assert "there is no database at" in one_line_error(err)
    assert not missing.exists() and not missing.parent.exists()


def test_a_missing_postgresql_database_is_refused(capsys):
    from tests.conftest import PG_URL

    if not PG_URL:
        pytest.skip("MONITOR_TEST_POSTGRES_URL is unset")
    from sqlalchemy.engine import make_url

    url = make_url(PG_URL).set(database="monitor_no_such_database").render_as_string(hide_password=False)
    code, _, err = run(capsys, "--db", url, "export", "articles")
    assert code != 0 and "there is no database at" in one_line_error(err)


def test_commands_that_make_a_store_still_do(tmp_path, capsys):
    feed = tmp_path / "feed.xml"
    feed.write_bytes(b'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title><item><title>A story</title><link>https://s.example/a</link></item></channel></rss>')
    for n, args in enumerate([("init",), ("ingest", str(feed)), ("feeds", "add", "http://127.0.0.1:9/rss", "--allow-private-networks")]):
        target = tmp_path / f"new{n}" / "monitor.db"
        code, _, err = run(capsys, "--db", str(target), *args)
        assert code == 0, err
        assert target.is_file()


# --- unknown names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, said",
    [
        (("export", "articles", "--topic", "organised_crime"), "did you mean organized_crime?"),
        (("export", "summary", "--topic", "organised_crime"), "did you mean organized_crime?"),
        (("export", "articles", "--source", "Example Wir"), "did you mean 'Example Wire'?"),
        (("export", "summary", "--source", "example"), "did you mean 'Example Wire'?"),
        (("alerts", "add", "x", "--topic", "organised_crime"), "did you mean organized_crime?"),
        (("alerts", "add", "x", "--query", "y", "--source", "BBC"), "unknown source 'BBC'"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else None,
)
def test_unknown_topics_and_sources_are_refused_with_the_known_names(store, capsys, args, said):
    code, out, err = run(capsys, "--db", store.url, *args)
    assert code == 2 and out == ""
    line = one_line_error(err)
    assert said in line
    if "--topic" in args:
        assert "known topics: " in line and "interpol" in line


@pytest.mark.parametrize("command", ["articles", "summary"])
@pytest.mark.parametrize("option, value", [("--to", "9999-12-31"), ("--from", "9999-12-31"), ("--from", "0001-01-01"), ("--to", "2025-02-30")])
def test_dates_out_of_range_are_a_one_line_refusal(store, capsys, command, option, value):
    code, _, err = run(capsys, "--db", store.url, "export", command, option, value)
    assert code == 2
    assert value in one_line_error(err)


def test_an_open_ended_far_date_within_range_still_exports(store, capsys):
    code, out, err = run(capsys, "--db", store.url, "export", "articles", "--to", "2999-12-31")
    assert code == 0, err
    assert len(pd.read_csv(io.StringIO(out), comment="#")) == len(TITLES)


# --- what an export holds ------------------------------------------------------------------


@pytest.mark.parametrize("bom", [False, True])
def test_pandas_reads_the_export_with_comment_hash(store, capsys, tmp_path, bom):
    path = tmp_path / "out.csv"
    args = ["--db", store.url, "export", "articles", "--output", str(path)] + (["--bom"] if bom else [])
    assert run(capsys, *args)[0] == 0
    df = pd.read_csv(path, comment="#", encoding="utf-8-sig")
    assert list(df.columns) == list(ARTICLE_COLUMNS)
    assert len(df) == len(TITLES)
    # newest first; a '#' or ';' inside a quoted title is data, not a comment
    assert list(df["title"]) == [TITLES[2], "'" + TITLES[1], TITLES[0]]
    assert list(df["date_estimated"]) == [True, False, False]
    assert df["link"].tolist()[-1] == "https://www.news.example.org/0?id=0"
    assert df["original_link"].tolist()[-1] == "https://www.news.example.org/0?id=0&utm_source=rss&fbclid=abc#comments"
    assert df["topics"].tolist()[0] == "interpol;corruption"
    # the provenance block is plain '# ' lines and reads back
    text = path.read_text(encoding="utf-8-sig")
    assert text.startswith("# policing-press-monitor export")
    with path.open(encoding="utf-8-sig", newline="") as f:
        record, header, rows = read_export(f)
        rows = list(rows)
    assert record["export"] == "articles" and header == list(ARTICLE_COLUMNS) and len(rows) == len(TITLES)


def test_a_query_with_commas_and_formulas_stays_in_the_comment_lines(store, capsys):
    query = 'interpol OR "a,=HYPERLINK(1);b"'
    code, out, err = run(capsys, "--db", store.url, "export", "summary", "--query", query, "--group", "none")
    assert code == 0, err
    provenance = [line for line in out.splitlines() if line.startswith("#")]
    # a spreadsheet splitting these lines on , or ; never meets a cell that starts with a formula
    for line in provenance:
        for sep in (",", ";"):
            assert not any(cell.lstrip('"').startswith(("=", "+", "-", "@")) for cell in line.split(sep)[1:])
    record, _, _ = read_export(io.StringIO(out, newline=""))
    assert record["query"] == query


def test_the_dashboard_downloads_and_the_cli_export_agree(store, capsys, monkeypatch):
    downloads = Downloads(monkeypatch)
    at = make_app(monkeypatch, store.url).run()
    at.switch_page("views/articles.py").run()
    assert_clean(at)
    code, cli_text, err = run(capsys, "--db", store.url, "export", "articles")
    assert code == 0, err

    def table(data: str) -> pd.DataFrame:
        return pd.read_csv(io.StringIO(data), comment="#")

    cli = table(cli_text)
    # "Download this page" (the whole list here: one page); "Download all" is built on click by
    # the same write_articles_csv, which AppTest cannot click
    got = table(downloads.of(at, "dl_articles_page").decode("utf-8"))
    assert list(got.columns) == list(cli.columns)
    assert got["id"].tolist() == cli["id"].tolist()  # one order: newest first
    assert got["topics"].tolist() == cli["topics"].tolist() == ["interpol;corruption"] * len(TITLES)  # one format
    assert got["link"].tolist() == cli["link"].tolist()
