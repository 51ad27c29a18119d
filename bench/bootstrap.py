"""The seed-term bootstrap beside a plain seed-term keyword match: `python bench/bootstrap.py`.

The acceptance check for topics uses real feed articles labelled by people, which we do not see.
This is the nearest honest stand-in: public corpora whose labels say which articles are, or are
not, about a topic, ingested as feeds into a fresh database and read back through the CLI
(`ingest`, then `export articles --format jsonl`), as the held-out check does. The bootstrap
learns from weak labels over whatever is stored (that is how it works in production too); no
label from these corpora reaches it, and nothing was tuned on them.

- CASIE (1 000 cyber-security news articles with event annotations): an article annotated with
  an attack (data breach, phishing, ransomware) is `cybercrime`. Vulnerability and patch news
  without an attack is left out of the cybercrime figures (it may or may not be crime).
- BBC News sport and entertainment (~900 articles): policing topics are rare there (a doping or
  match-fixing story is a true exception and counts against both methods alike), so the share
  tagged with any topic is a false-alarm rate.
- Keyword match: a topic whenever one of its seed terms occurs in the text (the taxonomy's own
  matcher, on the same text the classifier reads).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("MONITOR_SHARED_DATA", REPO.parent / "shared" / "data")) / "labeled"
ATTACKS = {"Databreach", "Phishing", "Ransom"}


def casie() -> list[dict]:
    out = []
    for f in sorted((DATA / "casie" / "annotation").glob("*.json")):
        d = json.loads(f.read_text(encoding="utf-8"))
        events = {e.get("subtype") for h in d.get("cyberevent", {}).get("hopper", []) for e in h.get("events", [])}
        title = (d.get("info") or {}).get("title") or d["content"][:120]
        out.append({"id": f"casie-{f.stem}", "title": title, "text": d["content"], "attack": bool(events & ATTACKS)})
    return out


def bbc(categories: tuple[str, ...] = ("sport", "entertainment")) -> list[dict]:
    from bench.classify import bbc_articles

    return [{"id": f"bbc-{cat}-{stem}", "title": title, "text": body} for cat, stem, title, body in bbc_articles(categories)]


def write_feed(path: Path, items: list[dict]) -> None:
    body = "".join(
        f"<item><title>{escape(it['title'])}</title><link>https://corpus.example/{it['id']}</link>"
        f"<description>{escape(it['text'])}</description></item>"
        for it in items
    )
    path.write_text(f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>corpus</title>'
                    f"<link>https://corpus.example/</link><description>x</description>{body}</channel></rss>", encoding="utf-8")


def monitor(db_url: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "monitor", "--db", db_url, *args], capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"monitor {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / max(1, 2 * tp + fp + fn)


def main() -> None:
    from bench.classify import machine
    from monitor.classify.features import article_text
    from monitor.classify.taxonomy import TermMatcher, load_taxonomy

    if not (DATA / "casie").exists() or not (DATA / "bbc_news").exists():
        raise SystemExit(f"labelled corpora not found under {DATA}")
    cyber, quiet = casie(), bbc()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "feeds"
        folder.mkdir()
        for n, start in enumerate(range(0, len(cyber) + len(quiet), 200)):
            write_feed(folder / f"corpus{n:03d}.xml", (cyber + quiet)[start : start + 200])
        db_url = f"sqlite:///{tmp}/bootstrap.db"
        monitor(db_url, "ingest", str(folder))
        exported = Path(tmp) / "articles.jsonl"
        monitor(db_url, "export", "articles", "--format", "jsonl", "--output", str(exported))
        tagged = {}
        for line in exported.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("link"):
                tagged[row["link"].rsplit("/", 1)[-1]] = set(row.get("topics") or [])

    taxonomy = load_taxonomy()
    matcher = TermMatcher.for_topics(taxonomy.topics)

    def keyword(it: dict) -> set[str]:
        return {group for group, *_ in matcher.find(article_text(it["title"], it["text"]))}

    # an article the store merged with an earlier one (the BBC set has duplicates) is left out
    cyber = [it for it in cyber if it["id"] in tagged]
    quiet = [it for it in quiet if it["id"] in tagged]
    attacks = [it for it in cyber if it["attack"]]
    results = {}
    for name, tags_of in (("bootstrap", lambda it: tagged[it["id"]]), ("keyword match", keyword)):
        tp = sum("cybercrime" in tags_of(it) for it in attacks)
        fp = sum("cybercrime" in tags_of(it) for it in quiet)
        by_topic = {t: sum(t in tags_of(it) for it in quiet) for t in taxonomy.topic_names}
        results[name] = {
            "recall": tp / len(attacks), "f1": f1(tp, fp, len(attacks) - tp),
            "false_alarms": sum(bool(tags_of(it)) for it in quiet) / len(quiet),
            "by_topic": ", ".join(f"{t} {n}" for t, n in by_topic.items() if n) or "none",
        }
    print(f"bench/bootstrap.py — {machine()}")
    print(f"CASIE attack articles: {len(attacks)}; BBC sport + entertainment: {len(quiet)} "
          "(duplicates the store merged are left out)\n")
    b, k = results["bootstrap"], results["keyword match"]
    print("| figure | bootstrap | keyword match |")
    print("|---|---:|---:|")
    print(f"| cybercrime recall on CASIE attacks | {b['recall']:.3f} | {k['recall']:.3f} |")
    print(f"| cybercrime F1 (CASIE attacks vs BBC sport/entertainment) | {b['f1']:.3f} | {k['f1']:.3f} |")
    print(f"| BBC sport/entertainment given any topic (false alarms) | {b['false_alarms']:.3f} | {k['false_alarms']:.3f} |")
    print(f"\nfalse alarms by topic — bootstrap: {b['by_topic']}; keyword match: {k['by_topic']}")

if __name__ == "__main__":
    main()
