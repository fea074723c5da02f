"""Runs tab: every run of every stage; open one to see its config, metrics, outputs and log."""
from __future__ import annotations

import gradio as gr

from .i18n import tr
from .components import RUN_COLUMNS, AppContext, run_detail, runs_rows

T = {
    "intro": ("모든 단계의 실행이 여기에 모입니다. 행을 누르면 설정, 지표, 산출물, 로그를 볼 수 있습니다.",
              "Every run of every stage. Click a row to see its config, metrics, outputs and log."),
    "summary_log": ("결과 요약과 로그", "Summary and log"),
    "stop_sel": ("선택한 실행 중지", "Stop selected run"),
    "detail_h": ("### 선택한 실행", "### Selected run"),
}


def build(ctx: AppContext) -> None:
    ui = ctx.ui
    lang = ui.lang_box
    ui.md(T["intro"])
    table = ui.reg(gr.Dataframe(value=runs_rows(ctx.store, ui.lang), headers=RUN_COLUMNS, interactive=False,
                                label=ui.t("runs_table"), elem_id="wb-runs-table", max_height=360, wrap=True),
                   label="runs_table")
    with gr.Row():
        refresh = ui.reg(gr.Button(ui.t("refresh"), size="sm", scale=0), value="refresh")
        stop = ui.button(T["stop_sel"], size="sm", variant="stop", scale=0)
        note = gr.Markdown("")
    selected = gr.State(None)
    ui.md(T["detail_h"])
    header = gr.HTML(elem_id="wb-run-detail")
    with gr.Row():
        config = ui.reg(gr.Code(language="json", label=ui.t("config"), max_lines=20), label="config")
        with gr.Column():
            outputs = ui.reg(gr.Dataframe(headers=["kind", "name", "path"], label=ui.t("outputs"), interactive=False,
                                          elem_id="wb-run-outputs"),
                             label="outputs")
            summary_log = ui.reg(gr.Textbox(label=ui.text(T["summary_log"]), lines=10, max_lines=20,
                                            interactive=False), label=T["summary_log"])
    plot = ui.reg(gr.Plot(label=ui.t("metrics"), elem_id="wb-run-plot"), label="metrics")
    timer = gr.Timer(3.0)

    def on_select(evt: gr.SelectData, lang_value):
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        rows = runs_rows(ctx.store, lang_value)
        run_id = rows[row][0] if 0 <= row < len(rows) else None
        return (run_id, *run_detail(ctx, run_id, lang_value))

    detail_outputs = [header, config, plot, outputs, summary_log]
    table.select(on_select, [lang], [selected, *detail_outputs])
    refresh.click(lambda lg: runs_rows(ctx.store, lg), [lang], [table], queue=False)
    timer.tick(lambda lg: runs_rows(ctx.store, lg), [lang], [table], show_progress="hidden", queue=False)
    refresh.click(lambda rid, lg: run_detail(ctx, rid, lg), [selected, lang], detail_outputs)

    def do_stop(run_id, lang_value):
        if not run_id:
            return ""
        return tr("stop_sent", lang_value, what=ctx.jobs.stop(run_id))

    stop.click(do_stop, [selected, lang], [note], queue=False)
