"""Logging for workflow jobs: one log file per job, progress lines with timestamps.

An uncaught exception ends in the job's log file too (Snakemake only shows that file): the
traceback, then one last line naming the job and the reason, which for a bad scan names the
scan and its file.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from types import TracebackType

logger = logging.getLogger("sail_core.job")


def job_name() -> str:
    """The Snakemake rule and wildcards of the running script, e.g. `slice_subject (ct, s0001)`."""
    job = getattr(sys.modules.get("__main__"), "snakemake", None)
    if job is None:
        return Path(sys.argv[0]).name or "python"
    wildcards = ", ".join(f"{k}={v}" for k, v in dict(job.wildcards.items()).items())
    return f"{job.rule} ({wildcards})" if wildcards else str(job.rule)


def log_uncaught(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, tb)
        return
    logger.critical("uncaught %s", kind.__name__, exc_info=(kind, error, tb))
    logger.critical("%s failed: %s: %s", job_name(), kind.__name__, error)


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
    sys.excepthook = log_uncaught
