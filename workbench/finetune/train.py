"""Fine-tuning on the Hugging Face Trainer.

The Trainer does what it does for pretraining (AdamW, schedules, clipping, accumulation, mixed precision,
DDP/FSDP, checkpoints and resume, adapter-only checkpoints for PEFT models); workbench/training/ adds live
metrics and progress, Stop, the time budget, early stopping, resume from the last complete checkpoint, the fit
check and the shared arguments. This module holds what is fine-tuning's own: task data and its encoding, the
method (full / PEFT) applied to the base model, a one-batch gradient check before training, classification and
answer-only figures, the test split scored once at the end, and the adapter or model artifact with its card.

SFT is built here rather than on TRL's SFTTrainer: its assistant-only loss needs `{% generation %}` markers
that the project's chat templates (and most Korean models') lack, and its completion-only loss covers single
prompt/completion pairs only. Building the labels ourselves (-100 on everything but the assistant turns, found
by rendering the growing conversation with the tokenizer's own template) works with any template and any number
of turns, and keeps the SFT path identical to the classification one (same Trainer, callback, checkpoints).
"""
from __future__ import annotations

import logging
import math
import shutil
import time
from dataclasses import dataclass, field
from typing import Any

from ..artifacts import output_name, write_meta
from ..errors import UserError
from ..i18n import both, say
from ..training import checkpoints, hardware, memory
from ..training.arguments import schedule_arguments, shared_arguments
from . import data as D
from . import methods
from .model import (check_base, check_vocab, ensure_pad, load_config, load_for_training, load_tokenizer, plan,
                    resolve_base)
from .save import TASK_NAMES, write_card
from .stage import FinetuneConfig

log = logging.getLogger("workbench.finetune")


# -- data ----------------------------------------------------------------------------------------------------
@dataclass
class Prepared:
    source: Any
    columns: Any
    labels: Any                                   # data.Labels (classification) or None
    rows: dict                                    # split -> examples (dicts, or message lists for sft)
    dropped: dict
    how: dict
    notes: list = field(default_factory=list)

    def sizes(self) -> dict:
        return {k: len(v) for k, v in self.rows.items()}


def prepare_data(cfg: FinetuneConfig, ws, tokenizer=None) -> Prepared:
    """Read, map columns, infer labels and split. Every problem is a UserError before any model is touched."""
    src = D.read_source(cfg.data, task=cfg.task, data_config=cfg.data_config, validation_data=cfg.validation_data,
                        test_data=cfg.test_data, ws=ws)
    cols = D.map_columns(src.frames["train"], cfg)
    need = [c for c in (cols.text, cols.text_pair, cols.label, cols.prompt, cols.response, cols.messages) if c]
    for split, df in src.frames.items():
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise UserError(say("the {s} data ({f}) lacks the column(s) {m} that the training data has; its columns "
                                "are: {c}", "{s} 데이터 ({f}) 에 학습 데이터의 열 {m} 이(가) 없습니다. 있는 열: {c}",
                                s=split, f=src.files.get(split, split), m=", ".join(missing),
                                c=", ".join(map(str, df.columns))))
    labels = None
    if cfg.task == "classification":
        names = cfg.label_names or (D.BUNDLED_LABEL_NAMES["classification"] if src.bundled else None)
        class_names = (src.frames["train"].attrs.get("label_names") or {}).get(cols.label)
        labels = D.infer_labels(src.frames["train"][cols.label].tolist(), cols.label, names, class_names)
        for split, df in src.frames.items():
            if split == "train":
                continue
            unknown = sorted({r for r in map(D._raw, df[cols.label].tolist()) if r is not None} - set(labels.raw_to_id))
            if unknown:
                raise UserError(say("the {s} data has classes the training data lacks: {u} (training classes: {t})",
                                    "{s} 데이터에 학습 데이터에 없는 클래스가 있습니다: {u} (학습 클래스: {t})", s=split,
                                    u=", ".join(unknown[:5]), t=", ".join(labels.raw_to_id)))
    splits = D.make_splits(src, val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction, seed=cfg.seed,
                           stratify=cols.label if cfg.task == "classification" else None)
    frames = {"train": splits.train, "validation": splits.validation, "test": splits.test}
    for split, cap in (("train", cfg.max_rows), ("validation", cfg.max_eval_rows), ("test", cfg.max_eval_rows)):
        if cap and len(frames[split]) > cap:
            frames[split] = frames[split].sample(n=cap, random_state=cfg.seed).reset_index(drop=True)
    rows, dropped = {}, {}
    for split, df in frames.items():
        if len(df) == 0:
            rows[split], dropped[split] = [], 0
        elif cfg.task == "classification":
            rows[split], dropped[split] = D.classification_rows(df, cols, labels)
        else:
            rows[split], dropped[split] = D.chat_rows(df, cols, cfg.system_prompt)
    if not rows["train"]:
        raise UserError(say("no usable training rows: every row lacks a text or a label ({d} dropped)",
                            "쓸 수 있는 학습 행이 없습니다. 모든 행에 텍스트나 라벨이 없습니다 ({d}행 버림)",
                            d=dropped["train"]))
    if cfg.task == "classification":
        present = {r["label"] for r in rows["train"]}
        if len(present) < 2:
            raise UserError(say("after splitting, the training rows hold only one class ({c}): a classifier needs at "
                                "least two; give more rows or lower the held-out fractions",
                                "분할 뒤 학습 행에 클래스가 하나 ({c}) 뿐입니다. 분류기에는 최소 두 개가 필요합니다: 행을 "
                                "늘리거나 떼어 두는 비율을 줄이세요", c=labels.names[next(iter(present))]))
    notes = []
    if any(dropped.values()):
        notes.append(say("rows dropped (empty text or label): {d}", "버린 행 (텍스트나 라벨이 빔): {d}",
                         d=", ".join(f"{k} {v}" for k, v in dropped.items() if v)))
    return Prepared(source=src, columns=cols, labels=labels, rows=rows, dropped=dropped, how=splits.how, notes=notes)


