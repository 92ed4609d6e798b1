"""The sparse training step against dense references (float64, exact up to rounding)."""

import pytest
import torch

from sail_core.sae.config import parse_sae_name
from sail_core.sae.model import MatryoshkaSAE
from sail_core.sae.sparse import (
    RADIX_KEY_LIMIT,
    batch_topk,
    gather_preacts,
    sample_topk,
    sparse_decode,
    stable_argsort,
    stack_blocks,
)


def _model(name: str, d: int = 24, seed: int = 0) -> MatryoshkaSAE:
    torch.manual_seed(seed)
    model = MatryoshkaSAE(parse_sae_name(name), d).double()
    with torch.no_grad():
        model.b_enc.normal_(std=0.1)
        model.b_dec.normal_(std=0.3)
    return model


def _selection_masks(model: MatryoshkaSAE, code, shape) -> torch.Tensor:
    """Dense (L, B, D) masks of the entries each reconstruction level uses."""
    masks = torch.zeros(code.n_blocks, *shape, dtype=torch.bool)
    block_of_entry = torch.div(code.stacked_rows, code.batch, rounding_mode="floor")
    for block in range(code.n_blocks):
        masks[block].view(-1)[code.flat[block_of_entry == block]] = True
    if model.spec.variant == "global":
        masks = masks.cumsum(0) > 0
    return masks


def _dense_reference(model, x, masks):
    pre = (x - model.b_dec) @ model.W_enc.T + model.b_enc
    return torch.stack([torch.where(m, pre, 0.0) @ model.W_dec + model.b_dec for m in masks])


def test_batch_topk_keeps_exactly_k_times_b_entries():
    pre = torch.randn(64, 300) + 2.0
    flat = batch_topk(pre, 300, 7)
    assert flat.numel() == 7 * 64
    assert torch.equal(flat, flat.sort().values)
    expected = pre.flatten().topk(7 * 64).indices.sort().values
    assert torch.equal(flat, expected)


def test_batch_topk_stays_exact_when_the_sampled_floor_is_too_high():
    # the row sample (every other row) sees only the large rows, so its floor keeps too few
    generator = torch.Generator().manual_seed(0)
    pre = torch.rand(1024, 1024, generator=generator)
    pre[::2] += 10.0
    flat = batch_topk(pre, 1024, 700)
    assert torch.equal(flat, pre.flatten().topk(700 * 1024).indices.sort().values)


def test_batch_topk_on_a_prefix_indexes_the_full_matrix():
    pre = torch.randn(32, 100)
    flat = batch_topk(pre, 40, 3)
    cols = flat % 100
    assert cols.max() < 40
    expected = pre[:, :40].flatten().topk(3 * 32).values.sort().values
    assert torch.equal(pre.flatten()[flat].sort().values, expected)


def test_relu_comes_before_top_k():
    pre = -torch.rand(16, 50)
    pre[3, 7] = 0.5
    pre[9, 1] = 0.2
    flat = batch_topk(pre, 50, 4)
    assert sorted(flat.tolist()) == [3 * 50 + 7, 9 * 50 + 1]
    assert sample_topk(pre, 50, 4).tolist() == [3 * 50 + 7, 9 * 50 + 1]


def test_sample_topk_keeps_k_per_row():
    pre = torch.rand(10, 30) + 0.1
    flat = sample_topk(pre, 30, 5)
    rows = flat // 30
    assert torch.equal(torch.bincount(rows, minlength=10), torch.full((10,), 5))
    expected = pre.topk(5, dim=1).indices.sort(dim=1).values
    assert torch.equal((flat % 30).view(10, 5), expected)


@pytest.mark.parametrize("name", ["D16-48_K3-6", "D8-16-48_K2-3-6", "D16-48_K6", "D48_K5"])
@pytest.mark.parametrize("selection", ["batch", "sample"])
def test_sparse_step_equals_dense_reference(name, selection):
    model = _model(name)
    model.selection = selection
    x = torch.randn(40, 24, dtype=torch.float64)
    weights = torch.arange(1.0, model.spec.n_levels + 1, dtype=torch.float64).view(-1, 1, 1)

    out = model.forward_train(x)
    (weights * (out.recon - x).pow(2)).sum().backward()
    sparse_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()

    masks = _selection_masks(model, out.code, (40, model.n_latents))
    reference = _dense_reference(model, x, masks)
    (weights * (reference - x).pow(2)).sum().backward()

    torch.testing.assert_close(out.recon, reference, rtol=1e-10, atol=1e-10)
    for name_, param in model.named_parameters():
        torch.testing.assert_close(sparse_grads[name_], param.grad, rtol=1e-9, atol=1e-9)


