"""Pretrain tab: pick a corpus, a tokenizer and an architecture, press Train, watch it learn."""
from __future__ import annotations

import shlex

import gradio as gr

from .components import AppContext, JobPanel, artifact_picker, refresh_picker
from .forms import ConfigForm, field_texts
from .i18n import pick, tr
from .launch import build_config, launch
from .packed import on_form
from .plots import metrics_figure

T = {
    "intro": ("말뭉치·토크나이저·아키텍처를 골라 한국어 언어 모델을 처음부터 학습합니다. 학습은 별도 프로세스에서 "
              "돌아가므로 브라우저를 닫아도 계속되고, 중지하면 체크포인트를 저장하며, 이어서 학습할 수 있습니다.",
              "Pick a corpus, a tokenizer and an architecture and train a Korean language model from scratch. "
              "Training runs in its own process (closing the browser loses nothing); Stop saves a checkpoint and "
              "Resume continues it."),
    "arch": ("아키텍처", "Architecture"),
    "train": ("학습 설정", "Training settings"),
    "scale": ("장치와 분산 실행", "Devices and multi-process"),
    "start": ("학습 시작", "Train"),
    "resume": ("이어서 학습", "Resume"),
    "preview": ("명령어 미리 보기", "Preview command"),
    "refresh": ("목록 새로 고침", "Refresh lists"),
    "compare": ("실행 비교", "Compare runs"),
    "compare_runs": ("겹쳐 볼 사전학습 실행", "Pretraining runs to overlay"),
    "compare_btn": ("곡선 겹쳐 보기", "Overlay curves"),
    "need_inputs": ("말뭉치와 토크나이저를 먼저 만드세요 (1·2번 탭).",
                    "Make a corpus and a tokenizer first (tabs 1 and 2)."),
    "samples": ("샘플 생성", "Samples"),
}

ARCH_FIELDS = ["arch.family", "arch.depth", "arch.context", "arch.width", "arch.heads", "arch.kv_heads",
               "arch.ffn_mult", "arch.experts", "arch.top_k", "arch.shared_experts", "arch.kv_lora_rank",
               "arch.state_size", "arch.dropout", "arch.tie_embeddings"]
TRAIN_FIELDS = ["output_name", "overwrite", "seq_len", "batch_size", "grad_accum", "max_steps", "max_minutes", "lr",
                "schedule", "warmup_steps", "min_lr_ratio", "decay_fraction", "weight_decay", "grad_clip", "seed",
                "val_fraction", "eval_every", "eval_batches", "sample_every", "sample_tokens", "sample_prompts",
                "early_stopping", "save_every"]
SCALE_FIELDS = ["device", "precision", "threads", "launcher", "nproc", "fsdp", "compile"]
GROUPS = [["train/loss", "val/loss"], ["val/bpb"], ["train/lr"], ["train/grad_norm"], ["train/tokens_per_s"],
          ["train/mfu"]]


def preview_command(cfg) -> str:
    """The CLI line that runs this config: every field that differs from the default as --set."""
    from workbench.pretrain.stage import PretrainConfig
    default = PretrainConfig()
    parts = ["python", "-m", "workbench", "pretrain"]
    for fi in cfg.fields():
        v = cfg.get(fi.path)
        if v != default.get(fi.path):
            v = ",".join(map(str, v)) if isinstance(v, list) else v
            parts += ["--set", f"{fi.path}={v}"]
    return " ".join(shlex.quote(str(p)) for p in parts)


