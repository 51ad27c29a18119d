"""The topic model: TF-IDF features, one calibrated linear head per topic, per-topic thresholds.

Scores are probabilities (logistic regression, or a linear SVM calibrated by Platt scaling);
a topic is tagged when its score reaches its threshold (0.5 unless tuned on labelled data by
cross-validation). On labelled data the same inner cross-validation also picks the head
(RECIPES). For evaluation on single-label data the best-scoring topic is the prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from monitor.classify.features import SENTENCE_END, Analysed, FeatureConfig, Features
from monitor.classify.linear import LinearHeads, fit_heads

if TYPE_CHECKING:
    import scipy.sparse as sp

DEFAULT_C = 10.0
PASSAGE_MIN_TEXT = 700  # shorter texts (most feed items) are one passage already
PASSAGE_CHARS = 160  # about one sentence: short sentences are joined to their neighbour
MAX_PASSAGES = 24  # the lead of a long article; the rest costs time and adds false alarms
# A long article is looked at up to MAX_PASSAGES times: a passage that only just passes a
# topic's threshold is the best of many looks, as likely a film's plot or a player's drug test
# as a paragraph on the topic. A passage raises the article's score only when it is clearly over.
PASSAGE_MIN_SCORE = 0.38  # clearly over the bootstrap's 1/3, not just over it
INNER_FOLDS = 3
MIN_INNER_ROWS = 30  # fewer rows: keep the default head and thresholds
# Choosing a head and thresholds needs a few thousand rows, not a whole archive: above this the
# inner CV runs on a fixed random sample (12 extra fits on 20 000 stored articles plus 7 600
# labelled rows took 345 s; AG and BBC training folds, 6 080 and 1 780 rows, are used whole).
MAX_INNER_ROWS = 8_000
# Heads tried by inner CV on labelled data: NB-scaled logistic regression (the default) and an
# NB-scaled linear SVM (NBSVM proper) at three strengths. A small generic grid: on BBC News the
# SVM at C=10 wins inside every training fold (0.980 -> 0.983 outer 5-fold accuracy), on AG
# News the pick varies by fold and accuracy stays the same (0.8947 -> 0.8946).
RECIPES: tuple[tuple[str, float], ...] = (("log", DEFAULT_C), ("squared_hinge", 0.3), ("squared_hinge", 1.0), ("squared_hinge", 10.0))


def split_passages(text: str) -> list[str]:
    """Consecutive sentences grouped into passages of about PASSAGE_CHARS characters."""
    out: list[str] = []
    current = ""
    for sentence in SENTENCE_END.split(text):
        if current and len(current) >= PASSAGE_CHARS // 2 and len(current) + len(sentence) > PASSAGE_CHARS:
            out.append(current)
            if len(out) >= MAX_PASSAGES:
                return out
            current = ""
        current = f"{current} {sentence}".strip()
    if current and len(out) < MAX_PASSAGES:
        out.append(current)
    return out


def passages_of(text: str) -> list[str]:
    """The passages a long text is also scored by; none for a short one."""
    return split_passages(text) if len(text) > PASSAGE_MIN_TEXT else []


@dataclass
class TopicModel:
    features: Features
    heads: LinearHeads
    thresholds: np.ndarray
    info: dict = field(default_factory=dict)
    # whole-text scores of the rows it was fitted on (`fit_topic_model(training_scores=True)`),
    # in memory only: re-tagging right after training reuses them
    training_scores: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def labels(self) -> list[str]:
        return self.heads.labels

    def scores(self, texts: list[str], passages: bool = True, known: np.ndarray | None = None,
               analysed: Analysed | None = None) -> np.ndarray:
        """(texts, topics) probabilities.

        A long article is also scored passage by passage and keeps, per topic, the best of
        its whole-text and passage scores: one paragraph on cybercrime in an interview about
        Interpol is drowned in the whole text but plain in its own passage.

        `known`: whole-text scores already computed (by the training that fitted this model),
        a row of NaN where a text still has to be scored. `analysed`: terms already found in
        some of the texts or passages (monitor.classify.prepared).
        """
        if not texts:
            return np.zeros((0, len(self.labels)))
        if known is None:
            S = self.heads.proba(self.features.transform(texts, analysed))
        else:
            S = np.array(known, dtype=np.float64)
            todo = np.flatnonzero(np.isnan(S).any(axis=1))
            if len(todo):
                S[todo] = self.heads.proba(self.features.transform([texts[i] for i in todo], analysed))
        if not passages:
            return S
        owner: list[int] = []
        chunks: list[str] = []
        for i, t in enumerate(texts):
            for c in passages_of(t):
                owner.append(i)
                chunks.append(c)
        if chunks:
            P = self.heads.proba(self.features.transform(chunks, analysed))
            np.maximum.at(S, np.asarray(owner), np.where(P >= PASSAGE_MIN_SCORE, P, 0.0))
        return S

    def predict_sets(self, texts: list[str]) -> list[list[str]]:
        S = self.scores(texts)
        return [[lab for j, lab in enumerate(self.labels) if row[j] >= self.thresholds[j]] for row in S]

    def to_payload(self) -> dict:
        return {
            "kind": "topics",
            "features": self.features.to_payload(),
            "heads": self.heads.to_payload(),
            "thresholds": np.asarray(self.thresholds, dtype=np.float64),
            "info": self.info,
        }

    @classmethod
    def from_payload(cls, p: dict) -> TopicModel:
        return cls(Features.from_payload(p["features"]), LinearHeads.from_payload(p["heads"]), np.asarray(p["thresholds"]), dict(p.get("info") or {}))


def fit_topic_model(
    texts: list[str],
    Y: np.ndarray,
    labels: list[str],
    W: np.ndarray | None = None,
    *,
    config: FeatureConfig | None = None,
    C: float = DEFAULT_C,
    tune_thresholds: bool = False,
    fit_texts: list[str] | None = None,
    pos_share: float | None = None,
    nb: bool = True,
    threshold: float = 0.5,
    select: bool | None = None,
    training_scores: bool = False,
    analysed: Analysed | None = None,
    analyst: np.ndarray | None = None,
    label_prior: float = 0.0,
) -> TopicModel:
    """Fit features on `fit_texts` (default: the training texts) and one head per label.

    Y is (rows, labels) 0/1; W the weight of each row for each label (0 = not known for that
    label). With `tune_thresholds`, a 3-fold cross-validation picks each label's threshold to
    maximise F1 on the labelled rows. With `select` (default: whenever thresholds are tuned on
    NB-scaled heads, i.e. on labelled data) the same inner folds first pick the head among
    RECIPES, so every choice is made on the training rows alone. `analysed`: terms already found
    in some of the texts (monitor.classify.prepared).

    `analyst` marks the (row, label) entries that are analysts' labels. Without tuned
    thresholds, each label's threshold then moves from `threshold` toward the one its labels
    call for (scored out of fold), the further the more labels of both kinds it has
    (label_thresholds, `label_prior`); `info["threshold_labels"]` says how many labels each
    threshold rests on.
    """
    if fit_texts is None:
        features, fitted = Features.fit_transform(texts, config, analysed)
    else:
        features = Features.fit(fit_texts, config)
        fitted = features.transform(texts)
    X = fitted.to_scipy()
    select = (tune_thresholds and nb) if select is None else select
    recipe = ("log", C)
    thresholds = np.full(len(labels), threshold)
    info: dict = {"C": C, "nb": nb, "loss": "log", "features": (config or FeatureConfig()).to_dict()}
    calibration = None
    folds = _inner_folds(X.shape[0]) if (select or tune_thresholds) else []
    if folds:
        rows = _inner_rows(X.shape[0])
        Xi, Yi, Wi = X[rows], Y[rows], (None if W is None else W[rows])
        fit = dict(W=Wi, nb=nb, pos_share=pos_share)
        candidates = RECIPES if select else (recipe,)
        margins = {r: _out_of_fold(Xi, Yi, labels, folds, loss=r[0], C=r[1], **fit) for r in candidates}
        if select:
            scores = {r: _recipe_score(margins[r], Yi, Wi) for r in candidates}
            recipe = max(candidates, key=lambda r: scores[r])  # ties: the earlier (simpler) recipe
            info["recipe_cv"] = {f"{loss} C={c:g}": round(v, 4) for (loss, c), v in scores.items()}
        oof = margins[recipe]
        if recipe[0] != "log":
            calibration = _platt(oof, Yi, Wi)
            oof = calibration[0] * oof + calibration[1]
        if tune_thresholds:
            thresholds = _tuned_thresholds(_sigmoid(oof), Yi, Wi, threshold)
    heads = fit_heads(X, Y, labels, W, C=recipe[1], pos_share=pos_share, nb=nb, loss=recipe[0])
    if calibration is not None:
        heads = heads.calibrated(*calibration)
        info["calibration"] = [round(float(v), 4) for v in calibration]
    info.update({"C": recipe[1], "loss": recipe[0]})
    model = TopicModel(features, heads, thresholds, info, heads.proba(fitted) if training_scores else None)
    if analyst is not None and analyst.any():
        if tune_thresholds:
            tuned = thresholds != threshold
            info["threshold_labels"] = [int(analyst[:, j].sum()) if tuned[j] else 0 for j in range(len(labels))]
        else:
            fit_fold = dict(C=recipe[1], pos_share=pos_share, nb=nb, loss=recipe[0])
            blend = label_thresholds(model, X, texts, Y, W, analyst, label_prior, fit_fold)
            model.thresholds = blend.thresholds
            info["threshold_labels"] = blend.basis
            info["threshold_from_labels"] = blend.from_labels
    return model


@dataclass
class LabelThresholds:
    thresholds: np.ndarray  # per label: the threshold the model tags with
    basis: list[int]  # per label: the analysts' labels it rests on (0: the default threshold)
    from_labels: list[float | None]  # per label: the threshold the labels alone call for


def label_thresholds(model: TopicModel, X: sp.csr_matrix, texts: list[str], Y: np.ndarray, W: np.ndarray | None,
                     analyst: np.ndarray, prior: float, fit: dict) -> LabelThresholds:
    """Each label's threshold moved toward the F1-best cut of its analysts' labels, by how many
    there are: t + (t_labels - t) * n / (n + prior), n the rarer side of the label's labels
    (positives or negatives: a cut between the two is only as sure as the fewer of them).

    t_labels is cut on scores the labels did not train: the labelled rows fall into INNER_FOLDS
    folds, and each fold is scored (as tagging scores it, passages included) by heads fitted
    without that fold's labels (its weak labels, the examples and the other folds' labels stay).
    A label whose analysts' labels are all positive or all negative has no F1-best cut: it keeps
    its threshold. Costs INNER_FOLDS fits of the labelled labels' heads, and nothing without labels.
    """
    from sklearn.model_selection import KFold

    base = np.asarray(model.thresholds, dtype=np.float64)
    out = base.copy()
    L = Y.shape[1]
    basis: list[int] = [0] * L
    from_labels: list[float | None] = [None] * L
    both = [j for j in range(L) if (Y[analyst[:, j], j] == 1).any() and (Y[analyst[:, j], j] == 0).any()]
    labelled_rows = np.flatnonzero(analyst.any(axis=1))
    if not both or len(labelled_rows) < 2:
        return LabelThresholds(out, basis, from_labels)
    cols = np.asarray(both)
    oof = np.full((len(texts), len(cols)), np.nan)
    folds = KFold(min(INNER_FOLDS, len(labelled_rows)), shuffle=True, random_state=0).split(labelled_rows)
    for _, held in folds:
        rows = labelled_rows[held]
        Wf = np.ones(Y.shape) if W is None else W.copy()
        Wf[rows] = np.where(analyst[rows], 0.0, Wf[rows])
        heads = fit_heads(X, Y[:, cols], [model.labels[j] for j in cols], Wf[:, cols], **fit)
        oof[rows] = TopicModel(model.features, heads, base[cols]).scores([texts[i] for i in rows])
    for k, j in enumerate(both):
        mine = analyst[:, j]
        t_labels = f1_best_cut(oof[mine, k], Y[mine, j], base[j])
        positives = int(Y[mine, j].sum())
        n = min(positives, int(mine.sum()) - positives)
        out[j] = base[j] + (t_labels - base[j]) * n / (n + prior)
        basis[j], from_labels[j] = int(mine.sum()), round(float(t_labels), 4)
    return LabelThresholds(out, basis, from_labels)


def f1_best_cut(scores: np.ndarray, y: np.ndarray, default: float) -> float:
    """The threshold whose tags (score >= it) have the best F1 on these rows, nearest `default`
    among equally good ones: `default` itself when it is as good as any, else the middle of the
    best gap between two rows' scores (in log-odds: scores are probabilities)."""
    z = np.log(np.clip(scores, 1e-6, 1 - 1e-6) / np.clip(1 - scores, 1e-6, 1 - 1e-6))
    order = np.argsort(-z, kind="stable")
    z, hits = z[order], y[order].astype(float)
    tp = np.concatenate([[0.0], np.cumsum(hits)])  # cutting after the k best rows: tp[k]
    f1 = 2 * tp / (np.arange(len(z) + 1) + hits.sum())
    # a cut after the k best lies in (z[k], z[k-1]]: the gap between neighbours (no cut inside ties)
    upper = np.concatenate([[np.inf], z])
    lower = np.concatenate([z, [-np.inf]])
    ok = (upper > lower) & (f1 >= f1.max() - 1e-9)
    d = float(np.log(default / (1 - default)))
    if np.any(ok & (lower < d) & (d <= upper)):
        return default
    best = np.flatnonzero(ok)
    width = 4.0  # an open end (no row above or below the cut) is closed this far, in log-odds
    hi = np.where(np.isinf(upper[best]), lower[best] + width, upper[best])
    lo = np.where(np.isinf(lower[best]), upper[best] - width, lower[best])
    mid = (hi + lo) / 2
    pick = mid[np.argmin(np.abs(mid - d))]
    return float(1 / (1 + np.exp(-pick)))


