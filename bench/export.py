"""Export a million articles: rows per second and whether memory stays flat; coverage query times.

    python bench/export.py [--rows 1000000] [--db PATH] [--keep] [--postgres URL]

Fills a SQLite file (made by our migrations) with generated articles and tags over one year,
written straight with executemany, then runs `write_articles_csv` and `write_summary_csv` to
files, sampling the process's resident memory as rows go out, and times the Coverage page's
`coverage_counts` calls. A --db that already holds the rows is reused. With --postgres (an empty
database, or a URL whose `options=-csearch_path=…` names an empty schema) the same rows are copied
there and measured too.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.coverage import coverage_counts  # noqa: E402
from monitor.export import write_articles_csv, write_summary_csv  # noqa: E402
from monitor.filters import Filters  # noqa: E402
from monitor.store import Database  # noqa: E402

TOPICS = ["interpol", "cybercrime", "terrorism", "organized_crime", "drug_trafficking", "economic_crime", "corruption", "money_laundering", "illegal_migration"]
TARGETS = ["Interpol", "Europol"]
WORDS = "police arrest court extradition notice fraud bank hacker cartel border smuggling minister report investigation".split()
START = datetime(2025, 1, 1)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def generate(path: Path, n: int) -> None:
    db = Database(f"sqlite:///{path}")
    db.init()
    db.dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    rnd = random.Random(2025)
    fmt = "%Y-%m-%d %H:%M:%S.%f"

    def article_rows():
        for i in range(1, n + 1):
            when = (START + timedelta(seconds=rnd.randrange(365 * 86400))).strftime(fmt)
            words = " ".join(rnd.choices(WORDS, k=8))
            title = ("=" if i % 97 == 0 else "") + f"{words.capitalize()} {i}"
            yield (i, f"https://news{i % 300}.example/{i}", f"https://news{i % 300}.example/{i}", f"urn:{i}", title, f"{words}. " * 4, "", f"Outlet {i % 300}", when, when, f"{i:032x}", "tagged")

    con.executemany(
        "INSERT INTO articles(id, url_key, link, guid, title, summary, content, source, published_at, fetched_at, title_hash, tag_status) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        article_rows(),
    )
    con.commit()

    def tag_rows():
        for article_id, when in con.execute("SELECT id, published_at FROM articles"):
            r = rnd.random()
            for topic in rnd.sample(TOPICS, 0 if r < 0.4 else 1 if r < 0.85 else 2):
                yield (article_id, "topic", "", topic, round(0.5 + rnd.random() / 2, 4), "topics-bench", when)
            if r < 0.3:
                yield (article_id, "stance", rnd.choice(TARGETS), rnd.choice(["FAVOR", "AGAINST", "NONE"]), 0.7, "stance-bench", when)

    # executemany needs the rows while the SELECT above is still open on the same connection
    con.executemany("INSERT INTO tags VALUES (?,?,?,?,?,?,?)", list(tag_rows()))
    con.commit()
    con.close()


def copy_to_postgres(sqlite_path: Path, url: str) -> Database:
    """The same rows in PostgreSQL (COPY), for the PostgreSQL half of the figures."""
    import psycopg
    from sqlalchemy.engine import make_url

    db = Database(url)
    db.init()
    with db.read() as conn:
        if conn.exec_driver_sql("SELECT count(*) FROM articles").scalar():
            return db
    src = sqlite3.connect(sqlite_path)
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as pg, pg.cursor() as cur:
        for table, cols in (
            ("articles", "id, url_key, link, guid, title, summary, content, source, published_at, fetched_at, title_hash, tag_status"),
            ("tags", "article_id, kind, target, label, score, model_version, published_at"),
        ):
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in src.execute(f"SELECT {cols} FROM {table}"):
                    copy.write_row(row)
        cur.execute("SELECT setval('articles_id_seq', (SELECT max(id) FROM articles))")
    with psycopg.connect(plain, autocommit=True) as pg:
        pg.execute("VACUUM ANALYZE articles")
        pg.execute("VACUUM ANALYZE tags")
    return db


class Sink:
    """A file that samples resident memory every `every` rows (one CSV row = one write call)."""

    def __init__(self, f, every: int):
        self.f, self.every, self.calls, self.samples = f, every, 0, []

    def write(self, s: str) -> int:
        self.calls += 1
        if self.calls % self.every == 0:
            self.samples.append(rss_mb())
        return self.f.write(s)


def timed(label: str, fn, repeat: int = 3):
    best = float("inf")
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    print(f"  {label:<58} {best * 1000:8.0f} ms  ({len(result)} rows)")
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, help="SQLite file to fill (or reuse); default: a temporary one")
    ap.add_argument("--keep", action="store_true", help="keep the temporary database")
    ap.add_argument("--postgres", metavar="URL", help="also copy the rows into this (empty) PostgreSQL database or schema and measure there")
    args = ap.parse_args()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.processor())
    print(f"machine: {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores, {cpu}, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, load average {os.getloadavg()[0]:.1f} at start")

    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    path = args.db or work / "bench.db"
    have = 0
    if path.exists():
        with sqlite3.connect(path) as con:
            have = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    if have != args.rows:
        if path.exists():
            raise SystemExit(f"{path} holds {have} articles, not {args.rows}: remove it or pick another --db")
        t = time.perf_counter()
        generate(path, args.rows)
        print(f"generated {args.rows:,} articles with tags in {time.perf_counter() - t:.0f} s")
    db = Database(f"sqlite:///{path}")
    db.init()

    print("export articles (CSV, every row, to a file):")
    out_path = work / "articles.csv"
    base = rss_mb()
    with open(out_path, "w", encoding="utf-8", newline="") as f:
        sink = Sink(f, every=max(args.rows // 20, 1))
        t = time.perf_counter()
        n = write_articles_csv(db, Filters(), sink)
        elapsed = time.perf_counter() - t
    samples = sink.samples
    print(f"  {n:,} rows in {elapsed:.1f} s = {n / elapsed:,.0f} rows/s; file {out_path.stat().st_size / 1e6:,.0f} MB")
    print(f"  resident memory: {base:.0f} MB before; during the export min {min(samples):.0f} / max {max(samples):.0f} MB "
          f"(first 10 % of rows {samples[1]:.0f} MB, last {samples[-1]:.0f} MB); peak of the process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

    print("export summary (CSV):")
    t = time.perf_counter()
    with open(work / "summary.csv", "w", encoding="utf-8", newline="") as f:
        rows = write_summary_csv(db, Filters(), f, by="day", group=("topic",))
    print(f"  per day × topic over a year: {rows:,} rows in {(time.perf_counter() - t) * 1000:.0f} ms")

    coverage_figures(db, "SQLite")
    db.dispose()
    if args.postgres:
        t = time.perf_counter()
        pg = copy_to_postgres(path, args.postgres)
        print(f"copied into PostgreSQL in {time.perf_counter() - t:.0f} s")
        t = time.perf_counter()
        with open(work / "articles-pg.csv", "w", encoding="utf-8", newline="") as f:
            sink = Sink(f, every=max(args.rows // 20, 1))
            n = write_articles_csv(pg, Filters(), sink)
        elapsed = time.perf_counter() - t
        print(f"PostgreSQL export articles: {n:,} rows in {elapsed:.1f} s = {n / elapsed:,.0f} rows/s; "
              f"resident memory during it {min(sink.samples):.0f}-{max(sink.samples):.0f} MB")
        coverage_figures(pg, "PostgreSQL")
        pg.dispose()
    cleanup(work, path, args)
    return 0


def coverage_figures(db, name: str) -> None:
    print(f"coverage_counts on {name} (best of 3):")
    year = Filters(date_from=date(2025, 1, 1), date_to=date(2025, 12, 31))
    timed("per day, all topics, one year", lambda: coverage_counts(db, year, "day", ("topic",)))
    timed("per week, all topics, one year", lambda: coverage_counts(db, year, "week", ("topic",)))
    timed("per day, one topic, one year", lambda: coverage_counts(db, Filters(topics=("interpol",)), "day", ("topic",)))
    timed("per day, stance toward Interpol, one year", lambda: coverage_counts(db, Filters(target="Interpol"), "day", ("stance",)))
    timed("per day, all articles (no group), one year", lambda: coverage_counts(db, year, "day", ()))
    timed("per day, topics, query '\"court extradition\"' (~4 %), one year", lambda: coverage_counts(db, Filters(query='"court extradition"'), "day", ("topic",)), repeat=1)
    timed("per month, topic × source, one year", lambda: coverage_counts(db, year, "month", ("topic", "source")), repeat=1)
    timed("per day, all topics, GROUP BY path (for comparison)", lambda: coverage_counts(db, year, "day", ("topic",), strategy="groupby"), repeat=1)


def cleanup(work: Path, path: Path, args) -> None:
    for p in work.iterdir():
        if p.suffix == ".csv" or not (args.keep or args.db):
            p.unlink()
    if args.keep and not args.db:
        print(f"kept {path}")
    elif not args.db:
        work.rmdir()


if __name__ == "__main__":
    raise SystemExit(main())
