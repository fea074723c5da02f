"""Which accelerator is present, answered without importing torch when it is not loaded yet
(the app's queue needs the answer at start-up, which must stay fast)."""
from __future__ import annotations

import os
import shutil
import sys


def cuda_present() -> bool:
    if "torch" in sys.modules:
        return sys.modules["torch"].cuda.is_available()
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return False
    return os.path.isdir("/proc/driver/nvidia/gpus") or shutil.which("nvidia-smi") is not None


def resolve_device(choice: str) -> str:
    """'auto' -> 'cuda' when a GPU is present, else 'cpu'. The result is also the job-queue key."""
    if choice in ("", "auto"):
        return "cuda" if cuda_present() else "cpu"
    return "cuda" if choice.startswith("cuda") else choice
