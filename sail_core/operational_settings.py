"""Which workflow settings are operational.

Operational settings change how a job runs (speed, memory, logging, retries), never what it
writes: rules leave them out of their params, so changing one reruns nothing, and adapters read
them from the config with `operational_settings`. Standard library only: every job env imports
this.
"""

from __future__ import annotations

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


def with_operational(params: dict | None, config: dict, block_path: str) -> dict | None:
    """A rule's result settings of the config block at `block_path` (None where the job does not
    use the block) with that block's operational settings from the workflow `config` merged
    back: what the adapter hands to the library."""
    if params is None:
        return None
    block = config
    for key in block_path.split("."):
        block = block[key]
    return dict(params) | operational_settings(block, block_path)
