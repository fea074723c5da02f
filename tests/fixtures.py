"""Tiny real inputs for tests: a corpus artifact from konlpy's bundled Korean text and a small BPE
tokenizer trained in-process on it (the real `tokenizers` library, seconds on a CPU)."""
from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")


def konlpy_lines() -> list[str]:
    from workbench.bundled import konlpy_lines as lines
    return lines()


def make_corpus(ws, name: str = "kolaw", lines: list[str] | None = None, validation: int = 0) -> int:
    """Publish a corpus artifact (train [+ validation] parquet) and return its id."""
    from workbench.artifacts import write_corpus_split, write_meta
    lines = lines if lines is not None else konlpy_lines()
    staging = ws.staging_dir("corpus", name)
    rows = [{"id": str(i), "text": t, "source": "konlpy"} for i, t in enumerate(lines)]
    write_corpus_split(staging, "train", rows[validation:])
    if validation:
        write_corpus_split(staging, "validation", rows[:validation])
    write_meta(staging, {"docs": len(rows), "source": "konlpy kolaw+kobill (test fixture)"})
    return ws.publish(staging, "corpus", name)


def train_tokenizer(folder: Path, lines: list[str], vocab_size: int = 800):
    """A byte-level BPE saved as a transformers fast tokenizer folder with specials and a chat template."""
    from workbench.tokenizer.quick import quick_bpe
    fast = quick_bpe(lines, vocab_size, unk="<unk>", extra_specials=("<|user|>", "<|assistant|>", "<|system|>"),
                     chat_template=CHAT_TEMPLATE)
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)
    return fast


def make_tokenizer(ws, name: str = "tiny-bpe", lines: list[str] | None = None, vocab_size: int = 800,
                   parents=()) -> int:
    staging = ws.staging_dir("tokenizer", name)
    train_tokenizer(staging, lines if lines is not None else konlpy_lines(), vocab_size)
    return ws.publish(staging, "tokenizer", name, parents=parents)


def publish_tiny_llama(ws, name: str = "tiny-base", *, hidden: int = 64, layers: int = 1, seed: int = 0,
                       tokenizer_id: int | None = None) -> int:
    """A tiny random Llama with the project's tokenizer (made here unless given), published as a `model` artifact
    (what the Pretrain stage makes) with the tokenizer as its parent."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
    tok_id = tokenizer_id if tokenizer_id is not None else make_tokenizer(ws)
    tok = AutoTokenizer.from_pretrained(ws.store.get_artifact(tok_id).path)
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    staging = ws.staging_dir("model", name)
    LlamaForCausalLM(cfg).save_pretrained(staging)
    tok.save_pretrained(staging)
    return ws.publish(staging, "model", name, parents=[tok_id], meta={"stage": "pretrain"})
