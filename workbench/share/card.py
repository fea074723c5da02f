"""The model card (README.md) of an exported or pushed artifact: what it is, its whole lineage back to the raw text,
its data, config and evaluation figures, how to load it, and the card its stage wrote (if any), below.

Written fresh for what is shared; the artifact folder keeps its own README.md untouched."""
from __future__ import annotations

import json
import time
from pathlib import Path

from ..artifacts import read_meta
from ..lineage import Chain, chain_markdown, fmt_value

_LIB = {"adapter": "peft"}


def _front_matter(card: str) -> tuple[dict, str]:
    """The `key: value` lines of a card's YAML front matter and the body after it."""
    if not card.startswith("---"):
        return {}, card
    end = card.find("\n---", 3)
    if end < 0:
        return {}, card
    head, body = card[3:end], card[end + 4:]
    fields = {}
    for line in head.splitlines():
        if ":" in line and not line.startswith((" ", "-")):
            k, v = line.split(":", 1)
            fields[k.strip()] = v.strip()
    return fields, body.lstrip("\n")


def _task(meta: dict, folder: Path) -> str | None:
    task = meta.get("task")
    if task in ("sequence-classification", "causal-lm"):
        return task
    cfg = folder / "config.json"
    if cfg.is_file():
        try:
            arch = json.loads(cfg.read_text(encoding="utf-8")).get("architectures") or []
        except (OSError, ValueError):
            arch = []
        if any("SequenceClassification" in a for a in arch):
            return "sequence-classification"
        if arch:
            return "causal-lm"
    return None


def _load_snippet(kind: str, task: str | None, meta: dict) -> list[str]:
    if kind == "tokenizer":
        return ["from transformers import AutoTokenizer", "tok = AutoTokenizer.from_pretrained(path)"]
    auto = "AutoModelForSequenceClassification" if task == "sequence-classification" else "AutoModelForCausalLM"
    if kind == "adapter":
        base = meta.get("base_model_path") or "<the base model folder or Hub id>"
        return [f"from transformers import AutoTokenizer, {auto}", "from peft import PeftModel",
                f"base = {auto}.from_pretrained({json.dumps(str(base))})  # the base model this adapter was trained on",
                "model = PeftModel.from_pretrained(base, path)", "tok = AutoTokenizer.from_pretrained(path)"]
    if meta.get("quantization"):
        return ["# a quantized model: see the stage's own card below for how it loads (method "
                f"{(meta.get('quantization') or {}).get('method')})"]
    return [f"from transformers import AutoTokenizer, {auto}", f"model = {auto}.from_pretrained(path)",
            "tok = AutoTokenizer.from_pretrained(path)"]


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def model_card(ch: Chain, files: list[tuple[str, int]], *, repo_id: str | None = None) -> str:
    """The README.md for an artifact's chain (workbench.lineage.chain). files: (relative path, bytes) shared."""
    target = ch.target
    folder = Path(target.path)
    full_meta = {**(target.meta or {}), **read_meta(folder)}  # workbench.json holds more than the store row
    original = (folder / "README.md").read_text(encoding="utf-8") if (folder / "README.md").is_file() else ""
    orig_fields, orig_body = _front_matter(original)
    task = _task(full_meta, folder)
    last = ch.steps[-1]
    pipeline_tag = {"sequence-classification": "text-classification", "causal-lm": "text-generation"}.get(task or "")
    fm = ["---", "language: ko", f"library_name: {_LIB.get(target.kind, 'transformers')}"]
    if pipeline_tag and target.kind != "tokenizer":
        fm.append(f"pipeline_tag: {pipeline_tag}")
    fm += ["tags:", "- korean", "- korean-llm-workbench", f"- {target.shown_kind}"]
    for k, v in orig_fields.items():  # what the stage's card declared (a base model, a license) is kept
        if k not in ("language", "library_name", "pipeline_tag", "tags") and v:
            fm.append(f"{k}: {v}")
    fm.append("---")

    made_by = f"the **{target.stage}** stage (run `{target.run}`)" if target.run else \
        "a script outside a recorded run"
    lines = [*fm, "", f"# {target.name}", "",
             f"A Korean {target.shown_kind} made with the Korean LLM Workbench by {made_by}; exported "
             f"{time.strftime('%Y-%m-%d %H:%M %Z')}" + (f" to `{repo_id}`" if repo_id else "") + ".",
             "한국어 LLM 워크벤치로 만든 산출물입니다. 아래 계보는 원본 텍스트에서 이 산출물까지의 모든 단계입니다.", ""]

    lines += ["## Lineage (계보): from the raw text to this artifact", "",
              chain_markdown(ch, "en"), ""]

    lines += ["## Data (데이터)", ""]
    corpora = [s for s in ch.steps if s.node.kind in ("corpus", "dataset")]
    for s in corpora:
        figs = ", ".join(f"{k} {fmt_value(v)}" for k, v in s.figures.items())
        lines.append(f"- {s.node.kind} **{s.node.name}** (#{s.node.id})" + (f": {figs}" if figs else ""))
        for src in s.sources:
            lines.append(f"  - source: `{src}`")
    data = full_meta.get("data") if isinstance(full_meta.get("data"), dict) else None
    if data:
        lines.append(f"- training data of this {target.kind}: {data.get('source') or ''}")
        if data.get("sizes"):
            lines.append("  - rows: " + ", ".join(f"{k} {fmt_value(v)}" for k, v in data["sizes"].items()))
    if not corpora and not data:
        lines.append("- no corpus or dataset is recorded in this artifact's lineage")
    lines.append("")

    lines += ["## Evaluation (평가)", ""]
    own = {k: v for k, v in last.figures.items()}
    if own:
        lines += ["Figures recorded when it was made:", "", "| metric | value |", "|---|---|",
                  *[f"| {k} | {fmt_value(v)} |" for k, v in own.items()], ""]
    if ch.evaluations:
        lines += ["Evaluation reports that scored it:", "", "| report | benchmark | n | figures |", "|---|---|---|---|"]
        for e in ch.evaluations:
            figs = ", ".join(f"{k} {fmt_value(v)}" for k, v in e["figures"].items())
            lines.append(f"| {e['name']} (#{e['id']}) | {e.get('benchmark') or e.get('task') or ''} | "
                         f"{e.get('n') or ''} | {figs} |")
        lines.append("")
    if not own and not ch.evaluations:
        lines += ["No evaluation recorded yet (the Evaluate tab scores any model and adds it here).", ""]

    lines += ["## Configuration (설정)", ""]
    if last.config:
        lines += [f"The config of run `{target.run}` ({last.run.stage if last.run else target.stage}):", "",
                  "```json", json.dumps(last.config, ensure_ascii=False, indent=2, default=str), "```", ""]
    else:
        lines += ["Made outside a recorded run: no config was saved.", ""]

    lines += ["## Load it with no project code", "", "```python", "path = '<this folder>'",
              *_load_snippet(target.kind, task, full_meta), "```", ""]
    lines += ["## Files", "", *[f"- `{p}` ({_size(n)})" if p != "README.md" else f"- `{p}` (this card)"
                                for p, n in files], ""]
    if orig_body.strip():
        lines += ["---", "", f"## The card the {target.stage} stage wrote", "",
                  orig_body.replace("\n# ", "\n### ").replace("\n## ", "\n### ")]
    return "\n".join(lines).rstrip() + "\n"