def build(ctx: AppContext):
    from workbench.pretrain.stage import PretrainConfig  # light: no torch at import

    ui = ctx.ui
    ui.md(T["intro"])
    with gr.Row():
        # labels and help come from the config fields these pickers fill
        corpus = artifact_picker(ctx, "corpus", **field_texts(PretrainConfig.field_info("corpus")), elem_id="pt-corpus")
        tokenizer = artifact_picker(ctx, "tokenizer", **field_texts(PretrainConfig.field_info("tokenizer")),
                                    elem_id="pt-tokenizer")
        arch_art = artifact_picker(ctx, "arch", **field_texts(PretrainConfig.field_info("arch_artifact")),
                                   elem_id="pt-arch", optional=True)
        refresh = ui.button(T["refresh"], size="sm", scale=0)
    with gr.Accordion(ui.text(T["arch"]), open=True) as acc_arch:
        arch_form = ConfigForm(ctx, PretrainConfig, include=ARCH_FIELDS, columns=4, flatten_sections=True)
    ui.reg(acc_arch, label=T["arch"])
    with gr.Accordion(ui.text(T["train"]), open=False) as acc_train:
        train_form = ConfigForm(ctx, PretrainConfig, include=TRAIN_FIELDS, columns=4)
    ui.reg(acc_train, label=T["train"])
    with gr.Accordion(ui.text(T["scale"]), open=False) as acc_scale:
        scale_form = ConfigForm(ctx, PretrainConfig, include=SCALE_FIELDS, columns=4)
    ui.reg(acc_scale, label=T["scale"])
    forms = [arch_form, train_form, scale_form]
    with gr.Row():
        start = ui.button(T["start"], variant="primary", elem_id="pt-start")
        resume = ui.button(T["resume"], elem_id="pt-resume")
        preview = ui.button(T["preview"], elem_id="pt-preview")
    msg = gr.Markdown(elem_id="pt-msg")
    cmd_preview = gr.Code(language="shell", visible=False, elem_id="pt-cmd-preview")
    panel = JobPanel(ctx, "pretrain", groups=GROUPS, samples=True)
    panel.restore(forms, pickers={"corpus": corpus, "tokenizer": tokenizer, "arch_artifact": arch_art})

    with gr.Accordion(ui.text(T["compare"]), open=False) as acc_cmp:
        with gr.Row():
            cmp_runs = ui.reg(gr.Dropdown(choices=[], multiselect=True, label=ui.text(T["compare_runs"]),
                                          elem_id="pt-compare-runs"), label=T["compare_runs"])
            cmp_btn = ui.button(T["compare_btn"], size="sm", scale=0)
        cmp_plot = gr.Plot(elem_id="pt-compare-plot")
    ui.reg(acc_cmp, label=T["compare"])

    n_arch, n_train = len(arch_form.components), len(train_form.components)

    def make_cfg(corpus_id, tok_id, arch_id, values):
        a, t, s = values[:n_arch], values[n_arch:n_arch + n_train], values[n_arch + n_train:]
        cfg = PretrainConfig(corpus=corpus_id or "", tokenizer=tok_id or "", arch_artifact=arch_id or "")
        cfg = arch_form.to_config(a, base=cfg)
        cfg = train_form.to_config(t, base=cfg)
        return scale_form.to_config(s, base=cfg)

    def on_start(lang, corpus_id, tok_id, arch_id, *values):
        if not corpus_id or not tok_id:
            return gr.skip(), pick(T["need_inputs"], lang)
        return launch(ctx, "pretrain", lambda: make_cfg(corpus_id, tok_id, arch_id, values), lang).outputs()

    def on_resume(lang, run_id):
        run = panel.current(run_id)
        if run is None:
            return gr.skip(), tr("no_run", lang)
        return run.id, f"{run.id}: {ctx.jobs.resume(run.id)}"

    def on_preview(lang, corpus_id, tok_id, arch_id, *values):
        cfg, problem = build_config(lambda: make_cfg(corpus_id, tok_id, arch_id, values), lang)
        if cfg is None:
            return gr.update(visible=False), problem
        return gr.update(value=preview_command(cfg), visible=True), ""

    all_inputs = [ui.lang_box, corpus, tokenizer, arch_art, *[c for f in forms for c in f.components]]
    on_form(start.click, on_start, all_inputs, [panel.run_id, msg])
    resume.click(on_resume, [ui.lang_box, panel.run_id], [panel.run_id, msg])
    on_form(preview.click, on_preview, all_inputs, [cmd_preview, msg])

    def run_choices():
        return [(f"{r.id} ({r.status})", r.id) for r in ctx.store.list_runs(stage="pretrain", limit=100)]

    def on_refresh(c, t, a):
        return (refresh_picker(ctx, corpus, c), refresh_picker(ctx, tokenizer, t), refresh_picker(ctx, arch_art, a),
                gr.update(choices=run_choices()))

    refresh.click(on_refresh, [corpus, tokenizer, arch_art], [corpus, tokenizer, arch_art, cmp_runs])
    acc_cmp.expand(lambda: gr.update(choices=run_choices()), None, [cmp_runs])

    def on_compare(run_ids):
        if not run_ids:
            return None
        rows = {rid: ctx.store.metrics(rid, ["train/loss", "val/loss", "val/bpb"]) for rid in run_ids}
        return metrics_figure(rows, [["train/loss"], ["val/loss"], ["val/bpb"]])

    cmp_btn.click(on_compare, [cmp_runs], [cmp_plot])
    # run when the tab is opened: pick up artifacts and runs made in other tabs meanwhile
    return on_refresh, [corpus, tokenizer, arch_art], [corpus, tokenizer, arch_art, cmp_runs]
