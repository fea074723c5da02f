"""Held-out loss, perplexity and bits per byte (tokenizer-independent, so models with different
tokenizers compare fairly), for any causal LM and any batches of input_ids (with labels, -100 = not scored)."""
from __future__ import annotations

import math
from typing import Callable, Sequence


def stack_batch(items: list[dict]) -> dict:
    """Default collation: stack each tensor field of equally long examples."""
    import torch
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def heldout_loss(model, dataset: Sequence[dict], *, batch_size: int, n_bytes: int, bf16: bool = False,
                 collate: Callable[[list[dict]], dict] = stack_batch, prefix: str = "val/") -> dict:
    """Mean next-token loss over every scored token of `dataset`, its perplexity, and bits per byte of the
    `n_bytes` UTF-8 bytes those tokens decode to. The model is left in training mode."""
    import torch

    model.eval()
    nats, n_pred = 0.0, 0
    dev = next(model.parameters()).device
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            batch = collate([dataset[i] for i in range(start, min(len(dataset), start + batch_size))])
            ids = batch["input_ids"].to(dev)
            labels = batch["labels"].to(dev) if "labels" in batch else ids
            kw = {"attention_mask": batch["attention_mask"].to(dev)} if "attention_mask" in batch else {}
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                loss = model(input_ids=ids, labels=labels, **kw).loss.float().item()
            k = int((labels[:, 1:] != -100).sum())  # the tokens the shifted loss averaged over
            nats += loss * k
            n_pred += k
    model.train()
    loss = nats / max(1, n_pred)
    return {f"{prefix}loss": loss, f"{prefix}ppl": math.exp(min(loss, 50)),
            f"{prefix}bpb": nats / math.log(2) / max(1, n_bytes)}
