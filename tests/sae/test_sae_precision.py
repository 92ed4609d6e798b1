"""The bf16 encoder path against fp32: same selections up to rounding, same training outcome."""

import pytest
import torch
import torch.nn.functional as F

from sail_core.io import read_json
from sail_core.sae import TrainConfig, train_sae
from sail_core.sae.config import parse_sae_name
from sail_core.sae.losses import unexplained_variance
from sail_core.sae.model import MatryoshkaSAE
from sail_core.sae.sparse import sparse_decode, stack_blocks
from sail_core.sae.trainer import Trainer

from .test_sae_training import FAST, SPLITS, planted


def _pair(name: str, d: int = 64):
    fp32 = MatryoshkaSAE(parse_sae_name(name), d)
    fp32.reset_parameters(torch.Generator().manual_seed(0))
    bf16 = MatryoshkaSAE(parse_sae_name(name), d)
    bf16.load_state_dict(fp32.state_dict())
    bf16.bf16_compute = True
    x = F.normalize(torch.randn(256, d, generator=torch.Generator().manual_seed(1)), dim=1)
    return fp32, bf16, x


@pytest.mark.parametrize("name", ["D32-128_K4-8", "D32-128_K8"])
def test_bf16_step_selects_and_reconstructs_like_fp32(name):
    fp32, bf16, x = _pair(name)
    exact, half = fp32.forward_train(x), bf16.forward_train(x)
    assert half.pre.dtype == torch.bfloat16 and half.recon.dtype == torch.float32
    # entries near the selection threshold may swap under bf16 rounding; what is kept must be
    # as large, in exact arithmetic, as the exact choice up to that rounding
    pre = exact.pre.flatten()
    assert half.code.flat.numel() == exact.code.flat.numel()
    kept, best = pre[half.code.flat].sum(), pre[exact.code.flat].sum()
    assert best >= kept >= best * (1 - 2**-8)
    torch.testing.assert_close(
        unexplained_variance(x, half.recon), unexplained_variance(x, exact.recon), rtol=0.02, atol=0
    )


def test_bf16_training_keeps_fp32_weights_gradients_and_optimiser_state(tmp_path):
    _, model, x = _pair("D32-128_K4-8")
    config = TrainConfig(batch_size=128, warmup_steps=0, epochs=1, checkpoint_every=1000)
    trainer = Trainer(model, _Rows(x), None, config, tmp_path, "bf16")
    trainer.step(x[:128], 0)
    for parameter in model.parameters():
        assert parameter.dtype == torch.float32
        state = trainer.optimizer.state[parameter]
        assert state["exp_avg"].dtype == state["exp_avg_sq"].dtype == torch.float32
    assert model.preacts(x).dtype == torch.float32
    assert model.encode(x).dtype == torch.float32


class _Rows:
    def __init__(self, data):
        self.data, self.n_rows = data, data.shape[0]


def test_bf16_training_matches_fp32_fvu_and_calibration(tmp_path):
    x, _ = planted(3000, 32, 32, 3, seed=0)
    outcomes = {}
    for precision in ("fp32", "bf16"):
        config = TrainConfig(epochs=10, input_norm="l2", precision=precision, **FAST)
        outcomes[precision] = train_sae(
            x, SPLITS, "D16-64_K2-4", config, tmp_path / precision, source="planted"
        )
    fvu = {p: m["val"]["overall"]["fvu"] for p, m in outcomes.items()}
    assert fvu["bf16"] == pytest.approx(fvu["fp32"], rel=0.01)
    assert outcomes["bf16"]["calibration"]["within_tolerance"]


def test_precision_accepts_auto():
    assert TrainConfig(precision="auto").precision == "auto"
    with pytest.raises(ValueError, match="sae.precision"):
        TrainConfig(precision="fp16")


@pytest.mark.parametrize("fast_bf16, expected", [(True, "bf16"), (False, "fp32")])
def test_auto_precision_follows_the_hardware(tmp_path, monkeypatch, fast_bf16, expected):
    monkeypatch.setattr("sail_core.embed.precision.cpu_has_fast_bf16", lambda: fast_bf16)
    x, _ = planted(3000, 16, 16, 2, seed=0)
    config = TrainConfig(epochs=1, precision="auto", device="cpu", **FAST)
    train_sae(x, SPLITS, "D8-32_K2-4", config, tmp_path, source="planted")
    assert read_json(tmp_path / "config.json")["precision_resolved"] == expected


def test_bf16_sparse_decode_rounds_its_operands_and_returns_fp32():
    generator = torch.Generator().manual_seed(0)
    flat = torch.randperm(64 * 40, generator=generator)[:300].sort().values
    code = stack_blocks([flat, flat[::2]], 64, 40)
    values = torch.rand(code.flat.numel(), generator=generator, requires_grad=True)
    w_dec = torch.randn(40, 32, generator=generator, requires_grad=True)
    upstream = torch.randn(2, 64, 32, generator=generator)
    half = sparse_decode(values, w_dec, code, torch.bfloat16)
    half.backward(upstream)
    assert half.dtype == w_dec.grad.dtype == values.grad.dtype == torch.float32
    rounded_values = values.detach().bfloat16().float().requires_grad_()
    rounded_w = w_dec.detach().bfloat16().float().requires_grad_()
    reference = sparse_decode(rounded_values, rounded_w, code)
    reference.backward(upstream.bfloat16().float())
    torch.testing.assert_close(half, reference, rtol=2**-7, atol=1e-3)
    torch.testing.assert_close(w_dec.grad, rounded_w.grad, rtol=2**-7, atol=1e-3)
    assert not torch.equal(half, sparse_decode(values, w_dec, code))
