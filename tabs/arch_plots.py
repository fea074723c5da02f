"""Plotly figures of the architecture tab (plotly imported lazily; no torch)."""
from __future__ import annotations

from collections import defaultdict

from state.i18n import pick
from workbench.arch.families import FAMILIES
from workbench.arch.measure import MIN_POINTS, fit_exponent

COLORS = {"gpt2": "#1f77b4", "llama": "#ff7f0e", "mamba": "#2ca02c", "mamba2": "#17becf", "rwkv": "#9467bd",
          "mixtral": "#d62728", "qwen2moe": "#e377c2", "deepseekv3": "#8c564b"}


def split_metrics(rows: list[dict]) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Store metric rows named 'kind/family' -> {kind: {family: [(step, value), ...] sorted}}."""
    out: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if "/" not in r["name"]:
            continue
        kind, fam = r["name"].split("/", 1)
        out[kind][fam].append((r["step"], r["value"]))
    for kind in out.values():
        for fam, pts in kind.items():
            pts.sort()
    return out


def _empty(msg: str, height: int = 260):
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_annotation(text=msg, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=14))
    fig.update_layout(height=height, template="plotly_white", xaxis=dict(visible=False), yaxis=dict(visible=False),
                      margin=dict(l=20, r=20, t=20, b=20))
    return fig


def _label(fam: str) -> str:
    return FAMILIES.get(fam, (fam,))[0]


def measure_figure(rows: list[dict], lang: str):
    """2 x 2 log-log panels: step time, peak memory vs length; decode speed, cache vs context. Slopes in legends."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    m = split_metrics(rows)
    if not m.get("step_s") and not m.get("decode_tok_s"):
        return _empty(pick(("아직 측정 결과가 없습니다. '측정 시작'을 누르세요.",
                            "No measurements yet: press 'Start measuring'."), lang))
    titles = [pick(p, lang) for p in [("학습 단계 시간 (초) vs 길이", "Training step time (s) vs length"),
                                      ("최대 메모리 (MiB) vs 길이", "Peak memory (MiB) vs length"),
                                      ("생성 속도 (토큰/초) vs 문맥", "Decode speed (tokens/s) vs context"),
                                      ("캐시/상태 크기 (KiB) vs 담은 토큰", "KV cache / state (KiB) vs tokens held")]]
    fig = make_subplots(rows=2, cols=2, subplot_titles=titles, horizontal_spacing=0.09, vertical_spacing=0.16)
    panels = [("step_s", 1, 1), ("peak_mib", 1, 2), ("decode_tok_s", 2, 1), ("cache_kib", 2, 2)]
    shown = set()
    for kind, r, c in panels:
        for fam, pts in m.get(kind, {}).items():
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            slope = fit_exponent(xs, ys, MIN_POINTS[kind])["all"]  # timings: only from 3 lengths or more
            # the fitted exponent is written at the end of each line: y ∝ n^slope
            text = [""] * (len(xs) - 1) + [f"n^{slope:.2f}" if slope is not None else ""]
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers+text", name=_label(fam), legendgroup=fam,
                                     showlegend=fam not in shown, text=text, textposition="top left",
                                     textfont=dict(size=11, color=COLORS.get(fam)),
                                     line=dict(color=COLORS.get(fam)), marker=dict(size=6),
                                     hovertemplate=f"{_label(fam)}<br>%{{x}}: %{{y:.4g}}<extra></extra>"),
                          row=r, col=c)
            shown.add(fam)
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log")
    fig.update_layout(height=640, template="plotly_white", margin=dict(l=50, r=10, t=40, b=30),
                      legend=dict(font=dict(size=11)))
    return fig


def race_figure(rows: list[dict], lang: str):
    """Loss vs tokens (equal data) and loss vs wall time (equal time), one line per family."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    m = split_metrics(rows)
    if not m.get("loss"):
        return _empty(pick(("아직 경주 결과가 없습니다. '경주 시작'을 누르세요.",
                            "No race yet: press 'Start the race'."), lang))
    titles = [pick(("손실 vs 학습 토큰 (실선: 학습, 점선★: 검증)", "Loss vs tokens trained (solid: train, dashed★: held-out)"),
                   lang),
              pick(("손실 vs 학습 시간 (초)", "Loss vs training time (s)"), lang)]
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.08)
    for fam, pts in m["loss"].items():
        color = COLORS.get(fam)
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines", name=_label(fam),
                                 legendgroup=fam, line=dict(color=color)), row=1, col=1)
        times = dict(m.get("elapsed_s", {}).get(fam, []))
        tp = [(times[s], v) for s, v in pts if s in times]
        if tp:
            fig.add_trace(go.Scatter(x=[p[0] for p in tp], y=[p[1] for p in tp], mode="lines", name=_label(fam),
                                     legendgroup=fam, showlegend=False, line=dict(color=color)), row=1, col=2)
    for fam, pts in m.get("held_out", {}).items():  # held-out loss: dashed, star markers
        style = dict(mode="lines+markers", legendgroup=fam, showlegend=False, line=dict(color=COLORS.get(fam),
                     dash="dash"), marker=dict(symbol="star", size=9, color=COLORS.get(fam)))
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], name=f"{_label(fam)} · held-out",
                                 **style), row=1, col=1)
        times = dict(m.get("held_out_s", {}).get(fam, []))
        tp = [(times[s], v) for s, v in pts if s in times]
        fig.add_trace(go.Scatter(x=[p[0] for p in tp], y=[p[1] for p in tp], name=f"{_label(fam)} · held-out",
                                 **style), row=1, col=2)
    fig.update_layout(height=360, template="plotly_white", margin=dict(l=50, r=10, t=40, b=30))
    return fig


def cache_figure(curves: dict[str, list[tuple[int, float]]], context: int, lang: str):
    """On paper: KV cache / recurrent state bytes per sequence vs context, log-log."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for fam, pts in curves.items():
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[max(1.0, p[1]) / 2**20 for p in pts], mode="lines+markers",
                                 name=_label(fam), line=dict(color=COLORS.get(fam)), marker=dict(size=5)))
    fig.add_vline(x=context, line_dash="dot", line_color="#888")
    fig.update_xaxes(type="log", title=pick(("문맥 길이 (토큰)", "context length (tokens)"), lang))
    fig.update_yaxes(type="log", title="MiB")
    fig.update_layout(height=330, template="plotly_white", margin=dict(l=50, r=10, t=40, b=40),
                      title=pick(("생성 시 시퀀스당 KV 캐시 / 상태 (종이 계산)",
                                  "KV cache / recurrent state per sequence during generation (on paper)"), lang))
    return fig


def memory_figure(rows: list[dict], lang: str):
    """On paper: training memory per family, stacked by weights, gradients, optimizer, activations, logits."""
    import plotly.graph_objects as go

    parts = [("weights", ("가중치", "weights")), ("grads", ("그래디언트", "gradients")),
             ("optimizer", ("옵티마이저(AdamW)", "optimizer (AdamW)")),
             ("activations", ("활성값", "activations")), ("logits", ("로짓", "logits"))]
    labels = [r["label"] for r in rows]
    fig = go.Figure()
    for key, name in parts:
        fig.add_trace(go.Bar(x=labels, y=[r["train_memory"][key] / 2**20 for r in rows], name=pick(name, lang)))
    fig.update_layout(barmode="stack", height=330, template="plotly_white", margin=dict(l=50, r=10, t=40, b=40),
                      yaxis_title="MiB", title=pick(("학습 메모리 추정", "Training memory estimate"), lang))
    return fig
