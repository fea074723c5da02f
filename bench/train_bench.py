"""Tokens/s of the workbench pretrainer (HF Trainer + live metrics) vs a minimal hand-written PyTorch loop
on the same model, batch, sequence length, data and threads, in the same run; plus MFU against this
machine's measured matmul peak. Prints one JSON line.

    python bench/train_bench.py [--steps 60] [--depth 4] [--batch 16] [--seq 128]
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
from plain_loop import step_seconds  # noqa: E402 - bench/ is the script's folder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=10, help="steps excluded from the plain loop's timing")
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch
    from transformers import PreTrainedTokenizerFast, get_scheduler

    from state import Workspace
    from workbench.arch.families import build_model
    from workbench.artifacts import write_corpus_split
    from workbench.pretrain.data import BlockDataset, TextSource, build_token_cache
    from workbench.pretrain.flops import measured_peak_flops
    from workbench.pretrain.stage import PretrainConfig
    from workbench.pretrain.train import run as pretrain_run
    from workbench.runtime import RunContext
    from workbench.bundled import konlpy_lines
    from workbench.tokenizer.quick import quick_bpe

    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp())
    ws = Workspace(tmp / "ws")
    lines = konlpy_lines() * 3
    stg = ws.staging_dir("corpus", "bench")
    write_corpus_split(stg, "train", [{"id": str(i), "text": t, "source": "konlpy"} for i, t in enumerate(lines)])
    ws.publish(stg, "corpus", "bench")
    fast = quick_bpe(lines, 4000)
    stg = ws.staging_dir("tokenizer", "bench")
    fast.save_pretrained(stg)
    ws.publish(stg, "tokenizer", "bench")

    cfg = PretrainConfig.load(sets=[
        "corpus=bench", "tokenizer=bench", f"arch.depth={args.depth}", f"seq_len={args.seq}",
        f"batch_size={args.batch}", f"max_steps={args.steps}", "warmup_steps=5", f"eval_every={10 * args.steps}",
        "sample_every=0", f"save_every={10 * args.steps}", f"threads={args.threads}", "val_fraction=0.02"])

    # 1) the workbench trainer, in-process, exactly the stage function the CLI and the UI run
    rid = ws.store.create_run("pretrain", cfg.to_dict(), status="running")
    t0 = time.perf_counter()
    summary = pretrain_run(cfg, RunContext(ws, rid, "pretrain"))
    wb_wall = time.perf_counter() - t0
    rates = [m["value"] for m in ws.store.metrics(rid, ["train/tokens_per_s"])]
    wb_tps = statistics.median(rates[2:] or rates)  # the first logs include start-up

    # 2) a minimal hand-written loop: same model init, data blocks, optimizer, schedule, clipping
    tokenizer = PreTrainedTokenizerFast.from_pretrained(ws.artifact_dir("tokenizer", "bench"))
    cache = build_token_cache(TextSource(ws.artifact_dir("corpus", "bench")), tokenizer, ws.root / "cache" / "tokens",
                              val_fraction=cfg.val_fraction)
    ds = BlockDataset(cache.tokens("train"), args.seq)
    model = build_model(cfg.arch, len(tokenizer), bos=tokenizer.bos_token_id, eos=tokenizer.eos_token_id,
                        pad=tokenizer.pad_token_id, seed=cfg.seed)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.95))
    sched = get_scheduler("cosine_with_min_lr", opt, num_warmup_steps=5, num_training_steps=args.steps,
                          scheduler_specific_kwargs={"min_lr_rate": cfg.min_lr_ratio})
    g = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(len(ds), generator=g).tolist()

    def batch_at(step):
        ids = torch.stack([ds[order[(step * args.batch + j) % len(order)]]["input_ids"] for j in range(args.batch)])
        return {"input_ids": ids, "labels": ids}

    times = step_seconds(model, batch_at, args.steps, opt, sched, cfg.grad_clip)
    plain_tps = args.batch * args.seq / statistics.median(times[args.warmup:])

    from workbench.arch import paper
    from workbench.arch.families import count_params, hf_config
    params = count_params(model)
    flops_tok = paper.flops_per_token(hf_config(cfg.arch, len(tokenizer)), args.seq // 2)["train"]
    peak = measured_peak_flops("cpu", "fp32")
    print(json.dumps({
        "bench": "train", "family": cfg.arch.family, "depth": args.depth, "params": params["total"],
        "batch": args.batch, "seq_len": args.seq, "threads": args.threads, "steps": args.steps,
        "workbench_tokens_per_s": round(wb_tps, 1), "plain_loop_tokens_per_s": round(plain_tps, 1),
        "ratio": round(wb_tps / plain_tps, 3), "target_ratio": 0.9,
        "workbench_mfu": round(wb_tps * flops_tok / peak, 4), "plain_loop_mfu": round(plain_tps * flops_tok / peak, 4),
        "peak_matmul_gflops": round(peak / 1e9, 1), "flops_per_token": flops_tok,
        "workbench_wall_s": round(wb_wall, 2), "final_val_loss": summary.get("val_loss")}))


if __name__ == "__main__":
    main()
