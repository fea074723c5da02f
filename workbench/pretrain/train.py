"""Causal-LM pretraining from random initialization on the Hugging Face Trainer.

What the Trainer already does (AdamW, warmup + cosine / warmup-stable-decay, clipping,
accumulation, mixed precision, torch.compile, DDP/FSDP under torchrun or accelerate,
checkpoint save and resume with the data order restored) is used as is. What every
training stage adds around it (live metrics and progress, Stop, time budget, early
stopping, held-out loss and bits per byte, samples, resume, the fit check, device and
precision) comes from workbench/training/. This module holds what is pretraining's own:
cached tokenization and packing, the model built from an architecture, tokens/s and MFU,
and the model artifact with its card.
"""
from __future__ import annotations

import logging
import shutil

from ..arch import paper
from ..arch.families import ArchConfig, build_model, hf_config
from ..artifacts import load_arch, load_tokenizer, output_name, resolve, write_meta
from ..errors import UserError
from ..training import checkpoints, hardware, memory
from ..training.arguments import schedule_arguments, shared_arguments
from ..training.evaluation import heldout_loss
from ..training.sampling import generate_samples, record_samples
from .card import write_model_card
from .data import BlockDataset, TextSource, build_token_cache
from .flops import measured_peak_flops
from .stage import PretrainConfig

log = logging.getLogger("workbench.pretrain")


