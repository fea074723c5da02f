import json
import signal
import time

import pytest

from conftest import last_json, run_cli, wait_for
from state import Workspace
from workbench import stages
from workbench.jobs import JobManager


def counter_cfg(**kw):
    return stages.get("counter").config.load(sets=[f"{k}={v}" for k, v in kw.items()])


@pytest.fixture
def jobs(ws):
    jm = JobManager(ws, poll_s=0.1, grace_s=3.0).start()
    yield jm
    jm.shutdown()


def test_cli_runs_a_stage_and_ends_with_json(tmp_path):
    r = run_cli("counter", "--set", "steps=3", "--set", "step_seconds=0", workspace=tmp_path / "w")
    assert r.returncode == 0, r.stderr
    out = last_json(r.stdout)
    assert out["ok"] and out["status"] == "succeeded" and out["steps_done"] == 3
    run = Workspace(tmp_path / "w").store.get_run(out["run_id"])
    assert run.status == "succeeded" and run.summary["steps_done"] == 3
    assert [m["step"] for m in Workspace(tmp_path / "w").store.metrics(run.id, ["loss"])] == [1, 2, 3]


def test_cli_invalid_set_names_field_before_work(tmp_path):
    r = run_cli("counter", "--set", "steps=-4", workspace=tmp_path / "w")
    assert r.returncode == 2
    assert "steps" in r.stderr and ">= 1" in r.stderr
    assert last_json(r.stdout)["ok"] is False
    assert not (tmp_path / "w" / "workbench.db").exists() or not Workspace(tmp_path / "w").store.list_runs()


def test_cli_help_lists_stages():
    r = run_cli("--help")
    assert r.returncode == 0 and "corpus" in r.stdout and "pretrain" in r.stdout


def test_job_runs_stops_within_10s(jobs, ws):
    rid = jobs.submit("counter", counter_cfg(steps=1000, step_seconds=0.05))
    wait_for(lambda: ws.store.metric_count(rid) >= 5, 30, what="metrics from the child")
    t0 = time.time()
    assert jobs.stop(rid).startswith("stopping")
    run = wait_for(lambda: (r := ws.store.get_run(rid)).status != "running" and r, 10, what="stop")
    assert time.time() - t0 < 10
    assert run.status == "stopped" and run.exit_code == 3
    assert "Stop was pressed" in run.error and "중지 버튼" in run.error.ko, "a stop reads as the person's stop"
    assert "nothing to stop" in jobs.stop(rid)
    ck = json.loads((ws.run_dir(rid) / "checkpoint.json").read_text())
    assert 5 <= ck["step"] < 1000, "the stage checkpointed where it stopped"


def test_job_ignoring_stop_is_killed_after_grace(jobs, ws):
    rid = jobs.submit("counter", counter_cfg(steps=1000, step_seconds=0.05, ignore_stop=True))
    wait_for(lambda: ws.store.metric_count(rid) >= 2, 30)
    jobs.stop(rid)
    run = wait_for(lambda: (r := ws.store.get_run(rid)).status != "running" and r, 10)
    assert run.status == "stopped" and "killed" in run.error


def test_crash_shows_error_and_log(jobs, ws):
    rid = jobs.submit("counter", counter_cfg(steps=10, step_seconds=0.01, crash_at=3))
    run = wait_for(lambda: (r := ws.store.get_run(rid)).status == "failed" and r, 30)
    assert run.exit_code == 7 and "exited with code 7" in run.error and "last log lines" in run.error


def test_queue_runs_one_job_per_device_in_order(jobs, ws):
    a = jobs.submit("counter", counter_cfg(steps=15, step_seconds=0.05))
    b = jobs.submit("counter", counter_cfg(steps=2, step_seconds=0.0))
    wait_for(lambda: ws.store.get_run(a).status == "running", 30)
    assert ws.store.get_run(b).status == "queued" and ws.store.queue_position(b) == 1
    wait_for(lambda: ws.store.get_run(b).status == "succeeded", 60)
    ra, rb = ws.store.get_run(a), ws.store.get_run(b)
    assert ra.status == "succeeded" and rb.started >= ra.ended - 0.5


