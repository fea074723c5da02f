"""The app as a person uses it: load it, switch language, see finished runs."""
import os
import signal
import subprocess
import sys
import time

from conftest import ROOT, last_json, run_cli, screenshot, wait_for


def headers(table) -> list[str]:
    return [h.strip() for h in table.locator("thead th").filter(visible=True).all_inner_texts() if h.strip()]


def row_text(table, run_id: str) -> str:
    rows = table.locator(".virtual-row[role=row]").filter(has_text=run_id)  # gradio's drawn rows (not <tr>)
    return rows.first.inner_text() if rows.count() else ""


def test_app_loads_switches_language_and_lists_runs(app_factory, page, tmp_path):
    from state import Workspace
    ws = tmp_path / "ws"
    r = run_cli("counter", "--set", "steps=3", "--set", "step_seconds=0", workspace=ws)
    run_id = last_json(r.stdout)["run_id"]
    r = run_cli("corpus", "--set", "name=kolaw", workspace=ws)  # a run that makes an artifact
    corpus_run, corpus_id = last_json(r.stdout)["run_id"], last_json(r.stdout)["artifact"]
    store = Workspace(ws).store  # a run whose config names that artifact by id, as the tabs write it
    user = store.create_run("tokenizer", {"corpus": str(corpus_id), "vocab_size": 1000}, status="running")
    store.finish_run(user, "succeeded")
    app = app_factory(ws)
    page.goto(app.url)
    page.get_by_role("tab", name="실행 기록").click()
    table = page.locator("#wb-runs-table")
    table.get_by_text(run_id).filter(visible=True).first.wait_for()
    assert table.get_by_text("완료").filter(visible=True).count() >= 1
    assert headers(table)[:3] == ["실행", "단계", "상태"] and "이름 / 산출물" in headers(table)
    assert f"kolaw (#{corpus_id})" in row_text(table, corpus_run)  # what the run made, not an empty name
    table.get_by_text(user).filter(visible=True).first.click()
    config = page.locator("#wb-run-config")
    wait_for(lambda: f'"corpus": "kolaw (#{corpus_id})"' in config.inner_text(), 10, what="the corpus by name")
    outputs = page.locator("#wb-run-outputs")
    table.get_by_text(corpus_run).filter(visible=True).first.click()
    wait_for(lambda: "kolaw" in outputs.inner_text(), 10, what="the corpus run's outputs")
    assert headers(outputs) == ["종류", "이름", "경로"]
    screenshot(page, "runs-ko")
    page.locator("#wb-lang").get_by_text("English").click()
    page.get_by_role("tab", name="Runs").wait_for()
    wait_for(lambda: table.get_by_text("succeeded").filter(visible=True).count() >= 1, 10, what="English status in the table")
    wait_for(lambda: headers(table)[:3] == ["Run", "Stage", "Status"], 10, what="English headers")
    assert "Name / outputs" in headers(table)
    wait_for(lambda: headers(outputs) == ["Kind", "Name", "Path"], 10, what="English output headers")
    table.get_by_text(run_id).filter(visible=True).first.click()
    page.locator("#wb-run-detail").get_by_text(run_id).filter(visible=True).first.wait_for()
    screenshot(page, "runs-en")


