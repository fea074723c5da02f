"""The Chat tab in headless Chromium with a tiny trained model: streaming, stats, stop, regenerate, clear,
long prompts, side by side, a broken model, two users at once, and the API on the same app."""
from __future__ import annotations

import json
import time
import re
import shutil
import urllib.request

import pytest

from chat_fixtures import publish_endless_model, publish_tiny_model, tiny_model_dir
from conftest import AppProcess, screenshot, wait_for


@pytest.fixture(scope="module")
def chat_app(tmp_path_factory):
    from state import Workspace
    root = tmp_path_factory.mktemp("chatapp") / "ws"
    ws = Workspace(root)
    tiny = tiny_model_dir()
    publish_tiny_model(ws, tiny, "tiny-chat", chat_model=True)
    staging = ws.staging_dir("model", "broken")
    shutil.copytree(tiny, staging, dirs_exist_ok=True)
    (staging / "model.safetensors").write_bytes(b"\x00\x01 damaged" * 50)
    ws.publish(staging, "model", "broken", meta={"chat_model": True})
    publish_endless_model(ws, tiny, "tiny-long")  # replies long enough to be stopped by a click
    publish_tiny_model(ws, tiny, "tiny-base", chat_model=False)  # newest: the picker's default
    app = AppProcess(root, extra_args=["--api"], env={"OMP_NUM_THREADS": "1", "WORKBENCH_CHAT_THREADS": "1"})
    app.start(120)
    yield app
    app.kill()


def open_chat(page, app):
    page.goto(app.url)
    page.get_by_role("tab", name="9. 채팅").click()
    page.locator("#chat-send").wait_for()


def choose(page, elem_id, name):
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=re.compile(re.escape(name) + " ")).first.click()


def bot_text(page, which="a"):
    return page.locator(f"#chat-bot-{which}").inner_text()


def wait_stats(page, count=1, which="a", word="토큰/초", timeout=60):
    wait_for(lambda: bot_text(page, which).count(word) >= count, timeout, what=f"{count} finished replies in {which}")


def set_setting(page, label, value):
    box = page.locator("#chat-settings").get_by_label(label, exact=True).first
    box.wait_for()
    for _ in range(3):  # a fill that lands while the accordion is still opening can be lost: check it took
        box.fill(str(value))
        box.press("Tab")
        time.sleep(0.3)
        if box.input_value() == str(value):
            return
    raise AssertionError(f"setting {label} to {value} did not take (shows {box.input_value()!r})")


