"""The policy and the reference: where they are (a model artifact or folder, an SFT adapter artifact or folder, or a
Hub name), the checks that need only their config and tokenizer (a causal LM, not a classifier; one tokenizer for
both), and loading them (an adapter is merged into its base in memory, so DPO starts from the SFT result)."""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..finetune.model import HUB_RE, Base, _loading_error, load_config, load_tokenizer
from ..i18n import say

WHAT = {"policy": ("policy model", "정책 모델"), "reference": ("reference model", "기준 모델")}


@dataclass
class Policy:
    base: Base                   # the model folder (for an adapter: its base) and its artifact, for lineage
    adapter: str | None = None   # an adapter folder merged into base at load time
    adapter_artifact: Any = None
    meta: dict | None = None

    @property
    def ref(self) -> str:
        return self.base.ref

    @property
    def artifacts(self) -> list:
        return [a for a in (self.adapter_artifact, self.base.artifact) if a is not None]


def resolve_policy(ws, ref: str, *, what: str = "policy") -> Policy:
    """A model artifact (name or id), an adapter artifact, a model or adapter folder, or a Hub name (org/name)."""
    from ..artifacts import read_meta, refuse_quantized, resolve
    from ..finetune.data import looks_like_path
    ref = (ref or "").strip()
    en, ko = WHAT[what]
    try:
        path, art = resolve(ws, ("model", "adapter"), ref, en)
    except UserError:
        if HUB_RE.match(ref) and not looks_like_path(ref) and not Path(ref).expanduser().exists():
            return Policy(Base(ref=ref, path=ref, hub=True))
        raise
    path = Path(path)
    meta = read_meta(path) if (path / "workbench.json").is_file() else {}
    if (path / "adapter_config.json").is_file():
        base_path = meta.get("base_model_path") or json.loads((path / "adapter_config.json").read_text()).get(
            "base_model_name_or_path")
        if not base_path:
            raise UserError(say("the {w} {p} is an adapter that names no base model", "{wk} {p} 은(는) 기본 모델이 적혀 "
                                "있지 않은 어댑터입니다", w=en, wk=ko, p=str(path)))
        base_art = None
        base_id = (meta.get("base_model") or {}).get("id")
        if ws is not None and base_id is not None:
            base_art = ws.store.get_artifact(base_id)
        policy = Policy(Base(ref=str(base_path), path=str(base_path), artifact=base_art,
                             hub=not Path(base_path).exists()), adapter=str(path), adapter_artifact=art, meta=meta)
    else:
        if not (path / "config.json").is_file():
            raise UserError(say("the {w} {p} is not a Hugging Face model folder (no config.json)",
                                "{wk} {p} 은(는) Hugging Face 모델 폴더가 아닙니다 (config.json 없음)", w=en, wk=ko,
                                p=str(path)))
        refuse_quantized(path, ref, say("aligned or used as a reference", "정렬하거나 기준 모델로 쓸 수는 없습니다"))
        policy = Policy(Base(ref=ref, path=str(path.resolve()), artifact=art), meta=meta)
    if meta.get("task") == "sequence-classification":
        raise _classifier(en, ko, ref, meta.get("task"))
    return policy


def _classifier(en: str, ko: str, ref: str, arch: str):
    return UserError(say("the {w} '{r}' is a sequence classifier ({a}): it has no language-model head, so it cannot "
                         "write or score answers; pick a causal language model (pretrained or SFT-tuned)",
                         "{wk} '{r}' 은(는) 문장 분류기 ({a}) 라서 언어 모델 머리가 없어 답을 쓰거나 점수를 매길 수 "
                         "없습니다. 인과 언어 모델 (사전학습·SFT 모델) 을 고르세요", w=en, wk=ko, r=ref, a=arch))


def check_causal(policy: Policy, config, what: str = "policy") -> None:
    archs = list(getattr(config, "architectures", None) or [])
    if archs and all("SequenceClassification" in a for a in archs):
        en, ko = WHAT[what]
        raise _classifier(en, ko, policy.ref, ", ".join(archs))


def tokenizer_of(policy: Policy):
    """The tokenizer saved with the adapter (it carries the SFT chat template), else the base's."""
    if policy.adapter and any((Path(policy.adapter) / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")):
        from transformers import AutoTokenizer
        try:
            return AutoTokenizer.from_pretrained(policy.adapter, trust_remote_code=False)
        except Exception as e:  # noqa: BLE001
            raise _loading_error(Base(ref=policy.adapter, path=policy.adapter), "tokenizer", e) from None
    return load_tokenizer(policy.base)


PROBE = "대한민국 헌법 제1조 The quick brown fox 12345 ㅋㅋ 😀"


def check_same_tokenizer(tok_a, tok_b, ref_b: str) -> None:
    """The reference scores the policy's token ids: the two must tokenize alike."""
    same = (len(tok_a) == len(tok_b) and tok_a(PROBE, add_special_tokens=False)["input_ids"] ==
            tok_b(PROBE, add_special_tokens=False)["input_ids"] and tok_a.eos_token_id == tok_b.eos_token_id)
    if not same:
        raise UserError(say("the reference model '{r}' uses another tokenizer than the policy ({a:,} vs {b:,} tokens, "
                            "or other ids for the same text): DPO compares the two models' probabilities of the same "
                            "token ids, so pick a reference made with the policy's tokenizer (or leave it empty: a "
                            "frozen copy of the policy)",
                            "기준 모델 '{r}' 의 토크나이저가 정책과 다릅니다 (토큰 {b:,}개 대 {a:,}개, 또는 같은 텍스트의 "
                            "번호가 다름). DPO 는 같은 토큰 번호에 대한 두 모델의 확률을 비교하므로, 정책의 토크나이저로 "
                            "만든 기준 모델을 고르세요 (비우면 정책의 얼린 사본)", r=ref_b, a=len(tok_a), b=len(tok_b)))


def load_model(policy: Policy, *, dtype=None, what: str = "policy"):
    """The causal LM in full precision; an adapter merged into its base (merge_and_unload)."""
    import torch
    from transformers import AutoModelForCausalLM
    kw = {"dtype": dtype or torch.float32, "trust_remote_code": False}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = AutoModelForCausalLM.from_pretrained(policy.base.path, **kw)
    except Exception as e:  # noqa: BLE001
        raise _loading_error(policy.base, "weights", e) from None
    if policy.adapter:
        from peft import PeftModel
        try:
            model = PeftModel.from_pretrained(model, policy.adapter, is_trainable=False).merge_and_unload()
        except Exception as e:  # noqa: BLE001
            raise UserError(say("the adapter {p} cannot be put on its base ({e})",
                                "어댑터 {p} 를 기본 모델에 얹을 수 없습니다 ({e})", p=policy.adapter,
                                e=f"{type(e).__name__}: {str(e)[:200]}")) from None
    return model


def config_of(policy: Policy):
    return load_config(policy.base)


def set_chat_template(tokenizer, template: str) -> str:
    """The template pairs are rendered with: the config's, else the tokenizer's own, else the plain default one
    (the Fine-tune stage's). Returns where it came from: config, tokenizer or default."""
    from ..finetune.data import DEFAULT_CHAT_TEMPLATE
    if template.strip() and template.strip() != "auto":
        tokenizer.chat_template = template
        return "config"
    if getattr(tokenizer, "chat_template", None):
        return "tokenizer"
    tokenizer.chat_template = DEFAULT_CHAT_TEMPLATE
    return "default"