def test_stop_queued_run_removes_it(jobs, ws):
    a = jobs.submit("counter", counter_cfg(steps=40, step_seconds=0.05))
    b = jobs.submit("counter", counter_cfg(steps=2))
    assert jobs.stop(b) == "removed from the queue"
    assert ws.store.get_run(b).status == "stopped"
    jobs.stop(a)


def test_death_signal_before_reparenting_still_counts_as_interrupted(ws, monkeypatch):
    """Linux sends the death signal when the app's supervisor *thread* exits, possibly before the job is
    re-parented: a signal stop the app did not ask for waits for the re-parenting; an app Stop does not."""
    import os

    from workbench.runtime import RunContext
    monkeypatch.setenv("WORKBENCH_SUPERVISED", "1")
    rid = ws.store.create_run("counter", {}, status="running")
    ctx = RunContext(ws, rid, "counter")
    ctx.request_stop("signal SIGTERM")
    t0 = time.monotonic()
    assert not ctx.ended_by_parent_death(wait_s=0.3), "parent still there: a plain stop, after the wait"
    assert time.monotonic() - t0 >= 0.3
    real, flips = os.getppid(), time.monotonic() + 0.2
    monkeypatch.setattr(os, "getppid", lambda: 1 if time.monotonic() > flips else real)
    assert ctx.ended_by_parent_death(wait_s=3.0), "re-parented during the wait: interrupted"
    assert "interrupted" in ctx.stop_reason
    monkeypatch.setattr(os, "getppid", lambda: real)
    ws.store.request_stop(rid)
    t0 = time.monotonic()
    assert not ctx.ended_by_parent_death(wait_s=3.0) and time.monotonic() - t0 < 1, "the app's Stop: no wait"


def test_recover_marks_dead_running_runs_interrupted(ws):
    rid = ws.store.create_run("counter", {}, status="running")
    ws.store.update_run(rid, pid=999_999_9)
    q = ws.store.create_run("counter", {})
    done = ws.store.create_run("counter", {}, status="running")
    ws.store.finish_run(done, "succeeded")
    JobManager(ws).recover()
    assert ws.store.get_run(rid).status == "interrupted" and "no longer exists" in ws.store.get_run(rid).error
    assert ws.store.get_run(q).status == "interrupted"
    assert ws.store.get_run(done).status == "succeeded"


def test_killing_the_app_mid_job_leaves_run_interrupted(app_factory, tmp_path):
    wsdir = tmp_path / "ws"
    ws = Workspace(wsdir)
    art = ws.store.add_artifact("corpus", "keep-me", "/x", meta={"docs": 3})
    old = ws.store.create_run("counter", {}, status="running")
    ws.store.finish_run(old, "succeeded")
    app = app_factory(wsdir)
    rid = JobManager(ws).submit("counter", counter_cfg(steps=2000, step_seconds=0.05))  # the app's supervisor runs it
    wait_for(lambda: ws.store.metric_count(rid) >= 3, 60, what="job started by the app")
    n_before = ws.store.metric_count(rid)
    app.kill(signal.SIGKILL)
    wait_for(lambda: ws.store.get_run(rid).status != "running", 20, what="child to notice the app died")
    app2 = app_factory(wsdir)
    run = ws.store.get_run(rid)
    assert run.status == "interrupted", run
    assert ws.store.metric_count(rid) >= n_before
    assert ws.store.get_artifact(art).meta == {"docs": 3}
    assert ws.store.get_run(old).status == "succeeded"
    assert ws.store.integrity_ok()
    app2.kill()


def test_port_in_use_gets_clear_message(app_factory, tmp_path):
    import subprocess, sys
    from conftest import ROOT
    app = app_factory(tmp_path / "ws")
    r = subprocess.run([sys.executable, "app.py", "--port", str(app.port), "--workspace", str(tmp_path / "w2")],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "already in use" in r.stderr and "--port" in r.stderr
