"""Training: Hugging Face `tokenizers` (BPE byte-level, BPE character-level with byte fallback, Unigram,
WordPiece) and SentencePiece (BPE, Unigram with byte fallback), all saved as one format: a transformers
fast-tokenizer folder.

Two passes. `prepare` reads the source once and writes the training text to a file (one line per
line of text, normalized, with Kiwi morpheme boundaries marked when asked), counting characters on
the way; the library then trains from that file (its own fast, multi-threaded reader), as often as a
vocabulary-size sweep needs.

Kiwi pre-segmentation shapes the *vocabulary*: a private-use mark is put at every morpheme boundary
inside a word in the training text and the trainer splits there, so no learned piece crosses a
morpheme boundary. Kiwi analyses each distinct word once (see `_KiwiMarks`), on several threads, and the
words seen only once are cut by the pieces it found in the others, which keeps Kiwi training within a few
times plain training. The saved tokenizer does not need Kiwi: at run
time it cuts raw text with the learned pieces, so `AutoTokenizer.from_pretrained(dir)` alone reproduces
it (and the pretrain and chat stages need nothing more). Its boundary F1 is measured on raw text, as it is used.
"""
from __future__ import annotations

import json
import os
import threading
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from workbench.errors import UserError
from workbench.i18n import Text, say

from .sources import TextSource
from .specials import Specials, chat_template

MARK = "\ue000"  # Unicode private use: marks Kiwi morpheme boundaries in the training text only

ALGORITHMS = ("hf-bpe-byte", "hf-bpe-char", "hf-unigram", "hf-wordpiece", "spm-bpe", "spm-unigram")
BYTE_FALLBACK = ("hf-bpe-char", "hf-unigram", "spm-bpe", "spm-unigram")
PRE_TOKENIZATION = ("whitespace", "punctuation", "none", "kiwi")
NORMALIZATION = ("NFC", "NFKC", "none")


@dataclass
class Settings:
    algorithm: str = "hf-bpe-char"
    vocab_size: int = 8000
    min_frequency: int = 2
    normalization: str = "NFC"
    pre_tokenization: str = "whitespace"
    character_coverage: float = 0.9995
    specials: Specials = field(default_factory=Specials)


@dataclass
class Prepared:
    path: Path
    lines: int = 0
    chars: int = 0
    bytes: int = 0
    char_counts: Counter = field(default_factory=Counter)
    heldout: list[str] = field(default_factory=list)
    seconds: float = 0.0
    kiwi: dict | None = None      # with Kiwi pre-segmentation: distinct words analysed
    line_hashes: object = None    # heldout.LineHashes of the training lines (is held-out text trained on?)

    def alphabet(self, coverage: float) -> list[str]:
        """The most frequent characters that together make up `coverage` of all characters."""
        total = sum(self.char_counts.values())
        keep, acc = [], 0
        for ch, c in self.char_counts.most_common():
            if acc >= coverage * total and keep:
                break
            keep.append(ch)
            acc += c
        return keep


def normalize(text: str, form: str) -> str:
    return unicodedata.normalize(form, text) if form in ("NFC", "NFKC") else text


