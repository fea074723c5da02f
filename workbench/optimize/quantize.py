"""Making the lighter model: CPU int8 (torch dynamic quantization, stored by `int8.py`), bitsandbytes 8-bit
(LLM.int8) and 4-bit (nf4 / fp4, double quantization, a compute dtype), each written as a folder that loads again
(`from_pretrained` for bitsandbytes, `int8.load` for CPU int8). An adapter is merged into its base first:
quantizing the merged weights is the order that works (a quantized base under a float adapter is QLoRA's
training setup, not a serving format)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..errors import UserError
from ..i18n import say

METHODS = ["int8-dynamic", "onnx-int8", "onnx-fp32", "bnb-int8", "bnb-4bit", "tensorrt-llm"]
CPU_ONLY = {"int8-dynamic", "onnx-int8", "onnx-fp32"}
BNB_BLOCK = 64  # bitsandbytes' CPU 4-bit kernels work on blocks of 64 input features


def merged_source(ws, folder: Path, out: Path, task: str = "causal-lm") -> Path:
    """The folder to quantize: the model itself, or for an adapter its base with the adapter merged in (saved to
    `out`)."""
    folder = Path(folder)
    if not (folder / "adapter_config.json").is_file():
        return folder
    from ..chat.models import base_model_path
    base = base_model_path(folder)
    if base is None or not Path(base).is_dir():
        raise UserError(say("adapter {f} cannot be quantized without its base model ({b} is missing): pick the base, "
                            "or re-create the adapter on a base that exists",
                            "어댑터 {f} 은(는) 기본 모델 없이 양자화할 수 없습니다 ({b} 이(가) 없음). 기본 모델을 고르거나 "
                            "있는 기본 모델로 어댑터를 다시 만드세요", f=folder.name, b=base or "?"))
    from ..finetune.save import load_finetuned
    model, tok, _, _ = load_finetuned(folder, None, task=task)
    merged = model.merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


def linear_layers(model) -> dict[str, tuple[int, int]]:
    """name -> (in_features, out_features) of every Linear (and GPT-2's Conv1D, which bitsandbytes also takes)."""
    import torch
    from transformers.pytorch_utils import Conv1D
    out = {}
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Linear):
            out[name] = (m.in_features, m.out_features)
        elif isinstance(m, Conv1D):
            out[name] = (m.weight.shape[0], m.weight.shape[1])
    return out


