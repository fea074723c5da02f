"""`python -m workbench <stage> --config FILE [--set key=value ...]`

Runs exactly the code the UI runs for a stage and ends with one JSON line on
stdout summarizing the result (paths, counts, metrics). Logs go to stderr.
Exit codes: 0 succeeded, 1 failed, 2 invalid input, 3 stopped or interrupted.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from . import runs, stages
from .config import ConfigError
from .errors import UserError
from .runtime import RunContext, setup_logging


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m workbench",
        description="Korean LLM Workbench: every stage of the UI, from the command line.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="stages:\n" + "\n".join(f"  {n:<18} {stages.REGISTRY[n][1]}" for n in stages.available())
        + "\n\nrun `python -m workbench <stage> --help` for a stage's flags and config fields.",
    )
    p.add_argument("stage", nargs="?", help="the stage to run")
    return p


def stage_parser(stage: stages.Stage) -> argparse.ArgumentParser:
    fields = "\n".join(
        f"  {fi.path:<28} {fi.meta.get('en', '')} (default: {json.dumps(fi.default, ensure_ascii=False)}"
        + (f"; {fi.allowed()}" if fi.allowed() else "") + ")"
        for fi in stage.config.field_infos())
    p = argparse.ArgumentParser(
        prog=f"python -m workbench {stage.name}", description=stage.help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"config fields (set with --set field=value, or in the --config file):\n{fields}")
    p.add_argument("--config", help="JSON or YAML file with config fields")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one field (repeatable)")
    p.add_argument("--workspace", default=os.environ.get("WORKBENCH_WORKSPACE", "workspace"),
                   help="project workspace folder (default: ./workspace or $WORKBENCH_WORKSPACE)")
    p.add_argument("--run-id", help="attach to an existing run (the app's job runner passes it); with --resume, "
                                    "continue that run from its latest checkpoint")
    p.add_argument("--resume", action="store_true", help="continue the run given by --run-id")
    p.add_argument("--name", help="a name for this run")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as JSON and exit")
    if stage.add_args:
        stage.add_args(p)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0].startswith("-"):
        build_parser().print_help()
        return 0
    name, rest = argv[0], argv[1:]
    if name not in stages.available():
        print(f"unknown stage '{name}': choose one of {', '.join(stages.available())}", file=sys.stderr)
        _emit({"ok": False, "stage": name, "error": f"unknown stage '{name}'"})
        return 2
    stage = stages.get(name)
    args = stage_parser(stage).parse_args(rest)

    try:
        base = stage.args_to_updates(args) if stage.args_to_updates else {}
        if args.resume and args.run_id and not args.config:  # resume what the run ran; --set still overrides
            base = {**_saved_config(args.workspace, args.run_id), **base}
        cfg = stage.config.load(args.config, args.set, base=base)
    except ConfigError as e:
        for f, m in e.errors:
            print(f"invalid config: {f}: {m}" if f else f"invalid config: {m}", file=sys.stderr)
        _emit({"ok": False, "stage": name, "status": "invalid", "error": str(e)})
        return 2
    if args.print_config:
        print(cfg.to_json())
        return 0
    return run_stage(stage, cfg, args.workspace, run_id=args.run_id, run_name=args.name, resume=args.resume)


def run_stage(stage: stages.Stage, cfg, workspace: str, *, run_id: str | None = None,
              run_name: str | None = None, resume: bool = False) -> int:
    from state import Workspace

    rank = int(os.environ.get("RANK", "0"))
    ws = Workspace(workspace)
    store = ws.store
    if resume and not run_id:
        return _invalid(stage, "--resume needs --run-id RUN (the run to continue)", "--resume needs --run-id")
    if run_id and rank == 0:  # the app's job runner created and claimed the run; or a terminal resumes one
        run = store.get_run(run_id)
        if run is None:
            return _invalid(stage, f"run '{run_id}' does not exist in {ws.root}", f"no run {run_id}")
        if run.status != "running":
            if not resume:
                return _invalid(stage, f"run '{run_id}' is {run.status}: add --resume to continue it",
                                f"run {run_id} is {run.status}")
            store.requeue(run_id)
            store.update_run(run_id, status="running", started=time.time())
            runs.mark_running_here(ws, run_id)
        (ws.run_dir(run_id) / "config.json").write_text(cfg.to_json(), encoding="utf-8")
    elif rank == 0:
        try:
            run_id = runs.create(ws, stage, cfg, status="running", name=run_name,
                                 command=[sys.executable, "-m", "workbench", stage.name,
                                          *redact_argv(sys.argv[2:], stage.config)])
        except UserError as e:  # refused before anything started (an input is missing, the name is taken)
            return _invalid(stage, str(e), str(e))
    else:
        run_id = os.environ.get("WORKBENCH_RUN_ID")
    os.environ["WORKBENCH_RUN_ID"] = run_id or ""
    log_file = ws.run_dir(run_id) / "log.txt" if (run_id and not os.environ.get("WORKBENCH_SUPERVISED")) else None
    setup_logging(log_file if rank == 0 else None)

    ctx = RunContext(ws, run_id, stage.name, rank=rank, resume=resume)
    ctx.install_signal_handlers()
    t0 = time.time()
    try:
        outcome = runs.execute(stage, cfg, ctx)
    finally:
        _close_process_group()
    if rank == 0:
        runs.finish(ws, run_id, outcome)
    out = {"ok": outcome.status == "succeeded", "stage": stage.name, "run_id": run_id, "status": outcome.status,
           "seconds": round(time.time() - t0, 2), **outcome.summary}
    if outcome.error:
        out["error"] = str(outcome.error)
    if rank == 0:
        _emit(out)
    return outcome.exit_code


def redact_argv(argv: list[str], config_cls) -> list[str]:
    """The command line as recorded: `--set token=...` of a secret field (param(secret=True)) becomes `token=***`."""
    secret = {fi.path for fi in config_cls.field_infos() if fi.meta.get("secret")}
    out = []
    for a in argv:
        pre, sep, item = a.partition("--set=") if a.startswith("--set=") else ("", "", a)
        key = item.split("=", 1)[0].strip() if "=" in item else None
        out.append(f"{pre}{sep}{key}=***" if key in secret else a)
    return out


def _saved_config(workspace: str, run_id: str) -> dict:
    """The config a run was started with (runs/<id>/config.json), so `--run-id RUN --resume` alone continues it."""
    path = os.path.join(workspace, "runs", run_id, "config.json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}  # no saved config: run_stage then says the run does not exist, or validation names the field


def _invalid(stage: stages.Stage, message: str, short: str) -> int:
    print(message, file=sys.stderr)
    _emit({"ok": False, "stage": stage.name, "status": "invalid", "error": short})
    return runs.EXIT_INVALID


def _close_process_group() -> None:
    """Tear down a torchrun process group before the interpreter exits: left to exit-time destructors, gloo's
    threads can abort the rank ("terminate called without an active exception") and fail a finished run."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
