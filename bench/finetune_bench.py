"""Fine-tuning methods on NSMC (Korean movie-review sentiment) in one run, on the same split and seed:
LoRA vs DoRA vs WaveFT vs full fine-tuning of the same small base (pretrained here first, with the workbench's own
pretrain stage, on NSMC's unlabeled raw reviews), each in its own process so that its peak RSS is its own; next to
a character TF-IDF + logistic-regression baseline (scikit-learn) on the same train/test rows; and the workbench
trainer's tokens/s against a plain PEFT + PyTorch loop on the same LoRA model and batches. Prints one JSON line.

    python bench/finetune_bench.py [--train-rows 4000] [--test-rows 2000] [--steps 150] [--threads 2] [--base DIR]

Skips cleanly (one JSON line with "skipped") when ../shared/data is not beside the project.
Caveat printed with the figures: the raw-review crawl used to pretrain the base contains NSMC's train reviews as
unlabeled text (never their labels), so the test texts were seen unlabeled; the TF-IDF baseline never sees them.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from plain_loop import step_seconds  # noqa: E402 - bench/ is the script's folder
DATA = ROOT.parent / "shared" / "data"


_STDOUT = sys.stdout


def _emit(obj: dict) -> None:
    """The one JSON line, on the real stdout (library chatter was sent to stderr)."""
    sys.stderr.flush()
    _STDOUT.write(json.dumps(obj, ensure_ascii=False) + "\n")
    _STDOUT.flush()


def pretrain_base(ws, args, held_out: set[str]) -> str:
    """A small Llama pretrained on raw reviews with the workbench's pretrain stage (a `model` artifact); reviews
    identical to a validation or test review of the fine-tuning split are left out (held_out)."""
    from workbench.artifacts import write_corpus_split
    from workbench.pretrain.stage import PretrainConfig
    from workbench.pretrain.train import run as pretrain_run
    from workbench.runtime import RunContext
    from workbench.tokenizer.quick import quick_bpe

    lines, skipped = [], 0
    with gzip.open(DATA / "pretrain" / "nsmc_raw_reviews_no_test.txt.gz", "rt", encoding="utf-8") as f:
        for ln in f:
            ln = ln.strip()
            if ln in held_out:
                skipped += 1
            elif len(ln) >= 5:
                lines.append(ln)
            if len(lines) >= args.pretrain_lines:
                break
    stg = ws.staging_dir("corpus", "reviews")
    write_corpus_split(stg, "train", [{"id": str(i), "text": t, "source": "nsmc-raw"} for i, t in enumerate(lines)])
    ws.publish(stg, "corpus", "reviews")
    fast = quick_bpe(lines, args.vocab)
    stg = ws.staging_dir("tokenizer", "reviews")
    fast.save_pretrained(stg)
    ws.publish(stg, "tokenizer", "reviews")
    cfg = PretrainConfig.load(sets=[
        "corpus=reviews", "tokenizer=reviews", "arch.family=llama", f"arch.depth={args.depth}",
        f"arch.width={args.width}", "arch.heads=4", "arch.context=128", "seq_len=64", "batch_size=32",
        f"max_steps={args.pretrain_steps}", "warmup_steps=20", "lr=3e-3", f"eval_every={args.pretrain_steps}",
        "sample_every=0", f"save_every={10 * args.pretrain_steps}", f"threads={args.threads}", "val_fraction=0.01",
        "output_name=base"])
    rid = ws.store.create_run("pretrain", cfg.to_dict(), status="running")
    out = pretrain_run(cfg, RunContext(ws, rid, "pretrain"))
    return out["model_path"], out.get("val_loss"), {"lines": len(lines), "held_out_lines_left_out": skipped}


def run_method(ws_root: Path, method: str, common: list[str], full_lr: float) -> dict:
    """One fine-tune through the CLI, in its own process (its peak RSS is its own)."""
    cmd = [sys.executable, "-m", "workbench", "finetune", "--workspace", str(ws_root)]
    extra = [f"method={method}", f"output_name=nsmc-{method}"]
    if method == "full":
        extra.append(f"lr={full_lr}")
    for item in common + extra:
        cmd += ["--set", item]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    wall = time.perf_counter() - t0
    try:
        out = json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"method": method, "error": p.stderr[-500:]}
    if not out.get("ok"):
        return {"method": method, "error": out.get("error")}
    return {"method": method, "test_accuracy": out.get("test_accuracy"), "test_macro_f1": out.get("test_macro_f1"),
            "val_accuracy": out.get("val_accuracy"), "trainable_params": out["trainable_params"],
            "trainable_pct": round(100 * out["trainable_share"], 4), "train_s": out["seconds_training"],
            "wall_s": round(wall, 1), "peak_rss_mb": out["peak_rss_mb"], "tokens_per_s": out.get("train_tokens_per_s"),
            "run_id": out["run_id"]}


def tfidf_baseline(prep) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    t0 = time.perf_counter()
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
    xtr = vec.fit_transform([r["text"] for r in prep.rows["train"]])
    clf = LogisticRegression(max_iter=1000, C=2.0).fit(xtr, [r["label"] for r in prep.rows["train"]])
    pred = clf.predict(vec.transform([r["text"] for r in prep.rows["test"]]))
    gold = [r["label"] for r in prep.rows["test"]]
    return {"test_accuracy": round(float(accuracy_score(gold, pred)), 4),
            "test_macro_f1": round(float(f1_score(gold, pred, average="macro")), 4),
            "features": int(xtr.shape[1]), "wall_s": round(time.perf_counter() - t0, 2)}


def plain_loop_tokens_per_s(cfg, base_path: str, prep, steps: int, threads: int) -> float:
    """The same LoRA model (peft's get_peft_model on the same base and targets) trained by a hand-written AdamW loop
    on batches drawn the same way; tokens/s counted like the workbench does (mean tokens per example x batch)."""
    import torch
    from transformers import AutoTokenizer, get_scheduler

    from workbench.finetune import data as D
    from workbench.finetune.model import Base, ensure_pad, load_config, load_for_training, plan
    from workbench.training.hardware import Hardware
    torch.set_num_threads(threads)
    base = Base(ref=base_path, path=base_path)
    tok = AutoTokenizer.from_pretrained(base_path)
    ensure_pad(tok, "classification")
    config = load_config(base)
    p = plan(cfg, config, labels=prep.labels, pad_id=tok.pad_token_id, total_steps=steps)
    hw = Hardware(device="cpu", bf16=False, fp16=False, world=1, local_world=1)
    model = load_for_training(cfg, base, config, p, hw, labels=prep.labels, pad_id=tok.pad_token_id)
    items = [{"input_ids": D.encode_classification(tok, r["text"], None, cfg.max_length), "labels": r["label"]}
             for r in prep.rows["train"]]
    collate = D.make_collator(tok.pad_token_id)
    mean_tokens = sum(len(it["input_ids"]) for it in items) / len(items)
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=cfg.lr,
                            weight_decay=cfg.weight_decay)
    sched = get_scheduler("cosine_with_min_lr", opt, num_warmup_steps=cfg.warmup_steps, num_training_steps=steps,
                          scheduler_specific_kwargs={"min_lr_rate": cfg.min_lr_ratio})
    g = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(len(items), generator=g).tolist()
    times = step_seconds(model, lambda step: collate([items[order[(step * cfg.batch_size + j) % len(order)]]
                                                      for j in range(cfg.batch_size)]),
                         steps, opt, sched, cfg.grad_clip)
    return cfg.batch_size * mean_tokens / statistics.median(times[min(10, steps // 4):])


def trainer_tokens_per_s(ws, cfg) -> float:
    """The workbench stage in-process (the same function the CLI runs): median of its logged train/tokens_per_s."""
    from workbench import runs
    res = runs.run_in_process("finetune", cfg, ws)
    rates = [m["value"] for m in ws.store.metrics(res["run_id"], ["train/tokens_per_s"])]
    return statistics.median(rates[1:] or rates)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-rows", type=int, default=4000)
    ap.add_argument("--test-rows", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pretrain-steps", type=int, default=300)
    ap.add_argument("--pretrain-lines", type=int, default=60_000)
    ap.add_argument("--pretrain-lr", type=float, default=3e-3)
    ap.add_argument("--pretrain-batch", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-3, help="learning rate of the adapter methods")
    ap.add_argument("--full-lr", type=float, default=1e-4, help="learning rate of full fine-tuning")
    ap.add_argument("--vocab", type=int, default=4000)
    ap.add_argument("--methods", default="lora,dora,waveft,full")
    ap.add_argument("--base", default="", help="a base model folder to reuse (skips pretraining)")
    args = ap.parse_args()
    nsmc = DATA / "nsmc" / "train.tsv"
    if not nsmc.is_file() or not (DATA / "pretrain" / "nsmc_raw_reviews_no_test.txt.gz").is_file():
        _emit({"bench": "finetune", "skipped": f"needs {DATA}/nsmc/train.tsv and pretrain/nsmc_raw_reviews_no_test.txt.gz"})
        return

    from state import Workspace
    from workbench.finetune.stage import FinetuneConfig
    from workbench.finetune.train import prepare_data

    t_all = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="finetune-bench-"))
    ws = Workspace(tmp / "ws")
    common = [ f"data={nsmc}", "label_names=부정,긍정", f"max_rows={args.train_rows}",
              f"max_eval_rows={args.test_rows}", "val_fraction=0.02", "test_fraction=0.02", "seed=13",
              f"batch_size={args.batch}", f"max_steps={args.steps}", "warmup_steps=10", f"lr={args.lr}",
              f"eval_every={max(1, args.steps // 3)}", f"save_every={10 * args.steps}", "max_length=64",
              f"threads={args.threads}", "lora_rank=8", "waveft_n_frequency=1024", "weight_decay=0.0"]
    # exactly the split every method trains and is scored on (the base model does not matter to it)
    prep = prepare_data(FinetuneConfig.load(sets=common + ["base_model=none"]), ws)
    baseline = tfidf_baseline(prep)
    t0 = time.perf_counter()
    if args.base:
        from workbench.artifacts import read_meta
        base_path, base_val = args.base, (read_meta(args.base).get("metrics") or {}).get("val/loss")
        pre_data = {"reused": args.base}
    else:
        held = {r["text"].strip() for split in ("validation", "test") for r in prep.rows[split]}
        base_path, base_val, pre_data = pretrain_base(ws, args, held)
    pretrain_s = time.perf_counter() - t0
    common.insert(0, f"base_model={base_path}")
    cfg = FinetuneConfig.load(sets=common)
    results = [run_method(ws.root, m, common, args.full_lr) for m in args.methods.split(",")]

    # Trainer vs a plain loop, back to back in this process (twice each, alternating: the machine is shared)
    steps = min(args.steps, 80)
    tcfg = cfg.replace(method="lora", max_steps=steps, eval_every=10 * steps, output_name="tps", overwrite=True)
    wb, plain = [], []
    for _ in range(2):
        wb.append(trainer_tokens_per_s(ws, tcfg))
        plain.append(plain_loop_tokens_per_s(tcfg, base_path, prep, steps, args.threads))
    wb_tps, plain_tps = max(wb), max(plain)
    _emit({"bench": "finetune", "data": "NSMC train.tsv", "split": prep.sizes(), "seed": 13,
           "base": {"family": "llama", "depth": args.depth, "width": args.width, "pretrain_steps": args.pretrain_steps,
                    "heads": args.heads, "seq_len": args.seq_len, "batch": args.pretrain_batch,
                    "lr": args.pretrain_lr, "vocab": args.vocab, "pretrain_text": pre_data,
                    "pretrain_val_loss": base_val, "pretrain_s": round(pretrain_s, 1),
                    "caveat": "pretraining text (NSMC raw crawl) holds the train reviews unlabeled; reviews identical "
                              "to a validation/test review were left out"},
           "steps": args.steps, "batch": args.batch, "lr": args.lr, "full_lr": args.full_lr,
           "threads": args.threads,
           "methods": results, "tfidf_char_logreg": baseline,
           "trainer_vs_plain_loop": {"method": "lora", "steps": steps, "workbench_tokens_per_s": round(wb_tps, 1),
                                     "plain_peft_loop_tokens_per_s": round(plain_tps, 1),
                                     "ratio": round(wb_tps / plain_tps, 3), "runs": {"workbench": [round(x) for x in wb],
                                                                                    "plain": [round(x) for x in plain]}},
           "wall_s": round(time.perf_counter() - t_all, 1), "workspace": str(tmp)})


if __name__ == "__main__":
    import contextlib
    with contextlib.redirect_stdout(sys.stderr):  # load reports and Trainer logs print to stdout
        main()
