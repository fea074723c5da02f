"""The compute settings of a config, resolved on this machine: device, mixed precision, threads, ranks."""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..devices import resolve_device
from ..errors import UserError
from ..i18n import say


@dataclass
class Hardware:
    device: str          # "cpu" or "cuda"
    bf16: bool
    fp16: bool
    world: int           # processes in the job (torchrun's WORLD_SIZE)
    local_world: int     # processes on this machine

    @property
    def mixed_precision(self) -> bool:
        return self.bf16 or self.fp16

    @property
    def precision_name(self) -> str:
        return "bf16" if self.bf16 else "fp16" if self.fp16 else "fp32"


def resolve(cfg) -> Hardware:
    """Resolve a ComputeSettings config; sets the CPU thread count (split across the ranks of this machine)."""
    import torch

    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    device = resolve_device(cfg.device)
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError(say("device 'cuda' was chosen but no GPU is visible to PyTorch: choose device auto or cpu",
                            "장치로 'cuda'를 골랐지만 PyTorch에 보이는 GPU가 없습니다. 장치를 auto 나 cpu 로 고르세요"))
    if device == "cpu":
        torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // local_world))
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and device == "cuda" and torch.cuda.is_bf16_supported())
    return Hardware(device=device, bf16=bf16, fp16=cfg.precision == "fp16", world=world, local_world=local_world)
