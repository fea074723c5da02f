"""Running the plan: each step is a run of its own stage, started as the stage's CLI in a child process (the same
command the job queue starts), recorded in the store with this pipeline run as its parent, so the Runs tab, the job
panels and the lineage see it like any other run. The pipeline waits for the device to be free before each step
(one running job per device, as the queue does), forwards Stop, and reads each step's outcome from the store.

Reuse: a step is not redone when its artifact exists, the run that made it succeeded with exactly this config, and
none of its inputs was made after it. Resume: resuming the pipeline run resumes its stopped or failed training step
from that step's last checkpoint (`--resume`), and reuses what is done."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time

from .. import runs
from ..errors import UserError
from ..i18n import say
from ..jobs import PROJECT_ROOT, build_command
from ..stages import get
from .plan import PlannedStep, make_plan
from .presets import FIGURES

log = logging.getLogger("workbench.pipeline")
VOLATILE = ("overwrite", "threads")
GRACE_S = 10.0


def _same_config(a: dict | None, b: dict) -> bool:
    strip = lambda d: {k: v for k, v in (d or {}).items() if k not in VOLATILE}  # noqa: E731
    return json.dumps(strip(a), sort_keys=True, default=str) == json.dumps(strip(b), sort_keys=True, default=str)


def reusable(ws, step: PlannedStep):
    """(run, artifact) of an earlier run that made exactly this step, or None."""
    if step.kinds is None:  # the chat check: the latest succeeded chat run with this config, after its model
        model = next((ws.store.get_artifact(kind=k, name=step.inputs[0]) for k in ("adapter", "model")
                      if ws.store.get_artifact(kind=k, name=step.inputs[0])), None)
        for run in ws.store.list_runs(stage=step.stage, status=("succeeded",), limit=50):
            if model is not None and run.created > model.created and _same_config(run.config, step.cfg.to_dict()):
                return run, None
        return None
    art = next((a for k in step.kinds if (a := ws.store.get_artifact(kind=k, name=step.output)) is not None), None)
    if art is None or not art.run:
        return None
    run = ws.store.get_run(art.run)
    if run is None or run.status != "succeeded" or not _same_config(run.config, step.cfg.to_dict()):
        return None
    for pid in art.parents:
        parent = ws.store.get_artifact(pid)
        if parent is not None and parent.created > art.created:
            return None
    return run, art


def _device_busy(ws, device: str, own: set) -> bool:
    return any(r.device == device and r.id not in own for r in ws.store.list_runs(status=("running",), limit=1000))


def _figure(key: str, summary: dict):
    if key == "evaluate" and summary.get("models"):  # the last model scored (the aligned one in the chain)
        summary = {**summary, **(summary["models"][-1].get("metrics") or {})}
    for name in FIGURES.get(key, ()):
        v = summary.get(name)
        if isinstance(v, (int, float)):
            return {"name": name, "value": round(float(v), 4)}
    return None


def _chat_figures(summary: dict) -> dict:
    from ..training.sampling import hangul_ratio
    reply = summary.get("reply") or ""
    return {**summary, "hangul_ratio": round(hangul_ratio(reply), 4)}


def _execute(ws, ctx, step: PlannedStep, resume_run: str | None) -> tuple[str, str, dict]:
    """Run one step as its stage's CLI in a child process; returns (run id, status, summary)."""
    stage = get(step.stage)
    device = stage.device(step.cfg)
    own = {ctx.run_id}
    waited = False
    while _device_busy(ws, device, own):
        if ctx.should_stop:
            return "", "stopped", {}
        if not waited:
            log.info("step %s waits for %s (another job runs there)", step.key, device)
            ctx.event("step", {"step": step.key, "status": "waiting", "device": device})
            waited = True
        time.sleep(1.0)
    if resume_run:
        run_id = resume_run
        run = ws.store.get_run(run_id)
        command = [*(run.command or [])]
        if "--resume" not in command:
            command.append("--resume")
    else:
        run_id = runs.create(ws, stage, step.cfg, status="running", parent_run=ctx.run_id,
                             name=f"{cfg_name(ctx)}.{step.key}",
                             command=lambda path, rid: build_command(step.stage, path, ws.root, rid, step.cfg))
        command = list(ws.store.get_run(run_id).command)
        ws.store.update_run(run_id, pid=None)
    env = dict(os.environ, PYTHONUNBUFFERED="1", WORKBENCH_SUPERVISED="1", WORKBENCH_RUN_ID=run_id)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    log_path = ws.run_dir(run_id) / "log.txt"
    with open(log_path, "ab", buffering=0) as logf:
        logf.write(f"$ {' '.join(command)}\n".encode())
        proc = subprocess.Popen(command, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=PROJECT_ROOT, env=env, start_new_session=True)
        try:
            import psutil
            started = psutil.Process(proc.pid).create_time()
        except Exception:  # noqa: BLE001 - the child already ended
            started = None
        ws.store.update_run(run_id, pid=proc.pid, pid_started=started)
        kill_at = None
        while proc.poll() is None:
            if ctx.should_stop and kill_at is None:
                ws.store.request_stop(run_id)
                _signal(proc.pid, signal.SIGTERM)
                kill_at = time.time() + GRACE_S
            if kill_at is not None and time.time() > kill_at:
                _signal(proc.pid, signal.SIGKILL)
            time.sleep(0.5)
    run = ws.store.get_run(run_id)
    if run.status == "running":  # the child died without recording an ending
        status = "stopped" if ctx.should_stop else "failed"
        ws.store.finish_run(run_id, status, error=say("the step's process ended with code {c}",
                                                      "단계 프로세스가 종료 코드 {c} 로 끝났습니다", c=proc.returncode),
                            exit_code=proc.returncode, only_if_active=True)
        run = ws.store.get_run(run_id)
    return run_id, run.status, run.summary or {}


