"""Sparse pieces of the training step: top-k selection, sparse encoder gradient, sparse decode.

The step costs one dense GEMM (the pre-activations). Everything after it touches only the
selected entries:
- the selected entries of one batch are held as a `StackedCode`: L blocks of B rows each
  (block ℓ = the entries feeding reconstruction term ℓ) in CSR layout over (L·B, D);
- `gather_preacts` reads the selected pre-activations; its backward gives W_enc and b_enc a
  gradient only at the selected latents (a sparse-transposed x dense product);
- `sparse_decode` multiplies the stacked code with W_dec; its backward is a sampled
  dense-dense product for the code values and a sparse-transposed x dense product for W_dec.
Both weight gradients are latent-major products over the same entries, so the one sort of the
entries by latent is done once per step and shared.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

SAMPLE_VALUES = 1 << 19
CANDIDATE_MARGIN = 1.25
# numpy's stable argsort is a radix sort for keys of at most 16 bits: linear time, over ten
# times faster on CPU than torch.sort for the hundreds of thousands of entries of one step
RADIX_KEY_LIMIT = 1 << 16


def _csr(crow: Tensor, col: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        return torch.sparse_csr_tensor(crow, col, values, shape, check_invariants=False)


def csr_matmul(crow: Tensor, col: Tensor, values: Tensor, dense: Tensor) -> Tensor:
    """(CSR matrix with row pointers `crow`) @ dense.

    Each CSR row is a weighted bag of dense rows, so this is an embedding bag per row (a
    faster kernel on CPU than the generic sparse-dense product, and available on GPU).
    """
    return F.embedding_bag(
        col, dense, crow, mode="sum", per_sample_weights=values, include_last_offset=True
    )


def sampled_dot(crow: Tensor, col: Tensor, n_rows: int, left: Tensor, right: Tensor) -> Tensor:
    """For every stored entry (r, c): left[r] · right[c], in CSR order."""
    pattern = _csr(crow, col, torch.zeros_like(col, dtype=left.dtype), (n_rows, right.shape[0]))
    return torch.sparse.sampled_addmm(pattern, left, right.T, beta=0.0).values()


def stable_argsort(keys: Tensor, n_keys: int) -> Tensor:
    """Stable argsort of integer keys in [0, n_keys) (a radix sort on CPU for small ranges)."""
    if keys.device.type != "cpu" or n_keys > RADIX_KEY_LIMIT:
        return torch.sort(keys, stable=True).indices
    order = np.argsort(keys.numpy().astype(np.uint16), kind="stable")
    return torch.from_numpy(order).to(torch.int64)


def _row_pointers(row_of_entry: Tensor, n_rows: int) -> Tensor:
    """CSR row pointers of entries sorted by row."""
    crow = torch.zeros(n_rows + 1, dtype=torch.int64, device=row_of_entry.device)
    crow[1:] = torch.cumsum(torch.bincount(row_of_entry, minlength=n_rows), 0)
    return crow


@dataclass
class StackedCode:
    """Selected entries of a (B, D) pre-activation matrix, as L stacked blocks in CSR order.

    `flat[e]` indexes pre.flatten() (b·D + j); stacked row ℓ·B + b holds block ℓ's entries of
    sample b, and `crow` / `col` are the CSR structure of the (L·B, D) stacked matrix.
    """

    flat: Tensor
    stacked_rows: Tensor
    col: Tensor
    crow: Tensor
    n_blocks: int
    batch: int
    n_latents: int
    _by_latent: tuple[Tensor, Tensor] | None = field(default=None, repr=False)

    @property
    def n_rows(self) -> int:
        return self.n_blocks * self.batch

    def by_latent(self) -> tuple[Tensor, Tensor]:
        """The entries in latent-major order (permutation, row pointers over the D latents),
        computed once and shared by the decoder and encoder weight gradients."""
        if self._by_latent is None:
            perm = stable_argsort(self.col, self.n_latents)
            self._by_latent = perm, _row_pointers(self.col[perm], self.n_latents)
        return self._by_latent

    def transposed_matmul(self, values: Tensor, dense: Tensor) -> Tensor:
        """code(values)^T @ dense: (D, L·B) x (L·B, d) -> (D, d)."""
        perm, crow = self.by_latent()
        return csr_matmul(crow, self.stacked_rows[perm], values[perm], dense)

    def summed_transposed_matmul(self, values: Tensor, dense: Tensor) -> Tensor:
        """(sum over blocks of code(values))^T @ dense: (D, B) x (B, d) -> (D, d).

        Every block's entry reads its sample's row of `dense` directly, so no (L·B, d) copy of
        the dense operand is needed and the latent-major order of `transposed_matmul` is reused.
        """
        perm, crow = self.by_latent()
        return csr_matmul(crow, self.stacked_rows[perm] % self.batch, values[perm], dense)


def stack_blocks(blocks: list[Tensor], batch: int, n_latents: int) -> StackedCode:
    """Build a StackedCode from per-block flat indices, each sorted ascending."""
    flat = torch.cat(blocks)
    device = flat.device
    block_of = torch.repeat_interleave(
        torch.arange(len(blocks), device=device),
        torch.tensor([b.numel() for b in blocks], device=device),
    )
    rows = torch.div(flat, n_latents, rounding_mode="floor")
    stacked_rows = rows + block_of * batch
    crow = _row_pointers(stacked_rows, len(blocks) * batch)
    return StackedCode(
        flat, stacked_rows, flat - rows * n_latents, crow, len(blocks), batch, n_latents
    )


def split_by_prefix(flat: Tensor, widths: tuple[int, ...], n_latents: int) -> list[Tensor]:
    """Split one sorted code into the blocks of latents [w_{ℓ-1}, w_ℓ) (order kept)."""
    cols = flat % n_latents
    bounds = (0, *widths)
    return [flat[(cols >= lo) & (cols < hi)] for lo, hi in zip(bounds, bounds[1:], strict=False)]


def _candidate_floor(block: Tensor, budget: int) -> Tensor:
    """A value below the budget-th largest entry of `block` (estimated on a row sample)."""
    n_rows, width = block.shape
    stride = max(1, n_rows * width // SAMPLE_VALUES)
    sample = block[::stride].flatten()
    wanted = math.ceil(CANDIDATE_MARGIN * budget * (sample.numel() / block.numel())) + 1
    if wanted >= sample.numel():
        return block.new_zeros(())
    return sample.topk(wanted, sorted=False).values.min().clamp(min=0)


def _flat_above(pre: Tensor, width: int, floor: Tensor) -> Tensor:
    """Flat indices into `pre` (ascending) of the entries of pre[:, :width] above `floor`.

    One 1-D nonzero over the block's mask, mapped back to `pre`'s row stride: cheaper than a
    2-D nonzero and the (row, column) advanced indexing it would need.
    """
    local = (pre[:, :width] > floor).view(-1).nonzero().squeeze(1)
    if width == pre.shape[1]:
        return local
    return local + torch.div(local, width, rounding_mode="floor") * (pre.shape[1] - width)


def batch_topk(pre: Tensor, width: int, k: int) -> Tensor:
    """Flat indices (ascending) of the k·B largest positive entries of pre[:, :width].

    ReLU comes first: only positive pre-activations can be selected, so fewer than k·B
    entries are returned when fewer are positive. Candidates above a sampled floor are
    ranked exactly; the floor falls back to 0 if it kept too few.
    """
    budget = k * pre.shape[0]
    floor = _candidate_floor(pre[:, :width], budget)
    flat = _flat_above(pre, width, floor)
    if floor > 0 and flat.numel() < budget:
        flat = _flat_above(pre, width, floor.new_zeros(()))
    if flat.numel() > budget:
        top = pre.reshape(-1)[flat].topk(budget, sorted=False).indices
        keep = torch.zeros(flat.numel(), dtype=torch.bool, device=pre.device)
        keep[top] = True
        flat = flat[keep]
    return flat


def sample_topk(pre: Tensor, width: int, k: int) -> Tensor:
    """Flat indices (ascending) of each row's k largest positive entries of pre[:, :width]."""
    values, cols = pre[:, :width].topk(k, dim=1, sorted=False)
    cols, order = cols.sort(dim=1)
    keep = values.gather(1, order) > 0
    rows = torch.arange(pre.shape[0], device=pre.device).unsqueeze(1).expand_as(cols)
    return (rows * pre.shape[1] + cols)[keep]


