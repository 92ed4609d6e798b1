"""Reconstruction and sparsity of a trained SAE on one split; every metric from sail_core.metrics.

Two codes are measured per level ℓ:
- `inference`: the JumpReLU code truncated to the prefix [0, Dℓ) (what downstream stages use);
- `batchtopk`: the training-time selection (per-level BatchTopK for nested_k, prefix of the one
  BatchTopK code for global) over batches of the given size.
Reconstructions are compared in the space the exported model reconstructs: unit-norm rows for
`l2`, raw embeddings otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable

import scipy.sparse as sp
import torch
from torch import Tensor

from sail_core import metrics
from sail_core.sae.model import MatryoshkaSAE
from sail_core.sae.sparse import StackedCode


def _csr(flat: Tensor, pre: Tensor) -> sp.csr_matrix:
    """SciPy CSR (B, D) of the entries `flat` (indices into pre.flatten()) with pre's values."""
    batch, n_latents = pre.shape
    flat = flat.cpu()
    values = pre.flatten().cpu()[flat].double().numpy()
    rows, cols = (flat // n_latents).numpy(), (flat % n_latents).numpy()
    return sp.csr_matrix((values, (rows, cols)), shape=(batch, n_latents))


def _block_flat(code: StackedCode, block: int) -> Tensor:
    start, stop = code.crow[block * code.batch], code.crow[(block + 1) * code.batch]
    return code.flat[start:stop]


def _level_codes(model: MatryoshkaSAE, code: StackedCode, pre: Tensor) -> list[sp.csr_matrix]:
    """The BatchTopK code of each level as SciPy CSR."""
    widths = model.spec.widths
    if model.spec.variant == "nested_k":
        return [_csr(_block_flat(code, level), pre) for level in range(len(widths))]
    full = _csr(code.flat.sort().values, pre)
    return [full[:, :width] for width in widths]


class _LevelAccumulator:
    def __init__(self, n_levels: int) -> None:
        self.stats = [metrics.ReconstructionStats() for _ in range(n_levels)]
        self.l0_sums = [0.0] * n_levels

    def update(self, target: Tensor, recon: Tensor, codes: list[sp.csr_matrix]) -> None:
        for level, stats in enumerate(self.stats):
            stats.update(target, recon[level])
            self.l0_sums[level] += metrics.l0_mean(codes[level]) * target.shape[0]

    def result(self, level: int) -> dict:
        out = self.stats[level].result()
        out["l0"] = self.l0_sums[level] / out["n"]
        return out


def _reconstructions(
    model: MatryoshkaSAE, x: Tensor, pre: Tensor, code: StackedCode, cumulative: bool
) -> Tensor:
    """Per-level reconstructions of model-space rows, mapped back to the output space."""
    return model.denormalise(model.decode_code(x, pre, code, cumulative=cumulative))


@torch.no_grad()
def batchtopk_fvu(model: MatryoshkaSAE, batches: Iterable[Tensor]) -> list[float]:
    """Per-level FVU of the training-time selection (the validation objective)."""
    stats = [metrics.ReconstructionStats() for _ in model.spec.widths]
    cumulative = model.spec.variant == "global"
    for x_raw in batches:
        x = model.normalise(x_raw)
        pre = model.preacts(x)
        target = model.denormalise(x)
        recon = _reconstructions(model, x, pre, model.select(pre), cumulative)
        for level, level_stats in enumerate(stats):
            level_stats.update(target, recon[level])
    return [s.result()["fvu"] for s in stats]


@torch.no_grad()
def evaluate_split(model: MatryoshkaSAE, batches: Iterable[Tensor], dense_threshold: float) -> dict:
    """Per-level and overall metrics of `model` over the raw input rows in `batches`."""
    spec = model.spec
    inference = _LevelAccumulator(spec.n_levels)
    batchtopk = _LevelAccumulator(spec.n_levels)
    fires = torch.zeros(spec.n_latents, dtype=torch.int64)
    for x_raw in batches:
        x = model.normalise(x_raw)
        pre = model.preacts(x)
        target = model.denormalise(x)
        recon = _reconstructions(model, x, pre, model.inference_code(pre), cumulative=True)
        full = _csr((pre > model.threshold).flatten().nonzero().squeeze(1), pre)
        inference.update(target, recon, [full[:, :width] for width in spec.widths])
        fires += torch.from_numpy(full.getnnz(axis=0)).to(torch.int64)
        code = model.select(pre)
        recon = _reconstructions(model, x, pre, code, spec.variant == "global")
        batchtopk.update(target, recon, _level_codes(model, code, pre))
    n_rows = inference.stats[0].n
    levels = []
    for level, width in enumerate(spec.widths):
        level_inference = inference.result(level)
        level_inference["dead_fraction"] = metrics.dead_fraction(fires[:width].numpy())
        levels.append(
            {
                "width": width,
                "k": spec.ks[level] if spec.variant == "nested_k" else None,
                "inference": level_inference,
                "batchtopk": batchtopk.result(level),
            }
        )
    overall = dict(levels[-1]["inference"])
    overall.update(
        {
            "l0_inference": overall.pop("l0"),
            "l0_batchtopk": levels[-1]["batchtopk"]["l0"],
            "batchtopk_fvu_mean_over_levels": sum(lv["batchtopk"]["fvu"] for lv in levels)
            / len(levels),
            "dense_fraction": metrics.dense_fraction(fires.numpy() / n_rows, dense_threshold),
            "dense_threshold": dense_threshold,
            "threshold": float(model.threshold),
        }
    )
    return {"n_rows": n_rows, "levels": levels, "overall": overall}
