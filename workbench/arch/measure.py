"""What a model costs on this machine: training-step time and memory vs sequence length,
generation speed and cache size vs context length, and log-log scaling exponents.

Memory, stated plainly:
- on CUDA, `peak_bytes` is torch.cuda.max_memory_allocated during the step minus what was
  allocated before it (the weights);
- on CPU, PyTorch keeps no allocator statistics, so the step runs once under torch.profiler
  with profile_memory=True and `peak_bytes` is the highest running total of tensor bytes
  allocated since the step began (activations, gradients, logits; not the Python process, not
  allocator slack). The timed repeats run without the profiler.
- `saved_bytes` is what autograd kept for the backward pass (saved tensors, each storage once,
  parameters excluded), counted with torch.autograd.graph.saved_tensors_hooks.
- `cache_bytes` is the size of the tensors in the cache object `generate` returns (KV cache or
  recurrent state), read after generation.
"""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

from . import paper
from .families import FAMILIES, RECURRENT, ArchConfig, build_model


# -- device and fallbacks ----------------------------------------------------------------
def pick_device(name: str = "auto") -> str:
    if name == "auto":
        return "cuda" if cuda_available() else "cpu"
    if name.startswith("cuda") and not cuda_available():
        from ..errors import UserError
        raise UserError("device is set to cuda but no CUDA GPU is visible here: use device=auto or cpu",
                        ko="장치가 cuda로 설정되었지만 여기에는 CUDA GPU가 보이지 않습니다. device=auto 또는 cpu 를 "
                           "쓰세요")
    return name


def _torch_build_has_gpu() -> bool | None:
    """From torch/version.py, read as text (no import): False for a CPU-only build, None when unsure."""
    import importlib.util
    import re

    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.origin:
        return None
    try:
        text = Path(spec.origin).with_name("version.py").read_text(encoding="utf-8")
    except OSError:
        return None
    found = dict(re.findall(r"^(cuda|hip)\b[^=\n]*=\s*(.+?)\s*$", text, flags=re.M))
    if set(found) != {"cuda", "hip"}:
        return None
    return not (found["cuda"] == "None" and found["hip"] == "None")


def cuda_available() -> bool:
    """torch.cuda.is_available(), without importing torch when the answer is certainly no (a CPU-only torch
    build, or CUDA_VISIBLE_DEVICES hiding every GPU): what a tab may ask without a multi-second import."""
    if "torch" not in sys.modules:
        if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1") or _torch_build_has_gpu() is False:
            return False
    import torch

    return torch.cuda.is_available()


def kernel_status() -> dict[str, bool]:
    """Which optional fast kernels this Python can use (all need a CUDA GPU). Packages are looked up, not
    imported (transformers' is_mamba_ssm_available imports torch and transformers to say the same)."""
    import importlib.util

    cuda = cuda_available()
    return {"mamba_ssm": cuda and importlib.util.find_spec("mamba_ssm") is not None,
            "causal_conv1d": cuda and importlib.util.find_spec("causal_conv1d") is not None, "cuda": cuda}


def _cuda() -> bool:
    return cuda_available()


