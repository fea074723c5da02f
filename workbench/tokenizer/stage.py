"""The Tokenizer stage: train a Korean tokenizer on a corpus and save it as a transformers tokenizer.

    python -m workbench tokenizer --set corpus=my-corpus --set algorithm=hf-bpe-char --set vocab_size=32000

Output: a `tokenizer` artifact, a folder that `AutoTokenizer.from_pretrained(dir)` loads with no project
code (bos/eos/pad/unk, chat tokens and a chat template set) plus workbench.json (algorithm, settings,
corpus, vocabulary size, special tokens, held-out figures). See specials.py for the token ids.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass

from workbench.config import StageConfig, param, section
from workbench.errors import UserError
from workbench.i18n import say
from workbench.stages import Stage

from .specials import Specials
from .train import ALGORITHMS, BYTE_FALLBACK, NORMALIZATION, PRE_TOKENIZATION, Settings

HOLDOUT_EVERY = 100     # without held-out text, every 100th text is kept aside (not trained on)
HOLDOUT_MAX = 2000
SWEEP_DIR = "sweep"     # the sweep's other sizes inside the artifact: sweep/<size>/ (transformers folders)
HELDOUT_FIGURES = ("fertility", "fertility_se", "chars_per_token", "bytes_per_token", "unk_rate", "byte_rate",
                   "words_split")


@dataclass
class TokenizerConfig(StageConfig):
    corpus: str = param("", ko="말뭉치", en="Corpus",
                        help_ko="말뭉치 산출물 이름(또는 id), 텍스트 파일/폴더 경로, 또는 konlpy:kolaw / konlpy:kobill",
                        help_en="A corpus artifact name (or id), a text file/folder path, or konlpy:kolaw / konlpy:kobill")
    name: str = param("ko-tokenizer", ko="토크나이저 이름", en="Tokenizer name",
                      help_ko="저장할 산출물 이름 (한글, 숫자, - _ . 가능)", help_en="Artifact name (letters incl. Korean, digits, - _ .)")
    algorithm: str = param("hf-bpe-char", ko="알고리즘", en="Algorithm", choices=list(ALGORITHMS),
                           help_ko="hf-* = Hugging Face tokenizers, spm-* = SentencePiece. bpe-char·unigram·spm은 바이트 폴백",
                           help_en="hf-* = Hugging Face tokenizers, spm-* = SentencePiece; bpe-char, unigram and spm use byte fallback")
    vocab_size: int = param(8000, ko="어휘 크기", en="Vocabulary size", min=64, max=1_000_000,
                            help_ko="특수 토큰과 바이트 조각 포함", help_en="Including special tokens and byte pieces")
    min_frequency: int = param(2, ko="최소 빈도", en="Minimum frequency", min=1,
                               help_ko="BPE·WordPiece: 이보다 드문 쌍은 합치지 않음", help_en="BPE/WordPiece: rarer pairs are not merged")
    normalization: str = param("NFC", ko="정규화", en="Normalization", choices=list(NORMALIZATION),
                               help_ko="NFC: 한글 자모를 완성형 음절로 모음. NFKC: 전각·호환 문자도 바꿈",
                               help_en="NFC joins jamo into syllables; NFKC also folds full-width/compatibility characters")
    pre_tokenization: str = param("whitespace", ko="사전 분할", en="Pre-tokenization", choices=list(PRE_TOKENIZATION),
                                  help_ko="kiwi: Kiwi 형태소 경계에서 잘라 학습 (저장된 토크나이저는 Kiwi 없이 동작)",
                                  help_en="kiwi: train on Kiwi morpheme boundaries (the saved tokenizer runs without Kiwi)")
    character_coverage: float = param(0.9995, ko="문자 커버리지", en="Character coverage", min=0.9, max=1.0, step=0.0001,
                                      help_ko="어휘에 넣을 문자 비율. 나머지는 바이트로 (한국어 ~0.9995)",
                                      help_en="Share of characters kept in the alphabet; the rest become bytes (Korean: ~0.9995)")
    special_tokens: Specials = section(Specials, ko="특수 토큰", en="Special tokens")
    sweep: list[int] = param([], ko="어휘 크기 스윕", en="Vocab-size sweep", advanced=True,
                             help_ko="추가로 학습·측정할 어휘 크기들 (예: 2000, 4000, 16000). 저장은 어휘 크기 하나만",
                             help_en="Extra sizes to train and measure (e.g. 2000, 4000, 16000); only vocab_size is saved")
    heldout: str = param("", ko="평가용 글", en="Held-out text", advanced=True,
                         help_ko="비우면 말뭉치의 validation 분할, 없으면 100개 중 1개를 떼어 둠",
                         help_en="Empty: the corpus's validation split, else every 100th text is held back")
    max_texts: int = param(0, ko="최대 글 수", en="Max texts", min=0, advanced=True,
                           help_ko="0 = 전부", help_en="0 = all")
    overwrite: bool = param(False, ko="덮어쓰기", en="Overwrite", help_ko="같은 이름이 있으면 바꿈",
                            help_en="Replace an existing tokenizer of the same name")

    def check(self):
        from state.names import NameError_, check_name
        errors = []
        if not self.corpus.strip():
            errors.append(("corpus", say("is empty: pick a corpus artifact, or give a text file or folder path "
                                         "(konlpy:kolaw works offline)",
                                         "비어 있습니다: 말뭉치 산출물을 고르거나 텍스트 파일·폴더 경로를 주세요 "
                                         "(konlpy:kolaw는 인터넷 없이도 됩니다)")))
        try:
            check_name(self.name, "tokenizer name")
        except NameError_ as e:
            errors.append(("name", e.text))
        errors.extend(self.special_tokens.problems())
        n_special = len(self.special_tokens.ordered)
        floor = n_special + (256 if self.algorithm in BYTE_FALLBACK or self.algorithm == "hf-bpe-byte" else 0) + 2
        for fname, v in [("vocab_size", self.vocab_size)] + [(f"sweep[{i}]", s) for i, s in enumerate(self.sweep)]:
            if v < floor:
                with_bytes = floor > n_special + 2
                errors.append((fname, say(f"{v} is smaller than the alphabet plus special tokens: {self.algorithm} "
                                          f"needs at least {floor} ({n_special} special tokens"
                                          + (" + 256 bytes" if with_bytes else "") + " + characters): raise it",
                                          f"{v}은(는) 문자 집합과 특수 토큰을 합한 것보다 작습니다: {self.algorithm}에는 "
                                          f"최소 {floor}이(가) 필요합니다 (특수 토큰 {n_special}개"
                                          + (" + 바이트 256개" if with_bytes else "") + " + 문자): 값을 높이세요")))
        if self.pre_tokenization == "none" and self.algorithm not in ("hf-unigram", "spm-bpe", "spm-unigram"):
            errors.append(("pre_tokenization", say("'none' (pieces across spaces) is for hf-unigram and spm-*: BPE and "
                                                   "WordPiece over whole lines are very slow; choose whitespace",
                                                   "'none'(띄어쓰기를 넘나드는 조각)은 hf-unigram과 spm-*용입니다: 줄 "
                                                   "전체에 BPE나 WordPiece를 학습하면 매우 느립니다. whitespace를 고르세요")))
        if self.pre_tokenization == "kiwi" and self.algorithm == "hf-wordpiece":
            errors.append(("pre_tokenization", say("kiwi does not fit WordPiece (it marks word-inner pieces with ##, so "
                                                   "morphemes learned apart would not match at run time): use a BPE, "
                                                   "Unigram or spm-* algorithm",
                                                   "kiwi는 WordPiece와 맞지 않습니다 (WordPiece는 어절 안쪽 조각에 ##를 "
                                                   "붙이므로, 따로 학습한 형태소가 실제로 쓸 때 맞지 않습니다): BPE, "
                                                   "Unigram 또는 spm-* 알고리즘을 쓰세요")))
        return errors

    def settings(self) -> Settings:
        return Settings(algorithm=self.algorithm, vocab_size=self.vocab_size, min_frequency=self.min_frequency,
                        normalization=self.normalization, pre_tokenization=self.pre_tokenization,
                        character_coverage=self.character_coverage, specials=self.special_tokens)


def run(cfg: TokenizerConfig, ctx) -> dict:
    workdir = ctx.run_dir / "work"
    try:
        return _train_and_save(cfg, ctx, workdir)
    finally:  # the prepared training text can be large; the artifact is what stays, even after a failure
        shutil.rmtree(workdir, ignore_errors=True)


def _train_and_save(cfg: TokenizerConfig, ctx, workdir) -> dict:
    from workbench.artifacts import corpus_splits, write_meta

    from .backends import HFBackend
    from .metrics import evaluate
    from .sources import resolve_source
    from .train import prepare, run_interruptible, to_transformers, train

    ws = ctx.ws
    if ws is not None and not cfg.overwrite and ws.store.get_artifact(kind="tokenizer", name=cfg.name) is not None:
        raise UserError(f"a tokenizer named '{cfg.name}' already exists: choose another name, or allow overwriting.",
                        ko=f"'{cfg.name}' 이름의 토크나이저가 이미 있습니다: 다른 이름을 고르거나 덮어쓰기를 허용하세요.")
    st = cfg.settings()
    source = resolve_source(cfg.corpus, ws)
    stop = lambda: ctx.should_stop  # noqa: E731

    # Held-out text: given, else the corpus's validation split, else every 100th text held back.
    heldout_src, holdout_every, heldout_split = None, 0, "train"
    if cfg.heldout.strip():
        heldout_src = resolve_source(cfg.heldout, ws, what="held-out text")
    elif source.kind == "corpus" and "validation" in corpus_splits(source.folder):
        heldout_src, heldout_split = source, "validation"
    else:
        holdout_every = HOLDOUT_EVERY

    sizes = sorted(set(cfg.sweep) | {cfg.vocab_size})
    kiwi_mode = st.pre_tokenization == "kiwi"
    read_share = 0.08 if kiwi_mode else 0.15    # Kiwi: reading, then marking morpheme boundaries up to 0.4
    mark_share = 0.32 if kiwi_mode else 0.0
    what = say(f"reading {source.label}", f"{source.label} 읽는 중")
    ctx.progress(0, 1, what)

    def reading(done, total):
        frac = min(1.0, done / total) if total else 0.0
        ctx.progress(read_share * frac, 1, what + f": {frac:.0%}")

    marking = say("marking Kiwi morpheme boundaries in the distinct words", "서로 다른 어절마다 Kiwi 형태소 경계를 표시하는 중")

    def kiwi_progress(done, total):
        frac = min(1.0, done / total) if total else 0.0
        ctx.progress(read_share + mark_share * frac, 1, marking + f": {frac:.0%}")

    prep = prepare(source, st, workdir, max_texts=cfg.max_texts or None, holdout_every=holdout_every,
                   holdout_max=HOLDOUT_MAX, progress=reading, should_stop=stop, kiwi_progress=kiwi_progress)
    read_share += mark_share
    if heldout_src is not None:
        heldout = list(heldout_src.texts(heldout_split, limit=HOLDOUT_MAX, unique=True))
        heldout_desc = {**heldout_src.describe(), "split": heldout_split}
    else:
        heldout = prep.heldout
        heldout_desc = {"kind": "holdback", "every": holdout_every, "note": "every 100th text of the corpus, not trained on"}
    # What the held-out figures rest on (texts, words) and whether that text is also training text.
    from . import heldout as ho
    heldout_desc.update(ho.describe(heldout))
    heldout_desc.update(ho.trained_share(heldout, cfg.normalization, prep.line_hashes.array()))
    if not prep.line_hashes.complete:
        heldout_desc["checked_lines"] = prep.line_hashes.n
    heldout_desc = ho.annotate(heldout_desc)

    from .train import check_vocab_size
    for s in sizes:  # every size is checked against this corpus's alphabet before any training starts
        check_vocab_size(st, prep, s, "vocab_size" if s == cfg.vocab_size else "sweep")

    final, sweep_rows, train_seconds, others = None, [], 0.0, {}
    span = (0.95 - read_share) / len(sizes)
    for k, size in enumerate(sizes):
        base = read_share + k * span
        label = say(f"training {st.algorithm} with {size:,} pieces ({k + 1}/{len(sizes)})",
                    f"{st.algorithm} 학습 중: 어휘 {size:,}개 ({k + 1}/{len(sizes)})")
        ctx.progress(base, 1, label)
        t0 = time.perf_counter()
        tok = run_interruptible(lambda: train(st, prep, size, workdir), stop,
                                tick=lambda s: ctx.progress(base, 1, say("{label}: {s:.0f} s", "{label}: {s:.0f}초",
                                                                         label=label, s=s)))
        seconds = time.perf_counter() - t0
        fast = to_transformers(tok, st)
        # Every size is saved (the others under sweep/<size>), so a comparison can measure each one again
        # on its own held-out text: the sweep plot and the comparison table are then one measurement.
        row = {"vocab_size": size, "actual_vocab_size": len(fast), "train_seconds": round(seconds, 2),
               "path": "." if size == cfg.vocab_size else f"{SWEEP_DIR}/{size}"}
        if size != cfg.vocab_size:
            others[size] = fast
        if heldout:
            ev = evaluate(HFBackend(fast, cfg.name), heldout, throughput=False)
            row.update({k2: ev[k2] for k2 in HELDOUT_FIGURES})
            ctx.metrics(size, {"heldout/fertility": ev["fertility"], "heldout/chars_per_token": ev["chars_per_token"],
                               "heldout/unk_rate": ev["unk_rate"], "heldout/byte_rate": ev["byte_rate"]}, flush=True)
        sweep_rows.append(row)
        if size == cfg.vocab_size:
            final, train_seconds = fast, seconds
        ctx.progress(base + span, 1, say("{label}: done in {t:.1f} s", "{label}: {t:.1f}초 만에 완료",
                                         label=label, t=seconds))

    ctx.progress(0.96, 1, say("saving", "저장 중"))
    main_row = next(r for r in sweep_rows if r["vocab_size"] == cfg.vocab_size)
    library = "sentencepiece" if st.algorithm.startswith("spm-") else "tokenizers"
    import importlib.metadata as md
    sp = st.specials
    meta = {
        "algorithm": st.algorithm,
        "library": f"{library} {md.version(library)}",
        "vocab_size": len(final),
        "settings": {"vocab_size": cfg.vocab_size, "min_frequency": cfg.min_frequency, "normalization": cfg.normalization,
                     "pre_tokenization": cfg.pre_tokenization, "character_coverage": cfg.character_coverage,
                     "byte_fallback": st.algorithm in BYTE_FALLBACK, "byte_level": st.algorithm == "hf-bpe-byte"},
        "special_tokens": {"pad_token": sp.pad, "unk_token": sp.unk, "bos_token": sp.bos, "eos_token": sp.eos,
                           "chat_start": sp.chat_start, "chat_end": sp.chat_end, "extra": list(sp.extra),
                           "ids": {t: final.convert_tokens_to_ids(t) for t in sp.ordered}},
        "chat_template": f"ChatML style: {sp.chat_start}role\\ncontent{sp.chat_end}\\n; stop generation at chat_end or eos",
        "runtime_needs_kiwi": False,
        "corpus": source.describe(),
        "training": {"lines": prep.lines, "characters": prep.chars, "bytes": prep.bytes,
                     "distinct_characters": len(prep.char_counts),
                     "alphabet_at_coverage": len(prep.alphabet(cfg.character_coverage)),
                     "read_seconds": round(prep.seconds, 2), "train_seconds": round(train_seconds, 2),
                     **({"kiwi": prep.kiwi} if prep.kiwi else {})},
        "heldout": {**heldout_desc, **{k: main_row.get(k) for k in HELDOUT_FIGURES}},
        "sweep": sweep_rows if len(sizes) > 1 else [],
        "config": cfg.to_dict(),
        "run": ctx.run_id,
        "load_with": "transformers.AutoTokenizer.from_pretrained(<this folder>)",
    }
    if ws is None:
        out_dir = ctx.run_dir / "tokenizer"
        final.save_pretrained(str(out_dir))
        for size, other in others.items():
            other.save_pretrained(str(out_dir / SWEEP_DIR / str(size)))
        write_meta(out_dir, meta)
        art_id, path = None, out_dir
    else:
        staging = ws.staging_dir("tokenizer", cfg.name)
        final.save_pretrained(str(staging))
        for size, other in others.items():
            other.save_pretrained(str(staging / SWEEP_DIR / str(size)))
        spm_model = workdir / f"spm-{cfg.vocab_size}.model"
        if spm_model.is_file():
            shutil.copy(spm_model, staging / "spm.model")  # the original SentencePiece model, for spm users
        write_meta(staging, meta)
        parents = [source.artifact_id] if source.artifact_id else []
        art_id = ctx.publish(staging, "tokenizer", cfg.name, parents=parents, meta=meta, overwrite=cfg.overwrite)
        path = ws.artifact_dir("tokenizer", cfg.name)
    ctx.progress(1, 1, say(f"saved tokenizer '{cfg.name}' ({len(final):,} pieces)",
                           f"토크나이저 '{cfg.name}' 저장 완료 (어휘 {len(final):,}개)"))
    return {"artifact": art_id, "name": cfg.name, "path": str(path), "algorithm": st.algorithm,
            "vocab_size": len(final), "train_seconds": round(train_seconds, 2), "read_seconds": round(prep.seconds, 2),
            "heldout_texts": len(heldout), "heldout_words": heldout_desc["words"],
            "heldout_fertility": main_row.get("fertility"), "heldout_fertility_se": main_row.get("fertility_se"),
            "heldout_chars_per_token": main_row.get("chars_per_token"),
            "heldout": {k: heldout_desc.get(k) for k in ("kind", "label", "spec", "split", "every", "texts", "words",
                                                          "trained_share", "warnings") if k in heldout_desc},
            "sweep": sweep_rows if len(sizes) > 1 else []}


def _device(cfg) -> str:
    return "cpu"


STAGE = Stage(name="tokenizer", config=TokenizerConfig, run=run, device=_device,
              help="Train a Korean tokenizer (HF BPE/Unigram/WordPiece, SentencePiece BPE/Unigram) on a corpus "
                   "artifact or text files; saves a transformers tokenizer folder with special tokens and a chat template.")
