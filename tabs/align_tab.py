"""Align tab: pick a chat model (pretrained, SFT-tuned) and preference pairs, train with DPO (or KTO) as a job with the
shared panel (loss, rewards of the chosen and rejected answers, their margin and accuracy, log-probabilities and the
log-ratio to the reference, live), then read the reference's and the aligned model's answers side by side; and
collect preference pairs by hand: two sampled answers, pick the better (or write a better one), edit, delete.

The tab only builds an AlignConfig and calls the engine (workbench/align): training is a job through launch();
feedback.sample_two / add_pair / update_pair / delete_pair / list_pairs run in-process."""
from __future__ import annotations

import html

import gradio as gr

from state.i18n import pick, say

from .components import AppContext, JobPanel, artifact_picker, refresh_picker
from .forms import ConfigForm, field_texts
from .launch import error_markdown, launch
from .packed import on_form

T = {
    "intro": ("모델이 더 나은 답을 고르도록 선호 쌍(프롬프트, 좋은 답, 나쁜 답)으로 정렬합니다 (DPO). 학습 중에는 좋은 답과 "
              "나쁜 답의 보상, 그 차이(마진)와 정확도가 실시간으로 그려지고, 끝나면 기준 모델과 정렬한 모델의 답을 "
              "나란히 봅니다. 아래에서 두 답 중 더 나은 것을 골라 직접 선호 데이터를 모을 수도 있습니다.",
              "Align a model to prefer better answers with preference pairs (prompt, chosen, rejected) and DPO. While "
              "it trains, the rewards of the chosen and rejected answers, their margin and accuracy are drawn live; "
              "afterwards the reference's and the aligned model's answers stand side by side. Below, you can collect "
              "your own preference pairs by picking the better of two answers."),
    "data_info": ("비우면 함께 든 팀 작성 예제 64쌍 · 아래에서 모은 데이터셋 이름도 됩니다",
                  "empty: the bundled team-written sample (64 pairs) · or the name of a dataset collected below"),
    "preview": ("데이터 미리 보기", "Preview data"),
    "refresh": ("목록 새로 고침", "Refresh lists"),
    "data_acc": ("데이터와 열", "Data and columns"),
    "method_acc": ("목표와 방법", "Objective and method"),
    "train_acc": ("학습 설정", "Training settings"),
    "scale_acc": ("장치와 분산 실행", "Devices and multi-process"),
    "start": ("정렬 시작", "Align"),
    "resume": ("이어서 학습", "Resume"),
    "need_policy": ("정렬할 모델을 먼저 고르세요 (사전학습·미세조정 탭에서 만들거나 폴더 경로를 쓰세요).",
                    "Pick a model to align first (make one in the Pretrain or Fine-tune tab, or give a folder path)."),
    "ba_h": ("### 전과 후", "### Before and after"),
    "ba_info": ("선택한 실행이 끝나면 채워집니다: 떼어 둔 시험 쌍의 점수와, 같은 프롬프트에 대한 기준 모델과 정렬한 모델의 답 "
                "(보상 = beta × (정렬 모델 로그확률 − 기준 모델 로그확률): 정렬한 모델이 그 답을 기준 모델보다 얼마나 더 "
                "좋아하는지).",
                "Filled when the shown run ends: the held-out test pairs' figures, and the reference's and the aligned "
                "model's answers to the same prompts (reward = beta × (log p aligned − log p reference): how much more "
                "the aligned model likes that answer than the reference does)."),
    "fb_h": ("### 선호 모으기 (사람 피드백)", "### Collect preferences (human feedback)"),
    "fb_info": ("프롬프트를 쓰고 두 답을 뽑은 뒤, 더 나은 쪽을 고르세요. 답을 고쳐 쓰면 직접 쓴 더 나은 답으로 저장됩니다. 모은 "
                "쌍은 데이터셋 산출물이 되어 위에서 바로 학습할 수 있습니다.",
                "Write a prompt, sample two answers, and pick the better one. Edit an answer to save your own, better "
                "answer instead. The pairs become a dataset artifact that the form above trains on."),
    "fb_model": ("답할 모델", "Model that answers"),
    "fb_prompt": ("프롬프트", "Prompt"),
    "fb_sample": ("두 답 뽑기", "Sample two answers"),
    "fb_a": ("답 A", "Answer A"),
    "fb_b": ("답 B", "Answer B"),
    "fb_pick_a": ("A 가 더 낫다", "A is better"),
    "fb_pick_b": ("B 가 더 낫다", "B is better"),
    "fb_dataset": ("저장할 데이터셋 이름", "Dataset name"),
    "fb_use": ("이 데이터로 학습", "Train on this dataset"),
    "fb_index": ("쌍 번호", "Pair #"),
    "fb_load": ("불러와 고치기", "Load to edit"),
    "fb_save": ("고친 쌍 저장 (A=좋은 답, B=나쁜 답)", "Save the edit (A = chosen, B = rejected)"),
    "fb_delete": ("쌍 지우기", "Delete pair"),
    "saved": ("저장했습니다: '{d}' 에 {n}쌍.", "Saved: {n} pairs in '{d}'."),
    "deleted": ("지웠습니다: '{d}' 에 {n}쌍 남음.", "Deleted: {n} pairs left in '{d}'."),
    "use_set": ("위의 선호 데이터를 '{d}' 로 정했습니다.", "The preference data above is now '{d}'."),
    "no_run": ("아직 끝난 정렬 실행이 없습니다.", "No alignment run has finished yet."),
}
COLUMNS = [("kind", ("종류", "kind")), ("prompt", ("프롬프트", "prompt")), ("reference", ("기준 모델의 답", "reference")),
           ("reward_reference_answer", ("보상", "reward")), ("aligned", ("정렬한 모델의 답", "aligned")),
           ("reward_aligned_answer", ("보상", "reward"))]
