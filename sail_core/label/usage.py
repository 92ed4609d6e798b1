"""Token and cost accounting from the `usage` field of every response.

Prices are USD per million tokens, per model, from the model table (`models.py`). Batch requests get the configured
discount. Responses served from the local cache cost nothing in this run but are counted in the
total, so the cost of a set of labels does not depend on how often it was rebuilt.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)
PRICE_OF_FIELD = {
    "input_tokens": "input",
    "output_tokens": "output",
    "cache_creation_input_tokens": "cache_write",
    "cache_read_input_tokens": "cache_read",
}


def response_cost(usage: dict, prices: dict[str, float], discount: float) -> float:
    """USD for one response; `discount` multiplies the price (0.5 for batches, else 1)."""
    total = sum((usage.get(field) or 0) * prices[PRICE_OF_FIELD[field]] for field in TOKEN_FIELDS)
    return total * discount / 1e6


@dataclass
class UsageTally:
    model: str
    prices: dict[str, float]
    batch_discount: float

    def __post_init__(self) -> None:
        self.tokens: Counter[str] = Counter()
        self.tokens_sent: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.unanswered: Counter[str] = Counter()
        self.cost = 0.0
        self.cost_sent = 0.0

    def add(self, usage: dict, via: str, from_cache: bool) -> None:
        cost = response_cost(usage, self.prices, self.batch_discount if via == "batch" else 1.0)
        counts = {field: usage.get(field) or 0 for field in TOKEN_FIELDS}
        self.tokens.update(counts)
        self.cost += cost
        self.requests["total"] += 1
        self.requests[via] += 1
        if from_cache:
            self.requests["from_cache"] += 1
        else:
            self.tokens_sent.update(counts)
            self.cost_sent += cost
            self.requests["sent"] += 1

    def add_failure(self, reason: str) -> None:
        """A request without a usable answer: "api_error", "refusal" or "max_tokens"."""
        self.unanswered[reason] += 1

    def summary(self, n_items: int, item_name: str) -> dict:
        per_100 = 100 * self.cost / n_items if n_items else 0.0
        return {
            "model": self.model,
            "prices_usd_per_mtok": self.prices,
            "batch_discount": self.batch_discount,
            "requests": {k: self.requests.get(k, 0) for k in ("total", "sent", "from_cache")}
            | {"via_batch": self.requests.get("batch", 0)},
            "unanswered": {
                reason: self.unanswered.get(reason, 0)
                for reason in ("api_error", "refusal", "max_tokens")
            },
            "tokens": {field: self.tokens.get(field, 0) for field in TOKEN_FIELDS},
            "tokens_sent_this_run": {
                field: self.tokens_sent.get(field, 0) for field in TOKEN_FIELDS
            },
            "cost_usd": round(self.cost, 6),
            "cost_usd_sent_this_run": round(self.cost_sent, 6),
            f"n_{item_name}": n_items,
            f"cost_usd_per_100_{item_name}": round(per_100, 6),
        }
