"""The same-data race: every selected family trained on exactly the same token batches.

One token stream (the corpus through one tokenizer) is cut into sequences; the last few are
held out for evaluation and never trained on. Every family starts from the same seed and sees
the same batches in the same order with the same optimizer settings, so the differences in the
loss curves come from the architectures (and their speed on this machine) alone.

The held-out loss is evaluated every `eval_every` steps (its time is not counted as training
time), so the families are compared on the same held-out text two ways:
- at equal tokens: the held-out loss after all the tokens (and the training loss of the last steps);
- at equal wall time: the held-out loss each family had at its last evaluation within the
  fastest-finishing family's training time (the shortest total among them).
Training losses alone would not do for the second: at equal time the families are at different
places in the data, and batches differ in difficulty.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

from .families import FAMILIES, ArchConfig, build_model


@dataclass
class RaceData:
    train: Any       # LongTensor [n_train_seqs, seq]
    held_out: Any    # LongTensor [n_eval_seqs, seq]
    tokens_available: int
    epochs: float    # how many passes over the text the race needs (> 1: the text repeats)


def make_data(token_ids: list[int], *, seq: int, batch: int, steps: int, eval_batches: int) -> RaceData:
    """Cut one token stream into training and held-out sequences (held-out from the end, never trained on)."""
    import torch

    from ..errors import UserError
    from ..i18n import say

    n_eval = eval_batches * batch
    n_seqs = len(token_ids) // seq
    if n_seqs < n_eval + 1:
        raise UserError(say("the race text gives only {n:,} tokens ({s} sequences of {seq}); it needs at least "
                            "{need:,}: use a bigger corpus, shorter race.seq_len or fewer race.eval_batches",
                            "경주 텍스트가 토큰 {n:,}개(길이 {seq}의 시퀀스 {s}개)뿐인데 적어도 {need:,}개가 "
                            "필요합니다. 더 큰 말뭉치를 쓰거나 race.seq_len 이나 race.eval_batches 를 줄이세요",
                            n=len(token_ids), s=n_seqs, seq=seq, need=(n_eval + 1) * seq))
    data = torch.tensor(token_ids[: n_seqs * seq], dtype=torch.long).view(n_seqs, seq)
    held_out, train = data[n_seqs - n_eval:], data[: n_seqs - n_eval]
    need = steps * batch
    epochs = need / len(train)
    if need > len(train):  # repeat the training sequences in order (stated in the summary)
        reps = math.ceil(need / len(train))
        train = train.repeat(reps, 1)
    return RaceData(train=train[:need], held_out=held_out, tokens_available=len(token_ids), epochs=epochs)


def encode_stream(tok, texts: list[str], max_tokens: int) -> list[int]:
    """Texts -> one stream of ids, documents separated by the end-of-text token."""
    eos = tok.eos_token_id
    ids: list[int] = []
    for t in texts:
        ids.extend(tok(t, add_special_tokens=False)["input_ids"])
        if eos is not None:
            ids.append(eos)
        if len(ids) >= max_tokens:
            break
    return ids[:max_tokens]


def _lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))  # cosine down to 10 %


def held_out_loss(model, held_out, batch: int, device: str) -> float:
    import torch

    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(held_out), batch):
            x = held_out[i:i + batch].to(device)
            total += float(model(input_ids=x, labels=x).loss) * len(x)
            n += len(x)
    model.train()
    return total / max(1, n)


def train_family(arch: ArchConfig, data: RaceData, *, vocab: int, special: dict, batch: int, lr: float,
                 warmup: int, seed: int, device: str, dtype: str = "float32", eval_every: int = 4,
                 on_step: Callable[[int, int, float, float], None] | None = None,
                 on_eval: Callable[[int, float, float], None] | None = None,
                 should_stop: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    """Train one family on the race batches.

    on_step(step, tokens, loss, elapsed_s) after every step; on_eval(tokens, held_out_loss, elapsed_s)
    after every evaluation (every `eval_every` steps and at the end).
    """
    import torch

    from .paper import params as paper_params

    seq = data.train.shape[1]
    arch = arch.replace(context=max(arch.context, seq))
    model = build_model(arch, vocab, bos=special.get("bos"), eos=special.get("eos"), pad=special.get("pad"),
                        seed=seed)
    model.to(device=device, dtype=getattr(torch, dtype)).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    steps = len(data.train) // batch
    curve: list[dict[str, float]] = []
    evals: list[dict[str, float]] = []
    elapsed = 0.0

    def evaluate(tokens: int) -> None:
        loss = held_out_loss(model, data.held_out, batch, device)
        evals.append({"tokens": tokens, "loss": loss, "seconds": elapsed})
        if on_eval:
            on_eval(tokens, loss, elapsed)

    for step in range(steps):
        if should_stop():
            break
        x = data.train[step * batch:(step + 1) * batch].to(device)
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, steps, lr, warmup)
        t0 = time.perf_counter()
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        value = float(loss.detach())  # syncs, so the step time is complete on a GPU too
        elapsed += time.perf_counter() - t0
        tokens = (step + 1) * batch * seq
        curve.append({"step": step + 1, "tokens": tokens, "loss": value, "seconds": elapsed})
        if on_step:
            on_step(step + 1, tokens, value, elapsed)
        if eval_every and (step + 1) % eval_every == 0 and step + 1 < steps:
            evaluate(tokens)
    if curve:
        evaluate(curve[-1]["tokens"])
    held = evals[-1]["loss"] if evals else float("nan")
    p = paper_params(model.config)
    del model, opt
    tail = curve[-max(1, len(curve) // 10):]
    return {"family": arch.family, "label": FAMILIES[arch.family][0], "curve": curve, "evals": evals,
            "steps": len(curve),
            "tokens": curve[-1]["tokens"] if curve else 0, "seconds": elapsed,
            "tokens_per_s": (curve[-1]["tokens"] / elapsed) if curve and elapsed else 0.0,
            "final_train_loss": sum(c["loss"] for c in tail) / len(tail) if tail else float("nan"),
            "held_out_loss": held, "params": p["total"], "active_params": p["active"],
            "non_embedding_params": p["non_embedding"], "finished": len(curve) == steps}


def held_out_at_time(evals: list[dict[str, float]], seconds: float) -> tuple[float, int]:
    """The held-out loss at the last evaluation done within `seconds` of training, and its tokens."""
    done = [e for e in evals if e["seconds"] <= seconds + 1e-9]
    if not done:
        return float("nan"), 0
    return done[-1]["loss"], int(done[-1]["tokens"])


def table(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows at equal tokens and at equal wall time (the shortest finished family's training time)."""
    finished = [r for r in results if r["curve"]]
    budget = min((r["seconds"] for r in finished), default=0.0)
    rows = []
    for r in results:
        loss_t, tokens_t = held_out_at_time(r.get("evals", []), budget)
        rows.append({"family": r["family"], "label": r["label"], "params": r["params"],
                     "active_params": r["active_params"], "tokens": r["tokens"], "seconds": r["seconds"],
                     "tokens_per_s": r["tokens_per_s"], "loss_equal_tokens": r["final_train_loss"],
                     "held_out_loss": r["held_out_loss"], "loss_equal_time": loss_t,
                     "tokens_by_equal_time": tokens_t})
    def known(v) -> bool:  # nan (or None, from JSON) = no value
        return v is not None and v == v

    best_tok = min((x for x in rows if known(x["held_out_loss"])), key=lambda x: x["held_out_loss"], default=None)
    best_time = min((x for x in rows if known(x["loss_equal_time"])), key=lambda x: x["loss_equal_time"],
                    default=None)
    return {"rows": rows, "equal_time_budget_s": budget,
            "best_at_equal_tokens": best_tok["family"] if best_tok else None,
            "best_at_equal_time": best_time["family"] if best_time else None}
