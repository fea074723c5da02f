"""Evaluate tab: score one or more models on a benchmark (a job: an `eval` artifact with every figure and the
predictions), compare models across evaluation runs in a table and charts, export the report as HTML or Markdown,
and try prompt templates side by side in the prompt lab.

The tab builds an EvalConfig and launches it (workbench/evaluate/run.py does the work); the prompt lab's single
question calls workbench.evaluate.lab.ask; the report comes from workbench.evaluate.report."""
from __future__ import annotations

import html
import time

import gradio as gr

from state.i18n import pick

from .components import AppContext, JobPanel, artifact_picker, refresh_picker
from .forms import ConfigForm, field_texts
from .launch import error_markdown, launch
from .packed import on_form

T = {
    "intro": ("프로젝트의 모델을 같은 벤치마크로 나란히 평가합니다: 분류기의 정확도와 F1, 언어 모델의 few-shot 로그우도 채점, "
              "유사도 점수, 퍼플렉서티와 바이트당 비트(토크나이저가 달라도 공정), 답변 생성 지표. 평가는 작업으로 돌고 결과는 "
              "eval 산출물(모든 수치와 예측)로 남으며, 아래에서 모델끼리 비교하고 보고서로 내보낼 수 있습니다.",
              "Score the project's models side by side on the same benchmark: classifier accuracy and F1, few-shot "
              "log-likelihood scoring of causal LMs, similarity scores, perplexity and bits per byte (fair across "
              "tokenizers), generation metrics. An evaluation runs as a job and leaves an eval artifact (every figure "
              "and prediction); compare models below and export the report."),
    "paths": ("또는 모델 폴더 (쉼표로 구분)", "or model folders (comma-separated)"),
    "run_acc": ("실행 설정", "Run settings"),
    "start": ("평가 시작", "Evaluate"),
    "refresh": ("목록 새로 고침", "Refresh lists"),
    "results_h": ("### 결과 비교", "### Compare results"),
    "reports": ("평가 결과 (eval 산출물, 비우면 최근 것들)", "Evaluation results (eval artifacts; empty: the latest)"),
    "compare": ("비교", "Compare"),
    "export_html": ("HTML 보고서 내보내기", "Export HTML report"),
    "export_md": ("Markdown 보고서 내보내기", "Export Markdown report"),
    "download": ("보고서 파일", "Report file"),
    "no_reports": ("아직 평가 결과가 없습니다. 위에서 평가를 돌리세요.", "No evaluation result yet: run one above."),
    "lab": ("프롬프트 실험실", "Prompt lab"),
    "lab_intro": ("한 질문을 여러 프롬프트 템플릿으로, 위에서 고른 모델마다 같은 설정과 시드로 물어 답을 나란히 봅니다. 템플릿 x "
                  "프롬프트 모음의 점수표는 '템플릿 채점' 작업으로 만듭니다 (위의 데이터가 프롬프트 모음).",
                  "Ask one question through several prompt templates, for each model picked above, with the same "
                  "settings and seed, and read the answers side by side. 'Score the templates' runs templates x a "
                  "prompt set as a job (the data above is the prompt set) and makes a table of scores."),
    "question": ("질문", "Question"),
    "templates": ("템플릿", "Templates"),
    "ask": ("물어보기", "Ask"),
    "batch": ("템플릿 채점 (작업)", "Score the templates (a job)"),
    "tpl_name": ("새 템플릿 이름", "New template name"),
    "tpl_text": ("템플릿 ({question} 자리)", "Template (with {question})"),
    "tpl_save": ("템플릿 저장", "Save template"),
    "tpl_delete": ("템플릿 지우기", "Delete template"),
    "need_models": ("평가할 모델을 하나 이상 고르세요 (없으면 사전학습·미세조정 탭에서 만드세요).",
                    "Pick at least one model to evaluate (make one in the Pretrain or Fine-tune tab)."),
    "answer": ("답변", "answer"),
    "tokens": ("토큰", "tokens"),
    "saved": ("템플릿 '{n}' 을(를) 저장했습니다.", "Saved template '{n}'."),
    "deleted": ("템플릿 '{n}' 을(를) 지웠습니다.", "Deleted template '{n}'."),
    "model_col": ("모델", "model"),
    "exported": ("보고서를 저장했습니다: {p} (아래에서 내려받기)", "Saved the report: {p} (download below)"),
}
MAIN_FIELDS = ["task", "benchmark", "data", "split", "max_rows", "text_column", "text_pair_column", "label_column",
               "label_names", "k_shot", "label_words", "fewshot_template", "prompt_column", "reference_column",
               "templates", "chat_mode", "system_prompt", "max_new_tokens", "temperature", "top_p", "judge_model",
               "data_config"]
