"""Evaluation reports a person reads: the cross-run comparison, self-contained SVG charts, and one HTML or Markdown
file (a student can hand it in) built from the report.json dicts that evaluation runs write.

Engine layer: no gradio, no plotly, no torch. Everything here is plain strings; every string that came from a run
(model labels, benchmark names, samples, templates, configs) is escaped before it lands in HTML, SVG or Markdown.

Both renderers draw the same content: `_blocks` lays the report out once (headings, tables, charts, notes) and
`to_html` / `to_markdown` only differ in how they write a block.
"""
from __future__ import annotations

import base64
import html
import json
import math
import numbers
import unicodedata
from datetime import datetime
from typing import Any, Iterable

from state.i18n import pick

FONT = "NanumGothic, 'Noto Sans KR', sans-serif"
SEP = " · "  # between the benchmark and the metric of a comparison column
SPEED = ("seconds", "examples_per_s", "tokens_per_s")  # speed, not quality: kept out of the comparison unless asked for
MAX_SAMPLES = 10

# the task's headline metrics come first in its columns
HEADLINE: dict[str, tuple[str, ...]] = {
    "classify": ("accuracy", "macro_f1"),
    "fewshot": ("accuracy", "macro_f1"),
    "regression": ("pearson", "spearman"),
    "perplexity": ("bpb", "ppl"),
    "generate": ("chrf", "bleu", "rougeL"),
}
# a task without its own list (prompts: a template comparison of either kind) takes them all in this order
ALL_HEADLINES = ("accuracy", "macro_f1", "pearson", "spearman", "bpb", "ppl", "chrf", "bleu", "rougeL")
# used only for a metric METRIC_INFO does not know (or while metrics.py is not there)
_LOWER_IS_BETTER = {"bpb", "ppl", "perplexity", "loss", "nll", "ece", "brier", "mse", "rmse", "mae", "wer", "cer",
                    "seconds"}

T = {
    "title": ("평가 보고서", "Evaluation report"),
    "generated": ("작성", "Generated"),
    "runs_n": ("평가 실행", "Evaluation runs"),
    "comparison": ("실행 간 비교", "Comparison across runs"),
    "comparison_note": ("모델마다 벤치마크별로 가장 최근 실행의 값입니다. 열마다 가장 좋은 값은 굵게 표시합니다. "
                        "↑ 높을수록 좋음, ↓ 낮을수록 좋음.",
                        "Each model's latest run on each benchmark. The best value of each column is in bold. "
                        "↑ higher is better, ↓ lower is better."),
    "charts": ("지표 차트", "Metric charts"),
    "model": ("모델", "Model"),
    "runs": ("실행", "Runs"),
    "run": ("실행", "Run"),
    "task": ("과제", "Task"),
    "benchmark": ("벤치마크", "Benchmark"),
    "split": ("분할", "Split"),
    "n": ("예제 수 (n)", "Examples (n)"),
    "seed": ("시드", "Seed"),
    "created": ("실행 시각", "Created"),
    "item": ("항목", "Item"),
    "value": ("값", "Value"),
    "kind": ("종류", "Kind"),
    "metrics": ("모델별 지표", "Metrics per model"),
    "seconds": ("시간 (초)", "Time (s)"),
    "examples_per_s": ("예제/초", "Examples/s"),
    "confusion": ("혼동 행렬", "Confusion matrix"),
    "true": ("정답", "true"),
    "predicted": ("예측", "predicted"),
    "calibration": ("신뢰도 보정 (reliability diagram)", "Calibration (reliability diagram)"),
    "confidence": ("신뢰도", "confidence"),
    "accuracy": ("정확도", "accuracy"),
    "per_class": ("클래스별 지표", "Per-class metrics"),
    "class": ("클래스", "Class"),
    "precision": ("정밀도", "Precision"),
    "recall": ("재현율", "Recall"),
    "f1": ("F1", "F1"),
    "support": ("개수", "Support"),
    "judge": ("로컬 모델 심판 (LLM-as-a-judge)", "Local model judge (LLM-as-a-judge)"),
    "judge_note": ("아래 점수의 일부는 사람이 아니라 이 컴퓨터에서 돌린 언어 모델이 매긴 것입니다. "
                   "심판 모델의 편향과 한계를 함께 읽으세요.",
                   "Some scores here were given by a language model run on this computer, not by people. "
                   "Read them with the judge model's biases and limits in mind."),
    "judge_model": ("심판 모델", "Judge model"),
    "note": ("메모", "Note"),
    "templates": ("프롬프트 템플릿", "Prompt templates"),
    "template": ("템플릿", "Template"),
    "text": ("내용", "Text"),
    "samples": ("예측 샘플", "Sample predictions"),
    "input": ("입력", "Input"),
    "reference": ("정답", "Reference"),
    "prediction": ("예측", "Prediction"),
    "correct": ("맞음", "Correct"),
    "configs": ("실행 설정", "Run configurations"),
    "none": ("비교할 결과가 없습니다.", "Nothing to compare yet."),
    "ece": ("ECE", "ECE"),
}
TASKS = {
    "classify": ("분류", "classification"),
    "fewshot": ("퓨샷 프롬프트", "few-shot prompting"),
    "regression": ("회귀 (유사도 점수)", "regression (similarity score)"),
    "perplexity": ("퍼플렉서티", "perplexity"),
    "generate": ("생성", "generation"),
    "prompts": ("프롬프트 템플릿 비교", "prompt template comparison"),
}


