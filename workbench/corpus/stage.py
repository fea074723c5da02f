"""The corpus stage: its config (the recipe), CLI quick flags and run().

    python -m workbench corpus --config recipe.yaml
    python -m workbench corpus --input a.txt b.jsonl folder/ --output out/   (default recipe)
"""
from __future__ import annotations

import argparse
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from workbench.config import StageConfig, param, section
from workbench.errors import UserError
from workbench.i18n import say
from workbench.stages import Stage

from .clean import PII_KINDS
from .sources import HFSource, UNITS

BACKENDS = ("local", "nemo_curator")
SCRIPTS = ("hangul", "latin", "han", "kana", "other")


@dataclass
class CleanConfig(StageConfig):
    markup: bool = param(True, ko="마크업 제거", en="Strip markup",
                         help_ko="HTML/XML 태그와 주석을 지우고 &amp; 같은 엔터티를 글자로 바꿉니다.",
                         help_en="Remove HTML/XML tags and comments; decode entities such as &amp;.")
    nfc: bool = param(True, ko="유니코드 NFC", en="Unicode NFC",
                      help_ko="풀어쓴 자모(ᄒ+ᅡ+ᆫ)를 완성형 음절(한)로 합칩니다.",
                      help_en="Recompose decomposed jamo (ᄒ+ᅡ+ᆫ) into syllables (한).")
    whitespace: bool = param(True, ko="공백·제어 문자 정리", en="Whitespace and control characters",
                             help_ko="제어·보이지 않는 문자를 지우고 연속 공백과 빈 줄을 줄입니다.",
                             help_en="Drop control/invisible characters; collapse runs of spaces and blank lines.")
    repeats: bool = param(True, ko="반복 문자 줄이기", en="Squash repeated characters",
                          help_ko="ㅋㅋㅋㅋㅋ, !!!!! 같은 반복을 최대 반복 수로 줄입니다 (숫자는 그대로).",
                          help_en="Shorten ㅋㅋㅋㅋㅋ, !!!!! to the maximum repeat (digits are kept).")
    max_repeat: int = param(3, ko="최대 반복 수", en="Max repeat", min=1, max=20)
    pii: bool = param(True, ko="개인정보 가리기", en="Mask personal information",
                      help_ko="URL, 이메일, 전화번호, 주민등록번호를 <URL> 같은 표시로 바꿉니다.",
                      help_en="Replace URLs, e-mails, phone numbers and resident registration numbers with <URL> etc.")
    pii_kinds: list[str] = param(list(PII_KINDS), ko="가릴 개인정보", en="PII kinds", choices=list(PII_KINDS))


@dataclass
class FilterConfig(StageConfig):
    length: bool = param(True, ko="길이 필터", en="Length filter")
    min_chars: int = param(10, ko="최소 글자 수", en="Min characters", min=0)
    max_chars: int = param(100_000, ko="최대 글자 수", en="Max characters", min=1)
    min_words: int = param(2, ko="최소 어절 수", en="Min words", min=0,
                           help_ko="어절 = 띄어쓰기로 나눈 단위", help_en="words = space-separated units (eojeol)")
    max_words: int = param(20_000, ko="최대 어절 수", en="Max words", min=1)
    hangul: bool = param(True, ko="한글 비율 필터", en="Hangul ratio filter")
    min_hangul_ratio: float = param(0.5, ko="최소 한글 비율", en="Min Hangul ratio", min=0.0, max=1.0,
                                    help_ko="글자(문자) 중 한글 음절·자모의 비율",
                                    help_en="share of letters that are Hangul syllables or jamo")
    symbols: bool = param(True, ko="기호·숫자 비율 필터", en="Symbol/digit ratio filter")
    max_symbol_ratio: float = param(0.25, ko="최대 기호 비율", en="Max symbol ratio", min=0.0, max=1.0,
                                    help_ko="공백을 뺀 글자 중 기호·문장부호의 비율",
                                    help_en="share of non-space characters that are symbols or punctuation")
    max_digit_ratio: float = param(0.3, ko="최대 숫자 비율", en="Max digit ratio", min=0.0, max=1.0)
    repetition: bool = param(True, ko="반복 줄·n-gram 필터", en="Repeated lines / n-grams filter")
    max_dup_line_ratio: float = param(0.3, ko="최대 중복 줄 비율", en="Max repeated-line ratio", min=0.0, max=1.0)
    max_dup_ngram_ratio: float = param(0.3, ko="최대 중복 n-gram 비율", en="Max repeated n-gram ratio",
                                       min=0.0, max=1.0,
                                       help_ko="어절 n-gram 가운데 앞에서 이미 나온 것의 비율",
                                       help_en="share of word n-grams that repeat an earlier one")
    ngram_size: int = param(3, ko="n-gram 크기 (어절)", en="n-gram size (words)", min=1, max=10)
    script: bool = param(True, ko="문자 체계 혼합 필터", en="Script mix filter")
    allowed_scripts: list[str] = param(["hangul", "latin", "han"], ko="허용 문자 체계", en="Allowed scripts",
                                       choices=list(SCRIPTS),
                                       help_ko="한자(han)는 한국어 글에도 흔합니다.",
                                       help_en="Han (Hanja) is common in Korean text too.")
    max_foreign_ratio: float = param(0.1, ko="최대 다른 문자 비율", en="Max other-script ratio", min=0.0, max=1.0)

    def check(self):
        errs = []
        if self.length and self.min_chars > self.max_chars:
            errs.append(("min_chars", say(f"{self.min_chars} is above max_chars {self.max_chars}: "
                                          "lower min_chars or raise max_chars",
                                          f"{self.min_chars}이(가) max_chars {self.max_chars}보다 큽니다: "
                                          "min_chars를 낮추거나 max_chars를 높이세요")))
        if self.length and self.min_words > self.max_words:
            errs.append(("min_words", say(f"{self.min_words} is above max_words {self.max_words}",
                                          f"{self.min_words}이(가) max_words {self.max_words}보다 큽니다")))
        if self.script and not self.allowed_scripts:
            errs.append(("allowed_scripts", say("choose at least one script (e.g. hangul)",
                                                "문자 체계를 하나 이상 고르세요 (예: hangul)")))
        return errs


