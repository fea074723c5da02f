"""On-disk formats that stages hand to each other (the contract between tabs).

corpus     <dir>/train.parquet [+ validation.parquet]: columns id, text, source (strings);
           <dir>/workbench.json: recipe, counts, lineage notes.
tokenizer  a Hugging Face fast-tokenizer folder (AutoTokenizer.from_pretrained(dir) loads it with
           no project code) + workbench.json (algorithm, settings, corpus).
model      a Hugging Face model folder: config.json, model.safetensors, generation_config.json, the
           tokenizer files, README.md (model card) + workbench.json (arch config, data lineage, metrics).

Every artifact folder carries `workbench.json`; the store row holds the same meta.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from .errors import UserError
from .i18n import Text, say

META_FILE = "workbench.json"
SPLITS = ("train", "validation")

# Korean names of artifact kinds (and of the `what` words callers of resolve() use), for messages
KIND_KO = {"corpus": "말뭉치", "tokenizer": "토크나이저", "arch": "아키텍처", "architecture": "아키텍처",
           "model": "모델", "adapter": "어댑터", "quantized": "양자화 모델", "dataset": "데이터셋",
           "artifact": "산출물"}


def kind_text(kind: str) -> Text:
    """An artifact kind (or a Text already) as a Text: the kind in English, its Korean name in Korean."""
    return kind if isinstance(kind, Text) else Text(kind, KIND_KO.get(kind, kind))


def _kinds_text(kinds: tuple[str, ...]) -> Text:
    return Text(" or ".join(kinds), " 또는 ".join(kind_text(k).ko for k in kinds))


# The Optimize stage's torch int8 and ONNX models: a format of our own (transformers cannot load it), named by this file
QUANT_FILE = "workbench_quant.json"


def quant_info(folder: str | Path) -> dict | None:
    """What QUANT_FILE of a model folder says (method, ...), or None for a folder without one."""
    p = Path(folder) / QUANT_FILE
    if not p.is_file():
        return None
    try:
        info = json.loads(p.read_text(encoding="utf-8"))
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def refuse_quantized(folder: str | Path, ref: str, use: Text) -> None:
    """Training (and quantizing again) needs full-precision weights that load with transformers: a model the Optimize
    stage quantized into its own format has none, and loading it fails with an OSError about missing weight files.
    Say what it is and which model to pick instead (the one it was made from)."""
    info = quant_info(folder)
    if info is None:
        return
    source = (read_meta(folder).get("optimized_from") or {}).get("name")
    raise UserError(say("'{r}' is a model the Optimize stage quantized ({m}) to answer faster: it cannot be {u}. "
                        "Pick the model it was made from{s}",
                        "'{r}' 은(는) 최적화 단계가 더 빨리 답하도록 양자화한 모델 ({m}) 이라서 {u}. 그 모델을 만든 원래 "
                        "모델을 고르세요{s}", r=ref, m=info.get("method", "?"), u=use, s=f" ('{source}')" if source else ""))


def write_meta(folder: str | Path, meta: dict) -> None:
    Path(folder, META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str), encoding="utf-8")


def read_meta(folder: str | Path) -> dict:
    p = Path(folder, META_FILE)
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}


# -- corpus ------------------------------------------------------------------------
def corpus_split_path(folder: str | Path, split: str = "train") -> Path:
    return Path(folder) / f"{split}.parquet"


def corpus_splits(folder: str | Path) -> dict[str, Path]:
    return {s: corpus_split_path(folder, s) for s in SPLITS if corpus_split_path(folder, s).is_file()}


def write_corpus_split(folder: str | Path, split: str, rows: Iterator[dict] | list[dict], batch: int = 20_000) -> int:
    """Stream rows {id, text, source} into <folder>/<split>.parquet. Returns the row count.

    Items may also be pyarrow Tables/RecordBatches with those columns (written as they are: no
    per-row Python work, for large corpora)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("id", pa.string()), ("text", pa.string()), ("source", pa.string())])
    n = 0
    with pq.ParquetWriter(corpus_split_path(folder, split), schema, compression="zstd") as w:
        buf: list[dict] = []
        for r in rows:
            if isinstance(r, (pa.Table, pa.RecordBatch)):
                t = pa.Table.from_batches([r]) if isinstance(r, pa.RecordBatch) else r
                w.write_table(t.select(["id", "text", "source"]).cast(schema))
                n += t.num_rows
                continue
            buf.append(r)
            if len(buf) >= batch:
                w.write_table(pa.Table.from_pylist(buf, schema=schema))
                n += len(buf)
                buf = []
        if buf or n == 0:
            w.write_table(pa.Table.from_pylist(buf, schema=schema))
            n += len(buf)
    return n


def iter_corpus(folder: str | Path, split: str = "train", *, columns=("id", "text", "source"),
                batch_size: int = 10_000, limit: int | None = None) -> Iterator[dict]:
    """Rows of a corpus split, streamed (never the whole file in memory)."""
    import pyarrow.parquet as pq

    path = corpus_split_path(folder, split)
    if not path.is_file():
        raise FileNotFoundError(say("corpus '{f}' has no {s} split ({n} is missing)",
                                    "말뭉치 '{f}' 에 {s} 분할이 없습니다 ({n} 파일이 없습니다)", f=folder, s=split,
                                    n=path.name))
    n = 0
    for rb in pq.ParquetFile(path).iter_batches(batch_size=batch_size, columns=list(columns)):
        for row in rb.to_pylist():
            yield row
            n += 1
            if limit is not None and n >= limit:
                return


