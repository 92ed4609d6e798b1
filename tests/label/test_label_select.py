import numpy as np
import polars as pl
import pytest

from sail_core.label.run import SelectionSettings, choose_features
from sail_core.label.select import (
    ranking_scores,
    sample_picks,
    select_features,
    usable_features,
)


def scores_frame(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "feature": list(range(n)),
            "basis": ["frequency_enrichment"] * n,
            "tier": [0] * n,
            "score": [float(n - f) for f in range(n)],
        }
    )


def test_top_by_score_then_a_seeded_random_sample_of_the_rest():
    usable = pl.Series("feature", list(range(60)))
    chosen = select_features(scores_frame(80), usable, n_top=5, n_random=10, seed=1)
    top = chosen.filter(pl.col("selection") == "top")["feature"].to_list()
    random = chosen.filter(pl.col("selection") == "random")["feature"].to_list()
    assert top == [0, 1, 2, 3, 4]
    assert len(random) == 10 and not set(random) & set(top) and max(random) < 60
    again = select_features(scores_frame(80), usable, n_top=5, n_random=10, seed=1)
    other = select_features(scores_frame(80), usable, n_top=5, n_random=10, seed=2)
    assert again["feature"].to_list() == chosen["feature"].to_list()
    assert other["feature"].to_list() != chosen["feature"].to_list()


def test_a_short_pool_gives_what_it_has():
    chosen = select_features(scores_frame(4), pl.Series([0, 1, 2, 3]), 3, 10, seed=0)
    assert chosen["selection"].to_list() == ["top", "top", "top", "random"]


def test_frequency_times_enrichment_ranks_features():
    stats = pl.DataFrame({"feature": [0, 1, 2], "frequency": [0.5, 0.1, 0.9]})
    enrichment = pl.DataFrame(
        {
            "feature": [0, 0, 1, 2],
            "attribute": ["region", "structure", "sex", "region"],
            "log_odds_ratio": [1.0, 3.0, 2.0, -1.0],
        }
    )
    scores = ranking_scores(stats, "frequency_enrichment", enrichment)
    assert scores.sort("feature")["score"].to_list() == pytest.approx([1.5, 0.2, 0.0])


def test_monosemanticity_comes_first_and_the_rest_follow_by_frequency_and_enrichment():
    stats = pl.DataFrame({"feature": [0, 1, 2, 3], "frequency": [0.9, 0.5, 0.1, 0.2]})
    enrichment = pl.DataFrame(
        {"feature": [0, 1, 2, 3], "attribute": ["region"] * 4, "log_odds_ratio": [1.0] * 4}
    )
    mono = pl.DataFrame({"feature": [0, 1, 2, 3], "monosemanticity_10": [None, 0.2, 0.7, np.nan]})
    scores = ranking_scores(stats, "monosemanticity", enrichment, mono)
    chosen = select_features(scores, pl.Series([0, 1, 2, 3]), n_top=4, n_random=0, seed=0)
    assert chosen["feature"].to_list() == [2, 1, 0, 3]
    assert (
        chosen["selection_basis"].to_list()
        == ["monosemanticity_10"] * 2 + ["frequency_enrichment"] * 2
    )
    with pytest.raises(ValueError, match="monosemanticity_10"):
        ranking_scores(stats, "monosemanticity", enrichment, pl.DataFrame({"feature": [0]}))
    with pytest.raises(ValueError, match="unknown ranking"):
        ranking_scores(stats, "popularity", enrichment)


def test_dead_always_active_and_thin_features_are_not_usable():
    stats = pl.DataFrame(
        {
            "feature": [0, 1, 2, 3],
            "dead": [False, True, False, False],
            "always_active": [False, False, True, False],
        },
        schema={"feature": pl.Int64, "dead": pl.Boolean, "always_active": pl.Boolean},
    )
    counts = pl.DataFrame({"feature": [0, 1, 2, 3], "n_samples": [5, 5, 5, 2]})
    assert usable_features(stats, counts, min_samples=3).to_list() == [0]


def test_samples_come_from_the_asked_splits_diverse_first():
    top = pl.DataFrame(
        {
            "feature": [4] * 5,
            "rank": [0, 1, 2, 3, 4],
            "row_id": [10, 11, 12, 13, 14],
            "activation": [0.9, 0.8, 0.7, 0.6, 0.5],
            "diverse_order": [0, None, 1, None, None],
            "split": ["train", "train", "train", "val", "train"],
        }
    )
    assert sample_picks(top, ["train"], 3, diverse=True)["row_id"].to_list() == [10, 12, 11]
    assert sample_picks(top, ["train"], 3, diverse=False)["row_id"].to_list() == [10, 11, 12]


def test_planted_organ_features_rank_first(world):
    settings = SelectionSettings(
        "frequency_enrichment", 8, 4, 5, 3, ("train",), True, "monosemanticity_10", 0
    )
    selection, picks = choose_features(
        world["stats"], world["top_slices"], world["enrichment"], None, settings
    )
    top = set(selection.filter(pl.col("selection") == "top")["feature"])
    assert set(world["planted"]) <= top
    assert selection.height == 12
    assert picks["feature"].unique(maintain_order=True).to_list() == selection["feature"].to_list()
    assert picks.group_by("feature").len()["len"].max() <= 5
