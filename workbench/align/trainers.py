"""The preference trainers of the installed TRL, read from TRL itself (not a hand list that goes stale).

Offered: DPO, and KTO (top-level in TRL 1.x; it unpairs prompt/chosen/rejected pairs itself). ORPO and CPO live in
`trl.experimental`, which fails to import with TRL 1.16 and the `kernels` package it pulls here ("cannot import name
'CUDAProperties'"), so they are not offered. The DPO loss types are parsed from DPOConfig's own field help. Importing
this module imports no torch or trl."""
from __future__ import annotations

import importlib
import importlib.util
import re
from functools import lru_cache

# algorithm -> (module, trainer class, config class, uses a reference model)
CANDIDATES = {
    "dpo": ("trl", "DPOTrainer", "DPOConfig", True),
    "kto": ("trl", "KTOTrainer", "KTOConfig", True),
}
DPO_LOSS_FALLBACK = ["sigmoid", "hinge", "ipo", "robust"]


def _trl_file(*parts: str):
    spec = importlib.util.find_spec("trl")
    if spec is None or not spec.submodule_search_locations:
        return None
    from pathlib import Path
    p = Path(next(iter(spec.submodule_search_locations)), *parts)
    return p if p.is_file() else None


@lru_cache(maxsize=1)
def loss_types() -> list[str]:
    """DPO loss types of the installed TRL, from the help text of DPOConfig.loss_type (read from the source file, so
    the config form needs no trl import)."""
    f = _trl_file("trainer", "dpo_config.py")
    if f is None:
        return list(DPO_LOSS_FALLBACK)
    text = f.read_text(encoding="utf-8")
    m = re.search(r"loss_type: list\[str\] = field\((.*?)\n    \)", text, re.S)
    names = re.findall(r"`'([a-z_]+)'`", m.group(1)) if m else []
    return list(dict.fromkeys(names)) or list(DPO_LOSS_FALLBACK)


ALGORITHMS = list(CANDIDATES)


def load(algorithm: str):
    """(Trainer class, Config class, uses_reference) of an algorithm, or a UserError naming why it cannot run here."""
    from ..errors import UserError
    from ..i18n import say
    mod, trainer, config, uses_ref = CANDIDATES[algorithm]
    try:
        m = importlib.import_module(mod)
        return getattr(m, trainer), getattr(m, config), uses_ref
    except Exception as e:  # noqa: BLE001 - a TRL that lacks it
        raise UserError(say("the installed TRL cannot run {a} here ({e}): use dpo",
                            "설치된 TRL 로는 여기서 {a} 을(를) 돌릴 수 없습니다 ({e}). dpo 를 쓰세요",
                            a=algorithm, e=f"{type(e).__name__}: {str(e)[:200]}")) from None
