"""The Align stage measured. Prints one JSON line.

1. Speed: the workbench DPO job's training tokens/s against TRL's DPOTrainer used directly on the same model, pairs
   and settings (LoRA, same batch, steps, lengths, seed; no evaluation on either side), in the same run, alternating
   which goes first; the median of --repeats runs each. Target ratio >= 0.9.
2. Quality: a model the project pretrains (on the training prompts' questions and answers) and SFT-tunes (the
   Fine-tune stage, full, on those pairs' chosen answers), then aligns with DPO (the Align stage) on the preference
   pairs; held-out pairs (their prompts never seen by pretraining, SFT or DPO) scored before and after: reward accuracy
   and margin, and how often each model gives the chosen answer the higher log-probability. `sft_knows`: how well
   the SFT model tells the test answers apart by itself (log-probability, and PMI against an empty prompt), which
   bounds what DPO's reward can find. Target (issue 15): held-out reward accuracy >= 0.9 and a rising margin. Beside
   it, on the same held-out pairs, a well-known baseline that needs no neural model: character TF-IDF nearest
   neighbours (`baseline_heldout`). --extra-text adds more Korean to pretraining (never a held-out prompt or answer);
   --pretrained reuses a base; --sft-share < 1 SFT-tunes on part of the training prompts and aligns on the rest.
   `heldout_data`: how many test answers training holds, and how an answer-frequency prior does.

    python bench/align_bench.py                       # ../shared/data/preference when present, else the bundled pairs
    python bench/align_bench.py --pairs FILE.jsonl --dpo-steps 400
    python bench/align_bench.py --extra-text ../shared/data/pretrain/nsmc_raw_reviews_no_test.txt.gz --workspace /tmp/ab

On a GPU the stages pick CUDA and bf16 themselves (device=auto, precision=auto), and so does the TRL side of the speed
comparison. Scale the model and data there, and bound each phase with the stages' own time budget
(--pretrain-minutes / --sft-minutes / --dpo-minutes: a run that reaches it ends and is kept), e.g. (not yet run on
a GPU):

    python bench/align_bench.py --depth 8 --width 512 --heads 8 --pretrain-batch 128 --pretrain-steps 3000 \
        --pretrain-minutes 5 --extra-text ../shared/data/pretrain/nsmc_raw_reviews_no_test.txt.gz --extra-lines 639138 \
        --sft-steps 3000 --sft-batch 64 --sft-minutes 2 --dpo-steps 600 --dpo-minutes 1 --max-length 64 \
        --test-prompts 200 --val-prompts 100
"""
from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_STDOUT = sys.stdout
SHARED = ROOT.parent / "shared" / "data" / "preference" / "chatbot_data_synthetic_pairs.jsonl"


def _emit(obj: dict) -> None:
    sys.stderr.flush()
    _STDOUT.write(json.dumps(obj, ensure_ascii=False) + "\n")
    _STDOUT.flush()


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _run(ws, stage_name: str, sets: list[str]) -> dict:
    from workbench import runs
    from workbench.runtime import RunContext
    from workbench.stages import get
    stage = get(stage_name)
    cfg = stage.config.load(sets=sets)
    rid = runs.create(ws, stage, cfg, status="running")
    out = runs.execute(stage, cfg, RunContext(ws, rid, stage_name))
    if out.status != "succeeded":
        raise SystemExit(f"{stage_name} run {rid} {out.status}: {out.error}")
    return {**out.summary, "run_id": rid}


def _chat_tokenizer(model_path: str):
    """The model's tokenizer, with the workbench's plain chat template where it has none (as the stages do)."""
    from transformers import AutoTokenizer

    from workbench.finetune.data import DEFAULT_CHAT_TEMPLATE
    tok = AutoTokenizer.from_pretrained(model_path)
    if not tok.chat_template:
        tok.chat_template = DEFAULT_CHAT_TEMPLATE
    return tok


def split_pairs(rows: list[dict], n_test: int, n_val: int, seed: int) -> dict:
    """By prompt: a prompt's pairs all fall in one split, so no held-out prompt is ever trained on."""
    prompts = sorted({r["prompt"] for r in rows})
    random.Random(seed).shuffle(prompts)
    test, val = set(prompts[:n_test]), set(prompts[n_test:n_test + n_val])
    out = {"train": [], "validation": [], "test": []}
    for r in rows:
        out["test" if r["prompt"] in test else "validation" if r["prompt"] in val else "train"].append(
            {k: r[k] for k in ("prompt", "chosen", "rejected")})
    return out


