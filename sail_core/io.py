"""Atomic writes: an interrupted job never leaves an output that looks finished."""

from __future__ import annotations

import glob
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _running(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of `path`; rename it into place only if the block succeeds.

    Temporary siblings left by a writer of the same output that no longer runs (killed) are
    removed first."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    for sibling in final.parent.glob(f".{glob.escape(final.name)}.tmp-*"):
        if not _running(sibling.name.rsplit("-", 1)[1]):
            _remove(sibling)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    if final.is_dir() and not final.is_symlink():
        # a folder cannot be replaced in one step: move it aside under a temporary name (cleaned
        # up like any other if the job dies here), then put the new one in place
        previous = final.with_name(f".{final.name}.tmp-old-{os.getpid()}")
        os.replace(final, previous)
        os.replace(tmp, final)
        _remove(previous)
    else:
        # a file is replaced atomically: a reader (or a rerun after kill -9) sees the old or the
        # new content, never neither
        os.replace(tmp, final)


def write_json(path: str | os.PathLike, obj: object) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> object:
    return json.loads(Path(path).read_text())


def _json_default(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_parquet(
    df: pl.DataFrame, path: str | os.PathLike, metadata: dict[str, str] | None = None
) -> None:
    """Write `df` atomically, with optional key-value metadata in the parquet footer."""
    table = df.to_arrow()
    if metadata:
        merged = dict(table.schema.metadata or {})
        merged.update({k.encode(): str(v).encode() for k, v in metadata.items()})
        table = table.replace_schema_metadata(merged)
    with atomic_output(path) as tmp:
        pq.write_table(table, tmp)


def read_parquet_metadata(path: str | os.PathLike) -> dict[str, str]:
    raw = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in raw.items() if not k.startswith(b"ARROW")}
