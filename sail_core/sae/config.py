"""SAE configuration: the `{sae}` name grammar and the training hyper-parameters.

Name grammar
    D<w1>-<w2>-...-<wL>_K<k1>-<k2>-...-<kL>   variant `nested_k` (the study's form): prefix ℓ of
        width wℓ has its own BatchTopK selection with a per-sample budget kℓ.
    D<w1>-<w2>-...-<wL>_K<k>                   variant `global` when L > 1 (the reference
        Matryoshka form): one BatchTopK with budget k over the whole dictionary; the loss is taken
        on the reconstructions of the nested prefixes of that one code.
With one width both forms are the same plain BatchTopK SAE and the name reads `D<w>_K<k>`.
Widths are strictly increasing; the last is the number of latents. Every k is at most its
width (for `global`, at most the full width).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields

NAME_PATTERN = re.compile(r"D(\d+(?:-\d+)*)_K(\d+(?:-\d+)*)")


@dataclass(frozen=True)
class SaeSpec:
    """Dictionary structure of one SAE: nested prefix widths and their sparsity budgets."""

    widths: tuple[int, ...]
    ks: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.widths:
            raise ValueError("an SAE needs at least one width")
        if any(w <= 0 for w in self.widths) or any(k <= 0 for k in self.ks):
            raise ValueError(f"widths and ks must be positive: {self.name}")
        if any(a >= b for a, b in zip(self.widths, self.widths[1:], strict=False)):
            raise ValueError(f"widths must be strictly increasing: {self.widths}")
        if len(self.ks) not in (1, len(self.widths)):
            raise ValueError(
                f"give one k per width (nested_k) or a single k (global), got "
                f"{len(self.ks)} ks for {len(self.widths)} widths"
            )
        for width, k in zip(self.selection_widths, self.ks, strict=True):
            if k > width:
                raise ValueError(f"k={k} is larger than its width {width} in {self.name}")

    @property
    def variant(self) -> str:
        return "nested_k" if len(self.ks) == len(self.widths) else "global"

    @property
    def n_latents(self) -> int:
        return self.widths[-1]

    @property
    def n_levels(self) -> int:
        return len(self.widths)

    @property
    def k_inference(self) -> int:
        """The per-sample budget the inference threshold is calibrated to (the largest level's)."""
        return self.ks[-1]

    @property
    def selection_widths(self) -> tuple[int, ...]:
        """The prefix each top-k selection runs over, one per k."""
        return self.widths if self.variant == "nested_k" else (self.widths[-1],)

    @property
    def name(self) -> str:
        return format_sae_name(self.widths, self.ks)


def format_sae_name(widths, ks) -> str:
    return f"D{'-'.join(str(w) for w in widths)}_K{'-'.join(str(k) for k in ks)}"


SEED_RUN_PATTERN = re.compile(r"(?P<base>.+)_S(?P<seed>\d+)")


def seed_run_name(name: str, seed: int) -> str:
    """The name of the extra-seed run of SAE `name`: `D32-128_K4-8_S1`."""
    return f"{name}_S{seed}"


def split_seed_run(name: str) -> tuple[str, int | None]:
    """`D32-128_K4-8_S1` -> ("D32-128_K4-8", 1); a plain config name -> (name, None)."""
    match = SEED_RUN_PATTERN.fullmatch(name)
    return (match["base"], int(match["seed"])) if match else (name, None)


def parse_sae_name(name: str) -> SaeSpec:
    """`D32-128_K4-8` -> SaeSpec((32, 128), (4, 8)); raises ValueError naming the problem."""
    match = NAME_PATTERN.fullmatch(name)
    if match is None:
        raise ValueError(
            f"SAE name {name!r} does not read D<widths>_K<ks> (e.g. D128-512-2048-8192_K20-40-80-160)"
        )
    widths = tuple(int(v) for v in match.group(1).split("-"))
    ks = tuple(int(v) for v in match.group(2).split("-"))
    try:
        return SaeSpec(widths, ks)
    except ValueError as error:
        raise ValueError(f"SAE name {name!r}: {error}") from None


SELECTIONS = ("batch", "sample")
INPUT_NORMS = ("l2", "center_scale", "none")
SCHEDULES = ("cosine", "linear", "constant")
B_DEC_INITS = ("mean", "geometric_median", "zero")
PRECISIONS = ("fp32", "bf16", "auto")
CHECKPOINT_CHOICES = ("best", "last")


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters (the `sae:` config section minus the per-encoder grid).

    `lr=None` applies the scaling rule 2e-4 / sqrt(n_latents / 16384); `k_aux=None` uses d_in / 2;
    `dead_window_samples=None` is one epoch of the train split.
    """

    selection: str = "batch"
    input_norm: str = "l2"
    lr: float | None = None
    batch_size: int = 2048
    epochs: int = 20
    warmup_steps: int = 1000
    schedule: str = "linear"
    decay_fraction: float = 0.2
    min_lr_ratio: float = 0.0
    grad_clip: float = 1.0
    auxk_coef: float = 1 / 32
    k_aux: int | None = None
    dead_window_samples: int | None = None
    b_dec_init: str = "geometric_median"
    memory_budget_mb: int = 4096
    checkpoint_every: int = 500
    log_every: int = 50
    seed: int = 0
    precision: str = "fp32"
    select_checkpoint: str = "best"
    calibration_tolerance: float = 0.05
    calibration_max_rows: int = 65536
    dense_threshold: float = 0.1
    device: str = "auto"

    def __post_init__(self) -> None:
        choices = {
            "selection": SELECTIONS,
            "input_norm": INPUT_NORMS,
            "schedule": SCHEDULES,
            "b_dec_init": B_DEC_INITS,
            "precision": PRECISIONS,
            "select_checkpoint": CHECKPOINT_CHOICES,
        }
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"sae.{key} must be one of {allowed}, got {getattr(self, key)!r}")
        positive = ("batch_size", "epochs", "memory_budget_mb", "checkpoint_every", "log_every")
        for key in positive:
            if getattr(self, key) <= 0:
                raise ValueError(f"sae.{key} must be positive, got {getattr(self, key)}")
        if self.lr is not None and self.lr <= 0:
            raise ValueError(f"sae.lr must be positive, got {self.lr}")
        if not 0 <= self.decay_fraction <= 1 or not 0 <= self.min_lr_ratio <= 1:
            raise ValueError("sae.decay_fraction and sae.min_lr_ratio must lie in [0, 1]")
        if self.k_aux is not None and self.k_aux <= 0:
            raise ValueError(f"sae.k_aux must be positive, got {self.k_aux}")
        if self.dead_window_samples is not None and self.dead_window_samples <= 0:
            raise ValueError("sae.dead_window_samples must be positive")

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown sae training keys: {unknown}")
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)

    def learning_rate(self, n_latents: int) -> float:
        return self.lr if self.lr is not None else 2e-4 / math.sqrt(n_latents / 16384)
