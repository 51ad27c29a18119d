"""Topic tags on real feed items, beside a keyword match: `python bench/tagging.py`.

The development set: the 105 feeds of `../shared/data/feeds/dev/` and 900 of their items that a
person labelled with `../shared/docs/taxonomy-guide.md` (`../shared/data/labeled/feeds_dev/`).
Everything goes through the product's own commands, as an analyst (and the held-out check) would:
`ingest` the feeds into a fresh SQLite file, `train topics`, `tag --all`, `export articles`; the
exported tags are then joined to the labels by guid, else by clean link.

Printed, beside a plain keyword match of the taxonomy's own seed terms over the same stored
title and summary:
- per topic: precision, recall and F1 with 95 % bootstrap intervals (items resampled);
- macro-F1 over the topics with at least 9 labelled items, and micro-F1 over all;
- a learning curve (`--curve`): K = 5, 10, 25 analyst labels per topic taken from the labelled
  items of one half of the feeds (split by file name), imported with `train topics --data`, and
  scored on the other half's items.

Figures are over the 900 labelled items as sampled (72 % come from a keyword stratum; see the
labels' README), not population estimates. `--out FILE` also writes the figures as Markdown.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.classify.taxonomy import TermMatcher

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("MONITOR_SHARED_DATA", REPO.parent / "shared" / "data"))
FEEDS = SHARED / "feeds" / "dev"
LABELS = SHARED / "labeled" / "feeds_dev" / "topics_dev.csv"
MIN_ITEMS = 9  # macro-F1 counts the topics with at least this many labelled items
RESAMPLES = 1000
CURVE = (5, 10, 25)
CURVE_MIN_ITEMS = 5  # topics shown in the learning curve, with this many items in the scored half


@dataclass(frozen=True)
class Item:
    file: str
    index: int
    guid: str
    link: str
    topics: frozenset[str]


@dataclass
class Scores:
    precision: float
    recall: float
    f1: float
    support: int


def monitor(db_url: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "monitor", "--db", db_url, *args], capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"monitor {' '.join(args)} failed: {done.stderr.strip()[-800:]}")
    return done.stdout


def labelled_items() -> list[Item]:
    with LABELS.open(encoding="utf-8", newline="") as f:
        return [Item(r["file"], int(r["entry_index"]), r["guid"], r["link"],
                     frozenset(t for t in r["topics"].split(";") if t)) for r in csv.DictReader(f)]


def clean(link: str) -> str:
    from monitor.normalize import url_key

    return url_key(link) or link


def exported(db_url: str, tmp: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """The exported articles, by guid and by clean link."""
    out = tmp / "articles.jsonl"
    monitor(db_url, "export", "articles", "--format", "jsonl", "--output", str(out))
    by_guid: dict[str, dict] = {}
    by_link: dict[str, dict] = {}
    for line in out.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("guid"):
            by_guid.setdefault(row["guid"], row)
        for key in ("link", "original_link", "link_original"):
            if row.get(key):
                by_link.setdefault(clean(row[key]), row)
    return by_guid, by_link


def join(items: list[Item], by_guid: dict[str, dict], by_link: dict[str, dict]) -> list[tuple[Item, dict]]:
    out = []
    for it in items:
        row = (by_guid.get(it.guid) if it.guid else None) or (by_link.get(clean(it.link)) if it.link else None)
        if row is not None:
            out.append((it, row))
    return out


def keyword_topics(row: dict) -> set[str]:
    from monitor.classify.features import article_text
    from monitor.classify.taxonomy import TermMatcher, load_taxonomy

    global _MATCHER
    if _MATCHER is None:
        tax = load_taxonomy()
        _MATCHER = TermMatcher.for_topics(tax.topics)
    return {group for group, *_ in _MATCHER.find(article_text(row.get("title"), row.get("summary")))}


_MATCHER: TermMatcher | None = None


def scores(pairs: list[tuple[frozenset[str], set[str]]], topic: str) -> Scores:
    tp = sum(1 for gold, got in pairs if topic in gold and topic in got)
    fp = sum(1 for gold, got in pairs if topic not in gold and topic in got)
    fn = sum(1 for gold, got in pairs if topic in gold and topic not in got)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return Scores(p, r, 2 * tp / max(1, 2 * tp + fp + fn), tp + fn)


def micro(pairs: list[tuple[frozenset[str], set[str]]], topics: list[str]) -> float:
    tp = fp = fn = 0
    for gold, got in pairs:
        for t in topics:
            tp += t in gold and t in got
            fp += t not in gold and t in got
            fn += t in gold and t not in got
    return 2 * tp / max(1, 2 * tp + fp + fn)


def interval(pairs, fn, seed: int = 0) -> tuple[float, float]:
    rng = random.Random(seed)
    vals = sorted(fn([pairs[rng.randrange(len(pairs))] for _ in pairs]) for _ in range(RESAMPLES))
    return vals[int(0.025 * RESAMPLES)], vals[int(0.975 * RESAMPLES) - 1]


def report(name: str, pairs: list[tuple[frozenset[str], set[str]]], topics: list[str], big: list[str]) -> dict:
    per = {t: scores(pairs, t) for t in topics}
    macro = sum(per[t].f1 for t in big) / len(big)
    return {
        "name": name, "per": per, "macro": macro, "micro": micro(pairs, topics),
        "macro_ci": interval(pairs, lambda s: sum(scores(s, t).f1 for t in big) / len(big)),
        "f1_ci": {t: interval(pairs, lambda s, t=t: scores(s, t).f1) for t in topics},
    }


def table(results: list[dict], topics: list[str]) -> list[str]:
    head = "| topic | items | " + " | ".join(f"{r['name']} P / R / F1 (95 % CI of F1)" for r in results) + " |"
    lines = [head, "|---|---:|" + "---|" * len(results)]
    for t in topics:
        cells = []
        for r in results:
            s, (lo, hi) = r["per"][t], r["f1_ci"][t]
            cells.append(f"{s.precision:.2f} / {s.recall:.2f} / **{s.f1:.2f}** ({lo:.2f}–{hi:.2f})")
        lines.append(f"| {t} | {results[0]['per'][t].support} | " + " | ".join(cells) + " |")
    macro = " | ".join(f"**{r['macro']:.3f}** ({r['macro_ci'][0]:.2f}–{r['macro_ci'][1]:.2f})" for r in results)
    lines.append(f"| macro-F1, topics with ≥ {MIN_ITEMS} items | | {macro} |")
    lines.append("| micro-F1, all topics | | " + " | ".join(f"{r['micro']:.3f}" for r in results) + " |")
    return lines


def half(file: str) -> int:
    """Which half of the feeds a file belongs to: a stable hash, so both halves mix outlets."""
    return hashlib.sha1(file.encode()).digest()[0] % 2


def label_file(path: Path, chosen: list[tuple[Item, dict]], topics: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["title", "summary", "topics"])
        for it, row in chosen:
            w.writerow([row.get("title") or "", row.get("summary") or "", ";".join(t for t in topics if t in it.topics)])


def curve(db_url: str, tmp: Path, joined: list[tuple[Item, dict]], topics: list[str], big: list[str]) -> list[str]:
    """K labels per topic from half A (K positives where there are, and as many unlabelled-topic
    items), imported as an analyst's label file; scored on half B."""
    train_half = [p for p in joined if half(p[0].file) == 0]
    test_half = [p for p in joined if half(p[0].file) == 1]
    scored_big = [t for t in topics if sum(t in it.topics for it, _ in test_half) >= MIN_ITEMS] or big
    # the scored half holds a third of the labelled items: few topics reach MIN_ITEMS there, so the
    # topics with CURVE_MIN_ITEMS are shown one by one and averaged as well
    shown = [t for t in topics if sum(t in it.topics for it, _ in test_half) >= CURVE_MIN_ITEMS]
    lines = [f"Learning curve: labels from {len(train_half)} items of one half of the feeds, scored on the "
             f"{len(test_half)} labelled items of the other half.", "",
             f"| labels per topic | labels given | macro-F1 (≥ {MIN_ITEMS} items in the scored half: {', '.join(scored_big)}) "
             f"| macro-F1 (≥ {CURVE_MIN_ITEMS} items) | micro-F1 | " + " | ".join(f"{t} F1" for t in shown) + " |",
             "|---:|---:|---:|---:|---:|" + "---:|" * len(shown)]
    base = Path(db_url.removeprefix("sqlite:///"))
    for k in (0, *CURVE):
        db_k = tmp / f"curve{k}.db"
        db_k.write_bytes(base.read_bytes())
        url = f"sqlite:///{db_k}"
        chosen: list[tuple[Item, dict]] = []
        if k:
            rng = random.Random(k)
            for t in topics:
                pos = [p for p in train_half if t in p[0].topics and p not in chosen]
                chosen += rng.sample(pos, min(k, len(pos)))
            negatives = [p for p in train_half if not p[0].topics]
            chosen += rng.sample(negatives, min(len(negatives), k * len(big)))
            label_file(tmp / f"labels{k}.csv", chosen, topics)
            monitor(url, "train", "topics", "--data", str(tmp / f"labels{k}.csv"))
        else:
            monitor(url, "train", "topics")
        monitor(url, "tag", "--all")
        g, l_ = exported(url, tmp)
        pairs = [(it.topics, set(row.get("topics") or [])) for it, row in join([it for it, _ in test_half], g, l_)]
        macro = sum(scores(pairs, t).f1 for t in scored_big) / len(scored_big)
        wide = sum(scores(pairs, t).f1 for t in shown) / max(1, len(shown))
        lines.append(f"| {k} | {len(chosen)} | {macro:.3f} | {wide:.3f} | {micro(pairs, topics):.3f} | "
                     + " | ".join(f"{scores(pairs, t).f1:.2f}" for t in shown) + " |")
    return lines


