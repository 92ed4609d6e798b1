from pathlib import Path

import pytest
import yaml

from sail_core.evaluate.protocol import (
    OPT_IN_KEY,
    SELECTION_KEYS,
    SelectionLeak,
    check_selection_splits,
    selection_note,
)

ROOT = Path(__file__).parents[2]


def _leak_free():
    return {
        "mining": {"splits": ["train", "val"]},
        "evaluation": {
            "monosemanticity": {"splits": ["train", "val"]},
            "recovery": {"report_split": "val"},
        },
        "labelling": {"selection": {"sample_splits": ["train"]}},
    }


def test_leak_free_config_passes():
    assert check_selection_splits(_leak_free()) == []


@pytest.mark.parametrize("key", list(SELECTION_KEYS))
def test_test_in_any_selection_step_is_refused_in_one_line_naming_the_key(key):
    config = _leak_free()
    *parents, last = key.split(".")
    node = config
    for part in parents:
        node = node[part]
    node[last] = "test" if last == "report_split" else ["train", "test"]
    with pytest.raises(SelectionLeak) as err:
        check_selection_splits(config)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(key) and OPT_IN_KEY in message


def test_opt_in_accepts_and_names_the_keys_selecting_on_test():
    config = _leak_free()
    config["mining"]["splits"] = ["train", "val", "test"]
    config["evaluation"]["allow_selection_on_test"] = True
    assert check_selection_splits(config) == ["mining.splits"]
    assert selection_note(config["mining"]["splits"]) == (
        "selected on train+val+test (selected on test)"
    )
    assert selection_note("val") == "selected on val"


def test_shipped_config_is_leak_free():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert check_selection_splits(config) == []
