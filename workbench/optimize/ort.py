"""ONNX export of a causal LM with its KV cache, and ONNX Runtime on the CPU (fp32, or int8 by onnxruntime's dynamic
quantization), behind the few calls the Optimize measurements make of a transformers model.

The graph is traced by `torch.onnx.export(..., dynamo=False)` (the TorchScript exporter: it needs neither onnxscript
nor torch.export's shape guards, and exports an 8x512 Llama in ~5 s here) from a wrapper that takes `input_ids, attention_mask, position_ids` and every layer's past keys and values as plain
tensors (`past.{i}.key|value`, shape batch x kv_heads x past x head_dim; a prompt's first pass gives them with past
length 0) and returns the logits and the presents. Eager attention is exported (the sdpa path builds its mask with
Python branches that tracing would freeze). The folder holds `model.onnx` (a protobuf: no pickle, no code),
`config.json`, the tokenizer and `workbench_quant.json` (method, inputs). optimum's exporter would do the same, but
optimum-onnx 0.1 requires transformers < 4.58 and this project is on transformers 5.

Needs `onnxruntime` (and `onnx` for the int8 pass); `available()` says what is missing."""
from __future__ import annotations

import json
from pathlib import Path

from ..artifacts import QUANT_FILE
from ..errors import UserError
from ..i18n import say

GRAPH = "model.onnx"
METHODS = {"onnx-fp32": False, "onnx-int8": True}


