"""Fine-tune tab: pick a base model and task data, a method (full, LoRA, DoRA, WaveFT, QLoRA, ...), see how many
parameters it trains before anything runs, train as a job with the shared panel, then try a sentence on the result
next to its base (the adapter truly off) and merge an adapter into a plain model.

The tab only builds a FinetuneConfig and calls the engine (workbench/finetune): data.preview, model.count_trainable,
save.predict / save.answer, save.merge_and_save; training is `ctx.jobs.submit("finetune", cfg)` through launch().
"""
from __future__ import annotations

import html

import gradio as gr

from state.i18n import pick, say

from .components import AppContext, JobPanel, artifact_picker, refresh_picker, status_badge
from .forms import ConfigForm, field_texts
from .launch import build_config, error_markdown, launch
from .packed import on_form
from .plots import metrics_figure

T = {
    "intro": ("사전학습한 모델(또는 Hugging Face 모델 폴더)을 분류나 지시 따르기(SFT)에 맞게 미세조정합니다. 전체 학습, "
              "LoRA, DoRA, WaveFT, QLoRA 등 방법을 고르면 학습 전에 학습할 파라미터 수를 보여 주고, 학습은 별도 "
              "작업으로 돌며, 끝나면 문장을 넣어 기본 모델과 나란히 비교할 수 있습니다.",
              "Specialize a pretrained model (or a Hugging Face model folder) for classification or instruction "
              "following (SFT). Pick a method (full, LoRA, DoRA, WaveFT, QLoRA, ...): the tab shows how many "
              "parameters it trains before anything runs, training runs as a job, and afterwards you can try a "
              "sentence on the result next to its base."),
    "data_info": ("비우면 함께 든 팀 작성 예제(감정 분류 320개, 지시문 120개)를 씁니다",
                  "empty: the bundled team-written sample (320 sentiment reviews, 120 instructions)"),
    "preview": ("데이터 미리 보기", "Preview data"),
    "data_acc": ("데이터와 열", "Data and columns"),
    "method_acc": ("방법", "Method"),
    "train_acc": ("학습 설정", "Training settings"),
    "scale_acc": ("장치와 분산 실행", "Devices and multi-process"),
    "count": ("학습할 파라미터 세기", "Count trainable parameters"),
    "start": ("미세조정 시작", "Fine-tune"),
    "resume": ("이어서 학습", "Resume"),
    "try_h": ("### 써 보기", "### Try it"),
    "try_pick": ("미세조정 결과", "Fine-tuned result"),
    "try_text": ("문장", "Sentence"),
    "try_pair": ("두 번째 문장 (문장 쌍 과제)", "Second sentence (sentence-pair task)"),
    "try_btn": ("예측", "Predict"),
    "merge_btn": ("병합해 모델로 저장", "Merge and save as a model"),
    "merge_name": ("병합 모델 이름", "Merged model name"),
    "refresh": ("목록 새로 고침", "Refresh lists"),
    "tuned": ("미세조정", "fine-tuned"),
    "base_off": ("기본 모델 (어댑터 끔)", "base (adapter off)"),
    "need_base": ("기본 모델을 먼저 고르세요 (사전학습 탭에서 만들거나 폴더 경로를 쓰세요).",
                  "Pick a base model first (make one in the Pretrain tab, or give a folder path)."),
    "need_result": ("써 볼 미세조정 결과를 고르세요.", "Pick a fine-tuned result to try."),
    "layers_h": ("**기본 모델의 층** (고르면 대상 층과 학습할 파라미터 수가 바로 바뀝니다)",
                 "**Layers of the base model** (ticking them sets the target modules and recounts the trainable "
                 "parameters)"),
    "compare": ("방법 비교", "Compare methods"),
    "compare_intro": ("같은 데이터와 같은 예산으로 LoRA, DoRA, WaveFT, 전체 미세조정을 차례로 돌리고 (작업 4개가 "
                      "대기열에서 하나씩 돕니다), 끝난 실행을 표와 겹친 곡선으로 비교합니다. 설정은 위의 폼 그대로이고 "
                      "방법과 출력 이름(끝에 방법 이름)만 바뀝니다.",
                      "Run LoRA, DoRA, WaveFT and full fine-tuning on the same data and budget, one after another "
                      "(four jobs that the queue runs in turn), then compare the finished runs in a table and "
                      "overlaid curves. The settings are the form's above; only the method and the output name (the "
                      "method as a suffix) change."),
    "same_budget": ("같은 예산으로 4가지 방법 돌리기", "Run the four methods on the same budget"),
    "compare_runs": ("비교할 미세조정 실행 (비우면 최근 끝난 실행)", "Fine-tune runs to compare (empty: the latest finished)"),
    "compare_btn": ("비교", "Compare"),
    "no_runs": ("아직 끝난 미세조정 실행이 없습니다.", "No fine-tune run has finished yet."),
    "tick_one": ("층을 하나 이상 고르세요 (또는 대상 층에 all-linear 를 쓰세요).",
                 "Tick at least one layer (or write all-linear in Target modules)."),
}
GROUP_NAMES = {"attention": ("어텐션", "attention"), "mlp": ("MLP", "MLP"), "experts": ("전문가 (experts)", "experts"),
               "shared_expert": ("공유 전문가", "shared expert"), "router": ("라우터", "router"),
               "ssm": ("SSM (mixer)", "SSM (mixer)"), "other": ("기타", "other")}
