"""Test helpers for the architecture lab: real corpus and tokenizer artifacts made in-process.

The Corpus and Tokenizer stages are built in parallel, so these tests publish the two artifact
formats directly (workbench.artifacts) from konlpy's bundled Korean text.
"""
from __future__ import annotations

from pathlib import Path


def korean_texts() -> list[str]:
    from workbench.arch.inputs import bundled_korean_texts

    out = []
    for doc in bundled_korean_texts():
        out += [p.strip() for p in doc.split("\n") if len(p.strip()) > 20]
    return out


def make_tokenizer_artifact(ws, name: str = "ko-bpe", vocab_size: int = 600) -> int:
    """A byte-level BPE trained with `tokenizers`, saved as a HF fast-tokenizer folder, published."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from workbench.artifacts import write_meta

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator(korean_texts(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", bos_token="<s>", eos_token="</s>")
    staging = ws.staging_dir("tokenizer", name)
    fast.save_pretrained(str(staging))
    write_meta(staging, {"algorithm": "bpe", "vocab_size": len(fast), "made_by": "tests/arch_helpers.py"})
    return ws.publish(staging, "tokenizer", name, meta={"vocab_size": len(fast)})


def make_corpus_artifact(ws, name: str = "ko-law") -> int:
    from workbench.artifacts import write_corpus_split, write_meta

    staging = ws.staging_dir("corpus", name)
    rows = [{"id": str(i), "text": t, "source": "konlpy"} for i, t in enumerate(korean_texts())]
    write_corpus_split(staging, "train", rows)
    write_meta(staging, {"rows": len(rows), "made_by": "tests/arch_helpers.py"})
    return ws.publish(staging, "corpus", name, meta={"rows": len(rows)})


def tiny_lab(**kw):
    """A LabConfig small enough for tests (depth 1-2, short lengths, one thread)."""
    from workbench.arch.stage import LabConfig

    sets = {"model.depth": 2, "model.experts": 4, "threads": 1, "measure.seq_lens": [16, 32, 64],
            "measure.gen_contexts": [16, 32], "measure.gen_tokens": 4, "measure.repeats": 1,
            "race.tokens": 2048, "race.seq_len": 32, "race.batch": 4, "race.eval_batches": 1}
    sets.update(kw)
    return LabConfig().replace(**sets).validate()


__all__ = ["make_tokenizer_artifact", "make_corpus_artifact", "tiny_lab", "korean_texts", "Path"]
