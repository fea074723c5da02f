"""Run a stage inside the calling process (the app), recorded in the store like any job.

Short work (training on a small corpus, comparing on a few hundred sentences) does not need a child
process: starting one costs seconds of imports. The run still gets a run id, config.json, a log,
progress, a summary and an ending status, so it shows in the Runs tab and its artifact has lineage;
it reproduces from a terminal with the recorded command. Stop works through the store's stop flag
(the job manager never signals the app's own process).
"""
from __future__ import annotations

import logging
import os
import sys
import threading

from workbench.errors import UserError, describe_exception


class _ThreadFilter(logging.Filter):
    def __init__(self, ident: int):
        super().__init__()
        self.ident = ident

    def filter(self, record):
        return record.thread == self.ident


def run_in_process(stage_name: str, cfg, ws, *, name: str | None = None) -> dict:
    """Run `stage_name` with `cfg` here; returns {"run_id", "status", "summary", "error"}."""
    import psutil

    from workbench import stages
    from workbench.runtime import RunContext, StopRequested

    stage = stages.get(stage_name)
    cfg.validate()
    run_id = ws.store.new_run_id(stage_name)
    run_dir = ws.run_dir(run_id)
    config_path = run_dir / "config.json"
    config_path.write_text(cfg.to_json(), encoding="utf-8")
    command = [sys.executable, "-m", "workbench", stage_name, "--config", str(config_path), "--workspace", str(ws.root)]
    ws.store.create_run(stage_name, cfg.to_dict(), run_id=run_id, name=name, command=command,
                        device=stage.device(cfg), status="running")
    ws.store.update_run(run_id, pid=os.getpid(), pid_started=psutil.Process().create_time())

    handler = logging.FileHandler(run_dir / "log.txt", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(_ThreadFilter(threading.get_ident()))
    wb_log = logging.getLogger("workbench")
    old_level = wb_log.level
    wb_log.addHandler(handler)
    if wb_log.getEffectiveLevel() > logging.INFO:
        wb_log.setLevel(logging.INFO)
    wb_log.info("in-process run of %s (same as: %s)", stage_name, " ".join(command))

    ctx = RunContext(ws, run_id, stage_name)
    status, error, summary = "succeeded", None, {}
    try:
        summary = stage.run(cfg, ctx) or {}
        if ctx.should_stop:
            status = "stopped"
    except StopRequested as e:
        status, error = "stopped", str(e) or "stopped"
    except UserError as e:
        status, error = "failed", str(e)
    except Exception as e:  # noqa: BLE001 - recorded and shown, never takes the app down
        logging.getLogger("workbench").exception("in-process run failed")
        status, error = "failed", describe_exception(e)
    finally:
        ctx.flush()
        if error:
            wb_log.info("%s: %s", status, error)
        wb_log.removeHandler(handler)
        wb_log.setLevel(old_level)
        handler.close()
    ws.store.finish_run(run_id, status, error=error, exit_code=0 if status == "succeeded" else 1, summary=summary)
    return {"run_id": run_id, "status": status, "summary": summary, "error": error}