@dataclass
class Encoded:
    datasets: dict                       # split -> ListDataset
    answer_bytes: dict                   # split -> UTF-8 bytes of the scored tokens (sft)
    mean_tokens: float
    truncated: dict


def encode(cfg: FinetuneConfig, prep: Prepared, tokenizer) -> Encoded:
    ds, nbytes, truncated = {}, {}, {}
    lengths = []
    for split, rows in prep.rows.items():
        items, cut, b = [], 0, 0
        for r in rows:
            if cfg.task == "classification":
                ids = D.encode_classification(tokenizer, r["text"], r.get("text_pair"), cfg.max_length)
                items.append({"input_ids": ids, "labels": r["label"]})
            else:
                enc = D.encode_chat(tokenizer, r, cfg.max_length)
                if enc is None:
                    cut += 1
                    continue
                items.append(enc)
                b += len(tokenizer.decode([t for t in enc["labels"][1:] if t != -100],
                                          skip_special_tokens=True).encode("utf-8"))
            if split == "train":
                lengths.append(len(items[-1]["input_ids"]))
        ds[split], nbytes[split], truncated[split] = D.ListDataset(items), b, cut
    if not len(ds["train"]):
        raise UserError(say("max_length {m} cuts every answer away (the prompts alone are longer): raise max_length",
                            "max_length {m} 에서 모든 답변이 잘립니다 (프롬프트만으로 더 깁니다). max_length 를 늘리세요",
                            m=cfg.max_length))
    return Encoded(ds, nbytes, sum(lengths) / max(1, len(lengths)), truncated)


# -- the run -------------------------------------------------------------------------------------------------
def _memory_need(p, cfg, hw, mean_tokens: float, config) -> float:
    """Bytes one process needs: weights (4-bit / 8-bit / fp32), gradients and AdamW state of what trains, and
    activations (from the architecture lab's per-token estimate when it knows the family)."""
    total, trainable = p.base_params, (p.counts or {}).get("trainable") or p.base_params
    bits = methods.QUANTIZED.get(cfg.method)
    weights = total * (bits / 8 if bits else 4)
    opt = trainable * (4 + 4 + 8)
    tokens = cfg.batch_size * max(cfg.max_length, int(mean_tokens))
    try:
        from ..arch import paper
        act = paper.training_memory(config, cfg.batch_size, max(1, int(tokens / cfg.batch_size)),
                                    mixed_precision=hw.mixed_precision)["activations"]
    except Exception:  # noqa: BLE001 - a family the lab does not know: a generic transformer estimate
        hidden = getattr(config, "hidden_size", 1024)
        layers = getattr(config, "num_hidden_layers", 12)
        act = tokens * hidden * layers * 34 * (2 if hw.mixed_precision else 4)
    vocab = getattr(config, "vocab_size", 0) or 0
    logits = 3 * tokens * vocab * 4 if cfg.task == "sft" else 0
    return weights + opt + act + logits


