"""Message Batches that are never paid twice, whatever kills the job and whoever runs beside it.

Every batch is an *intent*: the keys of its requests, written to `<intent>.json` in the state
folder before the batch is created, and locked (`<intent>.lock`, an flock the kernel releases
when the process dies) while a job works on it. The request key is the batch item's custom_id,
so a result answers its request whichever batch delivered it.

- Create is sent without SDK retries. When it fails in a way that may have reached the server
  (connection lost, timeout, 5xx), and on resuming an intent that has no batch id, the account's
  batches are listed and one created for the intent (same request count, created after the intent
  was recorded, claimed by no other intent) is adopted before anything is submitted again.
- A job wanting keys that another live job is batching waits for that job's lock instead of
  asking again; an intent whose lock is free belongs to a dead job and is resumed.
- Batches are split below the API's request-count and size limits.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import anthropic

from sail_core.io import read_json, write_json
from sail_core.label.cache import Request, ResponseCache, _canonical

logger = logging.getLogger(__name__)

# Documented limits of one Message Batch (checked 2026-12-04): 100,000 requests or 256 MB.
MAX_BATCH_REQUESTS = 100_000
MAX_BATCH_BYTES = 256 * 1024 * 1024
# Room for the JSON envelope around the requests and for the limit being counted in MB of 10^6.
BATCH_BYTES_MARGIN = 0.9
# How much earlier than the recorded intent a batch may appear to be created (clock skew).
CLOCK_MARGIN_S = 600.0
# Result error types that a later attempt can fix; any other error is the request's own fault.
RETRYABLE_ERRORS = frozenset(
    {"api_error", "overloaded_error", "rate_limit_error", "timeout_error", "request_too_large"}
)
# Create failures that may have happened after the server created the batch.
MAYBE_CREATED = (anthropic.APIConnectionError, anthropic.InternalServerError)


@dataclass(frozen=True)
class BatchFailure:
    kind: str
    message: str
    retryable: bool


@dataclass(frozen=True)
class BatchLimits:
    max_requests: int = MAX_BATCH_REQUESTS
    max_bytes: int = int(MAX_BATCH_BYTES * BATCH_BYTES_MARGIN)


API_LIMITS = BatchLimits()


def request_bytes(request: Request) -> int:
    return len(_canonical({"custom_id": request.key, "params": request.params}))


def split_into_batches(requests: list[Request], limits: BatchLimits) -> list[list[Request]]:
    """Consecutive groups, each within the request-count and byte limits."""
    groups: list[list[Request]] = []
    size = 0
    for request in requests:
        n_bytes = request_bytes(request)
        if n_bytes > limits.max_bytes:
            raise ValueError(
                f"request {request.key[:12]} is {n_bytes} bytes, over the batch limit of "
                f"{limits.max_bytes}; lower labelling.image_size or the number of samples"
            )
        if (
            not groups
            or len(groups[-1]) >= limits.max_requests
            or size + n_bytes > limits.max_bytes
        ):
            groups.append([])
            size = 0
        groups[-1].append(request)
        size += n_bytes
    return groups


def intent_id(keys: list[str]) -> str:
    return hashlib.sha256(_canonical(sorted(keys))).hexdigest()[:32]


class IntentLock:
    """An exclusive flock on `<intent>.lock`; held while a job works on the intent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: IO | None = open(path, "a")  # noqa: SIM115 - held across calls

    def try_acquire(self) -> bool:
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def wait(self) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_EX)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


