"""Learn: the core block of each family, read from the installed transformers, with what it does.

The source shown is the text of the very classes and functions the lab's models run, read from the
installed transformers' module file (the file path and version are shown with it), so it always
matches the installed version.

It is read without importing anything: the module file is located on disk (importlib's finder, no
import) and the pieces are found with `ast`, the same lines `inspect.getsource` gives. Importing
a modeling module to inspect it would pull in torch and most of transformers (about 10 s on a
2-core machine, 19 s on a busy one) just to show text. Only when a piece is not defined in that
file (a later transformers moved it elsewhere) is the module imported and inspected.
"""
from __future__ import annotations

import ast
import functools
import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import sys

# family -> (transformers module, [qualified names of the core pieces, in reading order])
CORE: dict[str, tuple[str, list[str]]] = {
    "gpt2": ("transformers.models.gpt2.modeling_gpt2", ["GPT2Attention.forward", "eager_attention_forward"]),
    "llama": ("transformers.models.llama.modeling_llama",
              ["LlamaAttention.forward", "apply_rotary_pos_emb", "repeat_kv", "LlamaMLP.forward"]),
    "mamba": ("transformers.models.mamba.modeling_mamba", ["MambaMixer.forward", "mamba_selective_scan"]),
    "mamba2": ("transformers.models.mamba2.modeling_mamba2", ["Mamba2Mixer.forward", "mamba2_chunk_scan",
                                                              "segment_sum"]),
    "rwkv": ("transformers.models.rwkv.modeling_rwkv", ["RwkvSelfAttention.forward", "rwkv_linear_attention_cpu",
                                                        "RwkvFeedForward.forward"]),
    "mixtral": ("transformers.models.mixtral.modeling_mixtral", ["MixtralSparseMoeBlock.forward",
                                                                 "MixtralTopKRouter.forward",
                                                                 "MixtralExperts.forward"]),
    "qwen2moe": ("transformers.models.qwen2_moe.modeling_qwen2_moe", ["Qwen2MoeSparseMoeBlock.forward",
                                                                      "Qwen2MoeTopKRouter.forward"]),
    "deepseekv3": ("transformers.models.deepseek_v3.modeling_deepseek_v3", ["DeepseekV3Attention.forward",
                                                                            "DeepseekV3TopkRouter.forward",
                                                                            "DeepseekV3MoE.forward"]),
}