def plan(method: str, model) -> dict:
    """Which layers the method quantizes, which it must leave in float and why; refuses when it can take none."""
    import torch
    layers = linear_layers(model)
    head = {n for n in layers if n.endswith(("lm_head", "score", "classifier"))}
    body = {n: s for n, s in layers.items() if n not in head}
    if method == "int8-dynamic":
        plain = {n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
        skipped = {n: "a Conv1D layer (GPT-2 style), not nn.Linear: torch dynamic quantization does not take it"
                   for n in body if n not in plain}
        if body and len(skipped) == len(body):
            raise UserError(say("torch dynamic int8 cannot take this model's layers: its {k} layers (e.g. {e}) are "
                                "GPT-2 style Conv1D, not nn.Linear. Use bnb-int8 or bnb-4bit for it",
                                "torch 동적 int8 은 이 모델의 층을 양자화할 수 없습니다: {k}개 층 (예: {e}) 이 nn.Linear 가 "
                                "아닌 GPT-2 식 Conv1D 입니다. bnb-int8 이나 bnb-4bit 을 쓰세요", k=len(skipped),
                                e=next(iter(skipped))))
        return {"quantized": sorted(n for n in layers if n not in skipped), "float": skipped}
    if method == "bnb-4bit":
        skipped = {n: f"in_features {s[0]} is not a multiple of {BNB_BLOCK} (the CPU 4-bit block)"
                   for n, s in body.items() if s[0] % BNB_BLOCK}
        skipped.update({n: "the output head stays in float (bitsandbytes' default)" for n in head})
        if body and all(n in skipped for n in body):
            ex = next(iter(body))
            raise UserError(say("bitsandbytes 4-bit cannot take this model's layers: every one has an input width "
                                "that is not a multiple of {b} (e.g. {e}: {w}). Use int8-dynamic or bnb-int8, or a model "
                                "whose width is a multiple of {b}",
                                "bitsandbytes 4비트는 이 모델의 층을 양자화할 수 없습니다: 모든 층의 입력 폭이 {b} 의 배수가 "
                                "아닙니다 (예: {e}: {w}). int8-dynamic 이나 bnb-int8 을 쓰거나, 폭이 {b} 의 배수인 모델을 "
                                "쓰세요", b=BNB_BLOCK, e=ex, w=body[ex][0]))
        return {"quantized": sorted(n for n in body if n not in skipped), "float": skipped}
    if method in ("onnx-int8", "onnx-fp32"):  # onnxruntime's quantize_dynamic takes every MatMul with a weight
        return {"quantized": sorted(layers) if method == "onnx-int8" else [], "float": {}}
    if method == "bnb-int8":
        return {"quantized": sorted(body), "float": {n: "the output head stays in float (bitsandbytes' default)"
                                                     for n in head}}
    raise UserError(say("unknown method {m}", "알 수 없는 방법 {m}", m=method))


def _dtype(name: str):
    import torch
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


def model_class(task: str):
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification
    return AutoModelForSequenceClassification if task == "sequence-classification" else AutoModelForCausalLM


def quantize(cfg, src: Path, out: Path, task: str = "causal-lm") -> dict:
    """Write the quantized model of folder `src` into `out` (with its tokenizer). Returns {"method", "plan",
    "settings"} for the artifact's metadata."""
    import torch
    from transformers import AutoTokenizer, BitsAndBytesConfig
    out.mkdir(parents=True, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(str(src))
    cls = model_class(task)
    float_model = cls.from_pretrained(str(src), dtype=torch.float32).eval()
    p = plan(cfg.method, float_model)
    settings: dict = {}
    if cfg.method == "int8-dynamic":
        from . import int8
        int8.save(int8.quantize(float_model), out)
        settings = {"weights": "int8 per-tensor affine", "activations": "int8, quantized per batch at run time",
                    "format": "safetensors (no pickle)"}
    elif cfg.method in ("onnx-int8", "onnx-fp32"):
        from . import ort
        del float_model
        if task != "causal-lm":
            raise UserError(say("the ONNX export here is for causal language models, not classifiers: use int8-dynamic",
                                "여기서 ONNX 내보내기는 분류기가 아니라 언어 모델용입니다. int8-dynamic 을 쓰세요"))
        try:
            info = ort.export(src, out, int8=cfg.method == "onnx-int8")
        except UserError:
            shutil.rmtree(out, ignore_errors=True)
            raise
        except Exception as e:  # noqa: BLE001 - the exporter's reason, with the method named
            shutil.rmtree(out, ignore_errors=True)
            raise UserError(say("ONNX export of this model failed ({e}): use int8-dynamic",
                                "이 모델의 ONNX 내보내기가 실패했습니다 ({e}). int8-dynamic 을 쓰세요",
                                e=f"{type(e).__name__}: {str(e)[:300]}")) from None
        settings = {"runtime": "onnxruntime (CPU)", "format": "ONNX protobuf with the KV cache as inputs (no pickle)",
                    "weights": "int8 (quantize_dynamic, QInt8)" if cfg.method == "onnx-int8" else "fp32",
                    "opset": info["opset"]}
    else:
        del float_model
        if cfg.method == "bnb-int8":
            qc = BitsAndBytesConfig(load_in_8bit=True)
            dtype = torch.float16  # LLM.int8 keeps its outliers in fp16 (a float32 base logs a cast per matmul)
            settings = {"load_in_8bit": True}
        else:
            qc = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=cfg.quant_type,
                                    bnb_4bit_use_double_quant=cfg.double_quant,
                                    bnb_4bit_compute_dtype=_dtype(cfg.compute_dtype),
                                    llm_int8_skip_modules=sorted(p["float"]) or None)
            dtype = _dtype(cfg.compute_dtype)
            settings = {"load_in_4bit": True, "quant_type": cfg.quant_type, "double_quant": cfg.double_quant,
                        "compute_dtype": cfg.compute_dtype}
        try:
            model = cls.from_pretrained(str(src), quantization_config=qc, dtype=dtype,
                                                         device_map="cuda" if cfg.on_gpu else "cpu")
            model.save_pretrained(out, safe_serialization=True)
        except Exception as e:  # noqa: BLE001 - the library's reason, with the method named
            shutil.rmtree(out, ignore_errors=True)
            raise UserError(say("bitsandbytes could not quantize this model with {m} ({e})",
                                "bitsandbytes 가 이 모델을 {m} 으로 양자화하지 못했습니다 ({e})", m=cfg.method,
                                e=f"{type(e).__name__}: {str(e)[:300]}")) from None
    tok.save_pretrained(out)
    return {"method": cfg.method, "plan": {"quantized": len(p["quantized"]), "float": p["float"]},
            "settings": settings}


def folder_bytes(folder: Path) -> int:
    """Size on disk of a model folder's weights (safetensors files, or an ONNX graph and its external data)."""
    return sum(f.stat().st_size for pat in ("*.safetensors", "*.onnx", "*.onnx.data") for f in Path(folder).glob(pat))


def check_disk(folder: Path, where: Path) -> None:
    """Refuse before any work when the workspace disk cannot hold a copy of the model (plus a margin)."""
    need = 2 * folder_bytes(folder) + 50 * 2**20
    free = shutil.disk_usage(where).free
    if free < need:
        raise UserError(say("too little disk: quantizing needs about {n:.0f} MB in {w}, {f:.0f} MB are free. Free some "
                            "space (old runs' checkpoints) and retry",
                            "디스크가 모자랍니다: 양자화에 {w} 에서 약 {n:.0f} MB 가 필요한데 {f:.0f} MB 만 남았습니다. "
                            "공간을 비우고 (예전 실행의 체크포인트) 다시 하세요", n=need / 2**20, w=str(where),
                            f=free / 2**20))


def describe(folder: Path) -> dict:
    cfg = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    return {"architectures": cfg.get("architectures"), "hidden_size": cfg.get("hidden_size") or cfg.get("n_embd")}
