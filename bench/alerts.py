"""What alerts add to ingest: 10 000 generated articles ingested without alerts and with 20.

    python bench/alerts.py [--articles 10000] [--alerts 20] [--rounds 2]

Writes generated RSS files (100 items each) to a temp folder and ingests them with
`ingest_paths` (the `ingest` command: sandboxed parse, normalise, dedup, store, tag, alerts) into
fresh SQLite files, alternating runs without and with the alerts; the best run of each counts.
Also times `match_new_articles` alone on the stored articles (the matching pass by itself, with
the inbox writes and queued messages), so the cost is visible apart from ingest's own noise.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, func, select  # noqa: E402

from monitor import alerts  # noqa: E402
from monitor.ingest import ingest_paths  # noqa: E402
from monitor.store import Database  # noqa: E402
from monitor.store.schema import alert_matches, articles, deliveries  # noqa: E402

WORDS = (
    "police arrest court extradition notice fraud bank hacker cartel border smuggling minister report "
    "investigation raid network suspect charges trial prosecutor ransomware bribery laundering migrants"
).split()
FILLER = (
    "weather football election budget festival traffic school hospital market energy city council "
    "river train museum concert harvest prices housing teachers doctors airport bridge park summer"
).split()
SPECIAL = ["Interpol", "Europol", "red notice", "money laundering", "ransomware", "cocaine", "terrorist", "human trafficking"]

ALERTS = [
    ("interpol", "interpol", {}),
    ("red notices", '"red notice"', {}),
    ("europol raids", "europol AND raid", {}),
    ("laundering", '"money laundering" OR laundering', {}),
    ("ransomware", "ransomware OR hacker*", {}),
    ("cocaine", "cocaine AND (port OR border)", {}),
    ("terror", "terrorist NOT football", {}),
    ("trafficking", '"human trafficking"', {}),
    ("bribery", "bribery OR corruption", {}),
    ("extradition", "extradit*", {}),
    ("cartels", "cartel AND (arrest OR raid)", {}),
    ("prosecutors", "prosecutor AND trial", {}),
    ("border", "border AND smuggling", {}),
    ("minister", "minister AND (fraud OR bribery)", {}),
    ("fraud", "fraud NOT bank", {}),
    ("interpol topic", "", {"topic": "interpol"}),
    ("cyber topic", "network", {"topic": "cybercrime"}),
    ("migrants", "migrants", {"cadence": "hourly"}),
    ("suspects", '"suspect charges"', {"cadence": "daily"}),
    ("notice", "notice AND court", {}),
]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip() or str(os.cpu_count())
    return f"{cores} cores (nproc), {cpu}, Python {platform.python_version()}"


def write_feeds(folder: Path, n: int, per_file: int = 100) -> None:
    rnd = random.Random(42)
    start = datetime(2026, 1, 1)
    for f in range((n + per_file - 1) // per_file):
        items = []
        for i in range(f * per_file, min(n, (f + 1) * per_file)):
            # most news is not about policing: a fifth of the items carry policing words, and
            # about a tenth of all items match at least one alert
            policing = rnd.random() < 0.2
            words = rnd.choices(FILLER, k=6) + (rnd.choices(WORDS, k=2) if policing else [])
            if policing and rnd.random() < 0.5:
                words.insert(rnd.randrange(len(words)), rnd.choice(SPECIAL))
            title = " ".join(words).capitalize()
            summary = " ".join(rnd.choices(FILLER, k=30) + (rnd.choices(WORDS, k=3) if policing else []))
            when = format_datetime(start + timedelta(minutes=7 * i))
            items.append(
                f"<item><title>{escape(title)}</title><link>https://news{f % 7}.example.org/{i}</link>"
                f"<guid>g{i}</guid><pubDate>{when}</pubDate><description>{escape(summary)}</description></item>"
            )
        (folder / f"feed{f:04d}.xml").write_text(
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Source {f % 7}</title>{"".join(items)}</channel></rss>'
        )


def add_alerts(db, n: int, hook: str) -> None:
    for i in range(n):
        name, query, options = ALERTS[i % len(ALERTS)]
        alerts.add_alert(db, f"{name} {i}", query, notify=[hook], allow_private=True, **options)


def run(folder: Path, workdir: Path, n_alerts: int, tag: str) -> tuple[float, Database]:
    db = Database(f"sqlite:///{workdir / f'{tag}.db'}")
    db.init()
    if n_alerts:
        add_alerts(db, n_alerts, "json://127.0.0.1:9/hook")  # queued only: nothing is sent during ingest
    t0 = time.perf_counter()
    stats = ingest_paths(db, [folder])
    elapsed = time.perf_counter() - t0
    assert stats.new_articles > 0
    return elapsed, db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--alerts", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "feeds"
        folder.mkdir()
        write_feeds(folder, args.articles)
        without, with_alerts = [], []
        db = None
        for r in range(args.rounds):
            for n_alerts, times in ((0, without), (args.alerts, with_alerts)):
                elapsed, db = run(folder, tmp, n_alerts, f"r{r}a{n_alerts}")
                times.append(elapsed)
                print(f"  round {r + 1}: {n_alerts:2d} alerts: ingest {elapsed:6.2f} s")
                if n_alerts == 0:
                    db.dispose()
        with db.read() as conn:
            stored = conn.execute(select(func.count()).select_from(articles)).scalar_one()
            matches = conn.execute(select(func.count()).select_from(alert_matches)).scalar_one()
            queued = conn.execute(select(func.count()).select_from(deliveries)).scalar_one()
            ids = conn.execute(select(articles.c.id)).scalars().all()
        # the matching pass alone, on the same articles, inbox emptied first
        with db.write() as conn:
            conn.execute(delete(deliveries))
            conn.execute(delete(alert_matches))
        t0 = time.perf_counter()
        alerts.match_new_articles(db, ids)
        alone = time.perf_counter() - t0
        db.dispose()
    base, loaded = min(without), min(with_alerts)
    print(f"articles stored: {stored}, alert matches: {matches}, messages queued: {queued}")
    print(f"ingest without alerts: {base:.2f} s; with {args.alerts} alerts: {loaded:.2f} s")
    print(f"alerts add {100 * (loaded - base) / base:+.1f} % to ingest time (best of {args.rounds} rounds each)")
    print(f"matching pass alone: {alone:.2f} s for {len(ids)} articles x {args.alerts} alerts = {100 * alone / base:.1f} % of ingest time")


if __name__ == "__main__":
    main()
