"""Detection scoring: does a label tell slices the feature fires on from ones it does not?

Positives are the feature's top held-out activations (one per scan); negatives are random
held-out slices and hard ones (same modality and region, feature inactive). The judge scores
every slice given only the label. Chance is 0.5 for both AUROC and balanced accuracy.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

POSITIVE, RANDOM_NEGATIVE, HARD_NEGATIVE = "positive", "random_negative", "hard_negative"


def _auroc(truth: np.ndarray, scores: np.ndarray) -> float:
    return float(roc_auc_score(truth, scores)) if 0 < truth.sum() < truth.size else math.nan


def detection_scores(kinds: list[str], scores: list[float], threshold: float) -> dict:
    """AUROC against all, random and hard negatives, and balanced accuracy at `threshold`."""
    kinds_array = np.asarray(kinds)
    values = np.asarray(scores, dtype=float)
    truth = kinds_array == POSITIVE
    result = {
        "auroc": _auroc(truth, values),
        "balanced_accuracy": (
            float(balanced_accuracy_score(truth, values >= threshold))
            if 0 < truth.sum() < truth.size
            else math.nan
        ),
    }
    for kind, name in ((RANDOM_NEGATIVE, "auroc_random"), (HARD_NEGATIVE, "auroc_hard")):
        keep = truth | (kinds_array == kind)
        result[name] = _auroc(truth[keep], values[keep])
    return result


def summarise_detection(per_feature: list[dict], n_failures: int) -> dict:
    summary: dict = {"n_evaluated": len(per_feature), "n_parse_failures": n_failures}
    for name in ("auroc", "auroc_random", "auroc_hard", "balanced_accuracy"):
        values = np.asarray([row[name] for row in per_feature], dtype=float)
        values = values[~np.isnan(values)]
        summary[f"mean_{name}"] = float(values.mean()) if values.size else math.nan
    summary["chance"] = 0.5
    return summary