def _inner_folds(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold

    if n < MIN_INNER_ROWS:
        return []
    return list(KFold(INNER_FOLDS, shuffle=True, random_state=0).split(np.arange(min(n, MAX_INNER_ROWS))))


def _inner_rows(n: int) -> np.ndarray:
    """The rows the inner CV runs on: all, or a fixed random sample of MAX_INNER_ROWS."""
    if n <= MAX_INNER_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, MAX_INNER_ROWS, replace=False))


def _out_of_fold(X: sp.csr_matrix, Y: np.ndarray, labels: list[str], folds, *, W, nb, pos_share, loss, C) -> np.ndarray:
    """Margins (log-odds for "log") of every row from heads fitted without it."""
    out = np.zeros(Y.shape, dtype=np.float64)
    for tr, te in folds:
        h = fit_heads(X[tr], Y[tr], labels, None if W is None else W[tr], C=C, nb=nb, pos_share=pos_share, loss=loss)
        out[te] = h.decision(X[te])
    return out


def _known(Y: np.ndarray, W: np.ndarray | None) -> np.ndarray:
    return np.ones(Y.shape, bool) if W is None else W > 0


def _recipe_score(margins: np.ndarray, Y: np.ndarray, W: np.ndarray | None) -> float:
    """What a recipe is chosen by: on single-label rows (every label known, one positive) the
    share whose best-scoring label is right; otherwise the mean over labels of F1 at each
    label's best cut of its margins (no calibration needed to compare recipes)."""
    known = _known(Y, W)
    single = known.all(axis=1) & (Y.sum(axis=1) == 1)
    if single.mean() >= 0.5:
        return float((margins[single].argmax(axis=1) == Y[single].argmax(axis=1)).mean())
    f1s = []
    for j in range(Y.shape[1]):
        y = Y[known[:, j], j]
        if y.sum() == 0:
            continue
        hits = y[np.argsort(-margins[known[:, j], j], kind="stable")]
        tp = np.cumsum(hits)  # cutting after the k best rows: tp true positives among k
        f1s.append(float((2 * tp / (np.arange(1, len(y) + 1) + y.sum())).max()))
    return float(np.mean(f1s)) if f1s else 0.0


