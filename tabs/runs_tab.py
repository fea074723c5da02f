"""Runs tab: every run of every stage; open one to see its config, metrics, outputs and log."""
from __future__ import annotations

import json

import gradio as gr

from .components import AppContext, fmt_seconds, fmt_time, run_detail
from .i18n import pick, tr

T = {
    "intro": ("모든 단계의 실행이 여기에 모입니다. 행을 누르면 설정, 지표, 산출물, 로그를 볼 수 있습니다.",
              "Every run of every stage. Click a row to see its config, metrics, outputs and log."),
    "summary_log": ("결과 요약과 로그", "Summary and log"),
    "stop_sel": ("선택한 실행 중지", "Stop selected run"),
    "detail_h": ("### 선택한 실행", "### Selected run"),
    # the table's columns, in the order runs_rows fills them
    "cols": (["실행", "단계", "상태", "만든 시각", "걸린 시간", "진행", "이름 / 산출물"],
             ["Run", "Stage", "Status", "Created", "Duration", "Progress", "Name / outputs"]),
    "out_cols": (["종류", "이름", "경로"], ["Kind", "Name", "Path"]),
}

# Config fields that name an artifact (by id, name or path, always a string): a stage's `corpus`, `tokenizer`,
# `model`, `arch_artifact`, ... An id is shown with the artifact's name beside it.
REF_KINDS = ("corpus", "tokenizer", "arch", "model", "adapter", "quantized", "base_model")


def _is_ref_key(key: str) -> bool:
    k = key.rsplit(".", 1)[-1]
    return k in REF_KINDS or k.endswith("_artifact")


def artifact_label(art) -> str:
    return f"{art.name} (#{art.id})"


def produced(store) -> dict[str, list]:
    """Artifacts by the run that made them (one query for the whole table)."""
    out: dict[str, list] = {}
    for a in store.list_artifacts():
        if a.run:
            out.setdefault(a.run, []).append(a)
    return out


def run_name(run, made: list) -> str:
    """What the table's name column says: the run's own name, else the artifacts it produced."""
    if run.name:
        return run.name
    return ", ".join(artifact_label(a) for a in sorted(made, key=lambda a: a.id))


def runs_rows(store, lang: str) -> list[list]:
    made = produced(store)
    rows = []
    for r in store.list_runs(limit=500):
        f = r.fraction
        rows.append([r.id, r.stage, tr(r.status, lang), fmt_time(r.created), fmt_seconds(r.duration),
                     f"{f * 100:.0f}%" if f is not None else "", run_name(r, made.get(r.id, []))])
    return rows


def named_refs(store, config):
    """The run's config with each artifact id a field names shown as "name (#id)" (names and paths stay)."""
    def one(value):
        key = value.strip().lstrip("#") if isinstance(value, str) else ""
        if key.isdigit():  # a number (e.g. a width) is never an artifact reference: only a string id is
            art = store.get_artifact(int(key))
            if art is not None:
                return artifact_label(art)
        return value

    def walk(obj, path=""):
        if isinstance(obj, dict):
            return {k: walk(v, f"{path}.{k}" if path else k) for k, v in obj.items()}
        if path and _is_ref_key(path):
            return [one(v) for v in obj] if isinstance(obj, list) else one(obj)
        return obj

    return walk(config or {})


def table_update(store, lang: str):
    return gr.update(value=runs_rows(store, lang), headers=pick(T["cols"], lang))


def detail(ctx: AppContext, run_id: str | None, lang: str):
    header, config, fig, outputs, summary_log = run_detail(ctx, run_id, lang)
    run = ctx.store.get_run(run_id) if run_id else None
    if run is not None:
        config = json.dumps(named_refs(ctx.store, run.config), ensure_ascii=False, indent=2)
    return header, config, fig, gr.update(value=outputs, headers=pick(T["out_cols"], lang)), summary_log


def build(ctx: AppContext) -> None:
    ui = ctx.ui
    lang = ui.lang_box
    ui.md(T["intro"])
    table = ui.reg(gr.Dataframe(value=runs_rows(ctx.store, ui.lang), headers=pick(T["cols"], ui.lang),
                                interactive=False, label=ui.t("runs_table"), elem_id="wb-runs-table", max_height=360,
                                wrap=True),
                   label="runs_table")
    with gr.Row():
        refresh = ui.reg(gr.Button(ui.t("refresh"), size="sm", scale=0), value="refresh")
        stop = ui.button(T["stop_sel"], size="sm", variant="stop", scale=0)
        note = gr.Markdown("")
    selected = gr.State(None)
    ui.md(T["detail_h"])
    header = gr.HTML(elem_id="wb-run-detail")
    with gr.Row():
        config = ui.reg(gr.Code(language="json", label=ui.t("config"), max_lines=20, elem_id="wb-run-config"),
                        label="config")
        with gr.Column():
            outputs = ui.reg(gr.Dataframe(headers=pick(T["out_cols"], ui.lang), label=ui.t("outputs"),
                                          interactive=False, elem_id="wb-run-outputs"),
                             label="outputs")
            summary_log = ui.reg(gr.Textbox(label=ui.text(T["summary_log"]), lines=10, max_lines=20,
                                            interactive=False), label=T["summary_log"])
    plot = ui.reg(gr.Plot(label=ui.t("metrics"), elem_id="wb-run-plot"), label="metrics")
    timer = ui.timer(3.0)

    def on_select(evt: gr.SelectData, lang_value):
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        rows = runs_rows(ctx.store, lang_value)
        run_id = rows[row][0] if 0 <= row < len(rows) else None
        return (run_id, *detail(ctx, run_id, lang_value))

    detail_outputs = [header, config, plot, outputs, summary_log]
    table.select(on_select, [lang], [selected, *detail_outputs])
    # the table (headers included) is re-drawn in the person's language: on the timer, on Refresh, on a switch
    refresh.click(lambda lg: table_update(ctx.store, lg), [lang], [table], queue=False)
    timer.tick(lambda lg: table_update(ctx.store, lg), [lang], [table], show_progress="hidden", queue=False)
    refresh.click(lambda rid, lg: detail(ctx, rid, lg), [selected, lang], detail_outputs)
    def relabel(rid, lg):
        return table_update(ctx.store, lg), *(detail(ctx, rid, lg) if rid else [gr.skip()] * len(detail_outputs))

    ui.on_language(relabel, [selected, lang], [table, *detail_outputs], queue=False)

    def do_stop(run_id, lang_value):
        if not run_id:
            return ""
        return tr("stop_sent", lang_value, what=pick(ctx.jobs.stop(run_id), lang_value))  # a Text: both wordings

    stop.click(do_stop, [selected, lang], [note], queue=False)