@dataclass
class DedupConfig(StageConfig):
    exact: bool = param(True, ko="완전 중복 제거", en="Exact duplicates",
                        help_ko="대소문자·공백·문장부호를 무시하고 같은 글을 하나만 남깁니다.",
                        help_en="Keep one of texts that are equal ignoring case, spaces and punctuation.")
    near: bool = param(True, ko="유사 중복 제거 (MinHash LSH)", en="Near duplicates (MinHash LSH)")
    threshold: float = param(0.8, ko="자카드 임계값", en="Jaccard threshold", min=0.3, max=0.99,
                             help_ko="이 값 이상 겹치는 글을 유사 중복으로 봅니다.",
                             help_en="Texts whose shingle sets overlap at least this much are near duplicates.")
    shingle: int = param(5, ko="싱글 크기 (글자)", en="Shingle size (characters)", min=1, max=20,
                         help_ko="공백을 뺀 글자 n-gram", help_en="character n-grams, spaces removed")
    verify: bool = param(True, ko="후보 쌍의 실제 자카드 확인", en="Check candidates' true Jaccard",
                         help_ko="LSH가 찾은 후보 쌍 중 실제 겹침이 임계값보다 낮은 쌍(오탐)은 중복으로 보지 않습니다.",
                         help_en="Candidate pairs from LSH whose real overlap is under the threshold (false "
                                 "positives) are not treated as duplicates.")
    num_perm: int = param(128, ko="순열 수", en="Permutations", min=16, max=1024, advanced=True)
    seed: int = param(1, ko="MinHash 시드", en="MinHash seed", advanced=True)


@dataclass
class HFConfig(StageConfig):
    name: str = param("", ko="데이터셋 이름 또는 폴더", en="Dataset name or folder",
                      help_ko="예: user/dataset, 또는 save_to_disk로 저장한 폴더", help_en="e.g. user/dataset, or a save_to_disk folder")
    config: str = param("", ko="구성 (config)", en="Config")
    split: str = param("train", ko="분할 (split)", en="Split")
    text_column: str = param("", ko="텍스트 열", en="Text column", help_ko="비우면 자동", help_en="empty: guess")
    max_rows: int = param(10_000, ko="앞에서 읽을 행 수", en="First N rows", min=1)


