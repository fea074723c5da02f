"""Korean LLM Workbench: `python app.py` serves the Gradio app (127.0.0.1:7860 by default).

Heavy libraries (torch, transformers, peft, trl) are imported only when a tab's
action needs them, so the first page is fast.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import os
import socket
import sys

# Lifecycle order. A stage tab is listed here only once it works; stage tabs are numbered by what is there.
TABS: list[tuple[str, tuple[str, str], bool]] = [  # (module, (ko, en), is a lifecycle stage)
    ("tabs.home_tab", ("홈", "Home"), False),
    ("tabs.corpus_tab", ("말뭉치", "Corpus"), True),
    ("tabs.tokenizer_tab", ("토크나이저", "Tokenizer"), True),
    ("tabs.arch_tab", ("아키텍처", "Architecture"), True),
    ("tabs.pretrain_tab", ("사전학습", "Pretrain"), True),
    ("tabs.finetune_tab", ("미세조정", "Fine-tune"), True),
    ("tabs.evaluate_tab", ("평가", "Evaluate"), True),
    ("tabs.optimize_tab", ("최적화", "Optimize"), True),
    ("tabs.align_tab", ("정렬", "Align"), True),
    ("tabs.chat_tab", ("채팅", "Chat"), True),
    ("tabs.pipeline_tab", ("파이프라인", "Pipeline"), True),
    ("tabs.runs_tab", ("실행 기록", "Runs"), False),
]

# Extra tabs from the environment, "module:Korean label:English label;..." (plugins, and test fixtures).
for _item in filter(None, os.environ.get("WORKBENCH_EXTRA_TABS", "").split(";")):
    _mod, _ko, _en = _item.split(":")
    TABS.insert(-1, (_mod, (_ko, _en), False))


CSS = """
.wb-badge {color: white; padding: 1px 8px; border-radius: 8px; font-size: 0.85em; margin: 0 4px;}
.wb-run progress {width: 60%; height: 14px; vertical-align: middle;}
.wb-error {white-space: pre-wrap; color: #b00; background: #fff4f4; padding: 6px; border-radius: 4px;
           max-height: 240px; overflow: auto; font-size: 0.85em;}
