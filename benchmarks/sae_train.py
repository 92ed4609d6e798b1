"""Training-step benchmark: our sparse Matryoshka step against the study's dense formulation.

Both train the same model (same initialisation, data order, objective and Adam settings) on
the same synthetic embeddings with planted sparse structure, each for the same time (their
steps interleaved, so a changing machine load affects both alike):
- ours: `sail_core.sae.trainer.Trainer.step` (encoder GEMM, top-k, sparse decode, sparse
  encoder gradient, AuxK, decoder projection, clipping, Adam);
- reference: the study's formulation — pre-activations with dense autograd, a flat top-k per
  level, each level's code zero-padded to the full width and decoded densely (the study has no
  AuxK; the rest of the update is the same).
The bound is the bare encoder forward GEMM of the same shapes and precision, timed in the same
interleaved race: every pre-activation is needed to choose the top-k, so no step can cost less.
One race per variant (nested_k and global) and precision (fp32, bf16); printed per race: samples/s
of each contender, ours / reference, ours / forward-GEMM and the held-out FVU each reaches in the
same wall time, then one summary table.

    .venv/bin/python benchmarks/sae_train.py            # d=1536, 8192 latents, batch 2048
    .venv/bin/python benchmarks/sae_train.py --quick    # fewer rows, shorter runs
    .venv/bin/python benchmarks/sae_train.py --precisions fp32 --names D128-512-2048-8192_K160
    .venv/bin/python benchmarks/sae_train.py --quick --profile 6   # and where a step's time goes
"""

from __future__ import annotations

import argparse
import copy
import itertools
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sail_core.sae.config import TrainConfig, parse_sae_name
from sail_core.sae.data import InMemoryRows
from sail_core.sae.evaluate import batchtopk_fvu
from sail_core.sae.initialise import init_decoder_bias
from sail_core.sae.losses import unexplained_variance
from sail_core.sae.model import MatryoshkaSAE
from sail_core.sae.trainer import Trainer

FVU_TOLERANCE = 1e-3
PROFILE_ROWS = 14  # relative: same-step runs differ only by floating-point rounding


def synthetic_embeddings(n: int, d: int, n_atoms: int, active: int, seed: int) -> torch.Tensor:
    """Unit-norm rows: a shared offset plus `active` planted atoms (Zipf-like frequencies)."""
    generator = torch.Generator().manual_seed(seed)
    atoms = F.normalize(torch.randn(n_atoms, d, generator=generator), dim=1)
    frequency = 1.0 / torch.arange(1, n_atoms + 1).double() ** 0.8
    which = torch.multinomial(frequency, n * active, replacement=True, generator=generator)
    weights = torch.rand(n * active, generator=generator) + 0.5
    offsets = torch.arange(0, n * active, active)
    x = F.embedding_bag(which, atoms, offsets, mode="sum", per_sample_weights=weights)
    x += 0.5 * F.normalize(torch.randn(1, d, generator=generator), dim=1) * x.norm(dim=1).mean()
    x += 0.05 * torch.randn(n, d, generator=generator)
    return F.normalize(x, dim=1)


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class ReferenceStep:
    """The study's step on a MatryoshkaSAE: dense zero-padded decode of every level (with
    `bf16`, all of its matmuls run under bf16 autocast, as the study's bf16-mixed training)."""

    def __init__(self, model: MatryoshkaSAE, lr: float, grad_clip: float, bf16: bool) -> None:
        self.model = model
        self.grad_clip = grad_clip
        self.bf16 = bf16
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999))

    def level_codes(self, acts: torch.Tensor) -> list[torch.Tensor]:
        spec, batch = self.model.spec, acts.shape[0]
        n_latents = spec.n_latents
        if spec.variant == "global":
            top = acts.flatten().topk(spec.ks[0] * batch).indices
            mask = torch.zeros(acts.numel(), device=acts.device).scatter(0, top, 1.0)
            code = acts * mask.view_as(acts)
            return [F.pad(code[:, :width], (0, n_latents - width)) for width in spec.widths]
        codes = []
        for width, k in zip(spec.widths, spec.ks, strict=True):
            level = acts[:, :width]
            top = level.flatten().topk(k * batch).indices
            mask = torch.zeros(level.numel(), device=acts.device).scatter(0, top, 1.0)
            codes.append(F.pad(level * mask.view_as(level), (0, n_latents - width)))
        return codes

    def __call__(self, x: torch.Tensor) -> None:
        model = self.model
        with torch.autocast(x.device.type, torch.bfloat16, enabled=self.bf16):
            acts = ((x - model.b_dec) @ model.W_enc.T + model.b_enc).relu()
            codes = self.level_codes(acts)
            recon = torch.stack([code @ model.W_dec + model.b_dec for code in codes])
        unexplained_variance(x, recon.float()).mean().backward()
        model.remove_parallel_decoder_grad()
        torch.nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        model.normalise_decoder()


