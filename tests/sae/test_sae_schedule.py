import pytest

from sail_core.sae.config import TrainConfig
from sail_core.sae.trainer import learning_rate_at


def test_warm_up_is_linear_and_capped_at_a_tenth_of_the_run():
    config = TrainConfig(warmup_steps=1000, schedule="constant")
    assert learning_rate_at(0, 100, 1.0, config) == pytest.approx(0.1)
    assert learning_rate_at(9, 100, 1.0, config) == pytest.approx(1.0)
    assert learning_rate_at(50, 100, 1.0, config) == 1.0


def test_cosine_decays_to_the_floor():
    config = TrainConfig(warmup_steps=0, schedule="cosine", min_lr_ratio=0.1)
    assert learning_rate_at(0, 100, 2.0, config) == pytest.approx(2.0)
    assert learning_rate_at(50, 100, 2.0, config) == pytest.approx(0.2 + 1.8 * 0.5)
    assert learning_rate_at(100, 100, 2.0, config) == pytest.approx(0.2)


def test_linear_schedule_is_constant_then_decays_over_the_last_fraction():
    config = TrainConfig(warmup_steps=0, schedule="linear", decay_fraction=0.2)
    assert learning_rate_at(79, 100, 1.0, config) == 1.0
    assert learning_rate_at(90, 100, 1.0, config) == pytest.approx(0.5)
    assert learning_rate_at(100, 100, 1.0, config) == pytest.approx(0.0)
