"""Ask, parse, and re-ask what could not be parsed, in rounds (one batch per round).

A failed answer is followed up in the same conversation: the model sees its answer and the
reason it was rejected. The follow-up is a new request with its own cache key, so a rerun
replays every round from the cache. A request the API failed for good, a refusal and an answer
cut off at max_tokens are recorded as the item's error and counted; they are not parsed and not
asked again (the same request would end the same way).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sail_core.label.api import MessageRunner
from sail_core.label.cache import Request, make_request
from sail_core.label.schema import AnswerError
from sail_core.label.usage import UsageTally

T = TypeVar("T")
UNUSABLE_STOP_REASONS = {
    "refusal": "the model refused to answer",
    "max_tokens": "the answer was cut off at max_tokens",
}


@dataclass
class Outcome(Generic[T]):
    value: T | None = None
    error: str | None = None
    keys: list[str] = field(default_factory=list)
    raw: str = ""

    @property
    def attempts(self) -> int:
        return len(self.keys)


def follow_up(request: Request, answer_text: str, reason: str) -> Request:
    params = copy.deepcopy(request.params)
    reply = answer_text.strip() or "(empty answer)"
    retry = (
        f"That answer could not be used: {reason}. Reply again with only the JSON object asked for."
    )
    params["messages"] += [
        {"role": "assistant", "content": [{"type": "text", "text": reply}]},
        {"role": "user", "content": [{"type": "text", "text": retry}]},
    ]
    return make_request(params, request.prompt_version)


def ask_until_valid(
    runner: MessageRunner,
    requests: dict[Hashable, Request],
    parse: Callable[[Hashable, str], T],
    max_attempts: int,
    tally: UsageTally,
) -> dict[Hashable, Outcome[T]]:
    """Parsed answers per item (`parse(item, text)`); after `max_attempts` failed answers the
    outcome holds the last error."""
    outcomes: dict[Hashable, Outcome[T]] = {item: Outcome() for item in requests}
    current = dict(requests)
    while current:
        answers = runner.answer(list(current.values()))
        retry = {}
        for item, request in current.items():
            answer = answers[request.key]
            outcome = outcomes[item]
            outcome.keys.append(request.key)
            if answer.error is not None:
                tally.add_failure("api_error")
                outcome.error = answer.error
                continue
            tally.add(answer.usage, answer.via, answer.from_cache)
            outcome.raw = answer.text
            if answer.stop_reason in UNUSABLE_STOP_REASONS:
                tally.add_failure(answer.stop_reason)
                reason = UNUSABLE_STOP_REASONS[answer.stop_reason]
                outcome.error = f"stop_reason {answer.stop_reason}: {reason}"
                continue
            try:
                outcome.value, outcome.error = parse(item, answer.text), None
            except AnswerError as err:
                outcome.error = str(err)
                if outcome.attempts < max_attempts:
                    retry[item] = follow_up(request, answer.text, outcome.error)
        current = retry
    return outcomes
