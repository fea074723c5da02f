"""Optimize tab: pick a model, a quantization method, and run one job that measures the original and the result
on the same prompts and text; read the before/after table and charts, then chat with the result in the Chat tab.

The tab builds an OptimizeConfig and launches it (workbench/optimize/run.py does the work)."""
from __future__ import annotations

import html

import gradio as gr

from state.i18n import pick

from .components import AppContext, JobPanel, artifact_picker, refresh_picker
from .forms import ConfigForm, field_texts
from .launch import launch
from .packed import on_form

T = {
    "intro": ("모델을 가볍고 빠르게 만들고, 그 대가를 같은 실행 안에서 잽니다: 원래 모델과 양자화한 모델을 같은 프롬프트와 "
              "텍스트로 재서 첫 토큰 시간, 토큰당 지연, 처리량, 메모리, 디스크 크기, 퍼플렉서티를 나란히 보여 줍니다. "
              "어댑터는 먼저 기본 모델에 병합한 뒤 양자화합니다 (이 순서가 제대로 됩니다). 결과는 새 모델 산출물이 되어 "
              "채팅 탭에서 쓸 수 있습니다.",
              "Make a model lighter and faster, and measure what it cost in the same run: the original and the "
              "quantized model are measured on the same prompts and text (time to first token, per-token latency, "
              "throughput, memory, size on disk, perplexity) side by side. An adapter is merged into its base before "
              "quantizing (the order that works). The result is a new model artifact the Chat tab can use."),
    "start": ("최적화 시작", "Optimize"),
    "refresh": ("목록 새로 고침", "Refresh lists"),
    "result_h": ("### 전후 비교", "### Before and after"),
    "figure": ("지표", "figure"), "before": ("원래", "original"), "after": ("양자화", "quantized"),
    "change": ("변화 %", "change %"),
    "trt_ok": ("TensorRT-LLM: 이 컴퓨터에서 엔진을 만들 수 있습니다.", "TensorRT-LLM: this machine can build engines."),
    "trt_missing": ("TensorRT-LLM (tensorrt-llm 방법): 이 컴퓨터에는 {m} 이(가) 없습니다. GPU 컴퓨터에서는: `{c}`",
                    "TensorRT-LLM (method tensorrt-llm): this machine lacks {m}. On a GPU machine: `{c}`"),
    "agree": ("탐욕 디코딩이 원래와 같은 프롬프트: {e:.0%} (첫 차이 전까지 토큰의 {p:.0%})",
              "greedy output identical to the original's on {e:.0%} of the prompts ({p:.0%} of tokens before the "
              "first difference)"),
    "chat_hint": ("채팅 탭에서 '{n}' 을(를) 골라 대화해 보세요.", "Pick '{n}' in the Chat tab to chat with it."),
    "none_yet": ("아직 끝난 최적화 실행이 없습니다.", "No optimization run has finished yet."),
}
FIELDS = ["method", "quant_type", "double_quant", "compute_dtype", "data", "max_rows", "prompts", "n_prompts",
          "new_tokens", "batch_sizes", "max_length", "trt_max_batch", "trt_max_input_len", "trt_max_output_len",
          "output_name", "overwrite", "threads", "device"]
GROUPS = [[f"before/{k}", f"after/{k}"] for k in ("decode_tokens_per_s", "ttft_ms", "ppl", "size_mb", "peak_rss_mb",
                                                  "decode_ms_p95")]
NAMES = {"decode_tokens_per_s": ("디코딩 토큰/초", "decode tokens/s"), "prefill_tokens_per_s": ("프리필 토큰/초",
                                                                                          "prefill tokens/s"),
         "ttft_ms": ("첫 토큰 시간 ms", "time to first token ms"), "decode_ms_p50": ("토큰당 지연 p50 ms",
                                                                              "per-token latency p50 ms"),
         "decode_ms_p95": ("토큰당 지연 p95 ms", "per-token latency p95 ms"), "ppl": ("퍼플렉서티", "perplexity"),
         "bpb": ("바이트당 비트", "bits per byte"), "peak_rss_mb": ("최대 메모리 MB", "peak RSS MB"),
         "size_mb": ("디스크 크기 MB", "size on disk MB"), "accuracy": ("정확도", "accuracy"),
         "macro_f1": ("macro-F1", "macro-F1"), "ms_per_example": ("예제당 지연 ms (배치 1)", "ms per example (batch 1)")}
RATE_TITLES = {"throughput_tokens_per_s": ("배치 크기별 처리량 (토큰/초)", "Throughput by batch size (tokens/s)"),
               "examples_per_s": ("배치 크기별 처리량 (예제/초)", "Throughput by batch size (examples/s)")}