def tfidf_baseline(train: list[dict], test: list[dict], k: int = 20) -> dict:
    """A well-known non-neural baseline on the same held-out pairs: character TF-IDF nearest neighbours. An answer's
    score for a prompt is how much it resembles the chosen answers of the k training prompts most like it (each
    weighted by that prompt's similarity); the pair is right when the chosen answer scores higher."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
    vec.fit([r["prompt"] for r in train] + [r["chosen"] for r in train])
    prompts, answers = vec.transform([r["prompt"] for r in train]), vec.transform([r["chosen"] for r in train])
    sims = (vec.transform([r["prompt"] for r in test]) @ prompts.T).toarray()
    good, bad = vec.transform([r["chosen"] for r in test]), vec.transform([r["rejected"] for r in test])
    right = 0
    for i in range(len(test)):
        near = np.argsort(-sims[i])[:k]
        right += int((good[i] @ answers[near].T).toarray()[0] @ sims[i, near] >
                     (bad[i] @ answers[near].T).toarray()[0] @ sims[i, near])
    return {"method": f"char 1-3-gram TF-IDF, {k} nearest training prompts", "reward_accuracy": round(right / len(test), 4)}


def extra_lines(path: Path, n: int, held_out: set[str]) -> list[str]:
    """Up to n documents of a raw pretraining file (.txt one a line, .jsonl "text", .gz too: the pretrain stage's own
    reader), leaving out any that equals a held-out prompt or answer."""
    from itertools import islice

    from workbench.pretrain.data import iter_raw_texts
    return list(islice((t.strip() for t in iter_raw_texts([path]) if t.strip() not in held_out), n))


def split_for_sft(train: list[dict], share: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(SFT rows, DPO rows). share < 1 gives SFT that share of the training prompts and DPO the rest, so DPO learns
    to score answers for prompts the model has not memorised, as the held-out ones are; 1 gives both all of them."""
    if share >= 1:
        return train, train
    prompts = sorted({r["prompt"] for r in train})
    random.Random(seed + 1).shuffle(prompts)
    sft = set(prompts[:round(len(prompts) * share)])
    return [r for r in train if r["prompt"] in sft], [r for r in train if r["prompt"] not in sft]


def split_figures(split: dict) -> dict:
    """What makes the held-out pairs hard, from the split alone: how many test answers training holds, and how an
    answer-frequency prior (times chosen minus times rejected in training) does on the test pairs."""
    from collections import Counter
    chosen = Counter(r["chosen"] for r in split["train"])
    rejected = Counter(r["rejected"] for r in split["train"])
    test = split["test"]

    def prior(a: str) -> int:
        return chosen[a] - rejected[a]
    return {"test_chosen_in_train": round(sum(r["chosen"] in chosen for r in test) / len(test), 4),
            "test_rejected_in_train": round(sum(r["rejected"] in chosen for r in test) / len(test), 4),
            "answer_prior_accuracy": round(sum(prior(r["chosen"]) > prior(r["rejected"]) for r in test) / len(test), 4)}


def what_sft_knows(model_path: str, pairs: list[dict], args) -> dict:
    """How well the SFT model itself tells the held-out answers apart, before any DPO: by log p(y|x) (the
    answer-frequency prior pulls this toward the familiar rejected answers), and by pointwise mutual information
    log p(y|x) - log p(y|no prompt), the score that tells a prompt's own answer from another prompt's answer. DPO's
    reward only adds to the SFT reference, so this bounds what it can find."""
    import torch
    from transformers import AutoModelForCausalLM

    from workbench.align.scoring import answer_logps
    torch.set_num_threads(args.threads)
    tok = _chat_tokenizer(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)

    def logps(side: str, with_prompt: bool) -> list[float]:
        return answer_logps(model, tok, [(r["prompt"] if with_prompt else "", r[side]) for r in pairs],
                            max_length=args.max_length)
    c, r, c0, r0 = (logps(side, with_prompt) for with_prompt in (True, False) for side in ("chosen", "rejected"))
    n = len(pairs)
    return {"pairs": "test", "logp_accuracy": round(sum(a > b for a, b in zip(c, r)) / n, 4),
            "pmi_accuracy": round(sum(a - a0 > b - b0 for a, b, a0, b0 in zip(c, r, c0, r0)) / n, 4)}


