"""The workflow config: validation against its JSON Schema (draft 2020-12) with defaults filled
in, and which of its settings are operational.

A wrong key or value is reported in one line naming the key path, before any DAG is built.
Operational settings change how a job runs (speed, memory, logging, retries), never what it
writes: rules leave them out of their params, so changing one reruns nothing, and adapters read
them from the config with `operational_settings`.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, validators


class ConfigError(ValueError):
    pass


# config block -> its operational keys; "*" stands for every entry of a mapping
OPERATIONAL_SETTINGS = {
    "embedding": ("threads", "resources"),
    "embedding.encoders.*": ("batch_size", "num_workers", "resources"),
    "sae.training": ("log_every", "checkpoint_every", "memory_budget_mb", "device"),
    "sae.codes": ("chunk_rows",),
    "mining": ("chunk_rows",),
    "labelling.evaluation": ("chunk_rows",),
    "labelling.anthropic": (
        "max_retries",
        "timeout_s",
        "batch_min_requests",
        "poll_interval_s",
        "max_wait_s",
        "base_url",
    ),
    "retrieval": ("chunk_rows",),
}


def _operational_keys(block_path: str) -> tuple[str, ...]:
    if block_path in OPERATIONAL_SETTINGS:
        return OPERATIONAL_SETTINGS[block_path]
    parent = block_path.rpartition(".")[0]
    return OPERATIONAL_SETTINGS.get(f"{parent}.*", ())


def result_settings(block: dict, block_path: str) -> dict:
    """`block` (the config at `block_path`) without its operational keys: what a rule may pass
    as params."""
    operational = _operational_keys(block_path)
    return {key: value for key, value in block.items() if key not in operational}


def operational_settings(block: dict, block_path: str) -> dict:
    """The operational keys of `block` (the config at `block_path`), for an adapter to merge
    back into its params."""
    return {key: block[key] for key in _operational_keys(block_path) if key in block}


def _with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = _copy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


def _copy(value):
    return yaml.safe_load(yaml.safe_dump(value))


_DefaultFillingValidator = _with_defaults(Draft202012Validator)


def _key_path(error) -> str:
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def validate_config(config: dict, schema_path: str | Path, source: str = "config") -> dict:
    """Fill defaults into `config` in place and raise ConfigError on the first violation."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = _DefaultFillingValidator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(f"{source}: {_key_path(first)}: {first.message}{more}")
    return config


def load_table(path: str | Path, schema_path: str | Path):
    """A small YAML table of the workflow (test queries, probe targets), validated against its
    schema with defaults filled in; an error names the file and the entry."""
    return validate_config(yaml.safe_load(Path(path).read_text()), schema_path, str(path))
