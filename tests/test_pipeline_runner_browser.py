"""The Pipeline tab's runner as a person uses it on a fresh workspace: the demo preset cut to corpus -> tokenizer ->
pretrain (a small model through the per-step overrides), started from the page; each step shows up in the steps table
as it runs, with its run, artifact and key figure; the chain's artifacts exist when it ends."""
import json
import re

from conftest import screenshot, wait_for
from state import Workspace

STEPS = ["corpus", "tokenizer", "pretrain"]
SMALL = {"pretrain": {"max_steps": 6, "eval_every": 3, "warmup_steps": 1, "arch.depth": 1, "arch.width": 64,
                      "arch.heads": 2}}


def step_rows(page) -> dict:
    rows = {}
    for tr in page.locator("#pl-steps tbody tr").all():
        cells = [c.inner_text().strip() for c in tr.locator("td").all()]
        if cells:
            rows[cells[0]] = cells
    return rows


def test_demo_preset_steps_run_one_by_one_in_the_table(app_factory, page, tmp_path):
    ws = Workspace(tmp_path / "ws")
    app = app_factory(ws.root)
    page.set_default_timeout(120_000)  # other jobs on a 2-core machine can slow every click to tens of seconds
    page.goto(app.url)
    page.get_by_role("tab", name="10. 파이프라인").click()

    # the steps: clear the preset's eight, pick three (a chip list: the remove-all cross, then the options)
    steps = page.locator(".block").filter(has=page.get_by_label("단계", exact=True)).last
    steps.locator(".token-remove.remove-all").click()
    for name in STEPS:
        page.get_by_label("단계", exact=True).click()
        page.get_by_role("option", name=name, exact=True).click()
    wait_for(lambda: steps.locator(".token").count() == 3, 30, what="three chips")
    page.keyboard.press("Escape")
    page.locator("#pl-start").locator("xpath=preceding::button[contains(., '고급 설정')][1]").click()
    editor = page.locator(".block").filter(has_text="단계별 설정 덮어쓰기").locator(".cm-content").first
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    editor.fill(json.dumps(SMALL))
    page.locator("#pl-start").click()

    # the steps table fills in as the chain runs: the plan first (all waiting), then each step's run and artifact
    table = page.locator("#pl-steps")
    table.wait_for()
    wait_for(lambda: list(step_rows(page)) == STEPS, 60, what="the plan's three steps")
    seen_running = set()

    def progressed():
        rows = step_rows(page)
        for name, cells in rows.items():
            if re.search("실행 중|running", cells[2]):
                seen_running.add(name)
        return all("완료" in cells[2] for cells in rows.values())  # the Korean page: 완료 = succeeded

    wait_for(progressed, 600, interval=1.0, what="every step succeeded")
    rows = step_rows(page)
    assert seen_running, "a step was seen running in the table"
    for name in STEPS:
        assert re.match(r"(corpus|tokenizer|pretrain)-", rows[name][3]), rows[name]
    assert rows["pretrain"][4] == "demo-base" and re.search(r"val_\w+ \d", rows["pretrain"][6]), rows["pretrain"]
    pipeline = ws.store.list_runs(stage="pipeline")
    assert len(pipeline) == 1 and pipeline[0].status == "succeeded"
    children = [r for r in ws.store.list_runs(limit=100) if r.parent_run == pipeline[0].id]
    assert sorted(r.stage for r in children) == sorted(STEPS)
    assert ws.store.get_artifact(kind="model", name="demo-base") is not None
    screenshot(page, "pipeline-runner-steps")
