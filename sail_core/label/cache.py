"""Content-addressed store of every model request and its response.

The key is the sha256 of the prompt version and the complete request parameters (model,
sampling settings, instructions, metadata text and the bytes of every image), so a rerun never
pays twice and a changed prompt only re-asks what changed. One JSON file per key; images are
stored as their digest, the text in full.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from sail_core.io import write_json


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest_images(params: dict) -> dict:
    """A copy of `params` with each base64 image replaced by its byte count and sha256."""
    shown = copy.deepcopy(params)
    for message in shown.get("messages", []):
        content = message["content"]
        for block in content if isinstance(content, list) else []:
            source = block.get("source") if block.get("type") == "image" else None
            if source and source.get("type") == "base64":
                data = base64.standard_b64decode(source.pop("data"))
                source["bytes"] = len(data)
                source["sha256"] = hashlib.sha256(data).hexdigest()
    return shown


@dataclass(frozen=True, eq=False)
class Request:
    key: str
    params: dict
    prompt_version: str

    def record(self) -> dict:
        """What the cache keeps of the request (images as digests)."""
        return {
            "key": self.key,
            "prompt_version": self.prompt_version,
            "request": digest_images(self.params),
        }


def make_request(params: dict, prompt_version: str) -> Request:
    material = {"prompt_version": prompt_version, "request": digest_images(params)}
    return Request(hashlib.sha256(_canonical(material)).hexdigest(), params, prompt_version)


class ResponseCache:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def get(self, key: str) -> dict | None:
        path = self.path(key)
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: unreadable cache entry ({err.msg}); delete it") from err

    def put(self, request_record: dict, message: dict, via: str) -> dict:
        """Store a response under its request's key; `via` is "messages" or "batch"."""
        record = {**request_record, "response": message, "via": via}
        write_json(self.path(request_record["key"]), record)
        return record
