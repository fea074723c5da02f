"""The allowed range of every chat sampling setting, declared once.

Three places read this table, so they can never disagree:
- `ChatConfig` (stage.py) takes each field's `min`/`max` from it: the chat tab's sliders, the CLI
  help and the config check before a run;
- `SamplingParams.check` (engine.py) refuses a reply whose settings are outside it (every caller:
  the tab, the CLI, the API, benchmarks);
- the OpenAI-compatible API (api.py) validates a request against it (`max_tokens` and
  `max_completion_tokens` are `max_new_tokens`).
Both bounds are inclusive. No torch, no gradio: imported when the app starts.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..i18n import Text, say


@dataclass(frozen=True)
class Limit:
    lo: int | float
    hi: int | float
    note_en: str = ""     # what a special value means, e.g. "0 = greedy"
    note_ko: str = ""

    @property
    def kind(self) -> type:
        """int or float: the type of the bounds is the type of the setting."""
        return float if isinstance(self.lo, float) or isinstance(self.hi, float) else int

    def bounds(self) -> dict:
        """`min=` and `max=` for a config field: `param(..., **LIMITS[name].bounds())`."""
        return {"min": self.lo, "max": self.hi}

    def allows(self, value: int | float) -> bool:
        return self.lo <= value <= self.hi

    def _note(self) -> Text:
        return say(" ({n})", " ({n})", n=Text(self.note_en, self.note_ko)) if self.note_en else Text("")

    def refusal(self, name: str, value) -> Text:
        """'<name> is <value>: it must be between <lo> and <hi>', both languages."""
        return say("{name} is {v}: it must be between {lo} and {hi}{note}",
                   "{name} 값이 {v}입니다: {lo} 이상 {hi} 이하여야 합니다{note}", name=name, v=value, lo=self.lo,
                   hi=self.hi, note=self._note())


LIMITS: dict[str, Limit] = {
    "temperature": Limit(0.0, 2.0, "0 = greedy", "0이면 탐욕 디코딩"),
    "top_p": Limit(0.0, 1.0, "1 = off", "1이면 끔"),
    "top_k": Limit(0, 100_000, "0 = off", "0이면 끔"),
    "repetition_penalty": Limit(1.0, 2.0, "1 = off", "1이면 끔"),
    "max_new_tokens": Limit(1, 8192),
    "seed": Limit(-1, 2**31 - 1, "-1 = a new seed per reply", "-1이면 답마다 새 시드"),
}


def refusals(values: dict) -> list[Text]:
    """The refusal of every setting in `values` (name -> value) that is outside its limit."""
    return [LIMITS[k].refusal(k, v) for k, v in values.items() if k in LIMITS and not LIMITS[k].allows(v)]
