"""Preference training on TRL's DPOTrainer (or KTOTrainer), with the shared training pieces.

TRL does the objective (DPO's losses, the reference forward, rewards and their logging) on the Hugging Face
Trainer; workbench/training/ adds live metrics and progress, Stop, the time budget, early stopping and the best
checkpoint by validation reward accuracy, resume from the last complete checkpoint, the fit check and the shared
arguments. This module holds what is alignment's own: the policy (an SFT adapter merged in memory) and its
reference, the pairs checked before any weight is loaded, an optional SFT warm-up on the chosen answers, held-out
pairs scored before and after, the reference's and the aligned model's answers side by side, and the artifact.
"""
from __future__ import annotations

import copy
import logging
import math
import shutil
import time

from ..artifacts import output_name, write_meta
from ..errors import UserError
from ..finetune import data as FD
from ..finetune import methods
from ..finetune.model import check_vocab, ensure_pad, plan
from ..i18n import both, say
from ..training import checkpoints, hardware, memory
from ..training.arguments import no_activation_checkpointing, schedule_arguments, shared_arguments
from ..training.callback import LiveCallback, LoopRules, peak_rss_mb
from . import trainers
from .data import check_lengths, conversational, prepare_pairs, tricky_prompts
from .policy import (check_causal, check_same_tokenizer, config_of, load_model, resolve_policy, set_chat_template,
                     tokenizer_of)
from .scoring import Scorer, before_after, looping_warning, preference_figures, reward_figures
from .stage import AlignConfig, output_kind

log = logging.getLogger("workbench.align")
LOGGED = ("rewards/", "logps/", "logits/")


class AlignCallback(LiveCallback):
    """The shared callback, plus TRL's preference figures (rewards, log-probabilities, KTO's KL) on the train curves
    and the log-ratio to the reference (rewards / beta: how far the policy has moved on each side)."""

    def __init__(self, *a, beta: float, **kw):
        super().__init__(*a, **kw)
        self.beta = beta

    def on_log(self, args, state, control, logs=None, **kw):
        super().on_log(args, state, control, logs=logs, **kw)
        if not self.ctx.is_main or not logs or "loss" not in logs:
            return
        vals = {f"train/{k}": v for k, v in logs.items() if k.startswith(LOGGED) or k == "kl"}
        for side in ("chosen", "rejected"):
            if f"rewards/{side}" in logs and self.beta:
                vals[f"train/logratio/{side}"] = logs[f"rewards/{side}"] / self.beta
        self.ctx.metrics(state.global_step, vals)

    def progress_text(self, step: int):
        if self.last_eval and self.rules.monitor in self.last_eval:
            return say("step {s}/{n} · val reward accuracy {v:.2f}", "{s}/{n} 스텝 · 검증 보상 정확도 {v:.2f}", s=step,
                       n=self.rules.max_steps, v=self.last_eval[self.rules.monitor])
        return super().progress_text(step)


def _memory_need(p, cfg: AlignConfig, tokens: int, config, separate_ref: bool) -> float:
    trainable = (p.counts or {}).get("trainable") or p.base_params
    weights = p.base_params * 4 * (2 if separate_ref else 1)
    opt = trainable * (4 + 4 + 8)
    hidden = getattr(config, "hidden_size", None) or getattr(config, "n_embd", 1024)
    layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", 12)
    vocab = getattr(config, "vocab_size", 0) or 0
    rows = 2 * cfg.batch_size  # chosen and rejected in one batch
    act = rows * tokens * hidden * layers * 34 * 4
    logits = 3 * rows * tokens * vocab * 4
    return weights + opt + act + logits


