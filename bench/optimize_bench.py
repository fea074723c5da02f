"""Each CPU quantization method of the Optimize stage on a model pretrained by the project, next to the fp32
original, in one run: decode tokens/s, time to first token, size on disk and perplexity / bits per byte on held-out
text, as the stage itself measures them (the original and each result in a process of its own, on the same prompts
and text). Prints one JSON line.

    python bench/optimize_bench.py --base DIR            # a model folder the project pretrained (e.g. the NSMC bench's)
    python bench/optimize_bench.py                       # pretrains a small Llama on konlpy's bundled text first

Then, in one process and on the same prompts and text, the CPU back-ends side by side (gated on their packages;
skipped with the reason otherwise): fp32 torch, torch dynamic int8 (the stage's int8-dynamic), torchao int8
(dynamic activations + int8 weights, and int8 weight-only; eager, as a laptop runs it), and ONNX Runtime fp32 / int8
(the graph exported with its KV cache by workbench.optimize.ort, int8 by onnxruntime's quantize_dynamic). Decode
tokens/s are medians over interleaved rounds, so a load that comes and goes hits every back-end alike.

Targets (issue 14): at least one CPU method >= 1.4x decode tokens/s at <= 2% perplexity increase; 4-bit size
<= 0.35x of fp32.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_STDOUT = sys.stdout


def _emit(obj: dict) -> None:
    sys.stderr.flush()
    _STDOUT.write(json.dumps(obj, ensure_ascii=False) + "\n")
    _STDOUT.flush()


def pretrain_small(ws, steps: int, threads: int, depth: int, width: int) -> str:
    """A Llama (depth x width, tied embeddings) pretrained by the workbench on konlpy's bundled text."""
    from workbench.artifacts import write_corpus_split
    from workbench.bundled import konlpy_lines
    from workbench.pretrain.stage import PretrainConfig
    from workbench.pretrain.train import run as pretrain_run
    from workbench.runtime import RunContext
    from workbench.tokenizer.quick import quick_bpe
    lines = konlpy_lines()
    stg = ws.staging_dir("corpus", "kolaw")
    write_corpus_split(stg, "train", [{"id": str(i), "text": t, "source": "konlpy"} for i, t in enumerate(lines)])
    ws.publish(stg, "corpus", "kolaw")
    stg = ws.staging_dir("tokenizer", "kolaw")
    quick_bpe(lines, 4000).save_pretrained(stg)
    ws.publish(stg, "tokenizer", "kolaw")
    cfg = PretrainConfig.load(sets=[
        "corpus=kolaw", "tokenizer=kolaw", "arch.family=llama", f"arch.depth={depth}", f"arch.width={width}", "arch.heads=8",
        "arch.context=256", "seq_len=128", "batch_size=16", f"max_steps={steps}", "warmup_steps=10", "lr=2e-3",
        f"eval_every={steps}", "sample_every=0", f"save_every={10 * steps}", f"threads={threads}", "output_name=base"])
    rid = ws.store.create_run("pretrain", cfg.to_dict(), status="running")
    return pretrain_run(cfg, RunContext(ws, rid, "pretrain"))["model_path"]