def pretrain(ws, lines: list[str], args, result: dict) -> str:
    from workbench.artifacts import write_corpus_split
    from workbench.tokenizer.quick import quick_bpe
    stg = ws.staging_dir("corpus", "qa")
    write_corpus_split(stg, "train", [{"id": str(i), "text": t, "source": "pairs"} for i, t in enumerate(lines)])
    ws.publish(stg, "corpus", "qa")
    stg = ws.staging_dir("tokenizer", "qa")
    quick_bpe(lines, args.vocab).save_pretrained(stg)
    ws.publish(stg, "tokenizer", "qa")
    out = _run(ws, "pretrain", [
        "corpus=qa", "tokenizer=qa", "arch.family=llama", f"arch.depth={args.depth}", f"arch.width={args.width}",
        f"arch.heads={args.heads}", "arch.context=256", "seq_len=128", f"batch_size={args.pretrain_batch}",
        f"max_steps={args.pretrain_steps}",
        f"warmup_steps={min(20, args.pretrain_steps // 4)}", "lr=2e-3", f"eval_every={args.pretrain_steps}", "sample_every=0",
        f"save_every={10 * args.pretrain_steps}", f"threads={args.threads}", f"max_minutes={args.pretrain_minutes}",
        "output_name=base"])
    result["pretrain"] = {k: out.get(k) for k in ("steps", "tokens_trained", "ended_by", "params", "val_loss", "val_bpb")}
    return out["model_path"]