COLUMN_NAMES = {
    "run": ("실행", "run"), "output": ("결과 이름", "output"), "method": ("방법", "method"), "status": ("상태", "status"),
    "trainable": ("학습 파라미터", "trainable"), "trainable_pct": ("학습 비율 %", "trainable %"),
    "steps": ("스텝", "steps"), "test_accuracy": ("시험 정확도", "test accuracy"),
    "test_macro_f1": ("시험 macro-F1", "test macro-F1"), "val_accuracy": ("검증 정확도", "val accuracy"),
    "val_macro_f1": ("검증 macro-F1", "val macro-F1"), "val_loss": ("검증 손실", "val loss"),
    "train_s": ("학습 시간 (초)", "train s"), "peak_rss_mb": ("최대 메모리 MB", "peak RSS MB"),
    "size_mb": ("디스크 MB", "on disk MB"),
}
SAME_BUDGET_QUEUED = say("Queued {n} runs, one per method: {runs}. {note} The table below fills as they finish.",
                         "방법마다 하나씩 {n}개 실행을 대기열에 넣었습니다: {runs}. {note} 끝나는 대로 아래 표에 "
                         "나옵니다.")
TRAINABLE = say("**Trainable: {t:,} of {n:,} parameters ({share:.2%})** · method {m} · {k} targeted layers{mods}",
                "**학습할 파라미터: {n:,}개 중 {t:,}개 ({share:.2%})** · 방법 {m} · 대상 층 {k}개{mods}")
MERGED = say("Saved the merged model '{name}' ({path}): the Chat and other tabs can use it.",
             "병합한 모델 '{name}' 을(를) 저장했습니다 ({path}). 채팅 등 다른 탭에서 쓸 수 있습니다.")

DATA_FIELDS = ["task", "data_config", "validation_data", "test_data", "val_fraction", "test_fraction", "max_rows",
               "max_eval_rows", "text_column", "text_pair_column", "label_column", "label_names", "prompt_column",
               "response_column", "messages_column", "system_prompt", "chat_template", "max_length"]
METHOD_FIELDS = ["method", "peft_type", "target_modules", "lora_rank", "lora_alpha", "lora_dropout",
                 "waveft_n_frequency", "waveft_scaling", "waveft_wavelet_family", "quant_type", "double_quant",
                 "peft_options", "gradient_checkpointing"]
TRAIN_FIELDS = ["output_name", "overwrite", "batch_size", "grad_accum", "max_steps", "epochs", "max_minutes", "lr",
                "schedule", "warmup_steps", "min_lr_ratio", "decay_fraction", "weight_decay", "grad_clip", "seed",
                "eval_every", "early_stopping", "monitor", "save_every", "sample_every", "sample_tokens"]
GROUPS = [["train/loss", "val/loss"], ["val/accuracy", "val/macro_f1"], ["val/bpb"], ["train/lr"],
          ["train/grad_norm"], ["train/tokens_per_s"], ["sys/peak_rss_mb"]]


