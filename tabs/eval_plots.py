"""Plotly figures of the Evaluate tab, from workbench.evaluate.report's comparison and a report's models
(plotly imported lazily; no gradio, no torch). Numbers are formatted with the report's `fmt`, metric names and
directions come from the same place as the HTML report's, so the tab and the handed-in file agree."""
from __future__ import annotations

from state.i18n import pick
from workbench.evaluate.report import SEP, fmt, has_direction, higher_is_better, metric_name, split_column

MAX_PANELS = 8
T = {
    "true": ("정답", "true"),
    "predicted": ("예측", "predicted"),
    "confidence": ("신뢰도", "confidence"),
    "accuracy": ("정확도", "accuracy"),
    "ideal": ("완벽한 보정", "perfect calibration"),
    "calibration": ("신뢰도 보정", "Calibration"),
}


def _palette() -> list[str]:
    import plotly.colors

    return list(plotly.colors.qualitative.Plotly)


def _layout(fig, height: int, title: str | None = None):
    # the project's figure style (tabs/plots.py): plotly_white, tight margins, legend below
    fig.update_layout(height=height, margin=dict(l=40, r=10, t=50 if title else 40, b=30), title=title or None,
                      legend=dict(orientation="h", y=-0.12), template="plotly_white")
    return fig


def column_title(column: str, lang: str) -> str:
    bench, key = split_column(column)
    arrow = "" if not has_direction(key) else " ↑" if higher_is_better(key) else " ↓"
    name = f"{metric_name(key, lang)}{arrow}"
    return f"{bench}{SEP}{name}" if bench else name


def metric_bars(columns: list[str], rows: list[dict], lang: str):
    """One panel per comparison column (the first MAX_PANELS), one bar per model (a trace per model and panel,
    one colour and legend entry per model). None when there is nothing to draw."""
    columns = [c for c in columns if any(r.get(c) is not None for r in rows)][:MAX_PANELS]
    if not columns or not rows:
        return None
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    cols = 1 if len(columns) == 1 else 2
    nrows = (len(columns) + cols - 1) // cols
    fig = make_subplots(rows=nrows, cols=cols, subplot_titles=[column_title(c, lang) for c in columns],
                        horizontal_spacing=0.08, vertical_spacing=0.14 if nrows > 1 else 0.1)
    colors = _palette()
    for ci, column in enumerate(columns):
        r, c = ci // cols + 1, ci % cols + 1
        for mi, row in enumerate(rows):
            v = row.get(column)
            label = row["model"]
            fig.add_trace(go.Bar(x=[label], y=[v], text=[fmt(v)], textposition="auto", name=label,
                                 legendgroup=label, showlegend=ci == 0,
                                 marker_color=colors[mi % len(colors)],
                                 hovertemplate=f"{label}<br>%{{y:.4g}}<extra></extra>"), row=r, col=c)
        fig.update_xaxes(showticklabels=False, row=r, col=c)
    return _layout(fig, 240 * nrows + 60)


def confusion_heatmap(labels: list[str], matrix: list[list[int]], title: str, lang: str = "ko"):
    """Counts as text; the shade is each cell's share of its row (true label), so the diagonal reads as recall."""
    import plotly.graph_objects as go

    labels = [str(x) for x in labels]
    shares = []
    for row in matrix:
        total = sum(row) or 1
        shares.append([v / total for v in row])
    fig = go.Figure(go.Heatmap(z=shares, x=labels, y=labels, text=[[fmt(v) for v in row] for row in matrix],
                               texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1, showscale=False,
                               hovertemplate=(f"{pick(T['true'], lang)}: %{{y}}<br>{pick(T['predicted'], lang)}: "
                                              "%{x}<br>%{text}<extra></extra>")))
    fig.update_xaxes(title=pick(T["predicted"], lang), side="top", type="category")
    fig.update_yaxes(title=pick(T["true"], lang), autorange="reversed", type="category")
    fig.update_layout(height=max(260, 60 * len(labels) + 120), width=None, template="plotly_white",
                      margin=dict(l=60, r=10, t=90, b=20), title=title or None)
    return fig


def calibration_figure(curves: dict[str, list[dict]], lang: str):
    """A reliability diagram: accuracy against confidence, one line per model (empty bins left out), and the
    diagonal of perfect calibration (the last trace)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    colors = _palette()
    for i, (label, bins) in enumerate(curves.items()):
        pts = sorted((b["confidence"], b["accuracy"], b.get("count")) for b in bins or []
                     if b.get("confidence") is not None and b.get("accuracy") is not None
                     and (b.get("count") is None or b.get("count")))
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers", name=label,
                                 customdata=[p[2] for p in pts], line=dict(color=colors[i % len(colors)]),
                                 hovertemplate=(f"{label}<br>{pick(T['confidence'], lang)} %{{x:.3g}}<br>"
                                                f"{pick(T['accuracy'], lang)} %{{y:.3g}}<br>n=%{{customdata}}"
                                                "<extra></extra>")))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name=pick(T["ideal"], lang),
                             line=dict(color="#888", dash="dash"), hoverinfo="skip"))
    fig.update_xaxes(title=pick(T["confidence"], lang), range=[0, 1])
    fig.update_yaxes(title=pick(T["accuracy"], lang), range=[0, 1])
    return _layout(fig, 380, pick(T["calibration"], lang))