# ---------------------------------------------------------------------------------------------------- metrics

def _metric_info() -> dict:
    try:
        from workbench.evaluate.metrics import METRIC_INFO
    except ImportError:  # metrics.py not written yet: names fall back to the keys
        return {}
    return METRIC_INFO


def _no_direction() -> frozenset:
    try:
        from workbench.evaluate.metrics import NO_DIRECTION
    except ImportError:
        return frozenset()
    return frozenset(NO_DIRECTION)


def has_direction(key: str) -> bool:
    """False for figures whose direction is nominal (metrics.NO_DIRECTION, e.g. answer length): no best is marked."""
    return key not in _no_direction()


def metric_name(key: str, lang: str) -> str:
    """The metric's display name in `lang` (METRIC_INFO), or the key itself."""
    info = _metric_info().get(key)
    return pick(tuple(info[0]), lang) if info else key


def higher_is_better(key: str) -> bool:
    """METRIC_INFO's direction for the metric; a metric it does not know: lower for losses/errors, else higher."""
    info = _metric_info().get(key)
    if info:
        return bool(info[1])
    return key not in _LOWER_IS_BETTER


def split_column(column: str) -> tuple[str, str]:
    """'nsmc · accuracy' -> ('nsmc', 'accuracy'); a bare metric key -> ('', key)."""
    bench, sep, metric = column.rpartition(SEP)
    return (bench, metric) if sep else ("", column)


def _arrow(key: str) -> str:
    return "" if not has_direction(key) else "↑" if higher_is_better(key) else "↓"


def _num(v: Any) -> float | None:
    """A finite-or-inf float for a metric value; None for None, NaN, bools and anything not a number."""
    if v is None or isinstance(v, bool) or not isinstance(v, numbers.Real):
        return None
    f = float(v)
    return None if math.isnan(f) else f


def fmt(v: Any) -> str:
    """One number format for every table and chart: None/NaN -> '–', ints with thousands separators, floats with
    4 significant digits."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, numbers.Integral):
        return f"{int(v):,}"
    if isinstance(v, numbers.Real):
        f = float(v)
        return "–" if math.isnan(f) else f"{f:,.4g}"
    return str(v)


def _best_index(values: list[Any], higher: bool) -> int | None:
    best = None
    for i, v in enumerate(values):
        f = _num(v)
        if f is None:
            continue
        if best is None or (f > best[1] if higher else f < best[1]):
            best = (i, f)
    return None if best is None else best[0]


# ---------------------------------------------------------------------------------------------------- comparison

def _created(report: dict) -> str:
    return str(report.get("created") or "")


def _sorted(reports: Iterable[dict]) -> list[dict]:
    return sorted(reports, key=_created)  # stable: equal times keep the given order


def _label(model: dict) -> str:
    return str(model.get("model") or model.get("ref") or "?")


def _bench_labels(reports: list[dict]) -> list[str]:
    """Each report's benchmark as a column prefix: its name, or 'name (split)' when the name was evaluated on
    several splits among these reports (a validation score must not override a test score)."""
    splits: dict[str, set] = {}
    for r in reports:
        splits.setdefault(str(r.get("benchmark") or "?"), set()).add(r.get("split"))
    out = []
    for r in reports:
        b = str(r.get("benchmark") or "?")
        out.append(f"{b} ({r.get('split')})" if len(splits[b]) > 1 and r.get("split") else b)
    return out


def _order_metrics(keys: list[str], tasks: Iterable[str]) -> list[str]:
    """Metric keys (in first-appearance order): the tasks' headline metrics first, then the rest, speed last."""
    head: list[str] = []
    for t in tasks:
        for k in HEADLINE.get(t, ALL_HEADLINES):
            if k not in head:
                head.append(k)
    rank = {k: i for i, k in enumerate(head)}
    return sorted(keys, key=lambda k: (k in SPEED, SPEED.index(k) if k in SPEED else 0,
                                       rank.get(k, len(rank)), keys.index(k)))


