"""The KV-cache argument's name across the transformers versions we allow (>=5.20,<6): 5.20 takes and returns
`past_key_values`; 5.25 renamed it `cache` and warns that the old name goes in 5.40. Our ONNX Runtime wrapper keeps
`past_key_values`. Used by the optimize stage's decode and ONNX export, and the architecture lab's cache size."""
from __future__ import annotations

import inspect


def cache_kwarg(model) -> str:
    """The keyword `model`'s forward takes its KV cache under."""
    try:
        params = inspect.signature(getattr(model, "forward", model)).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in params else "past_key_values"


def returned_cache(out):
    """The KV cache a forward pass (or generate) returned, under either name; None without one."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else getattr(out, "past_key_values", None)