def _is_moe(config) -> bool:
    return any(getattr(config, k, 0) for k in ("num_local_experts", "num_experts", "n_routed_experts"))


def gradient_check(model, batch: dict, *, after_eval: bool, method_name: str | None = None) -> None:
    """One forward and backward on a real batch before training: the loss is finite and the trainable parameters
    receive gradients. after_eval: run a no-grad eval forward first (the pass that silently cost QLoRA its
    gradients on AVX512-BF16 CPUs, STACK.md), so that failure is caught here instead of after hours of no learning."""
    import torch
    dev = next(model.parameters()).device
    batch = {k: v.to(dev) for k, v in batch.items()}

    def one_pass() -> tuple[float, dict]:
        with torch.random.fork_rng(devices=[] if dev.type == "cpu" else [dev]):
            torch.manual_seed(0)  # the same dropout masks in both passes
            model.train()
            loss = model(**batch).loss
            if loss is None or not torch.isfinite(loss):
                raise UserError(say("the first batch gives a loss of {l}: check the data and the learning settings",
                                    "첫 배치의 손실이 {l} 입니다. 데이터와 학습 설정을 확인하세요", l=loss))
            loss.backward()
        grads = {n: q.grad.detach().clone() for n, q in model.named_parameters() if q.requires_grad and
                 q.grad is not None}
        model.zero_grad(set_to_none=True)
        return float(loss.detach()), grads

    try:
        _, got = one_pass()
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - only for the advanced methods: peft built it, the model cannot run it
        if method_name is None:
            raise
        model.zero_grad(set_to_none=True)
        pcfg = (getattr(model, "peft_config", None) or {}).get("default")
        raise methods.refusal(method_name, e, methods.missing_inputs(pcfg) if pcfg is not None else [], built=True,
                              stage="forward") from None
    trainable = [n for n, q in model.named_parameters() if q.requires_grad]
    if after_eval and got:
        model.eval()
        with torch.no_grad():
            model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        _, again = one_pass()
        worst = max(((got[n] - again[n]).abs().max().item() / (got[n].abs().max().item() + 1e-12)
                     if n in again else math.inf) for n in got)
        if worst > 1e-3:
            raise UserError(say("after an evaluation pass the 4-bit base no longer passes gradients correctly on this "
                                "machine (relative change {w:.3g}): use lora, or lora8bit",
                                "평가를 한 번 거친 뒤 4비트 기본 모델이 이 컴퓨터에서 그래디언트를 제대로 전달하지 못합니다 "
                                "(상대 변화 {w:.3g}). lora 나 lora8bit 를 쓰세요", w=worst))
    model.train()
    if not trainable or not got:
        raise UserError(say("no trainable parameter receives a gradient with this method ({n} trainable tensors): it "
                            "would train nothing; choose another method or change its settings",
                            "이 방법으로는 학습할 파라미터에 그래디언트가 오지 않습니다 (학습 텐서 {n}개). 아무것도 배우지 "
                            "못하니 다른 방법을 고르거나 설정을 바꾸세요", n=len(trainable)))