def slow_path(family: str, device: str = "cpu") -> dict[str, str] | None:
    """A plain-words note when a family runs on a slow reference implementation here, else None."""
    on_gpu = device.startswith("cuda")
    if family == "mamba":
        ks = kernel_status()
        if on_gpu and ks["mamba_ssm"] and ks["causal_conv1d"]:
            return None
        return {"en": "Mamba's selective scan runs as a pure-PyTorch loop over tokens here (no `mamba_ssm` CUDA "
                      "kernels): ~0.6 s for a tiny training step, and its backward pass re-materialises the "
                      "whole (inner x state x length) tensor at every token, so step time grows faster than "
                      "linearly. On a GPU with `mamba_ssm` + `causal_conv1d` the fused scan kernel is linear in "
                      "length and 10-100x faster.",
                "ko": "여기서는 Mamba의 선택적 스캔이 `mamba_ssm` CUDA 커널 없이 토큰마다 도는 순수 PyTorch 루프로 "
                      "실행됩니다: 작은 학습 한 단계에 약 0.6초이고, 역전파가 토큰마다 (내부 차원 x 상태 x 길이) 텐서를 "
                      "다시 만들어 길이에 대해 선형보다 빠르게 느려집니다. GPU에서 `mamba_ssm` + `causal_conv1d`를 "
                      "쓰면 융합 스캔 커널이 길이에 선형이고 10-100배 빠릅니다."}
    if family == "mamba2" and not (on_gpu and kernel_status()["mamba_ssm"]):
        return {"en": "Mamba2 uses transformers' chunked PyTorch reference (SSD in chunks of 64) instead of the "
                      "`mamba_ssm` Triton kernels: correct and reasonably fast here; a GPU with `mamba_ssm` fuses it.",
                "ko": "Mamba2는 `mamba_ssm` Triton 커널 대신 transformers의 청크 단위 PyTorch 참조 구현(64 토큰씩 SSD)을 "
                      "씁니다: 결과는 같고 여기서도 쓸 만한 속도입니다. GPU에서 `mamba_ssm`을 쓰면 융합됩니다."}
    if family == "rwkv" and not on_gpu:
        return {"en": "RWKV's WKV recurrence runs as a Python loop over tokens on CPU (its custom CUDA kernel is "
                      "GPU-only): linear in length, as the architecture promises, but every token costs a few "
                      "small tensor operations per layer. On a GPU the kernel handles the whole sequence in one "
                      "launch. Generation (one token at a time) runs the same recurrence either way.",
                "ko": "CPU에서는 RWKV의 WKV 점화식이 토큰마다 도는 Python 루프로 실행됩니다(전용 CUDA 커널은 GPU "
                      "전용). 아키텍처의 약속대로 길이에 선형이지만 토큰마다 층별로 작은 텐서 연산 여러 번이 듭니다. "
                      "GPU에서는 커널이 시퀀스 전체를 한 번에 처리합니다. 한 토큰씩 하는 생성은 어느 쪽이든 같은 "
                      "점화식을 씁니다."}
    return None


# -- one measurement -------------------------------------------------------------------
def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch
        torch.cuda.synchronize()


def cpu_peak_bytes(fn: Callable[[], Any]) -> tuple[Any, int]:
    """Run fn under the profiler; the highest running total of tensor bytes allocated meanwhile."""
    # Kineto (the profiler's C++ side) prints "USDT: ... profiler_start/stop" and "STAGE: ..." lines on stderr
    # at every profile, straight into the run's log. Its log level is read when the profiler first starts;
    # 6 is above its highest level (USDT = 5), so nothing of it reaches the log. A level the person set wins.
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = fn()
    peak, stack = 0, list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        e = stack.pop()
        stack.extend(e.children)
        if e.tag == _EventType.Allocation:
            peak = max(peak, e.extra_fields.total_allocated)
    return result, int(peak)


def peak_bytes(fn: Callable[[], Any], device: str) -> tuple[Any, int]:
    if device.startswith("cuda"):
        import torch
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        result = fn()
        torch.cuda.synchronize()
        return result, int(torch.cuda.max_memory_allocated() - base)
    return cpu_peak_bytes(fn)


def saved_tensor_bytes(model, fn: Callable[[], Any]) -> tuple[Any, int]:
    """Run fn (a forward pass); bytes of the tensors autograd saved for backward (each storage once)."""
    import torch

    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    sizes: dict[int, int] = {}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            sizes[s.data_ptr()] = max(sizes.get(s.data_ptr(), 0), s.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        result = fn()
    return result, sum(sizes.values())


def train_step_cost(model, *, batch: int, seq: int, vocab: int, device: str, repeats: int = 2,
                    warmup: int = 1, seed: int = 0) -> dict[str, float]:
    """Best-of-`repeats` seconds of forward+backward on random tokens, peak memory and saved-activation bytes."""
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, vocab, (batch, seq), generator=g).to(device)
    model.train()

    def step():
        out = model(input_ids=x, labels=x)
        out.loss.backward()
        return out.loss

    for _ in range(warmup):
        step()
        model.zero_grad(set_to_none=True)
    times = []
    for _ in range(max(1, repeats)):
        _sync(device)
        t0 = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - t0)
        model.zero_grad(set_to_none=True)

    def fwd_bwd_counted():
        out, saved = saved_tensor_bytes(model, lambda: model(input_ids=x, labels=x))
        out.loss.backward()
        return saved

    saved, peak = peak_bytes(fwd_bwd_counted, device)
    model.zero_grad(set_to_none=True)
    # best of the repeats: on a shared machine the slower runs measure the neighbours, not the model
    secs = min(times)
    return {"seconds": secs, "tokens_per_s": batch * seq / secs, "peak_bytes": peak, "saved_bytes": saved}


