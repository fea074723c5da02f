"""Readers for every kind of input, streamed one document at a time.

An input spec is a string:
    bundled:konlpy            konlpy's constitution + 10 National Assembly bills (package data, no Java)
    bundled:kolaw | bundled:kobill
    bundled:everyday          a small everyday-Korean text the team wrote (places, food, health, science, daily life)
    artifact:<name or id>     a corpus artifact of this workspace (both splits)
    <path>                    a file or a folder: .txt .md .jsonl .json .csv .tsv .parquet .html .htm,
                              and .zip / .gz of these (each member decoded on its own)
plus, separately, a Hugging Face dataset (HFSource), streamed with `datasets`.

A file that cannot be read (binary, unknown encoding, missing column) is *refused*: the
report keeps its name and the reason, and the rest of the batch still loads.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

from workbench.errors import UserError
from workbench.i18n import Text, say

from ..bundled import EVERYDAY_TEXT, konlpy_corpus_dir
from .decode import SNIFF_BYTES, Refused, decode_bytes, open_text

TEXT_EXT = {".txt", ".text", ".md", ""}
JSONL_EXT = {".jsonl", ".ndjson", ".json"}
TABLE_EXT = {".csv", ".tsv"}
HTML_EXT = {".html", ".htm", ".xhtml"}
SUPPORTED = TEXT_EXT | JSONL_EXT | TABLE_EXT | HTML_EXT | {".parquet", ".zip", ".gz"}
# Field/column names that usually hold the text, most likely first.
TEXT_FIELDS = ("text", "document", "content", "contents", "body", "sentence", "review", "article", "raw")
UNITS = ("auto", "document", "paragraph", "line")
BUNDLED = {"konlpy": ("kolaw", "kobill"), "kolaw": ("kolaw",), "kobill": ("kobill",)}  # konlpy's corpus folders
TEAM_TEXTS = {"everyday": EVERYDAY_TEXT}  # texts that ship with the workbench itself

Doc = tuple[str, str, str]  # (id, text, source)


@dataclass
class HFSource:
    name: str = ""          # hub id ("user/dataset") or a local folder (save_to_disk or data files)
    config: str = ""
    split: str = "train"
    text_column: str = ""   # "" = guess
    max_rows: int = 10_000  # stream only the first N rows


@dataclass
class LoadReport:
    """What was read: per source the encoding and document count; refused files with reasons."""
    files: list[dict] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)   # {source, path, reason (a Text), code}
    warnings: list[str] = field(default_factory=list)   # Texts
    parents: list[int] = field(default_factory=list)   # corpus artifacts used as inputs (lineage)
    bytes_total: int = 0
    bytes_done: int = 0
    _current: Callable[[], int] | None = None

    def position(self) -> int:
        cur = 0
        if self._current is not None:
            try:
                cur = self._current()
            except (OSError, ValueError):
                cur = 0
        return min(self.bytes_total, self.bytes_done + cur)

    def refuse(self, source: str, reason: str, code: str = "unreadable", path: str | None = None) -> None:
        """`source` is how the report names the file, `path` where it is (the path given, a zip member, hf:...)."""
        self.refused.append({"source": source, "path": path or source, "reason": reason, "code": code})

    def to_dict(self) -> dict:
        return {"files": self.files, "refused": self.refused, "warnings": self.warnings[:50]}


# -- locating inputs ----------------------------------------------------------------------
def _ext(name: str) -> str:
    return PurePosixPath(name.lower()).suffix


@dataclass
class _Entry:
    label: str            # how the source is named in ids, reports and the artifact's meta
    path: Path | None     # a file on disk (None for artifacts)
    size: int
    artifact: object = None


def expand(specs: list[str], ws=None) -> tuple[list[_Entry], list[dict]]:
    """Turn input specs into a list of files (folders walked). Bad specs raise UserError before any work."""
    entries: list[_Entry] = []
    skipped: list[dict] = []
    for spec in specs:
        spec = str(spec).strip()
        if not spec:
            continue
        if spec.startswith("bundled:"):
            key = spec.split(":", 1)[1].strip() or "konlpy"
            if key not in BUNDLED and key not in TEAM_TEXTS:
                choices = ", ".join("bundled:" + k for k in (*BUNDLED, *TEAM_TEXTS))
                raise UserError(f"input '{spec}': unknown bundled corpus; choose one of {choices}",
                                ko=f"입력 '{spec}': 알 수 없는 기본 제공 말뭉치입니다. 다음 중 하나를 고르세요: {choices}")
            if key in TEAM_TEXTS:
                path = TEAM_TEXTS[key]
                entries.append(_Entry(f"team/{path.name}", path, path.stat().st_size))
                continue
            base = konlpy_corpus_dir()
            if base is None:
                raise UserError("input 'bundled:konlpy' needs the konlpy package: pip install konlpy",
                                ko="입력 'bundled:konlpy'에는 konlpy 패키지가 필요합니다: pip install konlpy")
            for sub in BUNDLED[key]:
                for p in sorted((base / sub).glob("*.txt")):
                    entries.append(_Entry(f"konlpy/{sub}/{p.name}", p, p.stat().st_size))
            continue
        if spec.startswith("artifact:"):
            ref = spec.split(":", 1)[1].strip()
            if ws is None:
                raise UserError(f"input '{spec}' needs a workspace (--workspace) holding that corpus artifact",
                                ko=f"입력 '{spec}'에는 그 말뭉치 산출물이 있는 작업 공간(--workspace)이 필요합니다")
            art = ws.store.get_artifact(int(ref)) if ref.isdigit() else ws.store.get_artifact(kind="corpus", name=ref)
            if art is None or art.kind != "corpus":
                names = ", ".join(a.name for a in ws.store.list_artifacts("corpus")[:10])
                raise UserError(f"input '{spec}': no corpus artifact '{ref}' in this workspace "
                                f"(corpora: {names or 'none yet'})",
                                ko=f"입력 '{spec}': 이 작업 공간에 말뭉치 산출물 '{ref}'이(가) 없습니다 "
                                   f"(있는 말뭉치: {names or '아직 없음'})")
            from workbench.artifacts import corpus_splits
            size = sum(p.stat().st_size for p in corpus_splits(art.path).values())
            entries.append(_Entry(f"artifact:{art.name}", None, size, artifact=art))
            continue
        p = Path(spec).expanduser()
        if not p.exists():
            raise UserError(f"input '{spec}' does not exist: give a file or folder path, 'bundled:konlpy', "
                            "or 'artifact:<corpus name>'",
                            ko=f"입력 '{spec}'이(가) 없습니다: 파일이나 폴더 경로, 'bundled:konlpy', "
                               "또는 'artifact:<말뭉치 이름>'을 주세요")
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and not any(
                part.startswith(".") for part in f.relative_to(p).parts))
            for f in files:
                rel = f.relative_to(p).as_posix()
                if _ext(f.name) in SUPPORTED:
                    entries.append(_Entry(f"{p.name}/{rel}", f, f.stat().st_size))
                else:
                    skipped.append({"source": f"{p.name}/{rel}", "path": str(f),
                                    "reason": _unsupported(_ext(f.name)), "code": "unsupported"})
        else:
            entries.append(_Entry(p.name, p, p.stat().st_size))
    return entries, skipped


def _unsupported(ext: str) -> Text:
    return say(f"unsupported file type '{ext}'", f"지원하지 않는 파일 형식 '{ext}'입니다")


# "field" / "column" in Korean: the word, as a subject, and with -(으)로
_WHAT_KO = {"field": ("필드", "필드가", "필드로"), "column": ("열", "열이", "열로")}


# -- splitting text into documents ---------------------------------------------------------
def _split_stream(lines: Iterator[str], unit: str) -> Iterator[str]:
    if unit == "line":
        for ln in lines:
            ln = ln.strip()
            if ln:
                yield ln
    elif unit == "paragraph":
        buf: list[str] = []
        for ln in lines:
            if ln.strip():
                buf.append(ln.rstrip("\n"))
            elif buf:
                yield "\n".join(buf).strip()
                buf = []
        if buf:
            yield "\n".join(buf).strip()
    else:  # document
        text = "".join(lines).strip()
        if text:
            yield text


def _auto_unit(head: bytes) -> str:
    """Files with blank lines are paragraphs; files without are one document per line."""
    return "paragraph" if (b"\n\n" in head or b"\r\n\r\n" in head or b"\n\r\n" in head) else "line"


class _TextExtractor(HTMLParser):
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "pre",
             "blockquote", "table", "ul", "ol", "dd", "dt", "header", "footer", "title"}
    SKIP = {"script", "style", "noscript", "template", "svg", "head"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML page: scripts/styles dropped, block elements become paragraph breaks."""
    ex = _TextExtractor()
    ex.feed(markup)
    ex.close()
    text = "".join(ex.parts)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _pick_field(names: list[str], wanted: str, what: str, source: str) -> str:
    if wanted:
        if wanted in names:
            return wanted
        listed = ", ".join(map(str, names[:20]))
        ko, ko_subject, ko_as = _WHAT_KO.get(what, (what, f"{what}이(가)", f"{what}(으)로"))
        raise Refused(say(f"it has no {what} '{wanted}'; its {what}s are: {listed}. Choose one of them as the text {what}",
                          f"'{wanted}' {ko_subject} 없습니다. 있는 {ko}: {listed}. 이 가운데 하나를 텍스트 {ko_as} "
                          "고르세요"), "no_field")
    lower = {str(n).lower(): n for n in names}
    for cand in TEXT_FIELDS:
        if cand in lower:
            return lower[cand]
    return ""


