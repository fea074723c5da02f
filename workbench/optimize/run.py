"""The Optimize stage's run: merge (adapters), measure the original, quantize, measure the result, and save it as a
`model` artifact with the before/after figures (workbench_optimize.json and the model card) and lineage to the
original. The two measurements run in processes of their own on the same prompts, text and settings."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..errors import UserError
from ..i18n import say
from .stage import OptimizeConfig

REPORT = "workbench_optimize.json"
# the figures compared, per task (a causal LM generates; a classifier labels)
FIGURES = ["decode_tokens_per_s", "prefill_tokens_per_s", "ttft_ms", "decode_ms_p50", "decode_ms_p95", "ppl", "bpb",
           "peak_rss_mb", "size_mb"]
CLASSIFIER_FIGURES = ["accuracy", "macro_f1", "ms_per_example", "peak_rss_mb", "size_mb"]
RATES = {"causal-lm": "throughput_tokens_per_s", "sequence-classification": "examples_per_s"}


def compare(before: dict, after: dict, figures: list[str] = FIGURES, rates: str = RATES["causal-lm"]) -> dict:
    """Each figure before and after, with the change in % of the original; the rate per batch size."""
    out = {}
    for k in figures:
        a, b = before.get(k), after.get(k)
        out[k] = {"before": a, "after": b,
                  "change_pct": round(100 * (b - a) / a, 2) if a not in (None, 0) and b is not None else None}
    tb, ta = before.get(rates) or {}, after.get(rates) or {}
    out[rates] = {bs: {"before": tb.get(bs), "after": ta.get(bs)} for bs in tb}
    return out


def _card(name: str, src_label: str, q: dict, cmp: dict, agree: dict) -> str:
    rows = "".join(f"| {k} | {v['before']} | {v['after']} | {v['change_pct'] if v['change_pct'] is not None else '–'} |\n"
                   for k, v in cmp.items() if "change_pct" in v)
    return (f"# {name}\n\nQuantized by the Korean LLM Workbench's Optimize stage from `{src_label}` with "
            f"`{q['method']}` ({json.dumps(q['settings'], ensure_ascii=False)}). Layers quantized: "
            f"{q['plan']['quantized']}; left in float: {len(q['plan']['float'])}.\n\n"
            f"Measured in one run on the same prompts and text (CPU unless stated):\n\n"
            f"| figure | original | quantized | change % |\n|---|---|---|---|\n{rows}\n"
            f"Outputs (greedy tokens, or predicted labels) identical to the original's on "
            f"{agree['greedy_exact_share']:.0%} of the inputs.\n")


def run(cfg: OptimizeConfig, ctx) -> dict:
    from ..artifacts import output_name, read_meta, write_meta
    from ..chat.models import _is_classifier, resolve
    from ..evaluate.benchmarks import load_prompts, load_texts
    from . import quantize as Q
    from .measure import agreement, measure_in_child
    ws = ctx.ws
    ref = resolve(ws, cfg.model)
    task = "sequence-classification" if _is_classifier(ref.path) else "causal-lm"
    name = output_name(ws, "model", cfg.output_name or f"{ref.name}-{cfg.method}", overwrite=cfg.overwrite,
                       run_id=ctx.run_id)
    if cfg.method == "tensorrt-llm":
        if task != "causal-lm":
            raise UserError(say("TensorRT-LLM engines here are for causal language models, not classifiers",
                                "여기서 TensorRT-LLM 엔진은 분류기가 아니라 언어 모델용입니다"))
        return _tensorrt(cfg, ctx, ref, name)
    if cfg.method.startswith("onnx") and task != "causal-lm":
        raise UserError(say("the ONNX export here is for causal language models, not classifiers: use int8-dynamic",
                            "여기서 ONNX 내보내기는 분류기가 아니라 언어 모델용입니다. int8-dynamic 을 쓰세요"))
    from ..chat.models import base_model_path
    is_adapter = (Path(ref.path) / "adapter_config.json").is_file()
    Q.check_disk((base_model_path(Path(ref.path)) or ref.path) if is_adapter else Path(ref.path), ws.root)
    steps = 4
    ctx.progress(0, steps, say("reading the model (an adapter is merged into its base)",
                               "모델을 읽는 중 (어댑터는 기본 모델에 병합)"))
    src = Q.merged_source(ws, Path(ref.path), ctx.run_dir / "merged", task=task)
    figures = FIGURES if task == "causal-lm" else CLASSIFIER_FIGURES
    common = {"task": task, "batch_sizes": cfg.batch_sizes, "max_length": cfg.max_length, "threads": cfg.threads}
    if task == "causal-lm":
        texts, text_desc = load_texts(cfg.data, max_rows=cfg.max_rows, ws=ws)
        rows, prompt_desc = load_prompts(cfg.prompts, max_rows=cfg.n_prompts, seed=13)
        spec = {**common, "prompts": [r["prompt"] for r in rows], "new_tokens": cfg.new_tokens, "texts": texts}
        n_inputs = len(rows)
    else:  # a classifier: its accuracy on labelled rows (the bundled sentiment sample unless data names a file)
        from ..evaluate.benchmarks import load_labelled
        from ..evaluate.scoring import label_map
        lab = load_labelled(cfg.data, max_rows=cfg.max_rows, seed=13, ws=ws)
        id2label = json.loads((src / "config.json").read_text(encoding="utf-8")).get("id2label") or {}
        model_names = [str(id2label.get(str(i), i)) for i in range(len(id2label))]
        spec = {**common, "rows": lab.rows, "names": lab.names,
                "label_map": label_map(model_names, lab.names, cfg.model)}
        text_desc, prompt_desc, n_inputs = lab.source, None, len(lab.rows)
    ctx.progress(1, steps, say("measuring the original", "원래 모델을 재는 중"))
    before = {**measure_in_child({**spec, "folder": str(src)}), "size_mb": Q.folder_bytes(src) / 2**20}
    if ctx.should_stop:
        return {"stopped": "after measuring the original"}
    staging = ws.staging_dir("model", name)
    try:
        ctx.progress(2, steps, say("quantizing with {m}", "{m} 으로 양자화하는 중", m=cfg.method))
        q = Q.quantize(cfg, src, staging, task)
        if ctx.should_stop:
            shutil.rmtree(staging, ignore_errors=True)
            return {"stopped": "after quantizing (nothing saved)"}
        ctx.progress(3, steps, say("measuring the result", "결과를 재는 중"))
        after = {**measure_in_child({**spec, "folder": str(staging)}), "size_mb": Q.folder_bytes(staging) / 2**20}
        cmp = compare(before, after, figures, RATES[task])
        agree = agreement(before["greedy"], after["greedy"])
        # the job panel draws each figure as two bars: the original next to the quantized model
        ctx.metrics(1, {f"{side}/{k}": fig[k] for side, fig in (("before", before), ("after", after))
                        for k in figures if fig.get(k) is not None})
        src_meta = read_meta(ref.path) or dict(ref.meta or {})
        report = {"method": cfg.method, "quantization": q, "original": {"name": ref.name, "artifact_id": ref.artifact_id,
                                                                        "path": str(ref.path)},
                  "task": task, "text": text_desc, "prompts": prompt_desc, "n_inputs": n_inputs,
                  "new_tokens": cfg.new_tokens if task == "causal-lm" else None,
                  "compare": cmp, "agreement": agree,
                  "before": {k: v for k, v in before.items() if k != "greedy"},
                  "after": {k: v for k, v in after.items() if k != "greedy"}}
        (staging / REPORT).write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
        meta = {**{k: v for k, v in src_meta.items() if k in ("task", "chat_model", "arch", "base_model_path")},
                "stage": "optimize", "kind": "model", "quantization": {"method": cfg.method, **q["settings"]},
                "optimized_from": report["original"]}
        meta.pop("base_model_path", None)
        write_meta(staging, meta)
        (staging / "README.md").write_text(_card(name, ref.label, q, cmp, agree), encoding="utf-8")
        art_id = ctx.publish(staging, "model", name, parents=[ref.artifact_id] if ref.artifact_id else [],
                             meta={k: meta[k] for k in ("stage", "quantization", "task", "chat_model") if k in meta},
                             overwrite=cfg.overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    ctx.progress(steps, steps, say("done", "완료"))
    rate = RATES[task]
    top = str(max(cfg.batch_sizes))
    out = {"artifact": art_id, "name": name, "path": str(ws.artifact_dir("model", name)), "method": cfg.method,
           "task": task, "size_ratio": round(after["size_mb"] / before["size_mb"], 3), **agree,
           f"{rate}_speedup_at_batch_{top}": round(after[rate][top] / before[rate][top], 3),
           "before": {k: before.get(k) for k in figures}, "after": {k: after.get(k) for k in figures}}
    if task == "causal-lm":
        out.update(speedup_decode=round(after["decode_tokens_per_s"] / before["decode_tokens_per_s"], 3),
                   ppl_change_pct=cmp["ppl"]["change_pct"])
    else:
        out.update(accuracy_change=round(after["accuracy"] - before["accuracy"], 4))
    return out


def _tensorrt(cfg: OptimizeConfig, ctx, ref, name: str) -> dict:
    """A TensorRT-LLM engine and a Triton repository (GPU machines with tensorrt_llm only; refused before work
    elsewhere, with the command to run there)."""
    from . import quantize as Q
    from .trtllm import build_engine, refuse_without_gpu, triton_repository
    refuse_without_gpu(cfg.model, name)
    src = Q.merged_source(ctx.ws, Path(ref.path), ctx.run_dir / "merged")
    staging = ctx.ws.staging_dir("model", name)
    try:
        info = build_engine(src, staging / "engine", max_batch=cfg.trt_max_batch, max_input_len=cfg.trt_max_input_len,
                            max_output_len=cfg.trt_max_output_len)
        repo = triton_repository(staging / "engine", staging / "triton", max_batch=cfg.trt_max_batch,
                                 max_seq_len=cfg.trt_max_input_len + cfg.trt_max_output_len)
        shutil.copytree(src, staging / "triton" / "tokenizer", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("*.safetensors"))
        art_id = ctx.publish(staging, "model", name, parents=[ref.artifact_id] if ref.artifact_id else [],
                             meta={"stage": "optimize", "quantization": {"method": "tensorrt-llm", **info}},
                             overwrite=cfg.overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {"artifact": art_id, "name": name, "engine": info, "triton_repository": str(repo)}
