"""Architecture bench: every family at the default size, measured by the workbench and by plain transformers.

Prints one JSON line: per family the training-step time and peak memory per sequence length,
decode tokens/s and cache bytes per context length, the fitted log-log exponents, and the
plain-library step time for the same work (the same model class and tokens, a bare
forward+backward loop) with the ratio workbench / plain. The note quotes the exponents.

    python bench/arch_bench.py [--families llama,mamba2] [--seq 256,512,1024,2048] [--threads 2]
    python bench/arch_bench.py --learn

Lengths start at 256: below that, fixed per-step costs hide how attention grows with length.

--learn times the tab's "Show the code" instead: in a fresh Python for each, the workbench's way (the
source read from the module file with ast, and the device / slow-fallback note) against the plain way
(import the modeling module, inspect.getsource), first call and the families after it.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def plain_step_seconds(arch, vocab: int, seq: int, repeats: int) -> float:
    """The same forward+backward with nothing but transformers and torch."""
    import torch
    from transformers import AutoModelForCausalLM

    from workbench.arch.families import hf_config

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(hf_config(arch.replace(context=max(arch.context, seq)), vocab,
                                                       bos=1, eos=2, pad=0)).train()
    x = torch.randint(0, vocab, (1, seq), generator=torch.Generator().manual_seed(0))
    model(input_ids=x, labels=x).loss.backward()  # warm-up, as the workbench does once per model
    model.zero_grad(set_to_none=True)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model(input_ids=x, labels=x).loss.backward()
        times.append(time.perf_counter() - t0)
        model.zero_grad(set_to_none=True)
    return min(times)  # the same statistic as the workbench: best of the repeats


LEARN_PROBE = r"""
import json, sys, time
sys.path.insert(0, {root!r})
way = sys.argv[1]
from workbench.arch.families import FAMILIES
from workbench.arch.learn import CORE, _resolve, core_source_text
from workbench.arch.measure import pick_device, slow_path
times = {{}}
for fam in ["mamba", *[f for f in FAMILIES if f != "mamba"]]:  # mamba: the tab's default family
    t0 = time.perf_counter()
    if way == "workbench":
        slow_path(fam, pick_device("auto"))
        text = core_source_text(fam)
    else:
        import importlib, inspect
        module = importlib.import_module(CORE[fam][0])
        text = "".join(inspect.getsource(_resolve(module, q)) for q in CORE[fam][1])
    times[fam] = round(time.perf_counter() - t0, 4)
