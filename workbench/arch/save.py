"""Save an architecture as an artifact (kind "arch"): what the Pretrain tab trains.

The folder holds
  arch.json        ArchConfig.to_dict(): the lab's config object, read back with
                   ArchConfig.from_dict(workbench.artifacts.load_arch(folder))
  config.json      the transformers config built from it, with the tokenizer's vocabulary and
                   special-token ids (AutoConfig.from_pretrained(folder) reads it, no project code)
  workbench.json   the tokenizer it was sized for and the on-paper figures
and the store records the tokenizer artifact as its parent (lineage).
"""
from __future__ import annotations

from typing import Any, Callable

from ..artifacts import save_arch, write_meta
from ..errors import UserError
from ..i18n import say
from . import paper
from .families import FAMILIES, ArchConfig, hf_config
from .inputs import load_tokenizer_ref, special_ids, vocab_of


def save_architecture(ws, arch: ArchConfig, tokenizer: str, name: str, *, overwrite: bool = False,
                      publish: Callable[..., Any] | None = None, context: int | None = None) -> dict[str, Any]:
    """Validate, write and publish an arch artifact; returns {'artifact', 'path', 'name', 'vocab_size', ...}."""
    from state.names import NameError_, check_name

    try:
        name = check_name(name, "architecture name")
    except NameError_ as e:
        raise UserError(e.args[0] if len(e.args) == 1 and isinstance(e.args[0], str) else str(e)) from None
    arch.validate()
    if ws.store.get_artifact(kind="arch", name=name) is not None and not overwrite:
        raise UserError(say("an architecture named '{n}' already exists: choose another name, or tick overwrite",
                            "이름이 '{n}' 인 아키텍처가 이미 있습니다. 다른 이름을 고르거나 덮어쓰기를 체크하세요",
                            n=name))
    tok, ref = load_tokenizer_ref(ws, tokenizer)
    if tok is None:
        raise UserError("choose a tokenizer artifact: the architecture's vocabulary (embedding rows) comes from it. "
                        "Train one in the Tokenizer tab first.",
                        ko="토크나이저 산출물을 고르세요. 아키텍처의 어휘(임베딩 행 수)가 여기서 정해집니다. 먼저 "
                           "토크나이저 탭에서 학습하세요.")
    vocab = vocab_of(tok)
    ids = special_ids(tok)
    hc = hf_config(arch, vocab, **ids)
    figures = paper.figures(hc, context=context or arch.context)
    staging = ws.staging_dir("arch", name)
    save_arch(staging, arch.to_dict())
    hc.save_pretrained(staging)
    meta = {"family": arch.family, "label": FAMILIES[arch.family][0], "vocab_size": vocab, "special_ids": ids,
            "tokenizer": {"artifact": ref.artifact_id, "name": ref.name, "path": str(ref.path)},
            "dims": arch.dims(), "depth": arch.depth, "params": figures["params"],
            "flops_per_token": figures["flops_per_token"], "cache": figures["cache"],
            "model_type": hc.model_type}
    write_meta(staging, meta)
    pub = publish or ws.publish
    art_id = pub(staging, "arch", name, parents=[ref.artifact_id] if ref.artifact_id else [], meta=meta,
                 overwrite=overwrite)
    art = ws.store.get_artifact(art_id) if art_id is not None else None
    return {"artifact": art_id, "name": name, "path": art.path if art else None, "family": arch.family,
            "vocab_size": vocab, "params": figures["params"]["total"]}
