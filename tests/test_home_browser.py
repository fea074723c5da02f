"""The Home tab as a person first sees it: on a fresh workspace it opens first, shows the machine and the packages
(the import checks fill in as they finish), the stage overview with what to click first; Run a model generates
tokens with a tiny random model and says its speed; in English the same page relabels."""
from conftest import screenshot, wait_for
from state import Workspace


def test_home_tab_on_a_fresh_workspace(app_factory, page, tmp_path):
    ws = Workspace(tmp_path / "ws")
    app = app_factory(ws.root)
    page.goto(app.url)
    home = page.get_by_role("tab", name="홈")
    home.wait_for(timeout=120_000)  # a loaded 2-core machine can take a while to draw the first page
    assert home.get_attribute("aria-selected") == "true", "the Home tab is the one a page opens on"

    # the stage overview and what to click first
    nxt = page.locator("#home-next-text")
    nxt.wait_for(timeout=30_000)
    assert nxt.get_attribute("data-stage") == "corpus" and "기본 말뭉치 불러오기" in nxt.inner_text()
    rows = page.locator("#home-overview-table tbody tr")
    assert rows.count() == 10
    assert [rows.nth(i).get_attribute("data-stage") for i in range(10)][:3] == ["corpus", "tokenizer", "arch"]
    assert "아직 없음" in rows.first.inner_text()

    # the environment: machine, core stack, optional packages; pending import checks fill in
    assert "CPU" in page.locator("#home-machine").inner_text()
    assert page.locator("#home-core tr[data-package=torch]").inner_text().strip() != ""
    optional = page.locator("#home-optional")
    assert "설치되지 않음" in optional.locator("tr[data-package=tensorrt_llm]").inner_text()
    wait_for(lambda: page.locator("#home-optional tr[data-usable=pending]").count() == 0, 180,
             what="the import checks to finish")
    assert page.locator("#home-optional tr[data-package=onnxruntime]").get_attribute("data-usable") == "true"
    assert "GPU" in page.locator("#home-gpus").inner_text()
    screenshot(page, "home-fresh-ko")

    # Run a model: a tiny random model built here, with its device and speed
    page.locator("#home-tokens input[type=number]").fill("16")
    page.locator("#home-run").click()
    out = page.locator("#home-run-out")
    out.wait_for(timeout=180_000)
    assert out.get_attribute("data-device") == "cpu"
    assert 1 <= int(out.get_attribute("data-tokens")) <= 16 and float(out.get_attribute("data-tps")) > 0
    text = out.inner_text()
    assert "토큰/초" in text and "무작위" in text
    screenshot(page, "home-run-a-model-ko")

    # English: labels, the tables and the result follow the switch
    page.locator("#wb-lang").get_by_text("English").click()
    page.get_by_role("tab", name="Home").wait_for(timeout=90_000)
    wait_for(lambda: "Load the bundled corpus" in page.locator("#home-next-text").inner_text(), 60,
             what="the next step in English")
    wait_for(lambda: "tokens/s" in page.locator("#home-run-out").inner_text(), 60, what="the result in English")
    assert "not installed" in page.locator("#home-optional tr[data-package=tensorrt_llm]").inner_text()
    assert "random model built here" in page.locator("#home-run-out").inner_text()
    page.get_by_role("button", name="Run a model").wait_for()
    screenshot(page, "home-en")