def prepare(source: TextSource, st: Settings, workdir: Path, *, max_texts: int | None = None,
            holdout_every: int = 0, holdout_max: int = 2000, progress: Callable | None = None,
            should_stop: Callable[[], bool] | None = None, kiwi_progress: Callable | None = None) -> Prepared:
    """Read the source once: write the training text file, count characters, keep held-out texts aside.

    holdout_every=N puts every N-th text (up to holdout_max) aside as held-out text instead of training on it.
    With Kiwi pre-segmentation the words are counted on the way, then marked (`_KiwiMarks`) into a second file;
    kiwi_progress(done, total) follows that step.
    """
    t0 = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    out = Prepared(workdir / "train.txt")
    kiwi_mode = st.pre_tokenization == "kiwi"
    counts: Counter = out.char_counts

    def lines():
        for i, text in enumerate(source.texts("train", limit=max_texts, progress=progress)):
            if should_stop is not None and i % 1000 == 0 and should_stop():
                from workbench.runtime import StopRequested
                raise StopRequested("stop requested while reading the corpus")
            if holdout_every and i % holdout_every == holdout_every - 1 and len(out.heldout) < holdout_max:
                out.heldout.append(text)
                continue
            text = normalize(text.replace(MARK, ""), st.normalization)
            for line in text.splitlines():
                if line.strip():
                    yield line

    from .heldout import LineHashes
    tally = _CharTally()
    hashes = out.line_hashes = LineHashes()
    kiwi = _KiwiMarks() if kiwi_mode else None
    with open(out.path, "w", encoding="utf-8") as f:
        batch: list[str] = []
        size = 0
        for line in lines():
            batch.append(line)
            size += len(line)
            if size >= 1 << 20:
                out.lines += len(batch)
                hashes.add(batch)
                if kiwi is not None:
                    kiwi.count(batch)
                tally.add_text(f, batch)
                batch, size = [], 0
        if batch:
            out.lines += len(batch)
            hashes.add(batch)
            if kiwi is not None:
                kiwi.count(batch)
            tally.add_text(f, batch)
    if kiwi is not None:  # the marked text is what the trainer reads
        out.path = kiwi.write_marked(out.path, workdir / "train-kiwi.txt", progress=kiwi_progress,
                                     should_stop=should_stop)
    all_counts = tally.counts()
    # UTF-8 bytes of the training text (marks not included) from the code-point counts: no second encoding pass.
    out.bytes = sum(c * _utf8_len(ch) for ch, c in all_counts.items() if ch != MARK)
    counts.update(all_counts)
    for ch in (" ", "\t", "\n", MARK, "\r", "\x0b", "\x0c", "\x85", "\u2028", "\u2029"):
        counts.pop(ch, None)
    out.chars = sum(counts.values())
    if kiwi is not None:
        out.kiwi = kiwi.stats()
    out.seconds = time.perf_counter() - t0
    if out.lines == 0 or out.chars == 0:
        raise UserError(f"the corpus '{source.label}' holds no text (0 non-empty lines): pick a corpus with text, "
                        "or check the file/folder path and its format.",
                        ko=f"말뭉치 '{source.label}'에 글이 없습니다 (비어 있지 않은 줄 0개): 글이 있는 말뭉치를 "
                           "고르거나, 파일·폴더 경로와 형식을 확인하세요.")
    return out


def _utf8_len(ch: str) -> int:
    o = ord(ch)
    return 1 if o < 0x80 else 2 if o < 0x800 else 3 if o < 0x10000 else 4


class _CharTally:
    """Character counts over the whole training text, a batch of lines at a time: numpy counts the code
    points of a batch in one call, several times faster than Counter.update per line (which was half of
    the reading time on the pretraining corpus). The histogram of a batch only spans up to its highest code
    point (Hangul ends at U+D7A3), not all of Unicode, so adding it in costs little."""

    def __init__(self):
        import numpy as np
        self._np = np
        self._counts = np.zeros(0x110000, dtype=np.int64)

    def add_text(self, f, lines: list[str]) -> None:
        """Write `lines` (newline-terminated) to `f` and count their characters."""
        np = self._np
        text = "\n".join(lines) + "\n"
        f.write(text)
        hist = np.bincount(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32))
        self._counts[:len(hist)] += hist

    def counts(self) -> dict[str, int]:
        nz = self._np.flatnonzero(self._counts)
        return {chr(int(c)): int(self._counts[c]) for c in nz}


KIWI_ALL_BELOW = 100_000       # this few words seen once: Kiwi analyses them too (seconds)
KIWI_MIN_EXACT = 150_000       # else Kiwi analyses at least this many words (the pieces are learned from them)
KIWI_MAX_WORDS = 5_000_000     # distinct words counted (~500 MB); later new words count as seen once
KIWI_CHUNK = 50_000            # words per Kiwi call (progress and Stop between calls)


