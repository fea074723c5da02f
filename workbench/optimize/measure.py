"""Before/after measurements of one model folder, in a process of its own so that its peak memory is its own:
time to first token, per-token decode latency (p50/p95), prefill tokens/s, throughput at batch sizes 1..N,
perplexity and bits per byte on held-out text, and the greedy tokens (the parent compares them with the
original's). Loads plain, bitsandbytes, the project's int8 and ONNX (ONNX Runtime) folders.

    python -m workbench.optimize.measure SPEC.json      # prints one JSON line
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ..errors import UserError
from ..i18n import say


def load_model(folder: Path, task: str = "causal-lm", threads: int = 0):
    """(model in eval mode, tokenizer) of a plain, bitsandbytes, int8 or ONNX folder (an ONNX Runtime session)."""
    import torch
    from transformers import AutoTokenizer

    from . import int8
    from .quantize import model_class
    folder = Path(folder)
    tok = AutoTokenizer.from_pretrained(str(folder))
    if int8.is_int8_folder(folder):
        return int8.load(folder, task=task), tok
    from . import ort
    if ort.is_onnx_folder(folder):
        return ort.load(folder, threads=threads), tok
    cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    kw = {"device_map": "cpu"} if "quantization_config" in cfg else {"dtype": torch.float32}
    model = model_class(task).from_pretrained(str(folder), **kw).eval()
    if tok.pad_token_id is None and model.config.pad_token_id is not None:
        tok.pad_token_id = model.config.pad_token_id
    return model, tok


def _rss_mb() -> float:
    import psutil
    return psutil.Process().memory_info().rss / 2**20


def greedy_timed(model, tok, prompt: str, new_tokens: int) -> dict:
    """A greedy decode with the KV cache, timed step by step: prefill (the prompt's forward pass and the first token)
    and each later token's forward pass."""
    import torch

    from workbench.kvcache import cache_kwarg, returned_cache
    ids = torch.tensor([tok(prompt)["input_ids"]])
    out_ids, kw = [], cache_kwarg(model)
    with torch.no_grad():
        t0 = time.perf_counter()
        out = model(input_ids=ids, use_cache=True)
        nxt = out.logits[:, -1].argmax(-1)
        ttft = time.perf_counter() - t0
        out_ids.append(int(nxt))
        past, steps = returned_cache(out), []
        for _ in range(new_tokens - 1):
            t = time.perf_counter()
            out = model(input_ids=nxt[:, None], use_cache=True, **{kw: past})
            nxt = out.logits[:, -1].argmax(-1)
            steps.append(time.perf_counter() - t)
            past = returned_cache(out)
            out_ids.append(int(nxt))
    return {"prompt_tokens": ids.shape[1], "ttft_s": ttft, "steps_s": steps, "tokens": out_ids}


def throughput(model, tok, prompts: list[str], batch: int, new_tokens: int) -> float:
    """Generated tokens per second for a batch of `batch` prompts (left-padded), greedy, exactly new_tokens each."""
    import torch
    texts = [prompts[i % len(prompts)] for i in range(batch)]
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    enc = [tok(t)["input_ids"] for t in texts]
    n = max(map(len, enc))
    ids = torch.tensor([[pad] * (n - len(e)) + e for e in enc])
    mask = torch.tensor([[0] * (n - len(e)) + [1] * len(e) for e in enc])
    with torch.no_grad():
        t0 = time.perf_counter()
        model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                       do_sample=False, pad_token_id=pad)
        secs = time.perf_counter() - t0
    return batch * new_tokens / secs


def measure_classifier(model, tok, spec: dict) -> dict:
    """A classifier's figures: accuracy and macro-F1 on the labelled rows (labels mapped to the model's ids by the
    parent), examples/s at each batch size, per-example latency at batch 1, and its predictions."""
    from ..evaluate import metrics, scoring
    rows, to_model = spec["rows"], spec["label_map"]
    items = scoring.encode_rows(tok, rows, int(spec["max_length"]))
    scoring.classify(model, tok, items[:2], batch_size=2)  # warm-up
    rates = {}
    for b in spec["batch_sizes"]:
        t = time.perf_counter()
        probs = scoring.classify(model, tok, items, batch_size=int(b))
        rates[str(b)] = round(len(items) / (time.perf_counter() - t), 2)
    lat = []
    for it in items[:min(len(items), 32)]:
        t = time.perf_counter()
        scoring.classify(model, tok, [it], batch_size=1)
        lat.append(time.perf_counter() - t)
    inv = {m: d for d, m in enumerate(to_model)}
    preds = [inv.get(max(range(len(p)), key=p.__getitem__), -1) for p in probs]
    names = spec["names"]
    m = metrics.classification_metrics([r["label"] for r in rows], [max(p, 0) for p in preds], names)
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "examples_per_s": rates,
            "ms_per_example": round(1000 * statistics.median(lat), 3), "greedy": [[p] for p in preds]}


