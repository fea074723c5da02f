"""Sample generations during training, so a person sees what the model says as it learns."""
from __future__ import annotations

import re

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def hangul_ratio(text: str) -> float:
    """Share of the non-space characters that are Hangul syllables."""
    letters = [c for c in text if not c.isspace()]
    return sum(1 for c in letters if HANGUL.match(c)) / len(letters) if letters else 0.0


def generate_samples(model, tokenizer, prompts: list[str], *, max_new_tokens: int, seed: int, top_k: int = 50,
                     temperature: float = 0.8, greedy: bool = False, shown: list[str] | None = None) -> list[dict]:
    """One continuation per prompt, reproducible (its own seed; the training RNG is left untouched). prompts are
    the texts the model reads (for a chat model: rendered through its chat template); shown, what the panel
    displays as the prompt (default: the prompt itself)."""
    import torch

    model.eval()
    out = []
    dev = next(model.parameters()).device
    sample = {} if greedy else {"top_k": top_k, "temperature": temperature}
    with torch.no_grad(), torch.random.fork_rng(devices=[] if dev.type == "cpu" else [dev]):
        torch.manual_seed(seed)
        for i, prompt in enumerate(prompts):
            enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(dev)
            if enc["input_ids"].shape[1] == 0:
                continue
            gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=not greedy, **sample,
                                 pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                                 eos_token_id=tokenizer.eos_token_id)
            text = tokenizer.decode(gen[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
            out.append({"prompt": shown[i] if shown else prompt, "text": text})
    model.train()
    return out


def record_samples(ctx, step: int, samples: list[dict]) -> None:
    """Store samples for the job panel, with their mean Hangul share as a metric."""
    if samples:
        ctx.event("sample", {"step": step, "samples": samples})
        ctx.metrics(step, {"sample/hangul_ratio": sum(hangul_ratio(s["text"]) for s in samples) / len(samples)})
