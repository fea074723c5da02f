"""Per-document character classes for a whole batch at once (numpy), not a Python loop per character.

A batch of texts becomes one array of code points; a lookup table gives each code point a
class (Hangul syllable, jamo, Latin, Han, kana, other letter, digit, symbol, space, control);
one `bincount` then gives every document's counts per class.
"""
from __future__ import annotations

import unicodedata

import numpy as np

CLASSES = ("space", "hangul", "jamo", "latin", "han", "kana", "other_letter", "digit", "symbol", "control")
C = {name: i for i, name in enumerate(CLASSES)}
NCLS = len(CLASSES)
LETTERS = ("hangul", "jamo", "latin", "han", "kana", "other_letter")
HANGUL_BASE, N_SYLLABLES = 0xAC00, 11172

_RANGES = {
    "hangul": [(0xAC00, 0xD7A3)],
    "jamo": [(0x1100, 0x11FF), (0x3131, 0x318E), (0xA960, 0xA97C), (0xD7B0, 0xD7FB), (0xFFA0, 0xFFDC)],
    "han": [(0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3FFFF)],
    "kana": [(0x3041, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9D)],
    "latin": [(0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F), (0x1E00, 0x1EFF), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A)],
}
_TABLE: np.ndarray | None = None


def table() -> np.ndarray:
    """Code point -> class, for all of Unicode (1.1 MB; built once per process in ~0.2 s)."""
    global _TABLE
    if _TABLE is None:
        cat_class = {"Z": C["space"], "L": C["other_letter"], "M": C["other_letter"], "N": C["digit"],
                     "P": C["symbol"], "S": C["symbol"], "C": C["symbol"]}
        t = np.array([cat_class[unicodedata.category(chr(i))[0]] for i in range(0x110000)], dtype=np.uint8)
        cc = np.array([unicodedata.category(chr(i)) in ("Cc", "Cf") for i in range(0x10000)])
        t[:0x10000][cc] = C["control"]
        for ch in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85":
            t[ord(ch)] = C["space"]
        for name, ranges in _RANGES.items():
            for lo, hi in ranges:
                t[lo:hi + 1] = C[name]
        _TABLE = t
    return _TABLE


def codepoints(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All texts as one uint32 array of code points, and each text's length."""
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    cp = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32) if lengths.sum() else \
        np.zeros(0, dtype=np.uint32)
    return cp, lengths


def class_counts(cp: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(n_docs, NCLS) counts of each character class per document."""
    n = len(lengths)
    if n == 0:
        return np.zeros((0, NCLS), dtype=np.int64)
    doc = np.repeat(np.arange(n, dtype=np.int64), lengths)
    cls = table()[cp]
    return np.bincount(doc * NCLS + cls, minlength=n * NCLS).reshape(n, NCLS)


def ratios(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Per-document ratios used by filters and the explorer (0 where the denominator is 0)."""
    letters = counts[:, [C[x] for x in LETTERS]].sum(axis=1)
    nonspace = counts.sum(axis=1) - counts[:, C["space"]]
    hangul = counts[:, C["hangul"]] + counts[:, C["jamo"]]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {
            "hangul_ratio": np.where(letters > 0, hangul / np.maximum(letters, 1), 0.0),
            "symbol_ratio": np.where(nonspace > 0, (counts[:, C["symbol"]] + counts[:, C["control"]])
                                     / np.maximum(nonspace, 1), 0.0),
            "digit_ratio": np.where(nonspace > 0, counts[:, C["digit"]] / np.maximum(nonspace, 1), 0.0),
        }
    out["letters"] = letters
    return out


def script_share(counts: np.ndarray, allowed: list[str]) -> np.ndarray:
    """Share of letters in scripts that are not allowed (e.g. kana, Cyrillic when hangul/latin/han are)."""
    scripts = {"hangul": ["hangul", "jamo"], "latin": ["latin"], "han": ["han"], "kana": ["kana"],
               "other": ["other_letter"]}
    letters = counts[:, [C[x] for x in LETTERS]].sum(axis=1)
    bad = [C[c] for s, cols in scripts.items() if s not in allowed for c in cols]
    foreign = counts[:, bad].sum(axis=1) if bad else np.zeros(len(counts), dtype=np.int64)
    return np.where(letters > 0, foreign / np.maximum(letters, 1), 0.0)
