"""Tiny real inputs for tests: a corpus artifact from konlpy's bundled Korean text and a small BPE
tokenizer trained in-process on it (the real `tokenizers` library, seconds on a CPU)."""
from __future__ import annotations

from pathlib import Path

SPECIALS = {"pad_token": "<pad>", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")


def konlpy_lines() -> list[str]:
    from konlpy.corpus import kobill, kolaw
    texts = [kolaw.open("constitution.txt").read()] + [kobill.open(f).read() for f in sorted(kobill.fileids())]
    return [ln.strip() for t in texts for ln in t.splitlines() if len(ln.strip()) > 5]


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
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = list(SPECIALS.values()) + ["<|user|>", "<|assistant|>", "<|system|>"]
    tok.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIALS)
    fast.chat_template = CHAT_TEMPLATE
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)
    return fast


def make_tokenizer(ws, name: str = "tiny-bpe", lines: list[str] | None = None, vocab_size: int = 800,
                   parents=()) -> int:
    staging = ws.staging_dir("tokenizer", name)
    train_tokenizer(staging, lines if lines is not None else konlpy_lines(), vocab_size)
    return ws.publish(staging, "tokenizer", name, parents=parents)
