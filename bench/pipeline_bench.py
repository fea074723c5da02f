"""The pipeline coordinator vs the same stages run by hand, in the same run.

A shrunk demo chain (corpus -> tokenizer -> pretrain -> sft by default) runs once as `python -m workbench pipeline`
in one fresh workspace, and once as each step's own CLI with the very config the pipeline planned for it, one after
the other, in another fresh workspace (what a person would type). Then the pipeline runs again on its workspace:
every step should be reused. Prints one JSON line: both wall times, their ratio (by hand / pipeline: 1.0 means the
coordinator costs nothing), each step's time, and the reuse run's time.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SMALL = {"pretrain": {"max_steps": 30, "eval_every": 15, "warmup_steps": 2, "arch.depth": 2, "arch.width": 64,
                      "arch.heads": 2},
         "sft": {"max_steps": 10, "eval_every": 5, "warmup_steps": 0}}


def cli(*args: str, workspace: Path) -> tuple[float, dict]:
    """Run `python -m workbench ...`; (seconds, its last JSON line)."""
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "workbench", *args, "--workspace", str(workspace)], cwd=ROOT,
                         capture_output=True, text=True)
    secs = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{res.stderr[-3000:]}")
    return secs, json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", default="corpus,tokenizer,pretrain,sft")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    from state import Workspace
    from workbench.pipeline.plan import make_plan
    from workbench.pipeline.stage import PipelineConfig

    steps = args.steps.split(",")
    spec = {"preset": "demo", "name": "bench", "threads": args.threads, "steps": steps,
            "overrides": {k: v for k, v in SMALL.items() if k in steps}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg_file = tmp / "pipeline.json"
        cfg_file.write_text(json.dumps(spec), encoding="utf-8")

        # by hand first: each step's CLI with the config the pipeline plans for it (planned in the by-hand
        # workspace, so each step's inputs are the artifacts the previous command made there)
        hand_ws = Workspace(tmp / "by-hand")
        hand, hand_s = {}, 0.0
        for i, key in enumerate(steps):
            step = next(s for s in make_plan(PipelineConfig.load(cfg_file), hand_ws, check_only=True)
                        if s.key == key)
            path = tmp / f"{key}.json"
            path.write_text(step.cfg.to_json(), encoding="utf-8")
            secs, _ = cli(step.stage, "--config", str(path), workspace=hand_ws.root)
            hand[key] = round(secs, 2)
            hand_s += secs

        pipe_s, out = cli("pipeline", "--config", str(cfg_file), workspace=tmp / "pipeline")
        again_s, again = cli("pipeline", "--config", str(cfg_file), workspace=tmp / "pipeline")

    print(json.dumps({
        "bench": "pipeline", "steps": steps, "threads": args.threads,
        "pipeline_s": round(pipe_s, 2), "by_hand_s": round(hand_s, 2), "ratio": round(hand_s / pipe_s, 3),
        "pipeline_steps_s": {s["step"]: s.get("seconds") for s in out["steps"]},
        "by_hand_steps_s": hand,
        "second_run_s": round(again_s, 2),
        "second_run_reused": sum(s["status"] == "reused" for s in again["steps"]), "of": len(again["steps"]),
    }))


if __name__ == "__main__":
    main()