@dataclass
class Contender:
    """One training method in the race: its step, its batches and the time it has used."""

    step: Callable[[torch.Tensor], None]
    batches: Iterator[torch.Tensor]
    budget: float
    steps: int = 0
    seconds: float = 0.0
    timed_rows: int = 0
    timed_seconds: float = 0.0


def profile_steps(step: Callable, batches: Iterator, n_steps: int, device: torch.device) -> None:
    """The operators that take the most host time in `n_steps` more steps, per step."""
    with torch.profiler.profile() as profiler:
        for _ in range(n_steps):
            step(next(batches))
        synchronise(device)
    events = sorted(profiler.key_averages(), key=lambda e: -e.self_cpu_time_total)
    print(f"ours, profiled over {n_steps} steps (host self time per step):")
    for event in events[:PROFILE_ROWS]:
        print(
            f"  {event.key[:44]:44s} {event.self_cpu_time_total / n_steps / 1000:8.1f} ms"
            f"  ({event.count // n_steps} calls)"
        )


def race(contenders: list[Contender], device: torch.device, warmup: int = 2) -> None:
    """Interleave the contenders' steps, always stepping the one that has used the smallest
    share of its budget, until each has used its budget; a changing machine load then hits
    all alike. Samples/s come from the steps after the first `warmup` of each."""
    while True:
        running = [c for c in contenders if c.seconds < c.budget or c.steps <= warmup]
        if not running:
            return
        contender = min(running, key=lambda c: c.seconds / c.budget)
        x = next(contender.batches)
        synchronise(device)
        start = time.perf_counter()
        contender.step(x)
        synchronise(device)
        elapsed = time.perf_counter() - start
        contender.steps += 1
        contender.seconds += elapsed
        if contender.steps > warmup:
            contender.timed_rows += x.shape[0]
            contender.timed_seconds += elapsed


class ForwardGemm:
    """The bound: the bare encoder forward GEMM (bias included) with operands already in the
    compute precision; only the batch is converted, as the trainer must."""

    def __init__(self, n_latents: int, d: int, bf16: bool, device: torch.device) -> None:
        self.dtype = torch.bfloat16 if bf16 else torch.float32
        self.weight = torch.randn(n_latents, d, device=device).to(self.dtype)
        self.bias = torch.zeros(n_latents, device=device, dtype=self.dtype)

    def __call__(self, x: torch.Tensor) -> None:
        torch.addmm(self.bias, x.to(self.dtype), self.weight.T)


def epoch_batches(data: InMemoryRows, batch: int, seed: int):
    epoch = 0
    while True:
        order = data.epoch_order(seed, epoch)
        for start in range(0, data.n_rows - batch + 1, batch):
            yield data.take(order[start : start + batch])
        epoch += 1


def held_out_fvu(model: MatryoshkaSAE, held_out: torch.Tensor, batch: int) -> tuple[float, float]:
    level_fvu = batchtopk_fvu(
        model, (held_out[i : i + batch] for i in range(0, held_out.shape[0], batch))
    )
    return level_fvu[-1], sum(level_fvu) / len(level_fvu)


@dataclass
class RaceResult:
    variant: str
    precision: str
    rate: dict[str, float]
    fvu: dict[str, float]


