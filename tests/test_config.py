from pathlib import Path

import pytest
import yaml

from sail_core.embed.registry import resolve_spec
from sail_core.operational_settings import result_settings, with_operational
from sail_core.sae.config import parse_sae_name
from sail_core.workflow_config import (
    ConfigError,
    load_table,
    validate_config,
    validate_workflow_config,
)

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
    config = _default_config() | {"split": {"train_fraction": 1.5}}
    with pytest.raises(ConfigError, match=r"config.yaml: split.train_fraction: 1.5"):
        validate_config(config, SCHEMA, "config.yaml")


def test_a_selection_step_on_test_is_refused_unless_opted_in_by_name():
    config = _default_config()
    config["mining"] = {"splits": ["train", "val", "test"]}
    with pytest.raises(ConfigError) as err:
        validate_workflow_config(config, SCHEMA, "config.yaml")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("config.yaml: mining.splits includes 'test'")
    config["evaluation"]["allow_selection_on_test"] = True
    validate_workflow_config(config, SCHEMA, "config.yaml")


def test_the_demo_and_the_study_preset_choose_on_train_and_val_only():
    validate_workflow_config(_default_config(), SCHEMA, "config.yaml")
    preset = ROOT / "config" / "totalsegmentator.yaml"
    validate_workflow_config(yaml.safe_load(preset.read_text()), SCHEMA, str(preset))


def _settings_without_description(node: dict, path: str = "") -> list[str]:
    missing = []
    for name, sub in node.get("properties", {}).items():
        key = f"{path}.{name}" if path else name
        if "properties" in sub:
            missing += _settings_without_description(sub, key)
        elif "default" in sub and not sub.get("description"):
            missing.append(key)
    return missing


def test_every_default_has_a_description():
    schema = yaml.safe_load(SCHEMA.read_text())
    assert _settings_without_description(schema) == []


def test_demo_config_holds_only_choices_that_differ_from_the_defaults():
    schema = yaml.safe_load(SCHEMA.read_text())
    signposts = {"dataset.source", "labelling.labeller"}  # kept for a newcomer to see

    def same_as_default(config: dict, node: dict, path: str = "") -> list[str]:
        hits = []
        for key, value in config.items():
            sub, name = node["properties"][key], f"{path}.{key}".lstrip(".")
            if "properties" in sub and isinstance(value, dict):
                hits += same_as_default(value, sub, name)
            elif sub.get("default", object()) == value and name not in signposts:
                hits.append(name)
        return hits

    assert same_as_default(_default_config(), schema) == []


def test_tables_validate_and_a_bad_entry_names_the_file(tmp_path):
    queries = load_table(ROOT / "config" / "queries.yaml", ROOT / "schemas" / "queries.schema.yaml")
    assert len(queries) == 12 and all(q["name"] and q["text"] for q in queries)
    targets_schema = ROOT / "schemas" / "probe_targets.schema.yaml"
    targets = load_table(ROOT / "config" / "probe_targets.yaml", targets_schema)
    assert (
        sum(len(group["classes"]) for group in targets.values() if group["classes"] != "auto") == 30
    )
    bad = tmp_path / "targets.yaml"
    bad.write_text("sex: {kind: multiclass, classes: [f, m]}\n")
    with pytest.raises(ConfigError, match=rf"{bad}: sex: 'column' is a required property"):
        load_table(bad, targets_schema)


def _study_grid() -> set[str]:
    """The study's ParameterGrid: nested sizes x k lists, skipping any k above its width."""
    sizes = [
        [16, 64, 256, 1024],
        [32, 128, 512, 2048],
        [64, 256, 1024, 4096],
        [128, 512, 2048, 8192],
    ]
    k_lists = [[5] * 4, [10] * 4, [20] * 4, [30] * 4]
    k_lists += [[5 * 2**i for i in range(4)], [10 * 2**i for i in range(4)]]
    k_lists += [[20 * 2**i for i in range(4)], [30 * 2**i for i in range(4)]]
    return {
        f"D{'-'.join(map(str, d))}_K{'-'.join(map(str, k))}"
        for d in sizes
        for k in k_lists
        if all(k_i <= d_i for k_i, d_i in zip(k, d, strict=True))
    }


def test_study_preset_is_valid_with_the_study_grid_for_every_encoder():
    preset = yaml.safe_load((ROOT / "config" / "totalsegmentator.yaml").read_text())
    config = validate_config(preset, SCHEMA, "config/totalsegmentator.yaml")
    encoders = config["embedding"]["encoders"]
    assert set(encoders) == {"dinov3", "dinov3_random", "biomedparse", "biomedparse_random"}
    for name, spec in encoders.items():
        resolve_spec(name, {k: v for k, v in spec.items() if k != "resources"})
    assert encoders["biomedparse_random"]["random_init"] is True
    assert encoders["dinov3_random"]["kind"] == "random_init"
    grid = _study_grid()
    assert len(grid) == 28
    for encoder in encoders:
        names = config["sae"]["configs"][encoder]
        assert len(names) == 28 and set(names) == grid
        for name in names:
            assert parse_sae_name(name).variant == "nested_k"
    assert config["slicing"]["size"] == 1024
    assert config["dataset"]["source"] == "totalsegmentator"
    assert config["split"]["test_institutes"] == ["A", "D", "E"]


def test_operational_settings_split_off_and_merge_back():
    anthropic = {"model": "m", "max_tokens": 10, "timeout_s": 5, "poll_interval_s": 1}
    params = result_settings(anthropic, "labelling.anthropic")
    assert params == {"model": "m", "max_tokens": 10}
    config = {"labelling": {"anthropic": anthropic}}
    assert with_operational(params, config, "labelling.anthropic") == anthropic
    assert with_operational(None, config, "labelling.anthropic") is None
    encoder = {"kind": "hf", "batch_size": 8, "num_workers": 2, "image_size": 224}
    assert result_settings(encoder, "embedding.encoders.any") == {"kind": "hf", "image_size": 224}
    assert result_settings({"n_top": 3}, "mining") == {"n_top": 3}