def test_encoder_gradient_is_zero_outside_the_selection():
    model = _model("D16-48_K2-4")
    x = torch.randn(20, 24, dtype=torch.float64)
    out = model.forward_train(x)
    out.recon.pow(2).sum().backward()
    selected = torch.zeros(model.n_latents, dtype=torch.bool)
    selected[out.code.col] = True
    assert model.W_enc.grad[~selected].abs().max() == 0
    assert model.b_enc.grad[~selected].abs().max() == 0
    assert model.W_enc.grad[selected].abs().sum(dim=1).min() > 0


def test_one_level_matryoshka_equals_plain_batchtopk():
    nested = _model("D48_K5", seed=3)
    global_ = _model("D16-48_K5", seed=3)
    x = torch.randn(30, 24, dtype=torch.float64)
    pre = (x - nested.b_dec) @ nested.W_enc.T + nested.b_enc
    keep = torch.zeros(pre.numel(), dtype=torch.bool)
    keep[pre.relu().flatten().topk(5 * 30).indices] = True
    plain = torch.where(keep.view_as(pre), pre, 0.0) @ nested.W_dec + nested.b_dec
    torch.testing.assert_close(nested.forward_train(x).recon[0], plain, rtol=1e-12, atol=1e-12)
    # the global variant's full-width reconstruction is the same plain BatchTopK decode
    torch.testing.assert_close(global_.forward_train(x).recon[-1], plain, rtol=1e-12, atol=1e-12)


def test_full_width_prefix_decode_equals_plain_decode():
    model = _model("D8-16-48_K6")
    x = torch.randn(25, 24, dtype=torch.float64)
    pre = model.preacts(x)
    flat = batch_topk(pre, model.n_latents, 6)
    code = torch.zeros(pre.numel(), dtype=torch.float64)
    code[flat] = pre.flatten()[flat]
    plain = code.view_as(pre) @ model.W_dec + model.b_dec
    recon = model.forward_train(x).recon
    torch.testing.assert_close(recon[-1], plain, rtol=1e-12, atol=1e-12)
    # and each prefix adds exactly the latents of its block
    first = torch.where(torch.arange(48) < 8, code.view_as(pre), 0.0) @ model.W_dec + model.b_dec
    torch.testing.assert_close(recon[0], first, rtol=1e-12, atol=1e-12)


def test_repeated_entries_across_blocks_sum_their_gradients():
    torch.manual_seed(1)
    x = torch.randn(6, 5, dtype=torch.float64)
    w_enc = torch.randn(9, 5, dtype=torch.float64, requires_grad=True)
    b_enc = torch.zeros(9, dtype=torch.float64, requires_grad=True)
    b_dec = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    w_dec = torch.randn(9, 5, dtype=torch.float64, requires_grad=True)
    pre = (x @ w_enc.T).detach()
    block = torch.tensor([1, 4, 9 + 2, 5 * 9 + 8])
    code = stack_blocks([block, block], 6, 9)
    values = gather_preacts(x, w_enc, b_enc, b_dec, pre, code)
    sparse_decode(values, w_dec, code).sum().backward()
    sparse_grad = w_enc.grad.clone()
    w_enc.grad = None
    mask = torch.zeros(54, dtype=torch.float64)
    mask[block] = 2.0
    ((x @ w_enc.T) * mask.view(6, 9) @ w_dec).sum().backward()
    torch.testing.assert_close(sparse_grad, w_enc.grad)


@pytest.mark.parametrize("n_keys", [7, RADIX_KEY_LIMIT, RADIX_KEY_LIMIT + 1])
def test_stable_argsort_keeps_the_order_of_equal_keys(n_keys):
    keys = torch.randint(0, n_keys, (5000,), generator=torch.Generator().manual_seed(0))
    keys[:3] = n_keys - 1
    assert torch.equal(stable_argsort(keys, n_keys), torch.sort(keys, stable=True).indices)