@dataclass
class CorpusConfig(StageConfig):
    inputs: list[str] = param(["bundled:konlpy"], ko="입력", en="Inputs",
                              help_ko="파일·폴더 경로, bundled:konlpy (헌법·의안), bundled:everyday (팀이 쓴 일상 글), "
                                      "artifact:<말뭉치 이름>",
                              help_en="file/folder paths, bundled:konlpy (constitution, bills), bundled:everyday "
                                      "(everyday text the team wrote), artifact:<corpus name>", multiline=True)
    text_field: str = param("", ko="텍스트 필드/열", en="Text field/column",
                            help_ko="JSONL 필드나 CSV/TSV/Parquet 열 이름 (비우면 자동)",
                            help_en="JSONL field or CSV/TSV/Parquet column (empty: guess)")
    unit: str = param("auto", ko="문서 단위", en="Document unit", choices=list(UNITS),
                      help_ko="auto: 빈 줄이 있는 텍스트는 문단, 없으면 줄마다 한 문서",
                      help_en="auto: text with blank lines -> paragraphs, else one document per line")
    hf: HFConfig = section(HFConfig, ko="Hugging Face 데이터셋", en="Hugging Face dataset")
    clean: CleanConfig = section(CleanConfig, ko="정제", en="Cleaning")
    filters: FilterConfig = section(FilterConfig, ko="필터", en="Filters")
    dedup: DedupConfig = section(DedupConfig, ko="중복 제거", en="Deduplication")
    validation_fraction: float = param(0.01, ko="검증용 비율", en="Validation fraction", min=0.0, max=0.5,
                                       help_ko="문서 id 해시로 나눠 실행마다 같은 문서가 검증용이 됩니다.",
                                       help_en="split by a hash of the document id: the same documents every run")
    name: str = param("", ko="말뭉치 이름", en="Corpus name", help_ko="비우면 자동으로 짓습니다",
                      help_en="empty: an automatic name")
    save: bool = param(True, ko="끝나면 산출물로 저장", en="Save as artifact when done")
    overwrite: bool = param(False, ko="같은 이름 덮어쓰기", en="Overwrite same name")
    output_dir: str = param("", ko="추가 출력 폴더", en="Also write to folder", advanced=True,
                            help_ko="말뭉치 파일을 이 폴더에도 씁니다 (CLI --output)",
                            help_en="also write the corpus files here (CLI --output)")
    backend: Literal["local", "nemo_curator"] = param("local", ko="실행 백엔드", en="Backend", choices=list(BACKENDS),
                                                      help_ko="nemo_curator: 설치되어 있을 때 NeMo Curator 파이프라인(Ray)으로 필터 실행",
                                                      help_en="nemo_curator: run the filters through NeMo Curator's pipeline (Ray) when installed")
    num_proc: int = param(2, ko="작업 프로세스 수", en="Worker processes", min=1, max=256)
    batch_size: int = param(4000, ko="배치 크기 (문서)", en="Batch size (documents)", min=10, max=1_000_000,
                            advanced=True)
    max_docs: int = param(0, ko="최대 문서 수 (0=전체)", en="Max documents (0 = all)", min=0, advanced=True)
    examples: int = param(8, ko="단계별 예시 수", en="Examples per step", min=0, max=100, advanced=True)
    clusters: int = param(20, ko="보여줄 유사 중복 묶음 수", en="Near-duplicate clusters to show", min=0, max=500,
                          advanced=True)
    seed: int = param(0, ko="시드", en="Seed", advanced=True)

    def check(self):
        errs = []  # the filters section's own check() runs through validate(), with "filters." prefixed
        if not [i for i in self.inputs if str(i).strip()] and not self.hf.name.strip():
            errs.append(("inputs", say("no input: give a file or folder, bundled:konlpy, or a Hugging Face dataset name",
                                       "입력이 없습니다: 파일이나 폴더, bundled:konlpy, 또는 Hugging Face 데이터셋 이름을 "
                                       "주세요")))
        if self.name:
            from state.names import NameError_, check_name
            try:
                check_name(self.name, "corpus name")
            except NameError_ as e:
                errs.append(("name", e.text))
        if self.backend == "nemo_curator":
            import importlib.util
            if importlib.util.find_spec("nemo_curator") is None:
                errs.append(("backend", say("nemo_curator is not installed here: pip install nemo-curator "
                                            "(see requirements-gpu.txt), or choose backend local",
                                            "여기에는 nemo_curator가 설치되어 있지 않습니다: pip install nemo-curator "
                                            "(requirements-gpu.txt 참고), 또는 백엔드로 local을 고르세요")))
        return errs

    def hf_source(self) -> HFSource | None:
        h = self.hf
        if not h.name.strip():
            return None
        return HFSource(h.name.strip(), h.config.strip(), h.split.strip() or "train", h.text_column.strip(), h.max_rows)


def default_name(cfg: CorpusConfig) -> str:
    from state.names import slug
    first = next((str(i) for i in cfg.inputs if str(i).strip()), "") or (f"hf-{cfg.hf.name}" if cfg.hf.name else "")
    base = first.split(":", 1)[1] if first.startswith(("bundled:", "artifact:")) else Path(first).name
    base = base.split(".")[0] if "." in base and not first.startswith("artifact:") else base
    return slug(f"{base or 'corpus'}-{time.strftime('%m%d-%H%M%S')}", "corpus")[:80]


def _link_or_copy(src: Path, dst: Path) -> None:
    """Copy a corpus folder. Parquet splits are hard-linked when on the same disk (they are never rewritten in
    place, so sharing them costs nothing); small files (report, meta) are copied, so rewriting one copy
    never changes the other."""
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.is_file():
            target = dst / f.name
            if target.exists() or target.is_symlink():
                target.unlink()
            if f.suffix == ".parquet":
                try:
                    os.link(f, target)
                    continue
                except OSError:
                    pass
            shutil.copy2(f, target)


