"""A small real stage used by the job-runner tests: counts steps, logs a metric per step,
honours stop requests by writing a checkpoint, optionally crashes. Registered only in tests
through WORKBENCH_EXTRA_STAGES."""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass

from workbench.config import StageConfig, param
from workbench.stages import Stage


@dataclass
class CounterConfig(StageConfig):
    steps: int = param(50, ko="단계 수", en="Steps", min=1, max=100_000)
    step_seconds: float = param(0.1, ko="단계 시간", en="Seconds per step", min=0.0, max=60.0)
    crash_at: int = param(-1, ko="실패 단계", en="Crash at step (-1: never)", min=-1)
    ignore_stop: bool = param(False, ko="중지 무시", en="Ignore stop requests")


def run(cfg: CounterConfig, ctx) -> dict:
    done = 0
    for step in range(1, cfg.steps + 1):
        if ctx.should_stop and not cfg.ignore_stop:
            break
        if step == cfg.crash_at:
            os._exit(7)  # a hard crash that records nothing
        time.sleep(cfg.step_seconds)
        ctx.metrics(step, {"loss": 3.0 * math.exp(-step / 20) + 0.5, "step_time": cfg.step_seconds})
        ctx.progress(step, cfg.steps, f"step {step}/{cfg.steps}")
        done = step
    (ctx.run_dir / "checkpoint.json").write_text(json.dumps({"step": done}))
    return {"steps_done": done}


STAGE = Stage(name="counter", config=CounterConfig, run=run, help="test stage: count steps")