class _KiwiMarks:
    """MARK at every Kiwi morpheme boundary inside a word, over the whole training text.

    Words (space-separated pieces) are counted while `prepare` reads the text. Kiwi then analyses each distinct
    word once, on its own, on its worker threads (`kiwi_map`), and the cuts are reused wherever the word occurs:
    Korean text repeats words a lot, and the trainers learn from word counts anyway, so one segmentation per
    word is also what they can use (on a sample of bills and reviews the cuts equal whole-sentence analysis for
    ~96% of the word occurrences; context decides the rest, e.g. 호의 as 호의 or 호+의).

    Words seen only once are most of the distinct words of a large corpus (the 62 MB pretraining corpus: 5.0M
    words, 1.15M distinct, 888k of those seen once, 84% of the characters Kiwi would read) but 18% of the text.
    Beyond KIWI_ALL_BELOW of them they are cut by the pieces Kiwi found in the others (`_PieceModel`), about
    6x cheaper than analysing them (Kiwi still analyses at least KIWI_MIN_EXACT words, so the pieces are learned
    from enough of them). On that corpus their cuts match Kiwi's with boundary F1 0.94, and a 32k BPE trained
    this way scores morpheme-boundary F1 0.896 on KorNLI dev against 0.891 with every word analysed (its first
    100k texts, 16k: 0.882 against 0.883), in a third of the time."""

    def __init__(self):
        self.counts: Counter = Counter()
        self.stats_: dict = {}
        self.capped = False

    def count(self, lines: list[str]) -> None:
        c = self.counts
        if len(c) < KIWI_MAX_WORDS:
            for line in lines:
                c.update(line.split(" "))
        else:  # enough distinct words remembered: later new ones are cut by the pieces (see write_marked)
            self.capped = True
            for line in lines:
                for w in line.split(" "):
                    if w in c:
                        c[w] += 1

    def write_marked(self, src: Path, dst: Path, *, progress: Callable | None = None,
                     should_stop: Callable[[], bool] | None = None) -> Path:
        from .backends import kiwi_map
        counts = self.counts
        words = [w for w in counts if len(w) > 1]   # one character has no inside
        rare = [w for w in words if counts[w] == 1]
        if len(rare) <= KIWI_ALL_BELOW:
            exact, rare = words, []
        else:  # words seen twice or more, then as many seen once as it takes to learn the pieces from enough words
            exact = [w for w in words if counts[w] > 1]
            more = max(0, KIWI_MIN_EXACT - len(exact))
            exact += rare[:more]
            rare = rare[more:]
        marked: dict[str, str] = {}
        total = len(exact) + (len(rare) // 6 if rare else 0)  # the piece model is ~6x quicker per word
        for i in range(0, len(exact), KIWI_CHUNK):
            if should_stop is not None and should_stop():
                from workbench.runtime import StopRequested
                raise StopRequested("stop requested while marking Kiwi morpheme boundaries")
            chunk = exact[i:i + KIWI_CHUNK]
            marked.update(zip(chunk, kiwi_map(chunk, _marked_word)))
            if progress:
                progress(i + len(chunk), total)
        model = _PieceModel.learn(marked, counts) if rare or self.capped else None
        if rare:
            for i in range(0, len(rare), KIWI_CHUNK):
                if should_stop is not None and should_stop():
                    from workbench.runtime import StopRequested
                    raise StopRequested("stop requested while marking Kiwi morpheme boundaries")
                marked.update((w, model.mark(w)) for w in rare[i:i + KIWI_CHUNK])
                if progress:
                    progress(len(exact) + (i + KIWI_CHUNK) // 6, total)
        get = marked.get

        def uncounted(w: str) -> str:  # a word first seen after KIWI_MAX_WORDS distinct ones
            m = marked[w] = model.mark(w) if len(w) > 1 else w
            return m

        with open(src, encoding="utf-8", newline="\n") as fin, open(dst, "w", encoding="utf-8") as fout:
            for line in fin:
                ws = line.rstrip("\n").split(" ")
                if self.capped:
                    fout.write(" ".join([get(w) or uncounted(w) for w in ws]) + "\n")
                else:
                    fout.write(" ".join([get(w, w) for w in ws]) + "\n")
        self.stats_ = {"distinct_words": len(words), "analysed_by_kiwi": len(exact),
                       "cut_by_kiwi_pieces": len(rare), "unit": "each distinct word once, out of context"}
        self.counts = Counter()  # free the memory before training
        return dst

    def stats(self) -> dict:
        return self.stats_


class _PieceModel:
    """A unigram model of the word pieces Kiwi cut (piece -> log share of all pieces, weighted by word counts),
    and the most probable cut of a new word into such pieces (Viterbi). A piece Kiwi never produced costs
    UNK + UNK_CHAR per character, so known stems and endings win where they fit. The two costs were chosen on
    the pretraining corpus against Kiwi's own cuts of its words seen once."""
    UNK, UNK_CHAR = -20.0, -5.0
    MAX_LEN = 12                   # the longest piece considered (a longer run is cut at least every 12 characters)

    def __init__(self, logp: dict[str, float]):
        self.logp = logp

    @classmethod
    def learn(cls, marked: dict[str, str], counts: Counter) -> "_PieceModel":
        import math
        pieces: Counter = Counter()
        for w, m in marked.items():
            c = counts[w]
            for p in m.split(MARK):
                pieces[p] += c
        total = sum(pieces.values()) or 1
        return cls({p: math.log(c / total) for p, c in pieces.items()})

    def mark(self, word: str) -> str:
        n = len(word)
        logp, unk, unk_char = self.logp, self.UNK, self.UNK_CHAR
        best = [0.0] + [-1e30] * n
        back = [0] * (n + 1)
        for j in range(1, n + 1):
            bj, kj = -1e30, 0
            for i in range(max(0, j - self.MAX_LEN), j):
                s = logp.get(word[i:j])
                v = best[i] + (unk + unk_char * (j - i) if s is None else s)
                if v > bj:
                    bj, kj = v, i
            best[j], back[j] = bj, kj
        cuts, j = [], n
        while j > 0:
            j = back[j]
            if j > 0 and not word[j - 1].isspace() and not word[j].isspace():
                cuts.append(j)
        cuts.reverse()
        return _join_at(word, cuts)


def _marked_word(word: str, toks) -> str:
    """The word with MARK at its Kiwi morpheme boundaries: metrics.boundaries(morphemes) & metrics.interior(word),
    written out for one word (this runs once per distinct word of the corpus)."""
    marks, inside = set(), set()
    for t in toks:
        a = t.start
        b = a + t.len
        if b <= a:
            continue
        marks.add(a)
        marks.add(b)
        if b - a > 1:
            inside.update(range(a + 1, b))
    n = len(word)
    cuts = sorted(c for c in marks - inside if 0 < c < n and not word[c - 1].isspace() and not word[c].isspace())
    return _join_at(word, cuts)


def _join_at(word: str, cuts: list[int]) -> str:
    """The word with MARK inserted at each (ascending) cut position."""
    if not cuts:
        return word
    bounds = [0, *cuts, len(word)]
    return MARK.join(word[a:b] for a, b in zip(bounds, bounds[1:]))


def min_vocab_size(st: Settings, prep: Prepared) -> tuple[int, Text]:
    """The smallest vocabulary the algorithm can build on this text, and what it is made of."""
    n_special = len(st.specials.ordered)
    cov = st.character_coverage
    if st.algorithm == "hf-bpe-byte":
        return n_special + 256, say(f"{n_special} special tokens + 256 byte symbols",
                                    f"특수 토큰 {n_special}개 + 바이트 기호 256개")
    if st.algorithm == "hf-unigram":
        alpha = len(prep.alphabet(cov)) + 1  # rare characters are cut out (see below)
        return n_special + 256 + alpha, say(f"{n_special} special tokens + 256 byte pieces + {alpha} characters "
                                            f"(coverage {cov})",
                                            f"특수 토큰 {n_special}개 + 바이트 조각 256개 + 문자 {alpha}개 "
                                            f"(문자 커버리지 {cov})")
    alpha = len(prep.alphabet(cov)) + 1  # + ▁ (the space mark)
    if st.algorithm == "hf-wordpiece":
        # WordPiece keeps every character twice: word-initial and as a ##continuation.
        return n_special + 2 * alpha, say(f"{n_special} special tokens + {alpha} characters x 2 (word start and ##)",
                                          f"특수 토큰 {n_special}개 + 문자 {alpha}개 x 2 (어절 첫머리와 ##)")
    return n_special + 256 + alpha, say(f"{n_special} special tokens + 256 byte pieces + {alpha} characters "
                                        f"(coverage {cov})",
                                        f"특수 토큰 {n_special}개 + 바이트 조각 256개 + 문자 {alpha}개 "
                                        f"(문자 커버리지 {cov})")


def check_vocab_size(st: Settings, prep: Prepared, vocab_size: int, field_name: str = "vocab_size") -> None:
    need, what = min_vocab_size(st, prep)
    if vocab_size < need:
        lower = st.algorithm != "hf-bpe-byte"
        raise UserError(say("{f} {v} is smaller than the alphabet plus special tokens of this corpus "
                            "({need}: {what}): raise {f} to at least {need}"
                            + (", or lower character_coverage" if lower else "") + ".",
                            "{f} {v}은(는) 이 말뭉치의 문자 집합과 특수 토큰을 합한 것보다 작습니다 "
                            "({need}: {what}): {f}을(를) {need} 이상으로 높이세요"
                            + (". 또는 character_coverage를 낮추세요" if lower else "") + ".",
                            f=field_name, v=vocab_size, need=need, what=what))


# -- Hugging Face tokenizers ------------------------------------------------------------------------
def _pre_tokenizer(st: Settings):
    from tokenizers import Regex, pre_tokenizers as pt
    algo, mode = st.algorithm, st.pre_tokenization
    if algo == "hf-bpe-byte":
        if mode == "punctuation":
            return pt.ByteLevel(add_prefix_space=False, use_regex=True)  # GPT-2's split: letters/digits/punct.
        # A word keeps the one space before it; extra spaces stand alone (as in GPT-2).
        return pt.Sequence([pt.Split(Regex(r" ?[^\s]+|\s+(?!\S)|\s+"), behavior="isolated"),
                            pt.ByteLevel(add_prefix_space=False, use_regex=False)])
    if algo == "hf-wordpiece":
        if mode == "punctuation":
            return pt.Sequence([pt.WhitespaceSplit(), pt.Punctuation()])
        return pt.WhitespaceSplit()
    meta = pt.Metaspace(replacement="▁", prepend_scheme="first", split=mode != "none")
    if mode == "punctuation":
        return pt.Sequence([meta, pt.Punctuation(behavior="isolated")])
    return meta


def _decoder(st: Settings):
    from tokenizers import decoders
    if st.algorithm == "hf-bpe-byte":
        return decoders.ByteLevel()
    if st.algorithm == "hf-wordpiece":
        return decoders.WordPiece(prefix="##", cleanup=True)
    return decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                              decoders.Strip(content=" ", left=1, right=0)])


