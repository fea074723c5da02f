"""The base model: where it is (artifact, folder or Hub name), its tokenizer and config, the checks that need
only those (vocabulary, pad token, a classification head for this architecture), the model built on the meta
device (layers to target, parameter counts, the PEFT method tried on it), and the real model for training."""
from __future__ import annotations

import copy
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..i18n import say
from . import methods

log = logging.getLogger("workbench.finetune")
HUB_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass
class Base:
    ref: str                 # what the config said
    path: str                # a local folder (absolute) or a Hub name
    artifact: Any = None     # the model artifact, for lineage
    hub: bool = False


def resolve_base(ws, ref: str) -> Base:
    """A model artifact (name or id), a Hugging Face model folder, or a Hub name (org/name)."""
    from ..artifacts import refuse_quantized, resolve
    ref = (ref or "").strip()
    try:
        path, art = resolve(ws, "model", ref, "base model")
    except UserError:
        from .data import looks_like_path
        if HUB_RE.match(ref) and not looks_like_path(ref) and not Path(ref).expanduser().exists():
            return Base(ref=ref, path=ref, hub=True)
        raise
    path = Path(path)
    if (path / "adapter_config.json").is_file():
        raise UserError(say("base model {p} is a PEFT adapter, not a model: merge it into its base first (Fine-tune: "
                            "merge and save) and pick the merged model",
                            "기본 모델 {p} 은(는) 모델이 아니라 PEFT 어댑터입니다. 먼저 기본 모델에 합쳐 저장하고 (미세조정: "
                            "합쳐서 저장) 그 모델을 고르세요", p=str(path)))
    if not path.is_dir() or not (path / "config.json").is_file():
        raise UserError(say("base model {p} is not a Hugging Face model folder (no config.json): pick a model artifact "
                            "or a folder saved with save_pretrained",
                            "기본 모델 {p} 은(는) Hugging Face 모델 폴더가 아닙니다 (config.json 없음). 모델 산출물이나 "
                            "save_pretrained 로 저장한 폴더를 고르세요", p=str(path)))
    refuse_quantized(path, ref, say("fine-tuned", "미세조정할 수는 없습니다"))
    return Base(ref=ref, path=str(path.resolve()), artifact=art)


def _loading_error(base: Base, what: str, e: Exception) -> UserError:
    where = ("from the Hugging Face Hub (check the name and the network, or download it and give the folder)"
             if base.hub else "from its folder (it may be damaged or incomplete)")
    where_ko = ("Hugging Face Hub 에서 (이름과 네트워크를 확인하거나, 내려받아 폴더를 주세요)" if base.hub else
                "폴더에서 (손상되었거나 불완전할 수 있습니다)")
    return UserError(say("the {w} of base model '{b}' cannot be loaded {where}: {e}",
                         "기본 모델 '{b}' 의 {wk} 을(를) 불러올 수 없습니다 {where}: {e}", w=what,
                         wk={"config": "설정", "tokenizer": "토크나이저", "weights": "가중치"}.get(what, what),
                         b=base.ref, where=(where_ko, where), e=f"{type(e).__name__}: {str(e)[:300]}"))


def load_config(base: Base):
    from transformers import AutoConfig
    try:
        return AutoConfig.from_pretrained(base.path, trust_remote_code=False)
    except Exception as e:  # noqa: BLE001
        raise _loading_error(base, "config", e) from None


def load_tokenizer(base: Base):
    from transformers import AutoTokenizer
    try:
        return AutoTokenizer.from_pretrained(base.path, trust_remote_code=False)
    except Exception as e:  # noqa: BLE001
        raise _loading_error(base, "tokenizer", e) from None


def vocab_size_of(config) -> int | None:
    v = getattr(config, "vocab_size", None)
    if v is None and hasattr(config, "get_text_config"):
        v = getattr(config.get_text_config(), "vocab_size", None)
    return v


def check_vocab(tokenizer, config, base: Base) -> None:
    """Token ids the tokenizer can produce must exist in the model's embedding table."""
    n_tok, n_model = len(tokenizer), vocab_size_of(config)
    if n_model is not None and n_tok > n_model:
        raise UserError(say("the tokenizer of '{b}' has {t:,} tokens but the model's embedding table has only {m:,} "
                            "rows: they belong to different models. Use the tokenizer the model was trained with",
                            "'{b}' 의 토크나이저는 토큰이 {t:,}개인데 모델의 임베딩 표는 {m:,}행뿐입니다. 서로 다른 모델의 "
                            "것입니다. 모델을 학습할 때 쓴 토크나이저를 쓰세요", b=base.ref, t=n_tok, m=n_model))


