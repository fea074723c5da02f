"""Chat engine vs plain `model.generate`: tokens/s and time to first token, same model, same settings, same run.

    python bench/chat_bench.py                      # builds a small Llama (hidden 512, 8 layers, ~26M parameters)
    python bench/chat_bench.py --model DIR          # any model folder or artifact folder
    python bench/chat_bench.py --threads 2 --repeats 7 --max-new-tokens 256

Engine side: the caller's clock from `engine.chat(...)` (prompt built with the chat template, model already
cached) to the first generated token and to the last; the reply streams through TextIteratorStreamer in a
thread, with the engine's per-reply seeded sampler. Plain side: `torch.manual_seed(seed)` then
`model.generate(do_sample=True, ...)` on the same token ids; its time to first token is a
`generate(max_new_tokens=1)` call (prefill plus one token). Both produce the same tokens (checked: same_text).
Prints one JSON line; ratios >= 0.9 mean the engine costs at most ~10 %.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _load() -> float:
    import os
    return round(os.getloadavg()[0], 2)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="a model folder (default: build a small Llama here)")
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: stable on a shared machine)")
    p.add_argument("--prompt", default="대한민국 헌법은 어떤 권리를 보장하나요?")
    p.add_argument("--mode", choices=["chat", "continue"], default="chat",
                   help="chat template (default) or plain continuation")
    p.add_argument("--train-steps", type=int, default=0,
                   help="training steps of the built model (default 0: weights do not change the speed, and an "
                        "untrained model rarely ends its turn, so every reply runs the full max-new-tokens)")
    args = p.parse_args(argv)

    import torch

    from state import Workspace
    from workbench.chat.engine import ChatEngine, SamplingParams, messages_from
    from workbench.chat.models import resolve

    if args.threads:
        torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    if args.model:
        model_dir = Path(args.model).resolve()
    else:
        from tests.chat_fixtures import build_tiny_model
        t = time.perf_counter()
        model_dir = build_tiny_model(tmp / "model", hidden=args.hidden, layers=args.layers, heads=8, context=1024,
                                     steps=args.train_steps, vocab_size=2000, batch=8, seq=128)
        print(f"built the bench model in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    ws = Workspace(tmp / "ws")
    engine = ChatEngine(threads=args.threads)
    ref = resolve(ws, str(model_dir))
    ref.meta = dict(ref.meta, chat_model=True)
    lm, _ = engine.load(ref)
    model, tok = lm.model, lm.tokenizer
    params = dict(temperature=0.8, top_k=50, top_p=0.95, repetition_penalty=1.1, max_new_tokens=args.max_new_tokens)
    messages = messages_from([], args.prompt)
    mode = "chat" if lm.has_template and args.mode == "chat" else "continue"

    def tokenize():  # what a plain transformers user does before generate (timed on the plain side too)
        if mode == "chat":
            text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            return tok(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        return tok(args.prompt, return_tensors="pt")["input_ids"]

    ids = tokenize()
    gen_kw = dict(do_sample=True, temperature=params["temperature"], top_k=params["top_k"], top_p=params["top_p"],
                  repetition_penalty=params["repetition_penalty"], eos_token_id=lm.eos_ids, pad_token_id=lm.pad_id)

    def plain(seed: int, n: int):
        torch.manual_seed(seed)
        c0 = time.process_time()
        t0 = time.perf_counter()
        ids = tokenize()
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, **gen_kw)
        cpu["plain"].append(time.process_time() - c0)
        return time.perf_counter() - t0, out[0, ids.shape[1]:]

    cpu = {"plain": [], "engine": []}  # process CPU seconds per reply: unaffected by other jobs on the machine

    def through_engine(seed: int):
        c0 = time.process_time()
        t0 = time.perf_counter()
        g = engine.chat(ref, messages, mode=mode, params=SamplingParams(seed=seed, **params))
        first_piece = None
        for _ in g:
            if first_piece is None:
                first_piece = time.perf_counter() - t0
        cpu["engine"].append(time.process_time() - c0)
        return g, g.times.first - t0, g.times.last - t0, first_piece

    plain(0, args.max_new_tokens)  # warm-up both paths
    through_engine(0)
    cpu = {"plain": [], "engine": []}
    rows = {"engine_tps": [], "engine_ttft": [], "engine_first_text": [], "plain_tps": [], "plain_ttft": []}
    same_text, tokens = True, []
    for r in range(args.repeats):
        seed = 100 + r  # the same seed on both sides: the same tokens
        g, ttft, last, first_piece = through_engine(seed)
        n = g.stats["tokens"]
        rows["engine_tps"].append(n / last)
        rows["engine_ttft"].append(ttft)
        rows["engine_first_text"].append(first_piece or last)
        dt, out = plain(seed, args.max_new_tokens)
        rows["plain_tps"].append(len(out) / dt)
        rows["plain_ttft"].append(plain(seed, 1)[0])
        cpu["plain"].pop()  # keep the full reply's CPU time, not the one-token call's
        same_text &= tok.decode(out, skip_special_tokens=True) == g.text
        tokens.append(n)
    med = {k: statistics.median(v) for k, v in rows.items()}
    # Each engine run is paired with the plain run right after it (same seed, same machine load at that
    # moment); the median of the per-pair ratios is robust to the load that other jobs put on a shared machine.
    ratio_tps = statistics.median(e / p for e, p in zip(rows["engine_tps"], rows["plain_tps"]))
    ratio_ttft = statistics.median(p / e for e, p in zip(rows["engine_ttft"], rows["plain_ttft"]))
    result = {
        "bench": "chat", "device": lm.device, "threads": torch.get_num_threads(), "repeats": args.repeats,
        "model": {"path": str(model_dir), "params": sum(p.numel() for p in model.parameters()), "mode": mode},
        "note": "timed while other jobs loaded the machine" if _load() > 1.5 else "", "load_avg_1m": _load(),
        "settings": params, "prompt_tokens": int(ids.shape[1]), "reply_tokens": tokens,
        "engine": {"tokens_per_s": round(med["engine_tps"], 1), "ttft_ms": round(med["engine_ttft"] * 1000, 2),
                   "first_text_ms": round(med["engine_first_text"] * 1000, 2)},
        "plain_generate": {"tokens_per_s": round(med["plain_tps"], 1), "ttft_ms": round(med["plain_ttft"] * 1000, 2)},
        "ttft_overhead_ms": round(statistics.median((e - p) * 1000 for e, p in zip(rows["engine_ttft"],
                                                                                   rows["plain_ttft"])), 2),
        "ratio": {"tokens_per_s": round(ratio_tps, 3), "ttft": round(ratio_ttft, 3),
                  "how": "median over runs of engine/plain tokens/s and plain/engine TTFT, each pair run back to back"},
        "cpu_s_per_reply": {"engine": round(statistics.median(cpu["engine"]), 4),
                            "plain_generate": round(statistics.median(cpu["plain"]), 4),
                            "ratio": round(statistics.median(p / e for e, p in zip(cpu["engine"], cpu["plain"])), 3)},
        "target": 0.9, "meets_target": ratio_tps >= 0.9 and ratio_ttft >= 0.9, "same_text": same_text,
    }
    print(json.dumps(result, ensure_ascii=False))
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
