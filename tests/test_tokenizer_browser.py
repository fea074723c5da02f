"""The Tokenizer tab in a real browser: sentence spans, training from the form, the held-out comparison, and
what a reload keeps (the last run's form, the newest artifacts in the pickers)."""
from __future__ import annotations

import re

from conftest import screenshot, wait_for


def _prepare_workspace(ws_path):
    """A corpus artifact (konlpy bills) and one trained tokenizer, made with the engine before the app starts."""
    from state import Workspace
    from workbench.artifacts import write_corpus_split
    from workbench.runs import run_in_process
    from workbench.tokenizer.sources import resolve_source
    from workbench.tokenizer.stage import TokenizerConfig
    ws = Workspace(ws_path)
    staging = ws.staging_dir("corpus", "bills")
    rows = [{"id": str(i), "text": t, "source": "kobill"} for i, t in enumerate(resolve_source("konlpy:kobill").texts())]
    write_corpus_split(staging, "train", rows)
    ws.publish(staging, "corpus", "bills")
    res = run_in_process("tokenizer", TokenizerConfig(corpus="bills", name="bills-bpe", vocab_size=1500), ws)
    assert res["status"] == "succeeded", res["error"]
    return ws


def _reload(page):
    page.reload()
    page.get_by_role("tab", name="2. 토크나이저").click()