def comparison(reports: list[dict], *, include_speed: bool = False) -> tuple[list[str], list[dict]]:
    """The cross-run comparison: (columns, rows).

    One row per model label ({"model": label, "runs": [run ids], column: value or None, ...}, every column
    present), one column per '<benchmark> · <metric>'. Reports are taken in "created" order, and a later run of
    a model on a benchmark replaces that model's earlier values on it (all of them: a row's values on one
    benchmark always come from one run). Columns: benchmarks in first-appearance order, each one's metrics with
    its task's headline first. Speed (seconds, examples_per_s) only with include_speed, after its benchmark's
    quality metrics.
    """
    reports = _sorted(reports)
    labels = _bench_labels(reports)
    bench_keys: dict[str, list[str]] = {}
    bench_tasks: dict[str, list[str]] = {}
    # model label -> benchmark -> (run id, created, {metric: value})
    cells: dict[str, dict[str, tuple[str, str, dict]]] = {}
    for rep, bench in zip(reports, labels):
        keys = bench_keys.setdefault(bench, [])
        tasks = bench_tasks.setdefault(bench, [])
        if rep.get("task") not in tasks:
            tasks.append(rep.get("task"))
        for m in rep.get("models") or []:
            vals = {}
            for k, v in (m.get("metrics") or {}).items():
                if k in SPEED and not include_speed:
                    continue
                vals[k] = _num(v)
                if k not in keys:
                    keys.append(k)
            if include_speed:
                for k in SPEED:
                    if k not in vals and _num(m.get(k)) is not None:
                        vals[k] = _num(m.get(k))
                        if k not in keys:
                            keys.append(k)
            cells.setdefault(_label(m), {})[bench] = (str(rep.get("run_id") or ""), _created(rep), vals)
    columns = [f"{b}{SEP}{k}" for b, keys in bench_keys.items() for k in _order_metrics(keys, bench_tasks[b])]
    rows = []
    for label, by_bench in cells.items():
        row: dict[str, Any] = {"model": label}
        row.update({c: None for c in columns})
        runs = []
        for bench, (run_id, _, vals) in sorted(by_bench.items(), key=lambda kv: kv[1][1]):
            for k, v in vals.items():
                row[f"{bench}{SEP}{k}"] = v
            if run_id and run_id not in runs:
                runs.append(run_id)
        row["runs"] = runs
        rows.append(row)
    return columns, rows


def best_in_column(rows: list[dict], column: str) -> str | None:
    """The model label with the best value in `column` (METRIC_INFO's direction; higher unless it says lower);
    None when no row has a number there. Ties go to the first row."""
    key = split_column(column)[1]
    if not has_direction(key):
        return None
    i = _best_index([r.get(column) for r in rows], higher_is_better(key))
    return None if i is None else rows[i]["model"]


# ---------------------------------------------------------------------------------------------------- SVG

def _esc(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _text_w(s: str, size: float = 12) -> float:
    """Rough rendered width: Hangul and other wide characters take a full em, the rest about 0.6."""
    return sum(size * (1.0 if unicodedata.east_asian_width(ch) in ("W", "F") else 0.6) for ch in s)


def _clip(s: str, max_px: float, size: float = 12) -> str:
    if _text_w(s, size) <= max_px:
        return s
    out = ""
    for ch in s:
        if _text_w(out + ch + "…", size) > max_px:
            break
        out += ch
    return out + "…"


def _svg_open(w: float, h: float, title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h:.0f}" '
            f'viewBox="0 0 {w:.0f} {h:.0f}" font-family="{FONT}" font-size="12" role="img" '
            f'aria-label="{_esc(title)}"><title>{_esc(title)}</title>'
            f'<rect width="100%" height="100%" fill="#ffffff"/>'
            f'<text x="12" y="20" font-size="14" font-weight="bold" fill="#222">{_esc(_clip(title, w - 24, 14))}'
            f'</text>')


BAR = "#4c78a8"
BOLD = ' font-weight="bold"'
BEST = "#f58518"


