"""Shared fixtures: temporary workspaces, the app in a subprocess, a headless Chromium page."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = (ROOT.parent / "shared" / "data").resolve()
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"

sys.path.insert(0, str(ROOT))
# The counter stage is a test fixture stage; children started by the job runner see it through the env.
os.environ.setdefault("WORKBENCH_EXTRA_STAGES", "counter=tests.counter_stage")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test when the data is not beside the project."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"needs ../shared/data/{'/'.join(parts)} (not present on this machine)")
    return p


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ws(tmp_path):
    from state import Workspace
    return Workspace(tmp_path / "ws")


class AppProcess:
    def __init__(self, workspace: Path, extra_args=(), env=None):
        self.workspace = workspace
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workspace.parent / f"app-{self.port}.log"
        self.extra_args = list(extra_args)
        self.env = dict(os.environ, **(env or {}))
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "AppProcess":
        """Start the app and wait for its first page. Started again (twice at most) when gradio's own start-up check
        gave up: it allows the first page 3 s, which a loaded 2-core machine sometimes exceeds ("When localhost is
        not accessible, a shareable link must be created")."""
        for attempt in range(3):
            try:
                return self._start_once(timeout)
            except RuntimeError as e:
                if "localhost is not accessible" not in str(e) or attempt == 2:
                    raise
                self.kill()
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> "AppProcess":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(self.port), "--workspace",
                                      str(self.workspace), *self.extra_args], cwd=ROOT, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"app did not answer in {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def kill(self, sig=None) -> None:
        if self.proc and self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def app_factory(tmp_path):
    apps = []

    def make(workspace: Path | None = None, **kw) -> AppProcess:
        app = AppProcess(workspace or tmp_path / "ws", **kw)
        apps.append(app)
        return app.start()

    yield make
    for a in apps:
        a.kill()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("browser tests need Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield b
        b.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ko-KR")
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            pg.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
        except Exception:  # noqa: BLE001
            pass
    context.close()


def screenshot(page, name: str) -> Path:
    """Save a screenshot under tests/artifacts/ (for people to look at; not asserted)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def fill_kept(page, locator, value: str, timeout: float = 20) -> None:
    """Type into a field and check that it stays. A value typed right after an accordion is first opened was
    twice dropped under CI load (the run got the field's default); a person typing at human speed has not hit it,
    and the cause is not understood."""
    def kept():
        if locator.input_value() != value:
            locator.fill(value)
            return False
        page.wait_for_timeout(500)
        return locator.input_value() == value
    wait_for(kept, timeout, what=f"{value!r} to stay typed")


def wait_for(pred, timeout: float = 30, interval: float = 0.2, what: str = "condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value: {last!r})")


def run_cli(*args, workspace: Path | None = None, timeout: float = 600, env=None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "workbench", *args]
    if workspace is not None:
        cmd += ["--workspace", str(workspace)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def last_json(stdout: str) -> dict:
    import json
    lines = [ln for ln in stdout.strip().splitlines() if ln.strip()]
    assert lines, "no output"
    return json.loads(lines[-1])


__all__ = ["shared_data", "wait_for", "screenshot", "run_cli", "last_json", "ROOT", "SHARED_DATA", "shutil"]
