"""The Optimize tab as a person uses it: pick a model, quantize it to CPU int8, see the before/after table and
charts, then open the result in the Chat tab, which says it is quantized and answers with it."""
import re

from conftest import screenshot, wait_for
from fixtures import publish_tiny_llama
from state import Workspace


def test_optimize_tab_quantize_compare_then_chat_with_the_result(app_factory, page, tmp_path):
    ws = Workspace(tmp_path / "ws")
    publish_tiny_llama(ws, layers=2)
    app = app_factory(ws.root)
    page.goto(app.url)
    page.get_by_role("tab", name="7. 최적화").click()
    assert "tiny-base" in page.locator("#opt-model input").input_value(), "the newest model is preselected"
    assert "TensorRT-LLM" in page.locator("#opt-trt").inner_text()  # what this machine lacks for it, said up front
    page.get_by_label("프롬프트 수").fill("2")
    page.get_by_label("생성 토큰 수").fill("6")
    page.get_by_label("배치 크기들").fill("1, 2")
    page.get_by_label("텍스트 줄 상한").fill("20")
    page.locator("#opt-start").click()
    run = wait_for(lambda: (r := ws.store.list_runs(stage="optimize")) and r[0], 30, what="an optimize run")
    run = wait_for(lambda: (r := ws.store.get_run(run.id)).status not in ("queued", "running") and r, 300,
                   what="the run to end")
    assert run.status == "succeeded", run.error
    table = page.locator("#opt-result-table")
    table.wait_for(timeout=60_000)
    text = table.inner_text()
    assert "디코딩 토큰/초" in text and "퍼플렉서티" in text and "디스크 크기" in text
    assert table.locator("tbody tr").count() >= 8
    page.locator("#opt-throughput .plot-container").first.wait_for()
    panel = page.locator(".wb-jobpanel").filter(visible=True).first
    panel.locator(".wb-metrics-plot .plot-container").first.wait_for()  # original next to quantized, as bars
    screenshot(page, "optimize-before-after")

    name = run.summary["name"]
    page.get_by_role("tab", name="9. 채팅").click()
    page.locator("#chat-model-a input").click()
    page.get_by_role("option", name=re.compile(re.escape(name))).first.click()
    page.locator("#chat-model-info").get_by_text("양자화한 모델: int8-dynamic").wait_for()
    page.locator("#chat-msg textarea").fill("대한민국은")
    page.locator("#chat-send").click()
    wait_for(lambda: "토큰/초" in page.locator("#chat-bot-a").inner_text(), 90, what="a reply from the int8 model")
    screenshot(page, "optimize-chat-int8")
