"""The corpus tab in a real browser: load the bundled corpus, explore, run the recipe, see the counts and the
near-duplicate clusters, save; and every kind of bad input with its message."""
import zipfile

from conftest import fill_kept, last_json, run_cli, screenshot, wait_for
from state import Workspace
from workbench.artifacts import iter_corpus_texts


def open_tab(page, app):
    page.goto(app.url)
    page.get_by_role("tab", name="1. 말뭉치").click()
    page.locator("#corpus-load-bundled").wait_for()


def test_bundled_corpus_explore_run_clusters_save(app_factory, page, tmp_path):
    app = app_factory(tmp_path / "ws")
    store = Workspace(tmp_path / "ws").store
    open_tab(page, app)
    page.locator("#corpus-load-bundled").click()
    page.locator("#corpus-load-msg").get_by_text("2,064").wait_for()
    assert "konlpy/kolaw/constitution.txt" in page.locator("#corpus-load-msg").inner_text()
    page.locator("#corpus-counts").get_by_text("2,064").first.wait_for()
    counted = "상위 어절을 센 문서 수"  # the explorer counts every document's words...
    assert "2,064 (100%)" in page.locator("#corpus-counts tr", has_text=counted).inner_text()
    page.locator("#corpus-explore-plot .main-svg").first.wait_for()
    page.locator("#corpus-query textarea").fill("국회")
    page.locator("#corpus-search").click()
    page.locator("#corpus-samples mark").first.wait_for()
    assert page.locator("#corpus-samples mark").first.inner_text() == "국회"
    screenshot(page, "corpus-loaded")

    page.get_by_text("필터", exact=True).filter(visible=True).first.click()  # a recipe other than the defaults
    min_chars = page.get_by_label("최소 글자 수").filter(visible=True).first
    fill_kept(page, min_chars, "12")  # the first field typed after an accordion opens (see conftest.fill_kept)
    min_chars.press("Tab")
    page.locator("#corpus-run").click()
    run = wait_for(lambda: (r := store.list_runs(stage="corpus")) and r[0], 20, what="a corpus run")
    wait_for(lambda: store.get_run(run.id).status in ("succeeded", "failed"), 120, what="the run to end")
    assert store.get_run(run.id).status == "succeeded", store.get_run(run.id).error
    assert store.get_run(run.id).config["filters"]["min_chars"] == 12
    out = store.get_run(run.id).summary["docs_out"]
    results = page.locator("#corpus-results")
    results.get_by_text(f"{out:,}").first.wait_for(timeout=20_000)
    assert "2,064" in results.inner_text()
    steps = page.locator("#corpus-steps")
    steps.get_by_text("필터: 길이").first.wait_for()
    assert steps.get_by_text("중복 제거: 유사 중복").filter(visible=True).count() >= 1
    clusters = page.locator("#corpus-clusters")
    clusters.locator(".corpus-kept").first.wait_for()
    assert clusters.locator(".corpus-dup").count() >= 1 and "남김" in clusters.locator(".corpus-kept").first.inner_text()
    page.locator("#corpus-examples table").first.wait_for()
    page.locator("#corpus-compare-counts").get_by_text("정제 후").first.wait_for()
    # ...and so does the run, before and after: the same 2,064 as the explorer (it once said 688)
    row = page.locator("#corpus-compare-counts tr", has_text=counted).inner_text()
    assert "2,064 (100%)" in row and f"{out:,} (100%)" in row, row
    page.locator("#corpus-compare-plot .main-svg").first.wait_for()
    # the job's counts (one batch: logged once or twice) are bars with their values, not lines over steps 1..2
    chart = page.locator(".wb-jobpanel").filter(visible=True).locator(".wb-metrics-plot")
    chart.locator(".barlayer .point").first.wait_for(timeout=15_000)
    assert chart.locator(".scatterlayer .trace path.js-line").count() == 0
    assert "2,064" in chart.locator(".barlayer").first.inner_html() or chart.get_by_text("2,064").count()
    screenshot(page, "corpus-results")

    page.locator("#corpus-save-name textarea").fill("헌법-의안")
    page.locator("#corpus-save").click()
    page.locator("#corpus-save-msg").get_by_text("헌법-의안").wait_for()
    art = store.get_artifact(kind="corpus", name="헌법-의안")
    assert art is not None and art.run == run.id
    assert sum(1 for _ in iter_corpus_texts(art.path)) + art.meta["splits"].get("validation", 0) == out
    page.locator("#corpus-save").click()  # again, same name: refused, the saved one untouched
    page.locator("#corpus-save-msg").get_by_text("이미 있습니다").wait_for()
    page.locator("#corpus-explore-art").click()
    page.locator("#corpus-explore-title").get_by_text("헌법-의안").wait_for()
    screenshot(page, "corpus-saved")

    page.locator("#wb-lang").get_by_text("English").click()  # every label and the results follow the language
    page.locator("#corpus-load-bundled").get_by_text("Load the bundled corpus").wait_for()
    page.locator("#corpus-results").get_by_text("backend: local").wait_for(timeout=15_000)
    page.locator("#corpus-steps").get_by_text("dedup: near (MinHash LSH)").first.wait_for()
    page.locator("#corpus-clusters").get_by_text("kept").first.wait_for()
    screenshot(page, "corpus-results-en")

    # a reload: the recipe form shows what the latest run used, not the defaults
    page.reload()
    page.get_by_role("tab", name="1. 말뭉치").click()
    page.get_by_text("필터", exact=True).filter(visible=True).first.click()
    min_chars = page.get_by_label("최소 글자 수").filter(visible=True).first
    wait_for(lambda: min_chars.input_value() == "12", 15, what="the recipe form restored from the run")


