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