def speed(ws, base: str, pairs_file: Path, args) -> dict:
    """Training tokens/s, workbench job vs TRL's DPOTrainer directly, same everything; medians, alternating order."""
    import datasets
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    from workbench.align.data import conversational
    from workbench.training.arguments import no_activation_checkpointing
    rows = [json.loads(x) for x in pairs_file.read_text(encoding="utf-8").splitlines() if x.strip()]
    steps, bs = args.speed_steps, args.batch_size
    common = dict(max_steps=steps, bs=bs, lr=5e-4, max_length=args.max_length, beta=0.1, r=16, alpha=32.0)

    def workbench_once(i: int) -> float:
        out = _run(ws, "align", [
            f"policy_model={base}", f"data={pairs_file}", f"output_name=speed-{i}", "overwrite=true",
            f"max_steps={steps}", f"batch_size={bs}", "lr=5e-4", f"max_length={args.max_length}", "beta=0.1",
            "lora_rank=16", "lora_alpha=32", "lora_dropout=0", "val_fraction=0", "test_fraction=0",
            "warmup_steps=0", "schedule=constant", "compare_prompts=0", "tricky_prompts=false",
            f"save_every={10 * steps}", f"threads={args.threads}", "seed=1"])
        return out["seconds_training"]

    def trl_once(i: int) -> float:
        torch.set_num_threads(args.threads)
        tok = _chat_tokenizer(base)
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
        ds = datasets.Dataset.from_list([conversational(r) for r in rows])
        # the same device and precision the job's device=auto / precision=auto pick (training/hardware.py)
        cuda = torch.cuda.is_available()
        cfg = DPOConfig(output_dir=str(Path(ws.root) / f"trl-{i}"), per_device_train_batch_size=bs, max_steps=steps,
                        learning_rate=common["lr"], max_length=args.max_length, beta=0.1, lr_scheduler_type="constant",
                        warmup_steps=0, logging_steps=5, save_strategy="no", report_to="none", use_cpu=not cuda,
                        bf16=cuda and torch.cuda.is_bf16_supported(), seed=1, **no_activation_checkpointing(DPOConfig),
                        disable_tqdm=True,
                        remove_unused_columns=False, dataloader_num_workers=0)
        peft_cfg = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
        trainer = DPOTrainer(model=model, args=cfg, train_dataset=ds, processing_class=tok, peft_config=peft_cfg)
        t = time.perf_counter()
        trainer.train()
        return time.perf_counter() - t

    wb, trl = [], []
    for i in range(args.repeats):
        order = [("wb", workbench_once), ("trl", trl_once)] if i % 2 == 0 else [("trl", trl_once), ("wb", workbench_once)]
        for name, fn in order:
            (wb if name == "wb" else trl).append(fn(i))
    tok = _chat_tokenizer(base)
    lens = [len(tok.apply_chat_template(conversational(r)["prompt"] + conversational(r)[s], tokenize=True,
                                        return_dict=False)[:args.max_length]) for r in rows for s in ("chosen", "rejected")]
    tokens = steps * bs * 2 * statistics.mean(lens)  # the same pairs in the same order on both sides
    w, t = statistics.median(wb), statistics.median(trl)
    return {"steps": steps, "batch_size": bs, "pairs": len(rows), "settings": {**common, "method": "lora all-linear"},
            "workbench_s": [round(x, 2) for x in wb], "trl_s": [round(x, 2) for x in trl],
            "workbench_tokens_per_s": round(tokens / w, 1), "trl_tokens_per_s": round(tokens / t, 1),
            "ratio": round(t / w, 3), "target_ratio": 0.9}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", default="", help="preference pairs JSONL (default: ../shared/data/preference when "
                                                "present, else the bundled team-written pairs)")
    ap.add_argument("--base", default="", help="skip pretraining + SFT: align this model folder")
    ap.add_argument("--pretrained", default="", help="skip pretraining: SFT + align this model folder (e.g. the "
                    "base an earlier run with the same split left in --workspace W at W/ws/artifacts/model/base)")
    ap.add_argument("--test-prompts", type=int, default=300)
    ap.add_argument("--val-prompts", type=int, default=200)
    ap.add_argument("--max-train-pairs", type=int, default=0, help="0 = all")
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=6000)
    ap.add_argument("--pretrain-steps", type=int, default=800)
    ap.add_argument("--pretrain-batch", type=int, default=16, help="sequences of 128 tokens a pretraining step (raise "
                    "it on a GPU)")
    ap.add_argument("--extra-text", default="", help="more pretraining text, one document a line (.gz too), e.g. "
                    "../shared/data/pretrain/nsmc_raw_reviews_no_test.txt.gz; never the pairs' held-out answers")
    ap.add_argument("--extra-lines", type=int, default=100_000)
    ap.add_argument("--sft-steps", type=int, default=400)
    ap.add_argument("--sft-lr", type=float, default=1e-3)
    ap.add_argument("--sft-batch", type=int, default=0, help="SFT batch size (0 = --batch-size)")
    ap.add_argument("--sft-share", type=float, default=1.0,
                    help="share of the training prompts SFT learns; DPO trains on the others (1 = both on all)")
    ap.add_argument("--dpo-steps", type=int, default=300)
    ap.add_argument("--dpo-method", default="full", choices=["full", "lora"])
    ap.add_argument("--dpo-lr", type=float, default=1e-4)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--loss-type", default="sigmoid", help="the DPO loss of the quality run (any the installed TRL "
                    "offers: python -c 'from workbench.align.stage import LOSS_TYPES; print(LOSS_TYPES)')")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=96)
    ap.add_argument("--speed-steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--seed", type=int, default=13)
    for phase in ("pretrain", "sft", "dpo"):  # the stages' own time budget: a run that hits it ends and is kept
        ap.add_argument(f"--{phase}-minutes", type=float, default=0.0, help=f"time budget of the {phase} run (0 = none)")
    ap.add_argument("--workspace", default="", help="keep the models here (default: a temporary folder, removed)")
    args = ap.parse_args()

    import logging
    import warnings
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    from state import Workspace
    from workbench.align.data import BUNDLED_PAIRS
    pairs_path = Path(args.pairs) if args.pairs else (SHARED if SHARED.is_file() else BUNDLED_PAIRS)
    if pairs_path == BUNDLED_PAIRS:  # said aloud: a checkout elsewhere (a worktree) has no ../shared beside it
        print(f"align_bench: {SHARED} not found; using the bundled pairs (pass --pairs FILE for others)",
              file=sys.stderr)
    rows = [json.loads(x) for x in pairs_path.read_text(encoding="utf-8").splitlines() if x.strip()]
    small = len({r["prompt"] for r in rows}) < 4 * (args.test_prompts + args.val_prompts)
    n_test, n_val = (max(4, len(rows) // 8), max(4, len(rows) // 8)) if small else (args.test_prompts, args.val_prompts)
    import torch
    result: dict = {"bench": "align", "pairs_file": str(pairs_path), "pairs": len(rows), "threads": args.threads,
                    "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"}
    t0 = time.time()
    keep = contextlib.nullcontext(args.workspace) if args.workspace else tempfile.TemporaryDirectory()
    with keep as tmp:
        tmp = Path(tmp)
        ws = Workspace(tmp / "ws")
        split = split_pairs(rows, n_test, n_val, args.seed)
        if args.max_train_pairs:
            split["train"] = split["train"][:args.max_train_pairs]
        folder = tmp / "pairs"
        for name, items in split.items():
            _write_jsonl(folder / f"{name}.jsonl", items)
        result["split"] = {k: len(v) for k, v in split.items()}
        result["baseline_heldout"] = tfidf_baseline(split["train"], split["test"])
        result["heldout_data"] = split_figures(split)
        base, timing = args.base, {}
        if not base:
            t = time.time()
            if args.pretrained:
                base = args.pretrained
            else:
                lines = [x for r in split["train"] for x in (r["prompt"], r["chosen"])]
                if args.extra_text:
                    held = {x for name in ("validation", "test") for r in split[name] for x in r.values()}
                    extra = extra_lines(Path(args.extra_text), args.extra_lines, held)
                    lines = extra + lines
                    result["pretrain_text"] = {"extra": args.extra_text, "extra_lines": len(extra)}
                base = pretrain(ws, list(dict.fromkeys(lines)), args, result)
                timing["pretrain_s"] = round(time.time() - t, 1)
            result["pretrained"] = base
            t = time.time()
            sft_rows, dpo_rows = split_for_sft(split["train"], args.sft_share, args.seed)
            if dpo_rows is not split["train"]:
                _write_jsonl(folder / "train.jsonl", dpo_rows)
                result["split"]["dpo_train"], result["split"]["sft_train"] = len(dpo_rows), len(sft_rows)
            sft_file = _write_jsonl(tmp / "sft.jsonl", [{"instruction": r["prompt"], "output": r["chosen"]}
                                                       for r in sft_rows])
            sft = _run(ws, "finetune", [
                f"base_model={base}", "task=sft", f"data={sft_file}", "method=full", "output_name=sft",
                f"max_steps={args.sft_steps}", f"batch_size={args.sft_batch or args.batch_size}", f"lr={args.sft_lr}", f"warmup_steps={min(10, args.sft_steps // 4)}",
                f"max_length={args.max_length}", "val_fraction=0.05", "test_fraction=0", "max_eval_rows=200",
                f"eval_every={args.sft_steps}", f"save_every={10 * args.sft_steps}", f"threads={args.threads}",
                f"max_minutes={args.sft_minutes}"])
            base = sft["path"]
            timing["sft_s"] = round(time.time() - t, 1)
            result["sft"] = {k: sft.get(k) for k in ("steps", "ended_by", "val_loss", "val_bpb")}
        result["policy"] = base
        if not args.skip_quality:
            result["sft_knows"] = what_sft_knows(base, split["test"], args)
            t = time.time()
            out = _run(ws, "align", [
                f"policy_model={base}", f"data={folder}", "output_name=aligned", f"method={args.dpo_method}",
                f"max_steps={args.dpo_steps}", f"batch_size={args.batch_size}", f"lr={args.dpo_lr}",
                f"beta={args.beta}", f"loss_type={args.loss_type}", f"max_length={args.max_length}",
                f"warmup_steps={min(10, args.dpo_steps // 4)}",
                f"eval_every={max(1, args.dpo_steps // 5)}", "max_eval_rows=0", f"save_every={10 * args.dpo_steps}",
                "compare_prompts=4", "compare_tokens=32", f"threads={args.threads}", f"seed={args.seed}",
                f"max_minutes={args.dpo_minutes}"])
            timing["dpo_s"] = round(time.time() - t, 1)
            run_id = out["run_id"]
            margins = [(m["step"], round(m["value"], 4)) for m in ws.store.metrics(run_id, ["val/rewards/margins"])]
            result["quality"] = {"method": args.dpo_method, "steps": out["steps"], "beta": args.beta,
                                 "loss_type": args.loss_type, "lr": args.dpo_lr,
                                 "heldout_before": out["heldout"].get("before"), "heldout_after": out["heldout"].get("after"),
                                 "val_margin_curve": margins,
                                 "val_reward_accuracy_curve": [(m["step"], round(m["value"], 4)) for m in
                                                               ws.store.metrics(run_id, ["val/rewards/accuracies"])],
                                 "answers": out["compare"][:6], "tokens_per_s": out.get("train_tokens_per_s")}
            after = out["heldout"].get("after") or {}
            result["targets"] = {"heldout_reward_accuracy_ge_0.9": (after.get("reward_accuracy") or 0) >= 0.9,
                                 "margin_rising": len(margins) >= 2 and margins[-1][1] > margins[0][1]}
        if not args.skip_speed:
            speed_pairs = _write_jsonl(tmp / "speed.jsonl", split["train"][:max(64, args.batch_size * 4)])
            result["speed"] = speed(ws, base, speed_pairs, args)
        result["timing"] = {**timing, "total_s": round(time.time() - t0, 1)}
    _emit(result)


if __name__ == "__main__":
    main()
