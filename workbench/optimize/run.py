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
# figure -> higher is better (for the change's sign in the report)
FIGURES = {"decode_tokens_per_s": True, "prefill_tokens_per_s": True, "ttft_ms": False, "decode_ms_p50": False,
           "decode_ms_p95": False, "ppl": False, "bpb": False, "peak_rss_mb": False, "size_mb": False}


def compare(before: dict, after: dict) -> dict:
    """Each figure before and after, with the change in % of the original."""
    out = {}
    for k in FIGURES:
        a, b = before.get(k), after.get(k)
        out[k] = {"before": a, "after": b,
                  "change_pct": round(100 * (b - a) / a, 2) if a not in (None, 0) and b is not None else None}
    tb, ta = before.get("throughput_tokens_per_s") or {}, after.get("throughput_tokens_per_s") or {}
    out["throughput_tokens_per_s"] = {bs: {"before": tb.get(bs), "after": ta.get(bs)} for bs in tb}
    return out


def _card(name: str, src_label: str, q: dict, cmp: dict, agree: dict) -> str:
    rows = "".join(f"| {k} | {v['before']} | {v['after']} | {v['change_pct'] if v['change_pct'] is not None else '–'} |\n"
                   for k, v in cmp.items() if k in FIGURES)
    return (f"# {name}\n\nQuantized by the Korean LLM Workbench's Optimize stage from `{src_label}` with "
            f"`{q['method']}` ({json.dumps(q['settings'], ensure_ascii=False)}). Layers quantized: "
            f"{q['plan']['quantized']}; left in float: {len(q['plan']['float'])}.\n\n"
            f"Measured in one run on the same prompts and text (CPU unless stated):\n\n"
            f"| figure | original | quantized | change % |\n|---|---|---|---|\n{rows}\n"
            f"Greedy outputs identical to the original's on {agree['greedy_exact_share']:.0%} of the prompts "
            f"(mean {agree['greedy_prefix_share']:.0%} of tokens before the first difference).\n")


def run(cfg: OptimizeConfig, ctx) -> dict:
    from ..artifacts import output_name, read_meta, write_meta
    from ..chat.models import _is_classifier, resolve
    from ..evaluate.benchmarks import load_prompts, load_texts
    from . import quantize as Q
    from .measure import agreement, measure_in_child
    ws = ctx.ws
    ref = resolve(ws, cfg.model)
    if _is_classifier(ref.path):
        raise UserError(say("'{m}' is a classifier: this stage quantizes causal language models for generation so far "
                            "(quantize the causal base it was fine-tuned from, or evaluate it in the Evaluate tab)",
                            "'{m}' 은(는) 분류기입니다. 이 단계는 아직 생성용 언어 모델만 양자화합니다 (미세조정의 기본 "
                            "언어 모델을 양자화하거나, 평가 탭에서 평가하세요)", m=cfg.model))
    name = output_name(ws, "model", cfg.output_name or f"{ref.name}-{cfg.method}", overwrite=cfg.overwrite,
                       run_id=ctx.run_id)
    if cfg.method == "tensorrt-llm":
        return _tensorrt(cfg, ctx, ref, name)
    from ..chat.models import base_model_path
    is_adapter = (Path(ref.path) / "adapter_config.json").is_file()
    Q.check_disk((base_model_path(Path(ref.path)) or ref.path) if is_adapter else Path(ref.path), ws.root)
    steps = 4
    ctx.progress(0, steps, say("reading the model (an adapter is merged into its base)",
                               "모델을 읽는 중 (어댑터는 기본 모델에 병합)"))
    src = Q.merged_source(ws, Path(ref.path), ctx.run_dir / "merged")
    texts, text_desc = load_texts(cfg.data, max_rows=cfg.max_rows, ws=ws)
    rows, prompt_desc = load_prompts(cfg.prompts, max_rows=cfg.n_prompts, seed=13)
    spec = {"prompts": [r["prompt"] for r in rows], "new_tokens": cfg.new_tokens, "batch_sizes": cfg.batch_sizes,
            "texts": texts, "max_length": cfg.max_length, "threads": cfg.threads}
    ctx.progress(1, steps, say("measuring the original", "원래 모델을 재는 중"))
    before = {**measure_in_child({**spec, "folder": str(src)}), "size_mb": Q.folder_bytes(src) / 2**20}
    if ctx.should_stop:
        return {"stopped": "after measuring the original"}
    staging = ws.staging_dir("model", name)
    try:
        ctx.progress(2, steps, say("quantizing with {m}", "{m} 으로 양자화하는 중", m=cfg.method))
        q = Q.quantize(cfg, src, staging)
        if ctx.should_stop:
            shutil.rmtree(staging, ignore_errors=True)
            return {"stopped": "after quantizing (nothing saved)"}
        ctx.progress(3, steps, say("measuring the result", "결과를 재는 중"))
        after = {**measure_in_child({**spec, "folder": str(staging)}), "size_mb": Q.folder_bytes(staging) / 2**20}
        cmp = compare(before, after)
        agree = agreement(before["greedy"], after["greedy"])
        # the job panel draws each figure as two bars: the original next to the quantized model
        ctx.metrics(1, {f"{side}/{k}": fig[k] for side, fig in (("before", before), ("after", after))
                        for k in FIGURES if fig.get(k) is not None})
        src_meta = read_meta(ref.path) or dict(ref.meta or {})
        report = {"method": cfg.method, "quantization": q, "original": {"name": ref.name, "artifact_id": ref.artifact_id,
                                                                        "path": str(ref.path)},
                  "text": text_desc, "prompts": prompt_desc, "n_prompts": len(rows), "new_tokens": cfg.new_tokens,
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
    return {"artifact": art_id, "name": name, "path": str(ws.artifact_dir("model", name)), "method": cfg.method,
            "speedup_decode": round(after["decode_tokens_per_s"] / before["decode_tokens_per_s"], 3),
            "size_ratio": round(after["size_mb"] / before["size_mb"], 3),
            "ppl_change_pct": cmp["ppl"]["change_pct"], **agree,
            "before": {k: before.get(k) for k in FIGURES}, "after": {k: after.get(k) for k in FIGURES}}


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
