import pytest
import torch

from sail_core.sae.auxk import DeadLatentTracker, auxk_loss
from sail_core.sae.config import parse_sae_name
from sail_core.sae.model import MatryoshkaSAE


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    model = MatryoshkaSAE(parse_sae_name("D16-64_K4-8"), 12).double()
    x = torch.randn(32, 12, dtype=torch.float64)
    out = model.forward_train(x)
    return model, x, out


def test_auxk_is_zero_without_dead_latents():
    model, x, out = _setup()
    dead = torch.zeros(64, dtype=torch.bool)
    loss = auxk_loss(model, x, out.pre, x - out.recon[-1], dead, k_aux=6)
    assert loss.item() == 0.0


def test_auxk_trains_only_dead_latents():
    model, x, out = _setup()
    dead = torch.zeros(64, dtype=torch.bool)
    dead[[3, 17, 40, 41, 63]] = True
    loss = auxk_loss(model, x, out.pre, x - out.recon[-1], dead, k_aux=4)
    assert loss.item() > 0
    loss.backward()
    for grad in (model.W_enc.grad, model.W_dec.grad, model.b_enc.grad):
        assert grad[~dead].abs().max() == 0
        assert grad[dead].abs().sum() > 0
    assert model.b_dec.grad is None or model.b_dec.grad.abs().max() == 0


def test_auxk_scale_is_min_of_dead_over_k_aux_and_one():
    model, x, out = _setup()
    residual = (x - out.recon[-1]).detach()
    dead = torch.zeros(64, dtype=torch.bool)
    dead[:3] = True
    small = auxk_loss(model, x, out.pre, residual, dead, k_aux=3)
    scaled = auxk_loss(model, x, out.pre, residual, dead, k_aux=6)
    # with 3 dead latents both select all of them; only the scale differs (3/6 vs 1)
    assert scaled.item() == pytest.approx(0.5 * small.item())


def test_dead_tracker_counts_samples_since_last_fire():
    tracker = DeadLatentTracker(5, window=100)
    tracker.update(torch.tensor([0, 1, 1]), 60)
    assert not tracker.dead_mask().any()
    tracker.update(torch.tensor([0]), 60)
    assert tracker.dead_mask().tolist() == [False, False, True, True, True]
    restored = DeadLatentTracker(5, window=1)
    restored.load_state_dict(tracker.state_dict())
    assert torch.equal(restored.dead_mask(), tracker.dead_mask())