def run(cfg: FinetuneConfig, ctx) -> dict:
    from transformers import Trainer, TrainingArguments

    from ..training.callback import LoopRules, peak_rss_mb
    from ..training.evaluation import heldout_loss
    from ..training.sampling import generate_samples, record_samples
    from .evaluate import FinetuneCallback, classifier_eval, confusion

    t_start = time.time()
    ws = ctx.ws
    hw = hardware.resolve(cfg)

    # -- inputs, all checked before any weight is loaded ---------------------------------------------------
    base = resolve_base(ws, cfg.base_model)
    config = load_config(base)
    tokenizer = load_tokenizer(base)
    check_vocab(tokenizer, config, base)
    check_base(config, cfg, base)
    notes = []
    pad_note = ensure_pad(tokenizer, cfg.task)
    if pad_note:
        notes.append(pad_note)
    template_source = None
    if cfg.task == "sft":
        if cfg.chat_template.strip() and cfg.chat_template.strip() != "auto":
            tokenizer.chat_template, template_source = cfg.chat_template, "config"
        elif getattr(tokenizer, "chat_template", None):
            template_source = "tokenizer"
        else:
            tokenizer.chat_template, template_source = D.DEFAULT_CHAT_TEMPLATE, "default"
            notes.append(say("the base tokenizer has no chat template: using the plain '### 질문 / ### 답변' one (saved "
                             "with the result)", "기본 토크나이저에 채팅 템플릿이 없어 '### 질문 / ### 답변' 템플릿을 씁니다 "
                                                 "(결과와 함께 저장)"))
    kind = cfg.output_kind
    name = output_name(ws, kind, cfg.output_name or ctx.run_id or "finetuned", overwrite=cfg.overwrite,
                       run_id=ctx.run_id)
    existing = ws.store.get_artifact(kind=kind, name=name) if ws else None
    own = existing is not None and existing.run == ctx.run_id
    prep = prepare_data(cfg, ws)
    notes += prep.notes
    enc = encode(cfg, prep, tokenizer)
    train_ds, val_ds, test_ds = enc.datasets["train"], enc.datasets["validation"], enc.datasets["test"]
    per_step = cfg.batch_size * cfg.grad_accum * hw.world
    max_steps = max(1, math.ceil(cfg.epochs * len(train_ds) / per_step)) if cfg.epochs else cfg.max_steps
    if cfg.epochs and cfg.warmup_steps >= max_steps:
        raise UserError(say("{e} epochs make {m} steps, not more than warmup_steps ({w}): lower warmup_steps",
                            "{e} 에폭은 {m} 스텝이라 워밍업 ({w}) 보다 길지 않습니다. warmup_steps 를 줄이세요",
                            e=cfg.epochs, m=max_steps, w=cfg.warmup_steps))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    labels = prep.labels
    p = plan(cfg, config, labels=labels, pad_id=pad_id, total_steps=max_steps)
    notes += list(p.targets.notes if p.targets else [])
    memory.check_fits(_memory_need(p, cfg, hw, enc.mean_tokens, config), p.base_params, hw,
                      fix_en="lower batch_size (use grad_accum to keep the effective batch), lower max_length, or use "
                             "a PEFT method (lora, qlora) instead of full fine-tuning",
                      fix_ko="batch_size 를 줄이거나 (grad_accum 으로 실효 배치를 유지), max_length 를 줄이거나, 전체 "
                             "미세조정 대신 PEFT 방법 (lora, qlora) 을 쓰세요")

    # -- the model -----------------------------------------------------------------------------------------
    ckpt_dir = ctx.run_dir / "checkpoints"
    resume_from = checkpoints.resume_point(ctx, ckpt_dir)
    args = TrainingArguments(
        per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum, max_steps=max_steps,
        learning_rate=cfg.lr, warmup_steps=cfg.warmup_steps, weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.grad_clip,
        **schedule_arguments(cfg.schedule, max_steps=max_steps, min_lr_ratio=cfg.min_lr_ratio,
                             decay_fraction=cfg.decay_fraction),
        **shared_arguments(cfg, hw, ckpt_dir, save_every=cfg.save_every, seed=cfg.seed,
                           find_unused_parameters=_is_moe(config)),
    )
    model = load_for_training(cfg, base, config, p, hw, labels=labels, pad_id=pad_id, total_steps=max_steps)
    counts = methods.trainable_summary(model)
    if cfg.method == "full":
        counts = dict(p.counts)
    elif p.counts:
        counts["total"] = max(counts["total"], p.counts["total"])
        counts["share"] = counts["trainable"] / counts["total"]
    left = cfg.task == "classification" and methods.is_prompt_learning(model)
    collate = D.make_collator(pad_id, left=left)
    if hw.device == "cuda" and not methods.QUANTIZED.get(cfg.method):
        model.to("cuda")
    gradient_check(model, collate([train_ds[i] for i in range(min(len(train_ds), cfg.batch_size))]),
                   after_eval=cfg.method == "qlora", method_name=cfg.peft_type if cfg.method == "advanced" else None)
    tokens_per_step = int(round(enc.mean_tokens * per_step))
    ctx.event("model", {"method": cfg.method, "peft_type": cfg.peft_type if cfg.method == "advanced" else
                        methods.PEFT_TYPE_OF.get(cfg.method), "trainable": counts, "base_params": p.base_params,
                        "targets": p.targets.modules + p.targets.parameters if p.targets else [],
                        "data": prep.sizes(), "tokens_per_step": tokens_per_step, "device": hw.device,
                        "notes": [both(n) for n in notes]})
    for n in notes:
        log.info("%s", n)
    log.info("%s %s on %s: %s of %s parameters train (%.3f%%); data %s", cfg.task, cfg.method, base.ref,
             f"{counts['trainable']:,}", f"{counts['total']:,}", 100 * counts["share"], prep.sizes())

    bs_eval = max(1, cfg.batch_size)
    if cfg.task == "classification":
        def evaluate(m, ds=val_ds, prefix="val/", **kw) -> dict:
            return classifier_eval(m, ds, batch_size=bs_eval, collate=collate, num_labels=len(labels.names),
                                   bf16=hw.bf16, prefix=prefix, **kw)
    else:
        def evaluate(m, ds=val_ds, prefix="val/", **kw) -> dict:
            nb = enc.answer_bytes["validation" if prefix == "val/" else "test"]
            return heldout_loss(m, ds, batch_size=bs_eval, collate=collate, n_bytes=nb, bf16=hw.bf16, prefix=prefix)
    has_val = len(val_ds) > 0
    sample_prompts = prep.rows["validation"][:3] or prep.rows["train"][:3]

    def samples(m, step: int) -> list[dict]:
        users = [[x for x in msgs if x["role"] != "assistant"][: max(1, len(msgs) - 1)] for msgs in sample_prompts]
        out = generate_samples(m, tokenizer, [D.render(tokenizer, u, add_generation_prompt=True) for u in users],
                               max_new_tokens=cfg.sample_tokens, seed=cfg.seed, greedy=True,
                               shown=[u[-1]["content"] for u in users])
        record_samples(ctx, step, out)
        return out

    monitor, higher = cfg.monitor_key
    rules = LoopRules(max_steps=max_steps, eval_every=cfg.eval_every if has_val else 10**9,
                      sample_every=cfg.sample_every if cfg.task == "sft" else 0,
                      early_stopping=cfg.early_stopping if has_val else 0, max_minutes=cfg.max_minutes,
                      monitor=monitor, higher_is_better=higher)
    live = FinetuneCallback(ctx, rules,
                            evaluate=evaluate if has_val else (lambda m: {}),
                            sample=samples if cfg.task == "sft" and cfg.sample_every else None,
                            tokens_per_step=tokens_per_step, world=hw.world)
    trainer = Trainer(model=model, args=args, train_dataset=train_ds, data_collator=collate, callbacks=[live])
    if ctx.is_main:
        ctx.progress(0, max_steps, say("training", "학습 중"))
    t_train = time.time()
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    train_seconds = time.time() - t_train
    step = trainer.state.global_step
    if not ctx.is_main:
        return {}

    # -- final figures: validation of what is saved, then the test split once ------------------------------------
    final_model = trainer.model
    final_eval = live.finish(final_model, step) if has_val else {}
    test_eval, conf = {}, None
    if len(test_ds):
        if cfg.task == "classification":
            test_eval = evaluate(final_model, test_ds, "test/", return_predictions=True)
            golds, preds = test_eval.pop("_predictions")
            conf = confusion(golds, preds, len(labels.names))
        else:
            test_eval = evaluate(final_model, test_ds, "test/")
        ctx.metrics(step, test_eval, flush=True)
    if cfg.task == "sft" and cfg.sample_every and not live.last_samples:
        live.last_samples = samples(final_model, step)
    ctx.flush()
    last = ws.store.last_metrics(ctx.run_id)
    metrics = {k: v for k, v in last.items() if k in ("train/loss", "train/tokens_per_s", "sys/peak_rss_mb")}
    metrics.update(final_eval)
    metrics.update(test_eval)
    metrics = {k: v for k, v in metrics.items() if not k.endswith("/ppl") or k.startswith("test")}
    curves = {n: [(m["step"], m["value"]) for m in ws.store.metrics(ctx.run_id, [n])]
              for n in ("train/loss", "val/loss")}

    # -- the artifact ---------------------------------------------------------------------------------------
    staging = ws.staging_dir(kind, name)
    try:
        final_model.save_pretrained(str(staging), safe_serialization=True)
        if cfg.task == "sft" and getattr(final_model, "generation_config", None) is not None and cfg.method == "full":
            final_model.generation_config.pad_token_id = pad_id
            final_model.generation_config.eos_token_id = tokenizer.eos_token_id
            final_model.generation_config.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        data_art = prep.source.artifact
        meta = {
            "stage": "finetune", "run": ctx.run_id, "kind": kind, "task": TASK_NAMES[cfg.task], "method": cfg.method,
            "peft_type": (cfg.peft_type if cfg.method == "advanced" else methods.PEFT_TYPE_OF.get(cfg.method)),
            "quantization": {4: f"bitsandbytes 4-bit {cfg.quant_type}", 8: "bitsandbytes 8-bit"}.get(
                methods.QUANTIZED.get(cfg.method)),
            "chat_model": cfg.task == "sft", "chat_template": template_source,
            "base_model_path": base.path,
            "base_model": {"id": base.artifact.id if base.artifact else None,
                           "name": base.artifact.name if base.artifact else None, "path": base.path, "hub": base.hub},
            "data": {"source": prep.source.description, "files": prep.source.files, "sizes": prep.sizes(),
                     "how": prep.how, "columns": prep.columns.to_dict(), "dropped": prep.dropped,
                     "artifact": data_art.id if data_art else None},
            "labels": labels.to_dict() if labels else None, "pad_token_id": pad_id,
            "encoding": {"max_length": cfg.max_length, "padding_side": "left" if left else "right",
                         "pair_separator": ("tokenizer" if tokenizer.sep_token_id is not None else
                                            (tokenizer.eos_token or "")) if prep.columns.text_pair else None},
            "targets": (p.targets.modules + p.targets.parameters) if p.targets else [],
            "trainable": counts, "steps": step, "max_steps": max_steps, "ended_by": live.ended,
            "train_seconds": round(train_seconds, 2), "metrics": metrics, "confusion": conf,
            "samples": live.last_samples, "notes": [both(n) for n in notes], "config": cfg.to_dict(),
        }
        write_meta(staging, meta)
        write_card(staging, name=name, meta=meta, curves=curves)
        parents = [a.id for a in (base.artifact, data_art) if a is not None]
        art_id = ctx.publish(staging, kind, name, parents=parents, overwrite=cfg.overwrite or own, meta={
            k: meta[k] for k in ("stage", "task", "method", "peft_type", "chat_model", "base_model_path", "labels",
                                 "trainable", "metrics", "steps", "ended_by")})
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    path = ws.artifact_dir(kind, name)
    out = {"task": cfg.task, "method": cfg.method, "peft_type": meta["peft_type"], f"{kind}_artifact": art_id,
           "artifact": art_id, "kind": kind, "path": str(path), "base_model_path": base.path,
           "trainable_params": counts["trainable"], "total_params": counts["total"],
           "trainable_share": round(counts["share"], 6), "steps": step, "ended_by": live.ended,
           "data": prep.sizes(), "seconds_training": round(train_seconds, 2),
           "peak_rss_mb": round(peak_rss_mb(), 1),
           **{k.replace("/", "_"): round(v, 5) for k, v in metrics.items() if isinstance(v, (int, float))}}
    if labels:
        out["labels"] = labels.names
    if live.last_samples:
        out["samples"] = live.last_samples
    out["seconds_total"] = round(time.time() - t_start, 2)
    return out