def run_race(
    args: argparse.Namespace,
    name: str,
    bf16: bool,
    train: InMemoryRows,
    held_out: torch.Tensor,
    device: torch.device,
) -> RaceResult:
    """One interleaved race of ours, the reference and the forward GEMM for one SAE and precision."""
    spec = parse_sae_name(name)
    precision = "bf16" if bf16 else "fp32"
    print(f"\n{spec.name} ({spec.variant}), {precision} compute (encoder GEMM and sparse products)")
    torch.manual_seed(args.seed)
    initial = MatryoshkaSAE(spec, args.d)
    initial.reset_parameters(torch.Generator().manual_seed(args.seed))
    initial.to(device)
    init_decoder_bias(initial, train.take(torch.arange(min(train.n_rows, 16384))), "mean")
    initial.bf16_compute = bf16

    ours, reference = copy.deepcopy(initial), copy.deepcopy(initial)
    config = TrainConfig(
        batch_size=args.batch,
        epochs=1000,
        lr=args.lr,
        warmup_steps=0,
        schedule="constant",
        seed=args.seed,
        log_every=10**9,
        checkpoint_every=10**9,
    )
    with tempfile.TemporaryDirectory() as checkpoints:
        trainer = Trainer(ours, train, None, config, checkpoints, "benchmark")
        counter = itertools.count()
        contenders = {
            "ours": Contender(
                lambda x: trainer.step(x, next(counter)),
                epoch_batches(train, args.batch, args.seed),
                args.seconds,
            ),
            "reference": Contender(
                ReferenceStep(reference, args.lr, config.grad_clip, bf16),
                epoch_batches(train, args.batch, args.seed),
                args.seconds,
            ),
            "forward GEMM": Contender(
                ForwardGemm(spec.n_latents, args.d, bf16, device),
                epoch_batches(train, args.batch, args.seed),
                args.seconds / 4,
            ),
        }
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        race(list(contenders.values()), device)
        if args.profile:
            profile_steps(
                contenders["ours"].step,
                epoch_batches(train, args.batch, args.seed),
                args.profile,
                device,
            )
    rate = {label: c.timed_rows / c.timed_seconds for label, c in contenders.items()}
    print(f"forward GEMM (the bound) {rate['forward GEMM']:9,.0f} samples/s")
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**30
        print(f"peak GPU memory of the race (all three contenders): {peak:.2f} GiB")
    fvu = {}
    for label, model in (("ours", ours), ("reference", reference)):
        contender = contenders[label]
        full, fvu[label] = held_out_fvu(model, held_out, args.batch)
        print(
            f"{label:10s} {rate[label]:9,.0f} samples/s  ({contender.steps} steps in "
            f"{contender.seconds:.1f} s)  held-out FVU: full width {full:.4f}, "
            f"mean over levels {fvu[label]:.4f}"
        )
    print(f"speed-up ours / reference: {rate['ours'] / rate['reference']:.2f}x")
    print(f"ours / forward-GEMM: {rate['ours'] / rate['forward GEMM']:.2f}")
    equal_or_better = fvu["ours"] <= fvu["reference"] * (1 + FVU_TOLERANCE)
    verdict = "ours equal or better" if equal_or_better else "reference better"
    print(f"held-out FVU (mean over levels) after the same training time: {verdict}")
    return RaceResult(spec.variant, precision, rate, fvu)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="20k rows and 20 s per method")
    parser.add_argument(
        "--names",
        default="D128-512-2048-8192_K20-40-80-160,D128-512-2048-8192_K160",
        help="comma-separated SAE names, one race each (default: nested_k and global)",
    )
    parser.add_argument("--precisions", default="fp32,bf16", help="comma-separated: fp32, bf16")
    parser.add_argument("--d", type=int, default=1536)
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=60.0, help="training time per method")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--profile", type=int, default=0, help="after each race, profile this many steps of ours"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.quick:
        args.rows, args.seconds = 20_000, 20.0
    device = torch.device(args.device)
    precisions = args.precisions.split(",")
    unknown = sorted(set(precisions) - {"fp32", "bf16"})
    if unknown:
        parser.error(f"unknown precisions {unknown}; choose from fp32, bf16")

    data = synthetic_embeddings(args.rows, args.d, n_atoms=4096, active=32, seed=args.seed).to(
        device
    )
    n_held_out = max(args.batch, args.rows // 10)
    train, held_out = InMemoryRows(data[:-n_held_out]), data[-n_held_out:]
    print(
        f"d={args.d}, batch {args.batch}, {train.n_rows} train / {n_held_out} held-out rows, "
        f"device {device}, {torch.get_num_threads()} threads, {args.seconds:.0f} s per method"
    )
    results = [
        run_race(args, name, precision == "bf16", train, held_out, device)
        for name in args.names.split(",")
        for precision in precisions
    ]
    print(
        f"\n{'variant':9s} {'precision':9s} {'ours/s':>8s} {'GEMM/s':>8s} {'ours/GEMM':>9s} "
        f"{'ours/ref':>8s} {'FVU ours':>8s} {'FVU ref':>8s}"
    )
    for r in results:
        print(
            f"{r.variant:9s} {r.precision:9s} {r.rate['ours']:8,.0f} {r.rate['forward GEMM']:8,.0f} "
            f"{r.rate['ours'] / r.rate['forward GEMM']:9.2f} "
            f"{r.rate['ours'] / r.rate['reference']:8.2f} {r.fvu['ours']:8.4f} "
            f"{r.fvu['reference']:8.4f}"
        )


if __name__ == "__main__":
    main()