def test_gradio_upload_words_follow_the_ui_language(app_factory, browser, tmp_path):
    """Gradio writes "Drop File Here - or - Click to Upload" in the browser's language; here the browser is
    English and the UI Korean, then the UI switches to English and back."""
    app = app_factory(tmp_path / "ws")
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        open_tab(page, app)
        box = page.locator("#corpus-upload")
        wait_for(lambda: "파일을 여기에 드롭" in box.inner_text(), 15, what="gradio's upload words in Korean")
        assert "Drop File Here" not in box.inner_text()
        screenshot(page, "corpus-upload-ko-in-english-browser")
        page.locator("#wb-lang").get_by_text("English").click()
        wait_for(lambda: "Drop File Here" in box.inner_text(), 15, what="gradio's upload words in English")
        assert "Upload files" in box.inner_text()  # our label too
        page.locator("#wb-lang").get_by_text("한국어").click()
        wait_for(lambda: "파일을 여기에 드롭" in box.inner_text(), 15, what="back in Korean")
        # the box still works after being re-mounted: a file is accepted and loaded
        f = tmp_path / "a.txt"
        f.write_text("업로드 상자가 다시 그려진 뒤에도 파일을 받습니다\n두 번째 줄도 한국어 문장입니다\n", encoding="utf-8")
        box.locator("input[type=file]").set_input_files([str(f)])
        wait_for(lambda: "a" in box.inner_text() and ".txt" in box.inner_text(), 30, what="the upload listed")
        page.locator("#corpus-load").click()
        page.locator("#corpus-load-msg").get_by_text("2개를 불러왔습니다", exact=False).first.wait_for()
    finally:
        context.close()


