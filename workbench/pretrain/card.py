"""The model card (README.md) saved with a model artifact: config, data lineage, metrics, loss curve."""
from __future__ import annotations

import json
from pathlib import Path


def loss_curve_svg(points: dict[str, list[tuple[int, float]]], width: int = 640, height: int = 280) -> str:
    """A self-contained SVG line chart (no plotting library needed to read the card offline)."""
    pts = [p for series in points.values() for p in series]
    if not pts:
        return ""
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts) or 1
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    if y1 == y0:
        y1 = y0 + 1
    pad = 40
    sx = lambda x: pad + (x - x0) / max(1, x1 - x0) * (width - 2 * pad)  # noqa: E731
    sy = lambda y: height - pad - (y - y0) / (y1 - y0) * (height - 2 * pad)  # noqa: E731
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             f'font-size="11"><rect width="100%" height="100%" fill="white"/>',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#888"/>',
             f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#888"/>',
             f'<text x="{pad}" y="{pad - 8}">{y1:.2f}</text><text x="{pad}" y="{height - pad + 14}">{y0:.2f} '
             f'@ step {x0}</text><text x="{width - pad - 60}" y="{height - pad + 14}">step {x1}</text>']
    for i, (name, series) in enumerate(points.items()):
        if not series:
            continue
        c = colors[i % len(colors)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(series))
        parts.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{path}"/>')
        parts.append(f'<text x="{width - pad - 120}" y="{pad + 14 * (i + 1)}" fill="{c}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def write_model_card(folder: Path, *, name: str, meta: dict, curves: dict[str, list[tuple[int, float]]],
                     samples: list[dict]) -> None:
    svg = loss_curve_svg(curves)
    if svg:
        (folder / "loss_curve.svg").write_text(svg, encoding="utf-8")
    m = meta.get("metrics", {})
    lines = [
        "---", "language: ko", "library_name: transformers", "pipeline_tag: text-generation", "---", "",
        f"# {name}", "",
        f"A {meta.get('arch', {}).get('family', '?')} causal language model pretrained from scratch with the "
        "Korean LLM Workbench.", "",
        "## Data lineage",
        f"- corpus: {meta.get('corpus', {}).get('name') or meta.get('corpus', {}).get('path')}",
        f"- tokenizer: {meta.get('tokenizer', {}).get('name') or meta.get('tokenizer', {}).get('path')} "
        f"(vocab {meta.get('vocab_size')})",
        f"- training tokens: {meta.get('tokens_trained', 0):,}", "",
        "## Final metrics", "",
        "| metric | value |", "|---|---|",
        *[f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in m.items()], "",
        "## Loss curve", "", "![loss curve](loss_curve.svg)" if svg else "(no curve recorded)", "",
        "## Samples", "",
        *[f"- **{s.get('prompt', '')}** → {s.get('text', '')}" for s in samples], "",
        "## Configuration", "", "```json", json.dumps(meta.get("config", {}), ensure_ascii=False, indent=2), "```", "",
        "Load it with no project code:", "", "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "tok = AutoTokenizer.from_pretrained(path)", "model = AutoModelForCausalLM.from_pretrained(path)", "```",
    ]
    (folder / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
