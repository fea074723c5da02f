"""Held-out text: what a held-out figure rests on, and whether the tokenizer was trained on that text.

A held-out figure (fertility, chars per token, ...) says how a tokenizer does on text it has not seen, so
every one comes with
- its size: texts, words and characters, with a warning when it is too little text to trust
  (fewer than MIN_TEXTS texts or MIN_WORDS words: one more document can move the figure by percents);
- its overlap with the training text: the share of the held-out characters that are in lines that also
  occur, verbatim (after the same normalization), as a line of the training text. A tokenizer trained on
  the held-out text (the constitution is part of the bundled corpus) scores optimistically, so from
  TRAINED_WARN on the figure says so.
Lines are compared by hash within one process (the stage hashes its training lines while reading them; the
comparison reads a tokenizer's training source again, see `training_hashes`).
"""
from __future__ import annotations

import threading
from workbench.i18n import both
from workbench.i18n import Text, say

MIN_TEXTS = 30
MIN_WORDS = 3000
TRAINED_WARN = 0.05
MAX_HASHED_LINES = 20_000_000   # 160 MB of hashes; a larger corpus is checked against its first lines


def lines_of(text: str, normalization: str) -> list[str]:
    """The lines a text becomes in the training file (normalized, blank lines dropped), as `prepare` makes them."""
    from .train import MARK, normalize
    return [ln for ln in normalize(text.replace(MARK, ""), normalization).splitlines() if ln.strip()]


def hash_lines(lines: list[str]):
    import numpy as np
    return np.fromiter(map(hash, lines), dtype=np.int64, count=len(lines))


class LineHashes:
    """Hashes of training lines, gathered a batch at a time (8 bytes a line)."""

    def __init__(self, limit: int = MAX_HASHED_LINES):
        self.parts: list = []
        self.n = 0
        self.limit = limit
        self.complete = True

    def add(self, lines: list[str]) -> None:
        if self.n >= self.limit:
            self.complete = False
            return
        lines = lines[:self.limit - self.n]
        self.parts.append(hash_lines(lines))
        self.n += len(lines)

    def array(self):
        import numpy as np
        return np.unique(np.concatenate(self.parts)) if self.parts else np.zeros(0, dtype=np.int64)


def trained_share(texts: list[str], normalization: str, train_hashes) -> dict:
    """How much of the held-out text occurs as training lines: share of characters, lines checked and found."""
    import numpy as np
    lines = list(dict.fromkeys(ln for t in texts for ln in lines_of(t, normalization)))
    if not lines:
        return {"trained_share": 0.0, "lines": 0, "trained_lines": 0}
    found = np.isin(hash_lines(lines), train_hashes)
    total = sum(len(ln) for ln in lines)
    seen = sum(len(ln) for ln, f in zip(lines, found) if f)
    return {"trained_share": round(seen / total, 4) if total else 0.0, "lines": len(lines),
            "trained_lines": int(found.sum())}


def describe(texts: list[str]) -> dict:
    """Texts, words (whitespace-separated pieces) and characters of the held-out text."""
    return {"texts": len(texts), "words": sum(len(t.split()) for t in texts), "characters": sum(len(t) for t in texts)}


def warnings(d: dict) -> list[Text]:
    """What a person must know before trusting figures measured on this held-out text."""
    out = []
    texts, words = d.get("texts") or 0, d.get("words") or 0
    if texts < MIN_TEXTS or words < MIN_WORDS:
        out.append(say("the held-out figures rest on only {texts:,} texts ({words:,} words): too little text to "
                       "trust (another document can move them by several percent); give more held-out text, e.g. "
                       "a corpus with a larger validation split or a text file",
                       "평가용 글이 {texts:,}개({words:,} 어절)뿐이라 수치를 믿기에는 너무 적습니다 (글 하나만 더해도 "
                       "몇 퍼센트씩 바뀔 수 있음): 검증 분할이 더 큰 말뭉치나 텍스트 파일처럼 평가용 글을 더 주세요",
                       texts=texts, words=words))
    share = d.get("trained_share")
    if share is not None and share >= TRAINED_WARN:
        out.append(say("{share:.0%} of the held-out text is also in the training text: these figures are optimistic "
                       "(measured on text the tokenizer was trained on)",
                       "평가용 글의 {share:.0%}가 학습 글에도 들어 있습니다: 수치가 실제보다 좋게 나옵니다 "
                       "(토크나이저가 학습한 글에서 잰 값)", share=share))
    return out


def annotate(d: dict) -> dict:
    """d with its warnings added, in both languages (for JSON: a run's summary, workbench.json)."""
    return {**d, "warnings": [both(w) for w in warnings(d)]}


# -- a trained tokenizer's training text, read again (for the comparison) ------------------------------
_CACHE: dict[tuple, object] = {}
_CACHE_LOCK = threading.Lock()


def training_hashes(info: dict, ws=None):
    """Hashes of the lines a workbench-trained tokenizer was trained on (from its workbench.json), or None when
    that is unknown (not trained here) or its training text is gone. Kept per process: a second comparison
    against the same corpus does not read it again."""
    from pathlib import Path

    from workbench.errors import UserError

    from .sources import TextSource, resolve_source
    corpus = (info or {}).get("corpus") or {}
    cfg = (info or {}).get("config") or {}
    if not corpus:
        return None
    normalization = (info.get("settings") or {}).get("normalization") or cfg.get("normalization") or "NFC"
    max_texts = int(cfg.get("max_texts") or 0) or None
    held = info.get("heldout") or {}
    every = int(held.get("every") or 0) if held.get("kind") == "holdback" else 0
    try:
        if corpus.get("kind") == "corpus" and corpus.get("path"):
            src = TextSource(corpus.get("spec", ""), "corpus", corpus.get("label", ""), folder=Path(corpus["path"]))
            if not (src.folder / "train.parquet").is_file():
                return None
        elif corpus.get("files"):
            files = [Path(f) for f in corpus["files"]]
            if not all(f.is_file() for f in files):
                return None
            src = TextSource(corpus.get("spec", ""), corpus.get("kind", "files"), corpus.get("label", ""), files=files)
        else:
            src = resolve_source(corpus.get("spec", ""), ws)
    except UserError:
        return None
    stamp = tuple(sorted((str(p), p.stat().st_mtime) for p in _stamp_paths(src)))
    key = (stamp, normalization, max_texts, every)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    from .stage import HOLDOUT_MAX
    hashes = LineHashes()
    held_back = 0
    batch: list[str] = []
    for i, text in enumerate(src.texts("train", limit=max_texts)):
        if every and i % every == every - 1 and held_back < HOLDOUT_MAX:
            held_back += 1
            continue
        batch.extend(lines_of(text, normalization))
        if len(batch) >= 50_000:
            hashes.add(batch)
            batch = []
    hashes.add(batch)
    arr = hashes.array()
    with _CACHE_LOCK:
        while len(_CACHE) >= 4:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = arr
    return arr


def _stamp_paths(src) -> list:
    if src.kind == "corpus":
        return [src.folder / "train.parquet"]
    return list(src.files)