def svg_bars(title: str, values: dict[str, float | None], higher_is_better: bool | None = True) -> str:
    """Horizontal bars, one per label, with value labels; the best value in orange (none when higher_is_better
    is None: a figure without a direction), None as '–'."""
    labels = [str(k) for k in values]
    vals = [_num(v) for v in values.values()]
    nums = [v for v in vals if v is not None and math.isfinite(v)]
    width = 520
    label_w = max(60.0, min(200.0, max((_text_w(s) for s in labels), default=0) + 10))
    x0, x1 = 12 + label_w, width - 12 - 72
    row_h, bar_h, top = 24, 16, 34
    height = top + max(1, len(labels)) * row_h + 10
    lo, hi = min([0.0, *nums]), max([0.0, *nums])
    if hi == lo:
        hi = lo + 1.0

    def x(v: float) -> float:
        return x0 + (min(max(v, lo), hi) - lo) / (hi - lo) * (x1 - x0)

    best = None if higher_is_better is None else _best_index(vals, higher_is_better)
    arrow = "" if higher_is_better is None or "↑" in title or "↓" in title else "↑" if higher_is_better else "↓"
    parts = [_svg_open(width, height, title),
             f'<text x="{width - 12}" y="20" text-anchor="end" fill="#666">{arrow}</text>']
    if lo < 0:
        parts.append(f'<line x1="{x(0):.1f}" y1="{top - 4}" x2="{x(0):.1f}" y2="{height - 8}" stroke="#999"/>')
    for i, (label, v) in enumerate(zip(labels, vals)):
        y = top + i * row_h
        cy = y + bar_h / 2 + 4
        parts.append(f'<text x="{x0 - 6:.1f}" y="{cy:.1f}" text-anchor="end" fill="#222"><title>{_esc(label)}'
                     f'</title>{_esc(_clip(label, label_w - 8))}</text>')
        if v is None:
            parts.append(f'<text x="{x0 + 4:.1f}" y="{cy:.1f}" fill="#888">–</text>')
            continue
        a, b = sorted((x(0), x(v)))
        color = BEST if i == best else BAR
        parts.append(f'<rect x="{a:.1f}" y="{y}" width="{max(b - a, 1):.1f}" height="{bar_h}" fill="{color}">'
                     f'<title>{_esc(label)}: {_esc(fmt(v))}</title></rect>')
        parts.append(f'<text x="{b + 4:.1f}" y="{cy:.1f}" fill="#222"'
                     f'{BOLD if i == best else ""}>{_esc(fmt(v))}</text>')
    if not labels:
        parts.append(f'<text x="{x0:.1f}" y="{top + 12}" fill="#888">–</text>')
    parts.append("</svg>")
    return "".join(parts)


def _blend(frac: float) -> str:
    """White -> the bar blue, by `frac` in [0, 1]."""
    frac = min(max(frac, 0.0), 1.0)
    c = (0x4c, 0x78, 0xa8)
    return "#" + "".join(f"{round(255 + (ch - 255) * frac):02x}" for ch in c)


