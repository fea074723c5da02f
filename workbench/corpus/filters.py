"""Quality filters, applied in recipe order: a document is counted against the first filter it fails.

Ratios come from charstats (vectorized over a batch); only the repetition filter looks at
words and lines in Python, and only for documents still alive at that point.
"""
from __future__ import annotations

import numpy as np

from . import charstats

FILTER_STEPS = ("length", "hangul", "symbols", "repetition", "script")


def dup_line_ratio(text: str) -> float:
    """Share of non-empty lines that repeat an earlier line of the same document."""
    if "\n" not in text:
        return 0.0
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    return 1.0 - len(set(lines)) / len(lines) if len(lines) > 1 else 0.0


def dup_ngram_ratio(words: list[str], n: int) -> float:
    """Share of word n-grams that repeat an earlier n-gram ("좋아요 좋아요 좋아요 좋아요" -> high)."""
    if len(words) < n + 2:
        return 0.0  # too short to judge
    grams = list(zip(*(words[i:] for i in range(n))))
    return 1.0 - len(set(grams)) / len(grams)


def run_filters(texts: list[str], lengths: np.ndarray, counts: np.ndarray, f, want_examples: int = 0):
    """Returns (removed_by, examples): removed_by[i] is the index in FILTER_STEPS of the filter that removed
    document i, or -1 if it passed; examples maps step -> [(i, why)] for the first `want_examples` removals."""
    n = len(texts)
    removed_by = np.full(n, -1, dtype=np.int8)
    examples: dict[str, list[tuple[int, dict]]] = {s: [] for s in FILTER_STEPS}
    if n == 0:
        return removed_by, examples
    r = charstats.ratios(counts)

    def mark(step: str, bad: np.ndarray, why) -> None:
        bad = bad & (removed_by < 0)
        idx = np.flatnonzero(bad)
        removed_by[idx] = FILTER_STEPS.index(step)
        for i in idx[: max(0, want_examples - len(examples[step]))]:
            examples[step].append((int(i), why(int(i))))

    if f.length:
        words = np.fromiter((len(t.split()) for t in texts), dtype=np.int64, count=n)

        def why_len(i):
            c, w = int(lengths[i]), int(words[i])
            if c < f.min_chars:
                return {"metric": "chars", "value": c, "op": "<", "limit": f.min_chars}
            if c > f.max_chars:
                return {"metric": "chars", "value": c, "op": ">", "limit": f.max_chars}
            if w < f.min_words:
                return {"metric": "words", "value": w, "op": "<", "limit": f.min_words}
            return {"metric": "words", "value": w, "op": ">", "limit": f.max_words}
        mark("length", (lengths < f.min_chars) | (lengths > f.max_chars) | (words < f.min_words)
             | (words > f.max_words), why_len)
    if f.hangul:
        hr = r["hangul_ratio"]
        mark("hangul", hr < f.min_hangul_ratio,
             lambda i: {"metric": "hangul_ratio", "value": round(float(hr[i]), 3), "op": "<", "limit": f.min_hangul_ratio})
    if f.symbols:
        sr, dr = r["symbol_ratio"], r["digit_ratio"]

        def why_sym(i):
            if sr[i] > f.max_symbol_ratio:
                return {"metric": "symbol_ratio", "value": round(float(sr[i]), 3), "op": ">", "limit": f.max_symbol_ratio}
            return {"metric": "digit_ratio", "value": round(float(dr[i]), 3), "op": ">", "limit": f.max_digit_ratio}
        mark("symbols", (sr > f.max_symbol_ratio) | (dr > f.max_digit_ratio), why_sym)
    if f.repetition:
        alive = np.flatnonzero(removed_by < 0)
        line_r = np.zeros(n)
        gram_r = np.zeros(n)
        for i in alive:
            t = texts[i]
            line_r[i] = dup_line_ratio(t)
            gram_r[i] = dup_ngram_ratio(t.split(), f.ngram_size)

        def why_rep(i):
            if line_r[i] > f.max_dup_line_ratio:
                return {"metric": "dup_line_ratio", "value": round(float(line_r[i]), 3), "op": ">",
                        "limit": f.max_dup_line_ratio}
            return {"metric": f"dup_{f.ngram_size}gram_ratio", "value": round(float(gram_r[i]), 3), "op": ">",
                    "limit": f.max_dup_ngram_ratio}
        mark("repetition", (line_r > f.max_dup_line_ratio) | (gram_r > f.max_dup_ngram_ratio), why_rep)
    if f.script:
        fr = charstats.script_share(counts, list(f.allowed_scripts))
        mark("script", fr > f.max_foreign_ratio,
             lambda i: {"metric": "foreign_script_ratio", "value": round(float(fr[i]), 3), "op": ">",
                        "limit": f.max_foreign_ratio})
    return removed_by, examples
