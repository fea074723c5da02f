"""Held-out figures of a fine-tuned model and the Trainer callback of this stage.

classification: loss, accuracy and macro-F1 (scikit-learn) over a split; sft: loss, perplexity and bits per
byte over the answer tokens only (workbench.training.evaluation.heldout_loss, labels -100 on the prompt).

FinetuneCallback is the shared LiveCallback with three things this stage needs: early stopping on a figure
where higher is better (accuracy, macro-F1), a best-weights snapshot of the *trainable* parameters only (a 4-bit
base cannot round-trip through state_dict, and copying a whole base model per improvement wastes memory), and
AdaLoRA's rank update after each optimizer step. It also logs the peak resident memory with the train metrics."""
from __future__ import annotations

import math
import resource
import sys

from ..i18n import say
from ..training.callback import LiveCallback, LoopRules
from ..training.evaluation import heldout_loss


def classifier_eval(model, dataset, *, batch_size: int, collate, num_labels: int, bf16: bool = False,
                    prefix: str = "val/", return_predictions: bool = False) -> dict:
    """Mean cross-entropy, accuracy and macro-F1 of a sequence classifier over `dataset`. Leaves the model in
    training mode."""
    import torch
    from sklearn.metrics import f1_score

    model.eval()
    dev = next(p for p in model.parameters()).device
    loss_sum, preds, golds = 0.0, [], []
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            batch = collate([dataset[i] for i in range(start, min(len(dataset), start + batch_size))])
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                logits = model(input_ids=batch["input_ids"].to(dev),
                               attention_mask=batch["attention_mask"].to(dev)).logits.float()
            labels = batch["labels"].to(dev)
            loss_sum += float(torch.nn.functional.cross_entropy(logits, labels, reduction="sum"))
            preds += logits.argmax(-1).tolist()
            golds += labels.tolist()
    model.train()
    n = max(1, len(golds))
    out = {f"{prefix}loss": loss_sum / n,
           f"{prefix}accuracy": sum(int(p == g) for p, g in zip(preds, golds)) / n,
           f"{prefix}macro_f1": float(f1_score(golds, preds, average="macro", labels=list(range(num_labels)),
                                               zero_division=0)) if golds else 0.0}
    if return_predictions:
        out["_predictions"] = (golds, preds)
    return out


def confusion(golds: list[int], preds: list[int], num_labels: int) -> list[list[int]]:
    m = [[0] * num_labels for _ in range(num_labels)]
    for g, p in zip(golds, preds):
        m[g][p] += 1
    return m


def sft_eval(model, dataset, *, batch_size: int, collate, n_bytes: int, bf16: bool = False,
             prefix: str = "val/") -> dict:
    return heldout_loss(model, dataset, batch_size=batch_size, n_bytes=n_bytes, bf16=bf16, collate=collate,
                        prefix=prefix)


def peak_rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 / 1024 if sys.platform == "darwin" else r / 1024


class FinetuneCallback(LiveCallback):
    def __init__(self, ctx, rules: LoopRules, *, higher_is_better: bool = False, **kw):
        self.keep = rules.keep_best
        super().__init__(ctx, rules, **kw)
        self.higher = higher_is_better
        self.best = -math.inf if higher_is_better else math.inf

    # -- early stopping in either direction, keeping only the trainable weights ----------------------------
    def run_eval(self, model, step: int) -> dict:
        self.last_eval = self.evaluate(model)
        self.ctx.metrics(step, self.last_eval, flush=True)
        rules = self.rules
        if rules.early_stopping:
            value = self.last_eval[rules.monitor]
            better = value > self.best + 1e-4 if self.higher else value < self.best - 1e-4
            if better:
                self.best, self.best_step, self.bad_evals = value, step, 0
                if self.keep:
                    self.best_state = {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters()
                                       if p.requires_grad}
            else:
                self.bad_evals += 1
                if self.bad_evals >= rules.early_stopping and not self.ended_by:
                    self.ended_by = "early_stopping"
        return self.last_eval

    def finish(self, model, step: int) -> dict:
        restored = False
        if self.ended_by == "early_stopping" and self.best_state is not None and self.best_step != step:
            import torch
            with torch.no_grad():
                for n, p in model.named_parameters():
                    if n in self.best_state:
                        p.copy_(self.best_state[n].to(p.device))
            self.ctx.event("note", {"step": step, "restored_step": self.best_step,
                                    "text": f"restored the weights of step {self.best_step} "
                                            f"({self.rules.monitor} {self.best:.4f})"})
            restored = True
        if restored or not self.last_eval or (self.ended_by is None and step % self.rules.eval_every):
            self.last_eval = self.evaluate(model)
            if not restored:
                self.ctx.metrics(step, self.last_eval, flush=True)
        return self.last_eval

    def progress_text(self, step: int):
        ev = self.last_eval or {}
        if "val/accuracy" in ev:
            return say("step {s}/{n} · val loss {v:.3f} · accuracy {a:.1%}", "{s}/{n} 스텝 · 검증 손실 {v:.3f} · 정확도 {a:.1%}",
                       s=step, n=self.rules.max_steps, v=ev["val/loss"], a=ev["val/accuracy"])
        if "val/loss" in ev:
            return say("step {s}/{n} · val loss {v:.3f}", "{s}/{n} 스텝 · 검증 손실 {v:.3f}", s=step,
                       n=self.rules.max_steps, v=ev["val/loss"])
        return say("step {s}/{n}", "{s}/{n} 스텝", s=step, n=self.rules.max_steps)

    # -- memory, AdaLoRA ----------------------------------------------------------------------------------
    def on_log(self, args, state, control, logs=None, **kw):
        super().on_log(args, state, control, logs=logs, **kw)
        if self.ctx.is_main and logs and "loss" in logs:
            vals = {"sys/peak_rss_mb": peak_rss_mb()}
            try:
                import torch
                if torch.cuda.is_available() and torch.cuda.is_initialized():
                    vals["sys/cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
            except Exception:  # noqa: BLE001
                pass
            self.ctx.metrics(state.global_step, vals)

    def on_optimizer_step(self, args, state, control, model=None, **kw):
        base = getattr(model, "base_model", None)
        if base is not None and hasattr(base, "update_and_allocate"):
            base.update_and_allocate(state.global_step)