HELDOUT_COLUMNS = [("logp_accuracy", ("로그확률 정확도", "log-prob accuracy")),
                   ("logp_margin", ("로그확률 마진", "log-prob margin")),
                   ("reward_accuracy", ("보상 정확도", "reward accuracy")),
                   ("reward_margin", ("보상 마진", "reward margin"))]
HELDOUT_NOTE = say("Held-out test pairs ({n}), never trained on. Before training the policy is the reference, so "
                   "every reward is 0; the log-prob columns say how often each model gives the chosen answer the "
                   "higher probability.",
                   "떼어 둔 시험 쌍 ({n}개, 학습하지 않음). 학습 전에는 정책이 기준 모델과 같아 보상이 모두 0 입니다. "
                   "로그확률 열은 각 모델이 좋은 답에 더 높은 확률을 주는 비율입니다.")
DATA_FIELDS = ["data_config", "prompt_column", "chosen_column", "rejected_column", "val_fraction", "test_fraction",
               "max_rows", "max_eval_rows", "system_prompt", "chat_template", "max_length"]
METHOD_FIELDS = ["algorithm", "loss_type", "beta", "sft_warmup_steps", "method", "target_modules", "lora_rank",
                 "lora_alpha", "lora_dropout"]
TRAIN_FIELDS = ["output_name", "overwrite", "batch_size", "grad_accum", "max_steps", "epochs", "max_minutes", "lr",
                "schedule", "warmup_steps", "min_lr_ratio", "decay_fraction", "weight_decay", "grad_clip", "seed",
                "eval_every", "early_stopping", "save_every", "compare_prompts", "tricky_prompts", "compare_tokens"]
GROUPS = [["train/loss", "val/loss"], ["train/rewards/accuracies", "val/rewards/accuracies"],
          ["train/rewards/margins", "val/rewards/margins"],
          ["train/rewards/chosen", "train/rewards/rejected", "val/rewards/chosen", "val/rewards/rejected"],
          ["train/logps/chosen", "train/logps/rejected"], ["train/logratio/chosen", "train/logratio/rejected",
                                                          "train/kl"],
          ["sft/loss"], ["train/tokens_per_s"], ["sys/peak_rss_mb"]]


def _num(v) -> str:
    return "–" if v is None else f"{v:.4g}" if isinstance(v, float) else html.escape(str(v))