def iter_corpus_texts(folder: str | Path, split: str = "train", limit: int | None = None) -> Iterator[str]:
    for row in iter_corpus(folder, split, columns=("text",), limit=limit):
        yield row["text"]


def corpus_size(folder: str | Path, split: str = "train") -> int:
    import pyarrow.parquet as pq

    path = corpus_split_path(folder, split)
    return pq.ParquetFile(path).metadata.num_rows if path.is_file() else 0


# -- tokenizer / model ----------------------------------------------------------------
def load_tokenizer(folder: str | Path):
    """A tokenizer artifact as a transformers fast tokenizer (exactly what a user would load)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


# -- architecture -------------------------------------------------------------------
ARCH_FILE = "arch.json"


def save_arch(folder: str | Path, arch_dict: dict) -> None:
    """An 'arch' artifact: the ArchConfig fields (arch.json) that the pretrain stage trains."""
    Path(folder, ARCH_FILE).write_text(json.dumps(arch_dict, ensure_ascii=False, indent=2), encoding="utf-8")


def load_arch(folder: str | Path) -> dict:
    p = Path(folder, ARCH_FILE)
    if not p.is_file():
        raise FileNotFoundError(say("'{f}' holds no {a}: pick an architecture artifact",
                                    "'{f}' 에 {a} 이(가) 없습니다. 아키텍처 산출물을 고르세요", f=folder, a=ARCH_FILE))
    return json.loads(p.read_text(encoding="utf-8"))


# -- references in configs ------------------------------------------------------------
def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def output_name(ws, kind: str, name: str, *, overwrite: bool = False, run_id: str | None = None,
                stage: str | None = None) -> str:
    """Check the name an output artifact will get and return it (NFC, validated). Refused with a UserError: an
    artifact of that kind and name that is not this run's own (unless overwrite), and, with `stage`, a queued or
    running run of that stage that will make the same name (a submit-time check: Stage.precheck)."""
    from state import check_name

    from .errors import UserError
    name = check_name(name, f"{kind} name")
    if ws is None:
        return name
    existing = ws.store.get_artifact(kind=kind, name=name)
    if existing is not None and not overwrite and (run_id is None or existing.run != run_id):
        raise UserError(say("{a} {kind} named '{name}' already exists: choose another output_name, or tick overwrite",
                            "'{name}' 이라는 {kind}이(가) 이미 있습니다. 다른 이름을 쓰거나 '같은 이름 덮어쓰기'를 "
                            "켜세요", a=_article(kind), kind=kind_text(kind), name=name))
    for run in ws.store.list_runs(stage=stage, status=("queued", "running"), limit=1000) if stage else []:
        if run.id != run_id and (run.config or {}).get("output_name") == name and not overwrite:
            raise UserError(say("run {id} ({status}) is already making {a} {kind} named '{name}': choose another "
                                "output_name, or wait for it to end",
                                "실행 {id} ({status}) 이(가) 이미 '{name}' {kind}을(를) 만드는 중입니다. 다른 이름을 "
                                "쓰거나 그 실행이 끝나기를 기다리세요", id=run.id, status=run.status,
                                a=_article(kind), kind=kind_text(kind), name=name))
    return name


def find(store, kinds: str | tuple[str, ...], ref: str, *, check_kind: bool = False):
    """The artifact a config value names: its id ("12" or "#12", any kind) or its name among `kinds`; None if
    there is none. check_kind: an id of another kind raises a UserError saying what it is (else the caller checks)."""
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    key = ref.strip().lstrip("#")
    art = store.get_artifact(int(key)) if key.isdigit() else None
    for k in kinds:
        if art is not None:
            break
        art = store.get_artifact(kind=k, name=ref.strip())
    if check_kind and art is not None and art.kind not in kinds:
        from .errors import UserError
        raise UserError(say("artifact #{id} '{name}' is a {kind}, not a {kinds}",
                            "산출물 #{id} '{name}' 은(는) {kinds}이(가) 아니라 {kind}입니다", id=art.id,
                            name=art.name, kind=kind_text(art.kind), kinds=_kinds_text(kinds)))
    return art


def resolve(ws, kind: str | tuple[str, ...], ref: str | int | None, what: str = "artifact"):
    """Find an artifact from a config value: its id ("12" or "#12"), its name, or a folder path.

    Returns (path, artifact or None). Raises UserError naming what to pick.
    """
    from .errors import UserError

    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    ref = "" if ref is None else str(ref).strip()
    names, what = _kinds_text(kinds), kind_text(what)
    if not ref:
        raise UserError(say("no {what} chosen: pick a {kinds} artifact (by name or id) or give a folder path",
                            "{what} 항목이 비어 있습니다. {kinds} 산출물을 이름이나 번호로 고르거나 폴더 경로를 "
                            "쓰세요", what=what, kinds=names))
    if ws is not None:
        art = find(ws.store, kinds, ref, check_kind=True)
        if art is not None:
            if not Path(art.path).exists():
                raise UserError(say("the files of {kind} '{name}' are missing ({path}): re-create it",
                                    "{kind} '{name}' 의 파일이 없습니다 ({path}). 다시 만드세요",
                                    kind=kind_text(art.kind), name=art.name, path=art.path))
            return Path(art.path), art
    p = Path(ref).expanduser()
    if p.exists():
        return p.resolve(), None
    raise UserError(say("{what} '{ref}' is neither an artifact of kind {kinds} in this workspace nor an existing path: "
                        "pick one from the list, or check the name",
                        "{what} '{ref}' 은(는) 이 작업 공간의 {kinds} 산출물도 아니고 있는 경로도 아닙니다. 목록에서 "
                        "고르거나 이름을 확인하세요", what=what, ref=ref, kinds=names))
