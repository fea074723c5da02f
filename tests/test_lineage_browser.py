"""One lineage through the browser on a fresh workspace, as a workshop student clicks it: the bundled corpus
is cleaned and saved, a tokenizer is trained on it, a model is pretrained on both, and the chat tab talks to
that model. Each tab finds what the previous one made without a "refresh" click."""
import re

from conftest import fill_kept, screenshot, wait_for
from state import Workspace


def test_corpus_to_chat_in_the_browser(app_factory, page, tmp_path):
    ws = Workspace(tmp_path / "ws")
    app = app_factory(ws.root)
    page.goto(app.url)

    # the page opens on Home, which says where to start
    page.locator("#home-next-text").get_by_text("기본 말뭉치 불러오기").wait_for(timeout=60_000)

    # 1. Corpus: bundled text -> default recipe -> saved artifact
    page.get_by_role("tab", name="1. 말뭉치").click()
    page.locator("#corpus-load-bundled").click()
    page.locator("#corpus-load-msg").get_by_text("2,064").wait_for()
    page.locator("#corpus-run").click()
    run = wait_for(lambda: (r := ws.store.list_runs(stage="corpus")) and r[0], 20, what="a corpus run")
    wait_for(lambda: ws.store.get_run(run.id).status in ("succeeded", "failed"), 120, what="the recipe to end")
    assert ws.store.get_run(run.id).status == "succeeded", ws.store.get_run(run.id).error
    page.locator("#corpus-results").get_by_text("2,064").first.wait_for(timeout=20_000)
    page.locator("#corpus-save-name textarea").fill("헌법")
    page.locator("#corpus-save").click()
    page.locator("#corpus-save-msg").get_by_text("헌법").wait_for()
    corpus = ws.store.get_artifact(kind="corpus", name="헌법")

    # 2. Tokenizer: the new corpus is already chosen when the tab opens
    page.get_by_role("tab", name="2. 토크나이저").click()
    wait_for(lambda: "헌법" in page.locator("#tok-corpus input").input_value(), 10, what="the corpus in the picker")
    page.get_by_label("토크나이저 이름").first.fill("헌법-bpe")
    page.get_by_label("어휘 크기").first.fill("1200")
    page.locator("#tok-train").click()
    page.locator("#tok-train-msg").get_by_text("헌법-bpe").first.wait_for(timeout=90_000)
    tok = ws.store.get_artifact(kind="tokenizer", name="헌법-bpe")
    assert tok is not None and tok.parents == [corpus.id], tok.meta.get("corpus")

    # 3. Pretrain: both are chosen when the tab opens; a tiny run to the end
    page.get_by_role("tab", name="4. 사전학습").click()
    wait_for(lambda: "헌법 ·" in page.locator("#pt-corpus input").input_value()
             and "헌법-bpe" in page.locator("#pt-tokenizer input").input_value(), 10, what="corpus and tokenizer")
    page.get_by_label("깊이(층 수)").fill("1")
    page.get_by_text("학습 설정").click()
    fill_kept(page, page.get_by_label("모델 이름"), "헌법-llm")
    page.get_by_label("최대 스텝").fill("40")
    page.get_by_label("검증 주기(스텝)").fill("20")
    page.get_by_label("샘플 생성 주기").fill("20")
    page.locator("#pt-start").click()
    run = wait_for(lambda: (r := ws.store.list_runs(stage="pretrain")) and r[0], 30, what="a pretraining run")
    run = wait_for(lambda: (r := ws.store.get_run(run.id)).status in ("succeeded", "failed") and r, 180,
                   what="pretraining to end")
    assert run.status == "succeeded", run.error
    panel = page.locator(".wb-jobpanel").filter(visible=True).first
    panel.locator(".wb-run-header").get_by_text("완료").wait_for(timeout=20_000)
    model = ws.store.get_artifact(kind="model", name="헌법-llm")
    assert model is not None and set(model.parents) == {corpus.id, tok.id}
    screenshot(page, "lineage-pretrained")

    # 4. Chat: the new model is offered, and it answers
    page.get_by_role("tab", name="9. 채팅").click()
    wait_for(lambda: "헌법-llm" in page.locator("#chat-model-a input").input_value(), 5, what="the model")
    page.locator("#chat-model-info").get_by_text("이어쓰기").first.wait_for()  # a base model: continuation
    page.locator("#chat-msg textarea").fill("대한민국은")
    page.locator("#chat-send").click()
    wait_for(lambda: "토큰/초" in page.locator("#chat-bot-a").inner_text(), 60, what="a finished reply")
    reply = page.locator("#chat-bot-a").inner_text()
    assert re.search(r"[가-힣]", reply.split("대한민국은", 1)[-1]), reply[-300:]
    screenshot(page, "lineage-chat")

    # 5. Runs: the pretraining run lists the model it made
    page.get_by_role("tab", name="실행 기록").click()
    page.locator("#wb-runs-table").get_by_text(run.id).filter(visible=True).first.click()
    page.locator("#wb-run-detail").get_by_text(run.id).filter(visible=True).first.wait_for()
    wait_for(lambda: "헌법-llm" in page.locator("#wb-run-outputs").inner_text(), 10, what="the model in the outputs")
    titles = page.locator("#wb-run-plot .annotation-text")  # the panel titles
    wait_for(lambda: {"train/loss · val/loss", "val/bpb"} <= set(titles.all_text_contents()), 10,
             what="train and validation loss together, and bits per byte, in the run's charts")
    screenshot(page, "lineage-run-detail")
