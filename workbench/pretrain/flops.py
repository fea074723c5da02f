"""The machine's measured matmul peak, the denominator of the MFU estimate (model FLOPs: arch/paper.py)."""
from __future__ import annotations

import json
import time
from pathlib import Path


def measured_peak_flops(device: str, dtype_name: str = "fp32", cache: Path | None = None) -> float:
    """Sustained dense matmul FLOP/s on this device and thread count: the best ever measured here.

    Measured at every call (about a second) and kept as the highest value in `cache`: a machine busy with
    another job during one measurement reads low, and a cached low peak would overstate MFU (above 1) in
    every later run, so a later, quieter measurement replaces it.
    """
    import torch

    key = f"{device}:{dtype_name}:{torch.get_num_threads()}"
    if device.startswith("cuda"):  # a workspace moved to another GPU kind must not keep the old card's peak
        key += ":" + torch.cuda.get_device_name(torch.device(device))
    known = json.loads(cache.read_text()) if cache is not None and cache.is_file() else {}
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype_name]
    n = 2048 if device != "cpu" else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    peak = 0.0
    for _ in range(3):  # best of three short windows: a busy moment on a shared machine lowers only one
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 0.25:
            a @ b
            reps += 1
        sync()
        peak = max(peak, 2.0 * n ** 3 * reps / (time.perf_counter() - t0))
    peak = max(peak, float(known.get(key, 0.0)))
    if cache is not None and known.get(key) != peak:
        known[key] = peak
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known))
    return peak