# -- readers: each yields texts (before splitting into units where that applies) -----------------
class _Reader:
    def __init__(self, opts_text_field: str, unit: str, report: LoadReport):
        self.text_field, self.unit, self.report = opts_text_field, unit, report

    def read(self, label: str, name: str, opener: Callable[[], io.BufferedIOBase], size: int) -> Iterator[str]:
        """Texts of one file; `name` decides the format (its extension); raises Refused."""
        ext = _ext(name)
        if ext == ".gz":
            inner = name[:-3]
            if _ext(inner) in (".zip", ".gz"):
                raise Refused(say("nested archives (.zip or .gz inside .gz) are not read: unpack it first",
                                  "압축 안의 압축(.gz 안의 .zip이나 .gz)은 읽지 않습니다: 먼저 압축을 푸세요"), "nested")
            yield from self.read(label, inner, lambda: gzip.GzipFile(fileobj=opener()), size)
            return
        if ext == ".parquet":
            yield from self._parquet(label, opener)
        elif ext in JSONL_EXT:
            yield from self._jsonl(label, opener, ext)
        elif ext in TABLE_EXT:
            yield from self._table(label, opener, ext)
        elif ext in HTML_EXT:
            yield from self._html(label, opener)
        else:
            yield from self._text(label, opener)

    def _note(self, label: str, encoding: str, unit: str | None = None, field_: str | None = None) -> dict:
        rec = {"source": label, "encoding": encoding, "docs": 0}
        if unit:
            rec["unit"] = unit
        if field_:
            rec["field"] = field_
        self.report.files.append(rec)
        return rec

    def _text(self, label, opener):
        raw = opener()
        text_io, sn = open_text(raw)
        unit = self.unit
        if unit == "auto":
            unit = _auto_unit(text_io.buffer.peek(SNIFF_BYTES)[:SNIFF_BYTES])
        rec = self._note(label, sn.label, unit)
        try:
            for doc in _split_stream(text_io, unit):
                rec["docs"] += 1
                yield doc
        except UnicodeDecodeError as e:
            self._mid_file_error(label, rec, sn.label, e)

    def _mid_file_error(self, label, rec, enc, e):
        msg = say(f"{label}: stopped after {rec['docs']} documents: bytes that are not {enc} "
                  f"({e.reason}); the file mixes encodings. The documents before that point are kept.",
                  f"{label}: 문서 {rec['docs']}개를 읽은 뒤 멈췄습니다: {enc}이(가) 아닌 바이트가 있습니다 "
                  f"({e.reason}). 파일에 인코딩이 섞여 있습니다. 그 앞까지 읽은 문서는 남깁니다.")
        self.report.warnings.append(msg)
        rec["error"] = msg

    def _html(self, label, opener):
        data = opener().read()
        text, sn = decode_bytes(data)
        rec = self._note(label, sn.label, "document" if self.unit == "auto" else self.unit)
        for doc in _split_stream(iter(html_to_text(text).splitlines(keepends=True)), rec["unit"]):
            rec["docs"] += 1
            yield doc

    def _jsonl(self, label, opener, ext):
        raw = opener()
        text_io, sn = open_text(raw)
        head = text_io.buffer.peek(64)[:64].lstrip()
        if ext == ".json" and head[:1] == b"[":
            try:
                rows = json.loads(text_io.read())
            except json.JSONDecodeError as e:
                raise Refused(say(f"it is not valid JSON (line {e.lineno}: {e.msg})",
                                  f"올바른 JSON이 아닙니다 ({e.lineno}번째 줄: {e.msg})"), "not_json") from None
            lines = rows if isinstance(rows, list) else [rows]
        else:
            lines = text_io
        rec = None
        key = None
        bad = missing = 0
        try:
            for i, ln in enumerate(lines, 1):
                if isinstance(ln, str):
                    if not ln.strip():
                        continue
                    try:
                        obj = json.loads(ln)
                    except json.JSONDecodeError:
                        bad += 1
                        if bad >= 20 and rec is not None and rec["docs"] == 0:
                            raise Refused(say("its lines are not JSON objects: is it really JSON Lines?",
                                              "줄들이 JSON 객체가 아닙니다: 정말 JSON Lines 파일인가요?"),
                                          "not_json") from None
                        continue
                else:
                    obj = ln
                if isinstance(obj, str):
                    obj = {"text": obj}
                if not isinstance(obj, dict):
                    bad += 1
                    continue
                if rec is None:
                    key = _pick_field(list(obj), self.text_field, "field", label)
                    if not key:
                        key = next((k for k, v in obj.items() if isinstance(v, str)), "")
                    if not key:
                        listed = ", ".join(list(obj)[:20])
                        raise Refused(say(f"no text field found; its fields are: {listed}. Choose the text field",
                                          f"텍스트 필드를 찾지 못했습니다. 있는 필드: {listed}. 텍스트 필드를 고르세요"),
                                      "no_field")
                    rec = self._note(label, sn.label, field_=key)
                v = obj.get(key)
                if not isinstance(v, str):
                    missing += 1
                    continue
                rec["docs"] += 1
                yield v
        except UnicodeDecodeError as e:
            if rec is None:
                rec = self._note(label, sn.label)
            self._mid_file_error(label, rec, sn.label, e)
        if rec is None:
            self._note(label, sn.label)
        if bad:
            self.report.warnings.append(say(f"{label}: skipped {bad} lines that are not JSON objects",
                                            f"{label}: JSON 객체가 아닌 줄 {bad}개를 건너뛰었습니다"))
        if missing:
            self.report.warnings.append(say(f"{label}: skipped {missing} rows without a text in field '{key}'",
                                            f"{label}: '{key}' 필드에 텍스트가 없는 행 {missing}개를 건너뛰었습니다"))

    def _table(self, label, opener, ext):
        raw = opener()
        text_io, sn = open_text(raw)
        csv.field_size_limit(1 << 30)
        if ext == ".tsv":  # TSV corpora (NSMC) use quotes inside text: no quote handling
            reader = csv.reader(text_io, delimiter="\t", quoting=csv.QUOTE_NONE)
        else:
            reader = csv.reader(text_io)
        try:
            header = next(reader, None)
            if header is None:
                self._note(label, sn.label)
                return
            col = _pick_field(header, self.text_field, "column", label)
            buffered: list[list[str]] = []
            if not col:  # the column with the longest texts in the first rows
                for row in reader:
                    buffered.append(row)
                    if len(buffered) >= 200:
                        break
                if not buffered:
                    self._note(label, sn.label)
                    return
                avg = [sum(len(r[i]) for r in buffered if i < len(r)) for i in range(len(header))]
                col = header[max(range(len(header)), key=avg.__getitem__)]
            idx = header.index(col)
            rec = self._note(label, sn.label, field_=col)
            short = 0
            for rows in (buffered, reader):
                for row in rows:
                    if idx >= len(row):
                        short += 1
                        continue
                    rec["docs"] += 1
                    yield row[idx]
            if short:
                self.report.warnings.append(say(f"{label}: skipped {short} rows with fewer columns than the header",
                                                f"{label}: 열이 머리글보다 적은 행 {short}개를 건너뛰었습니다"))
        except UnicodeDecodeError as e:
            rec = self.report.files[-1] if self.report.files and self.report.files[-1]["source"] == label \
                else self._note(label, sn.label)
            self._mid_file_error(label, rec, sn.label, e)
        except csv.Error as e:
            raise Refused(say(f"it is not a valid {ext[1:].upper()} file ({e})",
                              f"올바른 {ext[1:].upper()} 파일이 아닙니다 ({e})"), "unreadable") from None

    def _parquet(self, label, opener):
        import pyarrow as pa
        import pyarrow.parquet as pq
        f = opener()
        if not f.seekable():
            f = io.BytesIO(f.read())
        try:
            pf = pq.ParquetFile(f)
        except (pa.ArrowInvalid, OSError) as e:
            raise Refused(say(f"it is not a readable Parquet file ({e})",
                              f"읽을 수 있는 Parquet 파일이 아닙니다 ({e})")) from None
        names = pf.schema_arrow.names
        col = _pick_field(names, self.text_field, "column", label)
        if not col:
            col = next((n for n in names if pa.types.is_string(pf.schema_arrow.field(n).type)
                        or pa.types.is_large_string(pf.schema_arrow.field(n).type)), "")
        if not col:
            listed = ", ".join(names[:20])
            raise Refused(say(f"no text column found; its columns are: {listed}",
                              f"텍스트 열을 찾지 못했습니다. 있는 열: {listed}"), "no_field")
        rec = self._note(label, "parquet", field_=col)
        for rb in pf.iter_batches(batch_size=10_000, columns=[col]):
            for v in rb.column(0).to_pylist():
                if isinstance(v, str):
                    rec["docs"] += 1
                    yield v


