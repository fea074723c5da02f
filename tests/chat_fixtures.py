"""A tiny *real* chat model for the chat tests and the benchmark, built offline in seconds.

- a byte-level BPE tokenizer trained in-process with `tokenizers` on konlpy's bundled Korean
  text (the constitution and ten bills; read straight from the package, no Java needed),
  wrapped as a transformers fast tokenizer with a chat template;
- a LlamaForCausalLM (hidden 64, 2 layers by default) trained for a few dozen AdamW steps on
  that text plus chat-formatted pairs of consecutive sentences, so it answers in Korean-ish
  text and learned to end a turn with the end-of-turn token;
- saved as a model artifact exactly as the pretrain stage saves one (config.json,
  model.safetensors, generation_config.json, tokenizer files, workbench.json).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

SPECIAL = ["<|pad|>", "<|bos|>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def korean_lines(max_chars: int = 40_000) -> list[str]:
    """Non-empty lines of konlpy's bundled Korean corpora (statutes), read without Java."""
    from workbench.bundled import konlpy_texts

    text = "\n".join(konlpy_texts())
    return [ln.strip() for ln in text[:max_chars].splitlines() if len(ln.strip()) > 4]


def train_tokenizer(lines: list[str], vocab_size: int = 1000):
    from workbench.tokenizer.quick import quick_bpe

    return quick_bpe(lines, vocab_size, pad=SPECIAL[0], bos=SPECIAL[1], eos=SPECIAL[2],
                     extra_specials=tuple(SPECIAL[3:]), chat_template=CHAT_TEMPLATE)


def build_tiny_model(folder: str | Path, *, hidden: int = 64, layers: int = 2, heads: int = 4,
                     context: int = 256, steps: int = 150, vocab_size: int = 1000, seed: int = 0,
                     batch: int = 8, seq: int = 64) -> Path:
    """Train and save a tiny Llama chat model into `folder` (a plain HF folder, no workbench.json)."""
    import torch

    threads = torch.get_num_threads()
    # One thread: a tiny model gains nothing from two, and on a loaded machine two threads spin-wait
    # (measured here: 2.3 s a step with 2 threads under load, 0.05 s with 1).
    torch.set_num_threads(1)
    try:
        return _build(Path(folder), hidden, layers, heads, context, steps, vocab_size, seed, batch, seq)
    finally:
        torch.set_num_threads(threads)


def _build(folder, hidden, layers, heads, context, steps, vocab_size, seed, batch, seq) -> Path:
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    lines = korean_lines()
    tok = train_tokenizer(lines, vocab_size)
    tok.model_max_length = context
    # Plain text plus chat-formatted pairs (sentence i asks, sentence i+1 answers).
    chats = [tok.apply_chat_template([{"role": "user", "content": a}, {"role": "assistant", "content": b}],
                                     tokenize=False) for a, b in zip(lines[::2], lines[1::2])]
    ids: list[int] = []
    for text in lines + chats:
        ids += tok(text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    data = torch.tensor(ids)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 2,
                      num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
                      max_position_embeddings=context, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    model.train()
    losses = []
    for _ in range(steps):
        starts = torch.randint(0, len(data) - seq - 1, (batch,), generator=g)
        x = torch.stack([data[s:s + seq] for s in starts])
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(float(loss.detach()))
    model.eval()
    model.generation_config = GenerationConfig(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                               pad_token_id=tok.pad_token_id)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    (folder / "train_losses.json").write_text(json.dumps(losses))
    return folder


def publish_tiny_model(ws, src: str | Path, name: str = "tiny-chat", *, chat_model: bool = True,
                       kind: str = "model", overwrite: bool = False) -> int:
    """Copy a built tiny model into the workspace as a model artifact (as the pretrain stage would)."""
    from workbench.artifacts import write_meta

    staging = ws.staging_dir(kind, name)
    shutil.copytree(src, staging, dirs_exist_ok=True)
    losses = json.loads(Path(src, "train_losses.json").read_text())
    meta = {"arch": "llama", "chat_model": chat_model, "note": "tiny test model (tests/chat_fixtures.py)",
            "train_loss_first": losses[0], "train_loss_last": losses[-1]}
    write_meta(staging, meta)
    return ws.publish(staging, kind, name, meta=meta, overwrite=overwrite)


def publish_endless_model(ws, src: str | Path, name: str = "tiny-long") -> int:
    """The same weights with a 16384-token window (RoPE has no position weights) and an end-of-text token
    it practically never produces (<|system|>): a reply runs as long as asked, long enough to stop it."""
    from workbench.artifacts import write_meta

    staging = ws.staging_dir("model", name)
    shutil.copytree(src, staging, dirs_exist_ok=True)
    for fname, key, value in (("config.json", "max_position_embeddings", 16384), ("config.json", "eos_token_id", 3),
                              ("generation_config.json", "eos_token_id", 3),
                              ("tokenizer_config.json", "eos_token", "<|system|>")):
        data = json.loads((staging / fname).read_text())
        data[key] = value
        (staging / fname).write_text(json.dumps(data))
    write_meta(staging, {"chat_model": False, "note": "test model that does not end its turn"})
    return ws.publish(staging, "model", name, meta={"chat_model": False})


_BUILT: dict[tuple, Path] = {}


def tiny_model_dir(**kw) -> Path:
    """The tiny model, built once per test process (in a temporary folder removed at exit)."""
    key = tuple(sorted(kw.items()))
    if key not in _BUILT:
        import atexit
        import tempfile
        d = Path(tempfile.mkdtemp(prefix="wb-tiny-chat-"))
        atexit.register(shutil.rmtree, d, True)
        _BUILT[key] = build_tiny_model(d / "model", **kw)
    return _BUILT[key]
