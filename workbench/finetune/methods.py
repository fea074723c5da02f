"""Fine-tuning methods: full, the named PEFT methods (LoRA, DoRA, WaveFT, QLoRA, 8-bit LoRA) and every other
method of the installed peft behind "advanced" (read from `peft.PeftType` and peft's config mapping, not from
a hand list), the base model's layers a method can target, trainable-parameter counts on the meta device, and
the shape checks that refuse a method a layer cannot take before anything is built.

Importing this module imports no torch or peft: the config's choices read peft's two small constant files
(the PeftType enum, the wavelet families) straight from the installed package.
"""
from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..i18n import say

NAMED_METHODS = ["full", "lora", "dora", "waveft", "qlora", "lora8bit", "advanced"]
LORA_LIKE = {"lora", "dora", "qlora", "lora8bit"}
QUANTIZED = {"qlora": 4, "lora8bit": 8}
# The PEFT type behind each named method (advanced: the config's peft_type).
PEFT_TYPE_OF = {"lora": "LORA", "dora": "LORA", "qlora": "LORA", "lora8bit": "LORA", "waveft": "WAVEFT"}
METHOD_TEXT = {
    "full": ("full fine-tuning (every weight)", "전체 미세조정 (모든 가중치)"),
    "lora": ("LoRA: low-rank adapters", "LoRA: 저랭크 어댑터"),
    "dora": ("DoRA: weight-decomposed LoRA", "DoRA: 가중치 분해 LoRA"),
    "waveft": ("WaveFT: sparse wavelet-domain updates", "WaveFT: 웨이블릿 영역의 희소 업데이트"),
    "qlora": ("QLoRA: 4-bit base + LoRA", "QLoRA: 4비트 기본 모델 + LoRA"),
    "lora8bit": ("LoRA on an 8-bit base", "8비트 기본 모델 + LoRA"),
    "advanced": ("another method of the installed peft", "설치된 peft 의 다른 방법"),
}
# Output heads: never adapted (the classification head is trained whole, through modules_to_save).
HEAD_NAMES = {"lm_head", "score", "classifier", "head", "embed_out", "output"}
# Fields of a PEFT config that peft fills from the model itself (not inputs a person must give).
FILLED_BY_PEFT = {"token_dim", "target_modules", "num_transformer_submodules", "num_attention_heads", "num_layers"}


# -- what the installed peft offers (cheap: no import of peft) ------------------------------------------------
def _peft_file(*parts: str) -> Path | None:
    spec = importlib.util.find_spec("peft")
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)
    return p if p.is_file() else None


