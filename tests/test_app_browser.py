"""The app as a person uses it: load it, switch language, see finished runs."""
from conftest import last_json, run_cli, screenshot, wait_for


def test_app_loads_switches_language_and_lists_runs(app_factory, page, tmp_path):
    ws = tmp_path / "ws"
    r = run_cli("counter", "--set", "steps=3", "--set", "step_seconds=0", workspace=ws)
    run_id = last_json(r.stdout)["run_id"]
    app = app_factory(ws)
    page.goto(app.url)
    page.get_by_role("tab", name="실행 기록").click()
    table = page.locator("#wb-runs-table")
    table.get_by_text(run_id).filter(visible=True).first.wait_for()
    assert table.get_by_text("완료").filter(visible=True).count() >= 1
    screenshot(page, "runs-ko")
    page.locator("#wb-lang").get_by_text("English").click()
    page.get_by_role("tab", name="Runs").wait_for()
    wait_for(lambda: table.get_by_text("succeeded").filter(visible=True).count() >= 1, 10, what="English status in the table")
    table.get_by_text(run_id).filter(visible=True).first.click()
    page.locator("#wb-run-detail").get_by_text(run_id).filter(visible=True).first.wait_for()
    screenshot(page, "runs-en")


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