def sft_warmup(model, tokenizer, pairs: list[dict], cfg: AlignConfig, ctx, pcfg) -> object:
    """SFT on the chosen answers (the loss on the answer tokens only, as the Fine-tune stage builds it) for
    cfg.sft_warmup_steps steps; with LoRA/DoRA the warm-up adapter is merged afterwards. Returns the warmed model,
    which becomes the reference."""
    import torch
    items = [e for e in (FD.encode_chat(tokenizer, conversational(p, cfg.system_prompt)["prompt"] +
                                        conversational(p, cfg.system_prompt)["chosen"], cfg.max_length)
                         for p in pairs) if e is not None]
    if not items:
        raise UserError(say("the SFT warm-up found no chosen answer that fits max_length ({m}): raise max_length",
                            "SFT 예열에 max_length ({m}) 안에 드는 좋은 답이 없습니다. max_length 를 늘리세요",
                            m=cfg.max_length))
    if pcfg is not None:
        model = methods.apply_peft(model, copy.deepcopy(pcfg))
    collate = FD.make_collator(tokenizer.pad_token_id or 0)
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=cfg.lr)
    g = torch.Generator().manual_seed(cfg.seed)
    model.train()
    for step in range(1, cfg.sft_warmup_steps + 1):
        if ctx.should_stop:
            break
        idx = torch.randint(len(items), (min(cfg.batch_size, len(items)),), generator=g).tolist()
        loss = model(**collate([items[i] for i in idx])).loss
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        ctx.metrics(step, {"sft/loss": float(loss.detach())})
        ctx.progress(step, cfg.sft_warmup_steps, say("SFT warm-up step {s}/{n}", "SFT 예열 {s}/{n} 스텝", s=step,
                                                     n=cfg.sft_warmup_steps))
    ctx.flush()
    if pcfg is not None:
        model = model.merge_and_unload()
    return model