def _split_units(texts: Iterator[str], unit: str, name: str) -> Iterator[str]:
    """Rows of structured files are documents; the explicit paragraph/line units split them further."""
    if unit in ("paragraph", "line") and _ext(name) not in TEXT_EXT | HTML_EXT:
        for t in texts:
            yield from _split_stream(iter(t.splitlines(keepends=True)), unit)
    else:
        yield from texts


def iter_documents(specs: list[str], *, text_field: str = "", unit: str = "auto", hf: HFSource | None = None,
                   ws=None, report: LoadReport | None = None, limit: int = 0) -> Iterator[Doc]:
    """Every document of every input, streamed, as (id, text, source). Refused files go to the report."""
    report = report if report is not None else LoadReport()
    if unit not in UNITS:
        raise UserError(f"unit '{unit}' is not one of {', '.join(UNITS)}",
                        ko=f"문서 단위 '{unit}'은(는) 다음 중 하나여야 합니다: {', '.join(UNITS)}")
    entries, skipped = expand(specs, ws)
    report.refused.extend(skipped)
    report.bytes_total = sum(e.size for e in entries) + (1 if hf and hf.name else 0)
    reader = _Reader(text_field, unit, report)
    n = 0

    def emit(label: str, texts: Iterator[str]) -> Iterator[Doc]:
        nonlocal n
        k = 0
        for t in texts:
            k += 1
            n += 1
            yield f"{label}#{k}", t, label
            if limit and n >= limit:
                return

    for e in entries:
        if limit and n >= limit:
            break
        if e.artifact is not None:
            yield from _artifact_docs(e, report, limit and limit - n)
            n = sum(f["docs"] for f in report.files)
            report.bytes_done += e.size
            continue
        if _ext(e.label) == ".zip":
            yield from _zip_docs(e, reader, emit, report)
            report.bytes_done += e.size
            continue
        if e.size == 0:
            report.refuse(e.label, _EMPTY, "empty", path=str(e.path))
            continue
        raw = open(e.path, "rb", buffering=SNIFF_BYTES)
        report._current = raw.tell
        try:
            yield from emit(e.label, _split_units(reader.read(e.label, e.path.name, lambda: raw, e.size), unit, e.path.name))
        except Refused as err:
            report.refuse(e.label, err.text, err.code, path=str(e.path))
        except (OSError, EOFError, zipfile.BadZipFile) as err:
            report.refuse(e.label, _cannot_read(err), "unreadable", path=str(e.path))
        finally:
            report._current = None
            raw.close()
        report.bytes_done += e.size
        if not limit or n < limit:
            rec = next((f for f in reversed(report.files) if f["source"] == e.label), None)
            if rec is not None and rec["docs"] == 0 and not rec.get("error"):
                report.warnings.append(say(f"{e.label}: no text found in it (empty file?)",
                                           f"{e.label}: 텍스트를 찾지 못했습니다 (빈 파일인가요?)"))
    if hf and hf.name and (not limit or n < limit):
        try:
            yield from emit(f"hf:{hf.name}", _hf_texts(hf, report, limit and limit - n))
        except Refused as err:
            report.refuse(f"hf:{hf.name}", err.text, err.code)
        report.bytes_done += 1


