import torch

from sail_core.sae.calibrate import calibrate_threshold
from sail_core.sae.config import parse_sae_name
from sail_core.sae.model import MatryoshkaSAE


def _batches(x: torch.Tensor, size: int):
    return (x[i : i + size] for i in range(0, x.shape[0], size))


def test_calibrated_jumprelu_l0_matches_k_on_held_out_rows():
    torch.manual_seed(0)
    model = MatryoshkaSAE(parse_sae_name("D64-256_K6-12"), 32)
    calibration, held_out = torch.randn(3000, 32), torch.randn(3000, 32)
    theta = calibrate_threshold(model, _batches(calibration, 256), 3000, k=12)
    model.threshold.fill_(theta)
    assert theta > 0
    exact = (model.encode(calibration) != 0).sum(dim=1).float().mean().item()
    held = (model.encode(held_out) != 0).sum(dim=1).float().mean().item()
    assert abs(exact - 12) < 1e-3
    assert abs(held - 12) <= 0.05 * 12


def test_threshold_is_zero_when_too_few_activations_are_positive():
    model = MatryoshkaSAE(parse_sae_name("D8_K4"), 4)
    with torch.no_grad():
        model.b_enc.fill_(-100.0)
    assert calibrate_threshold(model, _batches(torch.randn(20, 4), 8), 20, k=4) == 0.0
