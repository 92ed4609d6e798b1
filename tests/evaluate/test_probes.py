import numpy as np
import polars as pl

from sail_core.evaluate.probes import (
    plan_targets,
    read_probe_results,
    read_train_rows,
    run_probes,
    systematic_subsample,
)


def test_systematic_subsample_is_proportional_and_seeded():
    rows = np.arange(1000)
    strata = np.where(rows < 800, "a", "b")
    picked = systematic_subsample(rows, strata, 100, seed=3)
    assert picked.size == 100 and np.all(np.diff(picked) > 0)
    assert (picked < 800).sum() == 80
    assert np.array_equal(picked, systematic_subsample(rows, strata, 100, seed=3))
    assert not np.array_equal(picked, systematic_subsample(rows, strata, 100, seed=4))
    assert np.array_equal(systematic_subsample(rows[:50], strata[:50], 100, 0), rows[:50])


def test_planted_organ_features_are_found_by_the_presence_probe(tmp_path, planted, probe_settings):
    status = run_probes(
        planted["index"],
        planted["store"],
        planted["load_dense"],
        planted["groups"],
        probe_settings,
        tmp_path,
    )
    _, metrics, coefficients = read_probe_results(tmp_path)
    for organ in ("liver", "brain"):
        sparse = metrics.filter((pl.col("target") == organ) & (pl.col("feature_type") == "sparse"))
        assert sparse.filter(pl.col("split") != "train")["roc_auc"].min() >= 0.9
        top = coefficients.filter(
            (pl.col("target") == organ)
            & (pl.col("feature_type") == "sparse")
            & (pl.col("rank") == 1)
        )
        assert top["feature"].to_list() == [planted["planted"][organ]]
    by_status = dict(status.group_by("status").len().iter_rows())
    assert by_status == {"fitted": 5, "refused": 10, "skipped": 1}  # sex f/m, liver, spleen, brain
    refusal = status.filter(pl.col("group") == "institute")["reason"][0]
    assert "never appear in train" in refusal


def test_rerun_rewrites_each_target_file(tmp_path, planted, probe_settings):
    groups = {"organs": {"kind": "presence", "classes": ["liver"]}}
    for _ in range(2):
        run_probes(
            planted["index"],
            planted["store"],
            planted["load_dense"],
            groups,
            probe_settings,
            tmp_path,
        )
    metrics = pl.read_parquet(tmp_path / "organs__liver.metrics.parquet")
    assert metrics.height == 6  # dense and sparse x train, val, test
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "organs__liver.coefficients.parquet",
        "organs__liver.metrics.parquet",
        "targets.parquet",
        "train_rows.parquet",
    ]
    rows = read_train_rows(tmp_path)["organs"]
    index = planted["index"]
    assert set(index["split"].to_numpy()[rows]) == {"train"}


def test_group_training_rows_are_capped_and_shared(planted, probe_settings):
    targets, statuses, train_rows = plan_targets(
        planted["index"], planted["groups"], probe_settings
    )
    assert (
        {t.group for t in targets}
        == set(train_rows)
        == {"sex", "organs_abdominal", "organs_head_and_neck"}
    )
    assert all(rows.size <= probe_settings.max_train_rows for rows in train_rows.values())
    assert {s["status"] for s in statuses} == {"refused", "skipped"}
