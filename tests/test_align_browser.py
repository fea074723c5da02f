"""The Align tab as a person uses it: pick the model and the bundled pairs, preview them, train a few DPO steps and
see the reward charts move, read the reference's and the aligned model's answers side by side, collect a preference
pair by picking the better of two sampled answers, and train on the collected pairs."""
import re

from conftest import fill_kept, screenshot, wait_for
from fixtures import publish_tiny_llama
from state import Workspace


def test_align_tab_dpo_rewards_before_after_and_feedback(app_factory, page, tmp_path):
    ws = Workspace(tmp_path / "ws")
    publish_tiny_llama(ws)
    app = app_factory(ws.root)
    page.goto(app.url)
    page.get_by_role("tab", name="8. 정렬").click()
    assert "tiny-base" in page.locator("#al-policy input").input_value(), "the newest model is preselected"
    page.locator("#al-preview").click()
    preview = page.locator("#al-preview-out")
    preview.get_by_text("preferences_ko.jsonl").wait_for()  # the bundled team-written pairs
    assert "chosen = chosen" in preview.inner_text()
    page.get_by_text("학습 설정").click()
    page.get_by_label("최대 스텝", exact=True).fill("12")
    page.get_by_label("검증 주기(스텝)").fill("4")
    page.get_by_label("전후 비교 프롬프트 수").fill("2")
    page.get_by_label("비교 답 길이(토큰)").fill("8")
    fill_kept(page, page.get_by_label("결과 이름"), "al-lora")
    page.locator("#al-start").click()
    run = wait_for(lambda: (r := ws.store.list_runs(stage="align")) and r[0], 30, what="a run")
    assert run.config["output_name"] == "al-lora", run.config["output_name"]
    panel = page.locator(".wb-jobpanel").filter(visible=True).first
    panel.locator(".wb-run-header").get_by_text(run.id).wait_for()
    panel.locator(".wb-metrics-plot .scatterlayer .trace path.js-line").first.wait_for(timeout=180_000)
    run = wait_for(lambda: (r := ws.store.get_run(run.id)).status not in ("queued", "running") and r, 300,
                   what="the run to end")
    assert run.status == "succeeded", run.error
    margins = [m["value"] for m in ws.store.metrics(run.id, ["val/rewards/margins"])]
    assert len(margins) >= 3 and margins[-1] != margins[0], "the validation reward margin moved"
    plot = panel.locator(".wb-metrics-plot")
    for title in ("train/rewards/margins", "val/rewards/accuracies"):
        assert title in plot.inner_text(), title
    compare = page.locator("#al-compare")
    compare.locator("#al-answers").wait_for(timeout=30_000)
    text = compare.inner_text()
    assert "기준 모델의 답" in text and "정렬한 모델의 답" in text and "tricky" in text
    assert "학습 전" in compare.locator("#al-heldout").inner_text()
    screenshot(page, "align-trained")

    # collect a pair: two sampled answers, B is better; then train on the collected pairs
    page.locator("#al-fb-prompt textarea").fill("오늘 저녁 뭐 먹을까?")
    page.locator("#al-fb-sample").click()
    wait_for(lambda: page.locator("#al-fb-a textarea").input_value().strip() != "", 60, what="answer A")
    fill_kept(page, page.locator("#al-fb-a textarea"), "라면이요.")
    page.locator("#al-fb-b textarea").fill("따뜻한 된장찌개나 비빔밥은 어떠세요?")
    page.locator("#al-fb-pick-b").click()
    page.locator("#al-fb-msg").get_by_text("1쌍").wait_for(timeout=30_000)
    table = page.locator("#al-fb-table")
    wait_for(lambda: "된장찌개" in table.inner_text(), 30, what="the pair in the table")
    pairs = __import__("workbench.align.feedback", fromlist=["x"]).list_pairs(ws, "my-preferences")
    assert pairs[0]["chosen"].startswith("따뜻한") and pairs[0]["rejected"] == "라면이요."
    assert pairs[0]["how"] == "written", "edited answers are saved as the person's own"
    page.locator("#al-fb-use").click()
    wait_for(lambda: page.locator("#al-data textarea").input_value() == "my-preferences", 10,
             what="the form to point at the collected pairs")
    screenshot(page, "align-feedback")
    assert re.search(r"my-preferences", page.locator("#al-fb-msg").inner_text())