class BatchRunner:
    def __init__(
        self,
        client: anthropic.Anthropic,
        cache: ResponseCache,
        state_dir: Path,
        poll_interval_s: float,
        max_wait_s: float,
        max_create_attempts: int,
        limits: BatchLimits = API_LIMITS,
    ) -> None:
        self.client = client
        self.cache = cache
        self.state_dir = Path(state_dir)
        self.poll_interval_s = poll_interval_s
        self.max_wait_s = max_wait_s
        self.max_create_attempts = max_create_attempts
        self.limits = limits

    @contextmanager
    def _folder_lock(self) -> Iterator[None]:
        """Serialises looking at and registering intents (short; never held while waiting)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.state_dir / ".folder.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _state_path(self, intent: str) -> Path:
        return self.state_dir / f"{intent}.json"

    def _lock(self, intent: str) -> IntentLock:
        return IntentLock(self.state_dir / f"{intent}.lock")

    def settle(self, keys: set[str]) -> dict[str, BatchFailure]:
        """Finish every recorded batch holding any of `keys`: resume those of dead jobs, wait
        for those of live ones. Returns the failures of the items it collected."""
        failures: dict[str, BatchFailure] = {}
        while True:
            busy: list[IntentLock] = []
            stale: list[tuple[str, IntentLock]] = []
            with self._folder_lock():
                for path in sorted(self.state_dir.glob("*.json")):
                    if not keys & set(read_json(path)["requests"]):
                        continue
                    lock = self._lock(path.stem)
                    if lock.try_acquire():  # its job is gone
                        stale.append((path.stem, lock))
                    else:
                        busy.append(lock)
            if not busy and not stale:
                return failures
            for intent, lock in stale:
                logger.info("resuming the batch of an interrupted job (intent %s)", intent)
                try:
                    failures |= self._finish(intent)
                finally:
                    self._forget(intent, lock)
            for lock in busy:
                logger.info("waiting for another job's batch (%s)", lock.path.name)
                lock.wait()
                lock.close()

    def run(self, requests: list[Request]) -> dict[str, BatchFailure]:
        """Ask `requests` through Message Batches and cache every succeeded result."""
        failures = self.settle({r.key for r in requests})
        claimed = []
        try:
            with self._folder_lock():
                # decided under the folder lock: another job may have registered some of these
                # requests (or finished them) since `settle` looked
                registered = self._registered_keys()
                pending = [
                    r for r in requests if r.key not in registered and self.cache.get(r.key) is None
                ]
                groups = split_into_batches(pending, self.limits) if pending else []
                for group in groups:
                    intent = intent_id([r.key for r in group])
                    lock = self._lock(intent)
                    if not lock.try_acquire():
                        lock.close()
                        continue  # another job registered the same requests a moment ago
                    state = {
                        "intent": intent,
                        "recorded_at": time.time(),
                        "batch_id": None,
                        "requests": {r.key: r.record() for r in group},
                    }
                    write_json(self._state_path(intent), state)
                    claimed.append((intent, lock, group))
            for intent, _, group in claimed:
                self._create(intent, group)
            for intent, _, _ in claimed:
                failures |= self._finish(intent)
        finally:
            for intent, lock, _ in claimed:
                self._forget(intent, lock)
        # Requests registered by another job: wait for it.
        return failures | self.settle({r.key for r in requests})

    def _registered_keys(self) -> set[str]:
        """The request keys of every recorded intent (call under the folder lock)."""
        return {
            key for path in self.state_dir.glob("*.json") for key in read_json(path)["requests"]
        }

    def _forget(self, intent: str, lock: IntentLock) -> None:
        """Drop a finished intent; its lock file goes with it, then the lock is released."""
        if self._state_path(intent).exists() and self._done(intent):
            with self._folder_lock():
                self._state_path(intent).unlink()
                lock.path.unlink(missing_ok=True)
        lock.close()

    def _done(self, intent: str) -> bool:
        return bool(read_json(self._state_path(intent)).get("done"))

    def _create(self, intent: str, group: list[Request]) -> None:
        path = self._state_path(intent)
        items = [{"custom_id": r.key, "params": r.params} for r in group]
        for attempt in range(1, self.max_create_attempts + 1):
            try:
                batch = self.client.with_options(max_retries=0).messages.batches.create(
                    requests=items
                )
            except (*MAYBE_CREATED, anthropic.RateLimitError) as err:
                adopted = self._find_created(read_json(path))
                if adopted is not None:
                    batch_id = adopted
                    break
                if attempt == self.max_create_attempts:
                    raise
                delay = min(60.0, 2.0**attempt)
                logger.warning(
                    "creating a batch failed (%s); no batch was created for it; retrying in %.0f s",
                    type(err).__name__,
                    delay,
                )
                time.sleep(delay)
            else:
                batch_id = batch.id
                break
        write_json(path, read_json(path) | {"batch_id": batch_id})
        logger.info("batch %s holds %d requests (intent %s)", batch_id, len(group), intent)

    def _find_created(self, state: dict) -> str | None:
        """The batch the account holds for this intent, if one was created."""
        claimed = {read_json(p).get("batch_id") for p in self.state_dir.glob("*.json")} - {None}
        since = state["recorded_at"] - CLOCK_MARGIN_S
        n = len(state["requests"])
        candidates = []
        for batch in self.client.messages.batches.list(limit=100):
            created = batch.created_at.timestamp()
            if created < since:
                break  # newest first
            counts = batch.request_counts
            total = (
                counts.processing + counts.succeeded + counts.errored + counts.canceled
                + counts.expired
            )  # fmt: skip
            if total == n and batch.id not in claimed:
                candidates.append((created, batch.id))
        if not candidates:
            return None
        batch_id = min(candidates)[1]
        logger.info("found batch %s already created for intent %s", batch_id, state["intent"])
        return batch_id

    def _finish(self, intent: str) -> dict[str, BatchFailure]:
        path = self._state_path(intent)
        state = read_json(path)
        records = state["requests"]
        failures: dict[str, BatchFailure] = {}
        batch_id = state["batch_id"] or self._find_created(state)
        if batch_id is None:
            logger.info("no batch was created for intent %s; its requests are asked again", intent)
        elif any(self.cache.get(k) is None for k in records) and self._wait(batch_id):
            failures = self._collect(batch_id, records)
        write_json(path, state | {"batch_id": batch_id, "done": True})
        return failures

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
            if time.monotonic() - started > self.max_wait_s:
                raise TimeoutError(
                    f"batch {batch_id} still {batch.processing_status} after "
                    f"{self.max_wait_s:.0f} s; rerun to keep waiting"
                )
            logger.info(
                "batch %s %s, %d requests processing",
                batch_id,
                batch.processing_status,
                batch.request_counts.processing,
            )
            time.sleep(self.poll_interval_s)

    def _collect(self, batch_id: str, records: dict[str, dict]) -> dict[str, BatchFailure]:
        failures: dict[str, BatchFailure] = {}
        for entry in self.client.messages.batches.results(batch_id):
            key, result = entry.custom_id, entry.result
            if key not in records or self.cache.get(key) is not None:
                continue
            if result.type == "succeeded":
                self.cache.put(records[key], result.message.model_dump(mode="json"), "batch")
            elif result.type == "errored":
                error = result.error.error
                failures[key] = BatchFailure(
                    error.type, error.message, error.type in RETRYABLE_ERRORS
                )
            else:  # canceled or expired: the request itself was never judged
                failures[key] = BatchFailure(result.type, f"batch item {result.type}", True)
        if failures:
            kinds = sorted({f.kind for f in failures.values()})
            logger.warning(
                "batch %s: %d request(s) without an answer (%s)",
                batch_id,
                len(failures),
                ", ".join(kinds),
            )
        return failures
