"""A local stand-in for the Anthropic Messages and Message Batches endpoints.

The real SDK is pointed at it with `base_url`. It counts every request server-side, answers
with canned JSON, can be told to fail (429 with retry-after, 500, a malformed answer, a refusal, a failing
batch poll, errored batch items of a given error type, a dropped connection after a batch was
created, a hook run right after a batch was created), enforces the batch size limits it is given,
and reports usage like the real API: text at ~4 characters per token, images at
width x height / 750 tokens, and a system prompt marked for caching as cache writes, then cache
reads, but only when it reaches the model's minimum cacheable length (shorter marked prefixes are
billed as plain input, as the API does).
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sail_core.label.models import MODELS

FAKE_KEY = "sk-ant-fake-0123456789-never-written"


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def default_answer(params: dict) -> str:
    text = params["messages"][0]["content"][-1]["text"]
    modality = "mri" if ": MRI," in text else "ct"
    return json.dumps(
        {
            "label": f"Axial {modality.upper()} of the liver and spleen",
            "key_structures": ["liver", "spleen"],
            "modality": modality,
            "orientation": "axial",
            "sex": "any",
            "age_group": "any",
        }
    )


class FakeAnthropic:
    def __init__(self) -> None:
        self.key = FAKE_KEY
        self.answer: Callable[[dict], str] = default_answer
        self.message_faults: deque[tuple] = deque()
        self.retrieve_faults: deque[int] = deque()
        self.polls_before_end = 2
        self.errored_custom_ids: set[str] = set()
        self.item_error = "api_error"
        self.drop_after_create = 0
        self.after_create: Callable[[str], None] | None = None
        self.max_batch_requests = 100_000
        self.max_batch_bytes = 256 * 1024 * 1024
        self.lock = threading.Lock()
        self.message_calls = 0
        self.asked: Counter[str] = Counter()
        self.batch_submissions: Counter[str] = Counter()
        self.batches: dict[str, dict] = {}
        self.cached_prefixes: set[str] = set()
        self.keys_seen: set[str] = set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address
        return f"http://{host}:{port}"

    def _usage(self, params: dict, answer: str) -> dict:
        system = "".join(block["text"] for block in params.get("system", []))
        cached = any("cache_control" in block for block in params.get("system", []))
        prompt_tokens = 0
        for message in params["messages"]:
            content = message["content"]
            for block in content if isinstance(content, list) else [{"text": content}]:
                if block.get("type") == "image":
                    width, height = _png_size(base64.b64decode(block["source"]["data"]))
                    prompt_tokens += width * height // 750
                else:
                    prompt_tokens += _tokens(block["text"])
        usage = {
            "input_tokens": prompt_tokens,
            "output_tokens": _tokens(answer),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        prefix = hashlib.sha256(system.encode()).hexdigest()
        cacheable = _tokens(system) >= MODELS[params["model"]].min_cache_tokens
        if cached and cacheable and prefix in self.cached_prefixes:
            usage["cache_read_input_tokens"] = _tokens(system)
        elif cached and cacheable:
            self.cached_prefixes.add(prefix)
            usage["cache_creation_input_tokens"] = _tokens(system)
        else:
            usage["input_tokens"] += _tokens(system)
        return usage

    def message(
        self, params: dict, answer: str | None = None, stop_reason: str = "end_turn"
    ) -> dict:
        with self.lock:
            self.asked[hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()] += 1
        answer = self.answer(params) if answer is None else answer
        return {
            "id": f"msg_{sum(self.asked.values()):06d}",
            "type": "message",
            "role": "assistant",
            "model": params["model"],
            "content": [{"type": "text", "text": answer}],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": self._usage(params, answer),
        }

    def _batch(self, batch_id: str) -> dict:
        batch = self.batches[batch_id]
        ended = batch["polls"] >= self.polls_before_end
        n = len(batch["requests"])
        return {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": {
                "processing": 0 if ended else n,
                "succeeded": n if ended else 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            },
            "created_at": _iso(batch["created_at"]),
            "expires_at": _iso(batch["created_at"] + 86400),
            "ended_at": _iso(batch["created_at"] + 300) if ended else None,
            "cancel_initiated_at": None,
            "archived_at": None,
            "results_url": f"{self.base_url}/v1/messages/batches/{batch_id}/results"
            if ended
            else None,
        }

    def _results(self, batch_id: str) -> bytes:
        lines = []
        for item in self.batches[batch_id]["requests"]:
            if item["custom_id"] in self.errored_custom_ids:
                detail = {"type": self.item_error, "message": self.item_error}
                error = {"type": "error", "error": detail}
                result = {"type": "errored", "error": error}
            else:
                result = {"type": "succeeded", "message": self.message(item["params"])}
            lines.append(json.dumps({"custom_id": item["custom_id"], "result": result}))
        return ("\n".join(lines) + "\n").encode()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, value: dict, headers: dict | None = None) -> None:
                self._send(status, json.dumps(value).encode(), headers)

            def _error(self, status: int, kind: str, headers: dict | None = None) -> None:
                body = {"type": "error", "error": {"type": kind, "message": kind}}
                self._json(status, body, headers)

            def _authorised(self) -> bool:
                bearer = self.headers.get("authorization", "").removeprefix("Bearer ")
                key = self.headers.get("x-api-key") or bearer
                fake.keys_seen.add(key)
                if key != FAKE_KEY:
                    self._error(401, "authentication_error")
                    return False
                return True

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                if not self._authorised():
                    return
                if self.path == "/v1/messages":
                    fake.message_calls += 1
                    fault = fake.message_faults.popleft() if fake.message_faults else None
                    if fault and fault[0] == 429:
                        self._error(429, "rate_limit_error", {"retry-after": fault[1]})
                    elif fault and fault[0] == 500:
                        self._error(500, "api_error", {"retry-after-ms": "10"})
                    elif fault and fault[0] == "malformed":
                        self._json(200, fake.message(body, answer='{"label": "Axial CT of'))
                    elif fault and fault[0] in ("refusal", "max_tokens"):
                        self._json(200, fake.message(body, answer="", stop_reason=fault[0]))
                    elif fault and fault[0] == 400:
                        self._error(400, "invalid_request_error")
                    else:
                        self._json(200, fake.message(body))
                elif self.path == "/v1/messages/batches":
                    requests = body["requests"]
                    size = sum(len(json.dumps(r)) for r in requests)
                    if len(requests) > fake.max_batch_requests or size > fake.max_batch_bytes:
                        self._error(413, "request_too_large")
                        return
                    with fake.lock:
                        batch_id = f"msgbatch_{len(fake.batches) + 1:04d}"
                        fake.batches[batch_id] = {
                            "requests": requests,
                            "polls": 0,
                            "created_at": time.time(),
                        }
                        fake.batch_submissions.update(r["custom_id"] for r in requests)
                    if fake.after_create is not None:
                        fake.after_create(batch_id)
                    if fake.drop_after_create:
                        fake.drop_after_create -= 1
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    self._json(200, fake._batch(batch_id))
                else:
                    self._error(404, "not_found_error")

            def do_GET(self) -> None:
                if not self._authorised():
                    return
                parts = self.path.split("?")[0].strip("/").split("/")
                if parts == ["v1", "messages", "batches"]:
                    newest_first = sorted(fake.batches, reverse=True)
                    data = [fake._batch(batch_id) for batch_id in newest_first]
                    first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
                    page = {"data": data, "has_more": False, "first_id": first, "last_id": last}
                    self._json(200, page)
                elif parts[:3] != ["v1", "messages", "batches"] or parts[3] not in fake.batches:
                    self._error(404, "not_found_error")
                elif len(parts) == 5 and parts[4] == "results":
                    self._send(200, fake._results(parts[3]), {"content-type": "application/binary"})
                elif fake.retrieve_faults:
                    fake.retrieve_faults.popleft()
                    self._error(500, "api_error", {"x-should-retry": "false"})
                else:
                    fake.batches[parts[3]]["polls"] += 1
                    self._json(200, fake._batch(parts[3]))

        return Handler
