"""Comparing fine-tune runs: the "same data, same budget" preset (LoRA vs DoRA vs WaveFT vs full, one job each,
queued one after another) and the table of what each run cost and scored. No torch, no gradio."""
from __future__ import annotations

from pathlib import Path

from ..i18n import say

SAME_BUDGET = ("lora", "dora", "waveft", "full")
# full fine-tuning moves every weight: at the adapters' learning rate a small base forgets what pretraining taught it
# (bench/finetune_bench.py uses the same split). The preset caps its rate here and says so.
FULL_LR_CAP = 1e-4
COLUMNS = ["run", "output", "method", "status", "trainable", "trainable_pct", "steps", "test_accuracy",
           "test_macro_f1", "val_accuracy", "val_macro_f1", "val_loss", "train_s", "peak_rss_mb", "size_mb"]


def same_budget_configs(cfg, methods=SAME_BUDGET) -> list:
    """One config per method: same data, split, seed, steps, batch and time budget; only the method differs (and
    full fine-tuning's learning rate, capped at FULL_LR_CAP). Output names get the method as a suffix."""
    stem = cfg.output_name or "compare"
    out = []
    for m in methods:
        changes = {"method": m, "output_name": f"{stem}-{m}"}
        if m == "full" and cfg.lr > FULL_LR_CAP:
            changes["lr"] = FULL_LR_CAP
        out.append(cfg.replace(**changes))
    return out


def preset_note(cfg):
    """What the preset keeps equal and what it changes, for the person who starts it."""
    return say("Same data, split, seed, {steps} steps of batch {b}, time budget {t}; full fine-tuning at lr {lr:g} "
               "(the adapters at {alr:g}).",
               "같은 데이터·분할·시드, 배치 {b} 로 {steps} 스텝, 시간 제한 {t}; 전체 미세조정은 학습률 {lr:g} "
               "(어댑터는 {alr:g}).", steps=cfg.max_steps, b=cfg.batch_size,
               t=f"{cfg.max_minutes:g} min" if cfg.max_minutes else "-", lr=min(cfg.lr, FULL_LR_CAP), alr=cfg.lr)


def _size_mb(path: str | None) -> float | None:
    if not path or not Path(path).is_dir():
        return None
    return round(sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20, 2)


def comparison_rows(store, run_ids=None, limit: int = 12) -> list[dict]:
    """One row per fine-tune run (the given ones, else the latest `limit` that finished), in COLUMNS order:
    method, trainable parameters (count and %), scores on the test and validation splits, wall time of training,
    peak memory, and the size of what it saved on disk (an adapter is a few MB, a full model all its weights)."""
    if run_ids:
        runs = [r for r in (store.get_run(i) for i in run_ids) if r is not None and r.stage == "finetune"]
    else:
        runs = store.list_runs("finetune", status=["succeeded"], limit=limit)
    rows = []
    for r in runs:
        s = r.summary or {}
        cfg = r.config or {}
        method = cfg.get("method", "")
        if method == "advanced":
            method = f"advanced ({cfg.get('peft_type', '')})"
        share = s.get("trainable_share")
        rows.append({
            "run": r.id, "output": cfg.get("output_name") or "", "method": method, "status": r.status,
            "trainable": s.get("trainable_params"), "trainable_pct": round(100 * share, 4) if share is not None else None,
            "steps": s.get("steps"), "test_accuracy": s.get("test_accuracy"), "test_macro_f1": s.get("test_macro_f1"),
            "val_accuracy": s.get("val_accuracy"), "val_macro_f1": s.get("val_macro_f1"),
            "val_loss": s.get("val_loss"), "train_s": s.get("seconds_training"), "peak_rss_mb": s.get("peak_rss_mb"),
            "size_mb": _size_mb(s.get("path")),
        })
    return rows


def curve_names(rows: list[dict]) -> list[list[str]]:
    """The panels to overlay: the validation metric (accuracy and macro-F1 for classifiers), then the losses."""
    classifier = any(r.get("val_accuracy") is not None or r.get("test_accuracy") is not None for r in rows)
    panels = [["val/accuracy"], ["val/macro_f1"]] if classifier else []
    return panels + [["val/loss"], ["train/loss"]]
