"""The tokenizer comparison: every selected tokenizer on the same held-out text, one table.

    python -m workbench tokenizer-compare --set heldout=../shared/data/kor-nlu/KorNLI/xnli.test.ko.tsv \\
        --set tokenizers=cl100k,kiwi,char,byte,my-tokenizer

The last stdout line is one JSON object whose "rows" hold one row per tokenizer (fertility, characters
and bytes per token, UNK and byte rates, words split, morpheme-boundary precision/recall/F1 against
Kiwi, vocabulary composition, encode throughput). Definitions: workbench/tokenizer/metrics.py.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

from workbench.i18n import both
from workbench.config import StageConfig, param
from workbench.errors import UserError
from workbench.i18n import join, say
from workbench.stages import Stage

DEFAULT_TOKENIZERS = ["cl100k", "kiwi", "char", "byte"]

DEFINITIONS = {
    "word": "a whitespace-separated piece of text (eojeol)",
    "fertility": "tokens per word (all tokens / all words)",
    "chars_per_token": "characters (spaces included) per token",
    "bytes_per_token": "UTF-8 bytes per token",
    "unk_rate": "share of tokens that are the unknown token",
    "byte_rate": "share of tokens that are not whole characters (byte-fallback or partial-character pieces)",
    "words_split": "share of words cut into more than one token",
    "boundary_f1": "F1 of token boundaries inside words against Kiwi morpheme boundaries inside words "
                   "(a position inside a syllable, e.g. 했 = 하+었, is not a boundary)",
    "composition": "share of vocabulary entries by kind (markers ▁ Ġ ## removed)",
    "encode_mb_per_s": "UTF-8 MB of held-out text encoded per second (batch call of the library; machine load matters)",
}


@dataclass
class CompareConfig(StageConfig):
    tokenizers: list[str] = param(list(DEFAULT_TOKENIZERS), ko="토크나이저", en="Tokenizers",
                                  help_ko="cl100k, kiwi, char, byte, 토크나이저 산출물 이름, hf:<허브 이름>, 폴더 경로",
                                  help_en="cl100k, kiwi, char, byte, tokenizer artifact names, hf:<hub name>, folder paths")
    heldout: str = param("", ko="평가용 글", en="Held-out text",
                         help_ko="토크나이저가 학습하지 않은 글: 파일/폴더 경로, 말뭉치 산출물, konlpy:kobill",
                         help_en="Text the tokenizers were not trained on: a file/folder, a corpus artifact, konlpy:kobill")
    max_texts: int = param(2000, ko="최대 글 수", en="Max texts", min=1, max=1_000_000,
                           help_ko="중복을 뺀 앞쪽 글 수", help_en="First distinct texts used")
    morpheme_f1: bool = param(True, ko="형태소 경계 F1", en="Morpheme-boundary F1",
                              help_ko="Kiwi로 기준 경계를 구함 (글 1000개에 수 초)", help_en="Kiwi analyses the text (seconds per 1000 texts)")
    composition: bool = param(True, ko="어휘 구성", en="Vocabulary composition")

    def check(self):
        errors = []
        if not [t for t in self.tokenizers if t.strip()]:
            errors.append(("tokenizers", say("is empty: list at least one tokenizer, e.g. cl100k,kiwi,char",
                                             "비어 있습니다: 토크나이저를 하나 이상 적으세요 (예: cl100k,kiwi,char)")))
        dup = {t for t in self.tokenizers if self.tokenizers.count(t) > 1}
        if dup:
            twice = repr(sorted(dup)[0])
            errors.append(("tokenizers", say(f"{twice} is listed twice: list each tokenizer once",
                                             f"{twice}이(가) 두 번 들어 있습니다: 토크나이저는 한 번씩만 적으세요")))
        if not self.heldout.strip():
            errors.append(("heldout", say("is empty: give held-out text (a file or folder path, a corpus artifact, "
                                          "or konlpy:kobill)",
                                          "비어 있습니다: 평가용 글(파일이나 폴더 경로, 말뭉치 산출물, 또는 "
                                          "konlpy:kobill)을 주세요")))
        return errors


def compare(cfg: CompareConfig, ws=None, progress=None, should_stop=None) -> dict:
    from workbench.artifacts import corpus_splits

    from . import backends, heldout
    from .metrics import evaluate, kiwi_reference, vocab_composition, word_spans
    from .sources import resolve_source

    progress = progress or (lambda *a: None)
    src = resolve_source(cfg.heldout, ws, what="held-out text")
    split = "validation" if src.kind == "corpus" and "validation" in corpus_splits(src.folder) else "train"
    texts = list(src.texts(split, limit=cfg.max_texts, unique=True))
    if not texts:
        raise UserError(f"the held-out text '{cfg.heldout}' is empty: give a file with text.",
                        ko=f"평가용 글 '{cfg.heldout}'이(가) 비어 있습니다: 글이 들어 있는 파일을 주세요.")
    specs = [t.strip() for t in cfg.tokenizers if t.strip()]
    # Load every tokenizer first: one that cannot load stops the run before any long work.
    loaded, problems = [], []
    for spec in specs:
        try:
            loaded.append((spec, backends.load(spec, ws)))
        except UserError as e:
            problems.append(e.text)
    if problems:
        raise UserError(join(" | ", problems))
    progress(0, len(loaded) + 1, say(f"{len(texts)} held-out texts; Kiwi reference boundaries",
                                     f"평가용 글 {len(texts)}개. Kiwi 기준 경계를 구하는 중"))
    t0 = time.perf_counter()
    reference = kiwi_reference(texts) if cfg.morpheme_f1 else None
    kiwi_seconds = time.perf_counter() - t0
    held_paths = src.paths()
    rows = []
    for i, (spec, ad) in enumerate(loaded):
        if should_stop is not None and should_stop():
            break
        progress(i + 1, len(loaded) + 1, say(f"measuring {ad.name}", f"{ad.name} 측정 중"))
        row = evaluate(ad, texts, reference)
        row["spec"] = spec
        if cfg.composition:
            row["composition"] = vocab_composition(ad)
        share = _trained_share(ad, texts, ws, held_paths, split)
        if share is not None:
            row["trained_share"] = share
            if share >= heldout.TRAINED_WARN:
                row["warning"] = both(say("{share:.0%} of the held-out text is in this tokenizer's training text: "
                                     "figures are optimistic",
                                     "평가용 글의 {share:.0%}가 이 토크나이저의 학습 글에 들어 있습니다: 수치가 실제보다 "
                                     "좋게 나옵니다", share=share))
        if ad.info.get("algorithm"):
            row["algorithm"] = ad.info["algorithm"]
            row["pre_tokenization"] = (ad.info.get("settings") or {}).get("pre_tokenization")
        row["sweep"] = _sweep_on_these_texts(ad, row, texts)
        rows.append(row)
    progress(len(loaded) + 1, len(loaded) + 1, say("done", "완료"))
    held = {**src.describe(), "split": split, "texts": len(texts), "words": sum(len(word_spans(t)) for t in texts),
            "characters": sum(len(t) for t in texts)}
    return {"heldout": heldout.annotate(held),
            "kiwi_seconds": round(kiwi_seconds, 2) if reference is not None else None,
            "rows": rows, "definitions": DEFINITIONS}


def _trained_share(ad, texts: list[str], ws, held_paths: set[str], split: str) -> float | None:
    """Share of the held-out text that is in this tokenizer's training text (see heldout.py); None: unknown
    (not trained here). When the training text is gone, a held-out file that was a training file counts as 1."""
    from . import heldout
    info = ad.info or {}
    if not info.get("corpus"):
        return None
    hashes = heldout.training_hashes(info, ws)
    if hashes is not None:
        norm = (info.get("settings") or {}).get("normalization") or "NFC"
        return heldout.trained_share(texts, norm, hashes)["trained_share"]
    trained_on = _training_paths(info)
    same_split = split == "train" or info["corpus"].get("kind") != "corpus"
    return 1.0 if trained_on & held_paths and same_split else None


def _training_paths(info: dict) -> set[str]:
    corpus = (info or {}).get("corpus") or {}
    from pathlib import Path
    out = set()
    for f in corpus.get("files") or []:
        out.add(str(Path(f).resolve()))
    if corpus.get("path"):
        out.add(str(Path(corpus["path"]).resolve()))
    return out


def _sweep_on_these_texts(ad, row: dict, texts: list[str]) -> list[dict]:
    """Fertility against vocabulary size on *these* held-out texts: the tokenizer itself (the table's row) and,
    for a workbench tokenizer trained with a sweep, each other size it saved (sweep/<size>/), measured the
    same way. The sweep plot draws exactly these points, so it and the table are one measurement."""
    from pathlib import Path

    from .backends import load_hf
    from .metrics import evaluate
    points = []
    if row.get("vocab_size") and row.get("fertility") is not None:
        points.append({"vocab_size": row["vocab_size"], "fertility": row["fertility"],
                       "chars_per_token": row.get("chars_per_token")})
    folder = getattr(ad, "path", None)
    for s in (ad.info or {}).get("sweep") or []:
        rel = s.get("path")
        if not folder or not rel or rel == "." or not (Path(folder) / rel / "tokenizer.json").is_file():
            continue
        try:
            other = load_hf(str(Path(folder) / rel), display=f"{ad.name}@{s.get('vocab_size')}")
        except UserError:
            continue
        ev = evaluate(other, texts, throughput=False)
        points.append({"vocab_size": ev["vocab_size"], "fertility": ev["fertility"],
                       "chars_per_token": ev["chars_per_token"]})
    return sorted(points, key=lambda p: p["vocab_size"])


def run(cfg: CompareConfig, ctx) -> dict:
    result = compare(cfg, ctx.ws, progress=lambda d, t, m=None: ctx.progress(d, t, m),
                     should_stop=lambda: ctx.should_stop)
    (ctx.run_dir / "compare.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return result


STAGE = Stage(name="tokenizer-compare", config=CompareConfig, run=run,
              help="Compare tokenizers on held-out text: fertility, chars/bytes per token, UNK/byte rates, words "
                   "split, morpheme-boundary F1 against Kiwi, vocabulary composition, throughput. Prints the table "
                   "as one JSON line.")
