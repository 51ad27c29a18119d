"""Classifier figures, each beside its public baseline: `python bench/classify.py [--quick]`.

Everything goes through the product's own CLI (`python -m monitor evaluate|train …`, run
in-process) on a scratch SQLite database, so the figures are what an analyst gets:
- AG News (test split, 7 600 rows): `evaluate topics --cv 5` accuracy (need >= 0.90; TF-IDF +
  linear SVM 0.884 here, Zhang et al. 2015 BoW-TFIDF 0.896 trained on 120 000 articles);
- BBC News (2 225 articles): `evaluate topics --cv 5` accuracy (need >= 0.985);
- SemEval-2016 Task 6A: `train stance --data <trial file>`, `train stance --data <training
  file>` (labels accumulate), then `evaluate stance --data <test A>`; F_avg x 100 (need >= 70;
  organisers' SVM n-grams 68.98, best team 67.82);
- speed: `train topics` (bootstrap) over 20 000 stored articles (need < 60 s) and
  `tag --all` over them (need >= 2 000 articles/s).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("MONITOR_SHARED_DATA", REPO.parent / "shared" / "data")) / "labeled"


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"nproc={os.cpu_count()} · {cpu} · Python {platform.python_version()}"


def cli(db_url: str, *args: str) -> dict:
    """Run `python -m monitor --db URL ARGS…` in-process and parse its one JSON line."""
    from monitor.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--db", db_url, *args])
    if code != 0:
        raise SystemExit(f"command failed ({code}): {' '.join(args)}")
    return json.loads(out.getvalue().strip().splitlines()[-1])


def ag_news_csv(folder: Path) -> Path:
    names = {"1": "World", "2": "Sports", "3": "Business", "4": "Sci/Tech"}
    path = folder / "ag_news.csv"
    with (DATA / "ag_news" / "test.csv").open(encoding="utf-8", newline="") as src, path.open("w", encoding="utf-8", newline="") as dst:
        w = csv.writer(dst)
        w.writerow(["title", "description", "label"])
        for label, title, description in csv.reader(src):
            w.writerow([title, description.replace("\\", " "), names[label]])
    return path


def bbc_articles(categories: tuple[str, ...] | None = None):
    """(category, file stem, title, body) of each BBC article; the first line is the title."""
    for cat in sorted(p for p in (DATA / "bbc_news" / "bbc").iterdir() if p.is_dir()):
        if categories is not None and cat.name not in categories:
            continue
        for f in sorted(cat.glob("*.txt")):
            raw = f.read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
            title, _, body = text.strip().partition("\n")
            yield cat.name, f.stem, title.strip(), body.strip()


def bbc_csv(folder: Path) -> Path:
    path = folder / "bbc.csv"
    with path.open("w", encoding="utf-8", newline="") as dst:
        w = csv.writer(dst)
        w.writerow(["title", "body", "label"])
        for cat, _stem, title, body in bbc_articles():
            w.writerow([title, body, cat])
    return path


def speed_corpus(n: int) -> list[tuple[str, str]]:
    """n realistic (title, summary) pairs: AG News items, then BBC paragraphs."""
    out: list[tuple[str, str]] = []
    with (DATA / "ag_news" / "test.csv").open(encoding="utf-8", newline="") as src:
        for _, title, description in csv.reader(src):
            out.append((title, description.replace("\\", " ")))
    for f in sorted((DATA / "bbc_news" / "bbc").glob("*/*.txt")):
        paras = [p.strip() for p in f.read_bytes().decode("utf-8", "replace").split("\n") if p.strip()]
        for p in paras[1:]:
            out.append((paras[0], p))
            if len(out) >= n:
                return out
    # then the SemEval tweets (short items, like many feed entries)
    sem = DATA / "semeval2016_task6"
    for name, enc in (("trainingdata-all-annotations.txt", "cp1252"), ("testdata-taskA-all-annotations.txt", "utf-8")):
        for row in list(csv.reader((sem / name).open(encoding=enc, errors="replace"), delimiter="\t", quoting=csv.QUOTE_NONE))[1:]:
            out.append((row[1], row[2]))
            if len(out) >= n:
                return out
    return out[:n]


def main() -> None:
    quick = "--quick" in sys.argv
    only_speed = "--speed" in sys.argv  # --stance: SemEval only (and the speed figures)
    print(f"machine: {machine()} · load average {os.getloadavg()[0]:.1f} at start")
    rows = []
    ag = bbc = st = None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db_url = f"sqlite:///{folder / 'bench.db'}"
        from monitor.cli import main as monitor_main

        monitor_main(["--db", db_url, "init"])  # the CLI opens only a database that exists
        if not only_speed:
            ag, bbc, st = accuracy_figures(folder, db_url, rows)
        speed_figures(folder, quick, rows)
    print()
    print("| figure | ours | need | public baseline | wall s |")
    print("|---|---:|---|---|---:|")
    for name, value, need, base, secs in rows:
        print(f"| {name} | {value:.4g} | {need} | {base} | {secs:.0f} |")
    print(f"(load average {os.getloadavg()[0]:.1f} at the end)")
    if ag:
        print()
        print("AG News per class F1:", json.dumps({k: v["f1"] for k, v in ag["per_class"].items()}))
        print("BBC per class F1:", json.dumps({k: v["f1"] for k, v in bbc["per_class"].items()}))
        print("SemEval per class F1:", json.dumps({k: v["f1"] for k, v in st["per_class"].items()}), "modes:", json.dumps(st.get("modes")))


def accuracy_figures(folder: Path, db_url: str, rows: list) -> tuple[dict, dict, dict]:
    ag, bbc = topic_figures(folder, db_url, rows) if "--stance" not in sys.argv else ({"per_class": {}}, {"per_class": {}})
    return ag, bbc, stance_figure(db_url, rows)


def topic_figures(folder: Path, db_url: str, rows: list) -> tuple[dict, dict]:
    t = time.perf_counter()
    ag = cli(db_url, "evaluate", "topics", "--data", str(ag_news_csv(folder)), "--text-column", "title",
             "--text-column", "description", "--label-column", "label", "--cv", "5")
    rows.append(("AG News, 5-fold CV, accuracy", ag["accuracy"], ">= 0.90", "TF-IDF+linear SVM 0.884; Zhang et al. 2015 BoW-TFIDF 0.896 (120k train)", time.perf_counter() - t))

    t = time.perf_counter()
    bbc = cli(db_url, "evaluate", "topics", "--data", str(bbc_csv(folder)), "--text-column", "title",
              "--text-column", "body", "--label-column", "label", "--cv", "5")
    rows.append(("BBC News, 5-fold CV, accuracy", bbc["accuracy"], ">= 0.985", "TF-IDF + linear models ~0.95-0.98 (informal)", time.perf_counter() - t))
    return ag, bbc


def stance_figure(db_url: str, rows: list) -> dict:
    t = time.perf_counter()
    sem = DATA / "semeval2016_task6"
    # the official training data is the trial file (100 tweets) plus the training file; labels
    # accumulate in the database, so the second `train` learns from both
    for name in ("trialdata-all-annotations.txt", "trainingdata-all-annotations.txt"):
        cli(db_url, "train", "stance", "--data", str(sem / name),
            "--text-column", "Tweet", "--label-column", "Stance", "--target-column", "Target")
    st = cli(db_url, "evaluate", "stance", "--data", str(sem / "testdata-taskA-all-annotations.txt"),
             "--text-column", "Tweet", "--label-column", "Stance", "--target-column", "Target")
    rows.append(("SemEval-2016 Task 6A, F_avg x 100", st["f_avg"] * 100, ">= 70", "SVM n-grams 68.98; best team 67.82", time.perf_counter() - t))
    return st


def speed_figures(folder: Path, quick: bool, rows: list) -> None:
    # speed: bootstrap training and tagging over stored articles
    from monitor import classify
    from monitor.store import Database, utcnow
    from monitor.store.schema import articles

    n = 2_000 if quick else 20_000
    speed_db = Database(f"sqlite:///{folder / 'speed.db'}")
    now = utcnow()
    corpus = speed_corpus(n)
    with speed_db.write() as conn:
        conn.execute(articles.insert(), [
            dict(title=ti, summary=su, content="", source="bench", published_at=now, fetched_at=now, title_hash=str(i))
            for i, (ti, su) in enumerate(corpus)
        ])
    t = time.perf_counter()
    classify.train(speed_db, "topics")
    classify.train(speed_db, "stance")
    train_s = time.perf_counter() - t
    rows.append((f"train topics+stance (bootstrap) over {len(corpus):,} stored articles, s", train_s, "< 60", "", train_s))
    t = time.perf_counter()
    tagged = classify.retag_all(speed_db)
    tag_s = time.perf_counter() - t
    rows.append((f"tag --all over {tagged:,} articles, articles/s", tagged / tag_s, ">= 2000", "", tag_s))
    speed_db.dispose()


if __name__ == "__main__":
    main()
