"""Where tokenizer text comes from: a corpus artifact, plain files or folders, or konlpy's bundled text.

A *source spec* is one string, so the CLI, the saved config and the form all use the same thing:

    my-corpus / 12          a corpus artifact of the workspace (by name or id)
    /path/file.txt          one text per line (.txt, also .gz)
    /path/file.jsonl        one JSON object per line; the "text" field (also .gz)
    /path/file.tsv|.csv     a table with a header; text columns (text, document, sentence1, sentence2, ...)
    /path/file.parquet      a table with a "text" column (a corpus split)
    /path/folder            every supported file below it, in name order
    konlpy:kolaw            the Korean constitution bundled with konlpy (offline, ~18k characters)
    konlpy:kobill           ten National Assembly bills bundled with konlpy (offline, ~47k characters)

Files are decoded as UTF-8; other encodings (CP949/EUC-KR) are detected with charset-normalizer.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from workbench.errors import UserError
from workbench.i18n import Text

TEXT_SUFFIXES = (".txt", ".text")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
TABLE_SUFFIXES = (".tsv", ".csv")
PARQUET_SUFFIXES = (".parquet",)
# Columns read from tables, in this order of preference (KorNLI: sentence1 + sentence2; NSMC: document).
TEXT_COLUMNS = ("text", "document", "sentence", "sentence1", "sentence2", "content", "instruction", "output")
KONLPY = ("kolaw", "kobill")
# The callers' `what` in Korean, as the subject of a sentence.
_WHAT_KO = {"corpus": "말뭉치가", "held-out text": "평가용 글이"}

Progress = Callable[[float, float], None]


def _base_suffix(p: Path) -> str:
    name = p.name.lower()
    return Path(name[:-3]).suffix if name.endswith(".gz") else p.suffix.lower()


def is_supported_file(p: Path) -> bool:
    return _base_suffix(p) in TEXT_SUFFIXES + JSONL_SUFFIXES + TABLE_SUFFIXES + PARQUET_SUFFIXES


@dataclass
class TextSource:
    spec: str
    kind: str                          # "corpus" (artifact), "files", "konlpy"
    label: str
    files: list[Path] = field(default_factory=list)
    folder: Path | None = None         # corpus artifact folder
    artifact_id: int | None = None
    artifact_name: str | None = None

    # -- reading ---------------------------------------------------------------
    def texts(self, split: str = "train", *, limit: int | None = None, unique: bool = False,
              progress: Progress | None = None) -> Iterator[str]:
        """Non-empty texts, streamed. `unique` drops exact repeats (KorNLI repeats every premise 3 times)."""
        seen: set[int] = set()
        n = 0
        for text in self._raw_texts(split, progress):
            if not text or text.isspace():
                continue
            if unique:
                h = hash(text)
                if h in seen:
                    continue
                seen.add(h)
            yield text
            n += 1
            if limit and n >= limit:
                return

    def _raw_texts(self, split: str, progress: Progress | None) -> Iterator[str]:
        if self.kind == "corpus":
            from workbench.artifacts import corpus_size, iter_corpus_texts
            total = corpus_size(self.folder, split)
            if total == 0 and not (self.folder / f"{split}.parquet").is_file():
                raise UserError(f"corpus '{self.label}' has no {split} split ({split}.parquet is missing): "
                                "pick another corpus or build it again in the Corpus tab.",
                                ko=f"말뭉치 '{self.label}'에 {split} 분할이 없습니다 ({split}.parquet 파일이 없음): "
                                   "다른 말뭉치를 고르거나 말뭉치 탭에서 다시 만드세요.")
            for i, t in enumerate(iter_corpus_texts(self.folder, split)):
                if progress and i % 2000 == 0:
                    progress(i, total)
                yield t
            if progress:
                progress(total, total)
            return
        total = float(sum(f.stat().st_size for f in self.files)) or 1.0
        done = 0.0
        for f in self.files:
            yield from _read_file(f, lambda pos: progress(done + pos, total) if progress else None)
            done += f.stat().st_size
        if progress:
            progress(total, total)

    def size_bytes(self) -> int:
        """A rough size of the text in bytes (to choose between in-process and a job)."""
        if self.kind == "corpus":
            import pyarrow.parquet as pq
            total = 0
            for split in ("train",):
                p = self.folder / f"{split}.parquet"
                if p.is_file():
                    md = pq.ParquetFile(p).metadata
                    total += sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups))
            return total
        size = 0
        for f in self.files:
            s = f.stat().st_size
            size += s * 4 if f.name.lower().endswith(".gz") else s  # Korean text compresses ~3-4x
        return size

    def describe(self) -> dict:
        d = {"spec": self.spec, "kind": self.kind, "label": self.label}
        if self.kind == "corpus":
            d.update(artifact_id=self.artifact_id, artifact_name=self.artifact_name, path=str(self.folder))
        else:
            d["files"] = [str(f) for f in self.files]
        return d

    def paths(self) -> set[str]:
        """Resolved file paths (to warn when held-out text is also training text)."""
        if self.kind == "corpus":
            return {str(self.folder.resolve())}
        return {str(f.resolve()) for f in self.files}


def resolve_source(spec: str, ws=None, *, what: str = "corpus") -> TextSource:
    """Turn a source spec into a TextSource, or raise UserError saying which forms are accepted."""
    spec = (spec or "").strip()
    if not spec:
        what_ko = what.ko + "이(가)" if isinstance(what, Text) else _WHAT_KO.get(what, what + "이(가)")
        raise UserError(f"no {what} given: pick a corpus artifact, or give a text file / folder path "
                        "(or konlpy:kolaw / konlpy:kobill for the bundled sample text).",
                        ko=f"{what_ko} 주어지지 않았습니다: 말뭉치 산출물을 고르거나 텍스트 파일·폴더 경로를 "
                           "주세요 (함께 제공되는 예시 글: konlpy:kolaw / konlpy:kobill).")
    if spec.startswith("konlpy:"):
        which = spec.split(":", 1)[1]
        if which not in KONLPY:
            raise UserError(f"unknown bundled text '{spec}': use konlpy:kolaw or konlpy:kobill.",
                            ko=f"알 수 없는 기본 제공 글 '{spec}': konlpy:kolaw 또는 konlpy:kobill을 쓰세요.")
        import importlib.util
        found = importlib.util.find_spec("konlpy")
        if found is None or not found.origin:
            raise UserError("konlpy is not installed, so its bundled text is not available: pip install konlpy.",
                            ko="konlpy가 설치되어 있지 않아 함께 제공되는 글을 쓸 수 없습니다: pip install konlpy.")
        folder = Path(found.origin).parent / "data" / "corpus" / which
        return TextSource(spec, "konlpy", spec, files=sorted(folder.glob("*.txt")))
    p = Path(spec).expanduser()
    if p.exists():
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and is_supported_file(f)
                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
            if not files:
                raise UserError(f"folder '{spec}' holds no text files (.txt, .jsonl, .tsv, .csv, .parquet, "
                                "optionally .gz): point to a folder with text, or to a file.",
                                ko=f"폴더 '{spec}'에 텍스트 파일(.txt, .jsonl, .tsv, .csv, .parquet, .gz 압축 가능)이 "
                                   "없습니다: 글이 있는 폴더나 파일을 가리키세요.")
            if (p / "workbench.json").is_file() and (p / "train.parquet").is_file():
                return TextSource(spec, "corpus", p.name, folder=p.resolve(), artifact_name=p.name)
            return TextSource(spec, "files", p.name, files=files)
        if not is_supported_file(p):
            raise UserError(f"'{spec}' is not a supported text file: use .txt, .jsonl, .tsv, .csv or .parquet "
                            "(optionally gzipped).",
                            ko=f"'{spec}'은(는) 지원하는 텍스트 파일이 아닙니다: .txt, .jsonl, .tsv, .csv 또는 .parquet"
                               "(.gz 압축 가능)을 쓰세요.")
        return TextSource(spec, "files", p.name, files=[p])
    if ws is not None:
        from workbench.artifacts import find
        art = find(ws.store, "corpus", spec, check_kind=True)
        if art is not None:
            if not Path(art.path).is_dir():
                raise UserError(f"corpus artifact '{art.name}' points to {art.path}, which is gone: build it again.",
                                ko=f"말뭉치 산출물 '{art.name}'이(가) 가리키는 {art.path}이(가) 없어졌습니다: "
                                   "다시 만드세요.")
            return TextSource(spec, "corpus", art.name, folder=Path(art.path), artifact_id=art.id,
                              artifact_name=art.name)
    raise UserError(f"'{spec}' is neither an existing file or folder nor a corpus artifact of this workspace: "
                    "check the path, or pick a corpus from the list.",
                    ko=f"'{spec}'은(는) 있는 파일이나 폴더도, 이 작업 공간의 말뭉치 산출물도 아닙니다: "
                       "경로를 확인하거나 목록에서 말뭉치를 고르세요.")


# -- file readers --------------------------------------------------------------------
class _PosReader(io.RawIOBase):
    """Wraps a binary file and reports how far into the *on-disk* file we are (also under gzip)."""

    def __init__(self, raw, report):
        self.raw, self.report, self._n = raw, report, 0

    def readable(self):
        return True

    def readinto(self, b):
        n = self.raw.readinto(b)
        self._n += 1
        if self._n % 8 == 0 and self.report:  # every ~0.5 MB on disk
            self.report(self.raw.tell())
        return n


def _detect_encoding(path: Path) -> str:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as f:
        head = f.read(256_000)
    try:
        head.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError as e:
        if e.start > len(head) - 4:  # a character cut at the end of the sample
            return "utf-8-sig"
    from charset_normalizer import from_bytes
    best = from_bytes(head).best()
    if best is None:
        raise UserError(f"cannot tell the text encoding of '{path}': save it as UTF-8 and try again.",
                        ko=f"'{path}'의 텍스트 인코딩을 알 수 없습니다: UTF-8로 저장해서 다시 시도하세요.")
    return best.encoding


def _open_text(path: Path, report) -> io.TextIOBase:
    enc = _detect_encoding(path)
    raw = open(path, "rb")
    buffered = io.BufferedReader(_PosReader(raw, report), 1 << 16)
    stream = gzip.GzipFile(fileobj=buffered) if path.name.lower().endswith(".gz") else buffered
    return io.TextIOWrapper(stream, encoding=enc, errors="replace", newline=None)


def _read_file(path: Path, report) -> Iterator[str]:
    suffix = _base_suffix(path)
    if suffix in PARQUET_SUFFIXES:
        import pyarrow.parquet as pq
        pf = pq.ParquetFile(path)
        if "text" not in pf.schema_arrow.names:
            cols = ", ".join(pf.schema_arrow.names)
            raise UserError(f"'{path}' has no 'text' column (columns: {cols}).",
                            ko=f"'{path}'에 'text' 열이 없습니다 (있는 열: {cols}).")
        for rb in pf.iter_batches(columns=["text"], batch_size=10_000):
            yield from (t for t in rb.column(0).to_pylist() if t)
        return
    with _open_text(path, report) as f:
        if suffix in TEXT_SUFFIXES or suffix == "":
            for line in f:
                yield line.rstrip("\n")
        elif suffix in JSONL_SUFFIXES:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise UserError(f"'{path}' line {i} is not JSON ({e.msg}): one JSON object per line.",
                                    ko=f"'{path}'의 {i}번째 줄이 JSON이 아닙니다 ({e.msg}): 한 줄에 JSON 객체가 하나씩 "
                                       "있어야 합니다.") from None
                yield _json_text(obj, path, i)
        elif suffix in TABLE_SUFFIXES:
            csv.field_size_limit(sys.maxsize)
            # No quote handling in TSV: Korean reviews contain stray '"' (NSMC has 623 such lines).
            reader = csv.reader(f, delimiter="\t" if suffix == ".tsv" else ",",
                                quoting=csv.QUOTE_NONE if suffix == ".tsv" else csv.QUOTE_MINIMAL)
            header = next(reader, None) or []
            cols = [i for i, h in enumerate(header) if h.strip().lower() in TEXT_COLUMNS]
            if not cols:
                names, found = ", ".join(TEXT_COLUMNS), ", ".join(header[:10])
                raise UserError(f"'{path}' has no text column: name one of {names} in the header (found: {found}).",
                                ko=f"'{path}'에 텍스트 열이 없습니다: 머리글의 열 이름을 {names} 중 하나로 하세요 "
                                   f"(찾은 열: {found}).")
            for row in reader:
                for i in cols:
                    if i < len(row):
                        yield row[i]


def _json_text(obj, path: Path, line: int) -> str:
    if isinstance(obj, str):
        return obj
    if isinstance(obj, dict):
        for k in TEXT_COLUMNS:
            if isinstance(obj.get(k), str):
                return obj[k]
        for v in obj.values():
            if isinstance(v, str):
                return v
    raise UserError(f"'{path}' line {line} has no text field: give each object a \"text\" string.",
                    ko=f"'{path}'의 {line}번째 줄에 텍스트 필드가 없습니다: 객체마다 \"text\" 문자열을 넣으세요.")