def preview_markdown(res: dict, lang: str) -> str:
    splits = " · ".join(f"{k} {v:,}" for k, v in res["splits"].items())
    lines = [f"**{html.escape(pick(res['source'], lang))}** · {splits}",
             pick(("열: ", "columns: "), lang) + ", ".join(f"`{c}`" for c in res["columns"]),
             pick(("쓸 열: ", "used: "), lang) + ", ".join(f"{k} = `{v}`" for k, v in res["mapping"].items() if v)]
    if res.get("labels"):
        lines.append(pick(("클래스: ", "classes: "), lang)
                     + ", ".join(f"{html.escape(str(k))} {v:,}" for k, v in res["labels"].items()))
    for row in res["rows"][:3]:
        lines.append("- " + html.escape(" · ".join(f"{k}: {str(v)[:80]}" for k, v in row.items())))
    return "  \n".join(lines)


def trainable_markdown(res: dict, lang: str) -> str:
    if res.get("trainable") is None:
        return ""
    mods = ", ".join(res.get("target_modules") or [])
    return pick(TRAINABLE, lang).format(t=res["trainable"], n=res["total"], share=res["share"], m=res["method"],
                                        k=res["targeted_layers"], mods=f" ({mods})" if mods else "")


def _cell(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    return html.escape(str(v))


def comparison_html(rows: list[dict], lang: str) -> str:
    """The comparison table: one row per run, the best test (else validation) score in bold."""
    from workbench.finetune.compare import COLUMNS
    if not rows:
        return pick(T["no_runs"], lang)
    cols = [c for c in COLUMNS if any(r.get(c) is not None for r in rows)]
    key = next((k for k in ("test_accuracy", "val_accuracy") if k in cols), None)
    best = max((r[key] for r in rows if r.get(key) is not None), default=None) if key else None
    head = "".join(f"<th>{html.escape(pick(COLUMN_NAMES[c], lang))}</th>" for c in cols)
    def cell(r, c):
        if c == "status":
            return status_badge(r[c], lang)
        return f"<b>{_cell(r.get(c))}</b>" if c == key and r.get(c) == best else _cell(r.get(c))
    body = "".join("<tr>" + "".join(f"<td>{cell(r, c)}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table class='wb-compare'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def chosen_targets(values_by_group: list[list[str]]) -> str:
    """The target_modules text for the ticked boxes (each value may hold several comma-joined words)."""
    words = [w for vals in values_by_group for v in (vals or []) for w in v.split(",") if w]
    return ", ".join(dict.fromkeys(words))


def build(ctx: AppContext):
    from workbench.finetune.stage import FinetuneConfig  # light: no torch at import

    ui = ctx.ui
    ui.md(T["intro"])
    with gr.Row():
        base = artifact_picker(ctx, "model", **field_texts(FinetuneConfig.field_info("base_model")),
                              trainable=True, elem_id="ft-base")
        data = ui.reg(gr.Textbox(label=ui.text(FinetuneConfig.field_info("data").pair()), info=ui.text(T["data_info"]),
                                 elem_id="ft-data", scale=2),
                      label=FinetuneConfig.field_info("data").pair(), info=T["data_info"])
        preview_btn = ui.button(T["preview"], size="sm", scale=0, elem_id="ft-preview")
        refresh = ui.button(T["refresh"], size="sm", scale=0)
    preview_out = gr.Markdown(elem_id="ft-preview-out")
    with gr.Accordion(ui.text(T["data_acc"]), open=False) as acc_data:
        data_form = ConfigForm(ctx, FinetuneConfig, include=DATA_FIELDS, columns=4)
    ui.reg(acc_data, label=T["data_acc"])
    with gr.Accordion(ui.text(T["method_acc"]), open=True) as acc_method:
        method_form = ConfigForm(ctx, FinetuneConfig, include=METHOD_FIELDS, columns=4)
        layers_h = ui.md(T["layers_h"], visible=False)
        with gr.Row():
            layer_boxes = {g: ui.reg(gr.CheckboxGroup(choices=[], label=ui.text(GROUP_NAMES[g]), visible=False,
                                                      elem_id=f"ft-layers-{g}"), label=GROUP_NAMES[g])
                           for g in GROUP_NAMES}
    ui.reg(acc_method, label=T["method_acc"])
    with gr.Accordion(ui.text(T["train_acc"]), open=False) as acc_train:
        train_form = ConfigForm(ctx, FinetuneConfig, include=TRAIN_FIELDS, columns=4)
    ui.reg(acc_train, label=T["train_acc"])
    with gr.Accordion(ui.text(T["scale_acc"]), open=False) as acc_scale:
        scale_form = ConfigForm(ctx, FinetuneConfig, include=list(FinetuneConfig.COMPUTE_FIELDS), columns=4)
    ui.reg(acc_scale, label=T["scale_acc"])
    forms = [data_form, method_form, train_form, scale_form]
    with gr.Row():
        count_btn = ui.button(T["count"], elem_id="ft-count")
        start = ui.button(T["start"], variant="primary", elem_id="ft-start")
        resume = ui.button(T["resume"], elem_id="ft-resume")
    trainable = gr.Markdown(elem_id="ft-trainable")
    msg = gr.Markdown(elem_id="ft-msg")
    panel = JobPanel(ctx, "finetune", groups=GROUPS, samples=True)
    panel.restore(forms, pickers={"base_model": base}, widgets={"data": data})

    with gr.Accordion(ui.text(T["compare"]), open=False) as acc_cmp:
        ui.md(T["compare_intro"])
        with gr.Row():
            same_btn = ui.button(T["same_budget"], variant="secondary", scale=0, elem_id="ft-same-budget")
            cmp_runs = ui.reg(gr.Dropdown(choices=[], multiselect=True, label=ui.text(T["compare_runs"]), scale=3,
                                          elem_id="ft-compare-runs"), label=T["compare_runs"])
            cmp_btn = ui.button(T["compare_btn"], size="sm", scale=0, elem_id="ft-compare")
        same_msg = gr.Markdown(elem_id="ft-same-msg")
        cmp_table = gr.HTML(elem_id="ft-compare-table")
        cmp_plot = gr.Plot(elem_id="ft-compare-plot")
    ui.reg(acc_cmp, label=T["compare"])

    ui.md(T["try_h"])
    with gr.Row():
        result = artifact_picker(ctx, ["adapter", "model"], T["try_pick"], elem_id="ft-result", scale=2)
        text = ui.reg(gr.Textbox(label=ui.text(T["try_text"]), elem_id="ft-try-text", scale=3), label=T["try_text"])
        pair = ui.reg(gr.Textbox(label=ui.text(T["try_pair"]), elem_id="ft-try-pair", scale=2), label=T["try_pair"])
        try_btn = ui.button(T["try_btn"], variant="primary", scale=0, elem_id="ft-try")
    try_out = gr.Markdown(elem_id="ft-try-out")
    with gr.Row():
        merge_name = ui.reg(gr.Textbox(label=ui.text(T["merge_name"]), elem_id="ft-merge-name", scale=3),
                            label=T["merge_name"])
        merge_btn = ui.button(T["merge_btn"], scale=1, elem_id="ft-merge")
    merge_msg = gr.Markdown(elem_id="ft-merge-msg")

    components = [c for f in forms for c in f.components]
    sizes = [len(f.components) for f in forms]

    def make_cfg(base_id, data_ref, values):
        cfg = FinetuneConfig(base_model=base_id or "", data=data_ref or "")
        start_at = 0
        for form, n in zip(forms, sizes):
            cfg = form.to_config(values[start_at:start_at + n], base=cfg)
            start_at += n
        return cfg

    def on_start(lang, base_id, data_ref, *values):
        if not base_id:
            return gr.skip(), pick(T["need_base"], lang)
        return launch(ctx, "finetune", lambda: make_cfg(base_id, data_ref, values), lang).outputs()

    def on_resume(lang, run_id):
        run = panel.current(run_id)
        if run is None:
            return gr.skip(), ""
        return run.id, f"{run.id}: {pick(ctx.jobs.resume(run.id), lang)}"

    def on_count(lang, base_id, data_ref, *values):
        from workbench.errors import UserError
        from workbench.finetune.model import count_trainable
        cfg, problem = build_config(lambda: make_cfg(base_id, data_ref, values), lang)
        if cfg is None:
            return problem
        try:
            return trainable_markdown(count_trainable(cfg, ctx.ws), lang)
        except UserError as e:
            return error_markdown(e, lang)

    def on_preview(lang, data_ref, *values):
        from workbench.errors import UserError
        from workbench.finetune.data import preview
        d = dict(zip([fi.path for fi in data_form.infos], values))
        try:
            res = preview(data_ref or "", task=d["task"], data_config=d["data_config"], ws=ctx.ws,
                          text_column=d["text_column"], text_pair_column=d["text_pair_column"],
                          label_column=d["label_column"], prompt_column=d["prompt_column"],
                          response_column=d["response_column"], messages_column=d["messages_column"])
        except UserError as e:
            return error_markdown(e, lang)
        return preview_markdown(res, lang)

    inputs = [ui.lang_box, base, data, *components]
    on_form(start.click, on_start, inputs, [panel.run_id, msg])
    resume.click(on_resume, [ui.lang_box, panel.run_id], [panel.run_id, msg])
    on_form(count_btn.click, on_count, inputs, [trainable])

    # -- target layers as checkboxes, from the base model's own Linear layers ---------------------------------
    targets_box, method_box = method_form.widgets["target_modules"], method_form.widgets["method"]
    task_box = data_form.widgets["task"]
    boxes = list(layer_boxes.values())
    at_targets = components.index(targets_box)

    def on_layers(base_id, task, method, targets):
        """The base's layers as checkboxes grouped by kind, ticked as the target_modules field says."""
        from workbench.errors import UserError
        from workbench.finetune.model import target_choices
        hidden = [gr.update(visible=False)] * (len(boxes) + 1)
        if not base_id or method == "full":
            return hidden
        try:
            groups = target_choices(base_id, ctx.ws, task, (targets or "").split(","))
        except UserError:  # Count / Start say what is wrong with the base; the boxes stay hidden
            return hidden
        out = [gr.update(visible=True)]
        for g in layer_boxes:
            entries = groups.get(g) or []
            choices = [(f"{e['name']} ×{e['layers']} (" + ", ".join("×".join(map(str, sh)) for sh in e["shapes"])
                        + ")", e["value"]) for e in entries]
            out.append(gr.update(choices=choices, value=[e["value"] for e in entries if e["checked"]],
                                 visible=bool(entries)))
        return out

    def on_tick(lang, base_id, data_ref, *values):
        form_values, ticked = list(values[:len(components)]), values[len(components):]
        text = chosen_targets(ticked)
        if not text:
            return "", pick(T["tick_one"], lang)
        form_values[at_targets] = text
        return text, on_count(lang, base_id, data_ref, *form_values)

    layer_inputs = [base, task_box, method_box, targets_box]
    layer_outputs = [layers_h, *boxes]
    on_form(base.input(on_layers, layer_inputs, layer_outputs).then, on_count, inputs, [trainable])
    for w in (task_box, method_box):
        w.input(on_layers, layer_inputs, layer_outputs)
    targets_box.blur(on_layers, layer_inputs, layer_outputs)
    for box in boxes:
        on_form(box.input, on_tick, [*inputs, *boxes], [targets_box, trainable])

    # -- comparing methods --------------------------------------------------------------------------------------
    def run_choices():
        return [(" · ".join(str(x) for x in (r.id, (r.config or {}).get("output_name") or "",
                                              (r.config or {}).get("method", ""), r.status)), r.id)
                for r in ctx.store.list_runs("finetune", limit=50)]

    def on_compare(lang, run_ids):
        from workbench.finetune.compare import comparison_rows, curve_names
        rows = comparison_rows(ctx.store, run_ids or None)
        if not rows:
            return comparison_html([], lang), None
        panels = curve_names(rows)
        curves = {f"{r['run']} {r['method']}": ctx.store.metrics(r["run"], [n for g in panels for n in g])
                  for r in rows}
        return comparison_html(rows, lang), metrics_figure(curves, panels)

    def on_same_budget(lang, base_id, data_ref, *values):
        from workbench.finetune.compare import preset_note, same_budget_configs
        if not base_id:
            return gr.skip(), pick(T["need_base"], lang), gr.skip()
        cfg, problem = build_config(lambda: make_cfg(base_id, data_ref, values), lang)
        if cfg is None:
            return gr.skip(), problem, gr.skip()
        started, failed = [], []
        for c in same_budget_configs(cfg):
            res = launch(ctx, "finetune", lambda c=c: c, lang)
            if res.run_id:
                started.append((res.run_id, c.method))
            else:
                failed.append(f"- **{c.method}**: {res.message}")
        text = ""
        if started:
            text = pick(SAME_BUDGET_QUEUED, lang).format(n=len(started), runs=", ".join(f"{r} ({m})" for r, m in started),
                                                         note=pick(preset_note(cfg), lang))
        text = "\n\n".join(t for t in (text, "\n".join(failed)) if t)
        return ((started[0][0] if started else gr.skip()), text,
                gr.update(choices=run_choices(), value=[r for r, _ in started]) if started else gr.skip())

    cmp_btn.click(on_compare, [ui.lang_box, cmp_runs], [cmp_table, cmp_plot])
    # the table fills as the chosen runs end (the preset's four, one after another)
    cmp_seen, cmp_timer = gr.State(""), ui.timer(5.0)

    def on_cmp_tick(lang, run_ids, seen):
        if not run_ids:
            return gr.skip(), gr.skip(), seen
        key = "|".join(f"{r.id}:{r.status}" for r in (ctx.store.get_run(i) for i in run_ids) if r is not None)
        if key == seen:
            return gr.skip(), gr.skip(), seen
        return (*on_compare(lang, run_ids), key)

    cmp_timer.tick(on_cmp_tick, [ui.lang_box, cmp_runs, cmp_seen], [cmp_table, cmp_plot, cmp_seen],
                   show_progress="hidden", queue=False)
    on_form(same_btn.click, on_same_budget, inputs, [panel.run_id, same_msg, cmp_runs])
    acc_cmp.expand(lambda: gr.update(choices=run_choices()), None, [cmp_runs], queue=False)

    def table_again(lang, run_ids, shown):  # a table on screen is redrawn in the new language
        from workbench.finetune.compare import comparison_rows
        return comparison_html(comparison_rows(ctx.store, run_ids or None), lang) if shown else gr.skip()

    ui.on_language(table_again, [ui.lang_box, cmp_runs, cmp_table], [cmp_table])
    on_form(preview_btn.click, on_preview, [ui.lang_box, data, *data_form.components], [preview_out])

    def on_try(lang, ref, sentence, second):
        from workbench.errors import UserError
        from workbench.finetune import save
        if not ref:
            return pick(T["need_result"], lang)
        try:
            info = save.result_info(ref, ctx.ws)
            if info["task"] == "causal-lm":
                tuned, off = (save.answer(ref, [sentence], adapter=a, ws=ctx.ws)[0] for a in (True, False))
                return (f"**{pick(T['tuned'], lang)}**: {html.escape(tuned)}  \n"
                        f"**{pick(T['base_off'], lang)}**: {html.escape(off)}")
            pairs = [second] if second else None
            rows = [(pick(T["tuned"], lang), save.predict(ref, [sentence], pairs, ws=ctx.ws)[0])]
            if info["is_adapter"]:
                rows.append((pick(T["base_off"], lang), save.predict(ref, [sentence], pairs, adapter=False,
                                                                     ws=ctx.ws)[0]))
        except UserError as e:
            return error_markdown(e, lang)
        return "  \n".join(f"**{who}**: {html.escape(p['label'])} · "
                           + ", ".join(f"{html.escape(k)} {v:.1%}" for k, v in p["probs"].items()) for who, p in rows)

    try_btn.click(on_try, [ui.lang_box, result, text, pair], [try_out])
    text.submit(on_try, [ui.lang_box, result, text, pair], [try_out])

    def on_merge(lang, ref, name):
        from workbench.errors import UserError
        from workbench.finetune.save import merge_and_save
        if not ref:
            return pick(T["need_result"], lang), gr.skip()
        try:
            res = merge_and_save(ctx.ws, ref, name or "")
        except UserError as e:
            return error_markdown(e, lang), gr.skip()
        return pick(MERGED, lang).format(name=res["name"], path=res["path"]), refresh_picker(ctx, result, ref)

    merge_btn.click(on_merge, [ui.lang_box, result, merge_name], [merge_msg, result])

    def on_refresh(b, r):
        return refresh_picker(ctx, base, b), refresh_picker(ctx, result, r), gr.update(choices=run_choices())

    refresh.click(on_refresh, [base, result], [base, result, cmp_runs])
    # on opening: what other tabs made meanwhile, then the base's layers (a model built on the meta device)
    return on_refresh, [base, result], [base, result, cmp_runs], (on_layers, layer_inputs, layer_outputs)