def context_of(config) -> int | None:
    for k in ("max_position_embeddings", "n_positions", "context_length"):
        v = getattr(config, k, None)
        if isinstance(v, int) and v > 0:
            return v
    return None


def check_base(config, cfg, base: Base) -> None:
    """The base can do the task at this length: an sft base is a causal LM (not a fine-tuned classifier), and
    max_length fits the model's positions."""
    archs = list(getattr(config, "architectures", None) or [])
    if cfg.task == "sft" and archs and all("SequenceClassification" in a for a in archs):
        raise UserError(say("base model '{b}' is a sequence classifier ({a}): its language-model head is gone, so it "
                            "cannot learn to answer; pick the causal language model it was made from",
                            "기본 모델 '{b}' 은(는) 문장 분류기 ({a}) 라서 언어 모델 머리가 없어 답을 배울 수 없습니다. 그 "
                            "분류기를 만든 원래의 인과 언어 모델을 고르세요", b=base.ref, a=", ".join(archs)))
    ctx = context_of(config)
    if ctx and cfg.max_length > ctx:
        raise UserError(say("max_length {m} is longer than the base model's context ({c} positions): lower max_length "
                            "to {c} or less",
                            "max_length {m} 이(가) 기본 모델의 문맥 길이 ({c}) 보다 깁니다. max_length 를 {c} 이하로 "
                            "줄이세요", m=cfg.max_length, c=ctx))


def ensure_pad(tokenizer, task: str):
    """A pad token for batching: the tokenizer's own, else its end-of-text or unknown token. Returns a note (a Text)
    when one was borrowed, None when the tokenizer had one. Refuses a classifier base with none of the three."""
    if tokenizer.pad_token_id is not None:
        return None
    for attr in ("eos_token", "unk_token", "bos_token"):
        tok = getattr(tokenizer, attr, None)
        if tok is not None:
            tokenizer.pad_token = tok
            return say("the tokenizer has no pad token: padding with its {a} '{t}'",
                       "토크나이저에 패딩 토큰이 없어 {a} '{t}' 로 채웁니다", a=attr.replace("_token", ""), t=tok)
    if task == "classification":
        raise UserError(say("the base model's tokenizer has no pad, end-of-text or unknown token, so a classifier cannot "
                            "find where each padded text ends: add a pad token to the tokenizer (Tokenizer tab: special "
                            "tokens) and retrain, or use a base whose tokenizer has one",
                            "기본 모델의 토크나이저에 패딩·문장 끝·미지 토큰이 하나도 없어서 분류기가 채운 텍스트의 끝을 찾을 "
                            "수 없습니다. 토크나이저에 패딩 토큰을 더해 (토크나이저 탭: 특수 토큰) 다시 학습하거나, 그런 토큰이 "
                            "있는 기본 모델을 쓰세요"))
    return None


def head_names(model) -> list[str]:
    return [n for n in ("score", "classifier") if hasattr(model, n)]


def _model_class(task: str):
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification
    return AutoModelForSequenceClassification if task == "classification" else AutoModelForCausalLM


def _task_config(config, task: str, labels=None, pad_id: int | None = None):
    config = copy.deepcopy(config)
    if task == "classification" and labels is not None:
        config.num_labels = len(labels.names)
        config.id2label = labels.id2label
        config.label2id = labels.label2id
        config.problem_type = "single_label_classification"
    if pad_id is not None:
        config.pad_token_id = pad_id
        if hasattr(config, "get_text_config"):
            try:
                config.get_text_config().pad_token_id = pad_id
            except AttributeError:
                pass
    return config


def build_meta(config, task: str, labels=None, pad_id: int | None = None):
    """The model with no weights (meta device): for its layers and parameter counts."""
    import torch
    cls = _model_class(task)
    cfg = _task_config(config, task, labels, pad_id)
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cls.from_config(cfg)
    except ValueError as e:
        if "Unrecognized configuration class" in str(e) or "does not support" in str(e):
            mt = getattr(config, "model_type", "?")
            if task == "classification":
                raise UserError(say("a {t} model has no sequence-classification head in transformers: use task sft, "
                                    "or a base of another family (Llama, GPT-2, Mixtral, Qwen2-MoE, DeepSeek-V3)",
                                    "{t} 모델에는 transformers 의 문장 분류 머리가 없습니다. 과제를 sft 로 하거나 다른 계열 "
                                    "(Llama, GPT-2, Mixtral, Qwen2-MoE, DeepSeek-V3) 의 기본 모델을 쓰세요", t=mt)) from None
            raise UserError(say("a {t} model is not a causal language model: sft needs one",
                                "{t} 모델은 인과 언어 모델이 아닙니다. sft 에는 인과 언어 모델이 필요합니다", t=mt)) from None
        raise


