"""The TrainingArguments every training stage shares; a stage adds its own (batch, LR, schedule, ...)."""
from __future__ import annotations

from pathlib import Path

SCHEDULES = ["cosine", "wsd", "constant"]


def schedule_arguments(schedule: str, *, max_steps: int, min_lr_ratio: float, decay_fraction: float) -> dict:
    """lr_scheduler_type + kwargs for a schedule name: cosine (to min_lr_ratio of the peak), wsd
    (warmup-stable-decay, the last decay_fraction of the steps decaying), constant (after warmup)."""
    name, kw = {"cosine": ("cosine_with_min_lr", {"min_lr_rate": min_lr_ratio}),
                "wsd": ("warmup_stable_decay", {"num_decay_steps": max(1, int(decay_fraction * max_steps)),
                                                "min_lr_ratio": min_lr_ratio}),
                "constant": ("constant_with_warmup", {})}[schedule]
    return {"lr_scheduler_type": name, "lr_scheduler_kwargs": kw}


def shared_arguments(cfg, hw, output_dir: Path, *, save_every: int, seed: int,
                     find_unused_parameters: bool = False) -> dict:
    """Checkpointing (every save_every steps, the last two kept), logging every 5 steps into our callback only,
    precision, torch.compile, and DDP (gloo on CPU) / FSDP from the config's ComputeSettings."""
    return dict(
        output_dir=str(output_dir), logging_steps=5, logging_first_step=True, save_strategy="steps",
        save_steps=save_every, save_total_limit=2, report_to="none", disable_tqdm=True, seed=seed, data_seed=seed,
        use_cpu=hw.device == "cpu", bf16=hw.bf16, fp16=hw.fp16, torch_compile=cfg.compile, dataloader_num_workers=0,
        remove_unused_columns=False, eval_strategy="no",
        ddp_backend="gloo" if (hw.device == "cpu" and hw.world > 1) else None,
        fsdp="full_shard auto_wrap" if cfg.fsdp else "", ddp_find_unused_parameters=find_unused_parameters,
    )


def no_activation_checkpointing(args_cls) -> dict:
    """The argument that turns activation (gradient) checkpointing off in args_cls (TRL's configs default it on): its
    new name where this transformers has it (5.25 renamed it, and the old name warns of its removal in v6), else the
    old one (5.20)."""
    import dataclasses
    names = {f.name for f in dataclasses.fields(args_cls)}
    return {"activation_checkpointing": False} if "activation_checkpointing" in names else {
        "gradient_checkpointing": False}
