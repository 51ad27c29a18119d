"""Scoring models on labelled files: cross-validated fresh models, or the active model.

Metrics (one JSON object): accuracy, macro_f1, per_class {label: precision, recall, f1,
support}; for stance also f_avg = mean F1 of FAVOR and AGAINST (SemEval-2016's measure).
Topic files where every row has exactly one label are scored as single-label (the
best-scoring topic is the prediction; accuracy is the share right); otherwise per-label
thresholds decide and accuracy is the share of rows whose whole label set is right.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from monitor.classify.datafile import Row, read_rows
from monitor.classify.kinds import STANCES, Stance
from monitor.classify.stance import fit_stance_model
from monitor.classify.taxonomy import load_taxonomy
from monitor.classify.topics import fit_topic_model
from monitor.errors import InputError, ModelError


def evaluate(
    db,
    kind: str,
    data: str | Path,
    cv: int | None = None,
    text_columns: list[str] | None = None,
    label_column: str | None = None,
    target_column: str | None = None,
) -> dict:
    if kind not in ("topics", "stance"):
        raise InputError("evaluate what? topics or stance")
    rows = read_rows(data, kind, text_columns, label_column, target_column)
    rows = [r for r in rows if r.labels]
    if not rows:
        raise InputError(f"{data} has no labelled rows")
    if cv is not None and cv < 2:
        raise InputError("--cv needs at least 2 folds")
    if kind == "topics":
        result = _cv_topics(rows, cv) if cv else _score_topics(db, rows)
    else:
        result = _cv_stance(db, rows, cv) if cv else _score_stance(db, rows)
    result["rows"] = len(rows)
    if cv:
        result["folds"] = cv
    return result


# ---------------------------------------------------------------- metrics


def single_label_metrics(gold: list[str], pred: list[str], classes: list[str] | None = None) -> dict:
    classes = classes or sorted(set(gold) | set(pred))
    g = np.array(gold, dtype=object)
    p = np.array(pred, dtype=object)
    per = {}
    for c in classes:
        tp = int(((p == c) & (g == c)).sum())
        fp = int(((p == c) & (g != c)).sum())
        fn = int(((p != c) & (g == c)).sum())
        per[c] = _prf(tp, fp, fn, int((g == c).sum()))
    scored = [c for c in classes if per[c]["support"] > 0 or any(p == c)]
    return {
        "accuracy": float((g == p).mean()) if len(g) else 0.0,
        "macro_f1": float(np.mean([per[c]["f1"] for c in scored])) if scored else 0.0,
        "per_class": per,
    }


def multi_label_metrics(gold: list[set[str]], pred: list[set[str]], classes: list[str]) -> dict:
    per = {}
    for c in classes:
        tp = sum(1 for gs, ps in zip(gold, pred) if c in gs and c in ps)
        fp = sum(1 for gs, ps in zip(gold, pred) if c not in gs and c in ps)
        fn = sum(1 for gs, ps in zip(gold, pred) if c in gs and c not in ps)
        per[c] = _prf(tp, fp, fn, sum(1 for gs in gold if c in gs))
    scored = [c for c in classes if per[c]["support"] > 0]
    return {
        "accuracy": float(np.mean([gs == ps for gs, ps in zip(gold, pred)])) if gold else 0.0,
        "macro_f1": float(np.mean([per[c]["f1"] for c in scored])) if scored else 0.0,
        "per_class": per,
    }


def _prf(tp: int, fp: int, fn: int, support: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "support": support}


def stance_metrics(gold: list[str], pred: list[str]) -> dict:
    m = single_label_metrics(gold, pred, list(STANCES))
    m["f_avg"] = round((m["per_class"][Stance.FAVOR]["f1"] + m["per_class"][Stance.AGAINST]["f1"]) / 2, 4)
    return m


# ---------------------------------------------------------------- topics


def _topic_matrix(rows: list[Row], classes: list[str]) -> np.ndarray:
    return np.array([[1 if c in r.labels else 0 for c in classes] for r in rows], dtype=np.int8)


def _predict_topics(model, texts: list[str], single: bool) -> list:
    # one label per text: the whole text decides (a sentence's peak is for multi-label tags)
    S = model.scores(texts, passages=not single)
    if single:
        return [model.labels[k] for k in S.argmax(axis=1)]
    return [{lab for j, lab in enumerate(model.labels) if S[i, j] >= model.thresholds[j]} for i in range(len(texts))]


def _cv_topics(rows: list[Row], k: int) -> dict:
    from sklearn.model_selection import KFold, StratifiedKFold

    classes = sorted({lab for r in rows for lab in r.labels})
    single = all(len(r.labels) == 1 for r in rows)
    strata = [r.labels[0] for r in rows]
    counts = {c: strata.count(c) for c in set(strata)}
    splitter = StratifiedKFold(k, shuffle=True, random_state=0) if min(counts.values()) >= k else KFold(k, shuffle=True, random_state=0)
    Y = _topic_matrix(rows, classes)
    texts = [r.text for r in rows]
    preds: list = [None] * len(rows)
    fold_acc = []
    for tr, te in splitter.split(np.zeros(len(rows)), strata):
        # the head and the thresholds are chosen by inner CV on the training fold alone
        model = fit_topic_model([texts[i] for i in tr], Y[tr], classes, tune_thresholds=not single, select=True)
        out = _predict_topics(model, [texts[i] for i in te], single)
        for i, p in zip(te, out):
            preds[i] = p
        fold_acc.append(np.mean([(p == rows[i].labels[0]) if single else (p == set(rows[i].labels)) for i, p in zip(te, out)]))
    if single:
        m = single_label_metrics([r.labels[0] for r in rows], preds, classes)
    else:
        m = multi_label_metrics([set(r.labels) for r in rows], preds, classes)
    m["fold_accuracy"] = [round(float(a), 4) for a in fold_acc]
    return m


def _score_topics(db, rows: list[Row]) -> dict:
    from monitor.classify.modelstore import load_active
    from monitor.classify.topics import TopicModel

    stored = load_active(db, "topics")
    if stored is None:
        raise ModelError("no topic model yet: run `train topics` first")
    model = TopicModel.from_payload(stored.payload)
    single = all(len(r.labels) == 1 for r in rows)
    classes = sorted({lab for r in rows for lab in r.labels} | set(model.labels))
    preds = _predict_topics(model, [r.text for r in rows], single)
    if single:
        m = single_label_metrics([r.labels[0] for r in rows], preds, sorted({r.labels[0] for r in rows} | set(preds)))
    else:
        m = multi_label_metrics([set(r.labels) for r in rows], preds, classes)
    m["model_version"] = stored.version
    return m


# ---------------------------------------------------------------- stance


def _aliases(db, rows: list[Row]) -> dict[str, tuple[str, ...]]:
    taxonomy = load_taxonomy(db)
    known = {t.name.lower(): t.aliases for t in taxonomy.targets}
    return {r.target: known.get(r.target.lower(), (r.target,)) for r in rows}


def _cv_stance(db, rows: list[Row], k: int) -> dict:
    from sklearn.model_selection import StratifiedKFold

    aliases = _aliases(db, rows)
    strata = [f"{r.target}|{r.labels[0]}" for r in rows]
    counts = {c: strata.count(c) for c in set(strata)}
    if min(counts.values()) < k:
        strata = [r.labels[0] for r in rows]
    preds: list[str] = [""] * len(rows)
    for tr, te in StratifiedKFold(k, shuffle=True, random_state=0).split(np.zeros(len(rows)), strata):
        model = fit_stance_model([(rows[i].text, rows[i].target, rows[i].labels[0]) for i in tr], aliases)
        labs, _ = model.predict([rows[i].text for i in te], [rows[i].target for i in te])
        for i, lab in zip(te, labs):
            preds[i] = lab
    return stance_metrics([r.labels[0] for r in rows], preds)


def _score_stance(db, rows: list[Row]) -> dict:
    from monitor.classify.modelstore import load_active
    from monitor.classify.stance import StanceModel

    stored = load_active(db, "stance")
    if stored is None:
        raise ModelError("no stance model yet: run `train stance` first")
    model = StanceModel.from_payload(stored.payload)
    aliases = _aliases(db, rows)
    preds: list[str] = [""] * len(rows)
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(r.target, []).append(i)
    for target, idx in groups.items():
        labs, _ = model.predict([rows[i].text for i in idx], [target] * len(idx), aliases=aliases.get(target))
        for i, lab in zip(idx, labs):
            preds[i] = lab
    m = stance_metrics([r.labels[0] for r in rows], preds)
    m["model_version"] = stored.version
    m["modes"] = {t: model.mode_for(t) for t in groups}
    return m