class _TokenClock:
    """A generate() streamer that only notes when each new token arrives (the first put is the prompt)."""

    def __init__(self):
        self.times: list[float] = []
        self._prompt_seen = False

    def put(self, value):
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        self.times.append(time.perf_counter())

    def end(self):
        pass


def tensors_bytes(obj, seen: dict | None = None, depth: int = 0) -> int:
    """Bytes of every floating-point tensor reachable from obj (a cache object, lists, dicts), each storage once."""
    import torch

    seen = {} if seen is None else seen
    if depth > 8 or obj is None:
        return 0
    if torch.is_tensor(obj):
        # the state itself; integer bookkeeping (transformers 5.25 keeps a length counter per layer) is not cache
        if obj.is_floating_point():
            seen[obj.untyped_storage().data_ptr()] = obj.untyped_storage().nbytes()
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            tensors_bytes(o, seen, depth + 1)
    elif isinstance(obj, dict):
        for o in obj.values():
            tensors_bytes(o, seen, depth + 1)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        for o in vars(obj).values():
            tensors_bytes(o, seen, depth + 1)
    return sum(seen.values()) if depth == 0 else 0


def generation_cost(model, *, context: int, new_tokens: int, vocab: int, device: str, seed: int = 0,
                    pad_id: int = 0) -> dict[str, float]:
    """Greedy generation after a `context`-token prompt: decode tokens/s, prefill seconds, cache bytes."""
    import torch

    from workbench.kvcache import returned_cache
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, vocab, (1, context), generator=g).to(device)
    model.eval()
    clock = _TokenClock()
    with torch.no_grad():
        _sync(device)
        t0 = time.perf_counter()
        out = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=new_tokens,
                             min_new_tokens=new_tokens, do_sample=False, use_cache=True, streamer=clock,
                             return_dict_in_generate=True, pad_token_id=pad_id)
        _sync(device)
    times = clock.times
    decode = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else float("nan")
    cache = returned_cache(out) or getattr(out, "cache_params", None)  # attention's KV cache, or an SSM's state
    return {"tokens_per_s": decode, "prefill_s": (times[0] - t0) if times else float("nan"),
            "cache_bytes": tensors_bytes(cache), "cache_tokens": context + new_tokens - 1}


# -- scaling -----------------------------------------------------------------------------
def fit_exponent(xs: list[float], ys: list[float], min_points: int = 3) -> dict[str, Any]:
    """Slope of log y against log x: least squares over all points, and between the two longest points.

    'all' needs `min_points` usable points (3 by default): a slope through two timings on a shared CPU is
    whatever the noise made it (e.g. -0.18 for attention), with nothing to tell. Deterministic quantities
    (cache bytes, allocated memory) may pass 2. Also returns 'n' (points used), 'local' (the slopes between
    neighbouring points, shortest first) and 'spread' (max - min of those), which says how well one
    exponent describes the points; 'tail' is the last of them (two points, so it is noisy on a busy CPU).
    """
    pts = sorted((math.log(x), math.log(y)) for x, y in zip(xs, ys)
                 if x is not None and y is not None and x == x and y == y and x > 0 and y > 0)
    n = len(pts)
    local = [(y2 - y1) / (x2 - x1) for (x1, y1), (x2, y2) in zip(pts, pts[1:]) if x2 != x1]
    out: dict[str, Any] = {"all": None, "tail": local[-1] if local else None, "n": n, "local": local,
                           "spread": (max(local) - min(local)) if len(local) >= 2 else None}
    if n < max(2, min_points):
        return out
    mx = sum(p[0] for p in pts) / n
    my = sum(p[1] for p in pts) / n
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    out["all"] = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx else None
    return out


# how many points an exponent needs: timings are noisy (3), byte counts are not (2)
MIN_POINTS = {"step_time": 3, "decode_time_per_token": 3, "step_memory": 2, "cache_bytes": 2,
              "step_s": 3, "decode_tok_s": 3, "peak_mib": 2, "saved_mib": 2, "cache_kib": 2}
