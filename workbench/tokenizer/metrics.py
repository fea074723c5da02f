"""Corpus-level figures of a tokenizer on held-out text, and the definitions behind them.

Definitions (also shown in the UI):
- word: a whitespace-separated piece of the text (an eojeol, 어절).
- fertility: tokens per word = all tokens of the text / all words. Lower is shorter sequences. Its standard
  error (fertility_se) says how far it could move on another sample of texts like these (few texts: far).
- chars (bytes) per token: characters (UTF-8 bytes) of the text, spaces included, per token.
- UNK rate: share of tokens that are the unknown token (text the tokenizer cannot represent).
- byte rate: share of tokens that are not whole characters: byte-fallback pieces <0xEA> and byte-level
  pieces holding part of a character (a Hangul syllable is 3 UTF-8 bytes).
- words split: share of words covered by more than one token.
- morpheme-boundary precision / recall / F1: a *boundary* is a character position strictly inside a
  word. The tokenizer's boundaries are the positions where one token ends and the next begins (a
  position inside a token, e.g. between bytes of one syllable, is not a boundary). The reference is
  Kiwi's morphemes: positions where a morpheme starts, unless another morpheme spans across it
  (했 = 하+었 shares one syllable, so there is no boundary inside it). Precision = shared / tokenizer's,
  recall = shared / Kiwi's, F1 their harmonic mean; counted over all words (micro average).
- vocabulary composition: share of vocabulary entries (marks ▁, Ġ, ## removed) that are one whole
  Hangul syllable, several Hangul syllables, containing jamo, Latin letters, digits, symbols, other
  (mixed scripts, Hanja, ...), bytes / partial characters, whitespace, special tokens.
- throughput: UTF-8 megabytes of held-out text encoded per second (the library's fastest batch call).
"""
from __future__ import annotations

import re
import time
import unicodedata
from collections import Counter

from .backends import BYTE, UNK, Backend, Encoded

_WORD = re.compile(r"\S+")


def word_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _WORD.finditer(text)]


def interior(text: str) -> set[int]:
    """Character positions strictly inside a word (where a boundary can be)."""
    out: set[int] = set()
    for a, b in word_spans(text):
        out.update(range(a + 1, b))
    return out


def boundaries(offsets: list[tuple[int, int]]) -> set[int]:
    """Positions where a unit (token or morpheme) starts or ends and no unit spans across."""
    marks: set[int] = set()
    inside: set[int] = set()
    for a, b in offsets:
        if b <= a:
            continue
        marks.add(a)
        marks.add(b)
        inside.update(range(a + 1, b))
    return marks - inside


def kiwi_reference(texts: list[str]) -> list[set[int]]:
    """Kiwi's morpheme boundaries inside words, one set per text."""
    from .backends import kiwi_tokens
    out = []
    for text, toks in zip(texts, kiwi_tokens(texts)):
        out.append(boundaries([(t.start, t.start + t.len) for t in toks]) & interior(text))
    return out


def words_split(text: str, offsets: list[tuple[int, int]]) -> tuple[int, int]:
    """(words covered by more than one token, words)."""
    words = word_spans(text)
    if not words:
        return 0, 0
    count = [0] * len(words)
    starts = [a for a, _ in words]
    import bisect
    for a, b in offsets:
        if b <= a:
            continue
        i = max(0, bisect.bisect_right(starts, a) - 1)
        while i < len(words) and words[i][0] < b:
            if words[i][1] > a:
                count[i] += 1
            i += 1
    return sum(1 for c in count if c > 1), len(words)


LENGTH_BUCKETS = ("byte", "1", "2", "3", "4", "5+")


