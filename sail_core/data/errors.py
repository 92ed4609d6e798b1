"""The one error type for a scan that cannot be used, naming the scan, the file and the reason."""

from __future__ import annotations

import os


class BadScanError(ValueError):
    def __init__(self, scan: str, path: str | os.PathLike | None, reason: str):
        self.scan = scan
        self.path = str(path) if path is not None else ""
        self.reason = reason
        where = f" ({self.path})" if self.path else ""
        super().__init__(f"{scan}{where}: {reason}")
