"""Preference pairs: reading (the files, folders, dataset artifacts and Hugging Face datasets the Fine-tune stage
reads, through its reader), mapping the prompt / chosen / rejected columns (plain text or chat messages), the
checks a person can act on (an empty or identical answer, a prompt longer than max_length), and the splits (the
test split is never trained on).

A pair becomes TRL's conversational shape: prompt = [system?, user], chosen = [assistant], rejected = [assistant],
so the policy's chat template renders it exactly as the Chat tab and the SFT stage do."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..finetune import data as FD
from ..finetune.data import is_hub_dataset  # noqa: F401 - the stage's precheck asks it
from ..i18n import say

BUNDLED = Path(__file__).resolve().parent / "data"
BUNDLED_PAIRS = BUNDLED / "preferences_ko.jsonl"
TRICKY_PROMPTS = BUNDLED / "tricky_prompts_ko.jsonl"
PROMPT_COLUMNS = ["prompt", "instruction", "question", "query", "input", "Q"]
CHOSEN_COLUMNS = ["chosen", "chosen_response", "preferred", "better"]
REJECTED_COLUMNS = ["rejected", "rejected_response", "dispreferred", "worse"]
SHOWN_ROWS = 5


@dataclass
class Pairs:
    source: Any                                   # finetune.data.Source
    columns: dict
    rows: dict                                    # split -> [{"prompt": str, "chosen": str, "rejected": str}]
    how: dict
    notes: list = field(default_factory=list)

    def sizes(self) -> dict:
        return {k: len(v) for k, v in self.rows.items()}


def read_pairs_source(data: str, *, data_config: str = "", ws=None):
    """The bundled team-written pairs for an empty reference, else whatever the Fine-tune reader reads."""
    if not (data or "").strip():
        return FD.Source(frames={"train": FD.read_file(BUNDLED_PAIRS)}, files={"train": str(BUNDLED_PAIRS)},
                         description=f"bundled team-written sample ({BUNDLED_PAIRS.name})", bundled=True)
    return FD.read_source(data, task="sft", data_config=data_config, ws=ws)


def _last_assistant(value) -> str | None:
    """An answer given as text, or as chat messages (the last assistant turn)."""
    if isinstance(value, str):
        s = value.strip()
        if s.startswith("[") and s.endswith("]"):
            msgs = FD._messages_of(s)
            if msgs:
                return [m for m in msgs if m["role"] == "assistant"][-1]["content"]
        return value
    msgs = FD._messages_of(value)
    if msgs:
        return [m for m in msgs if m["role"] == "assistant"][-1]["content"]
    return None if value is None else FD._text(value)


def _prompt_text(value) -> str:
    """A prompt given as text, or as chat messages (the last user turn)."""
    if isinstance(value, str):
        return value
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        users = [m.get("content", "") for m in value if isinstance(m, dict) and m.get("role") == "user"]
        if users:
            return users[-1]
    return FD._text(value)


def map_pair_columns(df, cfg) -> dict:
    cols = list(df.columns)
    chosen = FD._pick(cols, cfg.chosen_column, CHOSEN_COLUMNS, ("chosen answer", "좋은 답"), field_name="chosen_column")
    rejected = FD._pick([c for c in cols if c != chosen], cfg.rejected_column, REJECTED_COLUMNS,
                        ("rejected answer", "나쁜 답"), field_name="rejected_column")
    prompt = FD._pick([c for c in cols if c not in (chosen, rejected)], cfg.prompt_column, PROMPT_COLUMNS,
                      ("prompt", "프롬프트"), field_name="prompt_column")
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


def _row_list(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:SHOWN_ROWS])
    return shown + (f" (+{len(numbers) - SHOWN_ROWS})" if len(numbers) > SHOWN_ROWS else "")


def check_pairs(df, cols: dict, where: str) -> list[dict]:
    """[{prompt, chosen, rejected}] of a frame; refuses empty prompts or answers and identical answers, naming the
    rows (1-based, as counted in the file)."""
    empty, same, out = [], [], []
    for i, (p, c, r) in enumerate(zip(df[cols["prompt"]].tolist(), df[cols["chosen"]].tolist(),
                                      df[cols["rejected"]].tolist()), start=1):
        p, c, r = _prompt_text(p).strip(), (_last_assistant(c) or "").strip(), (_last_assistant(r) or "").strip()
        if not p or not c or not r:
            empty.append(i)
        elif c == r:
            same.append(i)
        else:
            out.append({"prompt": p, "chosen": c, "rejected": r})
    if empty:
        raise UserError(say("{w}: {n} pair(s) have an empty prompt, chosen or rejected answer (rows {r}): a pair needs "
                            "all three; fill them in or remove those rows",
                            "{w}: {n}개 쌍에 빈 프롬프트나 좋은 답/나쁜 답이 있습니다 ({r}행). 셋 다 있어야 하니 채우거나 그 "
                            "행을 지우세요", w=where, n=len(empty), r=_row_list(empty)))
    if same:
        raise UserError(say("{w}: {n} pair(s) have the same chosen and rejected answer (rows {r}): such a pair teaches "
                            "nothing; change one of the two or remove those rows",
                            "{w}: {n}개 쌍의 좋은 답과 나쁜 답이 같습니다 ({r}행). 그런 쌍은 아무것도 가르치지 못하니 둘 중 "
                            "하나를 바꾸거나 그 행을 지우세요", w=where, n=len(same), r=_row_list(same)))
    return out


def prepare_pairs(cfg, ws) -> Pairs:
    """Read, map columns, check every pair and split (the test split is held out and never trained on)."""
    src = read_pairs_source(cfg.data, data_config=cfg.data_config, ws=ws)
    cols = map_pair_columns(src.frames["train"], cfg)
    for split, df in src.frames.items():
        missing = [c for c in cols.values() if c not in df.columns]
        if missing:
            raise UserError(say("the {s} data lacks the column(s) {m}; its columns are: {c}",
                                "{s} 데이터에 열 {m} 이(가) 없습니다. 있는 열: {c}", s=split, m=", ".join(missing),
                                c=", ".join(map(str, df.columns))))
    for split, df in src.frames.items():  # every row of every file is checked, before any split or cap
        check_pairs(df, cols, src.files.get(split, split))
    splits = FD.make_splits(src, val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction, seed=cfg.seed)
    frames = {"train": splits.train, "validation": splits.validation, "test": splits.test}
    for split, cap in (("train", cfg.max_rows), ("validation", cfg.max_eval_rows), ("test", cfg.max_eval_rows)):
        if cap and len(frames[split]) > cap:
            frames[split] = frames[split].sample(n=cap, random_state=cfg.seed).reset_index(drop=True)
    rows = {split: (check_pairs(df, cols, split) if len(df) else []) for split, df in frames.items()}
    return Pairs(source=src, columns=cols, rows=rows, how=splits.how)


def conversational(pair: dict, system_prompt: str = "") -> dict:
    """TRL's conversational preference shape."""
    prompt = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + \
        [{"role": "user", "content": pair["prompt"]}]
    return {"prompt": prompt, "chosen": [{"role": "assistant", "content": pair["chosen"]}],
            "rejected": [{"role": "assistant", "content": pair["rejected"]}]}