def test_tokenizer_tab_spans_train_and_compare(app_factory, page, tmp_path):
    ws = _prepare_workspace(tmp_path / "ws")
    app = app_factory(tmp_path / "ws")
    page.goto(app.url)
    page.get_by_role("tab", name="2. 토크나이저").click()

    # Type a sentence: every selected tokenizer shows it as spans (trained one + cl100k, kiwi, char, byte).
    box = page.locator("#tok-sentence textarea")
    box.fill("국회의원은 법률안을 제출할 수 있다. 햏")
    page.locator("#tok-go").click()
    rows = page.locator("#tok-spans .tok-row")
    wait_for(lambda: rows.count() >= 5 and "햏" in page.locator("#tok-spans").inner_text(), 60,
             what="spans of five tokenizers for the typed sentence")
    for name in ("bills-bpe", "cl100k", "kiwi"):
        row = page.locator(f"#tok-spans .tok-row[data-name='{name}']")
        assert row.locator(".tok-span").count() >= 5, name
        assert row.locator(".tok-rt").get_attribute("data-rt") == "exact", name
    mine = page.locator("#tok-spans .tok-row[data-name='bills-bpe']")
    byte_span = mine.locator(".tok-span[data-kind='byte']").first
    assert byte_span.inner_text() == "햏"                      # 3 byte-fallback pieces shown as the syllable
    assert "<0xED>" in byte_span.get_attribute("title")
    assert "\ufffd" not in page.locator("#tok-spans").inner_text()
    screenshot(page, "tokenizer-spans")
    n_rows = rows.count()
    page.locator("#tok-select .token").filter(has_text="byte").locator(".token-remove").click()
    wait_for(lambda: rows.count() == n_rows - 1 and page.locator("#tok-spans .tok-row[data-name='byte']").count() == 0,
             30, what="the byte row gone after unpicking it")
    page.locator("#tok-select input").click()  # and picked again: back
    page.get_by_role("option", name=re.compile("^byte")).first.click()
    wait_for(lambda: page.locator("#tok-spans .tok-row[data-name='byte']").count() == 1, 30, what="the byte row back")
    page.locator("#tok-sentence textarea").click()  # close the list

    # A bad value is refused with the field named; nothing runs.
    vocab = page.get_by_label("어휘 크기").first
    vocab.fill("10")
    page.locator("#tok-train").click()
    page.locator("#tok-train-msg").get_by_text("vocab_size").first.wait_for()
    assert len(ws.store.list_runs(stage="tokenizer")) == 1

    # Train a small tokenizer from the form (in-process): it is saved and joins the selection.
    vocab.fill("1200")
    page.get_by_label("토크나이저 이름").first.fill("ui-tok")
    page.locator("#tok-train").click()
    page.locator("#tok-train-msg").get_by_text("ui-tok").first.wait_for(timeout=90_000)
    assert ws.store.get_artifact(kind="tokenizer", name="ui-tok") is not None
    wait_for(lambda: page.locator("#tok-spans .tok-row[data-name='ui-tok']").count() == 1, 30,
             what="the new tokenizer in the sentence view")

    # After a reload the form shows the latest run's config, not the defaults (its corpus picked too), and the
    # held-out default is text no tokenizer here was trained on (the bills corpus has no validation split).
    _reload(page)
    wait_for(lambda: page.get_by_label("어휘 크기").first.input_value() == "1200", 30,
             what="the last run's vocabulary size in the form after a reload")
    assert page.get_by_label("토크나이저 이름").first.input_value() == "ui-tok"
    assert page.locator("#tok-corpus input").input_value().startswith("bills ·")
    assert page.locator("#tok-heldout textarea").input_value() == "konlpy:kolaw"
    assert page.locator("#tok-select .token").filter(has_text="ui-tok").count() == 1  # the newest, preselected

    # Held-out comparison (konlpy:kolaw, not trained on): the table lists every tokenizer.
    page.locator("#tok-max-texts input").fill("100")
    page.locator("#tok-compare").click()
    table = page.locator("#tok-table")
    table.get_by_text("ui-tok").first.wait_for(timeout=120_000)
    for name in ("bills-bpe", "cl100k", "kiwi", "char", "byte"):
        assert table.get_by_text(name, exact=True).count() >= 1, name
    page.locator("#tok-lengths .plot-container, #tok-lengths .js-plotly-plot").first.wait_for()
    screenshot(page, "tokenizer-compare")
    run = ws.store.list_runs(stage="tokenizer-compare")[0]
    assert run.status == "succeeded" and len(run.summary["rows"]) == 6
    # It says what the figures rest on, and that 100 short texts are too little to trust.
    note = page.locator("#tok-compare-msg")
    note.get_by_text("konlpy:kolaw · 100 개 글").wait_for()
    assert "너무 적습니다" in note.inner_text() and not run.summary["rows"][0].get("warning")
    # The vocabulary-size plot is the table's measurement (it once showed another text's 1.83 beside 2.046).
    fert = {r["tokenizer"]: r["fertility"] for r in run.summary["rows"]}
    traces = wait_for(lambda: page.evaluate(
        "() => { const p = document.querySelector('#tok-sweep .js-plotly-plot');"
        " return p && p.data && p.data.length ? p.data.map(t => [t.name, Array.from(t.x), Array.from(t.y)]) : null; }"),
        30,
        what="the vocabulary-size plot")
    plotted = {name: ys[-1] for name, xs, ys in traces}
    assert plotted["ui-tok"] == fert["ui-tok"] and plotted["cl100k"] == fert["cl100k"], (plotted, fert)
    assert table.get_by_text(f"{fert['ui-tok']:.3f}", exact=True).count() >= 1

    # Training from a path box (not an artifact), after a corpus was made while the app runs: after a reload the
    # path and the vocabulary size come back, and the picker offers (and preselects) the new corpus.
    from fixtures import make_corpus
    make_corpus(ws, "late", validation=40)
    page.locator("#tok-corpus-path textarea").fill("konlpy:kobill")
    page.get_by_label("어휘 크기").first.fill("1100")
    page.get_by_label("토크나이저 이름").first.fill("path-tok")
    page.locator("#tok-train").click()
    page.locator("#tok-train-msg").get_by_text("path-tok").first.wait_for(timeout=90_000)
    assert ws.store.get_artifact(kind="tokenizer", name="path-tok").meta["corpus"]["spec"] == "konlpy:kobill"
    _reload(page)
    wait_for(lambda: page.locator("#tok-corpus-path textarea").input_value() == "konlpy:kobill", 30,
             what="the last run's corpus path after a reload")
    assert page.get_by_label("어휘 크기").first.input_value() == "1100"
    wait_for(lambda: page.locator("#tok-corpus input").input_value().startswith("late ·"), 10,
             what="the newest corpus preselected")
    assert page.locator("#tok-select .token").filter(has_text="path-tok").count() == 1
    assert page.locator("#tok-heldout textarea").input_value() == "konlpy:kolaw"  # the last comparison's
    page.locator("#tok-compare-msg").get_by_text("konlpy:kolaw · 100 개 글").wait_for()  # and its result

    # Language switch relabels the table.
    page.locator("#wb-lang").get_by_text("English").click()
    table.get_by_text("fertility").first.wait_for()
    page.locator("#tok-train-msg").get_by_text("Saved").first.wait_for()
    assert "tokens" in page.locator("#tok-spans").inner_text()
    screenshot(page, "tokenizer-compare-en")
