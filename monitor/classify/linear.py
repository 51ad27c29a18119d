"""One-vs-rest linear scorers over TF-IDF rows, stored as plain arrays.

Each label is a logistic regression (or a linear SVM: `loss="squared_hinge"`) on
naive-Bayes-scaled features (NBSVM, Wang & Manning 2012): every feature is multiplied by its
log-count ratio between positive and negative documents before fitting, which helps on small
and medium text sets. The scaling folds into the coefficients, so scoring is one sparse-dense
product and a sigmoid, and explanations read the same numbers the scores come from. An SVM's
margins become probabilities through a sigmoid fitted on held-out margins, folded into the
coefficients too (`LinearHeads.calibrated`). Scoring needs numpy only; fitting imports
scikit-learn.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from monitor.classify.features import Rows

if TYPE_CHECKING:
    import scipy.sparse as sp


@dataclass
class LinearHeads:
    labels: list[str]
    coef: np.ndarray  # (labels, features) float32, NB ratio already folded in
    intercept: np.ndarray  # (labels,)

    def decision(self, X: Rows | sp.csr_matrix) -> np.ndarray:
        if not isinstance(X, Rows):
            return np.asarray(X @ self.coef.T) + self.intercept
        n, rows = len(X), X.row_ids()
        out = np.empty((n, len(self.labels)))
        for j in range(len(self.labels)):  # one label at a time: memory stays at one weight per entry
            out[:, j] = np.bincount(rows, weights=self.coef[j, X.indices] * X.data, minlength=n)
        return out + self.intercept

    def proba(self, X: Rows | sp.csr_matrix) -> np.ndarray:
        return _sigmoid(self.decision(X))

    def calibrated(self, a: float, c: float) -> LinearHeads:
        """Heads whose proba is sigmoid(a * margin + c): one scale and shift for every label
        keeps their order, so the best-scoring label stays the same."""
        return LinearHeads(self.labels, (self.coef * np.float32(a)).astype(np.float32), self.intercept * a + c)

    def to_payload(self) -> dict:
        return {"labels": list(self.labels), "coef": self.coef, "intercept": self.intercept}

    @classmethod
    def from_payload(cls, p: dict) -> LinearHeads:
        return cls(list(p["labels"]), np.asarray(p["coef"], dtype=np.float32), np.asarray(p["intercept"], dtype=np.float64))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))


def nb_ratio(X: sp.csr_matrix, y: np.ndarray, weight: np.ndarray | None = None, alpha: float = 1.0) -> np.ndarray:
    """Log-count ratio of each (binarised) feature between positive and negative rows."""
    B = X.copy()
    B.data[:] = 1
    w = np.ones(X.shape[0]) if weight is None else weight
    pos = np.asarray(B.T @ (w * (y == 1))).ravel() + alpha
    neg = np.asarray(B.T @ (w * (y != 1))).ravel() + alpha
    return np.log((pos / pos.sum()) / (neg / neg.sum())).astype(np.float32)


def fit_binary(
    X: sp.csr_matrix, y: np.ndarray, weight: np.ndarray | None = None, C: float = 10.0, nb: bool = True,
    balanced: bool = False, pos_share: float | None = None, loss: str = "log",
) -> tuple[np.ndarray, float]:
    """Coefficients and intercept of one label. Rows with weight 0 are left out.

    `loss`: "log" (logistic regression: scores are probabilities) or "squared_hinge" (linear
    SVM: scores are margins, to be calibrated).

    `pos_share`: when the positive rows weigh less than this share of the negative rows'
    weight, they are scaled up to it (weak labels are mostly negatives; without this a rare
    topic's prior swamps its evidence).
    """
    if weight is not None:
        keep = weight > 0
        X, y, weight = X[keep], y[keep], weight[keep]
    n_pos = int((y == 1).sum())
    if pos_share and 0 < n_pos < len(y):
        weight = np.ones(len(y)) if weight is None else weight.astype(np.float64).copy()
        wp, wn = weight[y == 1].sum(), weight[y != 1].sum()
        if wp < pos_share * wn:
            weight[y == 1] *= pos_share * wn / wp
    if n_pos == 0 or n_pos == len(y):
        # nothing to separate: a constant score (near 0 or near 1)
        return np.zeros(X.shape[1], dtype=np.float32), (-8.0 if n_pos == 0 else 8.0)
    if weight is not None:
        weight = weight / weight.mean()  # C keeps its meaning whatever the weighting scheme
    import warnings

    import scipy.sparse as sp
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    r = nb_ratio(X, y, weight) if nb else np.ones(X.shape[1], dtype=np.float32)
    Xr = X @ sp.diags(r) if nb else X
    class_weight = "balanced" if balanced else None
    if loss == "log":
        # text has far more features than rows: liblinear's dual solver reaches the same optimum
        # about ten times sooner there (the primal one is for many rows over few features)
        dual = X.shape[1] > X.shape[0]
        clf = LogisticRegression(C=C, solver="liblinear", class_weight=class_weight, max_iter=200, tol=1e-3, dual=dual)
    elif loss == "squared_hinge":
        clf = LinearSVC(C=C, class_weight=class_weight)
    else:
        raise ValueError(f"unknown loss {loss!r}")
    with warnings.catch_warnings():
        # a large C on separable text rarely converges to the last digit; the margins are good
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(Xr, y, sample_weight=weight)
    return (clf.coef_.ravel() * r).astype(np.float32), float(clf.intercept_[0])


def fit_heads(
    X: sp.csr_matrix, Y: np.ndarray, labels: list[str], W: np.ndarray | None = None, C: float = 10.0,
    nb: bool = True, balanced: bool = False, pos_share: float | None = None, loss: str = "log",
) -> LinearHeads:
    """One binary head per column of Y (0/1); W gives a weight per row and label (0 = unknown)."""
    from concurrent.futures import ThreadPoolExecutor

    def head(j: int) -> tuple[np.ndarray, float]:
        return fit_binary(X, Y[:, j], None if W is None else W[:, j], C=C, nb=nb, balanced=balanced, pos_share=pos_share, loss=loss)

    # liblinear releases the interpreter lock: heads fit side by side on every core, in label order
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1, max(1, Y.shape[1]))) as pool:
        fitted = list(pool.map(head, range(Y.shape[1])))
    coefs = [c for c, _ in fitted]
    intercepts = [b for _, b in fitted]
    coef = np.vstack(coefs) if coefs else np.zeros((0, X.shape[1]), dtype=np.float32)
    return LinearHeads(list(labels), coef.astype(np.float32), np.asarray(intercepts, dtype=np.float64))
