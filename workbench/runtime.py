"""What a running stage sees: its run id and folder, progress, metrics, stop requests.

The same RunContext serves a job started by the app (a child process), a run typed
in a terminal, and in-process calls from a tab. In a child, SIGTERM/SIGINT set the
stop flag (the stage checks `ctx.should_stop` at safe points, checkpoints and
returns); the store's `stop_requested` column is a second channel that also reaches
runs started from a terminal or on another rank.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from state import Workspace
from state.i18n import say

log = logging.getLogger("workbench")


class StopRequested(Exception):
    """Raised by stages that cannot return early on their own at a stop point."""


class RunContext:
    def __init__(self, ws: Workspace | None, run_id: str | None, stage: str, *, rank: int = 0,
                 metric_flush_s: float = 1.0, resume: bool = False):
        self.ws = ws
        self.store = ws.store if ws else None
        self.run_id = run_id
        self.stage = stage
        self.rank = rank
        self.resume = resume  # continue this run from its latest checkpoint
        self._stop = threading.Event()
        self._stop_reason = ""
        self._last_store_check = 0.0
        self._buf: list[tuple[int, str, float]] = []
        self._last_flush = time.monotonic()
        self.metric_flush_s = metric_flush_s
        self._lock = threading.Lock()
        self._ppid = os.getppid()

    # -- places ----------------------------------------------------------------
    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def run_dir(self) -> Path:
        if self.ws and self.run_id:
            return self.ws.run_dir(self.run_id)
        d = Path(os.environ.get("TMPDIR", "/tmp")) / f"workbench-{self.stage}-{os.getpid()}"
        d.mkdir(parents=True, exist_ok=True)
        return d

    # -- stopping --------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        def handler(signum, frame):
            self.request_stop(say("signal {s}", "신호 {s}", s=signal.Signals(signum).name))
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
        if os.environ.get("WORKBENCH_SUPERVISED"):
            _die_with_parent()

    def request_stop(self, reason: str = "") -> None:
        self._stop_reason = self._stop_reason or reason
        self._stop.set()

    @property
    def should_stop(self) -> bool:
        if self._stop.is_set():
            return True
        now = time.monotonic()
        if now - self._last_store_check > 2.0:
            self._last_store_check = now
            if self.parent_died:
                self.request_stop(say("the app that started this run exited", "이 실행을 시작한 앱이 종료되었습니다"))
            elif self.store and self.run_id:
                run = self.store.get_run(self.run_id)
                if run is not None and run.stop_requested:
                    self.request_stop(say("stop requested", "중지 요청됨"))
        return self._stop.is_set()

    @property
    def parent_died(self) -> bool:
        """True when the app that launched this job is gone (we were re-parented)."""
        return bool(os.environ.get("WORKBENCH_SUPERVISED")) and os.getppid() != self._ppid

    def ended_by_parent_death(self, wait_s: float = 3.0) -> bool:
        """Whether a stop came from the app dying. Linux sends the death signal when the app's *thread* that
        started us exits, which can be a moment before the whole app is gone and we are re-parented; so a
        signal stop of a supervised run that the app did not ask for (no stop flag in the store) waits
        briefly for the re-parenting before it calls itself a plain stop."""
        if self.parent_died:
            return True
        if not os.environ.get("WORKBENCH_SUPERVISED") or not (self._stop_reason or "").startswith("signal"):
            return False
        if self.store and self.run_id:
            run = self.store.get_run(self.run_id)
            if run is not None and run.stop_requested:
                return False
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            time.sleep(0.05)
            if self.parent_died:
                return True
        return False

    def check_stop(self) -> None:
        if self.should_stop:
            raise StopRequested(self._stop_reason)

    @property
    def stop_reason(self) -> str:
        if self.parent_died:
            return say("interrupted: the app that started this run exited; resume or start it again",
                       "중단됨: 이 실행을 시작한 앱이 종료되었습니다. 이어서 하거나 다시 시작하세요")
        return self._stop_reason

    # -- reporting -------------------------------------------------------------
    def progress(self, done: float, total: float | None = None, msg: str | None = None) -> None:
        if self.store and self.run_id and self.is_main:
            self.store.set_progress(self.run_id, done, total, msg)
        if msg:
            log.info("%s", msg)

    def metrics(self, step: int, values: dict[str, Any], flush: bool = False) -> None:
        """Buffer metric values for a step; written to the store about once a second."""
        if not self.is_main:
            return
        with self._lock:
            self._buf.extend((step, k, v) for k, v in values.items() if v is not None)
        if flush or time.monotonic() - self._last_flush >= self.metric_flush_s:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            rows, self._buf = self._buf, []
            self._last_flush = time.monotonic()
        if rows and self.store and self.run_id:
            self.store.log_metrics(self.run_id, rows)

    def event(self, kind: str, payload: Any) -> None:
        if self.store and self.run_id and self.is_main:
            self.store.add_event(self.run_id, kind, payload)

    def publish(self, staging: Path, kind: str, name: str, *, parents=(), meta: dict | None = None,
                overwrite: bool = False) -> int | None:
        """Register a finished artifact folder (main rank only). Returns its id."""
        if not (self.ws and self.is_main):
            return None
        return self.ws.publish(staging, kind, name, run=self.run_id, parents=parents, meta=meta, overwrite=overwrite)


def _die_with_parent() -> None:
    """Ask Linux to send us SIGTERM when the app that started us dies, so no job outlives it silently."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


# Third-party loggers whose warnings say nothing a person can act on here. bitsandbytes is imported by peft,
# which transformers' Trainer imports whenever peft is installed, so every stage would log "Failed to load CPU
# gemm_4bit_forward from kernels-community" (an optional faster 4-bit kernel), pretraining included.
QUIET_LOGGERS = {"bitsandbytes": logging.ERROR}


def quiet_third_party() -> None:
    for name, level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(level)


def setup_logging(log_file: Path | None = None) -> None:
    quiet_third_party()
    root = logging.getLogger()
    if getattr(root, "_workbench_configured", False):
        return
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(fmt)
    root.addHandler(h)
    if log_file is not None:
        fh = logging.FileHandler(log_file, encoding="utf-8")
        fh.setFormatter(fmt)
        root.addHandler(fh)
    root.setLevel(logging.INFO)
    root._workbench_configured = True  # type: ignore[attr-defined]