def run(cfg: PretrainConfig, ctx) -> dict:
    from transformers import Trainer, TrainingArguments, default_data_collator

    from ..training.callback import LiveCallback, LoopRules

    ws = ctx.ws
    hw = hardware.resolve(cfg)

    # -- inputs ---------------------------------------------------------------------
    corpus_path, corpus_art = resolve(ws, "corpus", cfg.corpus, "corpus")
    tok_path, tok_art = resolve(ws, "tokenizer", cfg.tokenizer, "tokenizer")
    try:
        tokenizer = load_tokenizer(tok_path)
    except Exception as e:  # noqa: BLE001 - any loading failure is the same user problem
        raise UserError(f"the tokenizer at {tok_path} cannot be loaded ({type(e).__name__}: {e}); "
                        "pick a tokenizer made in the Tokenizer tab",
                        ko=f"{tok_path} 의 토크나이저를 불러올 수 없습니다 ({type(e).__name__}: {e}). 토크나이저 탭에서 만든 "
                           "토크나이저를 고르세요") from None
    arch, arch_art = cfg.arch, None
    if cfg.arch_artifact:
        arch_path, arch_art = resolve(ws, "arch", cfg.arch_artifact, "architecture")
        arch = ArchConfig.from_dict(load_arch(arch_path)).validate()
    vocab = len(tokenizer)
    if arch.vocab_size and arch.vocab_size != vocab:
        raise UserError(f"the architecture's vocab_size is {arch.vocab_size} but the tokenizer has {vocab} tokens: "
                        "set arch.vocab_size to 0 (follow the tokenizer) or pick the tokenizer the architecture "
                        "was made for",
                        ko=f"아키텍처의 vocab_size 는 {arch.vocab_size} 인데 토크나이저의 토큰은 {vocab}개입니다. "
                           "arch.vocab_size 를 0 (토크나이저를 따름)으로 하거나 그 아키텍처용 토크나이저를 고르세요")
    if arch.context < cfg.seq_len and arch.family not in ("mamba", "mamba2"):
        raise UserError(f"sequence length {cfg.seq_len} exceeds the architecture's context {arch.context}: "
                        "lower seq_len or raise the context",
                        ko=f"시퀀스 길이 {cfg.seq_len} 이(가) 아키텍처의 문맥 길이 {arch.context} 보다 깁니다. "
                           "seq_len 을 줄이거나 문맥 길이를 늘리세요")
    name = output_name(ws, "model", cfg.output_name or ctx.run_id or "model", overwrite=cfg.overwrite,
                       run_id=ctx.run_id)
    existing = ws.store.get_artifact(kind="model", name=name) if ws else None
    own = existing is not None and existing.run == ctx.run_id

    ckpt_dir = ctx.run_dir / "checkpoints"
    resume_from = checkpoints.resume_point(ctx, ckpt_dir)
    args = TrainingArguments(
        per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
        max_steps=cfg.max_steps, learning_rate=cfg.lr, warmup_steps=cfg.warmup_steps, weight_decay=cfg.weight_decay,
        adam_beta2=0.95, max_grad_norm=cfg.grad_clip,
        **schedule_arguments(cfg.schedule, max_steps=cfg.max_steps, min_lr_ratio=cfg.min_lr_ratio,
                             decay_fraction=cfg.decay_fraction),
        **shared_arguments(cfg, hw, ckpt_dir, save_every=cfg.save_every, seed=cfg.seed,
                           find_unused_parameters=arch.is_moe),
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
                        f"{cfg.seq_len}: lower seq_len or use a larger corpus",
                        ko=f"말뭉치의 학습 토큰이 {len(train_tokens):,}개로 블록 하나({cfg.seq_len})보다 적습니다. "
                           "seq_len 을 줄이거나 더 큰 말뭉치를 쓰세요")
    if len(val_tokens) >= cfg.seq_len:
        train_ds = BlockDataset(train_tokens, cfg.seq_len)
        val_ds = BlockDataset(val_tokens, cfg.seq_len, max_blocks=cfg.eval_batches * cfg.batch_size)
    else:  # too little validation text: hold out the tail of the training stream instead
        if n_train_blocks < 2:
            raise UserError(f"the corpus gives only {n_train_blocks} block of {cfg.seq_len} tokens; training and "
                            "validation need at least 2: lower seq_len or use a larger corpus",
                            ko=f"말뭉치에서 {cfg.seq_len} 토큰 블록이 {n_train_blocks}개뿐입니다. 학습과 검증에 최소 2개가 "
                               "필요합니다: seq_len 을 줄이거나 더 큰 말뭉치를 쓰세요")
        n_val = max(1, min(cfg.eval_batches * cfg.batch_size, n_train_blocks // 10))
        train_ds = BlockDataset(train_tokens, cfg.seq_len, max_blocks=n_train_blocks - n_val)
        val_ds = BlockDataset(train_tokens[(n_train_blocks - n_val) * cfg.seq_len:], cfg.seq_len)
    val_bytes = [len(tokenizer.decode(val_ds.block(i)[1:].tolist(), skip_special_tokens=True).encode("utf-8"))
                 for i in range(len(val_ds))]

    # -- model: counted on the meta device first, so a model that cannot fit is refused before it is built --
    hf_cfg = hf_config(arch, vocab)
    params = memory.count_on_meta(lambda: build_model(arch, vocab, seed=cfg.seed))
    need = paper.training_memory(hf_cfg, cfg.batch_size, cfg.seq_len, mixed_precision=hw.mixed_precision)["total"]
    memory.check_fits(need, params["total"], hw,
                      fix_en="lower batch_size (use grad_accum to keep the effective batch), lower seq_len, or choose a "
                             "smaller model (depth)",
                      fix_ko="batch_size 를 줄이거나 (grad_accum 으로 실효 배치를 유지), seq_len 을 줄이거나, 더 작은 "
                             "모델(depth)을 고르세요")
    model = build_model(arch, vocab, bos=tokenizer.bos_token_id, eos=tokenizer.eos_token_id,
                        pad=tokenizer.pad_token_id, seed=cfg.seed)
    # Training FLOPs of one token at the mean causal context (half the block), from the architecture lab.
    flops_tok = paper.flops_per_token(hf_cfg, cfg.seq_len // 2)["train"]
    peak = measured_peak_flops("cuda" if hw.device == "cuda" else "cpu", "bf16" if hw.bf16 else "fp32",
                               ws.root / "cache" / "peak_flops.json")
    tokens_per_step = cfg.batch_size * cfg.grad_accum * cfg.seq_len * hw.world
    ctx.event("model", {"params": params, "flops_per_token": flops_tok, "peak_flops": peak,
                        "tokens_per_step": tokens_per_step, "train_tokens": int(len(train_tokens)),
                        "val_tokens": int(len(val_tokens)), "device": hw.device, "world": hw.world})
    log.info("model %s: %s params; %s train tokens; %s tokens/step", arch.family, f"{params['total']:,}",
             f"{len(train_tokens):,}", tokens_per_step)

    def evaluate(m) -> dict:
        return heldout_loss(m, val_ds, batch_size=cfg.batch_size, n_bytes=sum(val_bytes), bf16=hw.bf16)

    def samples(m, step: int) -> list[dict]:
        out = generate_samples(m, tokenizer, cfg.sample_prompts, max_new_tokens=cfg.sample_tokens, seed=cfg.seed)
        record_samples(ctx, step, out)
        return out

    rules = LoopRules(max_steps=cfg.max_steps, eval_every=cfg.eval_every, sample_every=cfg.sample_every,
                      early_stopping=cfg.early_stopping, max_minutes=cfg.max_minutes)
    live = LiveCallback(ctx, rules, evaluate=evaluate, sample=samples, tokens_per_step=tokens_per_step,
                        flops_per_token=flops_tok, peak_flops=peak, world=hw.world)
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
    final_eval = live.finish(final_model, step)
    if not live.last_samples and cfg.sample_prompts:
        live.last_samples = samples(final_model, step)
    ctx.flush()
    metrics = {k: v for k, v in ws.store.last_metrics(ctx.run_id).items()
               if k in ("train/loss", "val/loss", "val/bpb", "val/ppl", "train/tokens_per_s", "train/mfu",
                        "sample/hangul_ratio")}
    metrics.update(final_eval)  # the figures of the weights saved (the best ones, after early stopping)
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
            "tokens_trained": step * tokens_per_step, "ended_by": live.ended, "metrics": metrics,
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
            "tokens_trained": step * tokens_per_step, "ended_by": live.ended,
            "params": params["total"], **{k.replace("/", "_"): round(v, 5) for k, v in metrics.items()},
            "samples": live.last_samples}