print(json.dumps({{"times": times, "torch_imported": "torch" in sys.modules}}))
"""


def learn_bench() -> None:
    root = str(Path(__file__).resolve().parent.parent)
    out = {"bench": "arch-learn", "load_avg": round(os.getloadavg()[0], 2), "cores": os.cpu_count()}
    for way in ("workbench", "plain_import_inspect"):
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", LEARN_PROBE.format(root=root), way.split("_")[0]],
                           capture_output=True, text=True, timeout=600)
        res = json.loads(r.stdout.strip().splitlines()[-1])
        times = res["times"]
        out[way] = {"first_call_s": times["mamba"],
                    "later_calls_max_s": max(v for k, v in times.items() if k != "mamba"),
                    "all_families_s": round(sum(times.values()), 3), "torch_imported": res["torch_imported"],
                    "process_s": round(time.perf_counter() - t0, 2), "per_family_s": times}
    out["first_call_speedup"] = round(out["plain_import_inspect"]["first_call_s"]
                                      / max(out["workbench"]["first_call_s"], 1e-4), 1)
    out["note"] = ("first_call_s is what the first 'Show the code' click costs in a fresh app process (the tab's "
                   "default family, Mamba); the plain way imports torch and the modeling module to read its text")
    print(json.dumps(out, ensure_ascii=False))


def main() -> None:
    if "--learn" in sys.argv[1:]:
        return learn_bench()
    from workbench.arch.families import FAMILIES, ArchConfig
    from workbench.arch.measure import MIN_POINTS, fit_exponent, lengths_for, measure_family

    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--seq", default="256,512,1024,2048")
    ap.add_argument("--slow-seq", default="64,128,256", help="lengths for Mamba/RWKV (slow fallbacks on CPU)")
    ap.add_argument("--ctx", default="128,256,512,1024")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--slow-cap", type=int, default=256)
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    seqs = [int(s) for s in args.seq.split(",")]
    ctxs = [int(s) for s in args.ctx.split(",")]
    slow_seqs = [int(s) for s in args.slow_seq.split(",")]
    out = {"bench": "arch", "device": "cpu", "threads": torch.get_num_threads(), "vocab": args.vocab,
           "size": "ArchConfig() default: depth 4, width 256", "families": {}}
    t_all = time.perf_counter()
    for fam in args.families.split(","):
        arch = ArchConfig(family=fam)
        t0 = time.perf_counter()
        lens = lengths_for(fam, seqs if fam not in ("mamba", "rwkv") else slow_seqs, args.slow_cap, "cpu")
        train, plain = [], {}
        for n in lens:  # workbench and plain library alternate per length, so both see the same machine load
            r = measure_family(arch, vocab=args.vocab, seq_lens=[n], gen_contexts=[], gen_tokens=16, batch=1,
                               repeats=args.repeats, device="cpu", slow_cap=0)  # lengths already chosen
            train += r["train"]
            plain[n] = plain_step_seconds(arch, args.vocab, n, args.repeats)
        g = measure_family(arch, vocab=args.vocab, seq_lens=[], gen_contexts=ctxs, gen_tokens=16, batch=1,
                           repeats=args.repeats, device="cpu", slow_cap=args.slow_cap)
        gen = g["gen"]
        ratios = [p["seconds"] / plain[p["seq"]] for p in train]
        rnd = lambda e: {k: (round(e[k], 2) if e[k] is not None else None)  # noqa: E731
                         for k in ("all", "tail", "spread")}
        out["families"][fam] = {
            "params": g["params"]["total"], "active_params": g["params"]["active"],
            "step_s": {p["seq"]: round(p["seconds"], 4) for p in train},
            "plain_step_s": {n: round(s, 4) for n, s in plain.items()},
            "ratio_workbench_over_plain": round(statistics.median(ratios), 3),
            "peak_mib": {p["seq"]: round(p["peak_bytes"] / 2**20, 2) for p in train},
            "saved_mib": {p["seq"]: round(p["saved_bytes"] / 2**20, 2) for p in train},
            "decode_tok_s": {q["context"]: round(q["tokens_per_s"], 1) for q in gen},
            "cache_kib": {q["cache_tokens"]: round(q["cache_bytes"] / 1024, 1) for q in gen},
            "exponents": {
                "step_time": rnd(fit_exponent([p["seq"] for p in train], [p["seconds"] for p in train])),
                "step_memory": rnd(fit_exponent([p["seq"] for p in train], [p["peak_bytes"] for p in train],
                                                MIN_POINTS["step_memory"])),
                "saved_activations": rnd(fit_exponent([p["seq"] for p in train], [p["saved_bytes"] for p in train],
                                                      MIN_POINTS["step_memory"])),
                "cache_bytes": rnd(g["exponents"]["cache_bytes"]),
                "decode_time_per_token": rnd(g["exponents"]["decode_time_per_token"]),
            },
            "slow_fallback": bool(g["slow_path"]), "seconds": round(time.perf_counter() - t0, 1),
        }
    ex = {f: v["exponents"] for f, v in out["families"].items()}
    out["seconds"] = round(time.perf_counter() - t_all, 1)
    out["note"] = (
        ("CPU; load average above the core count + 1: other work shared the machine (timings are noisy). "
         if os.getloadavg()[0] > (os.cpu_count() or 1) + 1 else "CPU. ")  # this bench alone loads every core
        + "Step-time exponent (log-log, all "
        "lengths / longest pair): " + ", ".join(f"{f} {e['step_time']['all']}/{e['step_time']['tail']}"
                                                for f, e in ex.items())
        + ". Peak-memory exponent: " + ", ".join(f"{f} {e['step_memory']['all']}" for f, e in ex.items())
        + ". Cache exponent (1 = KV cache grows with context, 0 = constant state): "
        + ", ".join(f"{f} {e['cache_bytes']['all']}" for f, e in ex.items())
        + ". Saved-activation exponent: " + ", ".join(f"{f} {e['saved_activations']['all']}" for f, e in ex.items())
        + f". Mamba and RWKV run slow reference loops here (no CUDA kernels) and are measured at {args.slow_seq} "
          "tokens (Mamba's reference scan has a super-linear backward pass; RWKV's loop is linear).")
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