def _normalizer(st: Settings):
    from tokenizers import normalizers
    return {"NFC": normalizers.NFC(), "NFKC": normalizers.NFKC()}.get(st.normalization)


def train_hf(st: Settings, prep: Prepared, vocab_size: int):
    """Train with Hugging Face `tokenizers` from the prepared file; returns a tokenizers.Tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers as pt, trainers

    specials = st.specials.ordered
    algo = st.algorithm
    byte_fb = algo in BYTE_FALLBACK
    target = vocab_size - (256 if byte_fb else 0)  # the 256 byte pieces are added after training
    train_file = prep.path
    if algo == "hf-bpe-byte":
        tok = Tokenizer(models.BPE())
        trainer = trainers.BpeTrainer(vocab_size=target, min_frequency=st.min_frequency, special_tokens=specials,
                                      initial_alphabet=pt.ByteLevel.alphabet(), show_progress=False)
    elif algo == "hf-bpe-char":
        tok = Tokenizer(models.BPE(byte_fallback=True, unk_token=st.specials.unk))
        trainer = trainers.BpeTrainer(vocab_size=target, min_frequency=st.min_frequency, special_tokens=specials,
                                      limit_alphabet=len(prep.alphabet(st.character_coverage)) + 1,
                                      show_progress=False)
    elif algo == "hf-wordpiece":
        tok = Tokenizer(models.WordPiece(unk_token=st.specials.unk, continuing_subword_prefix="##"))
        trainer = trainers.WordPieceTrainer(vocab_size=target, min_frequency=st.min_frequency,
                                            special_tokens=specials, continuing_subword_prefix="##",
                                            limit_alphabet=len(prep.alphabet(st.character_coverage)) + 1,
                                            show_progress=False)
    elif algo == "hf-unigram":
        tok = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(vocab_size=target, special_tokens=specials, unk_token=st.specials.unk,
                                          show_progress=False)
        train_file = _drop_rare_characters(prep, st.character_coverage)
    else:
        raise ValueError(algo)
    # No normalizer while training: `prepare` wrote the text already normalized (NFC/NFKC), and normalizing
    # it again in the trainer was ~9% of the training time for nothing. The saved tokenizer normalizes.
    tok.normalizer = None
    final_pre = _pre_tokenizer(st)
    # Training splits at MARK too (Kiwi boundaries; for Unigram also where rare characters were cut out).
    # Without marks in the text that split would be one more pass over all of it for nothing: skipped.
    marked = st.pre_tokenization == "kiwi" or train_file != prep.path
    tok.pre_tokenizer = pt.Sequence([pt.Split(MARK, behavior="removed"), final_pre]) if marked else final_pre
    tok.decoder = _decoder(st)
    tok.train([str(train_file)], trainer)
    tok.pre_tokenizer = final_pre
    tok.normalizer = _normalizer(st)
    if byte_fb:
        tok = _with_byte_pieces(tok, len(specials))
    return tok


def _drop_rare_characters(prep: Prepared, coverage: float) -> Path:
    """HF Unigram has no coverage setting: characters outside the coverage alphabet are cut out of its
    training text (replaced by MARK, a split point), so it learns no piece with them; at run time they
    fall back to bytes, as in SentencePiece."""
    keep = set(prep.alphabet(coverage))
    rare = [c for c in prep.char_counts if c not in keep]
    if not rare:
        return prep.path
    table = str.maketrans({c: MARK for c in rare})
    out = prep.path.with_name("train-unigram.txt")
    with open(prep.path, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        for line in src:
            dst.write(line.translate(table))
    return out


def _with_byte_pieces(tok, n_special: int):
    """Insert the 256 byte-fallback pieces <0x00>..<0xFF> right after the special tokens (ids n_special..+255)."""
    from tokenizers import Tokenizer
    spec = json.loads(tok.to_str())
    model = spec["model"]
    byte_pieces = [f"<0x{b:02X}>" for b in range(256)]
    if model["type"] == "BPE":
        vocab = model["vocab"]
        for piece in byte_pieces:
            vocab.pop(piece, None)
        ordered = sorted(vocab.items(), key=lambda kv: kv[1])
        new = {}
        for piece, _ in ordered[:n_special]:
            new[piece] = len(new)
        for piece in byte_pieces:
            new[piece] = len(new)
        for piece, _ in ordered[n_special:]:
            new[piece] = len(new)
        model["vocab"] = new
    elif model["type"] == "Unigram":
        vocab = [v for v in model["vocab"] if v[0] not in set(byte_pieces)]
        model["vocab"] = vocab[:n_special] + [[p, 0.0] for p in byte_pieces] + vocab[n_special:]
        model["byte_fallback"] = True
    spec["model"] = model
    return Tokenizer.from_str(json.dumps(spec, ensure_ascii=False))


# -- SentencePiece ------------------------------------------------------------------------------
def train_spm(st: Settings, prep: Prepared, vocab_size: int, workdir: Path):
    """Train with the sentencepiece library, then express the model as a tokenizers.Tokenizer."""
    import sentencepiece as spm
    sp = st.specials
    prefix = workdir / f"spm-{vocab_size}"
    kwargs = dict(
        input=str(prep.path), model_prefix=str(prefix), model_type=st.algorithm.split("-")[1],
        vocab_size=vocab_size, character_coverage=st.character_coverage, byte_fallback=True,
        # Normalization is done by us (NFC/NFKC) identically at training and in the saved tokenizer.
        normalization_rule_name="identity", add_dummy_prefix=True, remove_extra_whitespaces=False,
        split_by_whitespace=st.pre_tokenization != "none",
        split_by_unicode_script=st.pre_tokenization == "punctuation",
        split_by_number=st.pre_tokenization == "punctuation",
        pad_id=0, unk_id=1, bos_id=2, eos_id=3, pad_piece=sp.pad, unk_piece=sp.unk, bos_piece=sp.bos,
        eos_piece=sp.eos, control_symbols=[sp.chat_start, sp.chat_end, *sp.extra],
        max_sentence_length=1 << 16, num_threads=max(1, os.cpu_count() or 1), minloglevel=1,
        hard_vocab_limit=True,
    )
    if st.pre_tokenization == "kiwi":
        kwargs["pretokenization_delimiter"] = MARK
    try:
        spm.SentencePieceTrainer.train(**kwargs)
    except RuntimeError as e:
        msg = str(e)
        if "Vocabulary size" in msg or "vocab_size" in msg:
            why = msg.strip()[:300]
            raise UserError(f"SentencePiece cannot build {vocab_size} pieces from this corpus ({why}): "
                            "lower vocab_size (the corpus is too small for it) or raise character_coverage.",
                            ko=f"SentencePiece가 이 말뭉치로 조각 {vocab_size}개를 만들 수 없습니다 ({why}): "
                               "vocab_size를 낮추거나(말뭉치가 그 크기에 비해 작습니다) character_coverage를 높이세요.") from None
        raise
    return spm_to_tokenizers(str(prefix) + ".model", st)


def spm_to_tokenizers(model_file: str, st: Settings):
    """A SentencePiece model as a `tokenizers.Tokenizer` (same pieces, scores, byte fallback and specials)."""
    import sentencepiece as spm
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers as pt
    from transformers.convert_slow_tokenizer import generate_merges

    proc = spm.SentencePieceProcessor(model_file=model_file)
    n = proc.get_piece_size()
    pieces = [(proc.id_to_piece(i), proc.get_score(i)) for i in range(n)]
    controls = [i for i in range(n) if proc.is_control(i) or proc.is_unknown(i)]
    byte_ids = [i for i in range(n) if proc.is_byte(i)]
    unk_id = proc.unk_id()
    if st.algorithm == "spm-unigram":
        model = models.Unigram([(p, s) for p, s in pieces], unk_id=unk_id, byte_fallback=True)
    else:
        vocab = {p: i for i, (p, _) in enumerate(pieces)}
        skip = {pieces[i][0] for i in controls + byte_ids}
        merges = generate_merges(vocab, {p: s for p, s in pieces}, skip_tokens=skip)
        model = models.BPE(vocab, merges, unk_token=pieces[unk_id][0], fuse_unk=True, byte_fallback=True)
    tok = Tokenizer(model)
    tok.normalizer = _normalizer(st)
    tok.pre_tokenizer = pt.Metaspace(replacement="▁", prepend_scheme="first", split=st.pre_tokenization != "none")
    tok.decoder = _decoder(st)
    tok.add_special_tokens([AddedToken(pieces[i][0], special=True, normalized=False) for i in sorted(controls)])
    return tok


# -- common ----------------------------------------------------------------------------------------
def train(st: Settings, prep: Prepared, vocab_size: int, workdir: Path):
    """One tokenizer of `vocab_size` from the prepared text (tokenizers.Tokenizer)."""
    check_vocab_size(st, prep, vocab_size)
    if st.algorithm.startswith("spm-"):
        return train_spm(st, prep, vocab_size, workdir)
    return train_hf(st, prep, vocab_size)


def to_transformers(tok, st: Settings):
    """A transformers fast tokenizer with bos/eos/pad/unk, the chat tokens and the chat template set."""
    from transformers import PreTrainedTokenizerFast
    sp = st.specials
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=sp.bos, eos_token=sp.eos, pad_token=sp.pad,
                                   unk_token=sp.unk, additional_special_tokens=[sp.chat_start, sp.chat_end, *sp.extra],
                                   clean_up_tokenization_spaces=False)
    fast.chat_template = chat_template(sp)
    return fast


def run_interruptible(fn, should_stop: Callable[[], bool], *, tick: Callable[[float], None] | None = None,
                      poll: float = 0.5, tick_every: float = 5.0):
    """Run a library call that cannot be interrupted (Rust/C++ training) in a thread, checking for stop.

    The libraries release the GIL while training, so the caller keeps answering: on a stop request we
    return at once (StopRequested) and the job process exits, taking the worker thread with it.
    """
    from workbench.runtime import StopRequested
    result: dict = {}

    def work():
        try:
            result["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = e

    th = threading.Thread(target=work, name="tokenizer-train", daemon=True)
    t0 = last = time.perf_counter()
    th.start()
    while th.is_alive():
        th.join(poll)
        now = time.perf_counter()
        if tick is not None and th.is_alive() and now - last >= tick_every:
            last = now
            tick(now - t0)
        if th.is_alive() and should_stop():
            raise StopRequested("stop requested during training")
    if "error" in result:
        raise result["error"]
    return result["value"]