def test_bad_inputs_get_clear_messages(app_factory, page, tmp_path):
    ws_path = tmp_path / "ws"
    r = run_cli("corpus", "--set", "name=earlier", workspace=ws_path)  # something saved before: must survive
    assert last_json(r.stdout)["ok"]
    app = app_factory(ws_path, extra_args=["--max-upload-mb", "1"])
    store = Workspace(ws_path).store
    open_tab(page, app)
    msg = page.locator("#corpus-load-msg")
    upload = page.locator("#corpus-upload input[type=file]")

    page.locator("#corpus-load").click()  # nothing chosen
    msg.get_by_text("먼저 파일을 올리거나").wait_for()

    previous: list = []

    def load(*files):
        clear = page.locator("#corpus-upload button[aria-label='지우기']")
        if clear.count():
            clear.first.click()
            # the file list is re-drawn empty before new files can be set
            wait_for(lambda: not any(f.stem in page.locator("#corpus-upload").inner_text() for f in previous), 30,
                     what="the upload box to be cleared")
        previous[:] = files
        upload.set_input_files([str(f) for f in files])
        # gradio draws a file's stem and extension in separate elements: wait on the stems
        wait_for(lambda: all(f.stem in page.locator("#corpus-upload").inner_text() for f in files), 30,
                 what="the uploads to be listed")
        page.locator("#corpus-load").click()

    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    load(empty)
    msg.get_by_text("빈 파일입니다").wait_for()
    msg.get_by_text("불러온 문서가 없습니다").wait_for()

    fake = tmp_path / "photo.txt"  # a binary file renamed .txt
    fake.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    mixed = tmp_path / "mixed.zip"
    with zipfile.ZipFile(mixed, "w") as zf:
        zf.writestr("utf8.txt", "유니코드로 저장한 한국어 문서입니다\n".encode("utf-8"))
        zf.writestr("euckr.txt", "완성형 EUC-KR로 저장한 한국어 문서입니다\n".encode("euc-kr"))
        zf.writestr("bom.jsonl", '{"text": "BOM이 붙은 JSON 줄 문서입니다"}\n'.encode("utf-8-sig"))
    load(fake, mixed)
    msg.get_by_text("3개를 불러왔습니다", exact=False).first.wait_for()
    text = msg.inner_text()
    assert "photo.txt" in text and "바이너리" in text and "CP949/EUC-KR" in text and "UTF-8 (BOM)" in text
    screenshot(page, "corpus-bad-files")

    big = tmp_path / "big.txt"
    big.write_bytes(("아주 큰 파일의 한 줄입니다\n" * 60_000).encode("utf-8"))  # ~2.3 MB > 1 MB limit
    page.locator("#corpus-upload button[aria-label='지우기']").first.click()
    upload.set_input_files([str(big)])
    toast = page.locator(".toast-body").filter(has_text="big.txt").first
    toast.wait_for()  # gradio refuses it before upload, naming the file and the limit
    assert "1.0 Mb" in toast.inner_text() or "1.0 MB" in toast.inner_text()
    page.get_by_text("업로드 한도: 파일당 1 MB").first.wait_for()  # and the tab says the limit in Korean
    screenshot(page, "corpus-too-large")
    assert not list((ws_path / "uploads").rglob("big.txt"))
    assert "3개를 불러왔습니다" in msg.inner_text()  # what was loaded before is still there

    english = tmp_path / "english.txt"
    english.write_text("an english line that is long enough\nanother english line that is long enough\n",
                       encoding="utf-8")
    page.reload()
    page.get_by_role("tab", name="1. 말뭉치").click()
    load(english)
    msg.get_by_text("2개를 불러왔습니다", exact=False).first.wait_for()
    first_run = last_json(r.stdout)["run_id"]
    page.locator("#corpus-run").click()
    run = wait_for(lambda: (rs := store.list_runs(stage="corpus")) and rs[0].id != first_run and rs[0], 20,
                   what="the second run")
    wait_for(lambda: store.get_run(run.id).status == "failed", 120, what="the run to fail")
    page.locator("#corpus-results").get_by_text("필터: 한글 비율").first.wait_for(timeout=20_000)
    assert "하나도 남기지 않았습니다" in page.locator("#corpus-results").inner_text()
    screenshot(page, "corpus-zero-left")
    assert store.get_artifact(kind="corpus", name="earlier") is not None
    assert [a.name for a in store.list_artifacts("corpus")] == ["earlier"]
