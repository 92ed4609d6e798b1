"""Answers to model requests: from the cache, else from the Anthropic API.

Few requests go one by one through `messages.create`; many go through the Message Batches API.
The SDK retries 429, 5xx, connection errors and timeouts itself (`max_retries`, honouring
`retry-after`). A submitted batch is recorded on disk (its id and every request it holds) before
polling starts, so a crashed job resumes that batch instead of asking again; results are cached
one by one as they are collected.

The API key is read by the SDK from ANTHROPIC_API_KEY and never passes through this code.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import anthropic

from sail_core.io import read_json, write_json
from sail_core.label.cache import Request, ResponseCache

logger = logging.getLogger(__name__)

API_KEY_VARIABLE = "ANTHROPIC_API_KEY"
# Gone from the SDK's typed signature but still accepted on the wire by the models that
# support them; they travel in the request body.
SAMPLING_PARAMETERS = ("temperature", "top_p", "top_k")


class MissingApiKeyError(RuntimeError):
    pass


@dataclass(frozen=True)
class ApiSettings:
    max_retries: int
    timeout_s: float
    batch_min_requests: int
    poll_interval_s: float
    max_wait_s: float
    base_url: str | None = None


def make_client(settings: ApiSettings) -> anthropic.Anthropic:
    if not os.environ.get(API_KEY_VARIABLE):
        raise MissingApiKeyError(
            f"the anthropic labeller needs an API key in the environment variable "
            f"{API_KEY_VARIABLE}; set it, or use the offline labeller"
        )
    return anthropic.Anthropic(
        base_url=settings.base_url, max_retries=settings.max_retries, timeout=settings.timeout_s
    )


@dataclass(frozen=True)
class Answer:
    key: str
    message: dict
    via: str
    from_cache: bool

    @property
    def text(self) -> str:
        return "".join(b["text"] for b in self.message.get("content", []) if b["type"] == "text")

    @property
    def usage(self) -> dict:
        return self.message.get("usage") or {}


class MessageRunner:
    def __init__(
        self,
        client: anthropic.Anthropic,
        cache: ResponseCache,
        settings: ApiSettings,
    ) -> None:
        self.client = client
        self.cache = cache
        self.settings = settings
        self.batch_dir = cache.root / "batches"

    def answer(self, requests: list[Request]) -> dict[str, Answer]:
        """An answer for every request (by key); only uncached requests reach the API."""
        unique = {r.key: r for r in requests}
        answers = {key: a for key in unique if (a := self._cached(key)) is not None}
        pending = [r for key, r in unique.items() if key not in answers]
        if pending:
            self._resume_batches({r.key for r in pending})
            answers |= {r.key: a for r in pending if (a := self._cached(r.key, fresh=True))}
            pending = [r for r in pending if r.key not in answers]
        if pending and len(pending) >= self.settings.batch_min_requests:
            self._run_batch(pending)
            answers |= {r.key: a for r in pending if (a := self._cached(r.key, fresh=True))}
            pending = [r for r in pending if r.key not in answers]
        for request in pending:
            answers[request.key] = self._create(request)
        return answers

    def _cached(self, key: str, fresh: bool = False) -> Answer | None:
        record = self.cache.get(key)
        if record is None:
            return None
        return Answer(key, record["response"], record["via"], from_cache=not fresh)

    def _create(self, request: Request) -> Answer:
        typed = dict(request.params)
        sampling = {name: typed.pop(name) for name in SAMPLING_PARAMETERS if name in typed}
        message = self.client.messages.create(**typed, extra_body=sampling or None)
        message = message.model_dump(mode="json")
        self.cache.put(request.record(), message, "messages")
        return Answer(request.key, message, "messages", from_cache=False)

    def _run_batch(self, requests: list[Request]) -> None:
        batch = self.client.messages.batches.create(
            requests=[{"custom_id": r.key, "params": r.params} for r in requests]
        )
        state = {"batch_id": batch.id, "requests": {r.key: r.record() for r in requests}}
        write_json(self.batch_dir / f"{batch.id}.json", state)
        logger.info("submitted batch %s with %d requests", batch.id, len(requests))
        self._finish_batch(self.batch_dir / f"{batch.id}.json")

    def _resume_batches(self, wanted: set[str]) -> None:
        for path in sorted(self.batch_dir.glob("*.json")):
            if wanted & set(read_json(path)["requests"]):
                logger.info("resuming batch recorded in %s", path)
                self._finish_batch(path)

    def _finish_batch(self, state_path: Path) -> None:
        """Wait for the batch, cache every succeeded result, then forget the batch."""
        state = read_json(state_path)
        batch_id, records = state["batch_id"], state["requests"]
        if any(self.cache.get(key) is None for key in records) and self._wait(batch_id):
            self._collect(batch_id, records)
        state_path.unlink()

    def _wait(self, batch_id: str) -> bool:
        """Poll until the batch has ended (True) or is gone (False)."""
        started = time.monotonic()
        while True:
            try:
                batch = self.client.messages.batches.retrieve(batch_id)
            except anthropic.NotFoundError:
                logger.warning("batch %s no longer exists; its requests are asked again", batch_id)
                return False
            if batch.processing_status == "ended":
                return True
            if time.monotonic() - started > self.settings.max_wait_s:
                raise TimeoutError(
                    f"batch {batch_id} still {batch.processing_status} after "
                    f"{self.settings.max_wait_s:.0f} s; rerun to keep waiting"
                )
            logger.info(
                "batch %s %s, %d requests processing",
                batch_id,
                batch.processing_status,
                batch.request_counts.processing,
            )
            time.sleep(self.settings.poll_interval_s)

    def _collect(self, batch_id: str, records: dict[str, dict]) -> None:
        failed = []
        for entry in self.client.messages.batches.results(batch_id):
            if entry.custom_id not in records or self.cache.get(entry.custom_id) is not None:
                continue
            if entry.result.type == "succeeded":
                message = entry.result.message.model_dump(mode="json")
                self.cache.put(records[entry.custom_id], message, "batch")
            else:
                failed.append(f"{entry.custom_id[:12]} {entry.result.type}")
        if failed:
            logger.warning(
                "batch %s: %d request(s) without a result, asked again one by one: %s",
                batch_id,
                len(failed),
                "; ".join(failed),
            )
