"""Logging for workflow jobs: one log file per job, progress lines with timestamps."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def configure(log_path: str | Path | None = None, level: int = logging.INFO) -> None:
    """Send every `sail_core` logger (and warnings) to the job's log file and to stderr."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.captureWarnings(True)
