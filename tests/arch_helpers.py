"""Test helpers for the architecture lab: real corpus and tokenizer artifacts made in-process.

The Corpus and Tokenizer stages are built in parallel, so these tests publish the two artifact
formats directly (workbench.artifacts) from konlpy's bundled Korean text.
"""
from __future__ import annotations

from pathlib import Path


def korean_texts() -> list[str]:
    from workbench.bundled import konlpy_lines

    return konlpy_lines(min_chars=21)


def make_tokenizer_artifact(ws, name: str = "ko-bpe", vocab_size: int = 600) -> int:
    """A byte-level BPE trained with `tokenizers`, saved as a HF fast-tokenizer folder, published."""
    from workbench.artifacts import write_meta
    from workbench.tokenizer.quick import quick_bpe

    fast = quick_bpe(korean_texts(), vocab_size)
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
    """A ArchCompareConfig small enough for tests (depth 1-2, short lengths, one thread)."""
    from workbench.arch.stage import ArchCompareConfig

    sets = {"model.depth": 2, "model.experts": 4, "threads": 1, "measure.seq_lens": [16, 32, 64],
            "measure.gen_contexts": [16, 32], "measure.gen_tokens": 4, "measure.repeats": 1,
            "race.tokens": 2048, "race.seq_len": 32, "race.batch": 4, "race.eval_batches": 1}
    sets.update(kw)
    return ArchCompareConfig().replace(**sets).validate()


__all__ = ["make_tokenizer_artifact", "make_corpus_artifact", "tiny_lab", "korean_texts", "Path"]
