"""Plotly figures built from the store's metrics (imports plotly lazily)."""
from __future__ import annotations

from collections import defaultdict

BAR_BELOW = 3  # a metric logged at fewer steps than this is a count, drawn as a bar


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.4g}"


def metrics_figure(rows_by_run: dict[str, list[dict]], groups: list[list[str]] | None = None, *,
                   x: str = "step", title: str = "", max_panels: int = 6):
    """Line charts of metric rows; one panel per group of metric names, one line per run and metric.

    A panel whose metrics were each logged at fewer than `BAR_BELOW` steps (one-off counts, such as a corpus
    run of one batch: documents in, kept, out) is a bar chart of their last values instead: a line over
    steps 1..2 says nothing.

    rows_by_run: {run label: [{"step", "name", "value", "time"}, ...]}
    groups: e.g. [["train/loss", "val/loss"], ["lr"]]; default: one panel per metric name, with train/X and
    val/X (or eval/X) sharing one.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = []
    for rows in rows_by_run.values():
        for r in rows:
            if r["name"] not in names:
                names.append(r["name"])
    if groups is None:
        by_key: dict[str, list[str]] = {}
        for n in names:
            split, _, rest = n.partition("/")
            by_key.setdefault(rest if split in ("train", "val", "eval") and rest else n, []).append(n)
        groups = list(by_key.values())
    groups = [[n for n in g if n in names] for g in groups]
    groups = [g for g in groups if g][:max_panels]
    if not groups:
        fig = go.Figure()
        fig.update_layout(height=220, title=title or None, margin=dict(l=40, r=10, t=30, b=30))
        return fig
    cols = 1 if len(groups) == 1 else 2
    nrows = (len(groups) + cols - 1) // cols
    fig = make_subplots(rows=nrows, cols=cols, subplot_titles=[" · ".join(g) for g in groups],
                        horizontal_spacing=0.08, vertical_spacing=0.12 if nrows > 1 else 0.1)
    multi_run = len(rows_by_run) > 1
    for gi, group in enumerate(groups):
        r, c = gi // cols + 1, gi % cols + 1
        by_run = {}
        for run_label, rows in rows_by_run.items():
            series = defaultdict(list)
            t0 = rows[0]["time"] if rows else 0
            for row in rows:
                if row["name"] in group:
                    xv = row["step"] if x == "step" else row["time"] - t0
                    series[row["name"]].append((xv, row["value"]))
            for pts in series.values():
                pts.sort()
            by_run[run_label] = series
        as_bars = all(len(pts) < BAR_BELOW for series in by_run.values() for pts in series.values())
        for run_label, series in by_run.items():
            if not series:
                continue
            if as_bars:  # one bar per metric (its last value), one colour per run
                names = [n for n in group if n in series]
                values = [series[n][-1][1] for n in names]
                fig.add_trace(go.Bar(x=names, y=values, text=[_fmt(v) for v in values], textposition="auto",
                                     name=run_label, legendgroup=run_label, showlegend=multi_run), row=r, col=c)
                continue
            for name, pts in series.items():
                label = f"{run_label} · {name}" if multi_run else name
                fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts],
                                         mode="lines+markers" if len(pts) < 30 else "lines",
                                         name=label, legendgroup=label, marker=dict(size=4)), row=r, col=c)
    fig.update_layout(height=260 * nrows + 40, margin=dict(l=40, r=10, t=40, b=30), title=title or None,
                      legend=dict(orientation="h", y=-0.12), template="plotly_white")
    return fig
