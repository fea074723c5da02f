"""The Architecture tab in a real browser: two families configured, on paper, measured, compared, saved."""
from arch_helpers import make_tokenizer_artifact
from conftest import screenshot, wait_for


def _fill(page, label: str, value: str):
    box = page.get_by_label(label).filter(visible=True).first
    box.fill(value)
    box.press("Tab")


def test_two_families_on_paper_measured_and_compared(app_factory, page, tmp_path):
    from state import Workspace

    ws = Workspace(tmp_path / "ws")
    make_tokenizer_artifact(ws, "ko-bpe")
    app = app_factory(tmp_path / "ws")
    page.goto(app.url)
    page.get_by_role("tab", name="3. 아키텍처").click()

    fams = page.locator("#arch-families")
    for label in ("Llama", "Mamba2", "RWKV", "DeepSeek-V3 (MLA+MoE)"):  # the defaults: keep Llama and Mamba2
        box = fams.get_by_label(label, exact=True)
        if box.is_checked() != (label in ("Llama", "Mamba2")):
            box.click()
    _fill(page, "깊이(층 수)", "1")
    page.locator("#arch-tokenizer input").click()
    page.get_by_role("option", name="ko-bpe", exact=False).first.click()

    # an invalid combination is named before any work starts
    page.locator("#arch-size").get_by_role("button", name="고급 설정").click()
    _fill(page, "어텐션 헤드 (0=자동)", "3")
    page.locator("#arch-paper-btn").click()
    page.locator("#arch-paper-msg").get_by_text("model.heads").first.wait_for()
    _fill(page, "어텐션 헤드 (0=자동)", "0")

    page.locator("#arch-paper-btn").click()
    table = page.locator("#arch-paper-table")
    # the answer for this configuration (earlier answers, e.g. for the default families, may still be showing)
    text = wait_for(lambda: (t := table.inner_text()) and "1 × 64" in t and "DeepSeek" not in t and t, 60,
                    what="the on-paper table of Llama and Mamba2 at depth 1")
    assert "✓ 일치" in text and "✗" not in text  # the arithmetic equals the instantiated models' counts
    assert "Llama" in text and "MHA" in text and "SSM 상태" in text  # depth 1: one head, so MHA
    page.locator("#arch-paper-msg").get_by_text("ko-bpe").wait_for()
    screenshot(page, "arch-on-paper")

    # a small measurement job
    page.locator("#arch-measure-form").get_by_role("button", name="측정").click()
    _fill(page, "학습 시퀀스 길이들", "16, 32")
    _fill(page, "생성 문맥 길이들", "16, 32")
    _fill(page, "생성 토큰 수", "4")
    _fill(page, "반복 횟수", "1")
    page.locator("#arch-measure-btn").click()
    run = wait_for(lambda: (r := ws.store.list_runs(stage="arch")) and r[0], 30, what="the job to be created")
    wait_for(lambda: ws.store.get_run(run.id).status in ("succeeded", "failed"), 180, what="the measurement job")
    assert ws.store.get_run(run.id).status == "succeeded", ws.store.get_run(run.id).error
    assert run.config["families"] == ["llama", "mamba2"] and run.config["model"]["depth"] == 1
    page.locator(".wb-jobpanel").filter(visible=True).locator(".wb-run-header").get_by_text("완료").wait_for()
    page.wait_for_timeout(3000)  # one more refresh tick of the comparison, now with every point

    plot = page.locator("#arch-measure-plot")
    legend = plot.locator(".legend")
    wait_for(lambda: legend.get_by_text("Llama").count() >= 1 and legend.get_by_text("Mamba2").count() >= 1, 30,
             what="both families in the comparison plot")
    wait_for(lambda: plot.locator(".scatterlayer .trace").count() >= 8, 20, what="4 panels x 2 families")
    exp = page.locator("#arch-exp-table")
    exp.get_by_text("Mamba2").filter(visible=True).first.wait_for()
    screenshot(page, "arch-measured")

    # learn: the real source of the selected family's core block
    page.locator("#arch-learn-btn").click()
    page.locator("#arch-learn-code").get_by_text("MambaMixer.forward").first.wait_for()

    # save the architecture the pretrain tab will train
    page.locator("#arch-save-name input, #arch-save-name textarea").first.fill("llama-d1")
    page.locator("#arch-save-btn").click()
    page.locator("#arch-save-msg").get_by_text("llama-d1").first.wait_for()
    art = ws.store.get_artifact(kind="arch", name="llama-d1")
    assert art is not None and art.meta["family"] == "llama" and art.parents
    screenshot(page, "arch-learn-save")
