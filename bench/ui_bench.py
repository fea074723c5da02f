"""How fast the app feels in a browser (headless Chromium): app start to first paint, the language switch,
opening each tab (the first time, and again once every tab has been opened), and a job's first live-chart update;
first paint next to a bare Gradio Blocks app in the same run. Reopening tabs is measured after every tab was
opened, and again after every Start button was clicked once (refused: the workspace is empty), each as the app
runs and with gradio's default wiring, which tracks a loading status on every input and output of each server
event (WORKBENCH_UI_ALL_PROGRESS=1: no app.py quiet_progress, no tabs/packed.py). Prints one JSON line (medians
over --repeats; seconds).

    python bench/ui_bench.py [--repeats 3]

The job is the tests' "counter" stage (a tiny stage that logs a loss every step), so the figure is the UI's
latency from Start to a drawn curve, not any model's training speed.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BARE = """
import sys, gradio as gr
with gr.Blocks() as demo:
    gr.Markdown("bare gradio app")
demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]))
"""
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# (tab module, Korean name); the English name is the same with the English label
TABS = [("home_tab", "홈"), ("corpus_tab", "1. 말뭉치"), ("tokenizer_tab", "2. 토크나이저"), ("arch_tab", "3. 아키텍처"),
        ("pretrain_tab", "4. 사전학습"), ("finetune_tab", "5. 미세조정"), ("evaluate_tab", "6. 평가"), ("optimize_tab", "7. 최적화"), ("align_tab", "8. 정렬"), ("chat_tab", "9. 채팅"),
        ("pipeline_tab", "10. 파이프라인"), ("runs_tab", "실행 기록")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], port: int, env=None) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, **(env or {})))
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                return proc
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError(f"no answer from {cmd}")


def intro(module: str, lang: str) -> str:
    from state.i18n import pick
    return re.sub(r"[*`_]", "", pick(importlib.import_module(f"tabs.{module}").T["intro"], lang))[:14]


def first_paint(browser, cmd: list[str], port: int, visible_text: str, env=None) -> tuple[float, subprocess.Popen]:
    """From process start to the text being painted in the page."""
    t0 = time.perf_counter()
    proc = start(cmd, port, env)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"http://127.0.0.1:{port}/")
    page.get_by_text(visible_text).first.wait_for(timeout=120_000)
    return time.perf_counter() - t0, proc, page


def open_every_tab(page, lang: str = "ko") -> dict:
    """Seconds from a tab's click to its introduction being painted, per tab (Home last: the page opens on it)."""
    times = {}
    for module, name in TABS[1:] + TABS[:1]:
        t0 = time.perf_counter()
        page.get_by_role("tab", name=name).click()
        page.get_by_text(intro(module, lang)).filter(visible=True).first.wait_for()
        times[module] = time.perf_counter() - t0
    return times


# (tab module, button): every stage's Start (and the Fine-tune tab's Count)
STARTS = [("corpus_tab", "#corpus-run"), ("tokenizer_tab", "#tok-train"), ("arch_tab", "#arch-measure-btn"),
          ("pretrain_tab", "#pt-start"), ("finetune_tab", "#ft-count"), ("finetune_tab", "#ft-start"),
          ("evaluate_tab", "#ev-start"), ("optimize_tab", "#opt-start"), ("align_tab", "#al-start")]


def reopen_round(browser, tmp: str, i: int, all_progress: bool) -> dict:
    """Median seconds to open a tab again once every tab has been opened (and so every tab's events have run), and
    once every Start button has been clicked too."""
    port = free_port()
    env = {"WORKBENCH_UI_ALL_PROGRESS": "1"} if all_progress else {}
    _, proc, page = first_paint(
        browser, [sys.executable, "app.py", "--port", str(port), "--workspace", os.path.join(tmp, f"re{i}")], port,
        intro("home_tab", "ko"), env)
    try:
        open_every_tab(page)
        out = {"opened": statistics.median(open_every_tab(page).values())}
        for module, button in STARTS:
            page.get_by_role("tab", name=dict(TABS)[module]).click()
            page.locator(button).click()
            time.sleep(2)  # the refusal's message
        out["started"] = statistics.median(open_every_tab(page).values())
        return out
    finally:
        page.close()
        proc.terminate()
        proc.wait(15)


