"""The workflow config: validation against its JSON Schema (draft 2020-12) with defaults filled
in, and the small tables it points at (test queries, probe targets).

A wrong key or value is reported in one line naming the key path, before any DAG is built.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, validators

from sail_core.evaluate.protocol import SelectionLeak, check_selection_splits


class ConfigError(ValueError):
    pass


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


def validate_workflow_config(config: dict, schema_path: str | Path, source: str = "config") -> dict:
    """validate_config, then the protocol: no selection step may use test rows unless the config
    opts in by name (sail_core.evaluate.protocol)."""
    validate_config(config, schema_path, source)
    try:
        check_selection_splits(config)
    except SelectionLeak as err:
        raise ConfigError(f"{source}: {err}") from None
    return config


def load_table(path: str | Path, schema_path: str | Path):
    """A small YAML table of the workflow (test queries, probe targets), validated against its
    schema with defaults filled in; an error names the file and the entry."""
    return validate_config(yaml.safe_load(Path(path).read_text()), schema_path, str(path))
