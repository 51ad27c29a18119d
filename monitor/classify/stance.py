"""Stance toward a target (SemEval-2016 Task 6): FAVOR, AGAINST or NONE.

Three kinds of sub-model, chosen per target:
- `per_target`: a target with at least MIN_PER_TARGET labelled rows (and at least two stances)
  gets its own TF-IDF model, as in the SemEval organisers' strongest baseline;
- `shared`: one model over every labelled row, for labelled targets with too few rows;
- `bootstrap`: targets nobody labelled use a model trained on the hand-written examples
  shipped in the repo (monitor/classify/data/stance_examples.tsv), marked as such.
For the shared and bootstrap models the target's aliases are replaced by one placeholder
token before featurising, so what they learn about "TARGET" carries over between targets; a
per-target model reads the text as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from monitor.classify.features import FeatureConfig, Features
from monitor.classify.kinds import STANCES, Stance
from monitor.classify.linear import LinearHeads, fit_heads
from monitor.classify.taxonomy import compile_terms

if TYPE_CHECKING:
    import scipy.sparse as sp

MIN_PER_TARGET = 40
PLACEHOLDER = " stancetarget "
STANCE_FEATURES = FeatureConfig(word_ngrams=(1, 3), stems=None, char_ngrams=(2, 5), char_analyzer="char", min_df=1, char_min_df=2, max_df=1.0,
                                hashtags=True)
# Regularisation for labelled sub-models is chosen by inner cross-validation on the training
# rows (choose_params); a sub-model with too few rows for that uses sklearn's default C = 1.
C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)
DEFAULT_C = 1.0
BOOTSTRAP_STANCE_C = 3.0  # the hand-written bootstrap examples (fixed; never fitted to a test set)
INNER_FOLDS = 5
MIN_CV_ROWS = 60  # rows (and INNER_FOLDS per present stance) needed to choose C by inner CV


def mask_target(text: str, aliases: tuple[str, ...] | list[str]) -> str:
    pattern = compile_terms(tuple(aliases))
    return pattern.sub(PLACEHOLDER, text) if pattern is not None else text


@dataclass
class SubModel:
    features: Features
    heads: LinearHeads
    mode: str

    def predict(self, texts: list[str]) -> tuple[list[str], list[float]]:
        P = self.heads.proba(self.features.transform(texts))
        P = P / np.maximum(P.sum(axis=1, keepdims=True), 1e-12)
        best = P.argmax(axis=1)
        return [self.heads.labels[k] for k in best], [float(P[i, k]) for i, k in enumerate(best)]

    def to_payload(self) -> dict:
        return {"features": self.features.to_payload(), "heads": self.heads.to_payload(), "mode": self.mode}

    @classmethod
    def from_payload(cls, p: dict) -> SubModel:
        return cls(Features.from_payload(p["features"]), LinearHeads.from_payload(p["heads"]), p["mode"])


@dataclass
class StanceModel:
    per_target: dict[str, SubModel]
    shared: SubModel | None
    bootstrap: SubModel | None
    shared_targets: list[str] = field(default_factory=list)  # labelled targets the shared model covers
    info: dict = field(default_factory=dict)

    def mode_for(self, target: str) -> str:
        key = target.lower()
        if key in self.per_target:
            return "per_target"
        if self.shared is not None and key in self.shared_targets:
            return "shared"
        if self.bootstrap is not None:
            return "bootstrap"
        return "shared" if self.shared is not None else "none"

    def predict(self, texts: list[str], targets: list[str], aliases: tuple[str, ...] | None = None) -> tuple[list[str], list[float]]:
        """A stance and its score per (text, target) pair."""
        labels: list[str] = [""] * len(texts)
        scores: list[float] = [0.0] * len(texts)
        groups: dict[str, list[int]] = {}
        for i, t in enumerate(targets):
            groups.setdefault(t, []).append(i)
        for target, idx in groups.items():
            sub = self._sub(target)
            if sub is None:
                for i in idx:
                    labels[i], scores[i] = Stance.NONE.value, 0.0
                continue
            names = tuple(aliases) if aliases else (target,)
            if sub.mode == "per_target":  # a target's own model reads its name as it is
                labs, scs = sub.predict([texts[i] for i in idx])
            else:
                labs, scs = sub.predict([mask_target(texts[i], names) for i in idx])
            for i, lab, sc in zip(idx, labs, scs):
                labels[i], scores[i] = lab, sc
        return labels, scores

    def _sub(self, target: str) -> SubModel | None:
        mode = self.mode_for(target)
        if mode == "per_target":
            return self.per_target[target.lower()]
        if mode == "shared":
            return self.shared
        if mode == "bootstrap":
            return self.bootstrap
        return None

    def to_payload(self) -> dict:
        return {
            "kind": "stance",
            "per_target": {k: v.to_payload() for k, v in self.per_target.items()},
            "shared": self.shared.to_payload() if self.shared else None,
            "bootstrap": self.bootstrap.to_payload() if self.bootstrap else None,
            "shared_targets": list(self.shared_targets),
            "info": self.info,
        }

    @classmethod
    def from_payload(cls, p: dict) -> StanceModel:
        return cls(
            {k: SubModel.from_payload(v) for k, v in (p.get("per_target") or {}).items()},
            SubModel.from_payload(p["shared"]) if p.get("shared") else None,
            SubModel.from_payload(p["bootstrap"]) if p.get("bootstrap") else None,
            list(p.get("shared_targets") or []),
            dict(p.get("info") or {}),
        )


def _fit(X: sp.csr_matrix, y: list[str], weights: np.ndarray | None, C: float, balanced: bool) -> LinearHeads:
    present = [s for s in STANCES if s in set(y)]
    labels = present if len(present) >= 2 else list(STANCES)
    Y = np.array([[1 if lab == s else 0 for s in labels] for lab in y], dtype=np.int8)
    W = None if weights is None else np.repeat(np.asarray(weights, dtype=np.float64)[:, None], len(labels), axis=1)
    # plain TF-IDF logistic regression: on SemEval's tweets naive-Bayes scaling lost ~3 F_avg
    return fit_heads(X, Y, labels, W, C=C, nb=False, balanced=balanced)


def fit_sub(
    texts: list[str], y: list[str], mode: str, weights: np.ndarray | None = None, C: float = DEFAULT_C, balanced: bool = False,
) -> SubModel:
    features, rows = Features.fit_transform(texts, STANCE_FEATURES)
    return SubModel(features, _fit(rows.to_scipy(), y, weights, C, balanced), mode)


def f_avg(gold: list[str], pred: list[str]) -> float:
    """SemEval's F_avg: mean F1 of FAVOR and AGAINST (NONE is not averaged in)."""
    out = []
    for s in (Stance.FAVOR, Stance.AGAINST):
        tp = sum(1 for g, p in zip(gold, pred) if g == s and p == s)
        n_pred, n_gold = sum(p == s for p in pred), sum(g == s for g in gold)
        out.append(2 * tp / (n_pred + n_gold) if n_pred + n_gold else 0.0)
    return sum(out) / 2