UNEVEN_SPREAD = 0.5  # local slopes further apart than this: one exponent does not describe the points


def _pairs(pts: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    return [p[0] for p in pts], [p[1] for p in pts]


def lengths_for(family: str, lengths: list[int], slow_cap: int, device: str) -> list[int]:
    """The sequence lengths measured for a family: capped where it runs on a slow fallback.

    When the cap leaves fewer than three lengths, halvings of the cap are added (down to 8
    tokens) so that a scaling exponent can still be fitted.
    """
    if family in ("mamba", "rwkv") and lengths and slow_cap and slow_path(family, device):
        capped = {n for n in lengths if n <= slow_cap}
        n = min(slow_cap, max(lengths))
        while len(capped) < 3 and n >= 8:
            capped.add(n)
            n //= 2
        return sorted(capped)
    return list(lengths)


def measure_family(arch: ArchConfig, *, vocab: int, seq_lens: list[int], gen_contexts: list[int],
                   gen_tokens: int, batch: int, repeats: int, device: str, dtype: str = "float32",
                   attn_implementation: str = "sdpa", slow_cap: int = 256, seed: int = 0,
                   on_point: Callable[[str, int, dict], None] | None = None,
                   should_stop: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    """All measurements of one family; `on_point(kind, length, values)` reports each point as it lands."""
    import torch

    longest = max([*seq_lens, *[c + gen_tokens for c in gen_contexts], arch.context])
    arch = arch.replace(context=longest)
    model = build_model(arch, vocab, bos=1 % vocab, eos=2 % vocab, pad=0, seed=seed)
    if arch.family in ("gpt2", "llama", "mixtral", "qwen2moe", "deepseekv3"):
        model.set_attn_implementation(attn_implementation)
    model.to(device=device, dtype=getattr(torch, dtype))
    cfg = model.config
    train, gen = [], []
    lens = lengths_for(arch.family, seq_lens, slow_cap, device)
    for n in lens:
        if should_stop():
            break
        r = train_step_cost(model, batch=batch, seq=n, vocab=vocab, device=device, repeats=repeats,
                            warmup=1 if n == lens[0] else 0, seed=seed)
        mem = paper.training_memory(cfg, batch, n, dtype_bytes=paper.DTYPE_BYTES[dtype])
        r.update(seq=n, paper_step_bytes=mem["grads"] + mem["activations"] + mem["logits"],
                 paper_flops=paper.flops_per_token(cfg, n)["train"] * batch * n)
        r["achieved_flops_per_s"] = r["paper_flops"] / r["seconds"]
        train.append(r)
        if on_point:
            on_point("train", n, r)
    if gen_contexts and not should_stop():  # warm-up: the first generate call pays one-off set-up costs
        generation_cost(model, context=min(gen_contexts), new_tokens=2, vocab=vocab, device=device, seed=seed)
    for c in gen_contexts:
        if should_stop():
            break
        r = generation_cost(model, context=c, new_tokens=gen_tokens, vocab=vocab, device=device, seed=seed)
        r.update(context=c, paper_cache_bytes=paper.cache_bytes(cfg, r["cache_tokens"],
                                                                 paper.DTYPE_BYTES[dtype])["at_context"])
        gen.append(r)
        if on_point:
            on_point("gen", c, r)
    del model
    return {
        "family": arch.family, "label": FAMILIES[arch.family][0], "recurrent": arch.family in RECURRENT,
        "params": paper.params(cfg), "train": train, "gen": gen, "slow_path": slow_path(arch.family, device),
        "exponents": {
            "step_time": fit_exponent([r["seq"] for r in train], [r["seconds"] for r in train],
                                      MIN_POINTS["step_time"]),
            "step_memory": fit_exponent([r["seq"] for r in train], [r["peak_bytes"] for r in train],
                                        MIN_POINTS["step_memory"]),
            "decode_time_per_token": fit_exponent(*_pairs([(r["context"], 1 / r["tokens_per_s"]) for r in gen
                                                           if r["tokens_per_s"] and r["tokens_per_s"] > 0]),
                                                  MIN_POINTS["decode_time_per_token"]),
            "cache_bytes": fit_exponent([r["cache_tokens"] for r in gen], [r["cache_bytes"] for r in gen],
                                        MIN_POINTS["cache_bytes"]),
        },
        "lengths_capped": lens != list(seq_lens),
    }
