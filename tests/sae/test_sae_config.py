import pytest

from sail_core.sae.config import SaeSpec, TrainConfig, format_sae_name, parse_sae_name


def test_nested_k_name_round_trip():
    spec = parse_sae_name("D128-512-2048-8192_K20-40-80-160")
    assert spec.widths == (128, 512, 2048, 8192)
    assert spec.ks == (20, 40, 80, 160)
    assert spec.variant == "nested_k"
    assert spec.n_latents == 8192
    assert spec.k_inference == 160
    assert spec.selection_widths == spec.widths
    assert spec.name == "D128-512-2048-8192_K20-40-80-160"


def test_single_k_with_several_widths_is_global():
    spec = parse_sae_name("D128-512-2048-8192_K160")
    assert spec.variant == "global"
    assert spec.selection_widths == (8192,)
    assert spec.k_inference == 160
    assert format_sae_name(spec.widths, spec.ks) == "D128-512-2048-8192_K160"


def test_one_level_is_plain_batchtopk():
    spec = parse_sae_name("D64_K5")
    assert spec.n_levels == 1
    assert spec.variant == "nested_k"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("D512-128_K20-40", "strictly increasing"),
        ("D128-128_K20-40", "strictly increasing"),
        ("D32-128_K40-80", "larger than its width"),
        ("D32_K64", "larger than its width"),
        ("D32-128_K300", "larger than its width"),
        ("D32-128-256_K4-8", "one k per width"),
        ("D_32_128_K_4_8", "does not read"),
        ("D32-128_K0-8", "positive"),
        ("", "does not read"),
    ],
)
def test_bad_names_are_rejected_with_the_reason(name, reason):
    with pytest.raises(ValueError, match=reason):
        parse_sae_name(name)


def test_spec_constructor_validates_too():
    with pytest.raises(ValueError, match="at least one width"):
        SaeSpec((), (1,))


def test_train_config_defaults_and_lr_rule():
    config = TrainConfig()
    assert config.learning_rate(16384) == pytest.approx(2e-4)
    assert config.learning_rate(4096) == pytest.approx(4e-4)
    assert TrainConfig(lr=1e-3).learning_rate(4096) == 1e-3


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"selection": "magic"}, "selection"),
        ({"input_norm": "zscore"}, "input_norm"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": -1.0}, "lr"),
        ({"decay_fraction": 2.0}, "decay_fraction"),
        ({"k_aux": 0}, "k_aux"),
        ({"dead_window_samples": 0}, "dead_window_samples"),
        ({"variant": "global"}, "unknown"),
    ],
)
def test_bad_training_settings_are_rejected(values, reason):
    with pytest.raises(ValueError, match=reason):
        TrainConfig.from_dict(values)