# family -> (Korean, English): what the core block does and what it costs (T = length, d = width)
EXPLAIN: dict[str, tuple[str, str]] = {
    "gpt2": (
        "**멀티헤드 어텐션.** 토큰마다 질의(Q)·키(K)·값(V)을 만들고, 각 토큰이 앞의 모든 토큰과의 유사도(QKᵀ)를 "
        "softmax로 가중치 삼아 V를 섞습니다. 위치는 학습된 위치 임베딩으로 더합니다. 계산은 학습 시 T²·d, "
        "생성 시 토큰마다 앞선 T개의 K/V를 모두 읽어야 해서 KV 캐시가 T에 비례해 커집니다.",
        "**Multi-head attention.** Each token makes a query, key and value; every token mixes the values of all "
        "earlier tokens, weighted by softmax(QKᵀ). Positions come from a learned table. Training costs T²·d; "
        "generation reads every cached K/V, so the KV cache grows linearly with T."),
    "llama": (
        "**RoPE + GQA + SwiGLU.** 위치를 Q/K를 회전시켜(RoPE) 넣고, 여러 질의 헤드가 K/V 헤드 하나를 나눠 씁니다"
        "(grouped-query attention, `repeat_kv`): 계산은 여전히 T²이지만 KV 캐시가 헤드 수/KV 헤드 수 배 작아집니다. "
        "MLP는 게이트가 있는 SwiGLU(silu(gate)·up → down).",
        "**RoPE + GQA + SwiGLU.** Positions enter by rotating Q and K (RoPE); several query heads share one K/V "
        "head (grouped-query attention, `repeat_kv`): still T² compute, but the KV cache shrinks by heads/KV-heads. "
        "The MLP is gated: down(silu(gate(x)) * up(x))."),
    "mamba": (
        "**선택적 상태공간 스캔.** 어텐션 대신 채널마다 크기 N의 상태 h를 두고 h ← exp(Δ·A)·h + Δ·B·x, y = C·h 를 "
        "토큰마다 갱신합니다. Δ, B, C가 입력에 따라 달라지는 것이 '선택적'인 이유입니다. 계산은 T·d·N으로 길이에 "
        "선형이고, 생성 시 상태 크기는 길이와 무관하게 일정합니다. 여기서 보이는 `mamba_selective_scan`은 CUDA 커널이 "
        "없을 때 쓰는 참조 구현(토큰마다 도는 루프)입니다.",
        "**Selective state-space scan.** Instead of attention, each channel keeps a state h of size N, updated per "
        "token: h ← exp(Δ·A)·h + Δ·B·x, y = C·h. Δ, B and C depend on the input, hence 'selective'. Compute is "
        "T·d·N, linear in length, and the generation state is constant in size. The `mamba_selective_scan` shown "
        "is the reference used without the CUDA kernel: a loop over tokens."),
    "mamba2": (
        "**상태공간 이중성(SSD).** Mamba2는 A를 헤드마다 스칼라로 단순화해, 길이를 청크로 나누고 청크 안은 "
        "어텐션처럼 행렬곱으로, 청크 사이는 상태로 넘깁니다(`segment_sum`이 감쇠를 누적). 계산은 T·(청크 크기 + N)·d로 "
        "선형이며 행렬곱 위주라 하드웨어를 잘 씁니다. 생성 상태는 일정합니다.",
        "**State-space duality (SSD).** Mamba2 makes A a scalar per head, so the sequence splits into chunks: "
        "inside a chunk the scan is computed like masked attention with matmuls, across chunks a state is passed "
        "on (`segment_sum` accumulates the decay). Linear in T (T·(chunk + N)·d), matmul-heavy, constant "
        "generation state."),
    "rwkv": (
        "**시간 혼합(WKV) + 채널 혼합.** 각 채널이 지수 감쇠 w로 과거를 잊는 가중 평균 "
        "wkv_t = (Σ e^{-(t-1-i)w + k_i} v_i + e^{u+k_t} v_t) / (같은 가중치의 합)을 분자·분모 상태 두 개로 이어 갑니다"
        "(수치 안정을 위한 최대값 상태 포함). 선형 어텐션의 RNN 형태라 계산은 T·d, 생성 상태는 층마다 d 크기 벡터 "
        "다섯 개로 일정합니다.",
        "**Time-mix (WKV) + channel-mix.** Each channel keeps an exponentially decaying weighted average of the "
        "past, wkv_t = (Σ e^{-(t-1-i)w + k_i} v_i + e^{u+k_t} v_t) / (the same weights summed), carried as a "
        "numerator and a denominator state (plus a running max for stability). Linear attention as an RNN: T·d "
        "compute, and a constant state of five d-sized vectors per layer."),
    "mixtral": (
        "**Top-k 라우팅 전문가 혼합.** 라우터(선형층 + softmax)가 토큰마다 전문가 E개 중 k개를 골라 그 출력만 "
        "가중합합니다. 파라미터는 E배로 늘지만 토큰당 계산은 k개 전문가 몫뿐이라, '총 파라미터'와 '활성 파라미터'가 "
        "다릅니다. 어텐션은 Llama와 같습니다.",
        "**Top-k routed mixture of experts.** A router (linear + softmax) picks k of E experts per token and adds "
        "their outputs weighted by the router. Parameters grow E-fold while compute per token covers only k "
        "experts: total vs active parameters. Attention is Llama's."),
    "qwen2moe": (
        "**공유 전문가 + 라우팅 전문가.** Mixtral식 top-k 라우팅에 모든 토큰이 항상 거치는 공유 전문가를 더하고 "
        "(시그모이드 게이트로 섞음), 흔한 지식은 공유 전문가가, 특수한 지식은 라우팅 전문가가 맡게 합니다.",
        "**Shared + routed experts.** Mixtral-style top-k routing plus a shared expert every token goes through "
        "(mixed in by a sigmoid gate): common knowledge lives in the shared expert, specialised knowledge in the "
        "routed ones."),
    "deepseekv3": (
        "**멀티헤드 잠재 어텐션(MLA) + MoE.** K와 V를 작은 잠재 벡터(kv_lora_rank)로 압축해 캐시하고, 쓸 때 헤드별 "
        "K/V로 펼칩니다. RoPE는 별도의 작은 차원에만 적용합니다. 계산은 여전히 T²이지만 캐시가 토큰당 "
        "(kv_lora_rank + rope 차원)뿐이라 MHA보다 훨씬 작습니다. MLP는 시그모이드 점수의 라우터와 공유 전문가를 쓰는 "
        "MoE입니다.",
        "**Multi-head latent attention (MLA) + MoE.** K and V are compressed into one small latent (kv_lora_rank) "
        "that is what gets cached, and expanded to per-head K/V when used; RoPE goes on a separate small slice. "
        "Compute is still T², but the cache per token is only kv_lora_rank + rope dims, far below MHA. The MLP is "
        "an MoE with a sigmoid-scored router and shared experts."),
}