class _GatherPreacts(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w_enc, b_enc, b_dec, pre, code: StackedCode, compute_dtype):
        ctx.save_for_backward(x, b_dec, w_enc)
        ctx.code, ctx.compute_dtype = code, compute_dtype
        return pre.reshape(-1)[code.flat].to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        x, b_dec, w_enc = ctx.saved_tensors
        code: StackedCode = ctx.code
        grad_w = grad_b_enc = grad_b_dec = None
        if ctx.needs_input_grad[1]:
            low = ctx.compute_dtype
            centred = (x - b_dec).to(low)
            grad_w = code.summed_transposed_matmul(grad.to(low), centred).to(grad.dtype)
        if ctx.needs_input_grad[2] or ctx.needs_input_grad[3]:
            grad_b_enc = torch.zeros(code.n_latents, dtype=grad.dtype, device=grad.device)
            grad_b_enc.index_add_(0, code.col, grad)
        if ctx.needs_input_grad[3]:
            # b_dec is shared by all rows, so its encoder-path gradient is one vector product
            grad_b_dec = -(grad_b_enc @ w_enc)
        return None, grad_w, grad_b_enc, grad_b_dec, None, None, None


class _SparseDecode(torch.autograd.Function):
    @staticmethod
    def forward(ctx, values, w_dec, code: StackedCode, compute_dtype):
        low_values, low_w = values.to(compute_dtype), w_dec.to(compute_dtype)
        ctx.save_for_backward(low_values, w_dec)
        ctx.code, ctx.compute_dtype = code, compute_dtype
        return csr_matmul(code.crow, code.col, low_values, low_w).to(values.dtype)

    @staticmethod
    def backward(ctx, grad):
        low_values, w_dec = ctx.saved_tensors
        code: StackedCode = ctx.code
        grad = grad.contiguous()
        grad_values = grad_w = None
        if ctx.needs_input_grad[0]:
            # in the master precision: the CPU sampled product has no bf16 kernel
            grad_values = sampled_dot(code.crow, code.col, code.n_rows, grad, w_dec)
        if ctx.needs_input_grad[1]:
            low_grad = grad.to(ctx.compute_dtype)
            grad_w = code.transposed_matmul(low_values, low_grad).to(w_dec.dtype)
        return grad_values, grad_w, None, None


