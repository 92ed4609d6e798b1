"""Binary linear probes: standardisation, logistic regression with C chosen on val, scores.

The scores are computed here with numpy because the probe loops run thousands of small fits:
- roc_auc: the Mann-Whitney form, P(score of a positive > score of a negative) with ties
  counted one half (equal to scikit-learn's roc_auc_score); NaN unless both classes occur;
- f1: 2 TP / (2 TP + FP + FN) of the positive class, 0 when that is 0 / 0;
- balanced_accuracy: mean of the true positive and true negative rates; NaN unless both
  classes occur.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.linear_model import LogisticRegression

from sail_core.metrics import balanced_accuracy, f1, roc_auc


@dataclass(frozen=True)
class FitSettings:
    """`penalties` maps a feature type (dense, sparse) to l1 (liblinear) or l2 (lbfgs)."""

    c_grid: tuple[float, ...]
    default_c: float
    penalties: dict[str, str]
    max_iter: int
    seed: int


@dataclass(frozen=True)
class Standardiser:
    """Per-column standardisation fitted on training rows; sparse input is only scaled (no
    centring), so it stays sparse. Constant columns keep scale 1."""

    mean: np.ndarray | None
    scale: np.ndarray

    @classmethod
    def fit(cls, x) -> Standardiser:
        if sp.issparse(x):
            mean = np.asarray(x.mean(axis=0, dtype=np.float64)).ravel()
            square = np.asarray(x.multiply(x).mean(axis=0, dtype=np.float64)).ravel()
            std = np.sqrt(np.maximum(square - mean**2, 0.0))
            return cls(None, np.where(std > 0, std, 1.0))
        x = np.asarray(x, dtype=np.float32)
        std = x.std(axis=0, dtype=np.float64)
        return cls(x.mean(axis=0, dtype=np.float64), np.where(std > 0, std, 1.0))

    def __call__(self, x):
        if sp.issparse(x):
            return sp.csr_matrix(x @ sp.diags(1.0 / self.scale))
        mean, scale = self.mean.astype(np.float32), self.scale.astype(np.float32)
        return (np.asarray(x, dtype=np.float32) - mean) / scale


@dataclass(frozen=True)
class FittedProbe:
    standardiser: Standardiser
    weights: np.ndarray
    intercept: float
    penalty: str
    c: float
    c_source: str
    fit_seconds: float

    @property
    def n_nonzero(self) -> int:
        return int(np.count_nonzero(self.weights))

    def decision(self, x) -> np.ndarray:
        return np.asarray(self.standardiser(x) @ self.weights).ravel() + self.intercept


PENALTIES = ("l1", "l2")


def _release(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


def penalty_arguments(penalty: str, sklearn_version: str = sklearn.__version__) -> dict:
    """LogisticRegression arguments that fit `penalty` on the given scikit-learn release.

    Before 1.8 only `penalty` selects L1 (`l1_ratio` is ignored unless the penalty is
    elastic-net); from 1.8 on `penalty` is deprecated and `l1_ratio` alone selects it.
    """
    if penalty not in PENALTIES:
        raise ValueError(f"unknown probe penalty {penalty!r} (expected one of {PENALTIES})")
    solver = "liblinear" if penalty == "l1" else "lbfgs"
    if _release(sklearn_version) < (1, 8):
        return {"penalty": penalty, "solver": solver}
    return {"l1_ratio": 1.0 if penalty == "l1" else 0.0, "solver": solver}


def _logistic(c: float, penalty: str, settings: FitSettings) -> LogisticRegression:
    return LogisticRegression(
        C=c,
        **penalty_arguments(penalty),
        class_weight="balanced",
        max_iter=settings.max_iter,
        random_state=settings.seed,
    )


def fit_probe(
    x_train, y_train, x_val, y_val, settings: FitSettings, feature_type: str
) -> FittedProbe:
    """Fit one model per C of the grid on standardised features with the penalty of
    `feature_type`, keep the best val AUROC (ties: the smaller C). Without both classes in val,
    `default_c` is used."""
    penalty = settings.penalties[feature_type]
    standardiser = Standardiser.fit(x_train)
    train, val = standardiser(x_train), standardiser(x_val)
    tunable = 0 < np.sum(y_val) < np.size(y_val)
    grid = sorted(settings.c_grid) if tunable else [settings.default_c]
    best = None
    started = time.perf_counter()
    for c in grid:
        model = _logistic(c, penalty, settings).fit(train, y_train)
        weights, intercept = model.coef_.ravel(), float(model.intercept_[0])
        auc = roc_auc(y_val, np.asarray(val @ weights).ravel() + intercept) if tunable else 0.0
        if best is None or auc > best[0]:
            best = (auc, c, weights, intercept)
    _, c, weights, intercept = best
    return FittedProbe(
        standardiser,
        weights,
        intercept,
        penalty,
        c,
        "val_auroc" if tunable else "default (val lacks a class)",
        time.perf_counter() - started,
    )


def score_probe(probe: FittedProbe, x, y: np.ndarray) -> dict[str, float]:
    """n_rows, n_positive, roc_auc, f1, balanced_accuracy (prediction: decision > 0)."""
    if np.size(y) == 0:
        return {
            "n_rows": 0,
            "n_positive": 0,
            "roc_auc": math.nan,
            "f1": math.nan,
            "balanced_accuracy": math.nan,
        }
    decision = probe.decision(x)
    predicted = decision > 0
    return {
        "n_rows": int(np.size(y)),
        "n_positive": int(np.sum(y)),
        "roc_auc": roc_auc(y, decision),
        "f1": f1(y, predicted),
        "balanced_accuracy": balanced_accuracy(y, predicted),
    }