def comparison_html(run, lang: str, events: list[dict]) -> str:
    """The held-out figures before/after and the answers side by side, for one finished run."""
    if run is None or run.status not in ("succeeded", "stopped"):
        return pick(T["no_run"], lang)
    summary = run.summary or {}
    parts = []
    held = summary.get("heldout") or {}
    if held:
        n = ((summary.get("data") or {}).get("test")) or 0
        head = "".join(f"<th>{html.escape(pick(w, lang))}</th>" for _, w in HELDOUT_COLUMNS)
        rows = "".join(f"<tr><td>{html.escape(pick(('학습 전', 'before') if k == 'before' else ('학습 후', 'after'), lang))}"
                       "</td>" + "".join(f"<td>{_num(held[k].get(c))}</td>" for c, _ in HELDOUT_COLUMNS) + "</tr>"
                       for k in ("before", "after") if k in held)
        parts.append(f"<p class='wb-msg'>{html.escape(pick(HELDOUT_NOTE, lang).format(n=n))}</p>"
                     f"<table class='wb-compare' id='al-heldout'><thead><tr><th></th>{head}</tr></thead>"
                     f"<tbody>{rows}</tbody></table>")
    rows = summary.get("compare") or next((e["payload"]["rows"] for e in events if e["kind"] == "compare"), [])
    for warning in summary.get("warnings") or []:
        parts.append(f"<p class='wb-warn' id='al-warning'>&#9888; {html.escape(pick(warning, lang))}</p>")
    if rows:
        head = "".join(f"<th>{html.escape(pick(w, lang))}</th>" for _, w in COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{_num(r.get(c))}</td>" for c, _ in COLUMNS) + "</tr>" for r in rows)
        parts.append(f"<table class='wb-compare' id='al-answers'><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
                     "</table>")
    return "".join(parts) or pick(T["no_run"], lang)


def pairs_rows(pairs: list[dict]) -> list[list]:
    return [[i, p["prompt"], p["chosen"], p["rejected"], p.get("how", "")] for i, p in enumerate(pairs)]


def build(ctx: AppContext):
    from workbench.align.stage import AlignConfig  # light: no torch at import

    ui = ctx.ui
    ui.md(T["intro"])
    with gr.Row():
        policy = artifact_picker(ctx, ["model", "adapter"], **field_texts(AlignConfig.field_info("policy_model")),
                                 trainable=True, elem_id="al-policy", scale=2)
        reference = artifact_picker(ctx, ["model", "adapter"], **field_texts(AlignConfig.field_info("reference_model")),
                                    optional=True, trainable=True, elem_id="al-reference", scale=2)
        data = ui.reg(gr.Textbox(label=ui.text(AlignConfig.field_info("data").pair()), info=ui.text(T["data_info"]),
                                 elem_id="al-data", scale=2),
                      label=AlignConfig.field_info("data").pair(), info=T["data_info"])
        preview_btn = ui.button(T["preview"], size="sm", scale=0, elem_id="al-preview")
        refresh = ui.button(T["refresh"], size="sm", scale=0)
    preview_out = gr.Markdown(elem_id="al-preview-out")
    with gr.Accordion(ui.text(T["data_acc"]), open=False) as acc_data:
        data_form = ConfigForm(ctx, AlignConfig, include=DATA_FIELDS, columns=4)
    ui.reg(acc_data, label=T["data_acc"])
    with gr.Accordion(ui.text(T["method_acc"]), open=True) as acc_method:
        method_form = ConfigForm(ctx, AlignConfig, include=METHOD_FIELDS, columns=4)
    ui.reg(acc_method, label=T["method_acc"])
    with gr.Accordion(ui.text(T["train_acc"]), open=False) as acc_train:
        train_form = ConfigForm(ctx, AlignConfig, include=TRAIN_FIELDS, columns=4)
    ui.reg(acc_train, label=T["train_acc"])
    with gr.Accordion(ui.text(T["scale_acc"]), open=False) as acc_scale:
        scale_form = ConfigForm(ctx, AlignConfig, include=list(AlignConfig.COMPUTE_FIELDS), columns=4)
    ui.reg(acc_scale, label=T["scale_acc"])
    forms = [data_form, method_form, train_form, scale_form]
    with gr.Row():
        start = ui.button(T["start"], variant="primary", elem_id="al-start")
        resume = ui.button(T["resume"], elem_id="al-resume")
    msg = gr.Markdown(elem_id="al-msg")
    panel = JobPanel(ctx, "align", groups=GROUPS)
    panel.restore(forms, pickers={"policy_model": policy, "reference_model": reference}, widgets={"data": data})

    ui.md(T["ba_h"])
    ui.md(T["ba_info"])
    compare = gr.HTML(elem_id="al-compare")

    ui.md(T["fb_h"])
    ui.md(T["fb_info"])
    with gr.Row():
        fb_model = artifact_picker(ctx, ["model", "adapter"], T["fb_model"], elem_id="al-fb-model", scale=2)
        fb_prompt = ui.reg(gr.Textbox(label=ui.text(T["fb_prompt"]), elem_id="al-fb-prompt", scale=3),
                           label=T["fb_prompt"])
        fb_sample = ui.button(T["fb_sample"], variant="primary", scale=0, elem_id="al-fb-sample")
    with gr.Row():
        fb_a = ui.reg(gr.Textbox(label=ui.text(T["fb_a"]), lines=3, elem_id="al-fb-a"), label=T["fb_a"])
        fb_b = ui.reg(gr.Textbox(label=ui.text(T["fb_b"]), lines=3, elem_id="al-fb-b"), label=T["fb_b"])
    samples = gr.State(["", ""])
    with gr.Row():
        fb_dataset = ui.reg(gr.Textbox(value="my-preferences", label=ui.text(T["fb_dataset"]), elem_id="al-fb-dataset",
                                       scale=2), label=T["fb_dataset"])
        pick_a = ui.button(T["fb_pick_a"], scale=0, elem_id="al-fb-pick-a")
        pick_b = ui.button(T["fb_pick_b"], scale=0, elem_id="al-fb-pick-b")
        use_btn = ui.button(T["fb_use"], scale=0, elem_id="al-fb-use")
    fb_msg = gr.Markdown(elem_id="al-fb-msg")
    fb_table = gr.Dataframe(headers=["#", "prompt", "chosen", "rejected", "how"], interactive=False, wrap=True,
                            elem_id="al-fb-table")
    with gr.Row():
        fb_index = ui.reg(gr.Number(value=0, precision=0, minimum=0, label=ui.text(T["fb_index"]), scale=0,
                                    elem_id="al-fb-index"), label=T["fb_index"])
        load_btn = ui.button(T["fb_load"], size="sm", scale=0, elem_id="al-fb-load")
        save_btn = ui.button(T["fb_save"], size="sm", scale=0, elem_id="al-fb-save")
        del_btn = ui.button(T["fb_delete"], size="sm", variant="stop", scale=0, elem_id="al-fb-delete")

    components = [c for f in forms for c in f.components]
    sizes = [len(f.components) for f in forms]

    def make_cfg(policy_id, ref_id, data_ref, values):
        cfg = AlignConfig(policy_model=policy_id or "", reference_model=ref_id or "", data=data_ref or "")
        at = 0
        for form, n in zip(forms, sizes):
            cfg = form.to_config(values[at:at + n], base=cfg)
            at += n
        return cfg

    def on_start(lang, policy_id, ref_id, data_ref, *values):
        if not policy_id:
            return gr.skip(), pick(T["need_policy"], lang)
        return launch(ctx, "align", lambda: make_cfg(policy_id, ref_id, data_ref, values), lang).outputs()

    def on_resume(lang, run_id):
        run = panel.current(run_id)
        if run is None:
            return gr.skip(), ""
        return run.id, f"{run.id}: {pick(ctx.jobs.resume(run.id), lang)}"

    def on_preview(lang, data_ref, *values):
        from workbench.align.data import map_pair_columns, read_pairs_source
        from workbench.errors import UserError
        d = dict(zip([fi.path for fi in data_form.infos], values))
        try:
            src = read_pairs_source(data_ref or "", data_config=d["data_config"], ws=ctx.ws)
            cols = map_pair_columns(src.frames["train"], AlignConfig(prompt_column=d["prompt_column"],
                                                                     chosen_column=d["chosen_column"],
                                                                     rejected_column=d["rejected_column"]))
        except UserError as e:
            return error_markdown(e, lang)
        train = src.frames["train"]
        lines = [f"**{html.escape(pick(src.description, lang))}** · " + " · ".join(
                     f"{k} {len(v):,}" for k, v in src.frames.items()),
                 pick(("쓸 열: ", "used: "), lang) + ", ".join(f"{k} = `{v}`" for k, v in cols.items())]
        for _, r in train.head(3).iterrows():
            lines.append("- " + " · ".join(f"{k}: {html.escape(str(r[v])[:70])}" for k, v in cols.items()))
        return "  \n".join(lines)

    inputs = [ui.lang_box, policy, reference, data, *components]
    on_form(start.click, on_start, inputs, [panel.run_id, msg])
    resume.click(on_resume, [ui.lang_box, panel.run_id], [panel.run_id, msg])
    on_form(preview_btn.click, on_preview, [ui.lang_box, data, *data_form.components], [preview_out])

    # -- before / after: filled when the shown run ends -------------------------------------------------------
    seen, timer = gr.State(""), ui.timer(3.0)

    def show(lang, run_id):
        run = panel.current(run_id)
        events = ctx.store.events(run.id, "compare", limit=1) if run is not None else []
        return comparison_html(run, lang, events)

    def on_tick(lang, run_id, last):
        run = panel.current(run_id)
        key = f"{run.id}:{run.status}" if run is not None else ""
        if key == last:
            return gr.skip(), last
        return show(lang, run_id), key

    timer.tick(on_tick, [ui.lang_box, panel.run_id, seen], [compare, seen], show_progress="hidden", queue=False)
    ui.on_language(show, [ui.lang_box, panel.run_id], [compare])

    # -- feedback ---------------------------------------------------------------------------------------------
    def table(name):
        from workbench.align.feedback import list_pairs
        return pairs_rows(list_pairs(ctx.ws, (name or "").strip())) if (name or "").strip() else []

    def on_sample(lang, model_id, prompt):
        from workbench.align.feedback import sample_two
        from workbench.errors import UserError
        try:
            res = sample_two(ctx.ws, model_id or "", prompt, seed=int(__import__("time").time()) % 100000)
        except UserError as e:
            return gr.skip(), gr.skip(), gr.skip(), error_markdown(e, lang)
        a, b = res["answers"]
        return a, b, [a, b], ""

    def on_pick(better: int):
        def fn(lang, model_id, prompt, a, b, sampled, name):
            from workbench.align.feedback import add_pair
            from workbench.errors import UserError
            chosen, rejected = (a, b) if better == 0 else (b, a)
            how = "picked" if chosen == (sampled or ["", ""])[better] else "written"
            try:
                res = add_pair(ctx.ws, (name or "").strip(), prompt, chosen, rejected, model=model_id or "",
                               model_artifact=int(model_id) if str(model_id or "").isdigit() else None, how=how)
            except UserError as e:
                return error_markdown(e, lang), gr.skip()
            except Exception as e:  # noqa: BLE001 - a bad dataset name from check_name
                return error_markdown(e, lang), gr.skip()
            return pick(T["saved"], lang).format(d=html.escape(name.strip()), n=res["pairs"]), table(name)
        return fn

    fb_inputs = [ui.lang_box, fb_model, fb_prompt, fb_a, fb_b, samples, fb_dataset]
    fb_sample.click(on_sample, [ui.lang_box, fb_model, fb_prompt], [fb_a, fb_b, samples, fb_msg])
    on_form(pick_a.click, on_pick(0), fb_inputs, [fb_msg, fb_table])
    on_form(pick_b.click, on_pick(1), fb_inputs, [fb_msg, fb_table])
    fb_dataset.blur(table, [fb_dataset], [fb_table])

    def on_load(lang, name, index):
        from workbench.align.feedback import list_pairs
        pairs = list_pairs(ctx.ws, (name or "").strip())
        i = int(index or 0)
        if not 0 <= i < len(pairs):
            return gr.skip(), gr.skip(), gr.skip(), pick(("그 번호의 쌍이 없습니다.", "There is no pair with that number."),
                                                         lang)
        p = pairs[i]
        return p["prompt"], p["chosen"], p["rejected"], ""

    def on_save(lang, name, index, prompt, a, b):
        from workbench.align.feedback import update_pair
        from workbench.errors import UserError
        try:
            res = update_pair(ctx.ws, (name or "").strip(), int(index or 0), prompt, a, b)
        except UserError as e:
            return error_markdown(e, lang), gr.skip()
        return pick(T["saved"], lang).format(d=html.escape(name.strip()), n=res["pairs"]), table(name)

    def on_delete(lang, name, index):
        from workbench.align.feedback import delete_pair
        from workbench.errors import UserError
        try:
            res = delete_pair(ctx.ws, (name or "").strip(), int(index or 0))
        except UserError as e:
            return error_markdown(e, lang), gr.skip()
        return pick(T["deleted"], lang).format(d=html.escape(name.strip()), n=res["pairs"]), table(name)

    load_btn.click(on_load, [ui.lang_box, fb_dataset, fb_index], [fb_prompt, fb_a, fb_b, fb_msg])
    on_form(save_btn.click, on_save, [ui.lang_box, fb_dataset, fb_index, fb_prompt, fb_a, fb_b], [fb_msg, fb_table])
    del_btn.click(on_delete, [ui.lang_box, fb_dataset, fb_index], [fb_msg, fb_table])
    use_btn.click(lambda lang, name: ((name or "").strip(), pick(T["use_set"], lang).format(
        d=html.escape((name or "").strip()))), [ui.lang_box, fb_dataset], [data, fb_msg])

    def on_refresh(p, r, m, name):
        return (refresh_picker(ctx, policy, p), refresh_picker(ctx, reference, r), refresh_picker(ctx, fb_model, m),
                table(name))

    refresh.click(on_refresh, [policy, reference, fb_model, fb_dataset], [policy, reference, fb_model, fb_table])
    return on_refresh, [policy, reference, fb_model, fb_dataset], [policy, reference, fb_model, fb_table]