def run(cfg: AlignConfig, ctx) -> dict:
    import datasets

    t_start = time.time()
    ws = ctx.ws
    hw = hardware.resolve(cfg)
    Trainer, Config, uses_ref = trainers.load(cfg.algorithm)

    # -- inputs, all checked before any weight is loaded ---------------------------------------------------
    policy = resolve_policy(ws, cfg.policy_model)
    config = config_of(policy)
    check_causal(policy, config)
    tokenizer = tokenizer_of(policy)
    check_vocab(tokenizer, config, policy.base)
    notes = []
    pad_note = ensure_pad(tokenizer, "sft")
    if pad_note:
        notes.append(pad_note)
    template_source = set_chat_template(tokenizer, cfg.chat_template)
    if template_source == "default":
        notes.append(say("the policy's tokenizer has no chat template: using the plain '### 질문 / ### 답변' one (saved "
                         "with the result); a base that never saw it learns it best with an SFT warm-up first",
                         "정책 모델의 토크나이저에 채팅 템플릿이 없어 '### 질문 / ### 답변' 템플릿을 씁니다 (결과와 함께 "
                         "저장). 이 템플릿을 본 적 없는 모델은 SFT 예열을 먼저 하면 잘 배웁니다"))
    reference = None
    if cfg.reference_model.strip():
        if not uses_ref:
            raise UserError(say("{a} uses no reference model: clear reference_model",
                                "{a} 은(는) 기준 모델을 쓰지 않습니다. reference_model 을 비우세요", a=cfg.algorithm))
        reference = resolve_policy(ws, cfg.reference_model, what="reference")
        check_causal(reference, config_of(reference), "reference")
        check_same_tokenizer(tokenizer, tokenizer_of(reference), cfg.reference_model)
    kind = output_kind(cfg, policy)
    name = output_name(ws, kind, cfg.output_name or ctx.run_id or "aligned", overwrite=cfg.overwrite,
                       run_id=ctx.run_id)
    existing = ws.store.get_artifact(kind=kind, name=name) if ws else None
    own = existing is not None and existing.run == ctx.run_id
    pairs = prepare_pairs(cfg, ws)
    check_lengths(pairs.rows, tokenizer, cfg)
    n_train = len(pairs.rows["train"])
    per_step = cfg.batch_size * cfg.grad_accum * hw.world
    max_steps = max(1, math.ceil(cfg.epochs * n_train / per_step)) if cfg.epochs else cfg.max_steps
    p = plan(cfg, config, total_steps=max_steps)
    notes += list(p.targets.notes if p.targets else [])
    lengths = [len(FD.encode_chat(tokenizer, conversational(r, cfg.system_prompt)["prompt"] +
                                  conversational(r, cfg.system_prompt)[side], 10**9)["input_ids"])
               for r in pairs.rows["train"][:256] for side in ("chosen", "rejected")]
    mean_tokens = min(cfg.max_length, sum(lengths) / max(1, len(lengths)))
    separate_ref = cfg.method == "full" or reference is not None
    memory.check_fits(_memory_need(p, cfg, int(mean_tokens), config, separate_ref), p.base_params, hw,
                      fix_en="lower batch_size (use grad_accum to keep the effective batch), lower max_length, or use "
                             "lora instead of full (no second copy of the model as reference)",
                      fix_ko="batch_size 를 줄이거나 (grad_accum 으로 실효 배치 유지), max_length 를 줄이거나, full 대신 "
                             "lora 를 쓰세요 (기준 모델 사본이 필요 없음)")

    # -- the models ----------------------------------------------------------------------------------------
    from transformers import set_seed
    set_seed(cfg.seed)
    model = load_model(policy)
    model.config.pad_token_id = tokenizer.pad_token_id
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    pcfg = methods.peft_config(cfg, p.targets, task="sft", head=[], total_steps=max_steps) \
        if cfg.method != "full" else None
    if cfg.sft_warmup_steps:
        model = sft_warmup(model, tokenizer, pairs.rows["train"], cfg, ctx, pcfg)
        if ctx.should_stop:
            return {"stopped_in": "sft_warmup"}
    ref_model = load_model(reference) if reference is not None else (copy.deepcopy(model) if cfg.method == "full"
                                                                     else None)
    if ref_model is not None:
        ref_model.eval().requires_grad_(False)
    if pcfg is not None:
        model = methods.apply_peft(model, pcfg)
    if hw.device == "cuda":
        model.to("cuda")
        if ref_model is not None:
            ref_model.to("cuda")
    counts = methods.trainable_summary(model)
    scorer = Scorer(model, tokenizer, ref_model, cfg.beta, cfg.max_length, cfg.system_prompt)
    tokens_per_step = int(round(2 * mean_tokens * per_step))
    ctx.event("model", {"algorithm": cfg.algorithm, "method": cfg.method, "loss_type": cfg.loss_type,
                        "trainable": counts, "base_params": p.base_params, "data": pairs.sizes(),
                        "reference": "frozen copy" if reference is None and cfg.method == "full" else
                        ("adapter off" if reference is None else reference.ref),
                        "tokens_per_step": tokens_per_step, "device": hw.device, "notes": [both(n) for n in notes]})
    for n in notes:
        log.info("%s", n)
    log.info("%s %s on %s: %s of %s parameters train (%.3f%%); pairs %s", cfg.algorithm, cfg.method, policy.ref,
             f"{counts['trainable']:,}", f"{counts['total']:,}", 100 * counts["share"], pairs.sizes())

    # -- held-out pairs before training --------------------------------------------------------------------
    test = pairs.rows["test"]
    heldout = {}
    ref_test = None
    if test and ctx.is_main:
        ctx.progress(0, max_steps, say("scoring held-out pairs before training", "학습 전 시험 쌍 채점 중"))
        ref_test = scorer.pair_logps(test, "reference")
        heldout["before"] = {**preference_figures(*ref_test, ""), "reward_accuracy": 0.0, "reward_margin": 0.0}

    # -- training ------------------------------------------------------------------------------------------
    ckpt_dir = ctx.run_dir / "checkpoints"
    resume_from = checkpoints.resume_point(ctx, ckpt_dir)
    extra = {"beta": cfg.beta, "max_length": cfg.max_length, "disable_dropout": True}
    if cfg.algorithm == "dpo":
        extra.update(loss_type=[cfg.loss_type], precompute_ref_log_probs=False)
    args = Config(
        per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, max_steps=max_steps, learning_rate=cfg.lr,
        warmup_steps=cfg.warmup_steps, weight_decay=cfg.weight_decay, max_grad_norm=cfg.grad_clip,
        **no_activation_checkpointing(Config),
        **schedule_arguments(cfg.schedule, max_steps=max_steps, min_lr_ratio=cfg.min_lr_ratio,
                             decay_fraction=cfg.decay_fraction),
        **shared_arguments(cfg, hw, ckpt_dir, save_every=cfg.save_every, seed=cfg.seed), **extra)
    to_ds = lambda rows: datasets.Dataset.from_list([conversational(r, cfg.system_prompt) for r in rows])  # noqa: E731
    train_ds = to_ds(pairs.rows["train"])
    val_ds = to_ds(pairs.rows["validation"]) if pairs.rows["validation"] else None
    has_val = val_ds is not None
    holder: dict = {}

    def evaluate(m) -> dict:
        was, trainer = m.training, holder["trainer"]
        should_log = trainer.control.should_log  # evaluate() logs, which clears the flag of this step's train log
        res = trainer.evaluate()
        trainer.control.should_log = should_log
        m.train(was)  # TRL logs train figures by the model's mode: it must be back in training mode
        return {"val/" + k[len("eval_"):]: v for k, v in res.items()
                if k.startswith("eval_") and isinstance(v, (int, float)) and k not in (
                    "eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "eval_num_tokens")}

    monitor = "val/rewards/accuracies" if cfg.algorithm == "dpo" else "val/loss"
    rules = LoopRules(max_steps=max_steps, eval_every=cfg.eval_every if has_val else 10**9,
                      early_stopping=cfg.early_stopping if has_val else 0, max_minutes=cfg.max_minutes,
                      monitor=monitor, higher_is_better=cfg.algorithm == "dpo", best_always=has_val)
    live = AlignCallback(ctx, rules, evaluate=evaluate if has_val else (lambda m: {}),
                         tokens_per_step=tokens_per_step, world=hw.world, beta=cfg.beta)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = Trainer(model=model, ref_model=ref_model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
                          processing_class=tokenizer, callbacks=[live])
    holder["trainer"] = trainer
    if ctx.is_main:
        ctx.progress(0, max_steps, say("training", "학습 중"))
    t_train = time.time()
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    train_seconds = time.time() - t_train
    step = trainer.state.global_step
    if not ctx.is_main:
        return {}
    final_model = trainer.model
    final_eval = live.finish(final_model, step) if has_val else {}
    scorer.policy = final_model

    # -- held-out pairs after, and answers side by side ------------------------------------------------------
    if test:
        ctx.progress(step, max_steps, say("scoring held-out pairs after training", "학습 후 시험 쌍 채점 중"))
        pol_test = scorer.pair_logps(test, "policy")
        heldout["after"] = {**preference_figures(*pol_test, ""), **reward_figures(pol_test, ref_test, cfg.beta, "")}
        ctx.metrics(step, {f"test/{k}": v for k, v in heldout["after"].items() if v is not None}, flush=True)
    prompts = [{"prompt": r["prompt"], "kind": "held-out"} for r in (test or pairs.rows["validation"])[
        :cfg.compare_prompts]]
    if cfg.tricky_prompts:
        prompts += [{"prompt": t, "kind": "tricky"} for t in tricky_prompts()]
    compare = []
    if prompts:
        ctx.progress(step, max_steps, say("answering the comparison prompts", "비교 프롬프트에 답하는 중"))
        compare = before_after(scorer, prompts, max_new_tokens=cfg.compare_tokens)
        ctx.event("compare", {"step": step, "rows": compare})
    looping = looping_warning(compare)
    if looping:
        log.warning("%s", looping)
    ctx.flush()
    last = ws.store.last_metrics(ctx.run_id)
    metrics = {k: v for k, v in last.items() if k.startswith("train/") and k.split("/", 1)[1] in (
        "loss", "tokens_per_s", "rewards/accuracies", "rewards/margins")}
    metrics["sys/peak_rss_mb"] = peak_rss_mb()
    metrics.update(final_eval)
    metrics.update({f"test/{k}": v for k, v in heldout.get("after", {}).items() if v is not None})
    curves = {n: [(m["step"], m["value"]) for m in ws.store.metrics(ctx.run_id, [n])]
              for n in ("train/loss", "val/loss", "train/rewards/margins", "val/rewards/margins")}

    # -- the artifact ---------------------------------------------------------------------------------------
    staging = ws.staging_dir(kind, name)
    try:
        to_save = final_model.merge_and_unload() if (kind == "model" and hasattr(final_model, "merge_and_unload")) \
            else final_model
        to_save.save_pretrained(str(staging), safe_serialization=True)
        if getattr(to_save, "generation_config", None) is not None and kind == "model":
            to_save.generation_config.pad_token_id = tokenizer.pad_token_id
            to_save.generation_config.eos_token_id = tokenizer.eos_token_id
            to_save.generation_config.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        data_art = pairs.source.artifact
        meta = {
            "stage": "align", "run": ctx.run_id, "kind": kind, "task": "causal-lm", "algorithm": cfg.algorithm,
            "method": cfg.method, "loss_type": cfg.loss_type if cfg.algorithm == "dpo" else None, "beta": cfg.beta,
            "chat_model": True, "chat_template": template_source,
            "base_model_path": policy.base.path if kind == "adapter" else None,
            "base_model": {"id": policy.base.artifact.id if policy.base.artifact else None, "path": policy.base.path,
                           "hub": policy.base.hub},
            "policy": {"ref": cfg.policy_model, "adapter": policy.adapter,
                       "artifacts": [a.id for a in policy.artifacts]},
            "reference": {"ref": cfg.reference_model or None,
                          "kind": "model" if reference is not None else ("frozen copy" if cfg.method == "full"
                                                                         else "adapter off")},
            "sft_warmup_steps": cfg.sft_warmup_steps,
            "data": {"source": pairs.source.description, "files": pairs.source.files, "sizes": pairs.sizes(),
                     "how": pairs.how, "columns": pairs.columns, "artifact": data_art.id if data_art else None},
            "pad_token_id": tokenizer.pad_token_id, "trainable": counts, "steps": step, "max_steps": max_steps,
            "ended_by": live.ended, "train_seconds": round(train_seconds, 2), "metrics": metrics,
            "heldout": heldout, "compare": compare, "notes": [both(n) for n in notes], "config": cfg.to_dict(),
        }
        write_meta(staging, meta)
        _write_card(staging, name, meta)
        parents = [a.id for a in policy.artifacts]
        parents += [a.id for a in (reference.artifacts if reference else [])]
        parents += [data_art.id] if data_art else []
        art_id = ctx.publish(staging, kind, name, parents=list(dict.fromkeys(parents)), overwrite=cfg.overwrite or own,
                             meta={k: meta[k] for k in ("stage", "task", "algorithm", "method", "chat_model",
                                                        "base_model_path", "trainable", "metrics", "steps",
                                                        "ended_by")})
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    out = {"algorithm": cfg.algorithm, "method": cfg.method, "artifact": art_id, f"{kind}_artifact": art_id,
           "kind": kind, "path": str(ws.artifact_dir(kind, name)), "trainable_params": counts["trainable"],
           "trainable_share": round(counts["share"], 6), "steps": step, "ended_by": live.ended, "data": pairs.sizes(),
           "seconds_training": round(train_seconds, 2), "peak_rss_mb": round(peak_rss_mb(), 1),
           "heldout": heldout, "compare": compare, "curves_points": {k: len(v) for k, v in curves.items()},
           "warnings": [both(looping)] if looping else [],
           **{k.replace("/", "_"): round(v, 5) for k, v in metrics.items() if isinstance(v, (int, float))}}
    out["seconds_total"] = round(time.time() - t_start, 2)
    # the run's last words on its panel (else the last phase, "answering the comparison prompts", stays there)
    acc = (heldout.get("after") or {}).get("reward_accuracy")
    ctx.progress(step, max_steps, say("done: step {s}/{n} · held-out reward accuracy {a}",
                                      "완료: {s}/{n} 스텝 · 시험 쌍 보상 정확도 {a}", s=step, n=max_steps,
                                      a="-" if acc is None else f"{acc:.3f}"))
    return out


def _write_card(folder, name: str, meta: dict) -> None:
    """A model card: what was aligned, against what, on which pairs, and the held-out figures before and after."""
    h = meta.get("heldout") or {}
    lines = [f"# {name}", "", f"Aligned by the Korean LLM Workbench with {meta['algorithm'].upper()} "
             f"({meta['method']}, loss {meta.get('loss_type')}, beta {meta['beta']}).", "",
             f"- Policy: `{meta['policy']['ref']}`" + (f" (adapter `{meta['policy']['adapter']}` merged)"
                                                       if meta["policy"]["adapter"] else ""),
             f"- Reference: {meta['reference']['ref'] or meta['reference']['kind']}",
             f"- Pairs: {meta['data']['source']} · " + ", ".join(f"{k} {v}" for k, v in meta["data"]["sizes"].items()),
             f"- Steps: {meta['steps']} ({meta['ended_by']}), {meta['train_seconds']} s", ""]
    if h:
        lines += ["| held-out pairs | log-prob accuracy | log-prob margin | reward accuracy | reward margin |",
                  "|---|---|---|---|---|"]
        for k in ("before", "after"):
            if k in h:
                r = h[k]
                lines.append(f"| {k} | " + " | ".join("–" if r.get(x) is None else f"{r[x]:.4g}" for x in (
                    "logp_accuracy", "logp_margin", "reward_accuracy", "reward_margin")) + " |")
        lines += ["", "Before training the policy is the reference, so every implicit reward is 0."]
    (folder / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
