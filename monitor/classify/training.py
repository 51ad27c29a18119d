"""Training: fitting and storing models from the seed terms (bootstrap), shipped examples and
analysts' labels. When to train is not decided here (classify.upkeep), and nothing here tags.

Topic bootstrap, per topic:
- weak positives: stored articles whose seed terms stand where news puts its subject
  (weaklabels.Evidence: the headline, the lead, or mentions spread over the article), plus a
  copy of each with every seed term blanked out, so the model has to learn the words around the
  terms and not the terms alone;
- weak negatives: stored articles with no seed term of the topic at all;
- stored articles whose mentions are passing (deep in a long article) are left out for that
  topic: the model decides those from their context instead of learning that it is the topic;
- the hand-written examples in monitor/classify/data/ (positives and look-alike negatives such
  as "life hack" or "data corruption", in the feeds' languages) and the topic descriptions, in
  each of those languages (what a topic is about; what it is not is shown, never taught).
Analyst labels outweigh all of that; a topic or target someone labelled that is not in the
taxonomy is learned too.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from monitor.classify import labels as labelstore
from monitor.classify.datafile import read_rows
from monitor.classify.features import clean_text
from monitor.classify.kinds import MODEL_KINDS, STANCES, ModelKind
from monitor.classify.modelstore import save_model
from monitor.classify.prepared import ARCHIVE_TEXT_CHARS, MAX_WEAK_ARTICLES, Prepared, StoredText, bootstrap_features
from monitor.classify.stance import fit_stance_model
from monitor.classify.tagging import FittedScores, remember_decoded, remember_fitted_scores
from monitor.classify.taxonomy import TermMatcher, load_taxonomy
from monitor.classify.topics import fit_topic_model
from monitor.classify.weaklabels import (
    Evidence,
    blank_spans,
    seed_evidence,
    stance_examples,
    topic_examples,
)
from monitor.errors import InputError, ModelError
from monitor.store.schema import articles

log = logging.getLogger(__name__)
WEIGHT_EXAMPLE = 3.0
WEIGHT_TERM = 1.0
WEIGHT_TERM_OTHER = 0.3
WEIGHT_WEAK = 1.0
WEIGHT_MASKED = 0.5
WEIGHT_ANALYST = 10.0
WEIGHT_IMPORTED = 1.0  # a row of another corpus; an imported row that is a stored article weighs WEIGHT_ANALYST
_NOT_WORD = re.compile(r"[\W_]+")
LABEL_KEY_CHARS = 40  # an imported text is recognised as a stored article from this many characters on
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
# ... once they are also this share of the stored articles: a labelled corpus (AG News, a big
# import) is a training set of its own, but a few hundred analyst labels among thousands of
# weakly labelled articles are rows of the bootstrap's recipe. Switching there made every
# topic's threshold follow the weak labels' inner CV (0.20 to 0.45), not the labels, and 25
# labels per topic scored no better than none on the dev feeds.
LABELLED_SHARE = 0.5
# Until then a topic's threshold moves from BOOTSTRAP_THRESHOLD toward the F1-best cut of its
# labels (scored out of fold) by n / (n + LABEL_PRIOR), n the fewer of its labelled positives and
# negatives: 10 of each move it a third of the way, one label not at all. Labels are not a sample
# of the archive (analysts label what they look at: more positives, fewer near misses), so their
# cut lies lower than the archive's best. On the dev feeds' learning curve (24 label draws of 5,
# 10 and 25 per topic) the labels' cut alone scored 0.67 macro-F1 where 0.33 scores 0.78; a
# prior of 5 lost 0.01, counting every label with a prior of 40 or 80 lost 0.03 or 0.01, and 20
# on the fewer side is level (0.785).
LABEL_PRIOR = 20.0


def new_version(kind: str) -> str:
    return f"{kind}-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


def _stored_articles(db, prepared: Prepared | None = None) -> list[StoredText]:
    """The newest MAX_WEAK_ARTICLES stored articles, newest first, as the bootstrap reads them."""
    with db.read() as conn:
        rows = conn.execute(
            select(articles.c.id, articles.c.title, articles.c.summary, articles.c.content).order_by(articles.c.id.desc()).limit(MAX_WEAK_ARTICLES)
        ).all()
    return [prepared.text_of(r) if prepared else StoredText.read(r) for r in rows]


def prepare_ahead(db) -> Prepared:
    """A start on the topic bootstrap (monitor.classify.prepared): the rows it learns besides the
    stored articles (examples, seed terms, descriptions) analysed; the articles follow as they
    are stored (`Prepared.catch_up`)."""
    taxonomy = load_taxonomy(db)
    prepared = Prepared.start(db, taxonomy.topics)
    rows = _Rows(list(taxonomy.topic_names))
    _shipped_rows(rows, taxonomy, TermMatcher.for_topics(taxonomy.topics))
    prepared.analyse(rows.texts)
    return prepared


def article_count(db) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(articles)).scalar() or 0)


# ---------------------------------------------------------------- training


def train(
    db,
    kind: str,
    data: str | Path | None = None,
    text_columns: list[str] | None = None,
    label_column: str | None = None,
    target_column: str | None = None,
    analyst: str | None = None,
    prepared: Prepared | None = None,
) -> dict:
    """Train and activate a new model; returns its metrics (and version, training summary).

    With `data`, the file's rows are stored as labels first, so later trainings keep them.
    `prepared`: stored articles already read for the topic bootstrap (monitor.classify.prepared).
    """
    if kind not in MODEL_KINDS:
        raise InputError("train what? topics or stance")
    kind = ModelKind(kind)
    if data is not None:
        rows = read_rows(data, kind, text_columns, label_column, target_column)
        labelstore.import_rows(db, kind, rows, analyst=analyst)
    started = time.perf_counter()
    if kind is ModelKind.TOPICS:
        result = _train_topics(db, prepared if prepared is not None and prepared.url == db.url else None)
    else:
        result = _train_stance(db)
    result["training"]["seconds"] = round(time.perf_counter() - started, 2)
    return {"version": result["version"], "metrics": result["metrics"], "training": result["training"]}


class _Rows:
    """The topic model's training rows: texts, 0/1 labels and per-topic weights (0: unknown)."""

    def __init__(self, names: list[str]):
        self.names = names
        self.col = {n: j for j, n in enumerate(names)}
        self.texts: list[str] = []
        self.Y: list[np.ndarray] = []
        self.W: list[np.ndarray] = []
        self.A: list[np.ndarray] = []  # per row, the labels an analyst gave (True) it
        self.article_rows: dict[int, int] = {}  # stored article id -> its row

    def add(self, text: str, y: np.ndarray, w: np.ndarray, analyst: np.ndarray | None = None) -> None:
        self.texts.append(text)
        self.Y.append(y)
        self.W.append(w)
        self.A.append(np.zeros(len(self.names), dtype=bool) if analyst is None else analyst)

    def onehot(self, topics) -> np.ndarray:
        return np.array([1 if n in topics else 0 for n in self.names], dtype=np.int8)

    def labelled(self, labs: dict[str, int], weight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        y, w = np.zeros(len(self.names), dtype=np.int8), np.zeros(len(self.names))
        for name, value in labs.items():
            y[self.col[name]], w[self.col[name]] = value, weight
        return y, w, w > 0


def _shipped_rows(rows: _Rows, taxonomy, matcher: TermMatcher) -> int:
    """Hand-written examples, seed terms and descriptions; returns how many examples."""
    # fully labelled for the taxonomy's topics, and silent on topics only analysts know
    tax_mask = np.array([n in taxonomy.topic_names for n in rows.names], dtype=float)
    n_examples = 0
    for text, topics in topic_examples():
        y = rows.onehot(topics)
        rows.add(text, y, WEIGHT_EXAMPLE * tax_mask)
        n_examples += 1
        spans = [(s, e) for _, s, e, _ in matcher.find(text)]
        if topics and spans:  # the same example without its seed terms: learn the context
            rows.add(blank_spans(text, spans), y.copy(), WEIGHT_EXAMPLE * WEIGHT_MASKED * tax_mask)
    # each seed term is a tiny positive document of its topic: the model knows the terms
    # themselves (and, through character n-grams, their other forms) from the start
    for t in taxonomy.topics:
        if t.name not in rows.col:
            continue
        y = rows.onehot((t.name,))
        w = WEIGHT_TERM_OTHER * tax_mask
        w[rows.col[t.name]] = WEIGHT_TERM
        for term in t.terms:
            term = term.replace("*", "").strip()
            if term:
                rows.add(term, y, w.copy())
    # a description in each language the feeds carry, each a positive of its topic alone; its
    # "not" part names look-alikes ("patches with no reported exploitation") and is not taught:
    # as a positive it would make those words evidence for the topic, and as a negative (tried
    # on the dev feeds) it taught the topic's own words ("drug use") against it
    for t in taxonomy.topics:
        w = np.zeros(len(rows.names))
        w[rows.col[t.name]] = WEIGHT_EXAMPLE  # a description says nothing about other topics
        abouts = [d.about for d in t.descriptions] or ([t.description] if t.description else [])
        for about in abouts:
            rows.add(about, rows.onehot((t.name,)), w.copy())
    return n_examples


def _weak_rows(rows: _Rows, stored: list[StoredText], matcher: TermMatcher, seeded: list[bool],
               by_article: dict[int, dict[str, int]],
               prepared_evidence: Callable[[StoredText], tuple[dict[str, Evidence], list[tuple[int, int]]] | None],
               ) -> tuple[np.ndarray, np.ndarray]:
    """Stored articles weakly labelled by the seed terms, overridden where an analyst labelled
    them (those leave `by_article`); returns the weak positives and negatives per topic."""
    L = len(rows.names)
    weak_pos, weak_neg = np.zeros(L, dtype=int), np.zeros(L, dtype=int)
    for article in stored:
        aid, text = article.id, article.text
        y, w = np.zeros(L, dtype=np.int8), np.zeros(L)
        any_strong = False
        evidence, spans = prepared_evidence(article) or seed_evidence(matcher, article.title, text)
        for j, name in enumerate(rows.names):
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
        analyst = by_article.pop(aid, {})
        given = np.zeros(L, dtype=bool)
        for name, value in analyst.items():
            y[rows.col[name]], w[rows.col[name]] = value, WEIGHT_ANALYST
            given[rows.col[name]] = True
        rows.article_rows[aid] = len(rows.texts)
        rows.add(text, y, w, given)
        if any_strong:
            wm = np.where(w > 0, WEIGHT_MASKED, 0.0)
            wm[[rows.col[n] for n in analyst]] = 0.0
            rows.add(blank_spans(text, spans), y.copy(), wm)
    return weak_pos, weak_neg


def _label_key(text: str) -> str:
    """A text's letters and digits alone: spreadsheets and exports differ in spacing, markup,
    punctuation and invisible characters, not in words."""
    return _NOT_WORD.sub("", clean_text(text).casefold())


def _imported_on_stored(imported: dict[str, dict[str, int]], stored: list[StoredText], by_article: dict[int, dict[str, int]]) -> None:
    """Imported rows that are stored articles (an analyst exported articles, labelled them in a
    spreadsheet and imported the file) become labels of those articles: they replace the
    article's weak labels and weigh as much as a label given in the dashboard. Rows of another
    corpus stay imported texts. Moves them from `imported` to `by_article`."""
    if not imported:
        return
    heads: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for article in stored:  # the whole text is compared only where the start matches
        heads[_label_key(article.text[: 4 * LABEL_KEY_CHARS])[:LABEL_KEY_CHARS]].append((article.id, article.text))
    for text in list(imported):
        key = _label_key(text)
        if len(key) < LABEL_KEY_CHARS:
            continue  # too short to tell one article from another
        # an article's stored text is its title twice and its summary, then any content
        candidates = ((aid, _label_key(t)) for aid, t in heads.get(key[:LABEL_KEY_CHARS], ()))
        match = next((aid for aid, k in candidates if k.startswith(key) or key.startswith(k)), None)
        if match is not None:
            for name, value in imported.pop(text).items():
                by_article[match].setdefault(name, value)  # a label given on the article itself wins


def _train_topics(db, prepared: Prepared | None) -> dict:
    taxonomy = load_taxonomy(db)
    labels = labelstore.all_labels(db, ModelKind.TOPICS.tag_kind)
    names = list(taxonomy.topic_names)
    names += list(dict.fromkeys(lab.label for lab in labels if lab.label not in names))
    if not names:
        raise ModelError("the taxonomy has no topics")
    rows = _Rows(names)
    matcher = TermMatcher.for_topics(taxonomy.topics)
    n_examples = _shipped_rows(rows, taxonomy, matcher)

    by_article: dict[int, dict[str, int]] = defaultdict(dict)
    imported: dict[str, dict[str, int]] = defaultdict(dict)
    for lab in labels:
        if lab.article_id is not None:
            by_article[lab.article_id][lab.label] = lab.value
        else:
            imported[lab.text][lab.label] = lab.value
    stored = _stored_articles(db, prepared)
    _imported_on_stored(imported, stored, by_article)
    labelled_texts = len(imported) + len(by_article)
    seeded = [n in taxonomy.topic_names for n in names]
    evidence = (lambda a: prepared.evidence_of(a, taxonomy.topics)) if prepared else (lambda a: None)
    weak_pos, weak_neg = _weak_rows(rows, stored, matcher, seeded, by_article, evidence)
    # labels on articles outside the weak-label window, and imported texts
    for aid, labs in by_article.items():
        rows.add(next((lab.text for lab in labels if lab.article_id == aid), ""), *rows.labelled(labs, WEIGHT_ANALYST))
    for text, labs in imported.items():
        rows.add(text, *rows.labelled(labs, WEIGHT_IMPORTED))

    Y, W, A = np.vstack(rows.Y), np.vstack(rows.W), np.vstack(rows.A)
    # A few labels are rows of the bootstrap's own recipe (weighted WEIGHT_ANALYST), not a switch
    # to another one: the first correction must not move every topic's threshold and tag count.
    # From LABELLED_ENOUGH labelled texts on (and LABELLED_SHARE of the archive), the labels
    # choose the head and the thresholds; below that each topic's threshold moves toward its
    # labels' gradually (topics.label_thresholds, LABEL_PRIOR).
    enough = labelled_texts >= max(LABELLED_ENOUGH, LABELLED_SHARE * len(stored))
    model = fit_topic_model(rows.texts, Y, names, W, tune_thresholds=enough, config=bootstrap_features(),
                            pos_share=POS_SHARE, C=LABELLED_C if enough else BOOTSTRAP_C, nb=enough,
                            threshold=0.5 if enough else BOOTSTRAP_THRESHOLD, training_scores=True,
                            analysed=prepared.analysed if prepared else None, analyst=A if labels else None,
                            label_prior=LABEL_PRIOR)
    basis = model.info.get("threshold_labels") or [0] * len(names)
    from_labels = model.info.get("threshold_from_labels") or [None] * len(names)
    version = new_version(ModelKind.TOPICS)
    per_topic = {
        n: {
            "weak_positive": int(weak_pos[j]), "weak_negative": int(weak_neg[j]),
            "labelled_positive": int(sum(1 for lab in labels if lab.label == n and lab.value == 1)),
            "labelled_negative": int(sum(1 for lab in labels if lab.label == n and lab.value == 0)),
            "threshold": float(model.thresholds[j]),
            "labels_behind_threshold": int(basis[j]),  # the analysts' labels the threshold rests on (0: the bootstrap's)
            "threshold_from_labels": from_labels[j],  # where those labels alone would put it
            "training_positive_share": float(((Y[:, j] == 1) & (W[:, j] > 0)).sum() / max(1, (W[:, j] > 0).sum())),
        }
        for j, n in enumerate(names)
    }
    metrics = {"per_topic": per_topic}
    training = {
        "bootstrap": not labels, "articles": len(stored), "archive_articles": article_count(db), "examples": n_examples,
        "analyst_labels": len(labels), "rows": len(rows.texts), "topics": names,
    }
    model.info["bootstrap"] = not labels
    remember_decoded(save_model(db, ModelKind.TOPICS, version, model.to_payload(), metrics, training), model)
    labelstore.mark_used(db, ModelKind.TOPICS.tag_kind, [lab.id for lab in labels], version)
    if model.training_scores is not None:  # a re-tag right after reuses them (tagging.FittedScores)
        keys = {a.id: a.key for a in stored}
        fitted_rows = {aid: (row, keys[aid]) for aid, row in rows.article_rows.items()}
        remember_fitted_scores(FittedScores(version, fitted_rows, model.training_scores, rows.texts, ARCHIVE_TEXT_CHARS,
                                            prepared.analysed if prepared else None, prepared.wholes if prepared else {}))
    return {"version": version, "metrics": metrics, "training": training}


def _train_stance(db) -> dict:
    taxonomy = load_taxonomy(db)
    labels = labelstore.all_labels(db, ModelKind.STANCE.tag_kind)
    aliases = {t.name.lower(): t.aliases for t in taxonomy.targets}
    rows = [(lab.text, lab.target, lab.label) for lab in labels if lab.label in STANCES and lab.text]
    weights = [WEIGHT_ANALYST if lab.article_id is not None else 1.0 for lab in labels if lab.label in STANCES and lab.text]
    alias_map = {r[1]: aliases.get(r[1].lower(), (r[1],)) for r in rows}
    model = fit_stance_model(rows, alias_map, bootstrap_rows=stance_examples(), weights=weights)
    version = new_version(ModelKind.STANCE)
    targets = {}
    for t in {*taxonomy.target_names, *(r[1] for r in rows)}:
        n = sum(1 for r in rows if r[1].lower() == t.lower())
        targets[t] = {"labels": n, "mode": model.mode_for(t), "bootstrap": model.mode_for(t) == "bootstrap"}
    metrics = {"targets": targets}
    training = {"bootstrap": not rows, "analyst_labels": len(rows), "bootstrap_examples": len(stance_examples()),
                "params": model.info.get("params", {})}  # C and class balancing per sub-model, chosen on the training rows
    remember_decoded(save_model(db, ModelKind.STANCE, version, model.to_payload(), metrics, training), model)
    labelstore.mark_used(db, ModelKind.STANCE.tag_kind, [lab.id for lab in labels], version)
    return {"version": version, "metrics": metrics, "training": training}
