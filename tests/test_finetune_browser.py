"""The Fine-tune tab as a person uses it: pick the pretrained model and the bundled sentiment data, preview it,
count what LoRA trains, train a few steps with the live chart, try a sentence next to the base with the adapter
off, and merge the adapter into a plain model."""
import re

from conftest import fill_kept, screenshot, wait_for
from fixtures import publish_tiny_llama
from state import Workspace


def test_finetune_tab_lora_train_try_merge(app_factory, page, tmp_path):
    ws = Workspace(tmp_path / "ws")
    publish_tiny_llama(ws)
    app = app_factory(ws.root)
    page.goto(app.url)
    page.get_by_role("tab", name="5. 미세조정").click()
    assert "tiny-base" in page.locator("#ft-base input").input_value(), "the newest model is preselected"
    page.locator("#ft-preview").click()
    preview = page.locator("#ft-preview-out")
    preview.get_by_text("클래스").wait_for()  # the bundled team-written sentiment sample, with its classes
    page.locator("#ft-count").click()
    trainable = page.locator("#ft-trainable")
    trainable.get_by_text("학습할 파라미터").wait_for()
    share = float(re.search(r"\(([\d.]+)%\)", trainable.inner_text()).group(1))
    assert 0 < share < 100, "LoRA trains a small share of the model"
    # the base's layers as checkboxes grouped by kind: untick q_proj and the count and the target words follow
    attention = page.locator("#ft-layers-attention")
    attention.get_by_text("q_proj").wait_for()
    assert page.locator("#ft-layers-mlp").get_by_text("down_proj").is_visible()
    before = int(re.search(r"([\d,]+)개 중 ([\d,]+)개", trainable.inner_text()).group(2).replace(",", ""))
    attention.get_by_text("q_proj").click()
    targets = page.get_by_label("대상 층").filter(visible=True).first
    wait_for(lambda: "q_proj" not in targets.input_value() and "k_proj" in targets.input_value(), 15,
             what="the target words without q_proj")
    wait_for(lambda: (m := re.search(r"([\d,]+)개 중 ([\d,]+)개", trainable.inner_text()))
             and int(m.group(2).replace(",", "")) == before - 8 * (64 + 64), 30,
             what="the count without q_proj's LoRA (r 8 x (64 + 64))")
    counted = before - 8 * (64 + 64)
    page.get_by_text("학습 설정").click()
    page.get_by_label("최대 스텝", exact=True).fill("30")
    page.get_by_label("검증 주기(스텝)").fill("10")
    page.get_by_label("배치 크기").fill("8")
    fill_kept(page, page.get_by_label("결과 이름"), "ft-lora")
    page.locator("#ft-start").click()
    run = wait_for(lambda: (r := ws.store.list_runs(stage="finetune")) and r[0], 30, what="a run")
    assert run.config["output_name"] == "ft-lora", run.config["output_name"]
    panel = page.locator(".wb-jobpanel").filter(visible=True).first
    panel.locator(".wb-run-header").get_by_text(run.id).wait_for()
    panel.locator(".wb-metrics-plot .scatterlayer .trace path.js-line").first.wait_for(timeout=180_000)
    run = wait_for(lambda: (r := ws.store.get_run(run.id)).status not in ("queued", "running") and r, 300,
                   what="the run to end")
    assert run.status == "succeeded", run.error
    assert run.summary["trainable_params"] == counted, "what trained is what the tab counted"
    names = {m["name"] for m in ws.store.metrics(run.id)}
    assert {"train/loss", "val/loss", "val/accuracy", "val/macro_f1"} <= names
    screenshot(page, "finetune-trained")

    page.get_by_text("목록 새로 고침").click()
    page.locator("#ft-result input").click()
    page.get_by_role("option", name=re.compile("ft-lora")).first.click()
    page.locator("#ft-try-text textarea").fill("정말 재미있고 감동적인 영화였어요")
    page.locator("#ft-try").click()
    out = page.locator("#ft-try-out")
    out.get_by_text("기본 모델 (어댑터 끔)").wait_for(timeout=60_000)
    assert "미세조정" in out.inner_text() and "%" in out.inner_text()
    page.locator("#ft-merge").click()
    page.locator("#ft-merge-msg").get_by_text("병합한 모델").wait_for(timeout=60_000)
    assert ws.store.get_artifact(kind="model", name="ft-lora-merged") is not None
    screenshot(page, "finetune-try-merge")

    # compare: the finished run in the table; the same-budget preset queues one run per method
    page.get_by_text("방법 비교").click()
    page.locator("#ft-compare").click()
    table = page.locator("#ft-compare-table")
    table.get_by_text("시험 정확도").wait_for(timeout=30_000)
    assert run.id in table.inner_text() and "lora" in table.inner_text()
    page.locator("#ft-same-budget").click()
    page.locator("#ft-same-msg").get_by_text("4개 실행").wait_for(timeout=30_000)
    queued = [r for r in ws.store.list_runs(stage="finetune") if r.id != run.id]
    assert sorted(r.config["method"] for r in queued) == ["dora", "full", "lora", "waveft"]
    assert {r.config["output_name"] for r in queued} == {f"ft-lora-{m}" for m in ("lora", "dora", "waveft", "full")}
    wait_for(lambda: "waveft" in table.inner_text() and "대기" in table.inner_text(), 20,
             what="the table to list the preset's runs as they wait their turn")
    screenshot(page, "finetune-compare")
    for r in queued:  # not trained here: the engine test trains and compares two methods
        if ws.store.get_run(r.id).status == "queued":
            ws.store.finish_run(r.id, "stopped", only_if_active=True)
        ws.store.request_stop(r.id)