def gather_preacts(
    x: Tensor,
    w_enc: Tensor,
    b_enc: Tensor,
    b_dec: Tensor,
    pre: Tensor,
    code: StackedCode,
    compute_dtype: torch.dtype | None = None,
) -> Tensor:
    """The selected entries of pre = W_enc (x - b_dec) + b_enc (already computed, no grad).

    Gradients reach W_enc and b_enc only at the selected latents, and b_dec through the
    centring; x gets none. `compute_dtype` (default: x's) is the precision of the W_enc
    gradient's sparse product; the gradient itself is returned in x's precision.
    """
    low = compute_dtype or x.dtype
    return _GatherPreacts.apply(x, w_enc, b_enc, b_dec, pre, code, low)


def sparse_decode(
    values: Tensor, w_dec: Tensor, code: StackedCode, compute_dtype: torch.dtype | None = None
) -> Tensor:
    """Per-block decodes without bias: (L, B, d) with [ℓ, b] = sum over block ℓ of v · W_dec[j].

    `compute_dtype` (default: W_dec's) is the precision of the sparse products (the decode and
    the W_dec gradient); results and gradients are returned in the operands' precision.
    """
    out = _SparseDecode.apply(values, w_dec, code, compute_dtype or w_dec.dtype)
    return out.view(code.n_blocks, code.batch, w_dec.shape[1])