def result_html(summary: dict, report: dict, lang: str) -> str:
    from workbench.evaluate.report import fmt as _num  # the one number format of the reports
    rows = ""
    for k, c in (report.get("compare") or {}).items():
        if "change_pct" not in c:  # a rate per batch size: drawn, not tabled
            continue
        ch = c.get("change_pct")
        rows += (f"<tr><td>{pick(NAMES.get(k, (k, k)), lang)}</td><td>{_num(c.get('before'))}</td><td>{_num(c.get('after'))}</td>"
                 f"<td>{'–' if ch is None else f'{ch:+.1f}'}</td></tr>")
    head = "".join(f"<th>{pick(T[k], lang)}</th>" for k in ("figure", "before", "after", "change"))
    agree = pick(T["agree"], lang).format(e=summary.get("greedy_exact_share", 0), p=summary.get("greedy_prefix_share", 0))
    hint = pick(T["chat_hint"], lang).format(n=html.escape(summary.get("name", "")))
    return (f"<table class='wb-compare' id='opt-result-table'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>"
            f"</table><p class='wb-msg'>{html.escape(agree)}</p><p>{hint}</p>")


def throughput_figure(report: dict, lang: str):
    import plotly.graph_objects as go
    key = next((k for k in RATE_TITLES if (report.get("compare") or {}).get(k)), None)
    if key is None:
        return None
    tp = report["compare"][key]
    sizes = sorted(tp, key=int)
    fig = go.Figure()
    for side in ("before", "after"):
        fig.add_trace(go.Scatter(x=[int(b) for b in sizes], y=[tp[b][side] for b in sizes], mode="lines+markers",
                                 name=pick(T[side], lang)))
    fig.update_layout(height=300, margin=dict(l=40, r=10, t=40, b=30), title=pick(RATE_TITLES[key], lang),
                      template="plotly_white", legend=dict(orientation="h", y=-0.2), xaxis_title="batch",
                      xaxis=dict(tickmode="array", tickvals=[int(b) for b in sizes]))
    return fig


def build(ctx: AppContext):
    from workbench.optimize.stage import OptimizeConfig
    from workbench.optimize.trtllm import gpu_command, missing

    ui = ctx.ui
    ui.md(T["intro"])
    with gr.Row():
        model = artifact_picker(ctx, ["model", "adapter"], **field_texts(OptimizeConfig.field_info("model")),
                                trainable=True, elem_id="opt-model", scale=3)
        refresh = ui.button(T["refresh"], size="sm", scale=0)
    form = ConfigForm(ctx, OptimizeConfig, include=FIELDS, columns=4)
    lacking = missing()
    trt = gr.Markdown(pick(T["trt_ok"], ui.lang) if not lacking else pick(T["trt_missing"], ui.lang).format(
        m="; ".join(pick(x, ui.lang) for x in lacking), c=gpu_command("MODEL", "MODEL-trtllm")), elem_id="opt-trt")
    start = ui.button(T["start"], variant="primary", elem_id="opt-start")
    msg = gr.Markdown(elem_id="opt-msg")
    panel = JobPanel(ctx, "optimize", groups=GROUPS)
    panel.restore([form], pickers={"model": model})
    ui.md(T["result_h"])
    table = gr.HTML(elem_id="opt-result")
    tput = gr.Plot(elem_id="opt-throughput")

    def on_start(lang, ref, *values):
        return launch(ctx, "optimize", lambda: form.to_config(values, model=ref or ""), lang).outputs()

    on_form(start.click, on_start, [ui.lang_box, model, *form.components], [panel.run_id, msg])

    def show(lang, run_id):
        import json
        from pathlib import Path
        run = panel.current(run_id)
        if run is None or run.status != "succeeded" or not (run.summary or {}).get("path"):
            return pick(T["none_yet"], lang), None
        p = Path(run.summary["path"]) / "workbench_optimize.json"
        report = json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}
        return result_html(run.summary, report, lang), throughput_figure(report, lang)

    seen, timer = gr.State(""), ui.timer(3.0)

    def on_tick(lang, run_id, key):
        run = panel.current(run_id)
        now = f"{run.id}:{run.status}" if run is not None else ""
        if now == key:
            return gr.skip(), gr.skip(), key
        return (*show(lang, run_id), now)

    timer.tick(on_tick, [ui.lang_box, panel.run_id, seen], [table, tput, seen], show_progress="hidden", queue=False)
    ui.on_language(show, [ui.lang_box, panel.run_id], [table, tput])

    def on_refresh(m):
        return refresh_picker(ctx, model, m)

    refresh.click(on_refresh, [model], [model])
    return on_refresh, [model], [model]