def _load_standalone(path: Path | None, name: str):
    """Execute one small peft module on its own (it imports only the standard library)."""
    if path is None:
        return None
    try:
        spec = importlib.util.spec_from_file_location(f"_wb_peft_{name}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
        return mod
    except Exception:  # noqa: BLE001 - a changed peft layout: fall back to importing peft when needed
        return None


def peft_types() -> list[str]:
    """Every `peft.PeftType` value of the installed peft, in peft's order."""
    mod = _load_standalone(_peft_file("utils", "peft_types.py"), "types")
    if mod is not None and hasattr(mod, "PeftType"):
        return [t.value for t in mod.PeftType]
    try:
        from peft import PeftType
        return [t.value for t in PeftType]
    except ImportError:
        return []


def wavelet_families() -> list[str]:
    mod = _load_standalone(_peft_file("tuners", "waveft", "constants.py"), "waveft_constants")
    fams = list(getattr(mod, "WAVELET_REDUCTIONS", {}) or [])
    return fams or ["db1"]


def advanced_types() -> list[str]:
    """PEFT types the advanced choice offers: all of them but those a named method covers with its own fields
    (LORA, WAVEFT) — those are still reachable here with peft's own defaults."""
    return peft_types()


def method_catalog() -> list[dict]:
    """For the tab: each named method with its words, and every PEFT type with the inputs it may need that this
    stage cannot choose (fields declared required but defaulting to None; empty: its defaults plus the target
    modules are enough to build it)."""
    from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING
    out = [{"method": m, "peft_type": PEFT_TYPE_OF.get(m), "en": METHOD_TEXT[m][0], "ko": METHOD_TEXT[m][1]}
           for m in NAMED_METHODS]
    types = []
    for t in peft_types():
        cls = PEFT_TYPE_TO_CONFIG_MAPPING.get(t)
        if cls is None:
            continue
        types.append({"peft_type": t, "config_class": cls.__name__, "may_need": needed_inputs(cls, {}),
                      "prompt_learning": _is_prompt_learning(cls),
                      "targets_modules": "target_modules" in {f.name for f in dataclasses.fields(cls)}})
    return out + [{"method": "advanced", "types": types}]


def _is_prompt_learning(cls) -> bool:
    return any(c.__name__ == "PromptLearningConfig" for c in cls.__mro__)


def needed_inputs(cls, given: dict) -> list[str]:
    """Fields of a PEFT config class declared as required values (not Optional) but defaulting to None: inputs
    the method needs that neither its defaults nor this stage provide (e.g. num_virtual_tokens, adapters)."""
    out = []
    for f in dataclasses.fields(cls):
        if f.name in given or f.name in FILLED_BY_PEFT or not f.init or f.default is not None:
            continue
        tp = str(f.type)
        if "Optional" in tp or "None" in tp:
            continue
        out.append(f.name)
    return out


# -- the base model's layers ---------------------------------------------------------------------------------
@dataclass
class Layer:
    path: str            # full module (or parameter) name in the model
    group: str           # attention | mlp | experts | shared_expert | router | ssm | other | head
    kind: str            # linear | conv1d | param3d
    d_in: int
    d_out: int
    count: int = 1       # experts in a fused 3D parameter

    @property
    def leaf(self) -> str:
        return self.path.rsplit(".", 1)[-1]


def _group_of(path: str, leaf: str) -> str:
    parts = path.lower().split(".")
    if leaf in HEAD_NAMES and len(parts) <= 2:
        return "head"
    if any("shared_expert" in p for p in parts):
        return "shared_expert"
    if "experts" in parts:
        return "experts"
    if any(p in ("attn", "attention", "self_attn", "self_attention", "cross_attn") or p.endswith("attn")
           or p.endswith("attention") for p in parts[:-1]):
        return "attention"
    if leaf in ("gate", "router") and any(p in ("mlp", "moe", "block_sparse_moe", "feed_forward") for p in parts):
        return "router"
    if any(p in ("mlp", "feed_forward", "ffn", "ff", "moe", "block_sparse_moe") for p in parts[:-1]):
        return "mlp"
    if "mixer" in parts:
        return "ssm"
    return "other"


def model_layers(model) -> list[Layer]:
    """Every Linear / Conv1D layer and fused 3D expert weight of an instantiated model (meta device is fine)."""
    import torch
    try:
        from transformers.pytorch_utils import Conv1D
    except ImportError:  # pragma: no cover
        Conv1D = ()  # type: ignore[assignment]
    out: list[Layer] = []
    head_ids = set()
    for getter in ("get_output_embeddings",):
        try:
            h = getattr(model, getter)()
            if h is not None:
                head_ids.add(id(h))
        except Exception:  # noqa: BLE001
            pass
    for name, mod in model.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        base = getattr(mod, "base_layer", None)  # an already-wrapped layer (a PeftModel)
        if base is not None or ".lora_" in name or ".base_layer" in name:
            continue
        if isinstance(mod, torch.nn.Linear) or (Conv1D and isinstance(mod, Conv1D)):
            w = mod.weight
            if isinstance(mod, torch.nn.Linear):
                d_in, d_out = mod.in_features, mod.out_features
            else:
                d_in, d_out = int(w.shape[0]), int(w.shape[1])
            group = "head" if id(mod) in head_ids or (leaf in HEAD_NAMES and name.count(".") == 0) else \
                _group_of(name, leaf)
            out.append(Layer(name, group, "linear" if isinstance(mod, torch.nn.Linear) else "conv1d", d_in, d_out))
        else:
            for pname, p in mod.named_parameters(recurse=False):
                if p.dim() == 3 and "experts" in name.split(".")[-1:] + name.split("."):
                    e, d_out, d_in = (int(s) for s in p.shape)
                    out.append(Layer(f"{name}.{pname}", "experts", "param3d", d_in, d_out, count=e))
    return out


def layer_groups(layers: list[Layer]) -> dict[str, list[dict]]:
    """Layers grouped by kind, each distinct leaf once: {group: [{name, layers, shapes, kind}]}."""
    groups: dict[str, dict[str, dict]] = {}
    for ly in layers:
        key = ly.leaf if ly.kind != "param3d" else ".".join(ly.path.split(".")[-2:])
        g = groups.setdefault(ly.group, {})
        e = g.setdefault(key, {"name": key, "layers": 0, "shapes": [], "kind": ly.kind})
        e["layers"] += 1
        shape = [ly.d_in, ly.d_out] if ly.kind != "param3d" else [ly.count, ly.d_in, ly.d_out]
        if shape not in e["shapes"]:
            e["shapes"].append(shape)
    order = ["attention", "mlp", "experts", "shared_expert", "router", "ssm", "other", "head"]
    return {k: list(groups[k].values()) for k in order if k in groups}


# -- choosing targets --------------------------------------------------------------------------------------
# peft refuses LoRA-like adapters on these layers of Mamba-style models (tuners_utils._check_lora_target_modules_mamba)
MAMBA_TYPES = {"falcon_h1", "mamba", "mamba2", "falcon_mamba", "nemotron_h"}
MAMBA_INCOMPATIBLE = {"out_proj", "conv1d"}
GROUP_WORDS = {"all-linear", "attention", "mlp", "experts", "shared_expert", "router", "ssm", "other"}


@dataclass
class TargetPlan:
    layers: list[Layer]                          # the chosen layers
    modules: list[str] = field(default_factory=list)     # target_modules for peft (shortest exact suffixes)
    parameters: list[str] = field(default_factory=list)  # target_parameters (fused expert weights; LoRA only)
    notes: list = field(default_factory=list)            # Texts: what was left out and why


def _suffixes(chosen: list[str], every: list[str]) -> list[str]:
    """The shortest dotted suffixes that match exactly the chosen names among every candidate name."""
    chosen_set = set(chosen)
    out: list[str] = []
    for name in chosen:
        parts = name.split(".")
        for k in range(1, len(parts) + 1):
            suf = ".".join(parts[-k:])
            matches = [n for n in every if n == suf or n.endswith("." + suf)]
            if set(matches) <= chosen_set:
                if suf not in out:
                    out.append(suf)
                break
    return out


def _tokens(tokens) -> list[str]:
    return [t.strip() for t in (tokens or ["all-linear"]) if t and t.strip()] or ["all-linear"]


def _matches(usable: list[Layer], token: str) -> list[Layer]:
    """The layers one target word names: all-linear, a group word, a layer name or a dotted suffix."""
    tl = token.lower()
    if tl == "all-linear":
        return [ly for ly in usable if ly.kind != "param3d"]
    if tl in GROUP_WORDS:
        return [ly for ly in usable if ly.group == tl]
    return [ly for ly in usable if ly.path == token or ly.path.endswith("." + token)]


def layer_choices(layers: list[Layer], tokens) -> dict[str, list[dict]]:
    """The targets as checkboxes grouped by kind (the head is not one): layer_groups' entries, each with the word
    that picks exactly its layers (`attn.c_proj` where GPT-2's MLP has a `c_proj` too) and whether the config's
    target words pick it now. Words that name nothing are left to resolve_targets to explain."""
    usable = [ly for ly in layers if ly.group != "head"]
    chosen = {ly.path for t in _tokens(tokens) for ly in _matches(usable, t)}
    every = {k: [ly.path for ly in usable if (ly.kind == "param3d") == (k == "param3d")] for k in ("param3d", "layer")}
    out = {}
    for group, entries in layer_groups(usable).items():
        for e in entries:
            paths = [ly.path for ly in usable if ly.group == group and
                     (ly.leaf if ly.kind != "param3d" else ".".join(ly.path.split(".")[-2:])) == e["name"]]
            words = _suffixes(paths, every["param3d" if e["kind"] == "param3d" else "layer"])
            e["value"] = ",".join(words)
            e["checked"] = set(paths) <= chosen
        out[group] = entries
    return out


def resolve_targets(layers: list[Layer], tokens: list[str], *, method: str, peft_type: str | None,
                    model_type: str | None) -> TargetPlan:
    """Turn the config's target words into peft's target_modules / target_parameters.

    Words: "all-linear" (every Linear/Conv1D layer but the output head), a group (attention, mlp, experts,
    shared_expert, router, ssm, other), a layer name (q_proj) or a dotted suffix (attn.c_proj)."""
    tokens = _tokens(tokens)
    usable = [ly for ly in layers if ly.group != "head"]
    chosen: dict[str, Layer] = {}
    unknown = []
    for t in tokens:
        hits = _matches(usable, t)
        if not hits:
            unknown.append(t)
        for ly in hits:
            chosen[ly.path] = ly
    if unknown:
        groups = layer_groups(layers)
        names = sorted({e["name"] for g, es in groups.items() if g != "head" for e in es})
        raise UserError(say("target_modules: {u} matches no layer of this model. Its layers: {n}; groups: {g} "
                            "(or all-linear)",
                            "target_modules: {u} 에 맞는 층이 이 모델에 없습니다. 있는 층: {n}; 묶음: {g} "
                            "(또는 all-linear)", u=", ".join(unknown), n=", ".join(names),
                            g=", ".join(g for g in groups if g != "head")))
    notes = []
    peft_type = peft_type or PEFT_TYPE_OF.get(method)
    if model_type in MAMBA_TYPES and (method in LORA_LIKE or peft_type in ("LORA", "ADALORA", "RANDLORA")):
        dropped = [p for p, ly in chosen.items() if ly.leaf in MAMBA_INCOMPATIBLE]
        if dropped and any(t.lower() in GROUP_WORDS for t in tokens):
            for p in dropped:
                chosen.pop(p)
            notes.append(say("left out {n} ({m}): peft does not put LoRA on them in Mamba models",
                             "{n} ({m}) 은(는) 뺐습니다: peft 는 Mamba 모델의 이 층에 LoRA 를 붙이지 않습니다",
                             n=", ".join(sorted({p.rsplit('.', 1)[-1] for p in dropped})), m=model_type))
        elif dropped:
            raise UserError(say("target_modules: peft cannot put LoRA on {n} in a {m} model: leave them out",
                                "target_modules: peft 는 {m} 모델의 {n} 에 LoRA 를 붙일 수 없습니다. 빼 주세요",
                                n=", ".join(sorted({p.rsplit('.', 1)[-1] for p in dropped})), m=model_type))
    if not chosen:
        raise UserError(say("target_modules chooses no layer this method can adapt", "target_modules 로 고른 층 중 이 "
                            "방법이 적용될 수 있는 층이 없습니다"))
    mods = [ly for ly in chosen.values() if ly.kind != "param3d"]
    params = [ly for ly in chosen.values() if ly.kind == "param3d"]
    if params and not (method in ("lora", "qlora", "lora8bit") or (method == "advanced" and peft_type == "LORA")):
        raise UserError(say("the experts' fused weights can only take plain LoRA (peft target_parameters), not {m}: "
                            "choose lora/qlora/lora8bit, or leave experts out of target_modules",
                            "전문가(experts)의 묶인 가중치에는 일반 LoRA (peft target_parameters) 만 붙일 수 있고 {m} 은(는) "
                            "안 됩니다. lora/qlora/lora8bit 를 고르거나 target_modules 에서 experts 를 빼세요",
                            m=method if method != "advanced" else peft_type))
    every_mod = [ly.path for ly in layers if ly.kind != "param3d"]
    every_par = [ly.path for ly in layers if ly.kind == "param3d"]
    return TargetPlan(layers=list(chosen.values()), modules=_suffixes([ly.path for ly in mods], every_mod),
                      parameters=_suffixes([ly.path for ly in params], every_par), notes=notes)


# -- shape checks (before anything is built) ---------------------------------------------------------------
def check_shapes(plan: TargetPlan, *, method: str, rank: int, n_frequency: int, proportional: bool = False) -> None:
    if method in LORA_LIKE:
        worst = min(plan.layers, key=lambda ly: min(ly.d_in, ly.d_out))
        small = min(worst.d_in, worst.d_out)
        if rank > small:
            raise UserError(say("lora_rank {r} is larger than layer {l} ({i} in x {o} out): a rank can be at most "
                                "the smaller side; use lora_rank <= {s} or leave that layer out of target_modules",
                                "lora_rank {r} 이(가) {l} 층 (입력 {i} x 출력 {o}) 보다 큽니다. 랭크는 작은 쪽 이하여야 "
                                "합니다: lora_rank 를 {s} 이하로 하거나 target_modules 에서 그 층을 빼세요",
                                r=rank, l=worst.path, i=worst.d_in, o=worst.d_out, s=small))
    if method == "waveft" and not proportional:
        worst = min(plan.layers, key=lambda ly: ly.d_in * ly.d_out)
        cap = worst.d_in * worst.d_out
        if n_frequency > cap:
            raise UserError(say("waveft_n_frequency {n} is larger than layer {l} can take ({i} x {o} = {c} "
                                "coefficients): WaveFT needs n_frequency <= d_in x d_out of every targeted layer; use "
                                "waveft_n_frequency <= {c} or leave that layer out of target_modules",
                                "waveft_n_frequency {n} 이(가) {l} 층이 받을 수 있는 수 ({i} x {o} = {c}개 계수) 보다 "
                                "큽니다. WaveFT 는 모든 대상 층에서 n_frequency <= 입력 x 출력 이어야 합니다: "
                                "waveft_n_frequency 를 {c} 이하로 하거나 target_modules 에서 그 층을 빼세요",
                                n=n_frequency, l=worst.path, i=worst.d_in, o=worst.d_out, c=cap))


# -- building the PEFT config ------------------------------------------------------------------------------
def task_type(task: str) -> str:
    return "SEQ_CLS" if task == "classification" else "CAUSAL_LM"


def peft_config(cfg, plan: TargetPlan | None, *, task: str, head: list[str], total_steps: int):
    """The peft config object for the config's method (None for full fine-tuning)."""
    if cfg.method == "full":
        return None
    from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING
    options = dict(cfg.peft_options or {})
    ptype = cfg.peft_type if cfg.method == "advanced" else PEFT_TYPE_OF[cfg.method]
    cls = PEFT_TYPE_TO_CONFIG_MAPPING.get(ptype)
    if cls is None:
        raise UserError(say("peft_type {t} is not a method of the installed peft: choose one of {c}",
                            "peft_type {t} 은(는) 설치된 peft 의 방법이 아닙니다. 다음 중 고르세요: {c}",
                            t=ptype, c=", ".join(PEFT_TYPE_TO_CONFIG_MAPPING)))
    names = {f.name for f in dataclasses.fields(cls)}
    kw: dict[str, Any] = {"task_type": task_type(task)}
    if plan is not None and "target_modules" in names:
        kw["target_modules"] = plan.modules
    if plan is not None and plan.parameters and "target_parameters" in names:
        kw["target_parameters"] = plan.parameters
        if not plan.modules:
            kw["target_modules"] = []
    if head and "modules_to_save" in names and task == "classification":
        kw["modules_to_save"] = list(head)
    if cfg.method in LORA_LIKE:
        kw.update(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                  use_dora=cfg.method == "dora")
        if plan is not None and plan.parameters and cfg.lora_dropout:
            kw["lora_dropout"] = 0.0  # peft's LoRA on a bare parameter (ParamWrapper) takes no dropout
            note = say("lora_dropout set to 0: peft's LoRA on fused expert weights takes no dropout",
                       "lora_dropout 을 0 으로 했습니다: 전문가의 묶인 가중치에 붙는 peft LoRA 는 드롭아웃을 받지 않습니다")
            if note not in plan.notes:
                plan.notes.append(note)
    elif cfg.method == "waveft":
        kw.update(n_frequency=cfg.waveft_n_frequency, scaling=cfg.waveft_scaling,
                  wavelet_family=cfg.waveft_wavelet_family)
    if "total_step" in names:  # AdaLoRA's rank schedule runs over the whole training
        kw["total_step"] = total_steps
    unknown = [k for k in options if k not in names]
    if unknown:
        raise UserError(say("peft_options: {u} is not a field of {c}; its fields: {f}",
                            "peft_options: {u} 은(는) {c} 의 항목이 아닙니다. 있는 항목: {f}", u=", ".join(unknown),
                            c=cls.__name__, f=", ".join(sorted(n for n in names if not n.startswith("_")))))
    kw.update(options)
    try:
        return cls(**kw)
    except (TypeError, ValueError) as e:
        raise refusal(ptype, e, needed_inputs(cls, kw), built=False) from None


def missing_inputs(pcfg) -> list[str]:
    """Inputs a built PEFT config still lacks (declared required, left None)."""
    return [f for f in needed_inputs(type(pcfg), {}) if getattr(pcfg, f, None) is None]


def refusal(ptype: str, e: Exception, missing: list[str], *, built: bool, stage: str = "apply") -> UserError:
    """A PEFT method that peft (or the model) refused, worded for a person: the inputs it lacks when that is the
    likely cause, else peft's own reason."""
    err = f"{type(e).__name__}: {str(e)[:300]}"
    if missing:
        return UserError(say("PEFT method {t} needs inputs this stage cannot choose for you: {m}. Give them in "
                             "peft_options (JSON, e.g. {{\"{x}\": ...}}), or choose another method ({e})",
                             "PEFT 방법 {t} 에는 이 단계가 대신 정할 수 없는 입력이 필요합니다: {m}. peft_options (JSON, "
                             "예: {{\"{x}\": ...}}) 에 주거나 다른 방법을 고르세요 ({e})", t=ptype, m=", ".join(missing),
                             x=missing[0], e=err))
    if stage == "forward":
        return UserError(say("PEFT method {t} was built but fails on the first batch with this model and task: {e}. "
                             "Choose another method (or give the inputs it needs in peft_options)",
                             "PEFT 방법 {t} 은(는) 만들어졌지만 이 모델과 과제의 첫 배치에서 실패합니다: {e}. 다른 방법을 "
                             "고르세요 (또는 필요한 입력을 peft_options 에 주세요)", t=ptype, e=err))
    if not built:
        return UserError(say("PEFT method {t} refuses these settings: {e}", "PEFT 방법 {t} 이(가) 이 설정을 받지 않습니다: {e}",
                             t=ptype, e=err))
    return UserError(say("PEFT method {t} cannot be applied to this model: {e}. Change its settings (target_modules, "
                         "peft_options) or choose another method",
                         "PEFT 방법 {t} 을(를) 이 모델에 적용할 수 없습니다: {e}. 설정(target_modules, peft_options)을 "
                         "바꾸거나 다른 방법을 고르세요", t=ptype, e=err))


def apply_peft(model, pcfg):
    """get_peft_model, with a refusal from peft turned into a message a person can act on."""
    from peft import get_peft_model
    try:
        return get_peft_model(model, pcfg)
    except (TypeError, ValueError, KeyError, RuntimeError, AttributeError, NotImplementedError) as e:
        if _meta_only_failure(e, model):
            raise
        raise refusal(getattr(pcfg.peft_type, "value", pcfg.peft_type), e, missing_inputs(pcfg), built=True) from None


def _meta_only_failure(e: Exception, model) -> bool:
    """A method whose initialisation reads the weights (SVD, data-driven init) cannot be built on the meta device."""
    try:
        on_meta = next(model.parameters()).device.type == "meta"
    except StopIteration:
        on_meta = False
    text = str(e).lower()
    return on_meta and (isinstance(e, NotImplementedError) or "meta" in text)


def is_prompt_learning(model) -> bool:
    """A PeftModel whose active method adds virtual tokens (prompt tuning, prefix tuning, ...)."""
    cfgs = getattr(model, "peft_config", None) or {}
    return any(getattr(c, "is_prompt_learning", False) for c in cfgs.values())


def trainable_summary(model) -> dict:
    """Trainable parameters of a (PEFT) model: count, total and share, tied weights once."""
    seen, total, trainable = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        n = p.numel()
        if hasattr(p, "quant_state") or type(p).__name__ == "Params4bit":
            n *= 2  # two 4-bit weights per stored byte
        total += n
        if p.requires_grad:
            trainable += n
    return {"trainable": int(trainable), "total": int(total), "share": trainable / total if total else 0.0}


def fix_4bit_gradients(model) -> int:
    """STACK.md: on CPUs with AVX512-BF16, the first no-grad eval forward repacks 4-bit weights and every LoRA
    parameter silently gets grad=None from then on. Turning the repacked path off on every Linear4bit before
    any forward keeps the gradients. Returns how many layers were set."""
    try:
        import bitsandbytes as bnb
    except ImportError:
        return 0
    n = 0
    for mod in model.modules():
        if isinstance(mod, bnb.nn.Linear4bit):
            mod.support_avx512bf16_for_cpu = False
            n += 1
    return n


# Families whose layers bitsandbytes cannot quantize (measured with transformers 5.24 / bitsandbytes 0.50):
# RWKV rescales its layer weights in place when it is loaded ("attribute 'weight' already exists" in 4-bit,
# an in-place modification error in 8-bit backward).
KBIT_UNSUPPORTED = {"rwkv": ("it rescales its layer weights in place while loading, which quantized weights do not allow",
                             "불러올 때 층 가중치를 제자리에서 다시 스케일하는데, 양자화된 가중치는 그럴 수 없습니다")}


def check_quantizable(model_type: str | None, plan: TargetPlan | None, method: str) -> None:
    bits = QUANTIZED.get(method)
    if not bits:
        return
    if model_type in KBIT_UNSUPPORTED:
        en, ko = KBIT_UNSUPPORTED[model_type]
        raise UserError(say("{m} needs a {b}-bit base, but a {t} model cannot be loaded in {b} bits: {why}. Use lora "
                            "(full-precision base) instead",
                            "{m} 에는 {b}비트 기본 모델이 필요하지만 {t} 모델은 {b}비트로 불러올 수 없습니다: {why}. "
                            "대신 lora (원래 정밀도 기본 모델) 를 쓰세요", m=method, b=bits, t=model_type, why=(ko, en)))
    if plan is not None and plan.layers and all(ly.kind == "param3d" for ly in plan.layers):
        raise UserError(say("{m}: the chosen layers are fused expert weights, which bitsandbytes does not quantize "
                            "(only Linear layers): add attention or mlp layers to target_modules, or use lora",
                            "{m}: 고른 층이 전문가의 묶인 가중치뿐인데 bitsandbytes 는 Linear 층만 양자화합니다. "
                            "target_modules 에 attention 이나 mlp 층을 더하거나 lora 를 쓰세요", m=method))
