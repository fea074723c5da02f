"""The job queue: long work runs as a child process with the stage's own CLI.

A background thread of the app (the supervisor) starts queued runs one at a time
per device, watches them, and records how they ended. The UI never holds a job
object: it reads the store, so a browser refresh or a second browser sees the same
thing, and a crash in a job cannot take the app down.

Stop: the run's `stop_requested` flag is set and SIGTERM goes to the child's
process group; the stage checkpoints and exits as `stopped`. A child still alive
after the grace period is killed (and recorded as `stopped`, with a note).
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from state import Workspace

from . import runs, stages
from .config import StageConfig
from .i18n import say

log = logging.getLogger("workbench.jobs")

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def tail(path: Path, lines: int = 40, max_bytes: int = 64_000) -> str:
    """The last lines of a (log) file, decoded leniently."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", errors="replace").splitlines()[-lines:])


def pid_alive(pid: int | None, started: float | None) -> bool:
    """True if the process exists and is the same one we recorded (guards against pid reuse)."""
    if not pid:
        return False
    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(p.create_time() - started) < 1.0
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def build_command(stage: str, config_path: Path, workspace: Path, run_id: str, cfg: StageConfig) -> list[str]:
    """The exact command line a user could type: the stage's CLI under the launcher its config asks for
    (`StageConfig.launcher_prefix`; training stages: torchrun or accelerate for several processes)."""
    return [*cfg.launcher_prefix(), *runs.cli_command(stage, config_path, workspace, run_id)]


@dataclass
class _Child:
    run_id: str
    proc: subprocess.Popen
    log_file: object
    kill_at: float | None = None


