"""The Home tab's two checks next to the plain way of doing them, in the same run.

- Run a model: `workbench.home.run_model` on a model artifact of a fresh workspace vs a plain `transformers`
  text-generation pipeline loaded from the same folder, generating with the same settings (decode tokens/s, medians
  of --repeats alternating runs; ratio = workbench / plain).
- The environment: `workbench.home.env.report` (every optional package's import tried in child processes, 4 at
  once, plus the GPUs) vs the plain way, one `python -c "import X"` after another for the same packages (seconds;
  ratio = plain / workbench, above 1 means the check is faster than doing it by hand).
Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def plain_generate(folder: Path, prompt: str, new_tokens: int, seed: int) -> float:
    """Decode tokens/s of a plain text-generation pipeline on `folder`, loading excluded (as run_model times it)."""
    import torch
    from transformers import pipeline
    gen = pipeline("text-generation", model=str(folder), device="cpu")
    pad = gen.tokenizer.pad_token_id if gen.tokenizer.pad_token_id is not None else gen.tokenizer.eos_token_id
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    out = gen(prompt, max_new_tokens=new_tokens, do_sample=True, top_k=50, temperature=0.8, return_tensors=True,
              pad_token_id=pad)
    secs = time.perf_counter() - t0
    n_prompt = len(gen.tokenizer(prompt)["input_ids"])
    return (len(out[0]["generated_token_ids"]) - n_prompt) / secs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--depth", type=int, default=4)
    args = ap.parse_args()

    import torch

    from random_llama import publish_random_llama
    from state import Workspace
    from workbench.home import env
    from workbench.home.run_model import DEFAULT_PROMPT, run_model

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "ws")
        _, folder = publish_random_llama(ws, "bench-llama", depth=args.depth, width=args.width, heads=4)

        wb, plain = [], []
        for i in range(args.repeats):  # alternating, so drifting machine load hits both alike
            wb.append(run_model(ws, prompt=DEFAULT_PROMPT, max_new_tokens=args.new_tokens, seed=i)["tokens_per_s"])
            plain.append(plain_generate(folder, DEFAULT_PROMPT, args.new_tokens, i))

    t0 = time.perf_counter()
    rep = env.report(fresh=True)
    env_s = time.perf_counter() - t0
    probed = [r["module"] for r in rep["optional"] if r["usable"] is not None and r.get("import_seconds") is not None]
    t0 = time.perf_counter()
    for module in probed:  # by hand: each package, one at a time (torch is loaded here: both ask it of the GPUs)
        subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    plain_env_s = time.perf_counter() - t0

    wb_m, plain_m = statistics.median(wb), statistics.median(plain)
    print(json.dumps({
        "bench": "home", "model": f"llama {args.depth}x{args.width}", "new_tokens": args.new_tokens,
        "repeats": args.repeats, "run_model_tok_s": round(wb_m, 1), "plain_pipeline_tok_s": round(plain_m, 1),
        "run_model_ratio": round(wb_m / plain_m, 3),
        "env_check_s": round(env_s, 2), "plain_imports_s": round(plain_env_s, 2),
        "env_ratio": round(plain_env_s / env_s, 2), "packages_checked": probed,
        "torch_threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