def test_chat_streams_a_reply_with_stats_stop_regenerate_clear(chat_app, page):
    open_chat(page, chat_app)
    info = page.locator("#chat-model-info")
    info.get_by_text("tiny-base").first.wait_for()
    assert "이어쓰기" in info.inner_text()  # a base model: plain continuation, and the UI says so
    # empty message: a clear notice, nothing sent
    page.locator("#chat-send").click()
    page.locator("#chat-notice").get_by_text("메시지가 비어 있습니다").wait_for()
    # a long greedy continuation, watched as it streams
    page.locator("#chat-settings").click()
    set_setting(page, "최대 생성 토큰", 200)
    set_setting(page, "온도", 0)
    page.evaluate("""() => {
        window.__lens = [];
        const root = document.querySelector('#chat-bot-a');
        new MutationObserver(() => {
            const bots = root.querySelectorAll('.message.bot, [data-testid="bot"]');
            if (bots.length) window.__lens.push(bots[0].innerText.length);
        }).observe(root, {subtree: true, childList: true, characterData: true});
    }""")
    msg = page.locator("#chat-msg textarea")
    msg.fill("대한민국은")
    msg.press("Enter")
    wait_stats(page)
    lens = page.evaluate("window.__lens")
    assert len(set(lens)) >= 3, lens  # the reply grew on screen several times: it streamed
    text = bot_text(page)
    assert "대한민국은" in text and re.search(r"첫 토큰 \d+ ms · [\d.]+ 토큰/초 · \d+ 토큰 · 이어쓰기", text), text
    assert msg.input_value() == ""
    screenshot(page, "chat-streamed-ko")
    # copy: the reply's copy button puts the reply on the clipboard
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=chat_app.url)
    page.locator("#chat-bot-a button[aria-label='Copy message']").last.click()
    copied = page.evaluate("navigator.clipboard.readText()")
    reply = text.split("대한민국은", 1)[1].split("첫 토큰")[0].strip()
    assert reply[:20] and reply[:20] in copied, (copied[:200], reply[:50])
    # stop: a reply that would run for 8192 tokens (the most allowed; ~30 s here, a margin for a loaded machine)
    # ends early, marked as stopped
    choose(page, "chat-model-a", "tiny-long")
    set_setting(page, "최대 생성 토큰", 8192)
    msg.fill("국회는")
    page.locator("#chat-send").click()
    wait_for(lambda: bot_text(page).count("국회는") >= 1 and len(bot_text(page)) > len(text) + 10, 30,
             what="the second reply to start")
    # dispatched, not clicked: a click waits for the button to hold still over two frames, which a page busy
    # re-rendering the stream did not grant in 30 s on the loaded CI machine (a person's click lands at once)
    page.locator("#chat-stop").dispatch_event("click", timeout=60_000)
    wait_stats(page, 2)
    stats = re.findall(r"· (\d+) 토큰 ·", bot_text(page))
    assert "중지됨" in bot_text(page) and int(stats[-1]) < 8192, stats
    set_setting(page, "최대 생성 토큰", 100)
    # regenerate: the last reply is replaced, not added
    before = bot_text(page).count("토큰/초")
    page.locator("#chat-regen").click()
    page.locator("#chat-notice").get_by_text("생성 중").first.wait_for(state="detached", timeout=60_000) \
        if page.locator("#chat-notice").get_by_text("생성 중").count() else None
    wait_for(lambda: bot_text(page).count("토큰/초") == before and "중지됨" not in bot_text(page), 60,
             what="the regenerated reply")
    assert bot_text(page).count("국회는") == 1
    # a prompt longer than the context window: answered, with a notice that it was cut
    choose(page, "chat-model-a", "tiny-base")
    msg.fill("대한민국 헌법 제1조 " * 120)
    page.locator("#chat-send").click()
    page.locator("#chat-notice").get_by_text("앞부분이 잘림").wait_for(timeout=60_000)
    wait_stats(page, before + 1)
    screenshot(page, "chat-long-prompt-notice")
    # clear, then English
    page.locator("#chat-clear").click()
    wait_for(lambda: "토큰/초" not in bot_text(page), 10, what="an empty chat")
    page.locator("#wb-lang").get_by_text("English").click()
    page.locator("#chat-send").get_by_text("Send").wait_for()
    msg.fill("법률")
    msg.press("Enter")
    wait_stats(page, 1, word="tokens/s")
    assert "Continuation" in page.locator("#chat-model-info").inner_text()
    page.locator("#chat-mode").get_by_text("Chat template").wait_for()  # the mode choices speak English too
    screenshot(page, "chat-en")


def test_side_by_side_two_models_answer_the_same_message(chat_app, page):
    open_chat(page, chat_app)
    page.locator("#chat-side").get_by_text("두 모델 나란히 비교").click()
    page.locator("#chat-model-b").wait_for()
    choose(page, "chat-model-b", "tiny-chat")
    info = page.locator("#chat-model-info")
    wait_for(lambda: "tiny-chat" in info.inner_text(), 10, what="model B described")
    assert "채팅 템플릿" in info.inner_text() and "이어쓰기" in info.inner_text()
    msg = page.locator("#chat-msg textarea")
    msg.fill("국회의원의 임기는 몇 년인가요?")
    page.locator("#chat-send").click()
    wait_stats(page, 1, "a")
    wait_stats(page, 1, "b")
    a, b = bot_text(page, "a"), bot_text(page, "b")
    assert "이어쓰기" in a and "채팅 템플릿" in b  # each column in its own model's mode
    assert a.count("국회의원의 임기는") == 1 and b.count("국회의원의 임기는") == 1
    screenshot(page, "chat-side-by-side")


def pane_label(page, which="a"):
    return page.locator(f"#chat-bot-{which} [data-testid='block-label']").first.inner_text().strip()