def check_lengths(rows: dict, tokenizer, cfg) -> None:
    """A prompt that fills max_length leaves no room for its answers (TRL would drop it silently): refuse it."""
    long_rows = []
    for split, items in rows.items():
        for i, r in enumerate(items, start=1):
            msgs = conversational(r, cfg.system_prompt)["prompt"]
            n = len(tokenizer.apply_chat_template(msgs, tokenize=True, add_generation_prompt=True,
                                                  return_dict=False))
            if n >= cfg.max_length:
                long_rows.append((split, i, n))
    if long_rows:
        worst = max(n for _, _, n in long_rows)
        raise UserError(say("{k} prompt(s) are {w} tokens or longer, not shorter than max_length ({m}), so their "
                            "answers would be cut away entirely (e.g. {e}): raise max_length above {w}, or remove "
                            "those pairs",
                            "프롬프트 {k}개가 {w}토큰 이상으로 max_length ({m}) 보다 짧지 않아 답이 모두 잘립니다 (예: {e}). "
                            "max_length 를 {w} 보다 크게 하거나 그 쌍을 지우세요", k=len(long_rows), w=worst,
                            m=cfg.max_length, e=", ".join(f"{s} #{i} ({n})" for s, i, n in long_rows[:3])))


def tricky_prompts() -> list[str]:
    with TRICKY_PROMPTS.open(encoding="utf-8") as f:
        return [json.loads(line)["prompt"] for line in f if line.strip()]
