"""The Anthropic models the labelling stages can use: prices, caching minimum, sampling support.

Checked against Anthropic's pricing, prompt-caching and model-deprecation pages on the date in
CHECKED_ON. Prices are USD per million tokens (cache writes at the 5-minute rate). A prompt-cache
breakpoint on a prefix shorter than `min_cache_tokens` is ignored by the API (no error, no
saving), so requests only carry one when the prefix is long enough. Models that reject
`temperature`, `top_p` and `top_k` with a 400 have `accepts_sampling` false. Retired models
(claude-sonnet-4-5 retired on 2026-11-30) are not listed: a request to them fails.
"""

from __future__ import annotations

from dataclasses import dataclass

CHECKED_ON = "2026-12-04"


@dataclass(frozen=True)
class ModelInfo:
    input: float
    output: float
    cache_write: float
    cache_read: float
    min_cache_tokens: int
    accepts_sampling: bool

    @property
    def prices(self) -> dict[str, float]:
        return {
            "input": self.input,
            "output": self.output,
            "cache_write": self.cache_write,
            "cache_read": self.cache_read,
        }


MODELS = {
    "claude-sonnet-4-6": ModelInfo(3.0, 15.0, 3.75, 0.30, 1024, accepts_sampling=True),
    "claude-sonnet-5": ModelInfo(2.0, 10.0, 2.50, 0.20, 1024, accepts_sampling=False),
    "claude-haiku-4-5": ModelInfo(1.0, 5.0, 1.25, 0.10, 4096, accepts_sampling=True),
    "claude-opus-4-6": ModelInfo(5.0, 25.0, 6.25, 0.50, 4096, accepts_sampling=True),
}


def model_info(model: str) -> ModelInfo:
    try:
        return MODELS[model]
    except KeyError:
        raise ValueError(
            f"labelling.anthropic.model {model!r} is not in the model table of "
            f"sail_core/label/models.py (checked {CHECKED_ON}; known: {', '.join(sorted(MODELS))}); "
            "add it there with its prices, caching minimum and sampling support"
        ) from None


def estimated_tokens(text: str) -> int:
    """A conservative token count for English prose (about 4 characters per token)."""
    return len(text) // 4