_EMPTY = say("it is empty (0 bytes)", "빈 파일입니다 (0바이트)")


def _cannot_read(err: BaseException) -> Text:
    return say(f"it cannot be read ({err})", f"읽을 수 없습니다 ({err})")


def _zip_docs(e: _Entry, reader: _Reader, emit, report: LoadReport) -> Iterator[Doc]:
    try:
        zf = zipfile.ZipFile(e.path)
    except (zipfile.BadZipFile, OSError) as err:
        report.refuse(e.label, say(f"it is not a readable zip archive ({err})",
                                   f"읽을 수 있는 zip 압축 파일이 아닙니다 ({err})"), "unreadable", path=str(e.path))
        return
    with zf:
        done = 0
        for info in zf.infolist():
            if info.is_dir() or info.filename.startswith("__MACOSX/") or PurePosixPath(info.filename).name.startswith("."):
                continue
            label = f"{e.label}/{info.filename}"
            where = f"{e.path}/{info.filename}"
            ext = _ext(info.filename)
            if ext == ".zip":
                report.refuse(label, say("nested zip archives are not read: unpack it first",
                                         "zip 안의 zip은 읽지 않습니다: 먼저 압축을 푸세요"), "nested", path=where)
                continue
            if ext not in SUPPORTED:
                report.refuse(label, _unsupported(ext), "unsupported", path=where)
                continue
            if info.flag_bits & 0x1:
                report.refuse(label, say("it is encrypted (password-protected zip)",
                                         "암호가 걸려 있습니다 (암호로 보호된 zip)"), "encrypted", path=where)
                continue
            if info.file_size == 0:
                report.refuse(label, _EMPTY, "empty", path=where)
                continue
            try:
                yield from emit(label, _split_units(reader.read(label, info.filename, lambda i=info: zf.open(i),
                                                                info.file_size), reader.unit, info.filename))
            except Refused as err:
                report.refuse(label, err.text, err.code, path=where)
            except (OSError, EOFError, zipfile.BadZipFile, RuntimeError) as err:
                report.refuse(label, _cannot_read(err), "unreadable", path=where)
            done += info.compress_size
            report._current = (lambda d=done: d)
        report._current = None


