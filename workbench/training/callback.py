"""The Trainer callback every training stage uses: it feeds the store (metrics, progress) and applies the
rules that end a run early (Stop, a time budget, early stopping), from inside the Hugging Face Trainer loop."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from transformers import TrainerCallback

from ..i18n import say


@dataclass
class LoopRules:
    max_steps: int
    eval_every: int                 # evaluate every N optimizer steps (and when the run ends early)
    sample_every: int = 0           # generate samples every N steps (0 = never)
    early_stopping: int = 0         # evaluations without improvement before ending (0 = off)
    max_minutes: float = 0.0        # time budget (0 = none)
    monitor: str = "val/loss"       # what early stopping watches
    higher_is_better: bool = False  # True for accuracy or macro-F1
    keep_best: bool = True          # with early stopping: end with the weights of the best evaluation
    best_always: bool = False       # end with the best evaluated weights even without early stopping (DPO keeps
                                    # the checkpoint of the best validation reward accuracy)

    def better(self, value: float, best: float | None) -> bool:
        if best is None:
            return True
        return value > best + 1e-4 if self.higher_is_better else value < best - 1e-4


def _any_rank(flag: bool, world: int) -> bool:
    """True on every rank when it is true on any (so all ranks stop at the same step)."""
    if world <= 1:
        return flag
    import torch
    if not torch.distributed.is_initialized():
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return bool(t.item())


def trainable_snapshot(model) -> dict:
    """A CPU copy of the parameters that train (all of them for pretraining, the adapter and head for PEFT): a
    4-bit base cannot round-trip through state_dict, and copying a frozen base per improvement wastes memory."""
    return {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}


def restore_snapshot(model, snapshot: dict) -> None:
    import torch
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in snapshot:
                p.copy_(snapshot[n].to(p.device))


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far."""
    import resource
    import sys
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 / 1024 if sys.platform == "darwin" else r / 1024