def available() -> str | None:
    """None when ONNX export and Runtime work here, else what is missing (a reason to skip)."""
    import importlib.util
    missing = [m for m in ("onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
    return f"{', '.join(missing)} not installed (pip install onnx onnxruntime)" if missing else None


def _dims(config) -> tuple[int, int, int]:
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return config.num_hidden_layers, getattr(config, "num_key_value_heads", None) or heads, head_dim


def export(src: Path, out: Path, *, int8: bool, opset: int = 17) -> dict:
    """Write the ONNX graph of the causal LM in folder `src` (fp32, or int8 weights with activations quantized at run
    time) into `out`, with config and tokenizer. Returns what workbench_quant.json holds."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

    from workbench.kvcache import cache_kwarg, returned_cache
    if available():
        raise UserError(say("ONNX export needs {m}", "ONNX 내보내기에 {m} 이(가) 필요합니다", m=available()))
    src, out = Path(src), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = AutoModelForCausalLM.from_pretrained(str(src), dtype=torch.float32, attn_implementation="eager").eval()
    n_layers, kv_heads, head_dim = _dims(model.config)

    class WithCache(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, position_ids, *past):
            cache = DynamicCache()
            for i in range(n_layers):
                cache.update(past[2 * i], past[2 * i + 1], i)
            o = self.m(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                       use_cache=True, **{cache_kwarg(self.m): cache})
            flat = []
            for layer in returned_cache(o).layers:
                flat += [layer.keys, layer.values]
            return (o.logits, *flat)

    past_names = [f"past.{i}.{kv}" for i in range(n_layers) for kv in ("key", "value")]
    present_names = [f"present.{i}.{kv}" for i in range(n_layers) for kv in ("key", "value")]
    p = 3  # example past length (the graph takes any, 0 included)
    example = (torch.ones(1, 2, dtype=torch.long), torch.ones(1, p + 2, dtype=torch.long),
               torch.arange(p, p + 2)[None], *[torch.zeros(1, kv_heads, p, head_dim) for _ in past_names])
    dyn = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "total"},
           "position_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"},
           **{n: {0: "batch", 2: "past"} for n in past_names}, **{n: {0: "batch", 2: "total"} for n in present_names}}
    fp32_path = out / ("model.fp32.onnx" if int8 else GRAPH)
    import warnings
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python branches on shapes (the mask is built per call)
        torch.onnx.export(WithCache(model), example, str(fp32_path), input_names=["input_ids", "attention_mask",
                          "position_ids", *past_names], output_names=["logits", *present_names], dynamic_axes=dyn,
                          opset_version=opset, dynamo=False)
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic
        quantize_dynamic(str(fp32_path), str(out / GRAPH), weight_type=QuantType.QInt8)
        fp32_path.unlink()
        for extra in out.glob("*.onnx.data"):
            extra.unlink()
    model.config.save_pretrained(out)
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(src)).save_pretrained(out)
    info = {"method": "onnx-int8" if int8 else "onnx-fp32", "graph": GRAPH, "layers": n_layers,
            "kv_heads": kv_heads, "head_dim": head_dim, "opset": opset,
            "note": ("int8 weights (onnxruntime quantize_dynamic, QInt8), activations quantized at run time" if int8
                     else "fp32") + "; ONNX protobuf (no pickle); run with workbench.optimize.ort.OrtCausalLM"}
    (out / QUANT_FILE).write_text(json.dumps(info, indent=1), encoding="utf-8")
    return info


def is_onnx_folder(folder: Path) -> bool:
    p = Path(folder) / QUANT_FILE
    if not p.is_file():
        return False
    try:
        return json.loads(p.read_text(encoding="utf-8")).get("method") in METHODS
    except ValueError:
        return False


class _Out:
    def __init__(self, logits, past, loss=None):
        self.logits, self.past_key_values, self.loss = logits, past, loss


class OrtCausalLM:
    """An ONNX Runtime session that answers the calls the measurements make of a transformers causal LM: `model(
    input_ids=, attention_mask=, past_key_values=, use_cache=, labels=)` (the past is the list of numpy arrays a
    previous call returned), `generate(...)` (greedy, left-padded batches) and `parameters()` (one CPU tensor, for
    code that asks where the model lives)."""

    training = False

    def __init__(self, folder: Path, threads: int = 0):
        import onnxruntime
        import torch
        from transformers import AutoConfig
        folder = Path(folder)
        self.info = json.loads((folder / QUANT_FILE).read_text(encoding="utf-8"))
        self.config = AutoConfig.from_pretrained(str(folder))
        so = onnxruntime.SessionOptions()
        so.intra_op_num_threads = int(threads or torch.get_num_threads())
        so.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(folder / self.info["graph"]), so,
                                                    providers=["CPUExecutionProvider"])
        self.past_names = [f"past.{i}.{kv}" for i in range(self.info["layers"]) for kv in ("key", "value")]
        self._anchor = torch.zeros(1)

    def parameters(self):
        return iter([self._anchor])

    def eval(self):
        return self

    def train(self, mode: bool = True):
        return self

    def __call__(self, input_ids, attention_mask=None, past_key_values=None, use_cache=True, position_ids=None,
                 labels=None, **_):
        import numpy as np
        import torch
        ids = np.asarray(input_ids, dtype=np.int64)
        b, s = ids.shape
        if past_key_values is None:
            past_key_values = [np.zeros((b, self.info["kv_heads"], 0, self.info["head_dim"]), np.float32)
                               for _ in self.past_names]
        total = past_key_values[0].shape[2] + s
        mask = np.ones((b, total), np.int64) if attention_mask is None else np.asarray(attention_mask, dtype=np.int64)
        if position_ids is None:  # positions count real tokens only (a left-padded row starts at 0)
            position_ids = np.clip(np.cumsum(mask, axis=1) - 1, 0, None)[:, -s:]
        outs = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                       "position_ids": np.asarray(position_ids, dtype=np.int64),
                                       **dict(zip(self.past_names, past_key_values))})
        logits = torch.from_numpy(outs[0])
        loss = None
        if labels is not None:
            loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
                                                     torch.as_tensor(labels)[:, 1:].reshape(-1), ignore_index=-100)
        return _Out(logits, outs[1:], loss)

    def generate(self, input_ids, attention_mask=None, max_new_tokens: int = 20, min_new_tokens: int = 0,
                 do_sample: bool = False, pad_token_id=None, eos_token_id=None, **_):
        """Greedy decoding with the KV cache (exactly max_new_tokens when min_new_tokens says so, else up to the end
        token); returns prompt + new tokens as a tensor like transformers' generate."""
        import numpy as np
        import torch
        if do_sample:
            raise UserError(say("the ONNX Runtime model decodes greedily only", "ONNX Runtime 모델은 탐욕 디코딩만 "
                                                                                "합니다"))
        ids = np.asarray(input_ids, dtype=np.int64)
        mask = np.ones_like(ids) if attention_mask is None else np.asarray(attention_mask, dtype=np.int64)
        eos = self.config.eos_token_id if eos_token_id is None else eos_token_id
        out, past, cur, done = [ids], None, ids, np.zeros(ids.shape[0], bool)
        for step in range(max_new_tokens):
            o = self(cur, attention_mask=mask, past_key_values=past)
            nxt = o.logits[:, -1].argmax(-1).numpy()
            if pad_token_id is not None:
                nxt = np.where(done, pad_token_id, nxt)
            out.append(nxt[:, None])
            if eos is not None and step + 1 >= min_new_tokens:
                done |= nxt == eos
                if done.all():
                    break
            past, cur = o.past_key_values, nxt[:, None]
            mask = np.concatenate([mask, np.ones((mask.shape[0], 1), np.int64)], axis=1)
        return torch.from_numpy(np.concatenate(out, axis=1))


def load(folder: Path, threads: int = 0) -> OrtCausalLM:
    if available():
        raise UserError(say("this folder is an ONNX model and needs {m}", "이 폴더는 ONNX 모델이라 {m} 이(가) 필요합니다",
                            m=available()))
    return OrtCausalLM(folder, threads)

