"""Export and share as a person uses them in the Pipeline tab: corpus -> tokenizer -> model made beforehand; pick the
tokenizer, export it as .tar.gz and get the download with its card; an artifact whose files are gone is refused with
nothing changed; a push without a token says what is missing."""
import re
import shutil
import tarfile
from pathlib import Path

from conftest import screenshot
from fixtures import make_corpus, make_tokenizer, publish_tiny_llama
from state import Workspace


def pick_share(page, name):
    page.locator("#pipe-share-artifact input").click()
    page.get_by_role("option", name=re.compile(re.escape(name))).first.click()


def test_export_tar_gz_missing_files_refused_push_without_token(app_factory, page, tmp_path,
                                                                              monkeypatch):
    ws = Workspace(tmp_path / "ws")
    corpus = make_corpus(ws)
    tok = make_tokenizer(ws, parents=[corpus])
    gone = publish_tiny_llama(ws, name="gone-tiny", tokenizer_id=tok)
    gone_dir = Path(ws.store.get_artifact(gone).path)
    shutil.rmtree(gone_dir)  # its folder deleted by hand: the store still lists it
    monkeypatch.delenv("HF_TOKEN", raising=False)
    app = app_factory(ws.root, env={"HF_TOKEN": ""})
    page.set_default_timeout(120_000)  # other jobs on a 2-core machine can slow every click to tens of seconds
    page.goto(app.url)
    page.get_by_role("tab", name="10. 파이프라인").click()

    # the tokenizer as .tar.gz: the download holds its files and a card naming the corpus it was trained on
    pick_share(page, "tiny-bpe")
    page.locator("#pipe-format").get_by_text("tar.gz").click()
    page.locator("#pipe-export").click()
    page.locator("#pipe-export-msg").get_by_text(re.compile(r"tokenizer-tiny-bpe-.*\.tar\.gz")).first.wait_for()
    archives = list((ws.root / "exports").glob("tokenizer-tiny-bpe-*.tar.gz"))
    assert len(archives) == 1
    # the download: gradio shows the name in pieces (stem and extension), so its link is what is checked
    page.locator("#pipe-archive a").first.wait_for()
    assert archives[0].name in (page.locator("#pipe-archive a").first.get_attribute("href") or "")
    with tarfile.open(archives[0]) as t:
        names = t.getnames()
        card = t.extractfile("tiny-bpe/README.md").read().decode()
    assert "tiny-bpe/tokenizer.json" in names
    assert "## Lineage" in card and "kolaw" in card
    page.locator("#pipe-card-box").get_by_text("모델 카드").click()
    page.locator("#pipe-card").get_by_text("Lineage (계보)").first.wait_for()
    screenshot(page, "share-export-tar")

    # a model whose folder is gone: refused, naming what is missing; no archive, nothing recreated
    pick_share(page, "gone-tiny")
    page.locator("#pipe-export").click()
    page.locator("#pipe-export-msg").get_by_text("파일이").first.wait_for()
    assert "gone-tiny" in page.locator("#pipe-export-msg").inner_text()
    assert not list((ws.root / "exports").glob("model-gone-tiny-*")) and not gone_dir.exists()
    screenshot(page, "share-export-missing")

    # a push without a token is refused before any work, in the person's language
    pick_share(page, "tiny-bpe")
    page.locator("#pipe-repo").locator("textarea, input").first.fill("me/tiny-bpe")
    page.locator("#pipe-push").click()
    page.locator("#pipe-push-msg").get_by_text("토큰이 없습니다").wait_for()
    assert not ws.store.list_runs(stage="push")
    assert Path(ws.store.get_artifact(tok).path, "tokenizer.json").is_file()
    screenshot(page, "share-push-no-token")