def test_cli_run_killed_from_outside_shows_as_interrupted(app_factory, page, tmp_path):
    """kill -9 of a run started from a terminal: nothing records its end, the app notices its process is gone
    (JobManager._check_orphans, every 5 s) and the runs table says so within seconds."""
    from state import Workspace
    ws = tmp_path / "ws"
    app = app_factory(ws)
    store = Workspace(ws).store
    page.goto(app.url)
    page.get_by_role("tab", name="실행 기록").click()
    table = page.locator("#wb-runs-table")
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "counter", "--set", "steps=3000", "--set",
                             "step_seconds=0.2", "--workspace", str(ws)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ))  # WORKBENCH_EXTRA_STAGES: conftest
    try:
        run = wait_for(lambda: (r := store.list_runs(stage="counter")) and r[0].pid and r[0], 60, what="the CLI run")
        assert run.pid == proc.pid
        wait_for(lambda: "실행 중" in row_text(table, run.id), 15, what="the run shown as running")
        time.sleep(6)  # older than the orphan check's 5 s grace, so only its death can end it
        assert store.get_run(run.id).status == "running" and "실행 중" in row_text(table, run.id)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        t0 = time.time()
        wait_for(lambda: "중단됨" in row_text(table, run.id), 20, what="the killed run shown as interrupted")
        took = time.time() - t0
        assert took < 15, took  # orphan check (5 s) + table refresh (3 s), with room for a loaded machine
        ended = store.get_run(run.id)
        assert ended.status == "interrupted" and str(proc.pid) in ended.error
        screenshot(page, "runs-killed-interrupted")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_job_from_ui_live_chart_stop_and_reattach(app_factory, page, tmp_path):
    """A job started in the browser shows in the runs table, its chart grows while it runs,
    Stop ends it within 10 s as `stopped`, and a reloaded page shows it again."""
    from state import Workspace
    app = app_factory(tmp_path / "ws", env={"WORKBENCH_EXTRA_TABS": "tests.counter_tab:카운터:Counter"})
    store = Workspace(tmp_path / "ws").store
    page.goto(app.url)
    page.get_by_role("tab", name="카운터").click()
    steps = page.get_by_label("단계 수")
    steps.fill("-3")
    page.locator("#counter-start").click()
    page.locator("#counter-msg").get_by_text("steps").wait_for()  # the field is named, nothing started
    assert store.list_runs(stage="counter") == []
    steps.fill("3000")
    page.get_by_label("단계 시간").fill("0.05")
    page.locator("#counter-start").click()
    run = wait_for(lambda: (r := store.list_runs(stage="counter")) and r[0].status == "running" and r[0], 30)
    panel = page.locator(".wb-jobpanel").filter(visible=True)  # other stage tabs have job panels too
    panel.locator(".wb-run-header").get_by_text(run.id).wait_for()
    traces = panel.locator(".wb-metrics-plot .scatterlayer .trace path.js-line")
    traces.first.wait_for()
    d1 = traces.first.get_attribute("d")
    wait_for(lambda: traces.first.get_attribute("d") != d1, 15, what="the live chart to grow")
    screenshot(page, "jobpanel-running")
    page.get_by_role("tab", name="실행 기록").click()
    page.locator("#wb-runs-table").get_by_text(run.id).filter(visible=True).first.wait_for()
    page.get_by_role("tab", name="카운터").click()
    t0 = __import__("time").time()
    panel.locator(".wb-stop").click()
    wait_for(lambda: store.get_run(run.id).status == "stopped", 10, what="status stopped")
    assert __import__("time").time() - t0 < 10
    page.reload()
    page.get_by_role("tab", name="카운터").click()
    header = page.locator(".wb-jobpanel").filter(visible=True).locator(".wb-run-header")
    header.get_by_text(run.id).wait_for()
    header.get_by_text("중지됨").wait_for()
    screenshot(page, "jobpanel-stopped-after-reload")


def test_runs_table_names_and_config_references(ws):
    """The runs tab's pure parts: the name column and artifact ids shown by name (no browser)."""
    from tabs.runs_tab import named_refs, runs_rows
    art = ws.store.add_artifact("corpus", "kolaw", ws.root / "c", run=None)
    made = ws.store.create_run("corpus", {}, status="running")
    ws.store.finish_run(made, "succeeded")
    out = ws.store.add_artifact("tokenizer", "bpe", ws.root / "t", run=made)
    named = ws.store.create_run("counter", {}, name="my-run", status="running")
    cfg = {"corpus": str(art), "tokenizer": f"#{out}", "arch_artifact": "", "steps": art, "arch": {"width": out},
           "model": "kolaw", "inputs": [str(art)]}
    assert named_refs(ws.store, cfg) == {
        "corpus": f"kolaw (#{art})", "tokenizer": f"bpe (#{out})", "arch_artifact": "",
        "steps": art, "arch": {"width": out},  # numbers are settings, never references
        "model": "kolaw", "inputs": [str(art)]}  # names stay; only fields that name an artifact are read
    assert named_refs(ws.store, {"corpus": "999"}) == {"corpus": "999"}  # a deleted artifact: the id as it was
    rows = {r[0]: r for r in runs_rows(ws.store, "ko")}
    assert rows[made][-1] == f"bpe (#{out})" and rows[named][-1] == "my-run"
    assert rows[made][2] == "완료" and runs_rows(ws.store, "en")[0][2] in ("running", "succeeded")
