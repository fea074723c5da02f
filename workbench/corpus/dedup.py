"""Deduplication: exact (hash of a normalized text) and near-duplicate (MinHash LSH).

MinHash signatures use datasketch's own permutation scheme ("affine32": the shingle hash is
pre-mixed with the MurmurHash3 finalizer, then h -> a*h + b mod 2^32 with datasketch's `a`, `b`
for the seed) and datasketch's LSH band/row choice for the threshold (`_optimal_param`), so a
signature here equals `datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash).update_batch(
shingles).hashvalues` (tested). What differs is speed: a whole batch is hashed with a few numpy
operations instead of a Python call per shingle and per document, and the LSH buckets are found
by sorting each band's hashes instead of a Python dict per band, which also keeps memory at 8
bytes per band per document.
"""
from __future__ import annotations

import hashlib
import re
from typing import Iterable

import numpy as np

from . import charstats

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_NON_WORD = re.compile(r"[\W_]+")
_P64 = np.uint64(0x100000001B3)         # FNV-1a 64-bit prime (rolling shingle hash)
_MIX = np.uint64(0x9E3779B97F4A7C15)    # golden-ratio constant (band hash)


def exact_key(text: str) -> int:
    """64-bit hash of the text with case, spaces and punctuation removed ("좋아요!!" == "좋 아 요")."""
    norm = _NON_WORD.sub("", text.lower())
    return int.from_bytes(hashlib.blake2b(norm.encode("utf-8"), digest_size=8).digest(), "little")


def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) minimizing false positives + negatives at the threshold: datasketch's own choice."""
    from datasketch.lsh import _optimal_param
    return _optimal_param(threshold, num_perm, 0.5, 0.5)


def _fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def shingle_hash(shingle: str) -> int:
    """The 32-bit hash of one character shingle (the same numbers the vectorized path computes)."""
    h = np.uint64(0)
    with np.errstate(over="ignore"):
        for ch in shingle:
            h = h * _P64 + np.uint64(ord(ch))
    return int((h ^ (h >> np.uint64(32))) & np.uint64(0xFFFFFFFF))


def shingles(text: str, k: int) -> set[str]:
    """Character k-grams of the text without spaces, ASCII lower-cased (Korean spacing varies a lot)."""
    tab, space = charstats.table(), charstats.C["space"]
    t = "".join(ch for ch in text if tab[ord(ch)] != space).translate(_ASCII_LOWER)
    if len(t) <= k:
        return {t}
    return {t[i:i + k] for i in range(len(t) - k + 1)}


def jaccard(a: str, b: str, k: int) -> float:
    sa, sb = shingles(a, k), shingles(b, k)
    return len(sa & sb) / max(1, len(sa | sb))


