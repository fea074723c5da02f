"""Pretraining data: read texts, tokenize once (cached), pack into fixed-length blocks.

Documents are joined into one token stream with the tokenizer's EOS between them
(the document separator), stored as a flat uint16/uint32 array on disk, and cut into
blocks of `seq_len` tokens. The cache key covers the corpus files and the tokenizer,
so a second run with the same inputs starts training at once.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..artifacts import corpus_splits, iter_corpus_texts
from ..errors import UserError

CACHE_VERSION = 1
RAW_SUFFIXES = (".txt", ".txt.gz", ".jsonl", ".jsonl.gz")


def raw_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(RAW_SUFFIXES))


def _open_text(p: Path):
    raw = gzip.open(p, "rb") if p.name.endswith(".gz") else open(p, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace")


def iter_raw_texts(files: list[Path]) -> Iterator[str]:
    """One document per line of .txt, or the "text" field of each .jsonl line."""
    for p in files:
        is_jsonl = ".jsonl" in p.name
        with _open_text(p) as f:
            for line in f:
                if is_jsonl:
                    line = line.strip()
                    if not line:
                        continue
                    text = json.loads(line).get("text", "")
                else:
                    text = line.rstrip("\n")
                if text.strip():
                    yield text


@dataclass
class TextSource:
    """Where pretraining text comes from: a corpus artifact folder, or raw .txt/.jsonl(.gz) files."""
    path: Path

    @property
    def is_corpus_artifact(self) -> bool:
        return self.path.is_dir() and "train" in corpus_splits(self.path)

    def files(self) -> list[Path]:
        if self.is_corpus_artifact:
            return sorted(corpus_splits(self.path).values())
        files = raw_files(self.path)
        if not files:
            raise UserError(f"'{self.path}' holds no corpus (train.parquet) and no {', '.join(RAW_SUFFIXES)} files: "
                            "pick a corpus artifact made in the Corpus tab")
        return files

    def has_validation(self) -> bool:
        return self.is_corpus_artifact and "validation" in corpus_splits(self.path)

    def texts(self, split: str = "train") -> Iterator[str]:
        if self.is_corpus_artifact:
            return iter_corpus_texts(self.path, split)
        return iter_raw_texts(self.files())

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for p in self.files():
            st = p.stat()
            h.update(f"{p.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode())
        return h.hexdigest()[:16]


def tokenizer_fingerprint(tokenizer) -> str:
    h = hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode() if hasattr(tokenizer, "backend_tokenizer")
                       else repr(tokenizer.get_vocab()).encode())
    return h.hexdigest()[:16]


def _val_doc(i: int, val_fraction: float) -> bool:
    # Deterministic, order-independent split: doc i goes to validation for a fixed hash bucket.
    return val_fraction > 0 and (int(hashlib.md5(str(i).encode()).hexdigest()[:8], 16) % 10_000) < val_fraction * 10_000


@dataclass
class TokenCache:
    folder: Path
    dtype: str
    stats: dict

    def tokens(self, split: str) -> np.ndarray:
        path = self.folder / f"{split}.bin"
        if path.stat().st_size == 0:  # mmap refuses empty files
            return np.zeros(0, dtype=self.dtype)
        return np.memmap(path, dtype=self.dtype, mode="r")


def build_token_cache(source: TextSource, tokenizer, cache_root: Path, *, val_fraction: float,
                      progress: Callable[[float, float | None, str], None] | None = None,
                      should_stop: Callable[[], bool] = lambda: False, batch_docs: int = 2000) -> TokenCache:
    """Tokenize the source once into train.bin/validation.bin under a key of (source, tokenizer, split)."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise UserError("the tokenizer has no EOS token, which separates documents: train it with an eos token")
    use_val_split = source.has_validation()
    key = hashlib.sha256(json.dumps([CACHE_VERSION, source.fingerprint(), tokenizer_fingerprint(tokenizer),
                                     use_val_split, val_fraction]).encode()).hexdigest()[:20]
    folder = cache_root / key
    if (folder / "stats.json").is_file():
        stats = json.loads((folder / "stats.json").read_text())
        return TokenCache(folder, stats["dtype"], stats)
    dtype = "uint16" if len(tokenizer) <= 65535 else "uint32"
    tmp = cache_root / f".tmp-{key}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    counts = {"train": [0, 0, 0], "validation": [0, 0, 0]}  # docs, tokens, bytes
    total_bytes = sum(p.stat().st_size for p in source.files())
    t0 = time.time()
    outs = {s: open(tmp / f"{s}.bin", "wb") for s in ("train", "validation")}
    try:
        splits = [("train", source.texts("train"))]
        if use_val_split:
            splits.append(("validation", source.texts("validation")))
        done_bytes, doc_index = 0, 0
        for split_name, texts in splits:
            batch: list[str] = []
            for text in _chain(texts, [None]):
                if text is not None:
                    batch.append(text)
                    if len(batch) < batch_docs:
                        continue
                if not batch:
                    break
                if should_stop():
                    raise UserError("stopped while tokenizing the corpus (nothing was trained yet)")
                ids = tokenizer(batch, add_special_tokens=False)["input_ids"]
                for text_i, seq in zip(batch, ids):
                    target = split_name if use_val_split else ("validation" if _val_doc(doc_index, val_fraction)
                                                               else "train")
                    doc_index += 1
                    arr = np.asarray(seq + [eos], dtype=dtype)
                    outs[target].write(arr.tobytes())
                    c = counts[target]
                    c[0] += 1
                    c[1] += len(arr)
                    nb = len(text_i.encode("utf-8"))
                    c[2] += nb
                    done_bytes += nb
                batch = []
                if progress:
                    progress(min(done_bytes, total_bytes), total_bytes,
                             f"tokenizing: {counts['train'][0] + counts['validation'][0]:,} documents, "
                             f"{counts['train'][1] + counts['validation'][1]:,} tokens")
    except BaseException:
        for f in outs.values():
            f.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for f in outs.values():
        f.close()
    stats = {"dtype": dtype, "seconds": round(time.time() - t0, 2),
             **{f"{s}_{k}": counts[s][i] for s in counts for i, k in enumerate(("docs", "tokens", "bytes"))}}
    (tmp / "stats.json").write_text(json.dumps(stats))
    if folder.exists():  # another process finished the same cache meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(folder)
    return TokenCache(folder, dtype, stats)


def _chain(a, b):
    yield from a
    yield from b


class BlockDataset:
    """Fixed-length blocks cut from a token stream; labels are the inputs (the model shifts them)."""

    def __init__(self, tokens: np.ndarray, seq_len: int, max_blocks: int | None = None):
        self.tokens, self.seq_len = tokens, seq_len
        n = len(tokens) // seq_len
        self.n = n if max_blocks is None else min(n, max_blocks)

    def __len__(self) -> int:
        return self.n

    def block(self, i: int) -> np.ndarray:
        return np.asarray(self.tokens[i * self.seq_len:(i + 1) * self.seq_len], dtype=np.int64)

    def __getitem__(self, i: int) -> dict:
        import torch

        if i < 0 or i >= self.n:
            raise IndexError(i)
        ids = torch.from_numpy(self.block(i))
        return {"input_ids": ids, "labels": ids}
