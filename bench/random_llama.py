"""A random Llama of a given size with the Home check's small Korean BPE tokenizer, published as a `model` artifact:
what the home and share benches measure (its weights are noise; only their size and shape matter there)."""
from __future__ import annotations

from pathlib import Path


def publish_random_llama(ws, name: str, *, depth: int, width: int, heads: int, seed: int = 0) -> tuple[int, Path]:
    """(artifact id, folder) of a depth x width Llama (MLP 3x width) with its tokenizer beside the weights."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from workbench.home.run_model import tiny_random_model
    _, tok = tiny_random_model(seed)
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=width, intermediate_size=width * 3, num_hidden_layers=depth,
                      num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=512,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    staging = ws.staging_dir("model", name)
    LlamaForCausalLM(cfg).save_pretrained(staging)
    tok.save_pretrained(staging)
    art_id = ws.publish(staging, "model", name)
    return art_id, Path(ws.store.get_artifact(art_id).path)