class MinHasher:
    """Vectorized MinHash signatures and LSH band hashes for batches of texts."""

    def __init__(self, num_perm: int = 128, seed: int = 1, shingle: int = 5, threshold: float = 0.8,
                 chunk_shingles: int = 65_536):
        from datasketch import MinHash
        m = MinHash(num_perm=num_perm, seed=seed)  # scheme affine32 (datasketch >= 2.0)
        if getattr(m, "scheme", "legacy") != "affine32":
            raise RuntimeError("datasketch >= 2.0 (affine32 MinHash scheme) is required")
        self.a = np.asarray(m.permutations[0], dtype=np.uint32)
        self.b = np.asarray(m.permutations[1], dtype=np.uint32)
        self.num_perm, self.seed, self.k = num_perm, seed, shingle
        self.bands, self.rows = lsh_params(threshold, num_perm)
        self.chunk = chunk_shingles

    # -- signatures ----------------------------------------------------------------------
    def shingle_hashes(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """All shingle hashes of a batch (uint32), and where each document's shingles start."""
        k = self.k
        cp, lengths = charstats.codepoints(texts)
        # drop whitespace and lower-case ASCII, as `shingles()` does
        keep = charstats.table()[cp] != charstats.C["space"]
        doc = np.repeat(np.arange(len(texts)), lengths)
        cp = cp[keep]
        lengths = np.bincount(doc[keep], minlength=len(texts)).astype(np.int64)
        upper = (cp >= 65) & (cp <= 90)
        cp = np.where(upper, cp + 32, cp).astype(np.uint64)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(lengths) else np.zeros(0, np.int64)
        L = len(cp)
        with np.errstate(over="ignore"):
            if L >= k:
                roll = np.zeros(L - k + 1, dtype=np.uint64)
                for j in range(k):
                    roll = roll * _P64 + cp[j:L - k + 1 + j]
            else:
                roll = np.zeros(0, dtype=np.uint64)
            n_sh = np.maximum(lengths - k + 1, 1)          # documents shorter than k: one shingle
            seg = np.concatenate(([0], np.cumsum(n_sh)[:-1]))
            total = int(n_sh.sum())
            pos = np.arange(total, dtype=np.int64) - np.repeat(seg, n_sh) + np.repeat(starts, n_sh)
            long_doc = np.repeat(lengths >= k, n_sh)
            hv = np.zeros(total, dtype=np.uint64)
            hv[long_doc] = roll[pos[long_doc]]
            for d in np.flatnonzero(lengths < k):            # rare: whole short text as one shingle
                h = np.uint64(0)
                for c in cp[starts[d]:starts[d] + lengths[d]]:
                    h = h * _P64 + c
                hv[seg[d]] = h
            hv32 = ((hv ^ (hv >> np.uint64(32))) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        return hv32, seg

    def signatures(self, texts: list[str]) -> np.ndarray:
        """(n, num_perm) uint32 MinHash signatures, datasketch's affine32 scheme."""
        n = len(texts)
        sig = np.empty((n, self.num_perm), dtype=np.uint32)
        if n == 0:
            return sig
        hv, seg = self.shingle_hashes(texts)
        hv = _fmix32(hv)
        ends = np.append(seg[1:], len(hv))
        d0 = 0
        while d0 < n:  # chunks of whole documents, so the (shingles x num_perm) matrix stays small
            d1 = int(np.searchsorted(seg, seg[d0] + self.chunk, side="right"))
            d1 = max(d1, d0 + 1)
            lo, hi = int(seg[d0]), int(ends[d1 - 1])
            with np.errstate(over="ignore"):  # (num_perm, shingles): reduceat over contiguous rows is fast
                phv = self.a[:, None] * hv[None, lo:hi]
                phv += self.b[:, None]
            sig[d0:d1] = np.minimum.reduceat(phv, seg[d0:d1] - lo, axis=1).T
            d0 = d1
        return sig

    def band_hashes(self, sig: np.ndarray) -> np.ndarray:
        """(n, bands) uint64: one hash per LSH band of `rows` signature values (datasketch's layout)."""
        n = len(sig)
        out = np.empty((n, self.bands), dtype=np.uint64)
        s64 = sig.astype(np.uint64)
        with np.errstate(over="ignore"):
            for i in range(self.bands):
                h = np.full(n, np.uint64(i + 1) * _MIX, dtype=np.uint64)
                for j in range(i * self.rows, (i + 1) * self.rows):
                    h = (h ^ s64[:, j]) * _P64
                h ^= h >> np.uint64(29)
                out[:, i] = h
        return out


def candidate_pairs(bands: np.ndarray, alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LSH candidate pairs (doc, first doc of a bucket it shares), each pair once, over living documents."""
    idx = np.flatnonzero(alive)
    src, dst = [], []
    for j in range(bands.shape[1] if len(idx) else 0):
        keys = bands[idx, j]
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        new = np.empty(len(sk), dtype=bool)
        new[0] = True
        new[1:] = sk[1:] != sk[:-1]
        first = np.maximum.accumulate(np.where(new, np.arange(len(sk)), 0))
        dup = ~new
        if dup.any():
            src.append(idx[order[dup]])
            dst.append(idx[order[first[dup]]])
    if not src:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = np.unique(np.stack([np.concatenate(src), np.concatenate(dst)], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def true_jaccard_ok(src: np.ndarray, dst: np.ndarray, texts: Iterable[tuple[int, str]], k: int,
                    threshold: float) -> np.ndarray:
    """Which candidate pairs really overlap at least `threshold` (exact shingle Jaccard): LSH also pairs
    documents far below the threshold, most of all short ones whose few shingles make the estimate coarse.

    `texts` yields (row, text) for the rows of the pairs in increasing row order, once: a pass over the
    corpus that holds only the shingles of bucket heads still waiting for a pair. Each pair's head comes
    before its other document (candidate_pairs links a document to the first of its bucket)."""
    from collections import Counter, defaultdict

    pairs_of: dict[int, list[int]] = defaultdict(list)
    for n, a in enumerate(src.tolist()):
        pairs_of[a].append(n)
    waiting = Counter(dst.tolist())
    heads: dict[int, set[str]] = {}
    ok = np.zeros(len(src), dtype=bool)
    for row, text in texts:
        sa = shingles(text, k)
        for n in pairs_of.pop(row, ()):
            b = int(dst[n])
            sb = heads[b]
            ok[n] = len(sa & sb) >= threshold * max(1, len(sa | sb))
            waiting[b] -= 1
            if waiting[b] == 0:
                del heads[b]
        if waiting.get(row, 0) > 0:
            heads[row] = sa
    return ok


def near_duplicate_components(bands: np.ndarray, alive: np.ndarray, verify=None) -> np.ndarray:
    """Connected components of documents sharing any LSH bucket. Returns, for every document, the index
    of the document kept for its component (the first one): itself if unique; -1 where not alive.

    verify(src, dst) -> bool mask, when given, keeps only the candidate pairs it accepts (the false-positive
    check); components then join documents linked by accepted pairs."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(bands)
    keep_of = np.full(n, -1, dtype=np.int64)
    idx = np.flatnonzero(alive)
    if len(idx) == 0:
        return keep_of
    s, d = candidate_pairs(bands, alive)
    if verify is not None and len(s):
        ok = verify(s, d)
        s, d = s[ok], d[ok]
    keep_of[idx] = idx
    if not len(s):
        return keep_of
    g = coo_matrix((np.ones(len(s), dtype=np.int8), (s, d)), shape=(n, n))
    _, labels = connected_components(g, directed=False)
    sub = labels[idx]
    # smallest document index per component = the kept one (first seen in input order)
    first_of = np.full(labels.max() + 1, n, dtype=np.int64)
    np.minimum.at(first_of, sub, idx)
    keep_of[idx] = first_of[sub]
    return keep_of
