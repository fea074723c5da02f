"""The language switch as a person uses it: every tab relabels to English and back, and messages the engine
produced (a failed run's error in the job panel, a refused setting) come in the chosen language."""
import importlib
import re
import time
T0=[time.time()]
def mark(m):
    print(f'{time.time()-T0[0]:7.1f} {m}', flush=True)

from conftest import last_json, run_cli, screenshot
from fixtures import make_corpus, make_tokenizer
from state import Workspace
from state.i18n import pick

# (tab module, Korean tab name, English tab name)
TABS = [("home_tab", "홈", "Home"), ("corpus_tab", "1. 말뭉치", "1. Corpus"),
        ("tokenizer_tab", "2. 토크나이저", "2. Tokenizer"),
        ("arch_tab", "3. 아키텍처", "3. Architecture"), ("pretrain_tab", "4. 사전학습", "4. Pretrain"),
        ("finetune_tab", "5. 미세조정", "5. Fine-tune"), ("evaluate_tab", "6. 평가", "6. Evaluate"), ("optimize_tab", "7. 최적화", "7. Optimize"),
        ("align_tab", "8. 정렬", "8. Align"), ("chat_tab", "9. 채팅", "9. Chat"),
        ("pipeline_tab", "10. 파이프라인", "10. Pipeline"), ("runs_tab", "실행 기록", "Runs")]


def intro(module: str, lang: str) -> str:
    """The first words of a tab's introduction (plain text: markdown marks removed)."""
    text = pick(importlib.import_module(f"tabs.{module}").T["intro"], lang)
    return re.sub(r"[*`_]", "", text)[:14]


def visit_every_tab(page, lang: str) -> None:
    for module, ko, en in TABS:
        page.get_by_role("tab", name=ko if lang == "ko" else en).click()
        page.get_by_text(intro(module, lang)).filter(visible=True).first.wait_for()
        mark(f'tab {module} {lang}')


def test_every_tab_and_engine_messages_follow_the_language(app_factory, page, tmp_path):
    ws = Workspace(tmp_path / "ws")
    make_tokenizer(ws, parents=[make_corpus(ws)])
    # A run the engine refuses after it started (the architecture's vocabulary does not match the tokenizer's).
    failed = run_cli("pretrain", "--set", "corpus=kolaw", "--set", "tokenizer=tiny-bpe", "--set", "arch.vocab_size=5",
                     "--set", "arch.depth=1", "--set", "max_steps=3", "--set", "warmup_steps=1", workspace=ws.root)
    assert last_json(failed.stdout)["status"] == "failed", failed.stderr[-2000:]
    mark('cli done')
    app = app_factory(ws.root)
    mark('app up')
    page.goto(app.url)
    mark('goto')
    visit_every_tab(page, "ko")

    def pretrain_panel(lang):
        page.get_by_role("tab", name="4. 사전학습" if lang == "ko" else "4. Pretrain").click()
        return page.locator(".wb-jobpanel").filter(visible=True).first.locator(".wb-error")

    def refused_setting(lang):
        """Warmup longer than the run: the form's values go through the config's validation."""
        warmup = page.get_by_label("워밍업 스텝" if lang == "ko" else "Warmup steps")
        if not warmup.is_visible():  # the accordion stays open once opened
            page.get_by_text("학습 설정" if lang == "ko" else "Training settings").filter(visible=True).first.click()
        warmup.fill("5000")
        page.locator("#pt-start").click()
        return page.locator("#pt-msg")

    error = pretrain_panel("ko")
    error.get_by_text("토크나이저의 토큰은").wait_for()  # the engine's error, in Korean
    msg = refused_setting("ko")
    mark('msg = refused_setting("ko")')
    msg.get_by_text("설정을 확인하세요").wait_for()
    assert "최대 스텝" in msg.inner_text() and "must be shorter" not in msg.inner_text()
    screenshot(page, "language-ko-pretrain")
    mark('screenshot(page, "language-ko-pretrain")')

    page.locator("#wb-lang").get_by_text("English").click()
    page.get_by_role("tab", name="1. Corpus").wait_for(timeout=90_000)
    mark('page.get_by_role("tab", name="1. Corpus"')
    visit_every_tab(page, "en")
    error = pretrain_panel("en")
    error.get_by_text("but the tokenizer has").wait_for()  # the same stored error, now in English
    assert not re.search("[가-힣]", error.inner_text())
    msg = refused_setting("en")
    mark('msg = refused_setting("en")')
    msg.get_by_text("Please fix the settings").wait_for()
    assert "must be shorter than max_steps" in msg.inner_text()
    screenshot(page, "language-en-pretrain")

    page.locator("#wb-lang").get_by_text("한국어").click()
    page.get_by_role("tab", name="1. 말뭉치").wait_for(timeout=90_000)
    mark('page.get_by_role("tab", name="1. 말뭉치").w')
    visit_every_tab(page, "ko")
    pretrain_panel("ko").get_by_text("토크나이저의 토큰은").wait_for()
    assert not ws.store.list_runs(stage="pretrain", status=("queued", "running")), "no refused setting started a run"
