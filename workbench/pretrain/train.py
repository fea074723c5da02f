"""Causal-LM pretraining from random initialization on the Hugging Face Trainer.

What the Trainer already does (AdamW, warmup + cosine / warmup-stable-decay, clipping,
accumulation, mixed precision, torch.compile, DDP/FSDP under torchrun or accelerate,
checkpoint save and resume with the data order restored) is used as is. This module
adds what the workbench needs around it: cached tokenization and packing, live
metrics into the store (loss, validation loss and bits-per-byte, LR, grad norm,
tokens/s, MFU), sample generations, stop/resume, a time budget, early stopping, and the
model artifact with its card.
"""
from __future__ import annotations

import logging
import math
import os
import re
import shutil
import time
from pathlib import Path

from state import check_name

from ..arch import paper
from ..arch.families import ArchConfig, build_model, count_params, hf_config
from ..artifacts import load_arch, load_tokenizer, resolve, write_meta
from ..devices import resolve_device
from ..errors import UserError
from .card import write_model_card
from .data import BlockDataset, TextSource, build_token_cache
from .flops import measured_peak_flops
from .stage import PretrainConfig

log = logging.getLogger("workbench.pretrain")
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def hangul_ratio(text: str) -> float:
    letters = [c for c in text if not c.isspace()]
    return sum(1 for c in letters if HANGUL.match(c)) / len(letters) if letters else 0.0