def choose_params(texts: list[str], y: list[str], weights: np.ndarray | None = None) -> dict:
    """C and class balancing for one sub-model, by stratified inner CV on its training rows
    (F_avg of the pooled out-of-fold predictions); the first best of the grid wins ties.
    Too few rows (or a stance with fewer rows than folds): the fixed default, unbalanced."""
    from collections import Counter

    from sklearn.model_selection import StratifiedKFold

    counts = Counter(y)
    if len(texts) < MIN_CV_ROWS or len(counts) < 2 or min(counts.values()) < INNER_FOLDS:
        return {"C": DEFAULT_C, "balanced": False, "chosen_by": "default"}
    grid = [(C, b) for b in (False, True) for C in C_GRID]
    preds: dict[tuple[float, bool], list[str]] = {g: [""] * len(texts) for g in grid}
    folds = StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=0)
    for tr, te in folds.split(np.zeros(len(y)), y):
        tr_texts, tr_y = [texts[i] for i in tr], [y[i] for i in tr]
        te_texts = [texts[i] for i in te]
        features, rows = Features.fit_transform(tr_texts, STANCE_FEATURES)
        X = rows.to_scipy()
        w = None if weights is None else np.asarray(weights)[tr]
        for C, b in grid:
            sub = SubModel(features, _fit(X, tr_y, w, C, b), "cv")
            for i, lab in zip(te, sub.predict(te_texts)[0]):
                preds[(C, b)][i] = lab
    scores = {g: f_avg(y, p) for g, p in preds.items()}
    best = max(grid, key=lambda g: scores[g])
    return {"C": best[0], "balanced": best[1], "chosen_by": f"{INNER_FOLDS}-fold CV on training rows", "cv_f_avg": round(scores[best], 4)}


def _fit_tuned(texts: list[str], y: list[str], mode: str, weights: np.ndarray | None) -> tuple[SubModel, dict]:
    params = choose_params(texts, y, weights)
    return fit_sub(texts, y, mode, weights, C=params["C"], balanced=params["balanced"]), params


def fit_stance_model(
    rows: list[tuple[str, str, str]],
    aliases: dict[str, tuple[str, ...]],
    bootstrap_rows: list[tuple[str, str]] | None = None,
    weights: list[float] | None = None,
) -> StanceModel:
    """rows: (text, target, stance); aliases: target -> aliases (default: the name)."""
    w = np.ones(len(rows)) if weights is None else np.asarray(weights, dtype=np.float64)
    masked = [mask_target(t, aliases.get(g, (g,))) for t, g, _ in rows]
    by_target: dict[str, list[int]] = {}
    for i, (_, g, _) in enumerate(rows):
        by_target.setdefault(g.lower(), []).append(i)
    per_target: dict[str, SubModel] = {}
    shared_targets: list[str] = []
    params: dict[str, dict] = {}
    for g, idx in by_target.items():
        ys = [rows[i][2] for i in idx]
        if len(idx) >= MIN_PER_TARGET and len(set(ys)) >= 2:
            per_target[g], params[g] = _fit_tuned([rows[i][0] for i in idx], ys, "per_target", w[idx])
        else:
            shared_targets.append(g)
    shared = None
    if rows and len({r[2] for r in rows}) >= 2 and shared_targets:
        shared, params["(shared)"] = _fit_tuned(masked, [r[2] for r in rows], "shared", w)
    boot = None
    if bootstrap_rows:
        boot = fit_sub([t for t, _ in bootstrap_rows], [s for _, s in bootstrap_rows], "bootstrap", C=BOOTSTRAP_STANCE_C)
    info = {
        "targets": {g: {"rows": len(idx), "mode": "per_target" if g in per_target else "shared"} for g, idx in by_target.items()},
        "bootstrap": boot is not None,
        "params": params,
    }
    return StanceModel(per_target, shared, boot, shared_targets, info)
