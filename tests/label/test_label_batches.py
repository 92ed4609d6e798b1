"""Message Batches against the fake server: never billed twice, whatever happens to the job."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from sail_core.label.batches import BatchLimits, BatchRunner, split_into_batches
from sail_core.label.cache import make_request
from sail_core.label.labels import OK, PARSE_FAILED
from sail_core.label.models import MODELS, model_info
from sail_core.label.prompt import LABEL_INSTRUCTIONS, RequestSettings, request_params
from sail_core.label.run import make_labeller
from sail_core.label.schema import LABEL_SCHEMA

from .test_label_api import all_ok, api_params, evidence_set, labeller

REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import logging
    import sys
    import numpy as np
    from sail_core.label.evidence import FeatureEvidence, SampleMeta, png_bytes
    from sail_core.label.run import make_labeller

    logging.basicConfig(level=logging.INFO)
    base_url, cache_dir = sys.argv[1], sys.argv[2]
    params = {
        "model": "claude-sonnet-4-6", "temperature": 0.0, "max_tokens": 400,
        "prompt_version": "v1", "max_attempts": 3, "max_retries": 4, "timeout_s": 30,
        "batch_min_requests": 2, "poll_interval_s": 0.001, "max_wait_s": 60,
        "base_url": base_url, "batch_discount": 0.5,
    }
    evidence = [
        FeatureEvidence(
            f,
            (SampleMeta("ct", "axial", "m", 50.0, (("liver", 1),), None, 0.9),),
            (png_bytes(np.full((8, 8), f, np.uint8), 32),),
        )
        for f in range(5)
    ]
    labels, _ = make_labeller("anthropic", {}, params, cache_dir).label(evidence)
    print(sorted({label.status for label in labels}))
    """
)


