"""Checkpoints written by the Trainer, and resuming a run from its last complete one."""
from __future__ import annotations

import logging
from pathlib import Path

from ..errors import UserError
from ..i18n import say

log = logging.getLogger("workbench.training")


def step_of(checkpoint: Path) -> int:
    return int(checkpoint.name.split("-")[-1])


def complete_checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints, oldest first. The Trainer writes trainer_state.json last, so a folder without it
    is one a crash (out of memory, a kill) cut short: resuming from it would fail."""
    done = [p for p in folder.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    return sorted(done, key=step_of)


def resume_point(ctx, ckpt_dir: Path) -> Path | None:
    """For a resumed run (`ctx.resume`): its last complete checkpoint, with the metrics logged after it dropped so
    the curves continue without duplicates. None for a fresh run."""
    if not ctx.resume:
        return None
    cks = complete_checkpoints(ckpt_dir)
    if not cks:
        raise UserError(say("this run has no checkpoint to resume from: start a new run instead",
                            "이 실행에는 이어서 학습할 체크포인트가 없습니다. 새로 실행하세요"))
    last = cks[-1]
    if ctx.is_main and ctx.ws:
        ctx.ws.store.delete_metrics_after(ctx.run_id, step_of(last))
    log.info("resuming from %s", last)
    return last
