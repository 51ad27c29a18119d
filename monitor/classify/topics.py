"""The topic model: TF-IDF features, one calibrated linear head per topic, per-topic thresholds.

Scores are logistic-regression probabilities; a topic is tagged when its score reaches its
threshold (0.5 unless tuned on labelled data by cross-validation). For evaluation on
single-label data the best-scoring topic is the prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from typing import TYPE_CHECKING

import numpy as np

from monitor.classify.features import SENTENCE_END, FeatureConfig, Features
from monitor.classify.linear import LinearHeads, fit_heads

if TYPE_CHECKING:
    import scipy.sparse as sp

DEFAULT_C = 10.0
PASSAGE_MIN_TEXT = 700  # shorter texts (most feed items) are one passage already
PASSAGE_CHARS = 160  # about one sentence: short sentences are joined to their neighbour
MAX_PASSAGES = 24  # the lead of a long article; the rest costs time and adds false alarms


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


@dataclass
class TopicModel:
    features: Features
    heads: LinearHeads
    thresholds: np.ndarray
    info: dict = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return self.heads.labels

    def scores(self, texts: list[str], passages: bool = True) -> np.ndarray:
        """(texts, topics) probabilities.

        A long article is also scored passage by passage and keeps, per topic, the best of
        its whole-text and passage scores: one paragraph on cybercrime in an interview about
        Interpol is drowned in the whole text but plain in its own passage.
        """
        if not texts:
            return np.zeros((0, len(self.labels)))
        S = self.heads.proba(self.features.transform(texts))
        if not passages:
            return S
        owner: list[int] = []
        chunks: list[str] = []
        for i, t in enumerate(texts):
            if len(t) > PASSAGE_MIN_TEXT:
                for c in split_passages(t):
                    owner.append(i)
                    chunks.append(c)
        if chunks:
            P = self.heads.proba(self.features.transform(chunks))
            np.maximum.at(S, np.asarray(owner), P)
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
    def from_payload(cls, p: dict) -> "TopicModel":
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
) -> TopicModel:
    """Fit features on `fit_texts` (default: the training texts) and one head per label.

    Y is (rows, labels) 0/1; W the weight of each row for each label (0 = not known for that
    label). With `tune_thresholds`, a 3-fold cross-validation picks each label's threshold to
    maximise F1 on the labelled rows.
    """
    features = Features.fit(fit_texts if fit_texts is not None else texts, config)
    X = features.matrix(texts)
    heads = fit_heads(X, Y, labels, W, C=C, pos_share=pos_share, nb=nb)
    thresholds = np.full(len(labels), threshold)
    if tune_thresholds:
        thresholds = _tuned_thresholds(X, Y, W, labels, C)
    return TopicModel(features, heads, thresholds, {"C": C, "nb": nb, "features": (config or FeatureConfig()).to_dict()})


def _tuned_thresholds(X: sp.csr_matrix, Y: np.ndarray, W: np.ndarray | None, labels: list[str], C: float) -> np.ndarray:
    """Per-label thresholds from out-of-fold scores (keeps 0.5 where positives are too few)."""
    from sklearn.model_selection import KFold

    n = X.shape[0]
    thresholds = np.full(len(labels), 0.5)
    if n < 30:
        return thresholds
    oof = np.zeros(Y.shape, dtype=np.float64)
    for tr, te in KFold(3, shuffle=True, random_state=0).split(np.arange(n)):
        h = fit_heads(X[tr], Y[tr], labels, None if W is None else W[tr], C=C)
        oof[te] = h.proba(X[te])
    for j in range(len(labels)):
        known = np.ones(n, bool) if W is None else W[:, j] > 0
        y = Y[known, j]
        if y.sum() < 8:
            continue
        s = oof[known, j]
        best, best_t = -1.0, 0.5
        for t in np.linspace(0.2, 0.8, 25):
            p = s >= t
            tp = float((p & (y == 1)).sum())
            f1 = 2 * tp / max(1.0, p.sum() + y.sum())
            if f1 > best + 1e-9:
                best, best_t = f1, t
        thresholds[j] = best_t
    return thresholds
