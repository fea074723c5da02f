"""The explorer's numbers: counts, histograms, top words and n-grams, syllable and jamo coverage.

`TextStats` accumulates batch by batch (mergeable across worker processes), so the same code
describes 100 documents in the tab and 650k in a curation run. Counts, histograms and syllable
coverage are exact over every document; top words and bigrams are counted in every document too,
or in every `words_every`-th one (an evenly spread sample, which `sampled_docs` and `words_every` report).

The explorer counts every document it reads (at most 20,000 loaded, or 50,000 of a saved corpus); a
curation run counts every document of an input up to `ALL_WORDS_BYTES` and one in `LARGE_WORDS_EVERY`
beyond (`words_every_for`), the same rate before and after. So a small corpus shows the same "documents
whose words were counted" in the explorer and in a run's before/after table (they once read 2,064 and
688 for the bundled corpus: the run sampled at most 1,000 documents per batch, the explorer all).
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

from . import charstats

LEN_EDGES = [0, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 50_000, 10**12]
RATIO_EDGES = np.linspace(0.0, 1.0, 21)
CHO = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
JUNG = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
JONG = ["(없음)"] + list("ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")
_WORD = re.compile(r"\w+")
ALL_WORDS_BYTES = 32 << 20   # up to this much input text, words are counted in every document
LARGE_WORDS_EVERY = 4        # beyond: in every 4th document (top words are ~30% of a worker's time)
_KSX1001: np.ndarray | None = None


def ksx1001_mask() -> np.ndarray:
    """The 2,350 syllables of KS X 1001 (EUC-KR): the 'common' syllables most fonts and old systems know."""
    global _KSX1001
    if _KSX1001 is None:
        m = np.zeros(charstats.N_SYLLABLES, dtype=bool)
        for i in range(charstats.N_SYLLABLES):
            # Python's euc_kr codec also writes the other syllables as 8-byte jamo sequences; the 2,350
            # proper KS X 1001 syllables are the two-byte codes 0xB0A1-0xC8FE.
            b = chr(charstats.HANGUL_BASE + i).encode("cp949")
            m[i] = 0xB0 <= b[0] <= 0xC8 and b[1] >= 0xA1
        _KSX1001 = m
    return _KSX1001


def words_every_for(input_bytes: int) -> int:
    """How sparsely a corpus of this many input bytes has its words counted (1: every document)."""
    return 1 if input_bytes <= ALL_WORDS_BYTES else LARGE_WORDS_EVERY


class TextStats:
    def __init__(self, words_every: int = 1, keep_top: int = 20_000):
        self.words_every, self.keep_top = max(1, int(words_every)), keep_top
        self.docs = self.chars = self.hangul = self.jamo = self.words = self.sampled = 0
        self.len_hist = np.zeros(len(LEN_EDGES) - 1, dtype=np.int64)
        self.ratio_hist = np.zeros(len(RATIO_EDGES) - 1, dtype=np.int64)
        self.syllables = np.zeros(charstats.N_SYLLABLES, dtype=np.int64)
        self.top_words: Counter = Counter()
        self.top_bigrams: Counter = Counter()

    def add(self, texts: list[str], cp: np.ndarray | None = None, lengths: np.ndarray | None = None,
            counts: np.ndarray | None = None) -> "TextStats":
        if not texts:
            return self
        if cp is None or lengths is None:
            cp, lengths = charstats.codepoints(texts)
        if counts is None:
            counts = charstats.class_counts(cp, lengths)
        n = len(texts)
        self.docs += n
        self.chars += int(lengths.sum())
        self.hangul += int(counts[:, charstats.C["hangul"]].sum())
        self.jamo += int(counts[:, charstats.C["jamo"]].sum())
        self.len_hist += np.histogram(lengths, bins=LEN_EDGES)[0]
        self.ratio_hist += np.histogram(charstats.ratios(counts)["hangul_ratio"], bins=RATIO_EDGES)[0]
        syl = cp[(cp >= charstats.HANGUL_BASE) & (cp < charstats.HANGUL_BASE + charstats.N_SYLLABLES)]
        self.syllables += np.bincount((syl - charstats.HANGUL_BASE).astype(np.int64), minlength=charstats.N_SYLLABLES)
        self.words += sum(len(t.split()) for t in texts)
        words, bigrams = [], []
        for t in texts[::self.words_every]:
            w = _WORD.findall(t)
            words.extend(w)
            bigrams.extend(zip(w, w[1:]))
            self.sampled += 1
        self.top_words.update(words)  # one C-level count per batch, not one Python call per document
        self.top_bigrams.update(bigrams)
        self._prune()
        return self

    def _prune(self) -> None:
        for c in (self.top_words, self.top_bigrams):
            if len(c) > 5 * self.keep_top:
                keep = c.most_common(self.keep_top)
                c.clear()
                c.update(dict(keep))

    def merge(self, other: "TextStats") -> "TextStats":
        for a in ("docs", "chars", "hangul", "jamo", "words", "sampled"):
            setattr(self, a, getattr(self, a) + getattr(other, a))
        self.len_hist += other.len_hist
        self.ratio_hist += other.ratio_hist
        self.syllables += other.syllables
        self.top_words.update(other.top_words)
        self.top_bigrams.update(other.top_bigrams)
        self._prune()
        return self

    def to_dict(self, top: int = 40) -> dict:
        syl = self.syllables
        total = int(syl.sum())
        used = int((syl > 0).sum())
        ks = ksx1001_mask()
        order = np.argsort(-syl, kind="stable")
        cum = np.cumsum(syl[order]) / max(1, total)
        need = {f"{int(p * 1000) / 10:g}%": int(np.searchsorted(cum, p) + 1) if total else 0
                for p in (0.9, 0.99, 0.999)}
        ranks = [r for r in (1, 2, 5, 10, 20, 50, 100, 200, 300, 500, 700, 1000, 1500, 2000, 2350, 3000, 5000, 11172)
                 if r <= max(used, 1)]
        cho = np.zeros(19, dtype=np.int64)
        jung = np.zeros(21, dtype=np.int64)
        jong = np.zeros(28, dtype=np.int64)
        idx = np.arange(charstats.N_SYLLABLES)
        np.add.at(cho, idx // 588, syl)
        np.add.at(jung, (idx % 588) // 28, syl)
        np.add.at(jong, idx % 28, syl)
        return {
            "docs": self.docs, "chars": self.chars, "hangul_syllables": self.hangul, "jamo": self.jamo,
            "words": self.words, "sampled_docs": self.sampled, "words_every": self.words_every,
            "mean_chars": round(self.chars / self.docs, 1) if self.docs else 0.0,
            "len_hist": {"edges": LEN_EDGES[:-1] + [None], "counts": self.len_hist.tolist()},
            "hangul_ratio_hist": {"edges": [round(float(x), 2) for x in RATIO_EDGES], "counts": self.ratio_hist.tolist()},
            "top_words": [[w, c] for w, c in self.top_words.most_common(top)],
            "top_bigrams": [[" ".join(b), c] for b, c in self.top_bigrams.most_common(top)],
            "syllables": {
                "distinct": used, "of_all": charstats.N_SYLLABLES,
                "ksx1001_used": int((syl[ks] > 0).sum()), "ksx1001_total": int(ks.sum()),
                "outside_ksx1001_share": round(float(syl[~ks].sum()) / total, 5) if total else 0.0,
                "needed_for_coverage": need,
                "coverage_curve": {"ranks": ranks, "share": [round(float(cum[r - 1]), 5) if total else 0.0
                                                            for r in ranks]},
                "top": [[chr(charstats.HANGUL_BASE + int(i)), int(syl[i])] for i in order[:top] if syl[i] > 0],
            },
            "jamo_coverage": {"initial": dict(zip(CHO, cho.tolist())), "medial": dict(zip(JUNG, jung.tolist())),
                              "final": dict(zip(JONG, jong.tolist()))},
        }


def describe(texts: list[str], batch: int = 20_000, words_every: int = 1) -> dict:
    """Stats of a list of texts (the tab's in-process explorer: at most 50,000 documents, every one counted)."""
    st = TextStats(words_every=words_every)
    for i in range(0, len(texts), batch):
        st.add(texts[i:i + batch])
    return st.to_dict()
