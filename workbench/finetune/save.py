"""What a fine-tune leaves behind and what the tab does with it.

- an `adapter` artifact: a PEFT folder (adapter_config.json + adapter_model.safetensors) with the tokenizer,
  README.md (model card) and workbench.json (`base_model_path`, task, method, labels, metrics); it loads with
  `PeftModel.from_pretrained` / `AutoPeftModelFor...` and no project code;
- or a `model` artifact for full fine-tuning (a plain Hugging Face model folder);
- merge_and_save: an adapter merged into its base (`merge_and_unload`) as a plain `model` artifact;
- predict: label probabilities of a classifier (adapter or model), and of the base with the adapter truly off;
- answer: a chat adapter's (or model's) reply to prompts, with or without the adapter.
"""
from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

from ..artifacts import output_name, read_meta, write_meta
from ..errors import UserError
from ..i18n import say

TASK_NAMES = {"classification": "sequence-classification", "sft": "causal-lm"}


# -- the model card ------------------------------------------------------------------------------------------
def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def write_card(folder: Path, *, name: str, meta: dict, curves: dict) -> None:
    from ..pretrain.card import loss_curve_svg
    svg = loss_curve_svg(curves)
    if svg:
        (folder / "loss_curve.svg").write_text(svg, encoding="utf-8")
    task, method = meta["task"], meta["method"]
    base = meta["base_model"]
    labels = meta.get("labels") or {}
    tr = meta.get("trainable") or {}
    adapter = meta["kind"] == "adapter"
    auto = "AutoModelForSequenceClassification" if task == "sequence-classification" else "AutoModelForCausalLM"
    if adapter:
        n = len(labels.get("names") or [])
        extra = f", num_labels={n}, id2label={json.dumps(dict(enumerate(labels.get('names', []))), ensure_ascii=False)}" \
            if task == "sequence-classification" else ""
        pad = f"\nbase.config.pad_token_id = {meta.get('pad_token_id')}" if task == "sequence-classification" else ""
        load = ["from transformers import AutoTokenizer, " + auto, "from peft import PeftModel",
                f"base = {auto}.from_pretrained({json.dumps(meta['base_model_path'])}{extra}){pad}",
                "model = PeftModel.from_pretrained(base, path)", "tok = AutoTokenizer.from_pretrained(path)"]
    else:
        load = ["from transformers import AutoTokenizer, " + auto, f"model = {auto}.from_pretrained(path)",
                "tok = AutoTokenizer.from_pretrained(path)"]
    data = meta.get("data") or {}
    lines = [
        "---", "language: ko", f"library_name: {'peft' if adapter else 'transformers'}",
        f"pipeline_tag: {'text-classification' if task == 'sequence-classification' else 'text-generation'}",
        f"base_model: {base.get('name') or base.get('path')}", "---", "",
        f"# {name}", "",
        f"A {'classifier' if task == 'sequence-classification' else 'chat (instruction-following) model'} fine-tuned "
        f"with the Korean LLM Workbench: method **{method}**"
        + (f" (PEFT {meta.get('peft_type')})" if meta.get("peft_type") else "") + ".", "",
        "## Base model and data",
        f"- base model: {base.get('name') or ''} `{base.get('path')}`",
        f"- data: {data.get('source')}",
        "- splits (rows): " + ", ".join(f"{k} {v:,}" for k, v in (data.get("sizes") or {}).items()),
        "- how the splits were made: " + "; ".join(f"{k}: {v}" for k, v in (data.get("how") or {}).items()),
        f"- columns: {json.dumps(data.get('columns') or {}, ensure_ascii=False)}",
    ]
    if labels:
        lines.append("- labels: " + ", ".join(f"{i} = {n}" for i, n in enumerate(labels.get("names", []))))
    lines += ["", "## Trainable parameters",
              f"- {tr.get('trainable', 0):,} of {tr.get('total', 0):,} ({100 * (tr.get('share') or 0):.3f}%)", ""]
    if meta.get("targets"):
        lines += [f"- target modules: {', '.join(meta['targets'])}", ""]
    lines += ["## Figures", "", "| metric | value |", "|---|---|",
              *[f"| {k} | {_fmt(v)} |" for k, v in (meta.get("metrics") or {}).items()], ""]
    if meta.get("confusion"):
        names = labels.get("names", [])
        lines += ["Test confusion matrix (rows: true, columns: predicted):", "",
                  "| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|",
                  *[f"| {names[i]} | " + " | ".join(str(x) for x in row) + " |"
                    for i, row in enumerate(meta["confusion"])], ""]
    lines += ["## Loss curve", "", "![loss curve](loss_curve.svg)" if svg else "(no curve recorded)", ""]
    if meta.get("samples"):
        lines += ["## Sample answers", "", *[f"- **{s.get('prompt', '')}** → {s.get('text', '')}"
                                             for s in meta["samples"]], ""]
    if task == "sequence-classification" and meta.get("encoding", {}).get("pair_separator"):
        lines += [f"Sentence pairs are encoded as `text {meta['encoding']['pair_separator']} text_pair`.", ""]
    lines += ["## Load it with no project code", "", "```python", "path = '<this folder>'", *load, "```", "",
              "## Configuration", "", "```json", json.dumps(meta.get("config", {}), ensure_ascii=False, indent=2),
              "```"]
    (folder / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- loading a fine-tuned artifact (cached) ----------------------------------------------------------------------
_CACHE: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def _resolve_any(ref: str | Path, ws=None) -> tuple[Path, Any]:
    from ..artifacts import resolve
    return resolve(ws, ("adapter", "model"), str(ref), "fine-tuned model")


def _stamp(folder: Path) -> float:
    files = [folder / n for n in ("adapter_model.safetensors", "model.safetensors", "config.json", "workbench.json")]
    return max((f.stat().st_mtime for f in files if f.is_file()), default=0.0)


def result_info(ref: str | Path, ws=None, *, task: str | None = None) -> dict:
    """What a fine-tuned result is, without loading weights: {"folder", "meta", "is_adapter", "task"} where task is
    "sequence-classification" or "causal-lm" (from workbench.json, else the config's architectures)."""
    folder, _ = _resolve_any(ref, ws)
    folder = Path(folder)
    meta = read_meta(folder)
    kind_task = meta.get("task") or task
    if kind_task not in ("sequence-classification", "causal-lm"):
        arch = json.loads((folder / "config.json").read_text()).get("architectures", [""]) if \
            (folder / "config.json").is_file() else [""]
        kind_task = "sequence-classification" if any("SequenceClassification" in a for a in arch) else "causal-lm"
    return {"folder": folder, "meta": meta, "is_adapter": (folder / "adapter_config.json").is_file(),
            "task": kind_task}


def load_finetuned(ref: str | Path, ws=None, *, task: str | None = None):
    """(model in eval mode, tokenizer, meta, is_adapter) of an adapter or model folder; cached per folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    from ..artifacts import refuse_quantized
    from ..optimize import int8
    info = result_info(ref, ws, task=task)
    folder, meta, is_adapter, kind_task = info["folder"], info["meta"], info["is_adapter"], info["task"]
    key = (str(folder), _stamp(folder), task)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    cls = AutoModelForSequenceClassification if kind_task == "sequence-classification" else AutoModelForCausalLM
    tok_dir = folder if any((folder / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")) else None
    if is_adapter:
        base = meta.get("base_model_path") or json.loads((folder / "adapter_config.json").read_text()).get(
            "base_model_name_or_path")
        if not base:
            raise UserError(say("adapter {f} names no base model", "어댑터 {f} 에 기본 모델이 적혀 있지 않습니다", f=folder))
        kw: dict[str, Any] = {"dtype": torch.float32}
        if kind_task == "sequence-classification":
            names = (meta.get("labels") or {}).get("names") or []
            kw.update(num_labels=len(names) or 2, id2label=dict(enumerate(names)) if names else None,
                      label2id={n: i for i, n in enumerate(names)} if names else None)
            kw = {k: v for k, v in kw.items() if v is not None}
        try:
            with torch.random.fork_rng():
                torch.manual_seed(0)  # an untrained head (adapter off) is the same every time it is loaded
                model = cls.from_pretrained(str(base), **kw)
        except Exception as e:  # noqa: BLE001
            raise UserError(say("the base model {b} of adapter {f} cannot be loaded ({e})",
                                "어댑터 {f} 의 기본 모델 {b} 을(를) 불러올 수 없습니다 ({e})", b=base, f=folder,
                                e=f"{type(e).__name__}: {str(e)[:200]}")) from None
        if meta.get("pad_token_id") is not None:
            model.config.pad_token_id = meta["pad_token_id"]
        from peft import PeftModel
        model = PeftModel.from_pretrained(model, str(folder), is_trainable=False)
        tokenizer = AutoTokenizer.from_pretrained(str(tok_dir or base))
    elif int8.is_int8_folder(folder):  # the Optimize stage's CPU int8: it answers (feedback sampling, trying it)
        model, tokenizer = int8.load(folder), AutoTokenizer.from_pretrained(str(folder))
    else:
        refuse_quantized(folder, str(ref), say("loaded with transformers (an ONNX graph runs in ONNX Runtime)",
                                               "transformers 로 불러올 수 없습니다 (ONNX 그래프는 ONNX Runtime 에서 돕니다)"))
        model = cls.from_pretrained(str(folder), dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    if tokenizer.pad_token_id is None and model.config.pad_token_id is not None:
        tokenizer.pad_token_id = model.config.pad_token_id
    model.eval()
    out = (model, tokenizer, meta, is_adapter)
    with _LOCK:
        _CACHE.clear()  # one fine-tuned model at a time: a tab switching between many should not pile them up
        _CACHE[key] = out
    return out


def _off(model, adapter: bool, is_adapter: bool):
    """A context in which the adapter is truly off (the base as it was), or nothing."""
    import contextlib
    if adapter:
        return contextlib.nullcontext()
    if not is_adapter:
        raise UserError(say("this is a fully fine-tuned model: it has no adapter to turn off; compare with its base "
                            "model instead", "전체 미세조정한 모델이라 끌 어댑터가 없습니다. 대신 기본 모델과 비교하세요"))
    return model.disable_adapter()


def predict(ref: str | Path, texts: list[str], pairs: list[str] | None = None, *, adapter: bool = True, ws=None,
            batch_size: int = 32) -> list[dict]:
    """Label probabilities of a fine-tuned classifier (adapter or model artifact, or a folder):
    [{"label": best name, "probs": {name: p}}] per text. adapter=False: the base with the adapter truly off
    (`model.disable_adapter()`; its classification head is then the untrained one)."""
    import torch

    from .data import encode_classifications, make_collator
    model, tok, meta, is_adapter = load_finetuned(ref, ws, task="sequence-classification")
    if meta.get("task") and meta["task"] != "sequence-classification":
        raise UserError(say("this model was fine-tuned for chat (sft), not classification: use answer() instead",
                            "이 모델은 분류가 아니라 채팅(sft)용으로 미세조정되었습니다. answer() 를 쓰세요"))
    if pairs is not None and len(pairs) != len(texts):
        raise UserError(say("give one second text per text ({a} texts, {b} pairs)",
                            "텍스트마다 두 번째 텍스트를 하나씩 주세요 (텍스트 {a}개, 쌍 {b}개)", a=len(texts), b=len(pairs)))
    names = [model.config.id2label.get(i, str(i)) for i in range(model.config.num_labels)]
    max_len = (meta.get("encoding") or {}).get("max_length", 512)
    pad = model.config.pad_token_id if model.config.pad_token_id is not None else (tok.pad_token_id or 0)
    collate = make_collator(pad, left=(meta.get("encoding") or {}).get("padding_side") == "left")
    items = [{"input_ids": ids} for ids in encode_classifications(tok, list(texts), pairs, max_len)]
    out = []
    with torch.no_grad(), _off(model, adapter, is_adapter):
        for s in range(0, len(items), batch_size):
            b = collate(items[s:s + batch_size])
            probs = torch.softmax(model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits.float(),
                                  -1)
            for row in probs.tolist():
                best = max(range(len(row)), key=row.__getitem__)
                out.append({"label": names[best], "probs": {n: round(p, 6) for n, p in zip(names, row)}})
    return out


def answer(ref: str | Path, prompts: list[str], *, adapter: bool = True, ws=None, max_new_tokens: int = 64,
           system_prompt: str = "") -> list[str]:
    """Greedy replies of a fine-tuned chat model to single-turn prompts (adapter=False: the base, adapter off)."""
    import torch
    model, tok, meta, is_adapter = load_finetuned(ref, ws, task="causal-lm")
    out = []
    with torch.no_grad(), _off(model, adapter, is_adapter):
        for p in prompts:
            msgs = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + \
                [{"role": "user", "content": p}]
            if getattr(tok, "chat_template", None):
                text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
            else:
                text = p
            ids = tok(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
            gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                 do_sample=False, pad_token_id=tok.pad_token_id if tok.pad_token_id is not None
                                 else tok.eos_token_id, eos_token_id=tok.eos_token_id)
            out.append(tok.decode(gen[0, ids.shape[1]:], skip_special_tokens=True))
    return out


# -- merge ----------------------------------------------------------------------------------------------------
def merge_and_save(ws, adapter: str, name: str = "", *, overwrite: bool = False) -> dict:
    """Merge an adapter artifact into its base (`merge_and_unload`, the base loaded in full precision even for a
    QLoRA adapter) and publish the result as a plain `model` artifact. Returns {"artifact", "path", "name"}."""

    from ..artifacts import resolve
    path, art = resolve(ws, "adapter", adapter, "adapter")
    path = Path(path)
    if not (path / "adapter_config.json").is_file():
        raise UserError(say("{p} is not a PEFT adapter folder (no adapter_config.json)",
                            "{p} 은(는) PEFT 어댑터 폴더가 아닙니다 (adapter_config.json 없음)", p=str(path)))
    meta = read_meta(path)
    name = output_name(ws, "model", name or f"{art.name if art else path.name}-merged", overwrite=overwrite)
    _CACHE.clear()
    model, tok, meta, _ = load_finetuned(path, ws)
    merged = model.merge_and_unload()
    _CACHE.clear()
    staging = ws.staging_dir("model", name)
    try:
        merged.save_pretrained(staging, safe_serialization=True)
        tok.save_pretrained(staging)
        new_meta = {**{k: v for k, v in meta.items() if k not in ("kind",)}, "stage": "finetune-merge",
                    "kind": "model", "merged_from": {"id": art.id if art else None, "path": str(path)}}
        write_meta(staging, new_meta)
        write_card(staging, name=name, meta=new_meta, curves={})
        parents = [art.id] if art else []
        base_id = (meta.get("base_model") or {}).get("id")
        if base_id is not None and ws.store.get_artifact(base_id) is not None:
            parents.append(base_id)
        art_id = ws.publish(staging, "model", name, parents=parents, overwrite=overwrite,
                            meta={k: new_meta.get(k) for k in ("stage", "task", "method", "chat_model", "metrics",
                                                                "base_model_path", "labels")})
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {"artifact": art_id, "path": str(ws.artifact_dir("model", name)), "name": name}