RUN_FIELDS = ["output_name", "overwrite", "update_model_cards", "max_length", "batch_size", "seed", "device", "threads"]
LAB_FIELDS = ["max_new_tokens", "temperature", "top_p", "seed"]
GROUPS = [["eval/accuracy", "eval/macro_f1", "eval/acc_norm"], ["eval/pearson", "eval/spearman"], ["eval/bpb"],
          ["eval/ppl"], ["eval/chrf", "eval/bleu", "eval/rougeL"], ["eval/hangul_share"]]
MODEL_KINDS = ["model", "adapter", "quantized"]
CHARTED = {"accuracy", "acc_norm", "macro_f1", "pearson", "spearman", "bpb", "ppl", "chrf", "bleu", "rougeL",
           "judge_score", "hangul_share"}


def comparison_html(columns: list[str], rows: list[dict], lang: str) -> str:
    """One row per model, one column per benchmark · metric; the best of each column (two or more values) in bold."""
    from workbench.evaluate.report import best_in_column, fmt

    from .eval_plots import column_title
    if not rows:
        return pick(T["no_reports"], lang)
    best = {c: best_in_column(rows, c) if sum(r.get(c) is not None for r in rows) > 1 else None for c in columns}
    head = f"<th>{pick(T['model_col'], lang)}</th>" + "".join(f"<th>{html.escape(column_title(c, lang))}</th>"
                                                             for c in columns)
    body = ""
    for r in rows:
        cells = "".join(f"<td>{'<b>' + fmt(r.get(c)) + '</b>' if best[c] == r['model'] else fmt(r.get(c))}</td>"
                        for c in columns)
        body += f"<tr><td>{html.escape(r['model'])}</td>{cells}</tr>"
    return f"<table class='wb-compare' id='ev-compare-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def lab_html(answers: list[dict], lang: str) -> str:
    """Templates as rows, models as columns: each cell the answer with its length and time."""
    models = list(dict.fromkeys(a["model"] for a in answers))
    names = list(dict.fromkeys(a["template"] for a in answers))
    cell = {(a["model"], a["template"]): a for a in answers}
    head = "<th></th>" + "".join(f"<th>{html.escape(m)}</th>" for m in models)
    body = ""
    for n in names:
        tds = ""
        for m in models:
            a = cell.get((m, n))
            tds += ("<td></td>" if a is None else
                    f"<td><div class='wb-answer'>{html.escape(a['answer']) or '∅'}</div>"
                    f"<div class='wb-msg'>{a['chars']} chars · {a['tokens']} {pick(T['tokens'], lang)} · "
                    f"{a['seconds']:.2f} s</div></td>")
        body += f"<tr><th>{html.escape(n)}</th>{tds}</tr>"
    return f"<table class='wb-compare' id='ev-lab-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def build(ctx: AppContext):
    from workbench.evaluate.prompts import SEED_THREE, templates
    from workbench.evaluate.stage import EvalConfig

    ui = ctx.ui
    ui.md(T["intro"])
    with gr.Row():
        models = artifact_picker(ctx, MODEL_KINDS, **field_texts(EvalConfig.field_info("models")), multiselect=True,
                                 elem_id="ev-models", scale=3)
        paths = ui.reg(gr.Textbox(label=ui.text(T["paths"]), elem_id="ev-model-paths", scale=2), label=T["paths"])
        refresh = ui.button(T["refresh"], size="sm", scale=0)
    form = ConfigForm(ctx, EvalConfig, include=MAIN_FIELDS, columns=4)
    with gr.Accordion(ui.text(T["run_acc"]), open=False) as acc_run:
        run_form = ConfigForm(ctx, EvalConfig, include=RUN_FIELDS, columns=4)
    ui.reg(acc_run, label=T["run_acc"])
    start = ui.button(T["start"], variant="primary", elem_id="ev-start")
    msg = gr.Markdown(elem_id="ev-msg")
    panel = JobPanel(ctx, "eval", groups=GROUPS)
    panel.restore([form, run_form])

    ui.md(T["results_h"])
    with gr.Row():
        reports = artifact_picker(ctx, "eval", T["reports"], multiselect=True, elem_id="ev-reports", scale=4)
        compare = ui.button(T["compare"], size="sm", scale=0, elem_id="ev-compare")
        export_html = ui.button(T["export_html"], size="sm", scale=0, elem_id="ev-export-html")
        export_md = ui.button(T["export_md"], size="sm", scale=0, elem_id="ev-export-md")
    table = gr.HTML(elem_id="ev-table")
    plot = gr.Plot(elem_id="ev-plot")
    with gr.Row():
        confusion = gr.Plot(elem_id="ev-confusion", visible=False)
        calibration = gr.Plot(elem_id="ev-calibration", visible=False)
    export_msg = gr.Markdown(elem_id="ev-export-msg")
    download = ui.reg(gr.File(label=ui.text(T["download"]), interactive=False, elem_id="ev-download"),
                      label=T["download"])

    with gr.Accordion(ui.text(T["lab"]), open=False, elem_id="ev-lab") as acc_lab:
        ui.md(T["lab_intro"])
        with gr.Row():
            question = ui.reg(gr.Textbox(label=ui.text(T["question"]), lines=2, elem_id="ev-question", scale=3),
                              label=T["question"])
            tpl_box = ui.reg(gr.CheckboxGroup(choices=list(templates(ctx.ws)), value=list(SEED_THREE),
                                              label=ui.text(T["templates"]), elem_id="ev-templates", scale=3),
                             label=T["templates"])
        lab_form = ConfigForm(ctx, EvalConfig, include=LAB_FIELDS, columns=4)
        with gr.Row():
            ask = ui.button(T["ask"], variant="primary", scale=0, elem_id="ev-ask")
            batch = ui.button(T["batch"], scale=0, elem_id="ev-batch")
        lab_out = gr.HTML(elem_id="ev-lab-out")
        with gr.Row():
            tpl_name = ui.reg(gr.Textbox(label=ui.text(T["tpl_name"]), elem_id="ev-tpl-name", scale=1),
                              label=T["tpl_name"])
            tpl_text = ui.reg(gr.Textbox(label=ui.text(T["tpl_text"]), lines=2, elem_id="ev-tpl-text", scale=3),
                              label=T["tpl_text"])
            tpl_save = ui.button(T["tpl_save"], size="sm", scale=0, elem_id="ev-tpl-save")
            tpl_delete = ui.button(T["tpl_delete"], size="sm", scale=0, elem_id="ev-tpl-delete")
        tpl_msg = gr.Markdown(elem_id="ev-tpl-msg")
    ui.reg(acc_lab, label=T["lab"])

    n_main = len(form.components)

    def chosen_models(picked, more) -> list[str]:
        return [*(picked or []), *[p.strip() for p in (more or "").split(",") if p.strip()]]

    def make_cfg(picked, more, values, **extra):
        cfg = EvalConfig(models=chosen_models(picked, more))
        cfg = form.to_config(values[:n_main], base=cfg)
        return run_form.to_config(values[n_main:], base=cfg, **extra)

    def on_start(lang, picked, more, *values):
        if not chosen_models(picked, more):
            return gr.skip(), pick(T["need_models"], lang)
        return launch(ctx, "eval", lambda: make_cfg(picked, more, values), lang).outputs()

    on_form(start.click, on_start, [ui.lang_box, models, paths, *form.components, *run_form.components], [panel.run_id, msg])

    # -- results -------------------------------------------------------------------------------------------------
    def render(lang, refs):
        from workbench.evaluate.report import comparison, split_column
        from workbench.evaluate.run import read_reports

        from .eval_plots import calibration_figure, confusion_heatmap, metric_bars
        reps = read_reports(ctx.ws, refs or None)
        columns, rows = comparison(reps)
        hidden = gr.update(visible=False)
        if not rows:
            return comparison_html([], [], lang), None, hidden, hidden
        # the newest classification report draws its confusion matrix (first model) and every model's calibration
        cls = next((r for r in reversed(reps) if any(m.get("confusion") for m in r.get("models", []))), None)
        conf = cal = hidden
        if cls is not None:
            m0 = next(m for m in cls["models"] if m.get("confusion"))
            conf = gr.update(value=confusion_heatmap(m0["labels"], m0["confusion"],
                                                     f"{cls['benchmark']} · {m0['model']}", lang), visible=True)
            curves = {m["model"]: m["calibration"]["bins"] for m in cls["models"] if m.get("calibration")}
            if curves:
                cal = gr.update(value=calibration_figure(curves, lang), visible=True)
        # the chart draws each benchmark's headline figures; the table has them all
        drawn = [c for c in columns if split_column(c)[1] in CHARTED]
        return comparison_html(columns, rows, lang), metric_bars(drawn or columns, rows, lang), conf, cal

    compare.click(render, [ui.lang_box, reports], [table, plot, confusion, calibration])

    def export(lang, refs, kind):
        from workbench.evaluate.report import to_html, to_markdown
        from workbench.evaluate.run import read_reports
        reps = read_reports(ctx.ws, refs or None)
        if not reps:
            return pick(T["no_reports"], lang), None
        out = ctx.ws.root / "exports"
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"eval-report-{time.strftime('%Y%m%d-%H%M%S')}.{'html' if kind == 'html' else 'md'}"
        path.write_text(to_html(reps, lang) if kind == "html" else to_markdown(reps, lang), encoding="utf-8")
        return pick(T["exported"], lang).format(p=path), str(path)

    export_html.click(lambda lang, refs: export(lang, refs, "html"), [ui.lang_box, reports], [export_msg, download])
    export_md.click(lambda lang, refs: export(lang, refs, "md"), [ui.lang_box, reports], [export_msg, download])

    # a run that ends shows up in the comparison by itself (its eval artifact joins the chosen ones)
    seen, timer = gr.State(""), ui.timer(3.0)

    def on_tick(lang, run_id, refs, seen_key):
        run = panel.current(run_id)
        if run is None or run.status != "succeeded":
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), seen_key
        key = f"{run.id}:{run.status}"
        if key == seen_key:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), seen_key
        art = str((run.summary or {}).get("artifact") or "")
        refs = list(refs or [])
        if art and art not in refs:
            refs.append(art)
        picker = refresh_picker(ctx, reports, refs)
        return (picker, *render(lang, refs), key)

    timer.tick(on_tick, [ui.lang_box, panel.run_id, reports, seen], [reports, table, plot, confusion, calibration,
                                                                      seen], show_progress="hidden", queue=False)

    def again(lang, refs, shown):  # a table on screen is redrawn in the new language
        return render(lang, refs) if shown else (gr.skip(),) * 4

    ui.on_language(again, [ui.lang_box, reports, table], [table, plot, confusion, calibration])

    # -- prompt lab ---------------------------------------------------------------------------------------------------
    def on_ask(lang, picked, more, q, names, *values):
        from workbench.errors import UserError
        from workbench.evaluate.lab import ask as lab_ask
        from workbench.evaluate.prompts import resolve_templates
        d = dict(zip([fi.path for fi in lab_form.infos], values))
        try:
            answers = lab_ask(ctx.ws, chosen_models(picked, more), resolve_templates(ctx.ws, list(names or [])), q,
                              max_new_tokens=int(d["max_new_tokens"]), temperature=float(d["temperature"]),
                              top_p=float(d["top_p"]), seed=int(d["seed"]))
        except UserError as e:
            return error_markdown(e, lang)
        return lab_html(answers, lang)

    lab_inputs = [ui.lang_box, models, paths, question, tpl_box, *lab_form.components]
    on_form(ask.click, on_ask, lab_inputs, [lab_out])
    on_form(question.submit, on_ask, lab_inputs, [lab_out])

    def on_batch(lang, picked, more, names, *values):
        if not chosen_models(picked, more):
            return gr.skip(), pick(T["need_models"], lang)
        return launch(ctx, "eval", lambda: make_cfg(picked, more, values, task="prompts",
                                                    templates=list(names or [])), lang).outputs()

    on_form(batch.click, on_batch, [ui.lang_box, models, paths, tpl_box, *form.components, *run_form.components],
                [panel.run_id, msg])

    def on_save(lang, name, text, ticked):
        from workbench.errors import UserError
        from workbench.evaluate.prompts import save_template
        try:
            lib = save_template(ctx.ws, name or "", text or "")
        except UserError as e:
            return error_markdown(e, lang), gr.skip()
        return (pick(T["saved"], lang).format(n=name.strip()),
                gr.update(choices=list(lib), value=list(dict.fromkeys([*(ticked or []), name.strip()]))))

    def on_delete(lang, name, ticked):
        from workbench.errors import UserError
        from workbench.evaluate.prompts import delete_template
        try:
            lib = delete_template(ctx.ws, (name or "").strip())
        except UserError as e:
            return error_markdown(e, lang), gr.skip()
        return (pick(T["deleted"], lang).format(n=name.strip()),
                gr.update(choices=list(lib), value=[t for t in (ticked or []) if t in lib]))

    tpl_save.click(on_save, [ui.lang_box, tpl_name, tpl_text, tpl_box], [tpl_msg, tpl_box])
    tpl_delete.click(on_delete, [ui.lang_box, tpl_name, tpl_box], [tpl_msg, tpl_box])
    acc_lab.expand(lambda t: gr.update(choices=list(templates(ctx.ws)), value=t), [tpl_box], [tpl_box], queue=False)

    def on_refresh(m, r):
        return refresh_picker(ctx, models, m), refresh_picker(ctx, reports, r)

    refresh.click(on_refresh, [models, reports], [models, reports])
    return on_refresh, [models, reports], [models, reports]