def _platt(margins: np.ndarray, Y: np.ndarray, W: np.ndarray | None) -> tuple[float, float]:
    """(a, c) of one sigmoid(a * margin + c) over every known (row, label): Platt scaling."""
    from sklearn.linear_model import LogisticRegression

    known = _known(Y, W)
    d, y = margins[known], Y[known]
    if y.min() == y.max():
        return 1.0, 0.0
    m = LogisticRegression(C=1e4).fit(d.reshape(-1, 1), y)
    a = float(m.coef_[0, 0])
    return (a, float(m.intercept_[0])) if a > 0 else (1.0, 0.0)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))


def _tuned_thresholds(oof: np.ndarray, Y: np.ndarray, W: np.ndarray | None, default: float) -> np.ndarray:
    """Per-label thresholds maximising F1 of out-of-fold probabilities (the default where
    positives are too few)."""
    thresholds = np.full(Y.shape[1], default)
    known = _known(Y, W)
    for j in range(Y.shape[1]):
        y = Y[known[:, j], j]
        if y.sum() < 8:
            continue
        s = oof[known[:, j], j]
        best, best_t = -1.0, default
        for t in np.linspace(0.2, 0.8, 25):
            p = s >= t
            tp = float((p & (y == 1)).sum())
            f1 = 2 * tp / max(1.0, p.sum() + y.sum())
            if f1 > best + 1e-9:
                best, best_t = f1, t
        thresholds[j] = best_t
    return thresholds