def _artifact_docs(e: _Entry, report: LoadReport, limit: int) -> Iterator[Doc]:
    from workbench.artifacts import corpus_splits, iter_corpus
    art = e.artifact
    report.parents.append(art.id)
    rec = {"source": e.label, "encoding": "parquet", "docs": 0}
    report.files.append(rec)
    for split in corpus_splits(art.path):
        for row in iter_corpus(art.path, split):
            rec["docs"] += 1
            yield row["id"], row["text"], row.get("source") or e.label
            if limit and rec["docs"] >= limit:
                return


# -- Hugging Face datasets -------------------------------------------------------------------
def _hf_texts(hf: HFSource, report: LoadReport, limit: int) -> Iterator[str]:
    """The first rows of a dataset through the real `datasets` code: hub name, data folder or save_to_disk."""
    try:
        import datasets
    except ImportError:
        raise Refused(say("the 'datasets' package is not installed: pip install datasets",
                          "'datasets' 패키지가 설치되어 있지 않습니다: pip install datasets"), "hf_error") from None
    p = Path(hf.name).expanduser()
    try:
        if p.is_dir() and ((p / "state.json").exists() or (p / "dataset_dict.json").exists()):
            ds = datasets.load_from_disk(str(p))
            if isinstance(ds, datasets.DatasetDict):
                if hf.split not in ds:
                    listed = ", ".join(ds)
                    raise Refused(say(f"it has no split '{hf.split}'; its splits are: {listed}",
                                      f"분할(split) '{hf.split}'이(가) 없습니다. 있는 분할: {listed}"), "no_field")
                ds = ds[hf.split]
            rows = ds.to_iterable_dataset()
            columns = list(ds.column_names)
        else:
            rows = datasets.load_dataset(str(p) if p.is_dir() else hf.name, hf.config or None, split=hf.split,
                                         streaming=True)
            columns = list(rows.column_names or []) if getattr(rows, "column_names", None) else []
    except Refused:
        raise
    except Exception as e:  # noqa: BLE001 - every loading failure becomes one clear message
        raise Refused(*_hf_message(hf, e)) from None
    col = hf.text_column
    if col and columns and col not in columns:
        listed = ", ".join(columns)
        raise Refused(say(f"it has no column '{col}'; its columns are: {listed}",
                          f"'{col}' 열이 없습니다. 있는 열: {listed}"), "no_field")
    rec = {"source": f"hf:{hf.name}", "encoding": "datasets", "docs": 0}
    report.files.append(rec)
    cap = min(hf.max_rows or 10**12, limit or 10**12)
    try:
        for row in rows:
            if not col:
                col = _pick_field(list(row), "", "column", hf.name) or next(
                    (k for k, v in row.items() if isinstance(v, str)), "")
                if not col:
                    listed = ", ".join(row)
                    raise Refused(say(f"no text column found; its columns are: {listed}",
                                      f"텍스트 열을 찾지 못했습니다. 있는 열: {listed}"), "no_field")
                rec["field"] = col
            v = row.get(col)
            if isinstance(v, str):
                rec["docs"] += 1
                yield v
            if rec["docs"] >= cap:
                break
    except Refused:
        raise
    except Exception as e:  # noqa: BLE001
        raise Refused(*_hf_message(hf, e)) from None


