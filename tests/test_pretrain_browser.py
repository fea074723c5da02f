"""The Pretrain tab as a person uses it: start a tiny run, watch the loss chart grow, reload (the form keeps what
was set, a second Start with the same model name is refused), stop (it reads as a stop), resume."""

from conftest import fill_kept, screenshot, wait_for
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
    fill_kept(page, page.get_by_label("모델 이름"), "lm-browser")
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

    # A reload mid-run: the form shows the running config (not the defaults), the pickers their artifacts.
    page.reload()
    page.get_by_role("tab", name="4. 사전학습").click()
    panel = page.locator(".wb-jobpanel").filter(visible=True).first
    panel.locator(".wb-run-header").get_by_text(run.id).wait_for()
    wait_for(lambda: page.get_by_label("깊이(층 수)").input_value() == "1", 15, what="the form restored")
    page.get_by_text("학습 설정").click()
    assert page.get_by_label("최대 스텝").input_value() == "5000"
    assert page.get_by_label("모델 이름").input_value() == "lm-browser"
    assert "kolaw" in page.locator("#pt-corpus input").input_value()
    assert "tiny-bpe" in page.locator("#pt-tokenizer input").input_value()
    # Start again: the same model name is refused at once (not after waiting its turn), the live run stays shown.
    page.locator("#pt-start").click()
    page.locator("#pt-msg").get_by_text("이미 'lm-browser' 모델").wait_for()
    assert len(ws.store.list_runs(stage="pretrain")) == 1
    panel.locator(".wb-run-header").get_by_text(run.id).wait_for()
    screenshot(page, "pretrain-reloaded")

    panel.locator(".wb-stop").click()
    run = wait_for(lambda: (r := ws.store.get_run(run.id)).status == "stopped" and r, 30, what="stopped")
    step_at_stop = max(m["step"] for m in ws.store.metrics(run.id, ["train/loss"]))
    panel.locator(".wb-run-header").get_by_text("중지됨").wait_for()
    # a stop the person asked for reads as one (not a red failure), with where its checkpoint is
    panel.locator(".wb-stopped").get_by_text("중지 버튼으로 멈췄습니다").wait_for()
    assert "checkpoint-" in panel.locator(".wb-stopped").inner_text()
    assert panel.locator(".wb-error").count() == 0
    page.locator("#pt-resume").click()
    wait_for(lambda: ws.store.get_run(run.id).status == "running", 30, what="resumed")
    wait_for(lambda: max(m["step"] for m in ws.store.metrics(run.id, ["train/loss"])) > step_at_stop + 10, 120,
             what="steps past the checkpoint")
    panel.locator(".wb-run-header").get_by_text("실행 중").wait_for()
    screenshot(page, "pretrain-resumed")
    panel.locator(".wb-stop").click()
    wait_for(lambda: ws.store.get_run(run.id).status == "stopped", 30)
    assert len(ws.store.list_runs(stage="pretrain")) == 1, "resume continues the same run"