def _resolve(module, qualname: str):
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return inspect.unwrap(_kernel_wrapped(obj))


def _kernel_wrapped(obj):
    """The plain function under a hub-kernel wrapper: with `kernels` installed, transformers turns functions
    like `apply_rotary_pos_emb` into small nn.Module instances whose forward calls the original (a closure
    variable `func`); anything else comes back as it is."""
    fwd = getattr(type(obj), "forward", None)
    if isinstance(obj, type) or not callable(obj) or fwd is None or not getattr(fwd, "__closure__", None):
        return obj
    cells = dict(zip(fwd.__code__.co_freevars, fwd.__closure__))
    func = cells["func"].cell_contents if "func" in cells else None
    return func if inspect.isfunction(func) else obj


def transformers_version() -> str:
    mod = sys.modules.get("transformers")
    if mod is not None and getattr(mod, "__version__", None):
        return mod.__version__
    return importlib.metadata.version("transformers")


def module_file(mod_name: str) -> str | None:
    """The .py file a module would be imported from, found without importing it (or its package)."""
    mod = sys.modules.get(mod_name)
    if mod is not None and getattr(mod, "__file__", None):
        return mod.__file__
    top, _, rest = mod_name.partition(".")
    pkg = sys.modules.get(top)
    if pkg is not None and getattr(pkg, "__path__", None):
        roots = list(pkg.__path__)
    else:
        spec = importlib.util.find_spec(top)  # a top-level name: locates it, runs nothing
        roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        path = os.path.join(root, *rest.split(".")) + ".py" if rest else os.path.join(root, "__init__.py")
        if os.path.isfile(path):
            return path
    return None


@functools.lru_cache(maxsize=32)
def _parsed(path: str, mtime_ns: int) -> tuple[ast.Module, list[str]]:  # mtime: a reinstall invalidates it
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return ast.parse(text, filename=path), text.splitlines(keepends=True)


def _find_node(tree: ast.Module, qualname: str):
    """The (last, as Python binds it) top-level class or function definition of a dotted name, else None."""
    body, node = tree.body, None
    for part in qualname.split("."):
        found = [n for n in body if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                 and n.name == part]
        if not found:
            return None
        node = found[-1]
        body = node.body
    return node


def source_from_file(path: str, qualname: str) -> str | None:
    """The lines of a definition in a file (decorators included, as inspect.getsource gives them), or None."""
    tree, lines = _parsed(path, os.stat(path).st_mtime_ns)
    node = _find_node(tree, qualname)
    if node is None:
        return None
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return "".join(lines[start - 1:node.end_lineno])


def _imported_source(mod_name: str, qualname: str) -> str:
    """The slow way: import the module and inspect the object (a piece defined outside its module file)."""
    try:
        return inspect.getsource(_resolve(importlib.import_module(mod_name), qualname))
    except (AttributeError, OSError, TypeError, ImportError) as e:  # renamed in another transformers version
        return f"# {qualname}: not found in transformers {transformers_version()} ({type(e).__name__})\n"


def core_source(family: str) -> dict[str, object]:
    """{'file', 'version', 'pieces': [{'name', 'source'}], 'ko', 'en'} for a family, from the installed
    transformers."""
    mod_name, names = CORE[family]
    path = module_file(mod_name)
    pieces = []
    for q in names:
        src = source_from_file(path, q) if path else None
        pieces.append({"name": q, "source": src if src is not None else _imported_source(mod_name, q)})
    if path is None:
        path = inspect.getsourcefile(importlib.import_module(mod_name))
    ko, en = EXPLAIN[family]
    return {"file": path, "version": transformers_version(), "pieces": pieces, "ko": ko, "en": en}


def core_source_text(family: str) -> str:
    """All core pieces of a family as one Python listing with headers (what the tab's code view shows)."""
    info = core_source(family)
    parts = [f"# {info['file']}\n# transformers {info['version']}\n"]
    for p in info["pieces"]:
        parts.append(f"# ---- {p['name']} ----\n{p['source']}")
    return "\n".join(parts)
