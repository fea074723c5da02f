"""The Pretrain tab as a person uses it: start a tiny run, watch the loss chart grow, stop, resume."""

from conftest import screenshot, wait_for
from fixtures import make_corpus, make_tokenizer
from state import Workspace


def test_pretrain_tab_train_stop_resume(app_factory, page, tmp_path):
    ws = Workspace(tmp_path / "ws")
    make_tokenizer(ws, parents=[make_corpus(ws)])
    app = app_factory(ws.root)
    page.goto(app.url)
    page.get_by_role("tab", name="4. 사전학습").click()
    page.get_by_label("깊이(층 수)").fill("1")
    # fields the config shows only for some families (visible_when) follow the family picked
    experts = page.get_by_label("전문가 수 (MoE)")
    assert not experts.is_visible()
    for family, shown in (("mixtral", True), ("llama", False)):
        page.get_by_label("모델 계열").click()
        page.get_by_role("option", name=family, exact=True).click()
        wait_for(lambda: experts.is_visible() == shown, 10, what=f"MoE fields {'shown' if shown else 'hidden'}")
    page.get_by_text("학습 설정").click()
    page.get_by_label("최대 스텝").fill("5000")
    page.get_by_label("검증 주기(스텝)").fill("20")
    page.get_by_label("샘플 생성 주기").fill("40")
    page.locator("#pt-start").click()
    run = wait_for(lambda: (r := ws.store.list_runs(stage="pretrain")) and r[0], 30, what="a run")
    panel = page.locator(".wb-jobpanel").filter(visible=True).first
    panel.locator(".wb-run-header").get_by_text(run.id).wait_for()
    line = panel.locator(".wb-metrics-plot .scatterlayer .trace path.js-line").first
    line.wait_for(timeout=120_000)
    d1 = line.get_attribute("d")
    wait_for(lambda: line.get_attribute("d") != d1, 60, what="the loss chart to update")
    panel.locator(".wb-samples").get_by_text("대한민국은").wait_for(timeout=60_000)
    screenshot(page, "pretrain-running")
    panel.locator(".wb-stop").click()
    run = wait_for(lambda: (r := ws.store.get_run(run.id)).status == "stopped" and r, 30, what="stopped")
    step_at_stop = max(m["step"] for m in ws.store.metrics(run.id, ["train/loss"]))
    panel.locator(".wb-run-header").get_by_text("중지됨").wait_for()
    page.locator("#pt-resume").click()
    wait_for(lambda: ws.store.get_run(run.id).status == "running", 30, what="resumed")
    wait_for(lambda: max(m["step"] for m in ws.store.metrics(run.id, ["train/loss"])) > step_at_stop + 10, 120,
             what="steps past the checkpoint")
    panel.locator(".wb-run-header").get_by_text("실행 중").wait_for()
    screenshot(page, "pretrain-resumed")
    panel.locator(".wb-stop").click()
    wait_for(lambda: ws.store.get_run(run.id).status == "stopped", 30)
    assert len(ws.store.list_runs(stage="pretrain")) == 1, "resume continues the same run"
