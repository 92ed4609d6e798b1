"""The training loop: seeded epochs, Adam with warm-up and decay, checkpoints and exact resume.

One step: sparse forward (model.forward_train), loss = mean over levels of the batch FVU
(+ AuxK), backward, decoder-parallel gradient removed, gradient clipped, Adam step, decoder
rows renormalised, dead-latent counters advanced. The epoch order is a pure function of
(seed, epoch), so a run resumed from `checkpoints/last.pt` repeats the uninterrupted run
exactly (bitwise on CPU). After every epoch the validation objective (mean over levels of the
BatchTopK FVU) decides the best-on-validation weights.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from sail_core.io import atomic_output
from sail_core.sae.auxk import DeadLatentTracker, auxk_loss
from sail_core.sae.config import TrainConfig
from sail_core.sae.data import InMemoryRows, StreamedRows
from sail_core.sae.evaluate import batchtopk_fvu
from sail_core.sae.losses import unexplained_variance
from sail_core.sae.model import MatryoshkaSAE

logger = logging.getLogger(__name__)

LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"


def learning_rate_at(step: int, total_steps: int, base_lr: float, config: TrainConfig) -> float:
    """Linear warm-up (at most a tenth of the run), then cosine / linear-tail / constant."""
    warmup = min(config.warmup_steps, total_steps // 10)
    if step < warmup:
        return base_lr * (step + 1) / warmup
    floor = base_lr * config.min_lr_ratio
    progress = (step - warmup) / max(1, total_steps - warmup)
    if config.schedule == "cosine":
        return floor + (base_lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    decay_start = 1.0 - config.decay_fraction
    if config.schedule == "constant" or progress < decay_start:
        return base_lr
    return base_lr - (base_lr - floor) * (progress - decay_start) / config.decay_fraction


@dataclass
class TrainState:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_val: float = math.inf
    best_step: int = -1
    best_model: dict | None = None
    history: list[dict] = field(default_factory=list)


@dataclass
class TrainOutcome:
    best_model: dict
    best_step: int
    best_val: float
    steps: int
    history: list[dict]


class Trainer:
    def __init__(
        self,
        model: MatryoshkaSAE,
        train: InMemoryRows | StreamedRows,
        val_batches: Callable[[], Iterable[Tensor]] | None,
        config: TrainConfig,
        checkpoint_dir: Path,
        fingerprint: str,
    ) -> None:
        self.model = model
        self.train = train
        self.val_batches = val_batches
        self.config = config
        self.checkpoint_dir = Path(checkpoint_dir)
        self.fingerprint = fingerprint
        self.batch_size = min(config.batch_size, train.n_rows)
        self.steps_per_epoch = train.n_rows // self.batch_size
        self.total_steps = self.steps_per_epoch * config.epochs
        self.base_lr = config.learning_rate(model.n_latents)
        self.k_aux = config.k_aux or max(1, model.d_in // 2)
        window = config.dead_window_samples or train.n_rows
        device = model.W_enc.device
        self.tracker = DeadLatentTracker(model.n_latents, window, device)
        self.optimizer = torch.optim.Adam(
            model.parameters(), lr=self.base_lr, betas=(0.9, 0.999), fused=True
        )

    # checkpoints ---------------------------------------------------------------------------
    def _save(self, state: TrainState) -> None:
        payload = {
            "fingerprint": self.fingerprint,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "tracker": self.tracker.state_dict(),
            "state": state.__dict__,
        }
        with atomic_output(self.checkpoint_dir / LAST_CHECKPOINT) as tmp:
            torch.save(payload, tmp)

    def _resume(self) -> TrainState:
        path = self.checkpoint_dir / LAST_CHECKPOINT
        if not path.exists():
            return TrainState()
        payload = torch.load(path, map_location=self.model.W_enc.device, weights_only=True)
        if payload["fingerprint"] != self.fingerprint:
            logger.warning("%s was written for other settings or data; starting afresh", path)
            return TrainState()
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.tracker.load_state_dict(payload["tracker"])
        state = TrainState(**payload["state"])
        logger.info("resumed from %s at step %d of %d", path, state.step, self.total_steps)
        return state

    # one step ------------------------------------------------------------------------------
    def step(self, x: Tensor, step: int) -> dict[str, Tensor | float]:
        model, config = self.model, self.config
        lr = learning_rate_at(step, self.total_steps, self.base_lr, config)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        out = model.forward_train(x)
        level_fvu = unexplained_variance(x, out.recon)
        loss = level_fvu.mean()
        aux = x.new_zeros(())
        if config.auxk_coef > 0:
            residual = x - out.recon[-1]
            dead = self.tracker.dead_mask()
            aux = config.auxk_coef * auxk_loss(model, x, out.pre, residual, dead, self.k_aux)
        (loss + aux).backward()
        model.remove_parallel_decoder_grad()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        model.normalise_decoder()
        self.tracker.update(out.code.col, x.shape[0])
        return {
            "lr": lr,
            "loss": loss.detach(),
            "auxk_loss": aux.detach(),
            "grad_norm": grad_norm,
            "fvu": level_fvu.detach(),
        }

    def _record(self, state: TrainState, stats: dict, started: float, first_step: int) -> None:
        row = {
            "step": state.step,
            "epoch": state.epoch,
            "samples": state.step * self.batch_size,
            "lr": stats["lr"],
            "loss": float(stats["loss"]),
            "auxk_loss": float(stats["auxk_loss"]),
            "grad_norm": float(stats["grad_norm"]),
            "dead_fraction": float(self.tracker.dead_mask().float().mean()),
        }
        for level, value in enumerate(stats["fvu"].tolist()):
            row[f"train_fvu_level_{level}"] = value
        state.history.append(row)
        rate = (
            (state.step - first_step) * self.batch_size / max(time.perf_counter() - started, 1e-9)
        )
        logger.info(
            "step %d/%d epoch %d loss %.4f auxk %.4f dead %.3f lr %.2e (%.0f samples/s)",
            state.step,
            self.total_steps,
            state.epoch,
            row["loss"],
            row["auxk_loss"],
            row["dead_fraction"],
            row["lr"],
            rate,
        )

    def _weights(self) -> dict[str, Tensor]:
        return {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}

    def _validate(self, state: TrainState) -> None:
        if self.val_batches is None:
            return
        level_fvu = batchtopk_fvu(self.model, self.val_batches())
        objective = sum(level_fvu) / len(level_fvu)
        row = {"step": state.step, "epoch": state.epoch, "samples": state.step * self.batch_size}
        row["val_fvu_mean"] = objective
        for level, value in enumerate(level_fvu):
            row[f"val_fvu_level_{level}"] = value
        state.history.append(row)
        logger.info("epoch %d validation FVU (mean over levels) %.4f", state.epoch, objective)
        if objective < state.best_val:
            state.best_val, state.best_step = objective, state.step
            state.best_model = self._weights()

    # the loop ------------------------------------------------------------------------------
    def run(self) -> TrainOutcome:
        config = self.config
        state = self._resume()
        started, first_step = time.perf_counter(), state.step
        logger.info(
            "training %d steps (%d epochs x %d batches of %d), lr %.2e",
            self.total_steps,
            config.epochs,
            self.steps_per_epoch,
            self.batch_size,
            self.base_lr,
        )
        while state.epoch < config.epochs:
            order = self.train.epoch_order(config.seed, state.epoch)
            while state.batch_in_epoch < self.steps_per_epoch:
                start = state.batch_in_epoch * self.batch_size
                x = self.train.take(order[start : start + self.batch_size])
                stats = self.step(x, state.step)
                state.step += 1
                state.batch_in_epoch += 1
                if state.step % config.log_every == 0 or state.step == self.total_steps:
                    self._record(state, stats, started, first_step)
                if state.step % config.checkpoint_every == 0:
                    self._save(state)
            state.epoch += 1
            state.batch_in_epoch = 0
            self._validate(state)
        self._save(state)
        if state.best_model is None:
            state.best_model, state.best_step = self._weights(), state.step
        with atomic_output(self.checkpoint_dir / BEST_CHECKPOINT) as tmp:
            torch.save({"model": state.best_model, "step": state.best_step}, tmp)
        return TrainOutcome(
            state.best_model, state.best_step, state.best_val, state.step, state.history
        )
