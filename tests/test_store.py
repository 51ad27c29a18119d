"""The store: schema from migrations, idempotent init, errors a user can act on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, func, insert, select, text

from monitor.errors import StoreError
from monitor.ingest import ingest_paths, store_parsed
from monitor.parse import parse_feed
from monitor.query import query_condition
from monitor.store import Database, utcnow
from monitor.store.migrate import current_revision, upgrade
from monitor.store.schema import articles, feeds, metadata, sightings
from tests.conftest import REPO


def _ours(obj, name, type_, reflected, compare_to):
    # The full-text index (FTS5's tables, PostgreSQL's search_vector column and its GIN index) is made by
    # migrations 0002 and 0004, outside the metadata: it is filled from Python, not by SQLAlchemy.
    return not (name or "").startswith(("articles_fts", "ix_articles_fts", "alembic_version", "search_vector"))


def _insert_old_article(conn, title: str, published: datetime, fetched: datetime) -> None:
    """An article as an older schema stores it (the current metadata names newer columns)."""
    conn.execute(
        text(
            "INSERT INTO articles (title, summary, content, source, published_at, fetched_at, title_hash, tag_status) "
            "VALUES (:title, '', '', 's', :published, :fetched, 'h', 'pending')"
        ),
        {"title": title, "published": published, "fetched": fetched},
    )


def _head() -> str:
    from alembic.script import ScriptDirectory

    from monitor.store.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config(Database("sqlite://"))).get_current_head()


def test_upgrade_marks_dates_that_were_the_fetch_time_as_estimated(db_url):
    db = Database(db_url)
    upgrade(db, "0002")  # before estimated dates were recorded
    fetched = utcnow().replace(microsecond=0)
    with db.engine.begin() as conn:
        for title, published in (("dated by the feed", datetime(2018, 9, 24, 13, 15)), ("no date: took the fetch time", fetched)):
            _insert_old_article(conn, title, published, fetched)
    db.init()
    with db.read() as conn:
        rows = dict(conn.execute(select(articles.c.title, articles.c.date_estimated)).all())
    assert rows == {"dated by the feed": False, "no date: took the fetch time": True}
    # the upgrade keeps full-text search working for articles stored after it (ingest indexes
    # what it stores; a row written by hand is indexed with index_stored)
    from monitor.browse import count_articles
    from monitor.filters import Filters
    from monitor.search_index import index_stored

    with db.write() as conn:
        _insert_old_article(conn, "Interpol red notice after the upgrade", fetched, fetched)
        new_id = conn.execute(select(articles.c.id).where(articles.c.title.like("Interpol%"))).scalar_one()
        index_stored(conn, db, [new_id])
    assert count_articles(db, Filters(query="interpol")) == 1
    db.dispose()


def test_migrations_build_exactly_the_schema(db):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_object": _ours}), metadata)
    assert diff == []


def test_init_is_idempotent_and_keeps_data(db):
    with db.write() as conn:
        conn.execute(insert(feeds).values(url="https://example.org/rss", created_at=utcnow(), tags=[]))
    again = Database(db.url)
    again.init()
    with again.read() as conn:
        assert conn.execute(select(feeds.c.url)).scalars().all() == ["https://example.org/rss"]
    again.dispose()


def test_the_newest_migration_file_names_alembics_head():
    # opening a store compares its revision with newest_revision() without loading alembic:
    # that holds only while each file is named for its revision and they form one chain
    from alembic.script import ScriptDirectory

    from monitor.store.migrate import MIGRATIONS, alembic_config, newest_revision

    script = ScriptDirectory.from_config(alembic_config(Database("sqlite://")))
    for rev in script.walk_revisions():
        assert Path(rev.path).name.startswith(f"{rev.revision}_"), rev.path
    assert script.get_heads() == [newest_revision()]
    assert len(list((MIGRATIONS / "versions").glob("*.py"))) == len(list(script.walk_revisions()))


def test_opening_an_up_to_date_store_does_not_load_alembic(sqlite_url):
    Database(sqlite_url).init()
    code = (
        "import sys; from monitor.store import Database; db = Database(sys.argv[1]); "
        "conn = db.read().__enter__(); print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    out = subprocess.run([sys.executable, "-c", code, sqlite_url], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_old_database_upgrades_in_place_and_becomes_searchable(sqlite_url):
    db = Database(sqlite_url)
    upgrade(db, "0001")  # as made by the first release, before full-text search
    now = utcnow()
    with db.engine.begin() as conn:
        _insert_old_article(conn, "Interpol red notice", now, now)
    db.init()
    assert current_revision(db) == _head()
    with db.read() as conn:
        assert conn.execute(select(articles.c.id).where(query_condition("interpol", db))).scalars().all() == [1]


def test_upgrade_indexes_stored_content_and_word_forms(db_url):
    # A store made before stemming (up to 0003 search read titles and summaries, words as
    # written): after the upgrade its articles are found by their content and by other forms.
    db = Database(db_url)
    upgrade(db, "0003")
    now = utcnow()
    with db.engine.begin() as conn:
        conn.execute(
            insert(articles),
            [
                dict(title="Hackers hit a hospital", summary="", content="<p>A <b>ransomware</b> gang</p>", lang="en",
                     source="s", published_at=now, fetched_at=now, title_hash="a"),
                dict(title="Дело о коррупции", summary="Задержан чиновник", content="", lang="ru",
                     source="s", published_at=now, fetched_at=now, title_hash="b"),
            ],
        )  # fmt: skip
    db.init()

    def found(query: str) -> list[int]:
        with db.read() as conn:
            return conn.execute(select(articles.c.id).where(query_condition(query, db)).order_by(articles.c.id)).scalars().all()

    assert found("ransomware") == [1]  # content only
    assert found("hacker") == [1]
    assert found("коррупция") == [2]
    assert found('"ransomware gang"') == [1]
    db.dispose()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_database_write_is_a_clear_error(sqlite_url, tmp_path):
    db = Database(sqlite_url)
    db.init()
    db.dispose()
    os.chmod(tmp_path / "monitor.db", 0o444)
    ro = Database(sqlite_url)
    with pytest.raises(StoreError, match="read-only"), ro.write() as conn:
        conn.execute(insert(feeds).values(url="https://example.org/x", created_at=utcnow(), tags=[]))


# Kill -9, concurrent readers and writers, read-only and full disks --------------------------------


def _feed(source: str, n: int, start: int = 0) -> bytes:
    items = "".join(
        f"<item><title>{source} story number {i} about police cooperation</title>"
        f"<link>https://{source.lower()}.example/news/{i}</link><guid>{source}-{i}</guid>"
        f"<description>Summary of story {i} with some words to index.</description></item>"
        for i in range(start, start + n)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{source}</title>{items}</channel></rss>'.encode()


def _write_feeds(folder, documents: int, items: int) -> None:
    folder.mkdir(exist_ok=True)
    for d in range(documents):
        (folder / f"feed{d:03}.xml").write_bytes(_feed(f"Src{d:03}", items))


def _counts(db) -> tuple[int, int, int]:
    with db.read() as conn:
        n_articles = conn.execute(select(func.count()).select_from(articles)).scalar_one()
        n_keys = conn.execute(select(func.count(func.distinct(articles.c.url_key)))).scalar_one()
        n_sightings = conn.execute(select(func.count()).select_from(sightings)).scalar_one()
    return n_articles, n_keys, n_sightings


def _integrity_ok(db) -> bool:
    if not db.is_sqlite:
        return True  # PostgreSQL's WAL recovery is the server's; what we check is our data
    with db.read() as conn:
        return conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def _live_session_members(sid: int) -> list[int]:
    live = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getsid(int(entry)) != sid:
                continue
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):  # zombies have exited; only the reaping is left
            live.append(int(entry))
    return live


def test_kill_9_during_ingest_keeps_whole_documents_and_a_rerun_completes(db_url, tmp_path):
    folder = tmp_path / "feeds"
    _write_feeds(folder, documents=80, items=50)
    db = Database(db_url)
    db.init()
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--db", db_url, "ingest", str(folder)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its parse workers share the session: we can find them after
    )
    try:
        deadline = time.monotonic() + 120
        while _counts(db)[0] < 500 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "ingest finished before it could be killed: make the batch larger"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()

    # the parse workers see their pipe close and exit: nothing of the killed run keeps running
    deadline = time.monotonic() + 15
    while _live_session_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _live_session_members(proc.pid) == []

    assert _integrity_ok(db)
    with db.read() as conn:
        per_source = dict(conn.execute(select(articles.c.source, func.count()).group_by(articles.c.source)).all())
    assert per_source and set(per_source.values()) == {50}  # whole documents only
    stored_before = sum(per_source.values())
    assert stored_before < 80 * 50

    stats = ingest_paths(db, [folder], hooks=False)  # the restart
    assert stats.new_articles == 80 * 50 - stored_before
    assert _counts(db) == (4000, 4000, 4000)
    assert _integrity_ok(db)
    db.dispose()


def test_readers_never_see_database_is_locked_while_a_writer_writes(db_url, tmp_path):
    writer_db, reader_db = Database(db_url), Database(db_url)
    writer_db.init()
    bodies = [_feed(f"W{d}", 100) for d in range(40)]
    parsed = [parse_feed(b) for b in bodies]
    errors: list[BaseException] = []
    reads = 0
    done = threading.Event()

    def read_loop() -> None:
        nonlocal reads
        while not done.is_set():
            try:
                with reader_db.read() as conn:
                    conn.execute(select(func.count()).select_from(articles)).scalar_one()
                    conn.execute(select(articles.c.title).order_by(articles.c.published_at.desc()).limit(20)).all()
                reads += 1
            except BaseException as e:  # noqa: BLE001 - any error is the failure we look for
                errors.append(e)
                return

    readers = [threading.Thread(target=read_loop) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        for p in parsed:
            store_parsed(writer_db, p)
    finally:
        done.set()
        for t in readers:
            t.join()
    assert errors == []
    assert reads > 0
    assert _counts(writer_db)[0] == 4000
    writer_db.dispose()
    reader_db.dispose()


def test_two_writers_storing_the_same_feeds_keep_one_copy(db_url):
    dbs = [Database(db_url), Database(db_url)]
    dbs[0].init()
    parsed = [parse_feed(_feed(f"P{d}", 60)) for d in range(15)]
    errors: list[BaseException] = []

    def poller(db, order):
        try:
            for p in order:
                store_parsed(db, p)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [
        threading.Thread(target=poller, args=(dbs[0], parsed)),
        threading.Thread(target=poller, args=(dbs[1], list(reversed(parsed)))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _counts(dbs[0]) == (900, 900, 900)
    for db in dbs:
        db.dispose()


def test_read_only_database_reads_and_refuses_writes_clearly(sqlite_url, tmp_path, capsys):
    # CI runs as root, which file permissions do not stop; SQLite's own read-only mode is honest.
    db = Database(sqlite_url)
    db.init()
    store_parsed(db, parse_feed(_feed("RO", 10)))
    db.dispose()
    ro_url = f"sqlite:///file:{tmp_path / 'monitor.db'}?mode=ro&uri=true"
    ro = Database(ro_url)
    with ro.read() as conn:
        assert conn.execute(select(func.count()).select_from(articles)).scalar_one() == 10
    with pytest.raises(StoreError, match="read-only"):
        store_parsed(ro, parse_feed(_feed("RO2", 10)))
    ro.dispose()

    feed = tmp_path / "more.xml"
    feed.write_bytes(_feed("RO3", 5))
    from monitor.cli import main

    code = main(["--db", ro_url, "ingest", str(feed)])
    err = capsys.readouterr().err
    assert code != 0
    assert "read-only" in err and "Traceback" not in err and err.strip().count("\n") == 0

    again = Database(sqlite_url)
    assert _integrity_ok(again)
    assert _counts(again)[0] == 10
    again.dispose()


def test_full_disk_is_a_clear_error_and_leaves_the_database_intact(sqlite_url):
    db = Database(sqlite_url)
    db.init()
    store_parsed(db, parse_feed(_feed("Before", 20)))
    with db.read() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
    db.dispose()

    # No tiny filesystem on a CI runner: cap the file at its current size plus a few pages,
    # which makes SQLite fail exactly as on a full disk (SQLITE_FULL).
    full = Database(sqlite_url)

    @event.listens_for(full.engine, "connect")
    def _cap(dbapi_conn, _record):
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 2}")

    with pytest.raises(StoreError, match="disk is full"):
        store_parsed(full, parse_feed(_feed("Big", 2000)))
    assert _counts(full)[0] == 20  # the failed document left nothing behind
    full.dispose()

    after = Database(sqlite_url)
    assert _integrity_ok(after)
    store_parsed(after, parse_feed(_feed("After", 20)))  # space again: writing works
    assert _counts(after)[0] == 40
    after.dispose()
