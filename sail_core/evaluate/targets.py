"""Probe targets built from the slice index, adapted to what the dataset contains.

A target group is configured as
- `multiclass`: one column, classes compared against each other (rows of other values are
  unlabelled), e.g. sex f/m, age_bin <40 vs >=80, kvp 80 vs 120;
- `multilabel`: one column, each class against every other labelled row, e.g. manufacturer;
- `presence`: one `structure_<class>` column per class, over every row, e.g. organ groups.
`classes: auto` takes every value present, less `ignore`. Every target becomes its own binary,
one-vs-rest problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from sail_core.columns import STRUCTURE_PREFIX

KINDS = ("multiclass", "multilabel", "presence")


class IllPosedTarget(ValueError):
    """The target cannot be evaluated under this split (e.g. its test classes never occur in
    train, as for institute under an institute-held-out test set)."""


class TooFewSamples(ValueError):
    """Too few positive or negative rows to fit or tune a probe."""


@dataclass(frozen=True)
class Target:
    group: str
    name: str
    kind: str
    column: str
    positive: np.ndarray = field(repr=False)
    labelled: np.ndarray = field(repr=False)
    group_labels: np.ndarray = field(repr=False)

    @property
    def stem(self) -> str:
        """A file name stem, unique within a run."""
        return f"{self.group}__{re.sub(r'[^A-Za-z0-9.]+', '_', self.name)}"


@dataclass(frozen=True)
class Skipped:
    group: str
    name: str
    kind: str
    column: str
    reason: str


def _class_label(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _present_classes(values: pl.Series, spec: dict) -> list:
    if spec.get("classes", "auto") != "auto":
        return pl.Series(list(spec["classes"])).cast(values.dtype).to_list()
    ignore = set(spec.get("ignore", []))
    return sorted(v for v in values.drop_nulls().unique().to_list() if v not in ignore)


def _column_targets(index: pl.DataFrame, group: str, spec: dict):
    kind, column = spec["kind"], spec["column"]
    if column not in index.columns:
        yield Skipped(group, "*", kind, column, f"column {column!r} is not in the slice index")
        return
    values = index[column]
    classes = _present_classes(values, spec)
    present = set(values.drop_nulls().unique().to_list())
    found = [c for c in classes if c in present]
    for missing in (c for c in classes if c not in present):
        yield Skipped(group, _class_label(missing), kind, column, "class absent from the dataset")
    if kind == "multiclass" and len(found) < 2:
        for name in found:
            yield Skipped(group, _class_label(name), kind, column, "only one class present")
        return
    labelled = (
        values.is_in(found).fill_null(False).to_numpy()
        if kind == "multiclass"
        else values.is_not_null().to_numpy()
    )
    group_labels = np.where(labelled, values.cast(pl.Utf8).fill_null("").to_numpy(), "")
    for name in found:
        positive = (values == name).fill_null(False).to_numpy() & labelled
        yield Target(group, _class_label(name), kind, column, positive, labelled, group_labels)


def _presence_targets(index: pl.DataFrame, group: str, spec: dict):
    classes = spec.get("classes", "auto")
    if classes == "auto":
        raise ValueError(f"probe group {group}: presence targets need an explicit class list")
    columns = [f"{STRUCTURE_PREFIX}{name}" for name in classes]
    available = [c for c in columns if c in index.columns]
    matrix = index.select(available).to_numpy().astype(bool)
    combination = np.array(["".join("1" if v else "0" for v in row) for row in matrix])
    labelled = np.ones(index.height, dtype=bool)
    for name, column in zip(classes, columns, strict=True):
        if column not in index.columns:
            yield Skipped(group, name, "presence", column, "no such structure in the dataset")
            continue
        yield Target(
            group, name, "presence", column, index[column].to_numpy(), labelled, combination
        )


def build_targets(index: pl.DataFrame, groups: dict[str, dict]) -> list[Target | Skipped]:
    """Every configured target, in configuration order, or the reason it cannot exist here."""
    built = []
    for group, spec in groups.items():
        if spec["kind"] not in KINDS:
            raise ValueError(f"probe group {group}: unknown kind {spec['kind']!r}")
        make = _presence_targets if spec["kind"] == "presence" else _column_targets
        built.extend(make(index, group, spec))
    stems = [t.stem for t in built if isinstance(t, Target)]
    clashes = sorted({s for s in stems if stems.count(s) > 1})
    if clashes:
        raise ValueError(f"probe targets share a file name: {', '.join(clashes)}")
    return built


def check_well_posed(target: Target, splits: np.ndarray, min_class_rows: int) -> None:
    """Raise IllPosedTarget or TooFewSamples with a message that names the target and why."""
    label = f"{target.group}/{target.name}"
    train = (splits == "train") & target.labelled
    if target.kind == "multiclass":
        train_classes = set(target.group_labels[train])
        for split in ("val", "test"):
            rows = (splits == split) & target.labelled
            unseen = sorted(set(target.group_labels[rows]) - train_classes)
            if unseen:
                raise IllPosedTarget(
                    f"{label}: {split} class(es) {', '.join(unseen)} of {target.column} never "
                    f"appear in train (a held-out {target.column} split?), so the "
                    f"{target.group} probe is ill-posed"
                )
    n_positive = int(target.positive[train].sum())
    n_negative = int(train.sum()) - n_positive
    if n_positive == 0 or n_negative == 0:
        raise IllPosedTarget(
            f"{label}: train has {n_positive} positive and {n_negative} negative rows; "
            "a class absent from train cannot be learned"
        )
    if min(n_positive, n_negative) < min_class_rows:
        raise TooFewSamples(
            f"{label}: train has {n_positive} positive and {n_negative} negative rows "
            f"(fewer than {min_class_rows})"
        )