def svg_confusion(labels: list[str], matrix: list[list[int]], title: str, *,
                  axes: tuple[str, str] = ("true", "predicted")) -> str:
    """A heatmap of counts: rows are the true labels, columns the predicted ones; a cell's shade is its share of
    the row (so the diagonal reads as per-class recall), its text the count."""
    n = max(len(labels), len(matrix), max((len(r) for r in matrix), default=0))
    labels = [str(labels[i]) if i < len(labels) else str(i) for i in range(n)]
    cell = max(24, min(56, 448 // max(n, 1)))
    lab_w = min(160.0, max((_text_w(s) for s in labels), default=0) + 4)
    left = 12 + 18 + lab_w + 6          # y axis title, row labels
    top = 30 + 18 + lab_w * 0.72 + 8    # title, x axis title, rotated column labels
    width = max(left + n * cell + 16, _text_w(title, 14) + 24)
    height = top + n * cell + 16
    parts = [_svg_open(width, height, title)]
    gx, gy = left, top
    parts.append(f'<text x="{gx + n * cell / 2:.1f}" y="44" text-anchor="middle" fill="#444" font-weight="bold">'
                 f'{_esc(axes[1])}</text>')
    parts.append(f'<text transform="translate(22 {gy + n * cell / 2:.1f}) rotate(-90)" text-anchor="middle" '
                 f'fill="#444" font-weight="bold">{_esc(axes[0])}</text>')
    for j, lab in enumerate(labels):
        cx = gx + j * cell + cell / 2 + 4
        parts.append(f'<text transform="translate({cx:.1f} {gy - 6:.1f}) rotate(-45)" fill="#222">'
                     f'<title>{_esc(lab)}</title>{_esc(_clip(lab, lab_w))}</text>')
    for i, lab in enumerate(labels):
        row = [int(v or 0) for v in (matrix[i] if i < len(matrix) else [])] + [0] * n
        row = row[:n]
        total = sum(row)
        cy = gy + i * cell
        parts.append(f'<text x="{gx - 6:.1f}" y="{cy + cell / 2 + 4:.1f}" text-anchor="end" fill="#222">'
                     f'<title>{_esc(lab)}</title>{_esc(_clip(lab, lab_w))}</text>')
        for j, v in enumerate(row):
            frac = v / total if total else 0.0
            parts.append(f'<rect x="{gx + j * cell}" y="{cy}" width="{cell}" height="{cell}" fill="{_blend(frac)}" '
                         f'stroke="#ffffff"><title>{_esc(axes[0])}={_esc(lab)}, {_esc(axes[1])}={_esc(labels[j])}: '
                         f'{_esc(fmt(v))}</title></rect>')
            parts.append(f'<text x="{gx + j * cell + cell / 2:.1f}" y="{cy + cell / 2 + 4:.1f}" text-anchor="middle" '
                         f'fill="{"#ffffff" if frac > 0.55 else "#222"}"'
                         f'{BOLD if i == j else ""}>{_esc(fmt(v))}</text>')
    parts.append(f'<rect x="{gx}" y="{gy}" width="{n * cell}" height="{n * cell}" fill="none" stroke="#999"/>')
    parts.append("</svg>")
    return "".join(parts)


def svg_calibration(bins: list[dict], title: str, *, axes: tuple[str, str] = ("confidence", "accuracy")) -> str:
    """A reliability diagram: each bin's accuracy (bar and point, the point's size by count) at its mean
    confidence, against the dashed diagonal of perfect calibration. Empty bins are left out."""
    size, left, top, right, bottom = 300, 52, 36, 16, 42
    width, height = left + size + right, top + size + bottom
    pts = []
    for b in bins or []:
        c, a, k = _num(b.get("confidence")), _num(b.get("accuracy")), b.get("count")
        if c is None or a is None or (k is not None and not k):
            continue
        pts.append((min(max(c, 0.0), 1.0), min(max(a, 0.0), 1.0), int(k or 0)))
    pts.sort()

    def px(v: float) -> float:
        return left + v * size

    def py(v: float) -> float:
        return top + (1 - v) * size

    parts = [_svg_open(width, height, title)]
    for t in (0, 0.2, 0.4, 0.6, 0.8, 1.0):
        parts.append(f'<line x1="{px(t):.1f}" y1="{py(0):.1f}" x2="{px(t):.1f}" y2="{py(1):.1f}" stroke="#eee"/>'
                     f'<line x1="{px(0):.1f}" y1="{py(t):.1f}" x2="{px(1):.1f}" y2="{py(t):.1f}" stroke="#eee"/>'
                     f'<text x="{px(t):.1f}" y="{py(0) + 15:.1f}" text-anchor="middle" fill="#444">{t:g}</text>'
                     f'<text x="{px(0) - 6:.1f}" y="{py(t) + 4:.1f}" text-anchor="end" fill="#444">{t:g}</text>')
    parts.append(f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#999"/>')
    parts.append(f'<line x1="{px(0):.1f}" y1="{py(0):.1f}" x2="{px(1):.1f}" y2="{py(1):.1f}" stroke="#888" '
                 f'stroke-dasharray="5 4"/>')
    bar_w = size / max(len(bins or []), 10) * 0.8
    kmax = max((k for _, _, k in pts), default=0)
    for c, a, k in pts:
        parts.append(f'<rect x="{px(c) - bar_w / 2:.1f}" y="{py(a):.1f}" width="{bar_w:.1f}" '
                     f'height="{py(0) - py(a):.1f}" fill="{BAR}" fill-opacity="0.25"/>')
    if len(pts) > 1:
        parts.append('<polyline fill="none" stroke="' + BAR + '" stroke-width="2" points="'
                     + " ".join(f"{px(c):.1f},{py(a):.1f}" for c, a, _ in pts) + '"/>')
    for c, a, k in pts:
        r = 3 + (5 * math.sqrt(k / kmax) if kmax else 0)
        parts.append(f'<circle cx="{px(c):.1f}" cy="{py(a):.1f}" r="{r:.1f}" fill="{BAR}"><title>'
                     f'{_esc(axes[0])} {_esc(fmt(c))}, {_esc(axes[1])} {_esc(fmt(a))}, n={_esc(fmt(k))}</title>'
                     f'</circle>')
    if not pts:
        parts.append(f'<text x="{px(0.5):.1f}" y="{py(0.5):.1f}" text-anchor="middle" fill="#888">–</text>')
    parts.append(f'<text x="{px(0.5):.1f}" y="{height - 8}" text-anchor="middle" fill="#444" font-weight="bold">'
                 f'{_esc(axes[0])}</text>')
    parts.append(f'<text transform="translate(14 {py(0.5):.1f}) rotate(-90)" text-anchor="middle" fill="#444" '
                 f'font-weight="bold">{_esc(axes[1])}</text>')
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------------------------------------------- layout

# blocks: ("h", level, text) | ("p", text) | ("note", text) | ("table", headers, rows, bold)
#         | ("charts", [(title, svg)]) | ("code", text) | ("details", summary, text)

def _direction(key: str) -> bool | None:
    return higher_is_better(key) if has_direction(key) else None


def _metric_header(key: str, lang: str) -> str:
    return f"{metric_name(key, lang)} {_arrow(key)}".rstrip()


def _column_header(column: str, lang: str) -> str:
    bench, key = split_column(column)
    return f"{bench}{SEP}{_metric_header(key, lang)}" if bench else _metric_header(key, lang)


def _bold_best(rows: list[list[Any]], keys: list[str | None], offset: int) -> list[list[bool]]:
    """Bold flags for table rows whose columns from `offset` hold the values of metric `keys` (None: no bold)."""
    bold = [[False] * len(r) for r in rows]
    for j, key in enumerate(keys):
        if key is None or not has_direction(key):
            continue
        i = _best_index([r[offset + j] for r in rows], higher_is_better(key))
        if i is not None and len(rows) > 1:
            bold[i][offset + j] = True
    return bold


def _yes_no(v: Any) -> str:
    return "✓" if v is True else "✗" if v is False else "–"


def _blocks(reports: list[dict], lang: str, title: str | None, generated: str | None) -> tuple[str, list]:
    L = lambda key: pick(T[key], lang)  # noqa: E731
    reports = _sorted(reports)
    doc_title = title or L("title")
    when = generated or datetime.now().strftime("%Y-%m-%d %H:%M")
    benches = []
    for r in reports:
        if str(r.get("benchmark")) not in benches:
            benches.append(str(r.get("benchmark")))
    out: list = [("p", f"{L('generated')}: {when} · {L('runs_n')}: {len(reports)} · "
                       f"{L('benchmark')}: {', '.join(benches) or '–'}")]

    columns, rows = comparison(reports)
    out.append(("h", 2, L("comparison")))
    if rows and columns:
        out.append(("note", L("comparison_note")))
        headers = [L("model"), *[_column_header(c, lang) for c in columns], L("runs")]
        cells = [[r["model"], *[r.get(c) for c in columns], ", ".join(r["runs"])] for r in rows]
        bold = _bold_best(cells, [split_column(c)[1] for c in columns], 1)
        out.append(("table", headers, [[c if i == 0 or i == len(c_row) - 1 else fmt(c) for i, c in enumerate(c_row)]
                                       for c_row in cells], bold))
        out.append(("h", 3, L("charts")))
        out.append(("charts", [(_column_header(c, lang),
                                svg_bars(_column_header(c, lang), {r["model"]: r.get(c) for r in rows},
                                         _direction(split_column(c)[1]))) for c in columns]))
    else:
        out.append(("p", L("none")))

    for rep in reports:
        models = rep.get("models") or []
        name = str(rep.get("name") or rep.get("run_id") or "?")
        out.append(("h", 2, f"{name} — {rep.get('benchmark') or '?'}"))
        task = rep.get("task")
        meta = [(L("run"), rep.get("run_id")), (L("created"), rep.get("created")),
                (L("task"), pick(TASKS.get(task, task), lang) if task else None),
                (L("benchmark"), rep.get("benchmark")), (L("split"), rep.get("split")),
                (L("n"), fmt(rep.get("n")) if rep.get("n") is not None else None),
                (L("seed"), rep.get("seed"))]
        out.append(("table", [L("item"), L("value")],
                    [[k, "–" if v is None or v == "" else str(v)] for k, v in meta], None))

        keys: list[str] = []
        for m in models:
            for k in m.get("metrics") or {}:
                if k not in keys and k not in SPEED:
                    keys.append(k)
        keys = _order_metrics(keys, [task])
        if models:
            out.append(("h", 3, L("metrics")))
            has_kind = any(m.get("kind") for m in models)
            lead = [L("model")] + ([L("kind")] if has_kind else [])
            headers = [*lead, *[_metric_header(k, lang) for k in keys], L("seconds"), L("examples_per_s")]
            raw = []
            for m in models:
                mt = m.get("metrics") or {}
                raw.append([_label(m), *([m.get("kind") or "–"] if has_kind else []), *[mt.get(k) for k in keys],
                            m.get("seconds", mt.get("seconds")), m.get("examples_per_s", mt.get("examples_per_s"))])
            bold = _bold_best(raw, [*keys, None, None], len(lead))
            out.append(("table", headers, [[c if i < len(lead) else fmt(c) for i, c in enumerate(r)] for r in raw],
                        bold))

        for m in models:
            label = _label(m)
            charts = []
            if m.get("confusion"):
                t = f"{L('confusion')} — {label}"
                charts.append((t, svg_confusion(m.get("labels") or [], m["confusion"], t,
                                                axes=(L("true"), L("predicted")))))
            cal = m.get("calibration")
            if cal and cal.get("bins"):
                ece = cal.get("ece")
                t = f"{L('calibration')} — {label}" + (f" (ECE {fmt(ece)})" if _num(ece) is not None else "")
                charts.append((t, svg_calibration(cal["bins"], t, axes=(L("confidence"), L("accuracy")))))
            per_class = m.get("per_class")
            if not charts and not per_class:
                continue
            out.append(("h", 3, label))
            if charts:
                out.append(("charts", charts))
            if per_class:
                out.append(("p", L("per_class")))
                out.append(("table", [L("class"), L("precision"), L("recall"), L("f1"), L("support")],
                            [[str(c), *[fmt((d or {}).get(k)) for k in ("precision", "recall", "f1", "support")]]
                             for c, d in per_class.items()], None))

        judge = rep.get("judge")
        if judge:
            out.append(("h", 3, L("judge")))
            out.append(("note", L("judge_note")))
            out.append(("table", [L("item"), L("value")],
                        [[L("judge_model"), str(judge.get("model") or "–")],
                         [L("note"), str(judge.get("note") or "–")]], None))

        templates = rep.get("templates")
        if templates:
            out.append(("h", 3, L("templates")))
            for t in templates:
                out.append(("p", f"{L('template')}: {t.get('name') or '?'}"))
                out.append(("code", str(t.get("text") or "")))

        for m in models:
            samples = (m.get("samples") or [])[:MAX_SAMPLES]
            if not samples:
                continue
            out.append(("h", 3, f"{L('samples')} — {_label(m)}"))
            has_ref = any(s.get("reference") is not None for s in samples)
            has_ok = any(s.get("correct") is not None for s in samples)
            headers = [L("input"), *([L("reference")] if has_ref else []), L("prediction"),
                       *([L("correct")] if has_ok else [])]
            out.append(("table", headers,
                        [[_clip_text(s.get("input")), *([_clip_text(s.get("reference"))] if has_ref else []),
                          _clip_text(s.get("prediction")), *([_yes_no(s.get("correct"))] if has_ok else [])]
                         for s in samples], None))

    if any(r.get("config") for r in reports):
        out.append(("h", 2, L("configs")))
        for rep in reports:
            if rep.get("config"):
                out.append(("details", f"{rep.get('name') or '?'} ({rep.get('run_id') or '?'})",
                            json.dumps(rep["config"], ensure_ascii=False, indent=2, sort_keys=True, default=str)))
    return doc_title, out


def _clip_text(v: Any, limit: int = 600) -> str:
    if v is None:
        return "–"
    s = str(v)
    return s if len(s) <= limit else s[:limit] + "…"


# ---------------------------------------------------------------------------------------------------- HTML

CSS = f"""
body {{ font-family: {FONT}; color: #222; max-width: 1100px; margin: 2em auto; padding: 0 1em; line-height: 1.5; }}
h1 {{ font-size: 1.7em; margin-bottom: 0.2em; }}
h2 {{ border-bottom: 2px solid #4c78a8; padding-bottom: 0.2em; margin-top: 2em; }}
h3 {{ margin-top: 1.4em; }}
table {{ border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; vertical-align: top; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
th {{ background: #f2f5f9; }}
td {{ white-space: pre-wrap; word-break: break-word; }}
.note {{ background: #fff7e6; border-left: 4px solid #f58518; padding: 0.5em 0.8em; margin: 0.6em 0; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 12px; margin: 0.6em 0; }}
.charts figure {{ margin: 0; }}
pre {{ background: #f6f6f6; padding: 0.6em; white-space: pre-wrap; word-break: break-word; }}
.meta {{ color: #555; }}
@media print {{ .charts figure, table {{ break-inside: avoid; }} }}
"""


def _is_num_cell(s: str) -> bool:
    t = s.replace(",", "").replace("–", "")
    try:
        float(t)
        return True
    except ValueError:
        return s == "–"


def _html_block(b: tuple) -> str:
    kind = b[0]
    if kind == "h":
        return f"<h{b[1]}>{_esc(b[2])}</h{b[1]}>"
    if kind == "p":
        return f"<p>{_esc(b[1])}</p>"
    if kind == "note":
        return f'<div class="note">{_esc(b[1])}</div>'
    if kind == "code":
        return f"<pre>{_esc(b[1])}</pre>"
    if kind == "details":
        return f"<details><summary>{_esc(b[1])}</summary><pre>{_esc(b[2])}</pre></details>"
    if kind == "charts":
        return ('<div class="charts">' + "".join(f'<figure aria-label="{_esc(t)}">{svg}</figure>' for t, svg in b[1])
                + "</div>")
    if kind == "table":
        headers, rows, bold = b[1], b[2], b[3]
        out = ["<table><thead><tr>", *[f"<th>{_esc(h)}</th>" for h in headers], "</tr></thead><tbody>"]
        for i, row in enumerate(rows):
            out.append("<tr>")
            for j, cell in enumerate(row):
                s = _esc(cell)
                if bold and bold[i][j]:
                    s = f"<strong>{s}</strong>"
                cls = ' class="num"' if j > 0 and _is_num_cell(str(cell)) else ""
                out.append(f"<td{cls}>{s}</td>")
            out.append("</tr>")
        out.append("</tbody></table>")
        return "".join(out)
    raise ValueError(kind)


def to_html(reports: list[dict], lang: str = "ko", title: str | None = None, *, generated: str | None = None) -> str:
    """One self-contained HTML file (inline CSS and SVG, no JavaScript, nothing fetched from elsewhere)."""
    doc_title, blocks = _blocks(reports, lang, title, generated)
    body = "\n".join(_html_block(b) for b in blocks)
    return (f'<!DOCTYPE html>\n<html lang="{_esc(lang)}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_esc(doc_title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"<h1>{_esc(doc_title)}</h1>\n{body}\n</body>\n</html>\n")


# ---------------------------------------------------------------------------------------------------- Markdown

def _md_text(s: Any) -> str:
    """Inline Markdown text: HTML escaped (renderers read entities), line breaks as <br>."""
    return html.escape(str(s), quote=False).replace("\r\n", "\n").replace("\n", "<br>")


def _md_cell(s: Any) -> str:
    return _md_text(s).replace("|", "\\|")


def _fence(text: str) -> str:
    run = longest = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def svg_data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _md_block(b: tuple) -> str:
    kind = b[0]
    if kind == "h":
        return f"{'#' * b[1]} {_md_text(b[2])}"
    if kind == "p":
        return _md_text(b[1])
    if kind == "note":
        return f"> {_md_text(b[1])}"
    if kind == "code":
        f = _fence(b[1])
        return f"{f}\n{b[1]}\n{f}"
    if kind == "details":
        f = _fence(b[2])
        return f"<details><summary>{_md_text(b[1])}</summary>\n\n{f}json\n{b[2]}\n{f}\n\n</details>"
    if kind == "charts":
        return "\n\n".join(f"![{_md_text(t).replace('[', '&#91;').replace(']', '&#93;')}]({svg_data_uri(svg)})"
                           for t, svg in b[1])
    if kind == "table":
        headers, rows, bold = b[1], b[2], b[3]
        lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |",
                 "|" + "|".join("---" if j == 0 else "---:" if all(_is_num_cell(str(r[j])) for r in rows) else "---"
                                for j in range(len(headers))) + "|"]
        for i, row in enumerate(rows):
            cells = [f"**{_md_cell(c)}**" if bold and bold[i][j] else _md_cell(c) for j, c in enumerate(row)]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)
    raise ValueError(kind)


def to_markdown(reports: list[dict], lang: str = "ko", title: str | None = None, *,
                generated: str | None = None) -> str:
    """The same report in Markdown: pipe tables, charts as base64 SVG data-URI images, configs in <details>."""
    doc_title, blocks = _blocks(reports, lang, title, generated)
    return f"# {_md_text(doc_title)}\n\n" + "\n\n".join(_md_block(b) for b in blocks) + "\n"


def card_section(report: dict, model_label: str) -> str:
    """The Markdown a model card gets for one evaluation of that model: benchmark, split, size, seed and every
    figure, with the run and eval artifact it came from (English: model cards are read on the Hub)."""
    entry = next((m for m in report.get("models", []) if _label(m) == model_label), None)
    if entry is None:
        return ""
    head = (f"## Evaluation: {_md_cell(report.get('benchmark'))} ({_md_cell(report.get('split'))}, "
            f"n = {fmt(report.get('n'))}, seed {report.get('seed')})\n\n"
            f"Task `{report.get('task')}`, measured by the Korean LLM Workbench (run {report.get('run_id')}, eval "
            f"artifact '{_md_cell(report.get('name'))}', {report.get('created')}).\n\n| metric | value |\n|---|---|\n")
    rows = "".join(f"| {_md_cell(metric_name(k, 'en'))} | {fmt(v)} |\n" for k, v in (entry.get("metrics") or {}).items())
    return head + rows
