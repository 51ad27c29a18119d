"""Training: from the taxonomy's seed terms (bootstrap), shipped examples and analysts' labels.

Topic bootstrap, per topic:
- weak positives: stored articles where the topic's seed terms match strongly (two distinct
  terms, or repeated mentions), plus a copy of each with every seed term blanked out, so the
  model has to learn the words around the terms and not the terms alone;
- weak negatives: stored articles with no seed term of the topic at all;
- stored articles with a single mention are left out for that topic: one "cocaine" in a film
  review or one "terrorist" in a novel's blurb is as often off topic as on, so the model
  decides those from their context instead of learning that the context is the topic;
- the hand-written examples in monitor/classify/data/ (English and Russian, positives and
  look-alike negatives such as "life hack" or "data corruption") and the topic descriptions.
Analyst labels outweigh all of that; a topic or target someone labelled that is not in the
taxonomy is learned too.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from monitor.classify import labels as labelstore
from monitor.classify.datafile import read_rows
from monitor.classify.features import FeatureConfig, article_text, clean_text
from monitor.classify.modelstore import StoredModel, save_model
from monitor.classify.stance import PLACEHOLDER, STANCES, fit_stance_model
from monitor.classify.taxonomy import TermMatcher, load_taxonomy
from monitor.classify.topics import fit_topic_model
from monitor.errors import InputError, ModelError
from monitor.locks import LockKey
from monitor.store.schema import articles

log = logging.getLogger(__name__)
DATA_DIR = Path(__file__).resolve().parent / "data"
MAX_WEAK_ARTICLES = 20_000
WEIGHT_EXAMPLE = 3.0
WEIGHT_TERM = 1.0
WEIGHT_TERM_OTHER = 0.3
WEIGHT_WEAK = 1.0
WEIGHT_MASKED = 0.5
WEIGHT_ANALYST = 10.0
WEIGHT_IMPORTED = 1.0
POS_SHARE = 0.5
# Weak labels are noisy and the model tags the very articles they came from: a strongly
# regularised model without naive-Bayes scaling (which would amplify exactly the seed terms
# that define the weak labels) generalises from them instead of reproducing the keyword match.
BOOTSTRAP_C = 3.0
# Positives are reweighted to POS_SHARE of the negatives' weight, so the model's prior is
# POS_SHARE / (1 + POS_SHARE) = 1/3: a score above that is evidence for the topic.
BOOTSTRAP_THRESHOLD = round(POS_SHARE / (1 + POS_SHARE), 2)
LABELLED_C = 10.0
LABELLED_ENOUGH = 100  # labelled texts from which inner CV on them picks the head and thresholds
# What the archive's topic model reads of each article: its lead. Items are judged by their title
# and summary, and a long article's passages are scored from its lead too (topics.MAX_PASSAGES);
# reading the whole of every stored article made training over 6 000 of them take 75 s, not 20.
ARCHIVE_TEXT_CHARS = 4_000
REFRESH_MIN_ARTICLES = 200  # a bootstrap is retrained when the archive doubles past this
CHILD_TIMEOUT = 3600  # seconds: a training child that takes longer is stuck, not slow
REFRESH_LOCK_KEY = int(LockKey.MODEL_REFRESH)  # PostgreSQL advisory lock (monitor.locks)


def new_version(kind: str) -> str:
    return f"{kind}-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


# ---------------------------------------------------------------- shipped examples


def topic_examples() -> list[tuple[str, tuple[str, ...]]]:
    """(text, topics) hand-written for the bootstrap; an empty topic set is a negative."""
    out = []
    path = DATA_DIR / "topic_examples.tsv"
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        labs, _, text = line.partition("\t")
        topics = tuple(t.strip() for t in labs.split(";") if t.strip() and t.strip() != "-")
        out.append((text.strip(), topics))
    return out


def stance_examples() -> list[tuple[str, str]]:
    """(text with the target as a placeholder, stance) for the bootstrap stance model."""
    out = []
    for line in (DATA_DIR / "stance_examples.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        stance, _, text = line.partition("\t")
        out.append((text.replace("TARGET", PLACEHOLDER).strip(), stance.strip().upper()))
    return out


# ---------------------------------------------------------------- weak labels


# A feed item (a headline and a sentence or two: half of them have under 30 words of body) that
# names a seed term is about the topic far more often than a long article that names it once in
# passing. One term outside the title counts fully up to SHORT_ITEM_WORDS words of body, less
# and less after that, and not at all from LONG_ARTICLE_WORDS on (the model decides those).
SHORT_ITEM_WORDS = 60
LONG_ARTICLE_WORDS = 120


@dataclass(frozen=True)
class Evidence:
    occurrences: int
    distinct: int
    in_title: bool
    words: int = 0

    @property
    def weight(self) -> float:
        """How strongly the seed terms make this article a positive of their topic, 0 to 1."""
        if self.distinct >= 2 or self.occurrences >= 3 or (self.in_title and self.occurrences >= 2):
            return 1.0
        span = LONG_ARTICLE_WORDS - SHORT_ITEM_WORDS
        return max(0.0, min(1.0, (LONG_ARTICLE_WORDS - self.words) / span))

    @property
    def strong(self) -> bool:
        return self.weight > 0


def seed_evidence(matcher: TermMatcher, title: str, text: str) -> tuple[dict[str, Evidence], list[tuple[int, int]]]:
    """Per topic: how the seed terms occur in the text; and the spans of all matches."""
    found = matcher.find(text)
    # article_text starts "title. title. body": count the title once, and know it as the title
    first = len(title) + 2 if title and text.startswith(title) else 0
    second = 2 * first
    by: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for group, start, _end, words in found:
        if start >= first:
            by[group].append((start, words))
    words = len(text[second:].split()) if first else len(text.split())
    out = {}
    for group, hits in by.items():
        out[group] = Evidence(len(hits), len({w for _, w in hits}), any(s < second for s, _ in hits), words)
    return out, [(s, e) for _, s, e, _ in found]


def blank_spans(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    parts, last = [], 0
    for s, e in sorted(spans):
        if s >= last:
            parts.append(text[last:s])
            parts.append(" ")
            last = e
    parts.append(text[last:])
    return "".join(parts)


def _stored_articles(db, limit: int | None = None) -> list[tuple[int, str, str]]:
    limit = MAX_WEAK_ARTICLES if limit is None else limit
    with db.read() as conn:
        rows = conn.execute(
            select(articles.c.id, articles.c.title, articles.c.summary, articles.c.content).order_by(articles.c.id.desc()).limit(limit)
        ).all()
    return [(r.id, clean_text(r.title), article_text(r.title, r.summary, r.content)[:ARCHIVE_TEXT_CHARS]) for r in rows]


def article_count(db) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(articles)).scalar() or 0)


def bootstrap_is_stale(db, model: StoredModel) -> bool:
    """A seed-term bootstrap retrains itself once the archive has doubled since it was made,
    until it has learned from a full sample (MAX_WEAK_ARTICLES): a larger archive adds little
    to weak labels, and each refresh re-tags everything. `train topics` refreshes on demand.

    Compared with the archive's size at training time, not the (capped) sample it learned from:
    against the sample, an archive past twice MAX_WEAK_ARTICLES would look doubled for ever."""
    info = model.training or {}
    if not info.get("bootstrap") or info.get("analyst_labels"):
        return False
    trained_at = int(info.get("archive_articles", info.get("articles", 0)))
    if trained_at >= MAX_WEAK_ARTICLES:
        return False
    n = article_count(db)
    return n >= REFRESH_MIN_ARTICLES and n >= 2 * trained_at


# ---------------------------------------------------------------- training


def train(
    db,
    kind: str,
    data: str | Path | None = None,
    text_columns: list[str] | None = None,
    label_column: str | None = None,
    target_column: str | None = None,
    analyst: str | None = None,
) -> dict:
    """Train and activate a new model; returns its metrics (and version, training summary).

    With `data`, the file's rows are stored as labels first, so later trainings keep them.
    """
    if kind not in ("topics", "stance"):
        raise InputError("train what? topics or stance")
    if data is not None:
        rows = read_rows(data, kind, text_columns, label_column, target_column)
        labelstore.import_rows(db, kind, rows, analyst=analyst)
    started = time.perf_counter()
    if kind == "topics":
        result = _train_topics(db)
    else:
        result = _train_stance(db)
    result["training"]["seconds"] = round(time.perf_counter() - started, 2)
    return {"version": result["version"], "metrics": result["metrics"], "training": result["training"]}


def _in_place(db) -> bool:
    """Train in this process? Yes when it holds scikit-learn already (the CLI's `train`, tests)
    or the database is in memory (a child could not see it)."""
    from sqlalchemy.engine import make_url

    return "sklearn" in sys.modules or (db.is_sqlite and make_url(db.url).database in (None, "", ":memory:"))


def _child(*args: str, db) -> subprocess.Popen:
    # the URL goes through stdin: a password on the command line would show in `ps`
    proc = _take_warm()
    if proc is not None:  # it has loaded scikit-learn already: it reads what to train from stdin
        request = " ".join(args) + "\n" + db.url
    else:
        proc, request = _spawn(*args), db.url
    try:
        _send(proc, request)
    except OSError:  # a warm child that died meanwhile: a fresh one reports what goes wrong
        proc = _spawn(*args)
        _send(proc, db.url)
    return proc


def _send(proc: subprocess.Popen, request: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(request)
    proc.stdin.close()


def _spawn(*args: str) -> subprocess.Popen:
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - a file, not a pipe: nobody reads while the child runs; closed with it
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.classify.training", *args], stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL, stderr=errors, text=True,
    )
    proc.errors = errors  # type: ignore[attr-defined]  # read by _failure
    return proc


# A training child started ahead of need. Loading scikit-learn and scipy takes a child a couple
# of seconds of one core (several on a busy machine); an ingest into a store with no models
# starts one while it parses, so the bootstrap at its end starts training at once. Only the
# start-up is early: what it trains on is read when it is told to train, at the run's end.
_warm: subprocess.Popen | None = None
_warm_pid = 0
_warm_lock = threading.Lock()


def prewarm(db) -> None:
    """Start a training child now, for `train_isolated` (or a refresh) to use later in this
    process. Nothing when this process trains in place or a warm child is waiting already."""
    global _warm, _warm_pid
    if _in_place(db):
        return
    with _warm_lock:
        if _warm is not None and _warm_pid == os.getpid() and _warm.poll() is None:
            return
        _warm, _warm_pid = _spawn("--warm"), os.getpid()


def release_warm() -> None:
    """Stop an unused warm child: it has only loaded libraries, so nothing is lost."""
    proc = _take_warm()
    if proc is not None:
        proc.kill()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def _take_warm() -> subprocess.Popen | None:
    global _warm
    with _warm_lock:
        proc, _warm = _warm, None
    if proc is None or _warm_pid != os.getpid() or proc.poll() is not None:
        return None
    return proc


atexit.register(release_warm)


def _failure(proc: subprocess.Popen) -> str:
    proc.errors.seek(0)
    lines = proc.errors.read().decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else f"exit status {proc.returncode}"


def train_isolated(db, kinds: list[str]) -> None:
    """Train models with no new data (bootstrap or stored labels) and wait for them.

    A process that has not loaded scikit-learn (a poller, which only tags) trains in a child
    process, so the ~150 MB that fitting costs goes away with the child.
    """
    if _in_place(db):
        for kind in kinds:
            train(db, kind)
        return
    _run_child(f"training {' and '.join(kinds)}", *kinds, db=db)


def refresh_stale(db) -> None:
    """Retrain a stale topic bootstrap and re-tag the archive with it, and wait: in a child
    process when this one is lean (a poller), so the memory that fitting costs goes with it."""
    if _in_place(db):
        _refresh_if_stale(db)
        return
    _run_child("refreshing the topic bootstrap", "--refresh", db=db)


def _run_child(what: str, *args: str, db) -> None:
    proc = _child(*args, db=db)
    try:
        proc.wait(timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.returncode != 0:
        raise ModelError(f"{what} failed: {_failure(proc)}")


def _refresh_if_stale(db) -> None:
    """Retrain the bootstrap and re-tag the archive, unless another process has just done it."""
    from monitor.classify.modelstore import load_active
    from monitor.classify.tagging import retag_all

    with _one_refresh_at_a_time(db):
        current = load_active(db, "topics")
        if current is None or bootstrap_is_stale(db, current):
            train(db, "topics")
            retag_all(db)


@contextmanager
def _one_refresh_at_a_time(db) -> Iterator[None]:
    """Pollers sharing a store find the bootstrap stale at the same moment: the second waits for
    the first's refresh and then finds nothing to do, instead of training the same model again."""
    from sqlalchemy.engine import make_url

    if not db.is_sqlite:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(select(func.pg_advisory_lock(REFRESH_LOCK_KEY)))
            try:
                yield
            finally:
                conn.execute(select(func.pg_advisory_unlock(REFRESH_LOCK_KEY)))
        return
    name = make_url(db.url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        yield  # one process's database: nobody else can refresh it
        return
    try:
        import fcntl
    except ImportError:  # not POSIX: the staleness check alone
        yield
        return
    # a lock file beside the database, as the host gate's; the kernel drops the lock if we die
    with open(os.path.abspath(name) + "-refresh", "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _child_main(args: list[str]) -> int:
    from monitor.store import Database

    try:
        if args == ["--warm"]:
            # load what fitting needs, then wait for "kinds\nURL" (nothing: not needed after all)
            import scipy.sparse  # noqa: F401
            import sklearn.feature_extraction.text
            import sklearn.linear_model
            import sklearn.model_selection
            import sklearn.svm  # noqa: F401  (loaded now so the fit later finds it imported)

            request = sys.stdin.read()
            if not request.strip():
                return 0
            line, _, url = request.partition("\n")
            args = line.split()
        else:
            url = sys.stdin.read()
        db = Database(url.strip())
        if args == ["--refresh"]:
            _refresh_if_stale(db)
            return 0
        for kind in args:
            train(db, kind)
    except Exception as e:  # noqa: BLE001 - the parent reports the last line
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


def _train_topics(db) -> dict:
    taxonomy = load_taxonomy(db)
    labels = labelstore.all_labels(db, "topic")
    names = list(taxonomy.topic_names)
    for lab in labels:
        if lab.label not in names:
            names.append(lab.label)
    if not names:
        raise ModelError("the taxonomy has no topics")
    col = {n: j for j, n in enumerate(names)}
    seeded = [n in taxonomy.topic_names for n in names]

    texts: list[str] = []
    Y_rows: list[np.ndarray] = []
    W_rows: list[np.ndarray] = []
    L = len(names)

    def add(text: str, y: np.ndarray, w: np.ndarray) -> None:
        texts.append(text)
        Y_rows.append(y)
        W_rows.append(w)

    # shipped examples and descriptions: fully labelled for the taxonomy's topics
    tax_mask = np.array([n in taxonomy.topic_names for n in names], dtype=float)
    n_examples = 0
    matcher = TermMatcher.for_topics(taxonomy.topics)
    for text, topics in topic_examples():
        y = np.array([1 if n in topics else 0 for n in names], dtype=np.int8)
        add(text, y, WEIGHT_EXAMPLE * tax_mask)
        n_examples += 1
        spans = [(s, e) for _, s, e, _ in matcher.find(text)]
        if topics and spans:  # the same example without its seed terms: learn the context
            add(blank_spans(text, spans), y.copy(), WEIGHT_EXAMPLE * WEIGHT_MASKED * tax_mask)
    # each seed term is a tiny positive document of its topic: the model knows the terms
    # themselves (and, through character n-grams, their other forms) from the start
    for t in taxonomy.topics:
        if t.name not in col:
            continue
        y = np.array([1 if n == t.name else 0 for n in names], dtype=np.int8)
        w = WEIGHT_TERM_OTHER * tax_mask
        w[col[t.name]] = WEIGHT_TERM
        for term in t.terms:
            term = term.replace("*", "").strip()
            if term:
                add(term, y, w.copy())
    for t in taxonomy.topics:
        if t.description:
            y = np.array([1 if n == t.name else 0 for n in names], dtype=np.int8)
            w = np.zeros(L)
            w[col[t.name]] = WEIGHT_EXAMPLE  # a description says nothing about other topics
            add(t.description, y, w)

    # weak labels over stored articles, overridden where an analyst labelled the article
    by_article: dict[int, dict[str, int]] = defaultdict(dict)
    for lab in labels:
        if lab.article_id is not None:
            by_article[lab.article_id][lab.label] = lab.value
    weak_pos = np.zeros(L, dtype=int)
    weak_neg = np.zeros(L, dtype=int)
    stored = _stored_articles(db)
    for aid, title, text in stored:
        y = np.zeros(L, dtype=np.int8)
        w = np.zeros(L)
        any_strong = False
        evidence, spans = seed_evidence(matcher, title, text)
        for j, name in enumerate(names):
            if not seeded[j]:
                continue
            ev = evidence.get(name)
            if ev is None:
                w[j] = WEIGHT_WEAK
                weak_neg[j] += 1
            elif ev.strong:
                y[j], w[j] = 1, WEIGHT_WEAK * ev.weight
                weak_pos[j] += 1
                any_strong = True
        analyst = by_article.get(aid, {})
        for name, value in analyst.items():
            y[col[name]], w[col[name]] = value, WEIGHT_ANALYST
        if analyst:
            by_article.pop(aid)
        add(text, y, w)
        if any_strong:
            wm = np.where(w > 0, WEIGHT_MASKED, 0.0)
            wm[[col[n] for n in analyst]] = 0.0
            add(blank_spans(text, spans), y.copy(), wm)

    # labels on articles outside the weak-label window, and imported texts
    analyst_rows = 0
    imported: dict[str, dict[str, int]] = defaultdict(dict)
    for lab in labels:
        if lab.article_id is None:
            imported[lab.text][lab.label] = lab.value
    for aid, labs in by_article.items():
        text = next((lab.text for lab in labels if lab.article_id == aid), "")
        y = np.zeros(L, dtype=np.int8)
        w = np.zeros(L)
        for name, value in labs.items():
            y[col[name]], w[col[name]] = value, WEIGHT_ANALYST
        add(text, y, w)
    for text, labs in imported.items():
        y = np.zeros(L, dtype=np.int8)
        w = np.zeros(L)
        for name, value in labs.items():
            y[col[name]], w[col[name]] = value, WEIGHT_IMPORTED
        add(text, y, w)
        analyst_rows += 1
    analyst_rows += sum(1 for lab in labels if lab.article_id is not None)

    Y = np.vstack(Y_rows)
    W = np.vstack(W_rows)
    # A few labels are rows of the bootstrap's own recipe (weighted WEIGHT_ANALYST), not a switch
    # to another one: the first correction must not move every topic's threshold and tag count.
    # From LABELLED_ENOUGH labelled texts on, the labels choose the head and the thresholds.
    labelled_texts = len(imported) + len({lab.article_id for lab in labels if lab.article_id is not None})
    enough = labelled_texts >= LABELLED_ENOUGH
    model = fit_topic_model(texts, Y, names, W, tune_thresholds=enough, config=FeatureConfig(word_chars=ARCHIVE_TEXT_CHARS),
                            pos_share=POS_SHARE, C=LABELLED_C if enough else BOOTSTRAP_C, nb=enough,
                            threshold=0.5 if enough else BOOTSTRAP_THRESHOLD)
    version = new_version("topics")
    per_topic = {
        n: {
            "weak_positive": int(weak_pos[j]), "weak_negative": int(weak_neg[j]),
            "labelled_positive": int(sum(1 for lab in labels if lab.label == n and lab.value == 1)),
            "labelled_negative": int(sum(1 for lab in labels if lab.label == n and lab.value == 0)),
            "threshold": float(model.thresholds[j]),
            "training_positive_share": float(((Y[:, j] == 1) & (W[:, j] > 0)).sum() / max(1, (W[:, j] > 0).sum())),
        }
        for j, n in enumerate(names)
    }
    metrics = {"per_topic": per_topic}
    training = {
        "bootstrap": not labels,
        "articles": len(stored),
        "archive_articles": article_count(db),
        "examples": n_examples,
        "analyst_labels": len(labels),
        "rows": len(texts),
        "topics": names,
    }
    model.info["bootstrap"] = not labels
    save_model(db, "topics", version, model.to_payload(), metrics, training)
    labelstore.mark_used(db, "topic", [lab.id for lab in labels], version)
    return {"version": version, "metrics": metrics, "training": training}


def _train_stance(db) -> dict:
    taxonomy = load_taxonomy(db)
    labels = labelstore.all_labels(db, "stance")
    aliases = {t.name.lower(): t.aliases for t in taxonomy.targets}
    rows = [(lab.text, lab.target, lab.label) for lab in labels if lab.label in STANCES and lab.text]
    weights = [WEIGHT_ANALYST if lab.article_id is not None else 1.0 for lab in labels if lab.label in STANCES and lab.text]
    alias_map = {r[1]: aliases.get(r[1].lower(), (r[1],)) for r in rows}
    model = fit_stance_model(rows, alias_map, bootstrap_rows=stance_examples(), weights=weights)
    version = new_version("stance")
    targets = {}
    for t in {*taxonomy.target_names, *(r[1] for r in rows)}:
        n = sum(1 for r in rows if r[1].lower() == t.lower())
        targets[t] = {"labels": n, "mode": model.mode_for(t), "bootstrap": model.mode_for(t) == "bootstrap"}
    metrics = {"targets": targets}
    training = {"bootstrap": not rows, "analyst_labels": len(rows), "bootstrap_examples": len(stance_examples()),
                "params": model.info.get("params", {})}  # C and class balancing per sub-model, chosen on the training rows
    save_model(db, "stance", version, model.to_payload(), metrics, training)
    labelstore.mark_used(db, "stance", [lab.id for lab in labels], version)
    return {"version": version, "metrics": metrics, "training": training}


if __name__ == "__main__":  # a training child: kinds (or --refresh) in argv, database URL on stdin
    raise SystemExit(_child_main(sys.argv[1:]))