class JobManager:
    def __init__(self, ws: Workspace, *, poll_s: float = 0.3, grace_s: float = 8.0):
        self.ws = ws
        self.store = ws.store
        self.poll_s = poll_s
        self.grace_s = grace_s
        self._children: dict[str, _Child] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._quit = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_orphan_check = 0.0

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> "JobManager":
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="workbench-supervisor", daemon=True)
        self._thread.start()
        return self

    def shutdown(self, stop_jobs: bool = True) -> None:
        if stop_jobs:
            for run_id in list(self._children):
                self.stop(run_id)
            deadline = time.time() + self.grace_s + 2
            while self._children and time.time() < deadline:
                time.sleep(0.1)
        self._quit.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=5)

    def recover(self) -> list[str]:
        """Runs the store says are active but whose process is gone were left by a dead app."""
        changed = []
        for run in self.store.list_runs(status=("running", "queued"), limit=10_000):
            if run.status == "running" and pid_alive(run.pid, run.pid_started):
                continue  # e.g. a run started from a terminal, still going
            if run.status == "running":
                reason = say("interrupted: the app or the process running this job stopped while it was running "
                             "(process {pid} no longer exists). Resume or start it again.",
                             "중단됨: 작업이 도는 동안 앱이나 작업 프로세스가 멈췄습니다 (프로세스 {pid} 이(가) 더는 없습니다). "
                             "이어서 학습하거나 다시 시작하세요.", pid=run.pid)
            else:
                reason = say("interrupted: the app stopped before this queued run started. Start it again.",
                             "중단됨: 대기 중이던 실행이 시작되기 전에 앱이 멈췄습니다. 다시 시작하세요.")
            if self.store.finish_run(run.id, "interrupted", error=reason, only_if_active=True):
                changed.append(run.id)
        return changed

    # -- API used by tabs -------------------------------------------------------
    def submit(self, stage: str, cfg: StageConfig, *, name: str | None = None, parent_run: str | None = None) -> str:
        """Validate and queue a run (ConfigError / UserError before anything is recorded); returns its id."""
        st = stages.get(stage)
        run_id = runs.create(self.ws, st, cfg, status="queued", name=name, parent_run=parent_run,
                             command=lambda path, rid: build_command(stage, path, self.ws.root, rid, cfg))
        self._wake.set()
        return run_id

    def stop(self, run_id: str) -> str:
        """Ask a run to stop. Returns what happened, for the UI."""
        run = self.store.get_run(run_id)
        if run is None:
            return say("unknown run", "없는 실행입니다")
        if run.status == "queued":
            if self.store.finish_run(run_id, "stopped", error=say("stopped before it started", "시작 전에 중지됨"),
                                     only_if_active=True):
                return say("removed from the queue", "대기열에서 뺐습니다")
            run = self.store.get_run(run_id)
        if run.status != "running":
            return say("already {s}: nothing to stop", "이미 끝난 실행입니다 ({s}): 멈출 것이 없습니다", s=run.status)
        self.store.request_stop(run_id)
        with self._lock:
            child = self._children.get(run_id)
            if child is not None and child.kill_at is None:
                child.kill_at = time.time() + self.grace_s
        if run.pid != os.getpid():  # an in-process run of this app stops through the store flag alone
            _signal_group(run.pid, signal.SIGTERM)
        self._wake.set()
        return say("stopping: it saves a checkpoint, then ends", "멈추는 중: 체크포인트를 저장한 뒤 끝납니다")

    def resume(self, run_id: str) -> str:
        """Queue an ended run again to continue from its latest checkpoint (same run id, same curves)."""
        run = self.store.get_run(run_id)
        if run is None:
            return say("unknown run", "없는 실행입니다")
        if run.status in ("queued", "running"):
            return say("already {s}", "이미 {s} 상태입니다", s=run.status)
        cmd = list(run.command or [])
        if "--resume" not in cmd:
            cmd.append("--resume")
        self.store.requeue(run_id, cmd)
        self._wake.set()
        return say("queued to resume", "이어서 학습하도록 대기열에 넣었습니다")

    def command_line(self, run_id: str) -> str:
        run = self.store.get_run(run_id)
        return " ".join(_shell_quote(c) for c in (run.command or [])) if run else ""

    # -- supervisor --------------------------------------------------------------
    def _loop(self) -> None:
        while not self._quit.is_set():
            try:
                self._reap()
                self._launch()
                self._enforce_kills()
                self._check_orphans()
            except Exception:  # noqa: BLE001 - the supervisor must survive anything
                log.exception("supervisor loop error")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _launch(self) -> None:
        devices = {r.device for r in self.store.list_runs(status=("queued",), limit=10_000)}
        for device in sorted(devices):
            run = self.store.claim_next(device)
            if run is None:
                continue
            run_dir = self.ws.run_dir(run.id)
            log_path = run_dir / "log.txt"
            env = dict(os.environ, PYTHONUNBUFFERED="1", WORKBENCH_SUPERVISED="1", WORKBENCH_RUN_ID=run.id)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
            logf = open(log_path, "ab", buffering=0)
            logf.write(f"$ {' '.join(_shell_quote(c) for c in run.command or [])}\n".encode())
            try:
                proc = subprocess.Popen(run.command, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        cwd=PROJECT_ROOT, env=env, start_new_session=True)
            except OSError as e:
                logf.close()
                self.store.finish_run(run.id, "failed", error=say("could not start the job: {e}",
                                                                  "작업을 시작할 수 없습니다: {e}", e=e))
                continue
            try:
                started = psutil.Process(proc.pid).create_time()
            except psutil.NoSuchProcess:
                started = None
            self.store.update_run(run.id, pid=proc.pid, pid_started=started)
            with self._lock:
                self._children[run.id] = _Child(run.id, proc, logf)
            log.info("started %s (pid %s)", run.id, proc.pid)

    def _reap(self) -> None:
        with self._lock:
            items = list(self._children.items())
        for run_id, child in items:
            code = child.proc.poll()
            if code is None:
                continue
            child.log_file.close()
            with self._lock:
                self._children.pop(run_id, None)
            run = self.store.get_run(run_id)
            if run is None or run.status != "running":
                continue  # the child recorded its own ending
            # The child died without recording an ending (killed, crashed hard, out of memory).
            if run.stop_requested:
                note = say("stopped: killed after not stopping within the grace period",
                           "중지됨: 유예 시간 안에 멈추지 않아 강제로 끝냈습니다") if child.kill_at and \
                    time.time() >= child.kill_at else say("stopped", "중지됨")
                self.store.finish_run(run_id, "stopped", error=note, exit_code=code, only_if_active=True)
                continue
            if code < 0:
                why = say("the job was killed by signal {sig}", "작업이 신호 {sig} 로 강제 종료되었습니다",
                          sig=signal.Signals(-code).name)
            else:
                why = say("the job exited with code {c}", "작업이 종료 코드 {c} 로 끝났습니다", c=code)
            if code == -signal.SIGKILL:
                why += say(" (often the system running out of memory: try a smaller batch or model)",
                           " (흔히 시스템 메모리 부족 때문입니다: 배치나 모델을 줄여 보세요)")
            last = tail(self.ws.run_dir(run_id) / "log.txt", 15)
            self.store.finish_run(run_id, "failed", error=why + say(".\n--- last log lines ---\n", ".\n--- 마지막 로그 ---\n")
                                  + last, exit_code=code, only_if_active=True)

    def _enforce_kills(self) -> None:
        now = time.time()
        with self._lock:
            items = list(self._children.values())
        for child in items:
            if child.kill_at is not None and now >= child.kill_at and child.proc.poll() is None:
                log.warning("killing %s after the grace period", child.run_id)
                _signal_group(child.proc.pid, signal.SIGKILL)

    def _check_orphans(self) -> None:
        """Runs started outside this app (a terminal) that died without recording an ending."""
        if time.time() - self._last_orphan_check < 5:
            return
        self._last_orphan_check = time.time()
        for run in self.store.list_runs(status=("running",), limit=1000):
            if run.id in self._children:
                continue
            if not pid_alive(run.pid, run.pid_started) and time.time() - (run.started or 0) > 5:
                self.store.finish_run(run.id, "interrupted", only_if_active=True,
                                      error=say("interrupted: process {pid} ended without recording a result",
                                                "중단됨: 프로세스 {pid} 이(가) 결과를 기록하지 않고 끝났습니다", pid=run.pid))


def _signal_group(pid: int | None, sig: int) -> None:
    if not pid:
        return
    try:
        os.killpg(pid, sig)  # jobs we start lead their own process group (torchrun ranks included)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _shell_quote(s: str) -> str:
    import shlex
    return shlex.quote(str(s))

