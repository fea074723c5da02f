"""The on-paper comparison the tab shows (in-process: arithmetic plus a free instantiation check).

Each family's model is also instantiated on PyTorch's "meta" device (shapes without memory or
compute, so even a large config costs nothing) and its counted parameters are compared with the
arithmetic: the table says whether they match.
"""
from __future__ import annotations

from typing import Any

from . import paper
from .families import FAMILIES, count_params, hf_config
from .inputs import DEFAULT_VOCAB, load_tokenizer_ref, special_ids, vocab_of

CACHE_CONTEXTS = [128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072]


def instantiated_counts(hc) -> dict[str, int]:
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(hc)
    return count_params(model)


def paper_table(cfg, ws, *, context: int, batch: int, seq: int, dtype: str = "float32",
                check: bool = True) -> dict[str, Any]:
    """Rows of on-paper figures for every selected family (cfg is an ArchCompareConfig)."""
    tok, ref = load_tokenizer_ref(ws, cfg.tokenizer)
    if tok is not None:
        vocab, ids = vocab_of(tok), special_ids(tok)
        source = {"from": "tokenizer", "name": ref.name}
    else:
        vocab, ids = cfg.model.vocab_size or DEFAULT_VOCAB, {"bos": 1, "eos": 2, "pad": 0}
        source = {"from": "model.vocab_size" if cfg.model.vocab_size else "default", "name": None}
    b = paper.DTYPE_BYTES[dtype]
    rows, curves = [], {}
    for fam in cfg.families:
        arch = cfg.arch_for(fam)
        hc = hf_config(arch, vocab, **{k: (v if v is None else v % vocab) for k, v in ids.items()})
        p = paper.params(hc)
        counted = instantiated_counts(hc) if check else None
        match = None if counted is None else all(counted[k] == p[k] for k in ("total", "embedding", "non_embedding",
                                                                              "active"))
        infer = paper.flops_per_token(hc, context)
        train = paper.flops_per_token(hc, seq)
        cache = paper.cache_bytes(hc, context, b)
        mem = paper.training_memory(hc, batch, seq, dtype_bytes=b, mixed_precision=dtype != "float32")
        rows.append({"family": fam, "label": FAMILIES[fam][0], "dims": arch.dims(), "depth": arch.depth,
                     "params": p, "counted": counted, "match": match, "flops_infer": infer["forward"],
                     "flops_train": train["train"], "flops_parts": infer, "cache": cache, "train_memory": mem})
        curves[fam] = [(c, paper.cache_bytes(hc, c, b)["at_context"]) for c in CACHE_CONTEXTS]
    return {"vocab_size": vocab, "vocab_source": source, "context": context, "batch": batch, "seq": seq,
            "dtype": dtype, "rows": rows, "cache_curves": curves}
