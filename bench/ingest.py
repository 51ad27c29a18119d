"""Ingest throughput beside feedparser's own parse rate, on the same bytes, in the same run.

    python bench/ingest.py [--entries 100000] [--db URL] [--with-hooks]
    python bench/ingest.py --first-ingest [--rounds 3]

`--first-ingest` is the acceptance measurement: `python -m monitor ingest` of the real feeds'
top-level files (../shared/data/feeds/real/*.xml) into a fresh SQLite file, exactly as a new
user runs it (bootstrap training and tagging included), beside feedparser's bare parse of the
same bytes; each round runs both, one after the other, and prints their ratio (the machine is
shared, so the rounds show how much the load moved it). Results go in docs/bench-ingest.md.

Two inputs: the real feeds (../shared/data/feeds/real, 124 documents) and a generated set of
`--entries` items in 200-item documents. For each it prints
- feedparser bare: `feedparser.parse(BytesIO(body))` over every document, one process, defaults;
- pipeline: `ingest_paths` into a fresh database (parse in sandboxed workers, normalise,
  deduplicate, store), entries/s and new articles/s, and its ratio to the bare rate;
- peak memory: the pipeline process's peak RSS and its largest parse worker's.
Each measurement runs in its own child process so one's memory does not colour another's.
With `--with-hooks` the pipeline also tags and evaluates alerts (as `python -m monitor ingest`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
REAL = Path(os.environ.get("MONITOR_SHARED_DATA", REPO.parent / "shared" / "data")) / "feeds" / "real"
ITEMS_PER_DOC = 200

WORDS = (
    "police interpol europol arrest suspect network fraud cyber attack ransomware border migrants "
    "smuggling cocaine cartel court extradition notice minister report investigation money bank "
    "laundering corruption bribery officials prosecutors raid warrant security terror threat city "
    "Zürich São Paulo Москва полиция 警察 année über"
).split()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.xml"))


def generate(folder: Path, entries: int, seed: int = 7) -> None:
    """Realistic-looking RSS: HTML summaries, tracking parameters, dates, some non-ASCII text."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    doc = 0
    while n < entries:
        items = []
        for _ in range(min(ITEMS_PER_DOC, entries - n)):
            title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12))).capitalize()
            body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 90)))
            day = 1 + n % 28
            items.append(
                f"<item><title>{title} #{n}</title>"
                f"<link>https://www.outlet{doc % 50}.example/news/{n}?utm_source=rss&amp;utm_medium=feed</link>"
                f'<guid isPermaLink="false">gen-{n}</guid>'
                f"<pubDate>Mon, {day:02d} Apr 2024 {n % 24:02d}:{n % 60:02d}:00 +0200</pubDate>"
                f"<description><![CDATA[<p>{body}</p><p><a href=\"https://outlet.example/x\">more</a></p>]]></description>"
                "</item>"
            )
            n += 1
        xml = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Outlet {doc % 50}</title><link>https://outlet{doc % 50}.example/</link>"
            + "".join(items)
            + "</channel></rss>"
        )
        (folder / f"gen{doc:05d}.xml").write_text(xml, encoding="utf-8")
        doc += 1


# --------------------------------------------------------------------------------------------
# Child-process measurements


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_feedparser(folder: str) -> dict:
    import io

    import feedparser

    bodies = [p.read_bytes() for p in _files(Path(folder))]
    start = time.perf_counter()
    entries = 0
    for body in bodies:
        entries += len(feedparser.parse(io.BytesIO(body)).entries)
    seconds = time.perf_counter() - start
    return {"entries": entries, "seconds": seconds, "peak_mb": _peak_rss_mb()}


