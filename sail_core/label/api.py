"""Answers to model requests: from the cache, else from the Anthropic API.

Few requests go one by one through `messages.create` (the SDK retries 429, 5xx, connection
errors and timeouts itself, honouring `retry-after`); many go through the Message Batches API
(`batches.py`: crash-safe, never paid twice). A request the API rejects (400) or a batch item that
failed for good is reported as that request's error, not asked again; batch items that failed for
a passing reason are asked again, as a batch when there are still many.

The API key is read by the SDK from ANTHROPIC_API_KEY and never passes through this code.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import anthropic

from sail_core.label.batches import API_LIMITS, BatchFailure, BatchLimits, BatchRunner
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
    error: str | None = None

    @property
    def text(self) -> str:
        return "".join(b["text"] for b in self.message.get("content", []) if b["type"] == "text")

    @property
    def usage(self) -> dict:
        return self.message.get("usage") or {}

    @property
    def stop_reason(self) -> str | None:
        return self.message.get("stop_reason")


class MessageRunner:
    def __init__(
        self,
        client: anthropic.Anthropic,
        cache: ResponseCache,
        settings: ApiSettings,
        batch_limits: BatchLimits = API_LIMITS,
    ) -> None:
        self.client = client
        self.cache = cache
        self.settings = settings
        self.batches = BatchRunner(
            client,
            cache,
            cache.root / "batches",
            settings.poll_interval_s,
            settings.max_wait_s,
            max_create_attempts=settings.max_retries + 1,
            limits=batch_limits,
        )

    def answer(self, requests: list[Request]) -> dict[str, Answer]:
        """An answer for every request (by key); only uncached requests reach the API, and
        each at most once unless it failed for a passing reason."""
        unique = {r.key: r for r in requests}
        answers = {key: a for key in unique if (a := self._cached(key)) is not None}
        pending = [r for key, r in unique.items() if key not in answers]
        if pending:
            failures = self.batches.settle({r.key for r in pending})
            pending = self._take_answered(pending, failures, answers)
        rounds = 0
        while pending and len(pending) >= self.settings.batch_min_requests:
            rounds += 1
            failures = self.batches.run(pending)
            if rounds > self.settings.max_retries:
                failures = {k: BatchFailure(f.kind, f.message, False) for k, f in failures.items()}
            pending = self._take_answered(pending, failures, answers)
        for request in pending:
            answers[request.key] = self._create(request)
        return answers

    def _take_answered(
        self, pending: list[Request], failures: dict[str, BatchFailure], answers: dict
    ) -> list[Request]:
        """Record cached answers and final failures; the requests still to ask."""
        left = []
        for request in pending:
            failure = failures.get(request.key)
            if (answer := self._cached(request.key, fresh=True)) is not None:
                answers[request.key] = answer
            elif failure is not None and not failure.retryable:
                logger.warning("request %s failed: %s", request.key[:12], failure.message)
                answers[request.key] = Answer(
                    request.key, {}, "batch", False, f"{failure.kind}: {failure.message}"
                )
            else:
                left.append(request)
        return left

    def _cached(self, key: str, fresh: bool = False) -> Answer | None:
        record = self.cache.get(key)
        if record is None:
            return None
        return Answer(key, record["response"], record["via"], from_cache=not fresh)

    def _create(self, request: Request) -> Answer:
        typed = dict(request.params)
        sampling = {name: typed.pop(name) for name in SAMPLING_PARAMETERS if name in typed}
        try:
            message = self.client.messages.create(**typed, extra_body=sampling or None)
        except anthropic.BadRequestError as err:
            logger.warning("request %s rejected: %s", request.key[:12], err.message)
            return Answer(
                request.key, {}, "messages", False, f"invalid_request_error: {err.message}"
            )
        message = message.model_dump(mode="json")
        self.cache.put(request.record(), message, "messages")
        return Answer(request.key, message, "messages", from_cache=False)