def _hf_message(hf: HFSource, e: Exception) -> tuple[Text, str]:
    text = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:400]
    offline = os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True") or \
        os.environ.get("HF_DATASETS_OFFLINE") in ("1", "true", "True") or \
        any(w in text for w in ("Connection", "offline", "Offline", "resolve", "Max retries", "NameResolution"))
    if offline:
        return (say(f"could not load '{hf.name}' from the Hugging Face Hub: this machine is offline ({text}). "
                    "On a connected machine run datasets.load_dataset(...).save_to_disk(FOLDER), copy the folder "
                    "here and give its path as the dataset name.",
                    f"Hugging Face Hub에서 '{hf.name}'을(를) 불러오지 못했습니다: 이 컴퓨터는 인터넷에 연결되어 있지 "
                    f"않습니다 ({text}). 인터넷이 되는 컴퓨터에서 datasets.load_dataset(...).save_to_disk(FOLDER)를 "
                    "실행하고, 그 폴더를 이 컴퓨터로 복사한 뒤 그 경로를 데이터셋 이름으로 입력하세요."), "hf_offline")
    return (say(f"could not load '{hf.name}' (config '{hf.config or '-'}', split '{hf.split}'): {text}",
                f"'{hf.name}'을(를) 불러오지 못했습니다 (구성 '{hf.config or '-'}', 분할 '{hf.split}'): {text}"),
            "hf_error")