def one_round(browser, tmp: str, i: int) -> dict:
    out = {"reopen_tab_s": reopen_round(browser, tmp, i, False),
           "reopen_tab_all_progress_s": reopen_round(browser, tmp, i, True)}
    bare_py = Path(tmp) / "bare.py"
    bare_py.write_text(BARE)
    port = free_port()
    out["bare_first_paint_s"], proc, page = first_paint(browser, [sys.executable, str(bare_py), str(port)], port,
                                                        "bare gradio app")
    page.close()
    proc.terminate()
    proc.wait(10)

    port = free_port()
    env = {"WORKBENCH_EXTRA_TABS": "tests.counter_tab:카운터:Counter",
           "WORKBENCH_EXTRA_STAGES": "counter=tests.counter_stage"}
    out["first_paint_s"], proc, page = first_paint(
        browser, [sys.executable, "app.py", "--port", str(port), "--workspace", os.path.join(tmp, f"ws{i}")], port,
        intro("home_tab", "ko"), env)  # the page opens on Home
    try:
        out["open_tab_s"] = open_every_tab(page)  # first opening of each tab (its open hook refreshes pickers)
        for lang, radio, first_tab in (("en", "English", "1. Corpus"), ("ko", "한국어", "1. 말뭉치")):
            t0 = time.perf_counter()
            page.locator("#wb-lang").get_by_text(radio).click()
            page.get_by_role("tab", name=first_tab).wait_for(timeout=120_000)
            tabs_s = time.perf_counter() - t0
            # the body too: the open tab's introduction in the new language
            page.get_by_text(intro("home_tab", lang)).filter(visible=True).first.wait_for(timeout=120_000)
            out[f"switch_to_{lang}_s"] = {"tabs": tabs_s, "body": time.perf_counter() - t0}
        page.get_by_role("tab", name="카운터").click()
        page.get_by_label("단계 수").fill("200")
        page.get_by_label("단계 시간").fill("0.05")
        t0 = time.perf_counter()
        page.locator("#counter-start").click()
        panel = page.locator(".wb-jobpanel").filter(visible=True).first
        panel.locator(".wb-metrics-plot .scatterlayer .trace path.js-line").first.wait_for(timeout=120_000)
        out["start_to_first_chart_s"] = time.perf_counter() - t0
        panel.locator(".wb-stop").click()
    finally:
        page.close()
        proc.terminate()
        proc.wait(15)
    return out


def med(rounds: list[dict], *path) -> float:
    vals = []
    for r in rounds:
        v = r
        for p in path:
            v = v[p]
        vals.append(v)
    return round(statistics.median(vals), 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    rounds = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for i in range(args.repeats):
            rounds.append(one_round(browser, tmp, i))
        browser.close()
    first, bare = med(rounds, "first_paint_s"), med(rounds, "bare_first_paint_s")
    switch = max(med(rounds, "switch_to_en_s", "body"), med(rounds, "switch_to_ko_s", "body"))
    print(json.dumps({
        "bench": "ui", "repeats": args.repeats, "load_1min": round(os.getloadavg()[0], 2),
        "first_paint_s": first, "bare_gradio_first_paint_s": bare, "first_paint_ratio": round(first / bare, 3),
        "switch_to_en_s": {k: med(rounds, "switch_to_en_s", k) for k in ("tabs", "body")},
        "switch_to_ko_s": {k: med(rounds, "switch_to_ko_s", k) for k in ("tabs", "body")},
        "language_switch_s": switch, "language_switch_target_s": 2.0,
        "open_tab_s": {m: med(rounds, "open_tab_s", m) for m, _ in TABS[1:]},
        "reopen_tab_median_s": {k: med(rounds, "reopen_tab_s", k) for k in ("opened", "started")},
        "reopen_tab_gradio_default_median_s": {k: med(rounds, "reopen_tab_all_progress_s", k)
                                               for k in ("opened", "started")},
        "reopen_speedup": {k: round(med(rounds, "reopen_tab_all_progress_s", k) / med(rounds, "reopen_tab_s", k), 2)
                           for k in ("opened", "started")},
        "start_to_first_chart_s": med(rounds, "start_to_first_chart_s"),
    }))


if __name__ == "__main__":
    main()
