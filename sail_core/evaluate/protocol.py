"""Choose on train/val, report on test: the splits every selection step may use.

A selection step is any stage whose output decides something later numbers are reported for:
which configuration wins, which features are labelled, which feature stands for a structure.
Test rows taking part in such a choice bias every test number downstream, so a config that puts
`test` into one is refused unless it sets the explicit opt-in, and the outputs then say
"selected on test".
"""

from __future__ import annotations

SELECTION_SPLITS = ("train", "val")
HELD_OUT_SPLIT = "test"
OPT_IN_KEY = "evaluation.allow_selection_on_test"
SELECTED_ON_TEST = "selected on test"

# dotted config key -> what is chosen from the rows of those splits
SELECTION_KEYS = {
    "mining.splits": "the mined top slices and enrichment pick the features to label",
    "evaluation.monosemanticity.splits": "monosemanticity ranks the configurations and the "
    "features to label",
    "evaluation.recovery.report_split": "recovery thresholds rank the configurations",
    "labelling.selection.sample_splits": "the labels are written from these slices",
}


class SelectionLeak(ValueError):
    """A selection step of the config uses the held-out split."""


def _lookup(config: dict, key: str):
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _as_splits(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def selection_on_test_allowed(config: dict) -> bool:
    return bool(_lookup(config, OPT_IN_KEY))


def keys_selecting_on_test(config: dict) -> list[str]:
    """The selection keys of `config` whose splits include the held-out split."""
    return [key for key in SELECTION_KEYS if HELD_OUT_SPLIT in _as_splits(_lookup(config, key))]


def check_selection_splits(config: dict) -> list[str]:
    """Raise SelectionLeak (one line naming the key) when a selection step uses test and the
    opt-in is not set; otherwise return the keys that select on test (empty unless opted in)."""
    leaking = keys_selecting_on_test(config)
    if leaking and not selection_on_test_allowed(config):
        key = leaking[0]
        raise SelectionLeak(
            f"{key} includes '{HELD_OUT_SPLIT}' ({SELECTION_KEYS[key]}): selection steps use "
            f"{' / '.join(SELECTION_SPLITS)} only; set {OPT_IN_KEY}: true to select on test "
            f"anyway (the outputs are then marked '{SELECTED_ON_TEST}')"
        )
    return leaking


def selection_note(splits) -> str:
    """How an output chosen on `splits` is labelled: 'selected on train+val', or with the test
    warning when test took part."""
    names = _as_splits(splits)
    note = f"selected on {'+'.join(names)}"
    return f"{note} ({SELECTED_ON_TEST})" if HELD_OUT_SPLIT in names else note
