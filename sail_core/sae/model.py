"""Matryoshka BatchTopK sparse autoencoder.

Layout: W_enc (D, d) and W_dec (D, d) are untied; row j of W_dec is latent j's dictionary
atom (unit norm during training). b_dec is subtracted before encoding and added after
decoding: pre = W_enc (x - b_dec) + b_enc, x_hat = z W_dec + b_dec.

Training (`forward_train`): ReLU, then top-k selection, then a sparse decode.
- `nested_k` (the study's form): block ℓ = its own BatchTopK with budget kℓ·B on the prefix
  [0, Dℓ); reconstruction ℓ decodes block ℓ alone.
- `global` (reference form): one BatchTopK over all D latents; block ℓ = the selected entries of
  latents in [Dℓ-1, Dℓ); reconstruction ℓ = the sum of blocks 0..ℓ (incremental prefix decode).
`selection="sample"` replaces BatchTopK by a per-sample TopK with the same budgets.

Precision (`bf16_compute`): the encoder GEMM, the selection and the sparse decode and weight
gradients run in bf16; weights, gradients and Adam state stay fp32 (the sampled product for the
code values stays fp32: the CPU kernel has no bf16 version).

Inference (`encode`): JumpReLU z = pre · 1[pre > θ] with one calibrated θ; the prefix [0, Dℓ)
of that code is level ℓ's code.

Input normalisation (`input_norm`): `l2` scales each row to unit norm (the study); it is
per-row, so it stays a step of `encode` and `decode` returns the unit-norm reconstruction.
`center_scale` subtracts the train mean and multiplies by one scalar so that E||x||² = d;
`fold_normalisation()` moves it into the weights (codes unchanged, decoder rows then have norm
1/scale) so the exported model maps raw embeddings to raw reconstructions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sail_core.sae.config import SaeSpec
from sail_core.sae.sparse import (
    StackedCode,
    batch_topk,
    gather_preacts,
    sample_topk,
    sparse_decode,
    split_by_prefix,
    stack_blocks,
)


@dataclass
class TrainForward:
    """One training forward pass: per-level reconstructions (L, B, d) and what produced them."""

    recon: Tensor
    code: StackedCode
    pre: Tensor


class MatryoshkaSAE(nn.Module):
    def __init__(
        self, spec: SaeSpec, d_in: int, selection: str = "batch", input_norm: str = "none"
    ) -> None:
        super().__init__()
        self.spec = spec
        self.d_in = d_in
        self.selection = selection
        self.input_norm = input_norm
        self.bf16_compute = False
        n = spec.n_latents
        self.W_enc = nn.Parameter(torch.empty(n, d_in))
        self.b_enc = nn.Parameter(torch.zeros(n))
        self.W_dec = nn.Parameter(torch.empty(n, d_in))
        self.b_dec = nn.Parameter(torch.zeros(d_in))
        self.register_buffer("threshold", torch.zeros(()))
        self.register_buffer("input_mean", torch.zeros(d_in))
        self.register_buffer("input_scale", torch.ones(()))
        self.reset_parameters()

    @property
    def n_latents(self) -> int:
        return self.spec.n_latents

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Random unit-norm decoder rows, W_enc = W_dec, zero biases."""
        with torch.no_grad():
            atoms = torch.randn(self.W_dec.shape, generator=generator)
            atoms /= atoms.norm(dim=1, keepdim=True)
            self.W_dec.copy_(atoms)
            self.W_enc.copy_(atoms)
            self.b_enc.zero_()
            self.b_dec.zero_()

    # input normalisation -------------------------------------------------------------------
    def set_input_normalisation(self, mean: Tensor, scale: float) -> None:
        self.input_mean.copy_(mean)
        self.input_scale.fill_(scale)

    def normalise(self, x: Tensor) -> Tensor:
        if self.input_norm == "l2":
            return F.normalize(x, dim=1)
        if self.input_norm == "center_scale":
            return (x - self.input_mean) * self.input_scale
        return x

    def denormalise(self, y: Tensor) -> Tensor:
        if self.input_norm == "center_scale":
            return y / self.input_scale + self.input_mean
        return y

    @torch.no_grad()
    def fold_normalisation(self) -> MatryoshkaSAE:
        """Fold `center_scale` into the weights (in place); `l2` and `none` stay as they are."""
        if self.input_norm != "center_scale":
            return self
        scale = self.input_scale.clone()
        self.W_enc.mul_(scale)
        self.W_dec.div_(scale)
        self.b_dec.copy_(self.b_dec / scale + self.input_mean)
        self.input_mean.zero_()
        self.input_scale.fill_(1.0)
        self.input_norm = "none"
        return self

    # training ------------------------------------------------------------------------------
    def preacts(self, x: Tensor) -> Tensor:
        """pre = W_enc (x - b_dec) + b_enc for model-space inputs, without autograd."""
        return self.compute_preacts(x).to(x.dtype)

    @property
    def compute_dtype(self) -> torch.dtype:
        """Precision of the training step's products (the encoder GEMM and the sparse
        products); weights, gradients and optimiser state stay in the weights' precision."""
        return torch.bfloat16 if self.bf16_compute else self.W_enc.dtype

    def compute_preacts(self, x: Tensor) -> Tensor:
        """`preacts` in `compute_dtype`: training selects on these directly, so the whole
        (B, D) matrix is never widened to fp32."""
        with torch.no_grad():
            centred = x - self.b_dec
            if not self.bf16_compute:
                return torch.addmm(self.b_enc, centred, self.W_enc.T)
            low = self.compute_dtype
            return torch.addmm(self.b_enc.to(low), centred.to(low), self.W_enc.to(low).T)

    def select(self, pre: Tensor) -> StackedCode:
        pick = batch_topk if self.selection == "batch" else sample_topk
        spec = self.spec
        if spec.variant == "nested_k":
            blocks = [pick(pre, w, k) for w, k in zip(spec.widths, spec.ks, strict=True)]
        else:
            code = pick(pre, spec.n_latents, spec.ks[0])
            blocks = split_by_prefix(code, spec.widths, spec.n_latents)
        return stack_blocks(blocks, pre.shape[0], spec.n_latents)

    def decode_code(self, x: Tensor, pre: Tensor, code: StackedCode, cumulative: bool) -> Tensor:
        """Reconstructions (L, B, d) of the blocks of `code`, with gradients to the weights.

        `cumulative`: reconstruction ℓ sums blocks 0..ℓ (prefix codes) instead of block ℓ alone.
        """
        low = self.compute_dtype
        values = gather_preacts(x, self.W_enc, self.b_enc, self.b_dec, pre, code, low)
        parts = sparse_decode(values, self.W_dec, code, low)
        if cumulative:
            parts = parts.cumsum(0)
        return parts + self.b_dec

    def forward_train(self, x: Tensor) -> TrainForward:
        """Model-space input (B, d) -> per-level reconstructions under top-k selection."""
        pre = self.compute_preacts(x)
        code = self.select(pre)
        recon = self.decode_code(x, pre, code, cumulative=self.spec.variant == "global")
        return TrainForward(recon, code, pre)

    def inference_code(self, pre: Tensor) -> StackedCode:
        """The JumpReLU code of `pre`, split into the prefix blocks of the levels."""
        flat = (pre > self.threshold).flatten().nonzero().squeeze(1)
        blocks = split_by_prefix(flat, self.spec.widths, self.n_latents)
        return stack_blocks(blocks, pre.shape[0], self.n_latents)

    @torch.no_grad()
    def normalise_decoder(self) -> None:
        self.W_dec /= self.W_dec.norm(dim=1, keepdim=True)

    @torch.no_grad()
    def remove_parallel_decoder_grad(self) -> None:
        """Drop the gradient component along each (unit-norm) decoder row."""
        grad = self.W_dec.grad
        if grad is not None:
            along = torch.linalg.vecdot(grad, self.W_dec).unsqueeze(1)
            grad.addcmul_(along, self.W_dec, value=-1.0)

    # inference -----------------------------------------------------------------------------
    def encode(self, x: Tensor) -> Tensor:
        """Raw inputs (B, d) -> JumpReLU codes (B, D)."""
        pre = self.preacts(self.normalise(x))
        return pre * (pre > self.threshold)

    def encode_sparse(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Raw inputs (B, d) -> JumpReLU codes as CSR parts (indptr, indices, values)."""
        pre = self.preacts(self.normalise(x))
        active = pre > self.threshold
        indptr = torch.zeros(x.shape[0] + 1, dtype=torch.int64, device=x.device)
        indptr[1:] = active.sum(dim=1).cumsum(0)
        return indptr, active.nonzero(as_tuple=True)[1], pre[active]

    def decode(self, codes: Tensor) -> Tensor:
        """Codes (B, D) (dense or torch-sparse) -> reconstructions in the input space."""
        with torch.no_grad():
            return self.denormalise(codes @ self.W_dec + self.b_dec)
