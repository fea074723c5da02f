"""The hand-written training loop the benches compare the workbench's trainer with: forward, backward, clipping,
AdamW step, schedule step, zero_grad, one optimizer step per batch; returns each step's seconds."""
from __future__ import annotations

import time
from typing import Callable


def step_seconds(model, batch_at: Callable[[int], dict], steps: int, opt, sched, grad_clip: float) -> list[float]:
    """Train `model` for `steps` steps on batch_at(step) (keyword arguments of the model's forward, labels
    included) and time each step."""
    import torch
    model.train()
    times = []
    for step in range(steps):
        t = time.perf_counter()
        loss = model(**batch_at(step)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        loss.item()  # wait for the step to finish, as the Trainer's logging does
        times.append(time.perf_counter() - t)
    return times