def memory_metrics() -> dict:
    out = {"sys/peak_rss_mb": peak_rss_mb()}
    import torch
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["sys/cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


class LiveCallback(TrainerCallback):
    """evaluate(model) -> {metric: value}; sample(model, step) -> [{"prompt", "text"}] (already recorded).
    tokens_per_step, flops_per_token and peak_flops (optional) add tokens/s and MFU to the train metrics."""

    def __init__(self, ctx, rules: LoopRules, *, evaluate: Callable, sample: Callable | None = None,
                 tokens_per_step: int | None = None, flops_per_token: float | None = None,
                 peak_flops: float | None = None, world: int = 1):
        self.ctx, self.rules, self.evaluate, self.sample = ctx, rules, evaluate, sample
        self.tokens_per_step, self.flops_per_token, self.peak_flops, self.world = (
            tokens_per_step, flops_per_token, peak_flops, world)
        self.t_start = time.time()
        self.t_last = None
        self.step_last = 0
        self.excluded = 0.0  # seconds spent evaluating/sampling since the last log (not training throughput)
        self.best: float | None = None
        self.best_step: int | None = None
        self.best_state: dict | None = None
        self.bad_evals = 0
        self.ended_by: str | None = None  # "stop", "budget", "early_stopping"
        self.last_eval: dict = {}
        self.last_eval_step: int | None = None
        self.last_samples: list = []
        self.last_progress = 0.0

    # -- the loop ----------------------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, **kw):
        self.t_last, self.step_last = time.time(), state.global_step

    def on_step_end(self, args, state, control, model=None, **kw):
        ctx, rules, step = self.ctx, self.rules, state.global_step
        if _any_rank(ctx.should_stop, self.world):
            self.ended_by = "stop"
        elif rules.max_minutes and time.time() - self.t_start > rules.max_minutes * 60:
            self.ended_by = "budget"
        if ctx.is_main and model is not None and (step % rules.eval_every == 0 or self.ended_by):
            t0 = time.time()
            self.run_eval(model, step)
            self.excluded += time.time() - t0
        if ctx.is_main and model is not None and self.sample and rules.sample_every and step % rules.sample_every == 0:
            t0 = time.time()
            self.last_samples = self.sample(model, step)
            self.excluded += time.time() - t0
        if rules.early_stopping and _any_rank(self.ended_by == "early_stopping", self.world) and not self.ended_by:
            self.ended_by = "early_stopping"
        if self.ended_by:
            control.should_save = True
            control.should_training_stop = True
        now = time.time()
        if ctx.is_main and (now - self.last_progress > 0.5 or step == rules.max_steps):
            self.last_progress = now
            ctx.progress(step, rules.max_steps, self.progress_text(step))

    def on_log(self, args, state, control, logs=None, **kw):
        if not self.ctx.is_main or not logs or "loss" not in logs:
            return
        now = time.time()
        dt = now - self.t_last - self.excluded
        steps = state.global_step - self.step_last
        vals = {"train/loss": logs.get("loss"), "train/lr": logs.get("learning_rate"),
                "train/grad_norm": logs.get("grad_norm")}
        if self.tokens_per_step:
            if steps > 0 and dt > 0:
                tps = steps * self.tokens_per_step / dt
                vals["train/tokens_per_s"] = tps
                if self.flops_per_token and self.peak_flops:
                    vals["train/mfu"] = tps * self.flops_per_token / (self.peak_flops * self.world)
            vals["train/tokens"] = state.global_step * self.tokens_per_step
        vals.update(memory_metrics())
        self.ctx.metrics(state.global_step, vals)
        self.t_last, self.step_last, self.excluded = now, state.global_step, 0.0

    # -- pieces a stage also calls at the end ----------------------------------------------------------------
    def run_eval(self, model, step: int) -> dict:
        """Evaluate, record, and apply early stopping (remembering the best weights when asked)."""
        self.last_eval, self.last_eval_step = self.evaluate(model), step
        self.ctx.metrics(step, self.last_eval, flush=True)
        rules = self.rules
        if (rules.early_stopping or rules.best_always) and rules.monitor in self.last_eval:
            value = self.last_eval[rules.monitor]
            if rules.better(value, self.best):
                self.best, self.best_step, self.bad_evals = value, step, 0
                if rules.keep_best:
                    self.best_state = trainable_snapshot(model)
            elif rules.early_stopping:
                self.bad_evals += 1
                if self.bad_evals >= rules.early_stopping and not self.ended_by:
                    self.ended_by = "early_stopping"
        return self.last_eval

    def progress_text(self, step: int):
        if self.last_eval and self.rules.monitor in self.last_eval:
            return say("step {s}/{n} · val loss {v:.3f}", "{s}/{n} 스텝 · 검증 손실 {v:.3f}", s=step,
                       n=self.rules.max_steps, v=self.last_eval[self.rules.monitor])
        return say("step {s}/{n}", "{s}/{n} 스텝", s=step, n=self.rules.max_steps)

    def finish(self, model, step: int) -> dict:
        """After training: with early stopping, go back to the best weights if a later evaluation was worse; make
        sure the returned evaluation describes the weights that are saved. Returns that evaluation."""
        restored = False
        if self.rules.best_always and self.best_state is not None and self.last_eval_step != step:
            self.run_eval(model, step)  # the final weights take part in the choice
        if ((self.ended_by == "early_stopping" or self.rules.best_always) and self.best_state is not None
                and self.best_step != step):
            restore_snapshot(model, self.best_state)
            self.ctx.event("note", {"step": step, "restored_step": self.best_step,
                                    "text": f"restored the weights of step {self.best_step} "
                                            f"({self.rules.monitor} {self.best:.4f})"})
            restored = True
        if restored or not self.last_eval or self.last_eval_step != step:
            self.last_eval = self.evaluate(model)
            if not restored:  # the best step's figures are already on the curve
                self.ctx.metrics(step, self.last_eval, flush=True)
        return self.last_eval

    @property
    def ended(self) -> str:
        return self.ended_by or "max_steps"