def save_output(ws, out_dir: Path, name: str, *, run_id: str | None, parents=(), meta: dict,
                overwrite: bool = False) -> int:
    """Publish a finished corpus folder (a run's output) as a corpus artifact. Raises ArtifactExists."""
    from state.names import check_name
    name = check_name(name, "corpus name")
    staging = ws.staging_dir("corpus", name)
    try:
        _link_or_copy(out_dir, staging)
        from workbench.artifacts import write_meta
        write_meta(staging, {**meta, "name": name})
        return ws.publish(staging, "corpus", name, run=run_id, parents=parents, meta={**meta, "name": name},
                          overwrite=overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def save_run_output(ws, run_id: str, name: str, overwrite: bool = False) -> int:
    """Save a finished run's corpus as an artifact (the tab's Save button)."""
    import json
    out = ws.run_dir(run_id) / "output"
    rep = out / "report.json"
    if not rep.is_file():
        raise UserError(f"run {run_id} has no finished corpus to save (it failed, was stopped, or is still running)",
                        ko=f"실행 {run_id}에는 저장할 완성된 말뭉치가 없습니다 (실패했거나, 중지되었거나, 아직 실행 중입니다)")
    report = json.loads(rep.read_text(encoding="utf-8"))
    return save_output(ws, out, name, run_id=run_id, parents=report.get("parents", []),
                       meta=artifact_meta(report), overwrite=overwrite)


def artifact_meta(report: dict) -> dict:
    """What the store and workbench.json keep about a corpus: recipe, counts per step, sources."""
    return {"kind": "corpus", "recipe": report["recipe"], "backend": report["backend"],
            "docs_in": report["docs_in"], "docs_out": report["docs_out"],
            "splits": report["splits"], "steps": report["steps"],
            "sources": report["sources"]["files"], "refused": report["sources"]["refused"],
            "run": report.get("run_id")}


def run(cfg: CorpusConfig, ctx) -> dict:
    from .pipeline import run_recipe

    name = cfg.name or default_name(cfg)
    if cfg.save and ctx.ws is not None and not cfg.overwrite and \
            ctx.ws.store.get_artifact(kind="corpus", name=name) is not None:
        raise UserError(f"a corpus named '{name}' already exists: choose another name, or allow overwriting",
                        ko=f"'{name}' 이름의 말뭉치가 이미 있습니다: 다른 이름을 고르거나 덮어쓰기를 허용하세요")
    out_dir = ctx.run_dir / "output"
    if out_dir.exists():
        shutil.rmtree(out_dir)
    report = run_recipe(cfg, ctx, out_dir)
    summary = {k: report[k] for k in ("backend", "docs_in", "docs_out", "splits", "removed", "changed", "steps")}
    # every file that was not read, and why (the reason's English: a Text is a str whose value is the English)
    summary["refused"] = [{"path": r.get("path") or r["source"], "reason": r["reason"]}
                          for r in report["sources"]["refused"]]
    summary["docs_per_second"] = report["docs_per_second"]
    if report.get("stopped"):
        summary["stopped"] = True
        return summary
    summary["output"] = str(out_dir)
    if cfg.save and ctx.ws is not None:
        art = save_output(ctx.ws, out_dir, name, run_id=ctx.run_id, parents=report.get("parents", []),
                          meta=artifact_meta(report), overwrite=cfg.overwrite)
        summary["artifact"] = art
        summary["name"] = name
        summary["path"] = ctx.ws.store.get_artifact(art).path
    if cfg.output_dir:
        dest = Path(cfg.output_dir).expanduser()
        _link_or_copy(out_dir, dest)
        from workbench.artifacts import write_meta
        write_meta(dest, {**artifact_meta(report), "name": name})
        summary["output_dir"] = str(dest.resolve())
    return summary


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", nargs="+", action="extend", metavar="PATH",
                   help="files/folders to curate with the default recipe (also bundled:konlpy, artifact:NAME)")
    p.add_argument("--output", metavar="DIR", help="also write the corpus files (train/validation parquet) here")


def args_to_updates(args: argparse.Namespace) -> dict:
    out: dict = {}
    if args.input:
        out["inputs"] = list(args.input)
    if args.output:
        out["output_dir"] = args.output
    return out


STAGE = Stage(name="corpus", config=CorpusConfig, run=run, add_args=add_args, args_to_updates=args_to_updates,
              help="Load Korean text (files, folders, zip/gz, Hugging Face datasets, the bundled konlpy corpus), "
                   "clean, filter and deduplicate it with a recipe, and save a corpus artifact. Ends with one JSON line.")