def evaluate(backend: Backend, texts: list[str], reference: list[set[int]] | None = None,
             *, throughput: bool = True) -> dict:
    """Every corpus-level figure of one tokenizer on `texts` (see the module docstring)."""
    words_per_text = [len(word_spans(t)) for t in texts]
    n_words = sum(words_per_text)
    n_chars = sum(len(t) for t in texts)
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    encs: list[Encoded] = backend.encode_for_metrics(texts)
    n_tok = sum(len(e.ids) for e in encs)
    kinds = Counter(k for e in encs for k in e.kinds)
    lengths: Counter = Counter()
    split_words = 0
    tp = fp = fn = 0
    for i, (text, e) in enumerate(zip(texts, encs)):
        for (a, b), k in zip(e.offsets, e.kinds):
            lengths["byte" if k == BYTE else ("5+" if b - a >= 5 else str(max(1, b - a)))] += 1
        split_words += words_split(text, e.offsets)[0]
        if reference is not None:
            mine = boundaries(e.offsets) & interior(text)
            ref = reference[i]
            tp += len(mine & ref)
            fp += len(mine - ref)
            fn += len(ref - mine)
    row = {
        "tokenizer": backend.name,
        "kind": backend.kind,
        "vocab_size": backend.vocab_size,
        "texts": len(texts),
        "words": n_words,
        "tokens": n_tok,
        "fertility": _r(n_tok / n_words if n_words else None),
        "fertility_se": _r(ratio_se([len(e.ids) for e in encs], words_per_text), 4),
        "chars_per_token": _r(n_chars / n_tok if n_tok else None),
        "bytes_per_token": _r(n_bytes / n_tok if n_tok else None),
        "unk_rate": _r(kinds[UNK] / n_tok if n_tok else None, 5),
        "byte_rate": _r(kinds[BYTE] / n_tok if n_tok else None, 5),
        "words_split": _r(split_words / n_words if n_words else None),
        "token_lengths": {b: lengths[b] for b in LENGTH_BUCKETS},
    }
    if reference is not None:
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        row.update(boundary_precision=_r(p), boundary_recall=_r(r), boundary_f1=_r(2 * p * r / (p + r) if p + r else 0.0))
    if throughput:
        row["encode_mb_per_s"] = _r(encode_throughput(backend, texts, n_bytes), 2)
    return row


def ratio_se(num: list[int], den: list[int]) -> float | None:
    """Standard error of sum(num) / sum(den) over texts (the ratio estimator's linearization): how much the
    figure would move on another sample of texts like these. None with fewer than two texts."""
    n, total = len(num), sum(den)
    if n < 2 or not total:
        return None
    r = sum(num) / total
    var = sum((a - r * b) ** 2 for a, b in zip(num, den)) / (n - 1)
    return (n * var) ** 0.5 / total


def encode_throughput(backend: Backend, texts: list[str], n_bytes: int, min_seconds: float = 0.3) -> float | None:
    """MB/s of the library's batch encode; repeated until it has run min_seconds (small texts are too quick)."""
    if not n_bytes:
        return None
    backend.count_batch(texts[:50])  # warm up (thread pools, caches)
    reps, t0 = 0, time.perf_counter()
    while True:
        backend.count_batch(texts)
        reps += 1
        dt = time.perf_counter() - t0
        if dt >= min_seconds or reps >= 50:
            return n_bytes * reps / 1e6 / dt


def _r(x, nd: int = 3):
    return None if x is None else round(float(x), nd)


# -- vocabulary composition ------------------------------------------------------------------------
COMPOSITION = ("hangul_syllable", "hangul_multi", "jamo", "latin", "digit", "symbol", "other", "byte",
               "whitespace", "special")


def _is_syllable(c: str) -> bool:
    return "\uac00" <= c <= "\ud7a3"


def _is_jamo(c: str) -> bool:
    return ("\u1100" <= c <= "\u11ff") or ("\u3130" <= c <= "\u318f") or ("\ua960" <= c <= "\ua97f") \
        or ("\ud7b0" <= c <= "\ud7ff")


def classify_piece(text: str | None, special: bool = False) -> str:
    if special:
        return "special"
    if text is None:
        return "byte"
    s = text
    for mark in ("▁", "Ġ"):
        s = s.replace(mark, " ")
    if s.startswith("##") and len(s) > 2:
        s = s[2:]
    s = s.strip()
    if not s:
        return "whitespace"
    if all(_is_syllable(c) for c in s):
        return "hangul_syllable" if len(s) == 1 else "hangul_multi"
    if any(_is_jamo(c) for c in s):
        return "jamo"
    if all(c.isascii() and c.isalpha() for c in s):
        return "latin"
    if all(c.isdigit() for c in s):
        return "digit"
    if all(unicodedata.category(c)[0] in "PS" for c in s):
        return "symbol"
    return "other"


def vocab_composition(backend: Backend) -> dict | None:
    pieces = backend.vocab_pieces()
    if not pieces:
        return None
    counts = Counter(classify_piece(t, sp) for t, sp in pieces)
    n = len(pieces)
    return {k: round(counts[k] / n, 4) for k in COMPOSITION}