def _checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints, oldest first. The Trainer writes trainer_state.json last, so a folder without it
    is one a crash (out of memory, a kill) cut short: resuming from it would fail."""
    done = [p for p in folder.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    return sorted(done, key=lambda p: int(p.name.split("-")[-1]))


def run(cfg: PretrainConfig, ctx) -> dict:
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments, default_data_collator

    ws = ctx.ws
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    device = resolve_device(cfg.device)
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("device 'cuda' was chosen but no GPU is visible to PyTorch: choose device auto or cpu")
    if device == "cpu":
        torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // local_world))

    # -- inputs ---------------------------------------------------------------------
    corpus_path, corpus_art = resolve(ws, "corpus", cfg.corpus, "corpus")
    tok_path, tok_art = resolve(ws, "tokenizer", cfg.tokenizer, "tokenizer")
    try:
        tokenizer = load_tokenizer(tok_path)
    except Exception as e:  # noqa: BLE001 - any loading failure is the same user problem
        raise UserError(f"the tokenizer at {tok_path} cannot be loaded ({type(e).__name__}: {e}); "
                        "pick a tokenizer made in the Tokenizer tab") from None
    arch, arch_art = cfg.arch, None
    if cfg.arch_artifact:
        arch_path, arch_art = resolve(ws, "arch", cfg.arch_artifact, "architecture")
        arch = ArchConfig.from_dict(load_arch(arch_path)).validate()
    vocab = len(tokenizer)
    if arch.vocab_size and arch.vocab_size != vocab:
        raise UserError(f"the architecture's vocab_size is {arch.vocab_size} but the tokenizer has {vocab} tokens: "
                        "set arch.vocab_size to 0 (follow the tokenizer) or pick the tokenizer the architecture "
                        "was made for")
    if arch.context < cfg.seq_len and arch.family not in ("mamba", "mamba2"):
        raise UserError(f"sequence length {cfg.seq_len} exceeds the architecture's context {arch.context}: "
                        "lower seq_len or raise the context")
    name = check_name(cfg.output_name or ctx.run_id or "model", "model name")
    existing = ws.store.get_artifact(kind="model", name=name) if ws else None
    own = existing is not None and existing.run == ctx.run_id
    if existing is not None and not (cfg.overwrite or own):
        raise UserError(f"a model named '{name}' already exists: choose another output_name, or tick overwrite")

    run_dir = ctx.run_dir
    ckpt_dir = run_dir / "checkpoints"
    resume_from = None
    if ctx.resume:
        cks = _checkpoints(ckpt_dir)
        if not cks:
            raise UserError("this run has no checkpoint to resume from: start a new run instead")
        resume_from = cks[-1]
        step0 = int(resume_from.name.split("-")[-1])
        if ctx.is_main and ws:
            ws.store.delete_metrics_after(ctx.run_id, step0)
        log.info("resuming from %s", resume_from)

    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and device == "cuda" and torch.cuda.is_bf16_supported())
    fp16 = cfg.precision == "fp16"
    sched = {"cosine": ("cosine_with_min_lr", {"min_lr_rate": cfg.min_lr_ratio}),
             "wsd": ("warmup_stable_decay", {"num_decay_steps": max(1, int(cfg.decay_fraction * cfg.max_steps)),
                                             "min_lr_ratio": cfg.min_lr_ratio}),
             "constant": ("constant_with_warmup", {})}[cfg.schedule]
    args = TrainingArguments(
        output_dir=str(ckpt_dir), per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, max_steps=cfg.max_steps, learning_rate=cfg.lr,
        lr_scheduler_type=sched[0], lr_scheduler_kwargs=sched[1], warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay, adam_beta2=0.95, max_grad_norm=cfg.grad_clip, logging_steps=5,
        logging_first_step=True, save_strategy="steps", save_steps=cfg.save_every, save_total_limit=2,
        report_to="none", disable_tqdm=True, seed=cfg.seed, data_seed=cfg.seed, use_cpu=device == "cpu",
        bf16=bf16, fp16=fp16, torch_compile=cfg.compile, dataloader_num_workers=0, remove_unused_columns=False,
        eval_strategy="no", ddp_backend="gloo" if (device == "cpu" and world > 1) else None,
        fsdp="full_shard auto_wrap" if cfg.fsdp else "", ddp_find_unused_parameters=arch.is_moe,
    )

    # -- data: tokenized once (rank 0 first; the others then read the cache) ---------------------------
    source = TextSource(corpus_path)
    with args.main_process_first(desc="tokenize corpus"):
        cache = build_token_cache(source, tokenizer, ws.root / "cache" / "tokens", val_fraction=cfg.val_fraction,
                                  progress=ctx.progress if ctx.is_main else None, should_stop=lambda: ctx.should_stop)
    train_tokens, val_tokens = cache.tokens("train"), cache.tokens("validation")
    n_train_blocks = len(train_tokens) // cfg.seq_len
    if n_train_blocks < 1:
        raise UserError(f"the corpus gives {len(train_tokens):,} training tokens, fewer than one block of "
                        f"{cfg.seq_len}: lower seq_len or use a larger corpus")
    if len(val_tokens) >= cfg.seq_len:
        train_ds = BlockDataset(train_tokens, cfg.seq_len)
        val_ds = BlockDataset(val_tokens, cfg.seq_len, max_blocks=cfg.eval_batches * cfg.batch_size)
    else:  # too little validation text: hold out the tail of the training stream instead
        if n_train_blocks < 2:
            raise UserError(f"the corpus gives only {n_train_blocks} block of {cfg.seq_len} tokens; training and "
                            "validation need at least 2: lower seq_len or use a larger corpus")
        n_val = max(1, min(cfg.eval_batches * cfg.batch_size, n_train_blocks // 10))
        train_ds = BlockDataset(train_tokens, cfg.seq_len, max_blocks=n_train_blocks - n_val)
        val_ds = BlockDataset(train_tokens[(n_train_blocks - n_val) * cfg.seq_len:], cfg.seq_len)
    val_bytes = [len(tokenizer.decode(val_ds.block(i)[1:].tolist(), skip_special_tokens=True).encode("utf-8"))
                 for i in range(len(val_ds))]

    # -- model: counted on the meta device first, so a model that cannot fit is refused before it is built --
    hf_cfg = hf_config(arch, vocab)
    with torch.device("meta"):
        params = count_params(build_model(arch, vocab, seed=cfg.seed))
    need = paper.training_memory(hf_cfg, cfg.batch_size, cfg.seq_len, mixed_precision=bf16 or fp16)["total"]
    if device == "cpu":
        import psutil
        avail = psutil.virtual_memory().available // local_world
    else:
        avail = torch.cuda.mem_get_info()[0]
    if need > 0.9 * avail:
        raise UserError(f"this configuration needs about {need / 2**30:.1f} GiB per process "
                        f"({params['total'] / 1e6:,.0f}M parameters) but only {avail / 2**30:.1f} GiB is free: "
                        "lower batch_size (use grad_accum to keep the effective batch), lower seq_len, or choose a "
                        "smaller model (depth)")
    model = build_model(arch, vocab, bos=tokenizer.bos_token_id, eos=tokenizer.eos_token_id,
                        pad=tokenizer.pad_token_id, seed=cfg.seed)
    # Training FLOPs of one token at the mean causal context (half the block), from the architecture lab.
    flops_tok = paper.flops_per_token(hf_cfg, cfg.seq_len // 2)["train"]
    peak = measured_peak_flops("cuda" if device == "cuda" else "cpu", "bf16" if bf16 else "fp32",
                               ws.root / "cache" / "peak_flops.json")
    tokens_per_step = cfg.batch_size * cfg.grad_accum * cfg.seq_len * world
    ctx.event("model", {"params": params, "flops_per_token": flops_tok, "peak_flops": peak,
                        "tokens_per_step": tokens_per_step, "train_tokens": int(len(train_tokens)),
                        "val_tokens": int(len(val_tokens)), "device": device, "world": world})
    log.info("model %s: %s params; %s train tokens; %s tokens/step", arch.family, f"{params['total']:,}",
             f"{len(train_tokens):,}", tokens_per_step)

    def evaluate(m) -> dict:
        m.eval()
        nats, n_pred = 0.0, 0
        dev = next(m.parameters()).device
        with torch.no_grad():
            for start in range(0, len(val_ds), cfg.batch_size):
                ids = torch.stack([val_ds[i]["input_ids"] for i in range(start, min(len(val_ds),
                                                                                    start + cfg.batch_size))]).to(dev)
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                    loss = m(input_ids=ids, labels=ids).loss.float().item()
                k = ids.numel() - ids.shape[0]
                nats += loss * k
                n_pred += k
        m.train()
        loss = nats / max(1, n_pred)
        return {"val/loss": loss, "val/ppl": math.exp(min(loss, 50)),
                "val/bpb": nats / math.log(2) / max(1, sum(val_bytes))}

    def samples(m, step: int) -> list[dict]:
        m.eval()
        out = []
        dev = next(m.parameters()).device
        with torch.no_grad(), torch.random.fork_rng(devices=[] if dev.type == "cpu" else [dev]):
            torch.manual_seed(cfg.seed)
            for prompt in cfg.sample_prompts:
                enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(dev)
                if enc["input_ids"].shape[1] == 0:
                    continue
                gen = m.generate(**enc, max_new_tokens=cfg.sample_tokens, do_sample=True, top_k=50, temperature=0.8,
                                 pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                                 eos_token_id=tokenizer.eos_token_id)
                text = tokenizer.decode(gen[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
                out.append({"prompt": prompt, "text": text})
        m.train()
        if out:
            ctx.event("sample", {"step": step, "samples": out})
            ctx.metrics(step, {"sample/hangul_ratio": sum(hangul_ratio(s["text"]) for s in out) / len(out)})
        return out

    class Live(TrainerCallback):
        """Feeds the store and the stop/budget/early-stopping rules from inside the Trainer loop."""

        def __init__(self):
            self.t_start = time.time()
            self.t_last = None
            self.step_last = 0
            self.excluded = 0.0
            self.best = float("inf")
            self.bad_evals = 0
            self.ended_by = None  # "stop", "budget", "early_stopping"
            self.last_eval: dict = {}
            self.last_samples: list = []
            self.last_progress = 0.0

        def on_train_begin(self, args, state, control, **kw):
            self.t_last, self.step_last = time.time(), state.global_step

        def _stop_everywhere(self) -> bool:
            stop = ctx.should_stop
            if world > 1 and torch.distributed.is_initialized():  # every rank stops at the same step
                flag = torch.tensor([1.0 if stop else 0.0])
                torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
                stop = bool(flag.item())
            return stop

        def on_step_end(self, args, state, control, model=None, **kw):
            step = state.global_step
            if self._stop_everywhere():
                self.ended_by = "stop"
            elif cfg.max_minutes and time.time() - self.t_start > cfg.max_minutes * 60:
                self.ended_by = "budget"
            if ctx.is_main and model is not None and (step % cfg.eval_every == 0 or self.ended_by):
                t0 = time.time()
                self.last_eval = evaluate(model)
                ctx.metrics(step, self.last_eval, flush=True)
                if cfg.early_stopping:
                    if self.last_eval["val/loss"] < self.best - 1e-4:
                        self.best, self.bad_evals = self.last_eval["val/loss"], 0
                    else:
                        self.bad_evals += 1
                        if self.bad_evals >= cfg.early_stopping and not self.ended_by:
                            self.ended_by = "early_stopping"
                self.excluded += time.time() - t0
            if ctx.is_main and model is not None and cfg.sample_every and step % cfg.sample_every == 0:
                t0 = time.time()
                self.last_samples = samples(model, step)
                self.excluded += time.time() - t0
            if world > 1 and torch.distributed.is_initialized() and cfg.early_stopping:
                flag = torch.tensor([1.0 if self.ended_by == "early_stopping" else 0.0])
                torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
                if flag.item() and not self.ended_by:
                    self.ended_by = "early_stopping"
            if self.ended_by:
                control.should_save = True
                control.should_training_stop = True
            now = time.time()
            if ctx.is_main and (now - self.last_progress > 0.5 or step == cfg.max_steps):
                self.last_progress = now
                ctx.progress(step, cfg.max_steps, f"step {step}/{cfg.max_steps}"
                             + (f" · val loss {self.last_eval['val/loss']:.3f}" if self.last_eval else ""))

        def on_log(self, args, state, control, logs=None, **kw):
            if not ctx.is_main or not logs or "loss" not in logs:
                return
            now = time.time()
            dt = now - self.t_last - self.excluded
            steps = state.global_step - self.step_last
            vals = {"train/loss": logs.get("loss"), "train/lr": logs.get("learning_rate"),
                    "train/grad_norm": logs.get("grad_norm")}
            if steps > 0 and dt > 0:
                tps = steps * tokens_per_step / dt
                vals["train/tokens_per_s"] = tps
                vals["train/mfu"] = tps * flops_tok / (peak * world)
            vals["train/tokens"] = state.global_step * tokens_per_step
            ctx.metrics(state.global_step, vals)
            self.t_last, self.step_last, self.excluded = now, state.global_step, 0.0

    live = Live()
    trainer = Trainer(model=model, args=args, train_dataset=train_ds, data_collator=default_data_collator,
                      callbacks=[live])
    if ctx.is_main:
        ctx.progress(0, cfg.max_steps, "training")
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    step = trainer.state.global_step
    if not ctx.is_main:
        return {}

    # -- output: a Hugging Face model folder + card, registered with its lineage ----------------------
    final_model = trainer.model
    if not live.last_eval or live.ended_by is None and step % cfg.eval_every:
        live.last_eval = evaluate(final_model)
        ctx.metrics(step, live.last_eval, flush=True)
    if not live.last_samples and cfg.sample_prompts:
        live.last_samples = samples(final_model, step)
    ctx.flush()
    metrics = {k: v for k, v in ws.store.last_metrics(ctx.run_id).items()
               if k in ("train/loss", "val/loss", "val/bpb", "val/ppl", "train/tokens_per_s", "train/mfu",
                        "sample/hangul_ratio")}
    curves = {n: [(m["step"], m["value"]) for m in ws.store.metrics(ctx.run_id, [n])] for n in ("train/loss",
                                                                                               "val/loss")}
    staging = ws.staging_dir("model", name)
    final_model.generation_config.pad_token_id = tokenizer.pad_token_id
    final_model.generation_config.eos_token_id = tokenizer.eos_token_id
    final_model.generation_config.bos_token_id = tokenizer.bos_token_id
    final_model.save_pretrained(staging, safe_serialization=True)
    tokenizer.save_pretrained(staging)
    meta = {"stage": "pretrain", "run": ctx.run_id, "chat_model": False, "arch": arch.to_dict(),
            "config": cfg.to_dict(), "params": params, "vocab_size": vocab, "steps": step,
            "tokens_trained": step * tokens_per_step, "ended_by": live.ended_by or "max_steps", "metrics": metrics,
            "corpus": {"id": corpus_art.id if corpus_art else None, "name": corpus_art.name if corpus_art else None,
                       "path": str(corpus_path)},
            "tokenizer": {"id": tok_art.id if tok_art else None, "name": tok_art.name if tok_art else None,
                          "path": str(tok_path)},
            "arch_artifact": arch_art.id if arch_art else None, "samples": live.last_samples}
    write_meta(staging, meta)
    write_model_card(staging, name=name, meta=meta, curves=curves, samples=live.last_samples)
    parents = [a.id for a in (corpus_art, tok_art, arch_art) if a is not None]
    try:
        art_id = ctx.publish(staging, "model", name, parents=parents, meta={k: meta[k] for k in (
            "stage", "arch", "params", "vocab_size", "steps", "tokens_trained", "metrics", "chat_model", "ended_by")},
            overwrite=cfg.overwrite or own)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {"model_artifact": art_id, "model_path": str(ws.artifact_dir("model", name)), "steps": step,
            "tokens_trained": step * tokens_per_step, "ended_by": live.ended_by or "max_steps",
            "params": params["total"], **{k.replace("/", "_"): round(v, 5) for k, v in metrics.items()},
            "samples": live.last_samples}