def cfg_name(ctx) -> str:
    return ctx.run_id or "pipeline"


def _signal(pid: int, sig: int) -> None:
    try:
        os.killpg(os.getpgid(pid), sig)
    except (ProcessLookupError, PermissionError):
        pass


def _previous_steps(ctx) -> dict:
    """What an earlier attempt of this pipeline run recorded per step (for resume)."""
    path = ctx.run_dir / "steps.json"
    try:
        return {s["step"]: s for s in json.loads(path.read_text(encoding="utf-8"))}
    except (OSError, ValueError):
        return {}


def run(cfg, ctx) -> dict:
    ws = ctx.ws
    t0 = time.time()
    plan = make_plan(cfg, ws)
    previous = _previous_steps(ctx) if ctx.resume else {}
    results: list[dict] = []
    n = len(plan)

    def save():
        (ctx.run_dir / "steps.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")

    # the whole plan first, so the tab shows every step waiting its turn
    ctx.event("plan", {"steps": [{"step": p.key, "stage": p.stage, "output": p.output} for p in plan]})
    for i, step in enumerate(plan):
        if ctx.should_stop:
            results.append({"step": step.key, "stage": step.stage, "status": "skipped"})
            continue
        ctx.progress(i, n, say("step {k}/{n}: {s}", "{k}/{n} 단계: {s}", k=i + 1, n=n, s=step.key))
        t = time.time()
        found = reusable(ws, step) if cfg.reuse else None
        if found is not None:
            prev_run, art = found
            summary = prev_run.summary or {}
            if step.key == "chat":
                summary = _chat_figures(summary)
            rec = {"step": step.key, "stage": step.stage, "status": "reused", "run_id": prev_run.id,
                   "artifact": step.output, "seconds": round(time.time() - t, 2),
                   "figure": _figure(step.key, summary)}
            if step.key == "chat":
                rec["reply"] = summary.get("reply")
        else:
            prev = previous.get(step.key) or {}
            resume_run = prev.get("run_id") if prev.get("status") in ("stopped", "failed", "interrupted") and \
                step.stage in ("pretrain", "finetune", "align") else None
            ctx.event("step", {"step": step.key, "status": "running", "index": i})
            run_id, status, summary = _execute(ws, ctx, step, resume_run)
            if step.key == "chat":
                summary = _chat_figures(summary)
            rec = {"step": step.key, "stage": step.stage, "status": status, "run_id": run_id,
                   "artifact": step.output if status == "succeeded" else None,
                   "seconds": round(time.time() - t, 2), "figure": _figure(step.key, summary)}
            if resume_run:
                rec["resumed"] = True
            if step.key == "chat" and status == "succeeded":
                rec["reply"] = summary.get("reply")
        results.append(rec)
        ctx.event("step", {**rec, "index": i})
        ctx.metrics(i + 1, {"pipeline/step_seconds": rec["seconds"]})
        save()
        log.info("step %s: %s in %.1f s (%s)", step.key, rec["status"], rec["seconds"], rec.get("figure"))
        if rec["status"] not in ("succeeded", "reused"):
            save()
            failed = ws.store.get_run(rec["run_id"]) if rec.get("run_id") else None
            if rec["status"] == "stopped" or ctx.should_stop:
                return {"steps": results, "stopped_at": step.key, "seconds": round(time.time() - t0, 2)}
            raise UserError(say("step {s} ({st}) {status}: {e}. Fix it and resume the pipeline: the steps before it "
                                "are reused", "{s} 단계 ({st}) 가 {status}: {e}. 고친 뒤 파이프라인을 이어서 돌리면 앞 단계는 "
                                "다시 씁니다", s=step.key, st=step.stage, status=rec["status"],
                                e=(failed.error if failed is not None and failed.error else "-")))
    ctx.progress(n, n, say("done", "끝"))
    chat = next((r for r in results if r["step"] == "chat"), None)
    out = {"steps": results, "seconds": round(time.time() - t0, 2),
           "reused": sum(r["status"] == "reused" for r in results),
           "artifacts": {r["step"]: r.get("artifact") for r in results if r.get("artifact")}}
    if chat is not None:
        out["chat"] = {"model": plan[-1].inputs[0] if plan[-1].key == "chat" else None,
                       "reply": chat.get("reply"), "hangul_ratio": (chat.get("figure") or {}).get("value")}
    return out

