"""Refuse a configuration that cannot fit, before the model is built (counted on the meta device)."""
from __future__ import annotations

from ..errors import UserError
from ..i18n import say


def available_bytes(hw) -> int:
    """Free memory for one process: a share of the machine's RAM on CPU, the GPU's free memory on CUDA."""
    if hw.device == "cpu":
        import psutil
        return psutil.virtual_memory().available // hw.local_world
    import torch
    return torch.cuda.mem_get_info()[0]


def check_fits(need_bytes: float, n_params: int, hw, *, fix_en: str, fix_ko: str, headroom: float = 0.9) -> None:
    """Raise a UserError when `need_bytes` (estimated for one process) exceeds `headroom` of what is free.
    fix_en/fix_ko: what the person can change (the stage knows its own knobs)."""
    avail = available_bytes(hw)
    if need_bytes > headroom * avail:
        raise UserError(say("this configuration needs about {need:.1f} GiB per process ({p:,.0f}M parameters) but "
                            "only {avail:.1f} GiB is free: {fix}",
                            "이 설정은 프로세스마다 약 {need:.1f} GiB가 필요하지만 ({p:,.0f}M 파라미터) 남은 메모리는 "
                            "{avail:.1f} GiB뿐입니다: {fix}",
                            need=need_bytes / 2**30, p=n_params / 1e6, avail=avail / 2**30, fix=(fix_ko, fix_en)))


def count_on_meta(build):
    """Parameter counts of the model `build()` makes, built on the meta device (no memory, no time)."""
    import torch

    from ..arch.families import count_params
    with torch.device("meta"):
        return count_params(build())
