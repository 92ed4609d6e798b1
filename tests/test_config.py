from pathlib import Path

import pytest
import yaml

from sail_core.workflow_config import ConfigError, validate_config

ROOT = Path(__file__).parents[1]
SCHEMA = ROOT / "schemas" / "config.schema.yaml"


def _default_config():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_default_config_is_valid_and_defaults_fill_in():
    config = validate_config(_default_config(), SCHEMA)
    assert config["dataset"]["on_bad_scan"] == "quarantine"
    empty = validate_config({}, SCHEMA)
    assert empty["split"]["test_institutes"] == ["A", "D", "E"]
    assert empty["seed"] == 42
    assert empty["sae"]["training"]["batch_size"] == 2048


def test_unknown_key_is_one_line_naming_it():
    config = _default_config()
    config["dataset"]["ct_rot"] = "x"
    with pytest.raises(ConfigError) as err:
        validate_config(config, SCHEMA, "config.yaml")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("config.yaml: dataset:") and "ct_rot" in message


def test_wrong_value_names_its_path():
    config = _default_config()
    config["split"]["train_fraction"] = 1.5
    with pytest.raises(ConfigError, match=r"config.yaml: split.train_fraction: 1.5"):
        validate_config(config, SCHEMA, "config.yaml")