def measure(spec: dict) -> dict:
    """Every figure for one folder. spec: folder, task, prompts, new_tokens, batch_sizes, texts, max_length, threads
    (a classifier: rows, names, label_map instead of prompts and texts)."""
    import torch

    from ..evaluate.scoring import perplexity
    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    base_rss = _rss_mb()
    t0 = time.perf_counter()
    task = spec.get("task", "causal-lm")
    model, tok = load_model(Path(spec["folder"]), task, threads=int(spec.get("threads") or 0))
    load_s = time.perf_counter() - t0
    if task == "sequence-classification":
        return {"folder": spec["folder"], "load_s": round(load_s, 3), **measure_classifier(model, tok, spec),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "rss_before_load_mb": round(base_rss, 1)}
    prompts, new = spec["prompts"], int(spec["new_tokens"])
    greedy_timed(model, tok, prompts[0], 2)  # warm-up (first calls allocate and pick kernels)
    runs = [greedy_timed(model, tok, p, new) for p in prompts]
    steps = sorted(s for r in runs for s in r["steps_s"])
    q = statistics.quantiles(steps, n=20) if len(steps) >= 2 else steps * 19
    prefill = sum(r["prompt_tokens"] for r in runs) / sum(r["ttft_s"] for r in runs)
    tput = {str(b): round(throughput(model, tok, prompts, b, new), 2) for b in spec["batch_sizes"]}
    ppl = perplexity(model, tok, spec["texts"], max_length=int(spec["max_length"]), batch_size=4) \
        if spec.get("texts") else {}
    return {"folder": spec["folder"], "load_s": round(load_s, 3),
            "ttft_ms": round(1000 * statistics.median(r["ttft_s"] for r in runs), 3),
            "decode_ms_p50": round(1000 * statistics.median(steps), 3) if steps else None,
            "decode_ms_p95": round(1000 * q[18], 3) if steps else None,
            "decode_tokens_per_s": round(len(steps) / sum(steps), 2) if steps else None,
            "prefill_tokens_per_s": round(prefill, 2), "throughput_tokens_per_s": tput,
            "ppl": ppl.get("ppl"), "bpb": ppl.get("bpb"), "eval_tokens": ppl.get("tokens"),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_before_load_mb": round(base_rss, 1), "greedy": [r["tokens"] for r in runs]}


def measure_in_child(spec: dict, timeout: float = 3600) -> dict:
    """measure(spec) in a fresh Python process (its peak RSS is this model's alone)."""
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False)
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "TOKENIZERS_PARALLELISM": "false"}
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    try:
        proc = subprocess.run([sys.executable, "-m", "workbench.optimize.measure", f.name], capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=root)
    finally:
        os.unlink(f.name)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise UserError(say("measuring {f} failed: {e}", "{f} 측정이 실패했습니다: {e}", f=spec["folder"],
                            e=" | ".join(tail)[-400:]))
    return json.loads(lines[-1])


def agreement(original: list[list[int]], other: list[list[int]]) -> dict:
    """How far the greedy outputs agree with the original's: the share of prompts answered identically, and the
    mean share of tokens before the first difference."""
    same = [a == b for a, b in zip(original, other)]
    prefix = []
    for a, b in zip(original, other):
        k = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        prefix.append(k / max(1, len(a)))
    return {"greedy_exact_share": sum(same) / max(1, len(same)), "greedy_prefix_share": sum(prefix) / max(1, len(prefix))}


def main(argv=None) -> int:
    from ..runtime import quiet_third_party
    quiet_third_party()
    spec = json.loads(Path((argv or sys.argv[1:])[0]).read_text(encoding="utf-8"))
    try:
        out = measure(spec)
    except UserError as e:
        print(str(e), file=sys.stderr)
        return 2
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
