"""The Evaluate tab as a person uses it: pick two models, run a few-shot benchmark on the bundled sentiment sample,
see the comparison table and its chart fill in when the run ends, ask one question through the seed's three
prompt templates in the prompt lab, export the HTML report and open it."""
import re

from conftest import screenshot, wait_for
from fixtures import make_tokenizer, publish_tiny_llama
from state import Workspace


def pick_option(page, box, name):
    box.locator("input").click()
    page.get_by_role("option", name=re.compile(name)).first.click()


def test_evaluate_two_models_compare_prompt_lab_and_export(app_factory, page, tmp_path):
    ws = Workspace(tmp_path / "ws")
    tok_id = make_tokenizer(ws)
    for name, seed in (("lm-one", 0), ("lm-two", 1)):
        publish_tiny_llama(ws, name, hidden=32, seed=seed, tokenizer_id=tok_id)
    app = app_factory(ws.root)
    page.goto(app.url)
    page.get_by_role("tab", name="6. 평가").click()
    models = page.locator("#ev-models")
    for name in ("lm-one", "lm-two"):
        pick_option(page, models, name)
    page.keyboard.press("Escape")
    task = page.get_by_label("평가", exact=True)
    task.click()
    page.get_by_role("option", name="fewshot", exact=True).click()
    page.get_by_label("예시 수 k").fill("1")  # shown for fewshot only
    page.get_by_label("행 상한 (0=전부)").fill("16")
    page.locator("#ev-start").click()
    run = wait_for(lambda: (r := ws.store.list_runs(stage="eval")) and r[0], 30, what="an eval run")
    assert run.config["task"] == "fewshot" and len(run.config["models"]) == 2, run.config
    run = wait_for(lambda: (r := ws.store.get_run(run.id)).status not in ("queued", "running") and r, 240,
                   what="the evaluation to end")
    assert run.status == "succeeded", run.error
    # the finished run joins the comparison by itself: one row per model, the chart beside it
    table = page.locator("#ev-compare-table")
    table.get_by_text("lm-two").wait_for(timeout=60_000)
    assert table.locator("tbody tr").count() == 2 and "정확도" in table.inner_text()
    page.locator("#ev-plot .plot-container").first.wait_for()
    assert page.locator("#ev-confusion .plot-container").count() == 1, "a classification run draws its confusion matrix"
    screenshot(page, "evaluate-compare")

    page.locator("#ev-lab").get_by_text("프롬프트 실험실").first.click()
    page.locator("#ev-question textarea").fill("대한민국의 수도는 어디인가요?")
    ticked = page.locator("#ev-templates input:checked")
    assert ticked.count() == 3, "the seed's three templates are ticked"
    page.locator("#ev-ask").click()
    lab = page.locator("#ev-lab-table")
    lab.wait_for(timeout=90_000)
    assert lab.locator("tbody tr").count() == 3 and lab.locator("thead th").count() == 3  # 3 templates x 2 models
    assert "step-ko" in lab.inner_text() and "lm-one" in lab.inner_text()
    screenshot(page, "evaluate-prompt-lab")

    page.locator("#ev-export-html").click()
    page.locator("#ev-export-msg").get_by_text("보고서를 저장했습니다").wait_for()
    exported = wait_for(lambda: sorted((ws.root / "exports").glob("eval-report-*.html")), 15, what="the report")[-1]
    wait_for(lambda: exported.stem in page.locator("#ev-download").inner_text(), 15, what="the file offered for download")
    report = page.context.new_page()
    report.goto(exported.as_uri())
    report.get_by_text("lm-two").first.wait_for()
    assert report.locator("svg").count() >= 2 and "fewshot" in report.content()
    screenshot(report, "evaluate-report-html")
