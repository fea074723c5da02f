"""The Pipeline tab's "Run the chain" section: the PipelineConfig form (preset, name, steps, per-step overrides), Start
and Resume through launch(), the shared job panel, and the steps table: every step of the plan with its status
(waiting, running with its own progress, succeeded, reused, failed, stopped), its run, its artifact, its time and key
figure, read from the store (the pipeline run's events and its child runs). UI only: the chain runs in
workbench/pipeline."""
from __future__ import annotations

import html

import gradio as gr

from state.i18n import pick

from .components import AppContext, JobPanel, status_badge
from .forms import ConfigForm
from .launch import launch
from .packed import on_form

T = {
    "h": ("### 전체 과정 한 번에 돌리기", "### Run the whole chain"),
    "intro": ("말뭉치 → 토크나이저 → 사전학습 → SFT → 정렬 → 최적화 → 평가 → 채팅 확인을 단계마다 별도 실행으로 차례로 돌립니다. "
              "설정과 입력이 바뀌지 않은 단계는 다시 쓰고, 멈춘 단계는 이어서 돌립니다. demo 프리셋은 함께 든 데이터로 2코어 "
              "CPU 에서 몇 분이면 끝나고, 마지막 모델은 채팅 탭에서 바로 쓸 수 있습니다.",
              "Corpus -> tokenizer -> pretrain -> SFT -> align -> optimize -> evaluate -> a chat check, each step a run "
              "of its own, one after another. Steps whose config and inputs did not change are reused; a stopped step "
              "is resumed. The demo preset uses the bundled data and takes minutes on a 2-core CPU; its last model "
              "is ready in the Chat tab."),
    "start": ("파이프라인 시작", "Run the pipeline"),
    "resume": ("이어서 돌리기", "Resume"),
    "none": ("아직 파이프라인 실행이 없습니다.", "No pipeline run yet."),
    "step": ("단계", "step"), "stage": ("스테이지", "stage"), "status": ("상태", "status"), "run": ("실행", "run"),
    "artifact": ("산출물", "artifact"), "seconds": ("초", "s"), "figure": ("핵심 수치", "key figure"),
    "waiting": ("대기", "waiting"), "reply": ("채팅 확인 답", "chat check reply"),
}
STATUS_KO = {"waiting": ("대기", "waiting"), "reused": ("다시 씀", "reused"), "skipped": ("건너뜀", "skipped")}


def steps_html(store, run, lang: str) -> str:
    """The plan's steps with what each has done so far."""
    if run is None:
        return pick(T["none"], lang)
    plan = store.events(run.id, "plan", limit=1)
    if not plan:
        return ""
    done = {}
    for e in store.events(run.id, "step", limit=200):
        done[e["payload"]["step"]] = e["payload"]
    children = {r.id: r for r in store.list_runs(limit=500) if r.parent_run == run.id}
    head = "".join(f"<th>{html.escape(pick(T[c], lang))}</th>" for c in ("step", "stage", "status", "run", "artifact",
                                                                         "seconds", "figure"))
    rows, reply = [], None
    for s in plan[0]["payload"]["steps"]:
        rec = done.get(s["step"], {})
        status = rec.get("status", "waiting")
        child = children.get(rec.get("run_id"))
        if child is not None and status == "running":
            status = child.status
        badge = (f"<span class='wb-badge' style='background:#888'>{html.escape(pick(STATUS_KO[status], lang))}</span>"
                 if status in STATUS_KO else status_badge(status, lang))
        extra = ""
        if child is not None and child.status == "running" and child.progress_msg:
            extra = f" <span class='wb-msg'>{html.escape(pick(child.progress_msg, lang))}</span>"
        fig = rec.get("figure") or {}
        figure = f"{fig['name']} {fig['value']:.4g}" if fig else "–"
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in (
            html.escape(s["step"]), html.escape(s["stage"]), badge + extra, html.escape(rec.get("run_id") or "–"),
            html.escape(rec.get("artifact") or s.get("output") or "–"),
            f"{rec['seconds']:.1f}" if rec.get("seconds") is not None else "–", html.escape(figure))) + "</tr>")
        reply = rec.get("reply", reply)
    out = f"<table class='wb-compare' id='pl-steps'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    if reply is not None:
        out += f"<p><b>{html.escape(pick(T['reply'], lang))}</b>: {html.escape(reply) or '–'}</p>"
    return out


def build_runner(ctx: AppContext):
    from workbench.pipeline.stage import PipelineConfig  # light: no torch at import

    ui = ctx.ui
    ui.md(T["h"])
    ui.md(T["intro"])
    form = ConfigForm(ctx, PipelineConfig, columns=4)
    with gr.Row():
        start = ui.button(T["start"], variant="primary", elem_id="pl-start")
        resume = ui.button(T["resume"], elem_id="pl-resume")
    msg = gr.Markdown(elem_id="pl-msg")
    panel = JobPanel(ctx, "pipeline", groups=[["pipeline/step_seconds"]])
    panel.restore([form])
    table = gr.HTML(elem_id="pl-steps-view")

    def on_start(lang, *values):
        return launch(ctx, "pipeline", lambda: form.to_config(values), lang).outputs()

    def on_resume(lang, run_id):
        run = panel.current(run_id)
        if run is None:
            return gr.skip(), ""
        return run.id, f"{run.id}: {pick(ctx.jobs.resume(run.id), lang)}"

    on_form(start.click, on_start, [ui.lang_box, *form.components], [panel.run_id, msg])
    resume.click(on_resume, [ui.lang_box, panel.run_id], [panel.run_id, msg])
    seen, timer = gr.State(""), ui.timer(2.0)

    def on_tick(lang, run_id, last):
        run = panel.current(run_id)
        text = steps_html(ctx.store, run, lang)
        if text == last:
            return gr.skip(), last
        return text, text

    timer.tick(on_tick, [ui.lang_box, panel.run_id, seen], [table, seen], show_progress="hidden", queue=False)
    ui.on_language(lambda lang, run_id: steps_html(ctx.store, panel.current(run_id), lang), [ui.lang_box, panel.run_id],
                   [table])