.wb-msg {color: #555; font-size: 0.9em;}
.wb-stopped, .wb-warn {color: #8a5a00; background: #fff8e6; padding: 6px; border-radius: 4px; font-size: 0.85em;}
.wb-queue {color: #555; font-size: 0.85em; margin-top: 4px;}
/* a job panel refreshes every 2 s: no "updating" frame or timer on its parts (they read as something running) */
.wb-jobpanel .generating, .wb-jobpanel .pending {border-color: transparent !important;}
.wb-metrics-plot {border: 1px solid var(--border-color-primary) !important;}
.wb-jobpanel .progress-text, .wb-jobpanel .eta-bar, .wb-jobpanel .timer, .wb-jobpanel .meta-text,
.wb-jobpanel .meta-text-center {display: none !important;}
.wb-tok {border-radius: 3px; padding: 1px 0; margin: 0 1px; line-height: 1.9;}
.wb-err {color: #b00;}
"""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Korean LLM Workbench (Gradio app)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=int(os.environ.get("WORKBENCH_PORT", 7860)))
    p.add_argument("--workspace", default=os.environ.get("WORKBENCH_WORKSPACE", "workspace"),
                   help="project workspace folder (default ./workspace)")
    p.add_argument("--auth", help="user:pass required to open the app")
    p.add_argument("--lang", choices=["ko", "en"], default="ko", help="UI language at start (default ko)")
    p.add_argument("--share", action="store_true", help="create a public gradio.live link (off by default)")
    p.add_argument("--api", action="store_true",
                   help="also serve an OpenAI-compatible /v1/chat/completions endpoint from the chat engine")
    p.add_argument("--max-upload-mb", type=int, default=200, help="largest file the browser may upload")
    return p.parse_args(argv)


def check_port(host: str, port: int) -> str | None:
    """A clear message if the port cannot be bound, before gradio starts (it would retry other ports)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return (f"port {port} on {host} is already in use (another workbench or program is running there). "
                        f"Stop it, or pick another port: python app.py --port {port + 1}")
            return f"cannot listen on {host}:{port}: {e.strerror}. Check --host and --port."
    return None


def exposure_warnings(args) -> list[str]:
    """What a person should know before the app listens beyond this machine."""
    out = []
    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.auth:
        out.append(f"--host {args.host} without --auth: anyone who can reach this machine on port {args.port} can use "
                   "the app" + (" and its API" if args.api else "") + " (start jobs, read every artifact, chat with every model). "
                   "Add --auth user:password, or bind --host 127.0.0.1.")
    if args.share and not args.auth:
        out.append("--share without --auth: the public link lets anyone use the app; add --auth user:password.")
    return out


def build_app(ctx):
    import gradio as gr

    from tabs.i18n import UI, pick
    from tabs.packed import gradio_default_wiring

    ui: UI = ctx.ui
    with gr.Blocks(title="Korean LLM Workbench") as demo:
        with gr.Row():
            with gr.Column(scale=5):
                ui.reg(gr.Markdown(ui.t("title")), value="title")
                ui.reg(gr.Markdown(ui.t("subtitle")), value="subtitle")
            with gr.Column(scale=1, min_width=160):
                ui.lang_box = gr.Radio([("한국어", "ko"), ("English", "en")], value=ui.lang, label=ui.t("language"),
                                       elem_id="wb-lang")
                ui.reg(ui.lang_box, label="language")
        with gr.Tabs():
            number, tabs, page_loads = 0, {}, {}
            for module, label, is_stage in TABS:
                try:
                    mod = importlib.import_module(module)
                except ModuleNotFoundError as e:
                    if e.name == module:
                        continue  # this stage's tab is not built yet
                    raise
                if is_stage:
                    number += 1
                    label = (f"{number}. {label[0]}", f"{number}. {label[1]}")
                ui.tab = module.split(".")[-1]
                ui.first_tab = ui.first_tab or ui.tab
                with gr.Tab(pick(label, ui.lang), id=ui.tab) as tab:
                    on_open = mod.build(ctx)
                tabs[ui.tab] = tab
                ui.reg(tab, label=label)
                page_loads[ui.tab] = tab.select
                if on_open:  # (fn, inputs, outputs[, then]): refresh pickers with what other tabs made meanwhile
                    # (no spinner: it is quick), then, queued, what may be slow to render
                    opened = tab.select(*on_open[:3], queue=False, show_progress="hidden")
                    for then in on_open[3:]:
                        opened.then(*then)
                    page_loads[ui.tab] = opened.then
        ui.wire_switch(tabs)
        ui.wire_timers(tabs)
        wire_page_loads(demo, ctx, page_loads, ui.first_tab)
        if not gradio_default_wiring():
            quiet_progress(demo, gr.HTML(visible=False, elem_id="wb-progress-sink"))
    return demo


def quiet_progress(demo, sink) -> None:
    """Point the progress tracking of every server event that shows no progress at one hidden component.

    Gradio's front end keeps a loading status for each output of every server event that has run in the page (and
    for each input), and on every later status message (each event sends several: pending, started, done; each
    timer tick does) it looks each of them up in the whole component tree and reads its props. Once every tab had
    been opened (~630 such widgets of ~1,190), a tab click cost 2-4 s of browser CPU on this 2-core machine, and
    the same before any click after the page had been open a while. An event with show_progress="hidden" shows
    nothing on its outputs anyway; with show_progress_on set to one hidden sink they all share one status entry."""
    for fn in demo.fns.values():
        if fn.fn is not None and fn.show_progress == "hidden" and fn.show_progress_on is None:
            fn.show_progress_on = [sink]


def wire_page_loads(demo, ctx, opened: dict, first_tab: str | None) -> None:
    """Forms show what the person last ran (a reload, a second browser): the first tab's loaders run when the page
    loads, every other tab's once per page, when it is first opened (after its pickers are refreshed, so the
    refresh does not put a picker back). All at page load, their ~330 outputs made gradio's front end walk its
    whole component tree for each of them on every later event (each timer tick): a slow machine's browser was
    then busy 90% of the time, idle, and a language switch took 20-30 s. opened: tab id -> how to attach an event
    to its opening (tab.select, or .then of its picker refresh)."""
    import gradio as gr

    from tabs.i18n import guarded

    done = gr.State({})  # loader number -> True once it ran in this page
    for i, (tab_id, fn, inputs, outputs) in enumerate(ctx.loaders):
        if tab_id == first_tab or tab_id not in opened:
            demo.load(fn, inputs, outputs, queue=False, show_progress="hidden")
        else:
            opened[tab_id](guarded(i, fn, len(outputs), by_lang=False), [done, *inputs], [*outputs, done],
                           queue=False, show_progress="hidden")


def main(argv=None) -> int:
    args = parse_args(argv)
    problem = check_port(args.host, args.port)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    auth = None
    if args.auth:
        if ":" not in args.auth:
            print("error: --auth must be user:pass", file=sys.stderr)
            return 2
        auth = tuple(args.auth.split(":", 1))

    from state import Workspace
    from tabs.components import AppContext
    from tabs.i18n import UI
    from workbench.jobs import JobManager
    from workbench.runtime import quiet_third_party

    quiet_third_party()
    # Event handlers run in threads. Two that import transformers for the first time at once (the Fine-tune tab's
    # layer list on opening and a Count click) can find its lazy top-level module half set up: "cannot import name
    # 'AutoConfig' from 'transformers'" in 5 of 14 tries of a two-thread probe, 0 of 14 with this import first. Its
    # top level costs ~0.7 s and loads no torch (the app stays light until a handler needs a model).
    import transformers  # noqa: F401
    ws = Workspace(args.workspace)
    jobs = JobManager(ws).start()
    ctx = AppContext(ws=ws, jobs=jobs, ui=UI(args.lang))
    ctx.args = args
    demo = build_app(ctx)
    demo.queue(default_concurrency_limit=4)
    import gradio as gr
    print(f"workspace: {ws.root}", file=sys.stderr)
    for line in exposure_warnings(args):
        print(f"warning: {line}", file=sys.stderr)
    # quiet: gradio's own start-up lines tell the person to "set share=True in launch()"; ours name the flags
    launch_kw = dict(server_name=args.host, server_port=args.port, auth=auth, share=args.share, quiet=True,
                     max_file_size=f"{args.max_upload_mb}mb", css=CSS, theme=gr.themes.Soft(),
                     allowed_paths=[str(ws.root)])
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    print(f"Korean LLM Workbench: http://{shown}:{args.port}"
          + ("" if args.share else "  (python app.py --share for a public link)"), file=sys.stderr, flush=True)
    if args.api:
        from tabs.chat_tab import mount_openai_api
        demo.launch(prevent_thread_lock=True, **launch_kw)
        mount_openai_api(demo, ctx)
        demo.block_thread()
    else:
        demo.launch(**launch_kw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
