"""CPU int8 with PyTorch's dynamic quantization (int8 weights, activations quantized on the fly per batch), saved
without pickle.

torch's quantized modules cannot be written by `save_pretrained` (it fails on their packed parameters) and
`torch.save` of them needs `weights_only=False`, i.e. unpickling arbitrary code. So the folder holds plain tensors in
safetensors: every quantized Linear as its int8 weight, scale and zero point (per-tensor affine, what
`quantize_dynamic` makes) and its float bias; every other tensor as it was; `config.json` for the architecture; and
`workbench_quant.json` naming the method and the quantized modules. `load` rebuilds the float model from the
config, quantizes it the same way, and puts the stored int8 values back, so the loaded model computes exactly what
the saved one did."""
from __future__ import annotations

import json
from pathlib import Path

from ..artifacts import QUANT_FILE
from ..errors import UserError
from ..i18n import say

METHOD = "torch-dynamic-int8"
WEIGHTS = "model.int8.safetensors"


def quantize(model):
    """The model with every nn.Linear replaced by a dynamically quantized int8 Linear (a new module tree)."""
    import warnings

    import torch
    with warnings.catch_warnings():  # torch 2.13 says torch.ao.quantization is deprecated in favour of torchao
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def _quantized_linears(model) -> dict:
    import torch.ao.nn.quantized.dynamic as nnqd
    return {n: m for n, m in model.named_modules() if isinstance(m, nnqd.Linear)}


def save(qmodel, folder: Path) -> dict:
    """Write a dynamically quantized model as safetensors + config. Returns what workbench_quant.json holds."""
    import torch
    from safetensors.torch import save_file
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    linears = _quantized_linears(qmodel)
    for name, mod in linears.items():
        w = mod.weight()
        if w.qscheme() != torch.per_tensor_affine:
            raise UserError(say("layer {n} is quantized {s}, which this format does not store",
                                "{n} 층의 양자화 방식 {s} 은(는) 이 형식으로 저장할 수 없습니다", n=name, s=str(w.qscheme())))
        tensors[f"{name}.weight.int8"] = w.int_repr().contiguous()
        tensors[f"{name}.weight.scale"] = torch.tensor([w.q_scale()], dtype=torch.float64)
        tensors[f"{name}.weight.zero_point"] = torch.tensor([w.q_zero_point()], dtype=torch.int64)
        b = mod.bias()
        if b is not None:
            tensors[f"{name}.bias"] = b.detach().contiguous()
    seen: dict[int, str] = {}
    for key, t in qmodel.state_dict().items():
        owner = key.rsplit(".", 1)[0]
        if owner in linears or owner.rsplit(".", 1)[0] in linears or "_packed_params" in key:
            continue
        if not isinstance(t, torch.Tensor) or t.is_quantized:
            continue
        ptr = t.data_ptr()
        if ptr in seen:  # a tensor shared by two names is stored once (safetensors refuses shared storage)
            continue
        seen[ptr] = key
        tensors[key] = t.detach().contiguous()
    save_file(tensors, str(folder / WEIGHTS), metadata={"format": "pt", "workbench": METHOD})
    qmodel.config.save_pretrained(folder)
    if getattr(qmodel, "generation_config", None) is not None:
        qmodel.generation_config.save_pretrained(folder)
    info = {"method": METHOD, "weights": WEIGHTS, "quantized_modules": sorted(linears),
            "note": "int8 weights (per-tensor affine) + float rest in safetensors; load with "
                    "workbench.optimize.int8.load (no pickle)"}
    (folder / QUANT_FILE).write_text(json.dumps(info, indent=1), encoding="utf-8")
    return info


def is_int8_folder(folder: Path) -> bool:
    p = Path(folder) / QUANT_FILE
    if not p.is_file():
        return False
    try:
        return json.loads(p.read_text(encoding="utf-8")).get("method") == METHOD
    except ValueError:
        return False


def load(folder: Path, *, task: str = "causal-lm"):
    """The model a folder written by save() holds, in eval mode, on the CPU (dynamic int8 runs on the CPU only)."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification
    folder = Path(folder)
    info = json.loads((folder / QUANT_FILE).read_text(encoding="utf-8"))
    config = AutoConfig.from_pretrained(str(folder))
    cls = AutoModelForSequenceClassification if task == "sequence-classification" else AutoModelForCausalLM
    with torch.random.fork_rng():
        model = cls.from_config(config, dtype=torch.float32)  # the structure; every value is overwritten below
    model = quantize(model.eval())
    tensors = load_file(str(folder / info.get("weights", WEIGHTS)))
    linears = _quantized_linears(model)
    missing = [n for n in info["quantized_modules"] if n not in linears]
    if missing:
        raise UserError(say("the int8 file names layers this architecture does not have ({m}): the folder is damaged or "
                            "its config.json belongs to another model",
                            "int8 파일에 이 구조에 없는 층이 있습니다 ({m}). 폴더가 손상되었거나 config.json 이 다른 모델의 "
                            "것입니다", m=", ".join(missing[:3])))
    for name in info["quantized_modules"]:
        q = torch._make_per_tensor_quantized_tensor(tensors.pop(f"{name}.weight.int8"),
                                                     float(tensors.pop(f"{name}.weight.scale")[0]),
                                                     int(tensors.pop(f"{name}.weight.zero_point")[0]))
        linears[name].set_weight_bias(q, tensors.pop(f"{name}.bias", None))
    # the float rest, tensor by tensor (a quantized Linear's own state-dict loader wants keys this format has not)
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    unexpected = []
    with torch.no_grad():
        for key, t in tensors.items():
            target = params.get(key, buffers.get(key))
            if target is None or target.shape != t.shape:
                unexpected.append(key)
                continue
            target.copy_(t)
    if unexpected:
        raise UserError(say("the int8 file holds tensors the model does not have ({k})",
                            "int8 파일에 모델에 없는 텐서가 있습니다 ({k})", k=", ".join(unexpected[:3])))
    stored = set(tensors)
    lacking = [k for k in params if k not in stored]
    if lacking:
        raise UserError(say("the int8 file lacks {n} tensors (e.g. {k}): it is incomplete",
                            "int8 파일에 텐서 {n}개가 없습니다 (예: {k}). 파일이 불완전합니다", n=len(lacking), k=lacking[0]))
    return model.eval()

