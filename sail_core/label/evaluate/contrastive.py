"""The study's contrastive test: can a judge pick a feature's label among distractors?

The true label and up to `n_distractors` labels of other features are shuffled and ranked by the
judge on the feature's held-out slices. Success = true label ranked 1st or 2nd; with 4
distractors chance is 2/5 = 40 % and the chance mean rank 3. Distractors whose label text equals
the target's are excluded (the task would be undecidable), and answers the judge never gave in a
usable form are counted apart, not as failures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SUCCESS_RANK = 2


@dataclass(frozen=True)
class Draw:
    distractors: list[int]
    order: list[int]


def draw_candidates(target: int, labels: dict[int, str], n_distractors: int, seed: int) -> Draw:
    """Distractor features and the shown order of [target, *distractors], both seeded.

    The generator is seeded with (seed, target), so a feature's draw does not depend on which
    other features are evaluated.
    """
    rng = np.random.default_rng([seed, target])
    own = labels[target].strip().lower()
    pool = sorted(f for f, text in labels.items() if f != target and text.strip().lower() != own)
    size = min(n_distractors, len(pool))
    distractors = [int(pool[i]) for i in rng.choice(len(pool), size=size, replace=False)]
    order = [int(i) for i in rng.permutation(size + 1)]
    return Draw(distractors, order)


def true_rank(ranking: list[int], order: list[int]) -> int:
    """1-based rank of the target (candidate 0 before shuffling) in the judge's ranking.

    `ranking` lists shown positions best first; `order[p]` is the candidate shown at p.
    """
    return [order[p] for p in ranking].index(0) + 1


def summarise_ranks(ranks: list[int], n_candidates: list[int], n_failures: int) -> dict:
    """Success rate, ranks and the chance levels of the candidate counts actually used."""
    if not ranks:
        return {"n_evaluated": 0, "n_parse_failures": n_failures}
    ranks_array = np.asarray(ranks)
    sizes = np.asarray(n_candidates, dtype=float)
    return {
        "n_evaluated": len(ranks),
        "n_parse_failures": n_failures,
        "success_rate": float(np.mean(ranks_array <= SUCCESS_RANK)),
        "chance_success_rate": round(float(np.mean(np.minimum(SUCCESS_RANK, sizes) / sizes)), 6),
        "mean_rank": float(ranks_array.mean()),
        "chance_mean_rank": float(np.mean((sizes + 1) / 2)),
        "median_rank": float(np.median(ranks_array)),
        "rank_distribution": {
            str(r): int((ranks_array == r).sum()) for r in range(1, int(sizes.max()) + 1)
        },
    }
