"""Detection scoring: does a label tell slices the feature fires on from ones it does not?

Positives are the feature's top held-out activations (one per scan); negatives are random
held-out slices and hard ones (same modality and region, feature inactive). The judge scores
every slice given only the label. Chance is 0.5 for both AUROC and balanced accuracy.
"""

from __future__ import annotations

import math

import numpy as np

from sail_core.metrics import balanced_accuracy, roc_auc

POSITIVE, RANDOM_NEGATIVE, HARD_NEGATIVE = "positive", "random_negative", "hard_negative"


def detection_scores(kinds: list[str], scores: list[float], threshold: float) -> dict:
    """AUROC against all, random and hard negatives, and balanced accuracy at `threshold`."""
    kinds_array = np.asarray(kinds)
    values = np.asarray(scores, dtype=float)
    truth = kinds_array == POSITIVE
    result = {
        "auroc": roc_auc(truth, values),
        "balanced_accuracy": balanced_accuracy(truth, values >= threshold),
    }
    for kind, name in ((RANDOM_NEGATIVE, "auroc_random"), (HARD_NEGATIVE, "auroc_hard")):
        keep = truth | (kinds_array == kind)
        result[name] = roc_auc(truth[keep], values[keep])
    return result


def summarise_detection(per_feature: list[dict], n_failures: int) -> dict:
    summary: dict = {"n_evaluated": len(per_feature), "n_parse_failures": n_failures}
    for name in ("auroc", "auroc_random", "auroc_hard", "balanced_accuracy"):
        values = np.asarray([row[name] for row in per_feature], dtype=float)
        values = values[~np.isnan(values)]
        summary[f"mean_{name}"] = float(values.mean()) if values.size else math.nan
    summary["chance"] = 0.5
    return summary
