import numpy as np
import polars as pl
import pytest

from sail_core.evaluate.targets import (
    IllPosedTarget,
    Skipped,
    Target,
    TooFewSamples,
    build_targets,
    check_well_posed,
)


def _index():
    return pl.DataFrame(
        {
            "institute": ["B", "B", "C", "C", "A", "D", "B", "C"],
            "split": ["train", "train", "train", "train", "test", "test", "val", "val"],
            "kvp": [80.0, 120.0, 100.0, 80.0, 120.0, None, 80.0, 120.0],
            "gender": ["f", "m", "f", "m", "f", "m", None, "f"],
            "structure_liver": [True, False, True, False, True, False, True, False],
        }
    )


def test_institute_under_held_out_test_is_refused_clearly():
    index = _index()
    targets = build_targets(index, {"institute": {"kind": "multiclass", "column": "institute"}})
    assert [t.name for t in targets] == ["A", "B", "C", "D"]
    splits = index["split"].to_numpy()
    for target in targets:
        with pytest.raises(
            IllPosedTarget, match=r"institute/.*test class\(es\) A, D .*never appear in train"
        ):
            check_well_posed(target, splits, min_class_rows=1)


def test_a_class_absent_from_train_is_ill_posed():
    index = _index().with_columns(pl.lit("train").alias("split"))
    spec = {"kind": "multilabel", "column": "institute", "classes": "auto"}
    absent = next(t for t in build_targets(index, {"inst": spec}) if t.name == "A")
    train_only = index.with_columns(
        pl.when(pl.col("institute") == "A")
        .then(pl.lit("test"))
        .otherwise(pl.col("split"))
        .alias("split")
    )
    with pytest.raises(IllPosedTarget, match="inst/A: train has 0 positive"):
        check_well_posed(absent, train_only["split"].to_numpy(), min_class_rows=1)


def test_multiclass_labels_only_the_listed_classes():
    index = _index()
    kvp = build_targets(
        index, {"kvp": {"kind": "multiclass", "column": "kvp", "classes": [80, 120]}}
    )
    assert [t.name for t in kvp] == ["80", "120"]
    assert kvp[0].labelled.tolist() == [True, True, False, True, True, False, True, True]
    assert kvp[0].positive.tolist() == [True, False, False, True, False, False, True, False]


def test_absent_classes_and_columns_are_skipped_with_a_reason():
    index = _index()
    built = build_targets(
        index,
        {
            "sex": {"kind": "multiclass", "column": "gender", "classes": ["f", "m", "x"]},
            "scanner": {"kind": "multilabel", "column": "scanner_model", "classes": ["Skyra"]},
            "organs": {"kind": "presence", "classes": ["liver", "prostate"]},
        },
    )
    skipped = {(s.group, s.name): s.reason for s in built if isinstance(s, Skipped)}
    assert skipped == {
        ("sex", "x"): "class absent from the dataset",
        ("scanner", "*"): "column 'scanner_model' is not in the slice index",
        ("organs", "prostate"): "no such structure in the dataset",
    }
    sex_f = next(t for t in built if isinstance(t, Target) and t.name == "f")
    assert sex_f.labelled.tolist() == [True] * 6 + [False, True]


def test_too_few_samples_is_reported_not_fitted():
    index = _index()
    liver = build_targets(index, {"organs": {"kind": "presence", "classes": ["liver"]}})[0]
    with pytest.raises(TooFewSamples, match="organs/liver: train has 2 positive and 2 negative"):
        check_well_posed(liver, index["split"].to_numpy(), min_class_rows=3)
    check_well_posed(liver, index["split"].to_numpy(), min_class_rows=2)


def test_auto_classes_respect_ignore_and_file_stems_are_safe():
    index = pl.DataFrame({"age_bin": ["<40", ">=80", "40-60"], "split": ["train"] * 3})
    spec = {"kind": "multiclass", "column": "age_bin", "classes": "auto", "ignore": ["40-60"]}
    targets = build_targets(index, {"age_group": spec})
    assert [t.name for t in targets] == ["<40", ">=80"]
    assert [t.stem for t in targets] == ["age_group___40", "age_group___80"]
    assert np.array_equal(targets[0].labelled, [True, True, False])