def main() -> None:
    from bench.classify import machine
    from monitor.classify.taxonomy import load_taxonomy

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--curve", action="store_true", help="also run the learning curve (K labels per topic)")
    ap.add_argument("--out", type=Path, help="also write the figures as Markdown to this file")
    ap.add_argument("--keep", type=Path, help="keep the ingested database at this path")
    args = ap.parse_args()
    if not FEEDS.is_dir() or not LABELS.is_file():
        raise SystemExit(f"the development set is not there: {FEEDS}, {LABELS}")
    topics = list(load_taxonomy().topic_names)
    items = labelled_items()
    big = [t for t in topics if sum(t in it.topics for it in items) >= MIN_ITEMS]
    lines = [f"bench/tagging.py — {machine()} — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", ""]
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        db = tmp / "dev.db"
        url = f"sqlite:///{db}"
        started = time.perf_counter()
        monitor(url, "ingest", str(FEEDS))
        ingest_s = time.perf_counter() - started
        monitor(url, "train", "topics")
        monitor(url, "tag", "--all")
        total_s = time.perf_counter() - started
        by_guid, by_link = exported(url, tmp)
        joined = join(items, by_guid, by_link)
        product = [(it.topics, set(row.get("topics") or [])) for it, row in joined]
        keyword = [(it.topics, keyword_topics(row)) for it, row in joined]
        lines.append(f"{len(joined)} of {len(items)} labelled items found in the export "
                     f"(ingest {ingest_s:.0f} s; ingest + train + tag --all {total_s:.0f} s).")
        lines.append("")
        lines += table([report("product", product, topics, big), report("keyword match", keyword, topics, big)], topics)
        if args.curve:
            lines += ["", *curve(url, tmp, joined, topics, big)]
        if args.keep:
            args.keep.write_bytes(db.read_bytes())
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
