"""From a pipeline config to the configs of its steps: the preset's fields, then the wiring (each step reads what
the step before it made, by artifact name), then the person's overrides; and the checks that the steps fit together,
all before anything runs."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError
from ..errors import UserError
from ..i18n import say
from ..stages import get
from .presets import OUTPUT_FIELD, PRESETS, STEP_STAGE, STEPS, WORKSHOP_FILES

SUFFIX = {"corpus": "corpus", "tokenizer": "tokenizer", "pretrain": "base", "sft": "sft", "align": "aligned",
          "optimize": "optimized", "evaluate": "eval"}


@dataclass
class PlannedStep:
    key: str                      # corpus, tokenizer, pretrain, sft, align, optimize, evaluate, chat
    stage: str                    # the stage it runs
    cfg: object                   # the stage's validated config
    output: str | None            # the artifact name it makes
    kinds: tuple | None           # the artifact kinds it may make
    inputs: list                  # artifact names it reads


def _fill(value, data_dir: str):
    if isinstance(value, str):
        return value.replace("{data_dir}", data_dir)
    if isinstance(value, list):
        return [_fill(v, data_dir) for v in value]
    return value


def names(cfg) -> dict:
    return {k: f"{cfg.name}-{s}" for k, s in SUFFIX.items()}


def _wiring(key: str, out: dict, chosen: list[str]) -> tuple[dict, list[str]]:
    """The input fields of a step: the names of what the earlier steps make (or made before, when not run now)."""
    chat_model = next((out[k] for k in ("align", "sft", "pretrain") if k in chosen or k == "pretrain"), out["pretrain"])
    if key == "tokenizer":
        return {"corpus": out["corpus"]}, [out["corpus"]]
    if key == "pretrain":
        return {"corpus": out["corpus"], "tokenizer": out["tokenizer"]}, [out["corpus"], out["tokenizer"]]
    if key == "sft":
        return {"base_model": out["pretrain"]}, [out["pretrain"]]
    if key == "align":
        policy = out["sft"] if "sft" in chosen else out["pretrain"]
        return {"policy_model": policy}, [policy]
    if key == "optimize":
        return {"model": chat_model}, [chat_model]
    if key == "evaluate":
        models = [out[k] for k in ("pretrain", "sft", "align") if k in chosen or k == "pretrain"]
        return {"models": models, "data": out["corpus"]}, models + [out["corpus"]]
    if key == "chat":
        return {"model": chat_model}, [chat_model]
    return {}, []


def make_plan(cfg, ws, *, check_only: bool = False) -> list[PlannedStep]:
    """Every chosen step's config, validated. Refuses, naming the step and the fix: a field a step does not have, a
    value its stage refuses, a workshop folder without the data, steps that do not fit together."""
    preset = PRESETS[cfg.preset]
    chosen = [k for k in STEPS if k in cfg.steps]
    data_dir = str(Path(cfg.data_dir).expanduser())
    if cfg.preset == "workshop":
        missing = [f"{data_dir}/{rel}" for k, rel in WORKSHOP_FILES.items() if k in chosen
                   and not Path(data_dir, rel).exists()]
        if missing:
            raise UserError(say("the workshop preset reads the real data from {d}, which lacks {m}: set data_dir to a "
                                "folder with pretrain/, instruct/chatbot_data.jsonl and preference/..., or use the demo "
                                "preset", "workshop 프리셋은 {d} 의 실제 데이터를 읽는데 {m} 이(가) 없습니다. data_dir 을 "
                                "pretrain/, instruct/chatbot_data.jsonl, preference/... 가 있는 폴더로 하거나 demo 프리셋을 "
                                "쓰세요", d=data_dir, m=", ".join(missing)))
    out = names(cfg)
    plan: list[PlannedStep] = []
    for key in chosen:
        stage_name, kinds = STEP_STAGE[key]
        stage = get(stage_name)
        sets = {k: _fill(v, data_dir) for k, v in preset.get(key, {}).items()}
        wired, inputs = _wiring(key, out, chosen)
        sets.update(wired)
        if key == "chat":
            sets["message"] = cfg.chat_prompt
        if key in OUTPUT_FIELD:
            sets[OUTPUT_FIELD[key]] = out[key]
        fields = {fi.path for fi in stage.config.field_infos()}
        if "overwrite" in fields:
            sets["overwrite"] = True
        if cfg.threads and "threads" in fields:
            sets["threads"] = cfg.threads
        overrides = dict(cfg.overrides.get(key, {}))
        unknown = [k for k in overrides if k not in fields]
        if unknown:
            raise UserError(say("overrides.{s}: the {st} stage has no field {u}; its fields: {f}",
                                "overrides.{s}: {st} 단계에 {u} 항목이 없습니다. 있는 항목: {f}", s=key, st=stage_name,
                                u=", ".join(unknown), f=", ".join(sorted(fields))))
        sets.update(overrides)
        if OUTPUT_FIELD.get(key) in overrides:
            out[key] = overrides[OUTPUT_FIELD[key]]
        try:
            step_cfg = stage.config.from_dict(_nest(sets))
            step_cfg.validate()
        except ConfigError as e:
            raise UserError(say("step {s} ({st}): {e}", "{s} 단계 ({st}): {e}", s=key, st=stage_name, e=str(e))) from None
        plan.append(PlannedStep(key, stage_name, step_cfg, out.get(key) if kinds else None, kinds,
                                [i for i in inputs if i]))
    _fit(plan, ws, chosen, check_only)
    return plan


def _nest(flat: dict) -> dict:
    """{"arch.depth": 4} -> {"arch": {"depth": 4}} (the config's nested groups)."""
    out: dict = {}
    for k, v in flat.items():
        parts = k.split(".")
        d = out
        for p in parts[:-1]:
            d = d.setdefault(p, {})
        d[parts[-1]] = v
    return out


def _fit(plan: list[PlannedStep], ws, chosen: list[str], check_only: bool) -> None:
    """Steps that do not fit together, and inputs that neither exist nor are made by an earlier step."""
    by = {p.key: p for p in plan}
    sft, tok, pre = by.get("sft"), by.get("tokenizer"), by.get("pretrain")
    if sft is not None and sft.cfg.task == "classification" and any(k in by for k in ("align", "chat", "optimize")):
        users = ", ".join(k for k in ("align", "optimize", "chat") if k in by)
        raise UserError(say("step sft makes a classifier (task classification), but {u} need(s) a chat model: a "
                            "classifier cannot be fed to DPO or chat; set overrides.sft.task to sft, or leave those "
                            "steps out", "sft 단계가 분류기 (task classification) 를 만드는데 {u} 단계에는 채팅 모델이 "
                            "필요합니다. 분류기는 DPO 나 채팅에 쓸 수 없으니 overrides.sft.task 를 sft 로 하거나 그 단계를 "
                            "빼세요", u=users))
    if tok is not None and pre is not None:
        tv, mv = tok.cfg.vocab_size, pre.cfg.arch.vocab_size
        if mv and mv < tv:
            raise UserError(say("step pretrain builds a model with {m:,} vocabulary rows but step tokenizer makes {t:,} "
                                "tokens: they would not fit together; leave arch.vocab_size at 0 (from the tokenizer) "
                                "or make it at least {t:,}", "pretrain 단계의 모델 어휘 ({m:,}행) 가 tokenizer 단계가 "
                                "만드는 토큰 수 ({t:,}) 보다 작아 맞지 않습니다. arch.vocab_size 를 0 (토크나이저에서) 으로 "
                                "두거나 {t:,} 이상으로 하세요", m=mv, t=tv))
    made = {p.output for p in plan if p.output}
    for p in plan:
        for name in p.inputs:
            if name in made or ws is None:
                continue
            if not any(ws.store.get_artifact(kind=k, name=name) for k in ("corpus", "tokenizer", "model", "adapter")):
                raise UserError(say("step {s} reads '{n}', which no chosen step makes and the workspace does not hold: "
                                    "add the step that makes it, or point the step at an existing artifact in overrides",
                                    "{s} 단계가 읽는 '{n}' 을(를) 고른 단계 중 어느 것도 만들지 않고 작업 공간에도 없습니다. "
                                    "그것을 만드는 단계를 넣거나 overrides 로 있는 산출물을 가리키세요", s=p.key, n=name))
        # a step whose inputs all exist already is checked by its own stage now (a classifier fed to DPO, ...)
        if ws is not None and get(p.stage).precheck is not None and not any(i in made and i != p.output
                                                                            for i in p.inputs):
            get(p.stage).precheck(p.cfg, ws)
