"""The Pipeline tab's lineage as a person uses it: corpus -> tokenizer -> model (and an eval report that scored it) made
beforehand; open the tab, pick the model, see its chain down to the corpus and the eval, open the eval's run."""
import re

from conftest import screenshot, wait_for
from fixtures import make_corpus, make_tokenizer, publish_tiny_llama
from state import Workspace


def test_lineage_links_a_chat_model_back_to_its_corpus(app_factory, page, tmp_path):
    ws = Workspace(tmp_path / "ws")
    corpus = make_corpus(ws)
    tok = make_tokenizer(ws, parents=[corpus])
    model = publish_tiny_llama(ws, name="chat-tiny", tokenizer_id=tok)
    ws.store.add_artifact("model", "chat-tiny", ws.store.get_artifact(model).path, parents=[corpus, tok],
                          meta={"stage": "pretrain", "chat_model": True}, overwrite=True)  # its corpus too
    from workbench import runs
    from workbench.evaluate.stage import EvalConfig
    ev = runs.run_in_process("eval", EvalConfig.load(sets=["threads=1", "models=chat-tiny", "task=perplexity",
                                                           "max_rows=20", "max_length=64", "output_name=ppl"]), ws)
    assert ev["status"] == "succeeded", ev["error"]
    app = app_factory(ws.root)
    page.set_default_timeout(120_000)  # other jobs on a 2-core machine can slow every click to tens of seconds
    page.goto(app.url)
    page.get_by_role("tab", name="10. 파이프라인").click()
    page.locator("#pipe-graph .plot-container").first.wait_for()

    page.locator("#pipe-artifact input").click()
    page.get_by_role("option", name=re.compile(r"chat-tiny · model")).first.click()
    chain = page.locator("#pipe-chain")
    wait_for(lambda: "kolaw" in chain.inner_text(), 120, what="the chain down to the corpus")
    text = chain.inner_text()
    # raw text first, the model last: corpus (with its source) -> tokenizer -> model, and the eval that scored it
    assert text.index("kolaw") < text.index("tiny-bpe") < text.index("chat-tiny")
    assert "말뭉치" in text and "토크나이저" in text and "사전학습" in text and "konlpy" in text
    assert "ppl" in text and "bpb" in text and ev["run_id"] in text
    screenshot(page, "pipeline-lineage")

    # open the run of a step (the eval report's run): its detail shows the run and its config
    wait_for(lambda: ev["run_id"] in page.locator("#pipe-run input").input_value(), 60, what="the run picker")
    page.locator("#pipe-open-run").click()
    page.locator("#pipe-run-header").get_by_text(ev["run_id"]).wait_for()
    assert "perplexity" in page.locator("#pipe-run-config").inner_text()

    # the share section follows the picked model (exporting and pushing: tests/test_share_browser.py)
    assert "chat-tiny" in page.locator("#pipe-share-artifact input").input_value()