@dataclass
class Plan:
    """What a config will train, worked out on the meta device before anything is loaded."""
    layers: list                      # every adaptable layer of the base (methods.Layer)
    targets: Any                      # methods.TargetPlan (None for full)
    counts: dict                      # {"trainable", "total", "share"} (None where the method reads weights)
    base_params: int
    heads: list[str]
    model_type: str | None


def plan(cfg, config, *, labels=None, pad_id: int | None = None, total_steps: int | None = None) -> Plan:
    """Targets, shape checks and trainable-parameter counts for this config, on the meta device."""
    from ..arch.families import count_params
    meta = build_meta(config, cfg.task, labels, pad_id)
    model_type = getattr(config, "model_type", None)
    layers = methods.model_layers(meta)
    heads = head_names(meta) if cfg.task == "classification" else []
    base_total = count_params(meta)["total"]
    if cfg.method == "full":
        return Plan(layers, None, {"trainable": base_total, "total": base_total, "share": 1.0}, base_total, heads,
                    model_type)
    methods.check_quantizable(model_type, None, cfg.method)
    ptype = cfg.peft_type if cfg.method == "advanced" else methods.PEFT_TYPE_OF[cfg.method]
    targets = methods.resolve_targets(layers, cfg.target_modules, method=cfg.method, peft_type=ptype,
                                      model_type=model_type)
    methods.check_quantizable(model_type, targets, cfg.method)
    methods.check_shapes(targets, method=cfg.method, rank=cfg.lora_rank, n_frequency=cfg.waveft_n_frequency,
                         proportional=bool((cfg.peft_options or {}).get("proportional_parameters")))
    pcfg = methods.peft_config(cfg, targets, task=cfg.task, head=heads, total_steps=total_steps or cfg.max_steps)
    counts = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pm = methods.apply_peft(meta, pcfg)
        counts = methods.trainable_summary(pm)
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - a method whose init reads the weights: counted once they are loaded
        log.info("trainable parameters cannot be counted on the meta device for %s (%s): counted after loading",
                 ptype, type(e).__name__)
    return Plan(layers, targets, counts, base_total, heads, model_type)


def count_trainable(cfg, ws=None) -> dict:
    """For the tab, before training: trainable parameters (count and share) for this config, with the target
    modules it resolves to, counted on the meta device (no weights loaded). Raises the UserError a run would."""
    base = resolve_base(ws, cfg.base_model)
    config = load_config(base)
    labels = None
    if cfg.task == "classification":
        from .data import Labels
        k = max(2, len(cfg.label_names))
        labels = Labels(names=[str(i) for i in range(k)], raw_to_id={str(i): i for i in range(k)}, integer=True)
    p = plan(cfg, config, labels=labels, pad_id=getattr(config, "pad_token_id", None) or 0)
    out = dict(p.counts or {"trainable": None, "total": None, "share": None})
    out.update(method=cfg.method, base_params=p.base_params, model_type=p.model_type,
               target_modules=p.targets.modules if p.targets else [],
               target_parameters=p.targets.parameters if p.targets else [],
               targeted_layers=len(p.targets.layers) if p.targets else 0,
               notes=[str(n) for n in (p.targets.notes if p.targets else [])])
    return out


def _layers(ref: str, ws, task: str) -> list:
    base = resolve_base(ws, ref)
    config = load_config(base)
    meta = build_meta(config, "sft" if task != "classification" else task,
                      None if task != "classification" else _two_labels(), getattr(config, "pad_token_id", None) or 0)
    return methods.model_layers(meta)


def target_modules(ref: str, ws=None, task: str = "sft") -> dict:
    """The base model's adaptable layers grouped by kind (attention, mlp, experts, ...), each distinct layer name
    with how many layers carry it and their (d_in, d_out) shapes. No weights are loaded."""
    return methods.layer_groups(_layers(ref, ws, task))


