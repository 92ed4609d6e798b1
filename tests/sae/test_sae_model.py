import torch
import torch.nn.functional as F

from sail_core.sae.config import parse_sae_name
from sail_core.sae.model import MatryoshkaSAE


def _trained_like(input_norm: str, seed: int = 0) -> tuple[MatryoshkaSAE, torch.Tensor]:
    torch.manual_seed(seed)
    x = torch.randn(50, 16, dtype=torch.float64) * 3 + torch.linspace(
        -5, 5, 16, dtype=torch.float64
    )
    model = MatryoshkaSAE(parse_sae_name("D8-32_K2-4"), 16, input_norm=input_norm).double()
    mean = x.mean(dim=0)
    scale = (16 / (x - mean).pow(2).sum(dim=1).mean()).sqrt()
    model.set_input_normalisation(mean, float(scale))
    with torch.no_grad():
        model.b_dec.normal_(std=0.2)
        model.b_enc.normal_(std=0.2)
        model.threshold.fill_(0.3)
    return model, x


def test_encoder_starts_as_the_decoder_and_decoder_rows_are_unit_norm():
    model = MatryoshkaSAE(parse_sae_name("D8-32_K2-4"), 16)
    assert torch.equal(model.W_enc, model.W_dec)
    torch.testing.assert_close(model.W_dec.norm(dim=1), torch.ones(32))


def test_folding_center_scale_leaves_codes_and_reconstructions_unchanged():
    model, x = _trained_like("center_scale")
    codes = model.encode(x)
    recon = model.decode(codes)
    assert (codes != 0).any()
    model.fold_normalisation()
    assert model.input_norm == "none"
    torch.testing.assert_close(model.encode(x), codes, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(model.decode(codes), recon, rtol=1e-10, atol=1e-10)


def test_folding_keeps_l2_as_a_row_normalisation():
    model, x = _trained_like("l2")
    codes = model.encode(x)
    model.fold_normalisation()
    assert model.input_norm == "l2"
    torch.testing.assert_close(model.encode(x), codes)
    torch.testing.assert_close(model.encode(5 * x), codes)
    pre = F.normalize(x, dim=1) @ model.W_enc.T - model.b_dec @ model.W_enc.T + model.b_enc
    torch.testing.assert_close(codes, pre * (pre > 0.3))


def test_inference_is_jumprelu_not_shifted_relu():
    model, x = _trained_like("none")
    pre = model.preacts(x)
    codes = model.encode(x)
    active = pre > 0.3
    assert torch.equal(codes[active], pre[active])
    assert (codes[~active] == 0).all()
    indptr, indices, values = model.encode_sparse(x)
    dense = torch.zeros_like(codes)
    rows = torch.repeat_interleave(torch.arange(50), indptr[1:] - indptr[:-1])
    dense[rows, indices] = values
    torch.testing.assert_close(dense, codes)


def test_decoder_renormalisation_and_parallel_gradient_removal():
    model = MatryoshkaSAE(parse_sae_name("D8_K2"), 5)
    model.W_dec.grad = torch.randn(8, 5)
    model.remove_parallel_decoder_grad()
    parallel = (model.W_dec.grad * model.W_dec).sum(dim=1)
    torch.testing.assert_close(parallel, torch.zeros(8), atol=1e-6, rtol=0)
    with torch.no_grad():
        model.W_dec.mul_(3.0)
    model.normalise_decoder()
    torch.testing.assert_close(model.W_dec.norm(dim=1), torch.ones(8))
