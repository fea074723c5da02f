"""Held-out figures of a fine-tuned model and the Trainer callback of this stage.

classification: loss, accuracy and macro-F1 (scikit-learn) over a split; sft uses the shared
workbench.training.evaluation.heldout_loss directly (labels -100 on the prompt: the answer tokens only).

FinetuneCallback is the shared LiveCallback with this stage's progress line (accuracy) and AdaLoRA's rank update
after each optimizer step."""
from __future__ import annotations


from ..i18n import say
from ..training.callback import LiveCallback


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
    """Rows: the true label, columns: the predicted one (scikit-learn's confusion matrix)."""
    from sklearn.metrics import confusion_matrix
    return confusion_matrix(golds, preds, labels=list(range(num_labels))).tolist()


class FinetuneCallback(LiveCallback):
    """The shared callback (workbench/training/callback.py: early stopping in either direction, a snapshot of the
    trainable weights only, peak memory) with this stage's progress line and AdaLoRA's rank update."""

    def progress_text(self, step: int):
        ev = self.last_eval or {}
        if "val/accuracy" in ev:
            return say("step {s}/{n} · val loss {v:.3f} · accuracy {a:.1%}", "{s}/{n} 스텝 · 검증 손실 {v:.3f} · 정확도 {a:.1%}",
                       s=step, n=self.rules.max_steps, v=ev["val/loss"], a=ev["val/accuracy"])
        if "val/loss" in ev:
            return say("step {s}/{n} · val loss {v:.3f}", "{s}/{n} 스텝 · 검증 손실 {v:.3f}", s=step,
                       n=self.rules.max_steps, v=ev["val/loss"])
        return say("step {s}/{n}", "{s}/{n} 스텝", s=step, n=self.rules.max_steps)

    # -- AdaLoRA reallocates its ranks after each optimizer step ------------------------------------------
    def on_optimizer_step(self, args, state, control, model=None, **kw):
        base = getattr(model, "base_model", None)
        if base is not None and hasattr(base, "update_and_allocate"):
            base.update_and_allocate(state.global_step)