def target_choices(ref: str, ws=None, task: str = "sft", tokens=("all-linear",)) -> dict:
    """For the tab's checkboxes: target_modules without the head, each entry with the word that picks it and
    whether `tokens` (the config's target_modules) picks it."""
    return methods.layer_choices(_layers(ref, ws, task), list(tokens))


def _two_labels():
    from .data import Labels
    return Labels(names=["0", "1"], raw_to_id={"0": 0, "1": 1}, integer=True)


# -- the real model ------------------------------------------------------------------------------------------
def _quantization(cfg, hw, heads: list[str]):
    import torch
    from transformers import BitsAndBytesConfig
    skip = list(heads) + ["lm_head"]
    if cfg.method == "qlora":
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=cfg.quant_type,
                                  bnb_4bit_use_double_quant=cfg.double_quant,
                                  bnb_4bit_compute_dtype=torch.bfloat16 if hw.bf16 else torch.float32,
                                  llm_int8_skip_modules=skip)
    return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=skip)


def load_for_training(cfg, base: Base, config, p: Plan, hw, *, labels=None, pad_id: int | None = None,
                      total_steps: int | None = None):
    """The base model with the config's method applied, ready for the Trainer. For QLoRA the 4-bit layers get the
    CPU gradient fix before any forward, then prepare_model_for_kbit_training."""
    import os

    import torch
    from transformers import set_seed

    set_seed(cfg.seed)
    cls = _model_class(cfg.task)
    task_cfg = _task_config(config, cfg.task, labels, pad_id)
    kw: dict[str, Any] = {"config": task_cfg, "trust_remote_code": False}
    if cfg.task == "classification":  # a classifier base with another number of classes: a new head
        kw["ignore_mismatched_sizes"] = True
    bits = methods.QUANTIZED.get(cfg.method)
    if bits:
        kw["quantization_config"] = _quantization(cfg, hw, p.heads)
        local = int(os.environ.get("LOCAL_RANK", "0"))
        kw["device_map"] = {"": f"cuda:{local}"} if hw.device == "cuda" else {"": "cpu"}
        kw["dtype"] = torch.float16 if bits == 8 else (torch.bfloat16 if hw.bf16 else torch.float32)
    else:
        kw["dtype"] = torch.float32
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*MatMul8bitLt.*")
            model = cls.from_pretrained(base.path, **kw)
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001
        if bits:
            raise UserError(say("the base model cannot be loaded in {b} bits ({e}): use lora (full-precision base)",
                                "기본 모델을 {b}비트로 불러올 수 없습니다 ({e}). lora (원래 정밀도 기본 모델) 를 쓰세요",
                                b=bits, e=f"{type(e).__name__}: {str(e)[:300]}")) from None
        raise _loading_error(base, "weights", e) from None
    if pad_id is not None:
        model.config.pad_token_id = pad_id
        if getattr(model, "generation_config", None) is not None:
            model.generation_config.pad_token_id = pad_id
    if cfg.method == "full":
        if cfg.gradient_checkpointing:
            model.gradient_checkpointing_enable()
        return model
    if bits:
        from peft import prepare_model_for_kbit_training
        if bits == 4:
            n = methods.fix_4bit_gradients(model)
            log.info("4-bit base: %d Linear4bit layers (CPU gradient fix set before any forward)", n)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    elif cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    pcfg = methods.peft_config(cfg, p.targets, task=cfg.task, head=p.heads, total_steps=total_steps or cfg.max_steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = methods.apply_peft(model, pcfg)
    if cfg.task == "classification":
        _check_head_trains(model, p.heads)
    return model


def _check_head_trains(model, heads: list[str]) -> None:
    """With task_type SEQ_CLS the classification head must train (peft's modules_to_save), whatever the method."""
    head_params = [(n, q) for n, q in model.named_parameters()
                   if any(f".{h}." in f".{n}" for h in heads) and "original_module" not in n]
    if not head_params or not any(q.requires_grad for _, q in head_params):
        ptype = getattr(getattr(model, "peft_config", {}).get("default"), "peft_type", "?")
        raise UserError(say("PEFT method {t} leaves the classification head ({h}) frozen at its random start, so it "
                            "cannot learn the classes: choose another method",
                            "PEFT 방법 {t} 은(는) 분류 머리 ({h}) 를 무작위 초기값 그대로 얼려 두어 클래스를 배울 수 "
                            "없습니다. 다른 방법을 고르세요", t=getattr(ptype, "value", ptype), h=", ".join(heads)))
