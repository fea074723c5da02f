"""A run's life, in one place: created (config.json + a row in the store), executed, ended.

Three callers share it: the job queue (`jobs.JobManager.submit` creates a queued run that a child
process later executes), the CLI (`python -m workbench STAGE`, which executes a run it was handed
or one it creates), and in-process runs of the app (`run_in_process`, for short work that does not
need a child process). All of them record the same things, so every run shows the same way in the
Runs tab and reproduces from a terminal with its recorded command.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError, describe_exception
from .i18n import Text, say

log = logging.getLogger("workbench")

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_STOPPED = 0, 1, 2, 3


def cli_command(stage: str, config_path: Path, workspace: Path, run_id: str | None = None) -> list[str]:
    """`python -m workbench STAGE --config F --workspace W [--run-id R]` without the interpreter."""
    cmd = ["-m", "workbench", stage, "--config", str(config_path), "--workspace", str(workspace)]
    return cmd + (["--run-id", run_id] if run_id else [])


def create(ws, stage, cfg, *, status: str = "queued", name: str | None = None, parent_run: str | None = None,
           command=None, run_id: str | None = None) -> str:
    """Validate `cfg`, give it a run id, write `runs/<id>/config.json` and record the run.

    command: the command line to record, or a function of (config_path, run_id) that returns it."""
    cfg.validate()
    if stage.precheck is not None:
        stage.precheck(cfg, ws)
    run_id = run_id or ws.store.new_run_id(stage.name)
    config_path = ws.run_dir(run_id) / "config.json"
    config_path.write_text(cfg.to_json(), encoding="utf-8")
    if callable(command):
        command = command(config_path, run_id)
    ws.store.create_run(stage.name, cfg.to_dict(), run_id=run_id, name=name, command=command,
                        device=stage.device(cfg), status=status, parent_run=parent_run)
    if status == "running":
        mark_running_here(ws, run_id)
    return run_id


def mark_running_here(ws, run_id: str) -> None:
    """Record that this process runs `run_id` (the job queue's liveness checks read the pid)."""
    import psutil
    ws.store.update_run(run_id, pid=os.getpid(), pid_started=psutil.Process().create_time())


@dataclass
class Outcome:
    status: str = "succeeded"
    error: Text | None = None
    summary: dict = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return {"succeeded": EXIT_OK, "stopped": EXIT_STOPPED, "interrupted": EXIT_STOPPED}.get(self.status,
                                                                                             EXIT_FAILED)


def execute(stage, cfg, ctx, *, traceback_to_stderr: bool = True) -> Outcome:
    """Run the stage and turn how it ended into an Outcome; nothing escapes (a failure is recorded, not raised)."""
    from .runtime import StopRequested

    out = Outcome()
    try:
        out.summary = stage.run(cfg, ctx) or {}
        if ctx.should_stop:
            out.status = "interrupted" if ctx.ended_by_parent_death() else "stopped"
    except StopRequested:
        out.status = "interrupted" if ctx.ended_by_parent_death() else "stopped"
    except UserError as e:
        out.status, out.error = "failed", e.text
    except BaseException as e:  # noqa: BLE001 - every failure is recorded, then reported
        if traceback_to_stderr:
            traceback.print_exc()
        else:
            log.exception("run failed")
        out.status, out.error = "failed", describe_exception(e)
    finally:
        ctx.flush()
    if out.status in ("stopped", "interrupted") and not out.error:
        out.error = stop_text(ctx) if out.status == "stopped" else (ctx.stop_reason or None)
    return out


def stop_text(ctx) -> Text:
    """Why a stopped run stopped, read as a stop (not a failure), and where its last checkpoint is."""
    requested = bool(ctx.store and ctx.run_id and (run := ctx.store.get_run(ctx.run_id)) and run.stop_requested)
    reason = str(ctx.stop_reason or "")
    if requested or reason.startswith("stop requested"):
        why = say("Stop was pressed: the run saved its state and ended", "중지 버튼으로 멈췄습니다: 상태를 저장하고 끝냈습니다")
    elif reason.startswith("signal"):
        why = say("stopped by {sig} from outside the app (Ctrl+C or kill)", "앱 밖에서 {sig} 신호로 멈췄습니다 (Ctrl+C 나 kill)",
                  sig=reason.split()[-1])
    else:
        why = say("ended early: {r}", "일찍 끝남: {r}", r=ctx.stop_reason or "")
    ckpt = last_checkpoint(ctx.run_dir / "checkpoints") if ctx.run_id else None
    if ckpt is not None:
        why += say(" · last checkpoint: {p} (Resume continues from it)", " · 마지막 체크포인트: {p} (이어서 학습하면 여기서 계속)",
                   p=str(ckpt))
    return why


def last_checkpoint(folder: Path) -> Path | None:
    from .training.checkpoints import complete_checkpoints
    cks = complete_checkpoints(folder) if folder.is_dir() else []
    return cks[-1] if cks else None


def finish(ws, run_id: str, outcome: Outcome) -> None:
    ws.store.finish_run(run_id, outcome.status, error=outcome.error, exit_code=outcome.exit_code,
                        summary=outcome.summary)


class _ThreadFilter(logging.Filter):
    def __init__(self, ident: int):
        super().__init__()
        self.ident = ident

    def filter(self, record):
        return record.thread == self.ident


def run_in_process(stage_name: str, cfg, ws, *, name: str | None = None) -> dict:
    """Run a stage inside the calling process (the app), recorded like any job; returns
    {"run_id", "status", "summary", "error"} (error: a Text or None).

    Short work (training on a small corpus, comparing on a few hundred sentences) does not need a child
    process, which costs seconds of imports. Its log goes to the run's log.txt (this thread's records only);
    Stop works through the store's stop flag (the job queue never signals the app's own process)."""
    from . import stages
    from .runtime import RunContext

    stage = stages.get(stage_name)
    run_id = create(ws, stage, cfg, status="running", name=name,
                    command=lambda path, _rid: [sys.executable, *cli_command(stage_name, path, ws.root)])
    handler = logging.FileHandler(ws.run_dir(run_id) / "log.txt", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(_ThreadFilter(threading.get_ident()))
    wb_log = logging.getLogger("workbench")
    old_level = wb_log.level
    wb_log.addHandler(handler)
    if wb_log.getEffectiveLevel() > logging.INFO:
        wb_log.setLevel(logging.INFO)
    wb_log.info("in-process run of %s (same as: %s)", stage_name, " ".join(ws.store.get_run(run_id).command))
    ctx = RunContext(ws, run_id, stage_name)
    try:
        outcome = execute(stage, cfg, ctx, traceback_to_stderr=False)
        if outcome.error:
            wb_log.info("%s: %s", outcome.status, outcome.error)
    finally:
        wb_log.removeHandler(handler)
        wb_log.setLevel(old_level)
        handler.close()
    finish(ws, run_id, outcome)
    return {"run_id": run_id, "status": outcome.status, "summary": outcome.summary, "error": outcome.error}