def backends(base: str, args, texts: list[str], prompts: list[str], tmp: Path) -> dict:
    """Decode tokens/s (greedy with the KV cache, as the stage measures it), perplexity / bits per byte and size of each
    CPU back-end, in this process, rounds interleaved. Back-ends whose package is missing are listed as skipped."""
    import importlib.util
    import statistics
    import warnings

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.evaluate.scoring import perplexity
    from workbench.optimize import int8, ort
    from workbench.optimize.measure import greedy_timed
    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    tok = AutoTokenizer.from_pretrained(base)

    def fp32():
        return AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).eval()

    def dir_mb(folder: Path) -> float:
        return round(sum(f.stat().st_size for f in folder.rglob("*") if f.suffix in (".safetensors", ".onnx", ".data"))
                     / 2**20, 3)

    models, sizes, skipped, build_s = {}, {}, {}, {}
    t = time.perf_counter()
    models["torch-fp32"], sizes["torch-fp32"] = fp32(), dir_mb(Path(base))
    build_s["torch-fp32"] = time.perf_counter() - t
    t = time.perf_counter()
    q = int8.quantize(fp32())
    int8.save(q, tmp / "torch-int8")
    models["torch-int8-dynamic"], sizes["torch-int8-dynamic"] = int8.load(tmp / "torch-int8"), dir_mb(tmp / "torch-int8")
    build_s["torch-int8-dynamic"] = time.perf_counter() - t
    if importlib.util.find_spec("torchao") is None:
        skipped["torchao"] = "torchao not installed (pip install torchao)"
    else:
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, Int8WeightOnlyConfig
        from transformers import TorchAoConfig
        for name, qc in (("torchao-int8-dynamic", Int8DynamicActivationInt8WeightConfig()),
                         ("torchao-int8-weight", Int8WeightOnlyConfig())):
            t = time.perf_counter()  # through transformers: quantize at load, save as safetensors (torchao's
            m = AutoModelForCausalLM.from_pretrained(base, quantization_config=TorchAoConfig(quant_type=qc),
                                                     dtype=torch.float32, device_map="cpu")  # JSON metadata, no pickle)
            m.save_pretrained(tmp / name, safe_serialization=True)
            models[name] = AutoModelForCausalLM.from_pretrained(str(tmp / name), device_map="cpu").eval()
            sizes[name], build_s[name] = dir_mb(tmp / name), time.perf_counter() - t
    why = ort.available()
    if why:
        skipped["onnxruntime"] = why
    else:
        for name, q8 in (("onnxruntime-fp32", False), ("onnxruntime-int8", True)):
            t = time.perf_counter()
            ort.export(Path(base), tmp / name, int8=q8)
            models[name], sizes[name] = ort.load(tmp / name, threads=args.threads), dir_mb(tmp / name)
            build_s[name] = time.perf_counter() - t
    for m in models.values():
        greedy_timed(m, tok, prompts[0], 4)  # warm-up
    rates: dict[str, list[float]] = {k: [] for k in models}
    greedy: dict[str, list] = {k: [] for k in models}
    for r in range(args.rounds):
        for name, m in models.items():
            runs = [greedy_timed(m, tok, p, args.new_tokens) for p in prompts]
            steps = [s for x in runs for s in x["steps_s"]]
            rates[name].append(len(steps) / sum(steps))
            if r == 0:
                greedy[name] = [x["tokens"] for x in runs]
    out = {}
    ref = statistics.median(rates["torch-fp32"])
    i8 = statistics.median(rates["torch-int8-dynamic"])
    for name, m in models.items():
        ppl = perplexity(m, tok, texts, max_length=128, batch_size=4)
        med = statistics.median(rates[name])
        out[name] = {"decode_tokens_per_s": round(med, 2), "rounds": [round(x, 1) for x in rates[name]],
                     "vs_fp32": round(med / ref, 3), "vs_torch_int8": round(med / i8, 3),
                     "ppl": round(ppl["ppl"], 4), "bpb": round(ppl["bpb"], 4), "size_mb": sizes[name],
                     "build_s": round(build_s[name], 1),
                     "greedy_same_as_fp32": sum(a == b for a, b in zip(greedy[name], greedy["torch-fp32"]))
                     / len(prompts)}
    return {"results": out, "skipped": skipped, "rounds": args.rounds}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="", help="a model folder to quantize (skips pretraining)")
    ap.add_argument("--methods", default="int8-dynamic,bnb-int8,bnb-4bit")
    ap.add_argument("--pretrain-steps", type=int, default=300)
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=48)
    ap.add_argument("--batch-sizes", default="1,4")
    ap.add_argument("--text-lines", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the back-end comparison")
    ap.add_argument("--skip-stage", action="store_true", help="only the back-end comparison (not the stage's runs)")
    ap.add_argument("--compute-dtype", default="bf16", help="bnb-4bit compute (and stored float) dtype")
    args = ap.parse_args()
    sys.stdout = sys.stderr  # library chatter away from the one JSON line

    from state import Workspace
    from workbench import runs
    from workbench.optimize.stage import OptimizeConfig
    t_all = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="optimize-bench-"))
    ws = Workspace(tmp / "ws")
    base = args.base or pretrain_small(ws, args.pretrain_steps, args.threads, args.depth, args.width)
    staging = ws.staging_dir("model", "original")
    shutil.copytree(base, staging, dirs_exist_ok=True)
    ws.publish(staging, "model", "original", meta={"stage": "pretrain"})
    results, original = [], None
    for method in ([] if args.skip_stage else args.methods.split(",")):
        cfg = OptimizeConfig.load(sets=[
            "model=original", f"method={method}", f"n_prompts={args.prompts}", f"new_tokens={args.new_tokens}",
            f"batch_sizes={args.batch_sizes}", f"max_rows={args.text_lines}", "max_length=128",
            f"threads={args.threads}", f"compute_dtype={args.compute_dtype}", f"output_name=q-{method}"])
        res = runs.run_in_process("optimize", cfg, ws)
        if res["status"] != "succeeded":
            results.append({"method": method, "status": res["status"], "error": str(res["error"])})
            continue
        s = res["summary"]
        original = original or s["before"]
        results.append({"method": method, "decode_tokens_per_s": s["after"]["decode_tokens_per_s"],
                        "decode_speedup": s["speedup_decode"], "ttft_ms": s["after"]["ttft_ms"],
                        "size_mb": round(s["after"]["size_mb"], 3), "size_ratio": s["size_ratio"],
                        "ppl": s["after"]["ppl"], "ppl_change_pct": s["ppl_change_pct"], "bpb": s["after"]["bpb"],
                        "peak_rss_mb": s["after"]["peak_rss_mb"], "greedy_exact_share": s["greedy_exact_share"],
                        "original_decode_tokens_per_s_this_run": s["before"]["decode_tokens_per_s"]})
    from workbench.evaluate.benchmarks import load_prompts, load_texts
    texts, _ = load_texts("", max_rows=args.text_lines, ws=ws)
    rows, _ = load_prompts("", max_rows=args.prompts, seed=13)
    side = backends(str(base), args, texts, [r["prompt"] for r in rows], tmp / "backends")
    ok = [r for r in results if "decode_speedup" in r]
    fast = [r["method"] for r in ok if r["decode_speedup"] >= 1.4 and (r["ppl_change_pct"] or 0) <= 2]
    four = next((r for r in ok if r["method"] == "bnb-4bit"), None)
    _emit({"bench": "optimize", "model": str(base), "original_fp32": {k: original.get(k) for k in (
        "decode_tokens_per_s", "ttft_ms", "size_mb", "ppl", "bpb", "peak_rss_mb")} if original else None,
        "methods": results, "backends": side, "threads": args.threads, "prompts": args.prompts, "new_tokens": args.new_tokens,
        "targets": {"decode_1.4x_at_ppl_2pct": fast, "bnb4_size_ratio": four["size_ratio"] if four else None,
                    "bnb4_size_target_0.35": bool(four and four["size_ratio"] <= 0.35)},
        "note": "each method's run measures the fp32 original again next to its result (same prompts, text, "
                "threads); the original's decode tokens/s of that run is listed per method",
        "wall_s": round(time.perf_counter() - t_all, 1), "workspace": str(tmp)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
