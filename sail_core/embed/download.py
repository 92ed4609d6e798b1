"""Fetch a pinned model snapshot from the Hugging Face hub into a local folder.

Only the optional `download_model` rule uses this, on a machine with network access; embedding
jobs read the folder and never download. Gated models (DINOv3 is one) need an accepted licence
and a token in the HF_TOKEN environment variable.
"""

from __future__ import annotations

import logging
import os
import re

from huggingface_hub import snapshot_download

from sail_core.io import atomic_output

logger = logging.getLogger(__name__)

COMMIT_HASH = re.compile(r"^[0-9a-f]{40}$")


def download_model(model_id: str, revision: str, local_dir: str | os.PathLike) -> None:
    """Download `model_id` at `revision` (a full commit hash) into `local_dir`, atomically."""
    if not COMMIT_HASH.match(revision or ""):
        raise ValueError(
            f"{model_id}: revision must be a 40-character commit hash so that the download is "
            f"reproducible, got {revision!r}"
        )
    logger.info("downloading %s at %s into %s", model_id, revision, local_dir)
    with atomic_output(local_dir) as tmp:
        snapshot_download(repo_id=model_id, revision=revision, local_dir=tmp)
    logger.info("downloaded %s", local_dir)