def run_child(fake, cache_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", CHILD, fake.base_url, str(cache_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_job_killed_right_after_create_reuses_that_batch(fake_api, tmp_path):
    children = []
    fake_api.after_create = lambda _batch_id: os.kill(children[-1].pid, signal.SIGKILL)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, fake_api.base_url, str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    children.append(child)
    child.wait(timeout=120)
    assert child.returncode == -signal.SIGKILL
    assert len(fake_api.batches) == 1
    recorded = list((tmp_path / "batches").glob("*.json"))
    assert len(recorded) == 1

    fake_api.after_create = None
    rerun = run_child(fake_api, tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert "['ok']" in rerun.stdout
    assert "already created" in rerun.stderr
    assert len(fake_api.batches) == 1 and fake_api.message_calls == 0
    assert set(fake_api.batch_submissions.values()) == {1}
    assert [p.name for p in (tmp_path / "batches").iterdir()] == [".folder.lock"]


def test_a_create_whose_response_was_lost_is_not_sent_again(fake_api, tmp_path):
    fake_api.drop_after_create = 1
    labels, usage = labeller(fake_api, tmp_path, batch_min_requests=2).label(evidence_set(5))
    assert all_ok(labels)
    assert len(fake_api.batches) == 1
    assert set(fake_api.batch_submissions.values()) == {1}
    assert usage["requests"]["via_batch"] == 5


def test_two_jobs_at_once_both_finish_and_ask_each_request_once(fake_api, tmp_path):
    fake_api.polls_before_end = 20
    evidence = evidence_set(8)
    jobs = {"first": evidence[:5], "second": evidence[3:]}
    results, errors = {}, []

    def job(name):
        try:
            results[name] = labeller(fake_api, tmp_path, batch_min_requests=2).label(jobs[name])
        except Exception as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=job, args=(name,)) for name in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert all(all_ok(results[name][0]) for name in jobs)
    assert len(fake_api.batch_submissions) == 8
    assert set(fake_api.batch_submissions.values()) == {1}
    assert not list((tmp_path / "batches").glob("*.json"))


def test_requests_another_job_registers_after_our_look_are_not_asked_again(
    fake_api, tmp_path, monkeypatch
):
    """The other job registers its batch between this job's look at the recorded batches and
    its own registration: the shared requests are left to it, and waited for."""
    fake_api.polls_before_end = 20
    evidence = evidence_set(8)
    look = BatchRunner.settle
    other_job: list[threading.Thread] = []
    our_looks = []

    def look_then_let_the_other_job_register(runner, keys):
        failures = look(runner, keys)
        if threading.current_thread() is threading.main_thread():
            our_looks.append(keys)
        # the look that `run` takes right before registering (the first is `answer`'s)
        if len(our_looks) == 2 and not other_job:
            other_job.append(
                threading.Thread(
                    target=lambda: labeller(fake_api, tmp_path, batch_min_requests=2).label(
                        evidence[3:]
                    )
                )
            )
            other_job[0].start()
            deadline = time.monotonic() + 60
            while not list((tmp_path / "batches").glob("*.json")):
                assert time.monotonic() < deadline, "the other job never registered its batch"
                time.sleep(0.01)
        return failures

    monkeypatch.setattr(BatchRunner, "settle", look_then_let_the_other_job_register)
    labels, _ = labeller(fake_api, tmp_path, batch_min_requests=2).label(evidence[:5])
    other_job[0].join(timeout=120)
    assert all_ok(labels)
    assert len(fake_api.batch_submissions) == 8
    assert set(fake_api.batch_submissions.values()) == {1}


def test_failed_items_are_handled_by_error_type(fake_api, tmp_path):
    evidence = evidence_set(6)
    keys = [labeller(fake_api, tmp_path / "probe").label([e])[0][0].cache_keys[0] for e in evidence]
    fake_api.message_calls = 0
    fake_api.errored_custom_ids = set(keys[:3])

    fake_api.item_error = "invalid_request_error"
    labels, usage = labeller(fake_api, tmp_path / "a", batch_min_requests=2).label(evidence)
    assert [label.status for label in labels] == [PARSE_FAILED] * 3 + [OK] * 3
    assert "invalid_request_error" in labels[0].error
    assert fake_api.message_calls == 0 and len(fake_api.batches) == 1
    assert usage["unanswered"]["api_error"] == 3

    fake_api.item_error = "overloaded_error"
    fake_api.errored_custom_ids = set(keys[:3])
    fake_api.batches.clear()
    fake_api.batch_submissions.clear()
    original = fake_api._results

    def errored_once(batch_id):
        body = original(batch_id)
        fake_api.errored_custom_ids = set()
        return body

    fake_api._results = errored_once
    labels, _ = labeller(fake_api, tmp_path / "b", batch_min_requests=2).label(evidence)
    assert all_ok(labels)
    assert fake_api.message_calls == 0 and len(fake_api.batches) == 2
    assert [fake_api.batch_submissions[k] for k in keys] == [2, 2, 2, 1, 1, 1]


def test_batches_are_split_below_the_size_limits(fake_api, tmp_path):
    fake_api.max_batch_requests = 2
    evidence = evidence_set(5)
    run = labeller(fake_api, tmp_path, batch_min_requests=2)
    run.runner.batches.limits = BatchLimits(max_requests=2)
    labels, _ = run.label(evidence)
    assert all_ok(labels)
    assert len(fake_api.batches) == 3
    assert set(fake_api.batch_submissions.values()) == {1}


def test_split_respects_the_byte_limit():
    requests = [make_request({"text": "x" * 100, "n": i}, "v1") for i in range(6)]
    groups = split_into_batches(requests, BatchLimits(max_requests=10, max_bytes=500))
    assert [len(g) for g in groups] == [2, 2, 2]
    assert [r for g in groups for r in g] == requests
    with pytest.raises(ValueError, match="over the batch limit"):
        split_into_batches(requests, BatchLimits(max_requests=10, max_bytes=100))


@pytest.mark.parametrize("stop_reason", ["refusal", "max_tokens"])
def test_a_refusal_or_a_cut_off_answer_is_counted_not_parsed(fake_api, tmp_path, stop_reason):
    fake_api.message_faults.append((stop_reason,))
    labels, usage = labeller(fake_api, tmp_path).label(evidence_set(2))
    assert [label.status for label in labels] == [PARSE_FAILED, OK]
    assert f"stop_reason {stop_reason}" in labels[0].error
    assert len(labels[0].cache_keys) == 1 and fake_api.message_calls == 2
    assert usage["unanswered"][stop_reason] == 1


def test_a_rejected_request_is_reported_not_retried(fake_api, tmp_path):
    fake_api.message_faults.append((400,))
    labels, usage = labeller(fake_api, tmp_path).label(evidence_set(2))
    assert [label.status for label in labels] == [PARSE_FAILED, OK]
    assert fake_api.message_calls == 2
    assert usage["unanswered"]["api_error"] == 1


def test_sampling_parameters_are_left_out_for_models_that_reject_them():
    content = [{"type": "text", "text": "evidence"}]
    keeps = request_params(
        RequestSettings("claude-sonnet-4-6", 400, 0.0), "x", content, LABEL_SCHEMA
    )
    drops = request_params(RequestSettings("claude-sonnet-5", 400, 0.0), "x", content, LABEL_SCHEMA)
    assert keeps["temperature"] == 0.0 and "temperature" not in drops


def test_retired_and_unknown_models_are_refused_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "x")
    assert "claude-sonnet-4-5" not in MODELS
    params = api_params(type("F", (), {"base_url": None})) | {"model": "claude-sonnet-4-5"}
    with pytest.raises(ValueError, match="claude-sonnet-4-5.*model table"):
        make_labeller("anthropic", {}, params, str(tmp_path))


def test_a_cache_breakpoint_only_where_the_prefix_can_be_cached(fake_api, tmp_path):
    short = request_params(
        RequestSettings("claude-sonnet-4-6", 400, 0.0), LABEL_INSTRUCTIONS, [], LABEL_SCHEMA
    )
    assert "cache_control" not in short["system"][0]

    long_text = LABEL_INSTRUCTIONS + "\n" + "Reference: the liver lies below the diaphragm. " * 120
    assert len(long_text) // 4 >= model_info("claude-sonnet-4-6").min_cache_tokens
    long = request_params(
        RequestSettings("claude-sonnet-4-6", 400, 0.0), long_text, [], LABEL_SCHEMA
    )
    assert long["system"][0]["cache_control"] == {"type": "ephemeral"}
    haiku = request_params(
        RequestSettings("claude-haiku-4-5", 400, 0.0), long_text, [], LABEL_SCHEMA
    )
    assert "cache_control" not in haiku["system"][0]

    message = [{"role": "user", "content": [{"type": "text", "text": "evidence"}]}]
    marked_short = short | {"messages": message}
    marked_short["system"] = [short["system"][0] | {"cache_control": {"type": "ephemeral"}}]
    for _ in range(2):
        usage = fake_api.message(marked_short)["usage"]
    assert usage["cache_read_input_tokens"] == 0 and usage["cache_creation_input_tokens"] == 0
    first = fake_api.message(long | {"messages": message})["usage"]
    second = fake_api.message(long | {"messages": message})["usage"]
    assert first["cache_creation_input_tokens"] > 0 and second["cache_read_input_tokens"] > 0