def test_empty_reply_says_why_and_the_panes_are_named_after_their_models(chat_app, page):
    open_chat(page, chat_app)
    wait_for(lambda: pane_label(page) == "tiny-base", 10, what="the pane named after the picked model")
    # a weakly trained base model that ends at once (greedy, after a full stop): an empty reply, and why
    page.locator("#chat-settings").click()
    set_setting(page, "온도", 0)
    msg = page.locator("#chat-msg textarea")
    msg.fill("대한민국은 민주공화국이다.")
    page.locator("#chat-send").click()
    note = page.locator("#chat-notice")
    note.get_by_text("답이 비어 있습니다").wait_for(timeout=60_000)
    assert "끝 토큰" in note.inner_text() and "더 높은 온도" in note.inner_text()
    wait_stats(page)
    screenshot(page, "chat-empty-reply")
    # the panes follow the picks: one model, then side by side "A · name" and "B · name"
    choose(page, "chat-model-a", "tiny-chat")
    wait_for(lambda: pane_label(page) == "tiny-chat", 10, what="pane A renamed")
    page.locator("#chat-side").get_by_text("두 모델 나란히 비교").click()
    page.locator("#chat-model-b").wait_for()
    wait_for(lambda: pane_label(page) == "A · tiny-chat", 10, what="pane A as A")
    choose(page, "chat-model-b", "tiny-long")
    wait_for(lambda: pane_label(page, "b") == "B · tiny-long", 10, what="pane B named after model B")
    choose(page, "chat-model-b", "tiny-base")
    wait_for(lambda: pane_label(page, "b") == "B · tiny-base", 10, what="pane B renamed")
    page.locator("#wb-lang").get_by_text("English").click()  # names stay names in either language
    page.locator("#chat-send").get_by_text("Send").wait_for()
    time.sleep(1)
    assert (pane_label(page), pane_label(page, "b")) == ("A · tiny-chat", "B · tiny-base")
    screenshot(page, "chat-panes-named")


def test_broken_model_gets_a_clear_message_and_the_app_keeps_working(chat_app, page):
    open_chat(page, chat_app)
    choose(page, "chat-model-a", "broken")
    page.locator("#chat-model-info").get_by_text("손상").wait_for()  # said before anything is sent, in the UI's language
    msg = page.locator("#chat-msg textarea")
    msg.fill("안녕하세요")
    page.locator("#chat-send").click()
    note = page.locator("#chat-notice")
    note.get_by_text("답할 수 없습니다").wait_for(timeout=60_000)
    assert "model/broken" in note.inner_text() and "손상" in note.inner_text()
    assert msg.input_value() == "안녕하세요"  # the message is given back, nothing lost
    assert "안녕하세요" not in bot_text(page)
    screenshot(page, "chat-broken-model")
    choose(page, "chat-model-a", "tiny-chat")
    page.locator("#chat-send").click()
    wait_stats(page)
    assert "채팅 템플릿" in bot_text(page)


def test_two_users_chat_at_once_without_mixing_histories(chat_app, browser):
    pages = []
    for _ in range(2):
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ko-KR")
        pg = ctx.new_page()
        pg.set_default_timeout(30_000)
        open_chat(pg, chat_app)
        pages.append(pg)
    try:
        words = ["USER-ALPHA 의 질문", "USER-BRAVO 의 질문"]  # markers the model never writes
        for pg, w in zip(pages, words):
            choose(pg, "chat-model-a", "tiny-long")  # long replies, so that the two really overlap
            pg.locator("#chat-settings").click()
            set_setting(pg, "최대 생성 토큰", 8000)  # ~60 s at ~130 tokens/s: still running when stopped
            set_setting(pg, "온도", 0)
            pg.locator("#chat-msg textarea").fill(w)
            pg.evaluate("""() => {
                window.__engine = [];
                const el = document.querySelector('#chat-engine');
                new MutationObserver(() => window.__engine.push(el.innerText))
                    .observe(el, {subtree: true, childList: true, characterData: true});
            }""")
        for pg in pages:
            pg.locator("#chat-send").click()

        def both_generating():
            seen = pages[0].evaluate("window.__engine") + pages[1].evaluate("window.__engine")
            return any("생성 중 2/2" in s for s in seen)
        wait_for(both_generating, 60, what="both replies generating at once")
        for pg in pages:  # each user stops their own reply
            # A DOM click, not a pointer click: with two pages re-rendering streamed text on a loaded 2-core
            # machine, Playwright's scroll-into-view step starved for 30 s once (the Stop tests elsewhere
            # click it like a person; this test is about two users at once).
            pg.locator("#chat-stop").dispatch_event("click")
        for pg in pages:
            wait_stats(pg, timeout=60)
        for pg, mine, other in ((pages[0], *words), (pages[1], *reversed(words))):
            text = bot_text(pg)
            users = pg.locator("#chat-bot-a [data-testid='user']").all_inner_texts()
            assert [u.strip() for u in users] == [mine], users  # each sees exactly their own message
            assert other.split()[0] not in text and "중지됨" in text, text[-300:]
        # API request on the same app while both pages are open
        body = {"model": "tiny-chat", "messages": [{"role": "user", "content": "안녕"}], "max_tokens": 8, "seed": 1}
        req = urllib.request.Request(chat_app.url + "/v1/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            assert json.loads(r.read())["usage"]["completion_tokens"] > 0
        screenshot(pages[1], "chat-second-user")
    finally:
        for pg in pages:
            pg.context.close()