def run_pipeline(folder: str, db_url: str, hooks: bool) -> dict:
    from monitor import parse_workers
    from monitor.ingest import ingest_paths
    from monitor.store import Database

    db = Database(db_url)
    db.init()
    worker_peaks: list[float] = []
    original_release = parse_workers.Pool._release

    def release(self, worker, keep):  # note each worker's high-water mark before it can go
        try:
            with open(f"/proc/{worker.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        worker_peaks.append(int(line.split()[1]) / 1024)
        except OSError:
            pass
        return original_release(self, worker, keep)

    parse_workers.Pool._release = release
    start = time.perf_counter()
    stats = ingest_paths(db, [folder], hooks=hooks)
    seconds = time.perf_counter() - start
    db.dispose()
    return {
        "entries": stats.entries,
        "new_articles": stats.new_articles,
        "failed": len(stats.failed_documents),
        "seconds": seconds,
        "peak_mb": _peak_rss_mb(),
        "worker_peak_mb": max(worker_peaks, default=0.0),
    }


def run_feedparser_files(*paths: str) -> dict:
    import io

    import feedparser

    bodies = [Path(p).read_bytes() for p in paths]
    start = time.perf_counter()
    entries = sum(len(feedparser.parse(io.BytesIO(body)).entries) for body in bodies)
    return {"entries": entries, "seconds": time.perf_counter() - start}


def first_ingest(rounds: int) -> None:
    """The acceptance figure: a new user's first `ingest` of the real feeds, against feedparser."""
    files = sorted(str(p) for p in REAL.glob("*.xml") if p.is_file())
    if not files:
        raise SystemExit(f"no feeds at {REAL}")
    print(f"first ingest: {len(files)} top-level documents of {REAL}")
    ratios = []
    for n in range(1, rounds + 1):
        bare = _child("feedparser-files", *files)
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, MONITOR_DATABASE_URL=f"sqlite:///{Path(tmp) / 'first.db'}")
            start = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "monitor", "ingest", *files], capture_output=True, text=True, cwd=REPO, env=env, check=False)
            seconds = time.perf_counter() - start
        if out.returncode != 0:
            raise SystemExit(f"ingest failed: {out.stderr.strip()[-2000:]}")
        summary = out.stdout.strip().splitlines()[-1]
        ratios.append(seconds / bare["seconds"])
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"  round {n}: feedparser bare {bare['seconds']:6.1f} s ({bare['entries']} entries)   "
              f"monitor ingest {seconds:6.1f} s   ratio {ratios[-1]:.2f} x   (load {load})")
    print(f"  {summary}")
    print(f"  median ratio {sorted(ratios)[len(ratios) // 2]:.2f} x (acceptance: <= 2 x; moonshot 1 x)")


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, cwd=REPO)
    if out.returncode != 0:
        raise SystemExit(f"bench child failed: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return f"nproc {os.cpu_count()}, {cpu}, Python {platform.python_version()}, load average {load}"


def measure(name: str, folder: Path, db_url: str, hooks: bool) -> None:
    bare = _child("feedparser", str(folder))
    pipe = _child("pipeline", str(folder), db_url, "1" if hooks else "0")
    bare_rate = bare["entries"] / bare["seconds"]
    pipe_rate = pipe["entries"] / pipe["seconds"]
    print(f"\n{name}: {len(_files(folder))} documents, {bare['entries']} entries")
    print(f"  feedparser bare      {bare_rate:8.0f} entries/s  ({bare['seconds']:.1f} s, peak {bare['peak_mb']:.0f} MB)")
    print(
        f"  pipeline{' + hooks' if hooks else '        '}     {pipe_rate:8.0f} entries/s  "
        f"{pipe['new_articles'] / pipe['seconds']:8.0f} new articles/s  ({pipe['seconds']:.1f} s, "
        f"{pipe['new_articles']} new, {pipe['failed']} failed documents)"
    )
    print(f"  pipeline / bare      {pipe_rate / bare_rate:8.0%}")
    print(f"  peak memory          {pipe['peak_mb']:.0f} MB main process, {pipe['worker_peak_mb']:.0f} MB largest parse worker")


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        kind, rest = sys.argv[2], sys.argv[3:]
        if kind == "feedparser-files":
            result = run_feedparser_files(*rest)
        else:
            result = run_feedparser(*rest) if kind == "feedparser" else run_pipeline(rest[0], rest[1], rest[2] == "1")
        print(json.dumps(result))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=100_000, help="size of the generated set (default 100000)")
    ap.add_argument("--db", help="database URL (default: a fresh SQLite file per run)")
    ap.add_argument("--with-hooks", action="store_true", help="also tag and evaluate alerts on new articles")
    ap.add_argument("--first-ingest", action="store_true", help="only the acceptance figure: `monitor ingest` of the real feeds vs feedparser")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of --first-ingest (default 3)")
    args = ap.parse_args()
    print("bench/ingest.py —", machine())
    if args.first_ingest:
        first_ingest(args.rounds)
        return
    with tempfile.TemporaryDirectory() as tmp:
        def url(name: str) -> str:
            return args.db or f"sqlite:///{Path(tmp) / name}.db"

        if REAL.exists():
            measure("real feeds", REAL, url("real"), args.with_hooks)
        else:
            print(f"(real feeds not found at {REAL}; skipped)")
        gen = Path(tmp) / "generated"
        generate(gen, args.entries)
        measure("generated set", gen, url("generated"), args.with_hooks)


if __name__ == "__main__":
    main()
