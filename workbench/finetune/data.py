"""Task data: reading files (TSV, CSV, JSONL, JSON, parquet), a folder of split files, or a Hugging Face
dataset; mapping columns (text, text_pair, label / instruction, response, messages); label names; train /
validation / test splits (fractions with a seed, or given split files; the test split is never trained on);
and turning rows into token ids (classification inputs; chat turns with the loss on the answer tokens only).

Every problem a person can fix (an empty or binary file, a column that does not exist, a label column with
one class, labels that are neither integers nor names) is a bilingual UserError naming what exists."""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..i18n import say

BUNDLED = Path(__file__).resolve().parent / "data"
BUNDLED_FILES = {"classification": BUNDLED / "sentiment_ko.tsv", "sft": BUNDLED / "instructions_ko.jsonl"}
BUNDLED_LABEL_NAMES = {"classification": ["부정", "긍정"]}
FORMATS = {".tsv": "tsv", ".txt": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".json": "json", ".parquet": "parquet",
           ".pq": "parquet"}
SPLIT_WORDS = {"train": ("train", "training"), "validation": ("validation", "valid", "val", "dev"),
               "test": ("test", "eval")}
TEXT_COLUMNS = ["text", "document", "sentence", "sentence1", "premise", "review", "content", "input_text", "input"]
PAIR_COLUMNS = ["text_pair", "sentence2", "hypothesis", "text_b"]
LABEL_COLUMNS = ["label", "labels", "gold_label", "target", "class", "category"]
PROMPT_COLUMNS = ["instruction", "prompt", "question", "query", "Q", "input"]
RESPONSE_COLUMNS = ["output", "response", "answer", "completion", "chosen", "A"]
MESSAGES_COLUMNS = ["messages", "conversations", "conversation"]


# -- reading ---------------------------------------------------------------------------------------------------
def _refuse_file(path: Path, en: str, ko: str):
    return UserError(say("data file {p}: {en}", "데이터 파일 {p}: {ko}", p=str(path), en=en, ko=ko))


def read_file(path: str | Path, *, limit: int | None = None):
    """One data file as a pandas DataFrame (text columns kept as strings; TSV read with no quote handling, as
    NSMC needs). Refuses an empty, binary or unreadable file with a message naming it."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise UserError(say("data file {p} does not exist", "데이터 파일 {p} 이(가) 없습니다", p=str(path)))
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise _refuse_file(path, f"the extension {path.suffix or '(none)'} is not one of {', '.join(FORMATS)}",
                           f"확장자 {path.suffix or '(없음)'} 은(는) 읽을 수 있는 형식({', '.join(FORMATS)})이 아닙니다")
    if path.stat().st_size == 0:
        raise _refuse_file(path, "the file is empty", "파일이 비어 있습니다")
    with path.open("rb") as f:
        head = f.read(8192)
    if fmt == "parquet":
        if not head.startswith(b"PAR1"):
            raise _refuse_file(path, "this is not a parquet file (no PAR1 header)", "parquet 파일이 아닙니다 (PAR1 머리말이 없음)")
    else:
        if b"\x00" in head:
            raise _refuse_file(path, "the file is binary (it holds NUL bytes), not text: give a UTF-8 text file",
                               "텍스트가 아닌 바이너리 파일입니다 (NUL 바이트가 있음). UTF-8 텍스트 파일을 주세요")
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as e:
            if e.start < len(head) - 4:  # not just a character cut at the 8 KB boundary
                raise _refuse_file(path, "the file is not UTF-8 text: save it as UTF-8",
                                   "UTF-8 텍스트가 아닙니다. UTF-8 로 저장하세요") from None
    try:
        if fmt == "tsv":
            df = pd.read_csv(path, sep="\t", quoting=3, dtype=str, keep_default_na=False, nrows=limit,
                             encoding="utf-8-sig")
        elif fmt == "csv":
            df = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=limit, encoding="utf-8-sig")
        elif fmt == "jsonl":
            rows = []
            with path.open(encoding="utf-8-sig") as f:
                for i, line in enumerate(f):
                    if line.strip():
                        rows.append(json.loads(line))
                    if limit and len(rows) >= limit:
                        break
            if rows and not all(isinstance(r, dict) for r in rows):
                raise ValueError("each line must be a JSON object")
            df = pd.DataFrame(rows)
        elif fmt == "json":
            data = json.loads(path.read_text(encoding="utf-8-sig"))
            if isinstance(data, dict):  # {"data": [...]} or {"train": [...]}: the first list of objects
                lists = [v for v in data.values() if isinstance(v, list)]
                data = lists[0] if lists else [data]
            if not isinstance(data, list) or (data and not all(isinstance(r, dict) for r in data)):
                raise ValueError("expected a list of JSON objects")
            df = pd.DataFrame(data[:limit] if limit else data)
        else:
            df = pd.read_parquet(path)
            if limit:
                df = df.head(limit)
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - any parse failure is the same user problem
        raise _refuse_file(path, f"it cannot be read as {fmt} ({type(e).__name__}: {str(e)[:200]})",
                           f"{fmt} 형식으로 읽을 수 없습니다 ({type(e).__name__}: {str(e)[:200]})") from None
    if len(df) == 0 or len(df.columns) == 0:
        raise _refuse_file(path, "the file holds no rows", "파일에 행이 없습니다")
    df.columns = [str(c) for c in df.columns]
    return df


def _split_of(name: str) -> str | None:
    stem = name.lower().split(".")[0]
    for split, words in SPLIT_WORDS.items():
        if any(stem == w or stem.startswith(w + "_") or stem.endswith("_" + w) or stem.endswith("-" + w)
               for w in words) or any(f".{w}." in f".{name.lower()}" for w in words):
            return split
    return None


def folder_splits(folder: Path) -> dict[str, Path]:
    """train / validation / test files of a folder, by their names (train.tsv, dev.jsonl, xnli.test.ko.tsv ...)."""
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in FORMATS and p.name != "workbench.json":
            s = _split_of(p.name)
            if s and s not in out:
                out[s] = p
    return out


def looks_like_path(ref: str) -> bool:
    return ref.startswith(("/", "./", "../", "~")) or Path(ref).suffix.lower() in FORMATS or "\\" in ref


def is_hub_dataset(ref: str, ws=None) -> bool:
    """Whether a data reference names a Hugging Face dataset (not the bundled sample, a path or a dataset artifact)."""
    ref = (ref or "").strip()
    if not ref:
        return False
    if ref.startswith("hf:"):
        return True
    if Path(ref).expanduser().exists() or looks_like_path(ref):
        return False
    if ws is not None:
        from ..artifacts import find
        art = find(ws.store, ("dataset",), ref)
        if art is not None and art.kind == "dataset":
            return False
    return True


def load_hf_dataset(name: str, config: str = "", *, revision: str = ""):
    """A Hugging Face dataset as {split: DataFrame} (the real `datasets.load_dataset`; needs the Hub or its cache)."""
    try:
        import datasets
        kw = {"revision": revision} if revision else {}
        dd = datasets.load_dataset(name, config or None, **kw)
    except Exception as e:  # noqa: BLE001 - offline, unknown name, a config needed: all the same user problem
        raise UserError(say("the Hugging Face dataset '{n}' cannot be loaded ({e}): check the name (and data_config), "
                            "the network, or give a local file",
                            "Hugging Face 데이터셋 '{n}' 을(를) 불러올 수 없습니다 ({e}). 이름(과 data_config), 네트워크를 "
                            "확인하거나 로컬 파일을 주세요", n=name, e=f"{type(e).__name__}: {str(e)[:300]}")) from None
    out = {}
    for split, ds in dd.items():
        s = _split_of(split) or split
        df = ds.to_pandas()
        feats = getattr(ds, "features", {}) or {}
        for col, feat in feats.items():  # ClassLabel columns: keep their names
            names = getattr(feat, "names", None)
            if names and col in df.columns:
                df.attrs.setdefault("label_names", {})[col] = list(names)
        out[s] = df
    return out


@dataclass
class Source:
    """Where the rows come from, read into DataFrames per split."""
    frames: dict[str, Any]                       # split -> DataFrame (train always present)
    description: str                             # for the card
    files: dict[str, str] = field(default_factory=dict)
    bundled: bool = False
    artifact: Any = None                         # a data artifact, for lineage


def read_source(data: str, *, task: str, data_config: str = "", validation_data: str = "", test_data: str = "",
                ws=None, limit: int | None = None) -> Source:
    """Read the config's data reference: "" (the bundled team-written sample), a file, a folder of split files,
    a data artifact, or a Hugging Face dataset name (optionally "hf:name")."""
    ref = (data or "").strip()
    frames: dict[str, Any] = {}
    files: dict[str, str] = {}
    artifact = None
    bundled = False
    if not ref:
        p = BUNDLED_FILES[task]
        frames["train"] = read_file(p, limit=limit)
        files["train"] = str(p)
        desc = f"bundled team-written sample ({p.name})"
        bundled = True
    else:
        path = None
        if ws is not None and not ref.startswith("hf:"):
            from ..artifacts import find
            art = find(ws.store, ("dataset",), ref)
            if art is not None and art.kind == "dataset":
                artifact, path = art, Path(art.path)
        if path is None and not ref.startswith("hf:"):
            p = Path(ref).expanduser()
            if p.exists():
                path = p
            elif looks_like_path(ref):
                raise UserError(say("data '{r}' does not exist: give a TSV/CSV/JSONL/JSON/parquet file, a folder of "
                                    "train/validation/test files, or a Hugging Face dataset name",
                                    "데이터 '{r}' 이(가) 없습니다. TSV/CSV/JSONL/JSON/parquet 파일, train/validation/test "
                                    "파일이 있는 폴더, 또는 Hugging Face 데이터셋 이름을 주세요", r=ref))
        if path is not None and path.is_dir():
            found = folder_splits(path)
            if "train" not in found:
                listed = ", ".join(p.name for p in sorted(path.iterdir())[:20]) or "(empty)"
                raise UserError(say("folder {p} holds no train file (train.tsv, train.jsonl, ...); it holds: {l}",
                                    "폴더 {p} 에 학습 파일 (train.tsv, train.jsonl 등) 이 없습니다. 있는 것: {l}",
                                    p=str(path), l=listed))
            for s, f in found.items():
                frames[s] = read_file(f, limit=limit)
                files[s] = str(f)
            desc = f"folder {path}"
        elif path is not None:
            frames["train"] = read_file(path, limit=limit)
            files["train"] = str(path)
            desc = f"file {path.name}"
        else:
            name = ref[3:] if ref.startswith("hf:") else ref
            frames = load_hf_dataset(name, data_config)
            if limit:
                frames = {k: v.head(limit) for k, v in frames.items()}
            if "train" not in frames:
                raise UserError(say("the Hugging Face dataset '{n}' has no train split (it has {s})",
                                    "Hugging Face 데이터셋 '{n}' 에 train 분할이 없습니다 (있는 분할: {s})",
                                    n=name, s=", ".join(frames)))
            frames = {k: v for k, v in frames.items() if k in ("train", "validation", "test")}
            files = {k: f"hf:{name}" + (f"/{data_config}" if data_config else "") + f"[{k}]" for k in frames}
            desc = f"Hugging Face dataset {name}" + (f" ({data_config})" if data_config else "")
    for split, ref2 in (("validation", validation_data), ("test", test_data)):
        if ref2 and ref2.strip():
            frames[split] = read_file(Path(ref2.strip()).expanduser(), limit=limit)
            files[split] = ref2.strip()
    return Source(frames=frames, description=desc, files=files, bundled=bundled, artifact=artifact)


# -- columns -----------------------------------------------------------------------------------------------
def _pick(columns: list[str], wanted: str, candidates: list[str], what: tuple[str, str], *, required: bool = True,
          field_name: str = "") -> str | None:
    if wanted and wanted != "auto":
        if wanted in columns:
            return wanted
        lower = {c.lower(): c for c in columns}
        if wanted.lower() in lower:
            return lower[wanted.lower()]
        raise UserError(say("{f}: the data has no column '{w}'; its columns are: {c}",
                            "{f}: 데이터에 '{w}' 열이 없습니다. 있는 열: {c}", f=field_name, w=wanted,
                            c=", ".join(columns)))
    if wanted == "":
        return None
    lower = {c.lower(): c for c in columns}
    for cand in candidates:
        if cand.lower() in lower:
            return lower[cand.lower()]
    if required:
        raise UserError(say("{f}: no {w} column found automatically among the data's columns ({c}): set {f} to one "
                            "of them",
                            "{f}: 데이터의 열 ({c}) 중에서 {wk} 열을 자동으로 찾지 못했습니다. {f} 을(를) 그중 하나로 "
                            "정하세요", f=field_name, w=what[0], wk=what[1], c=", ".join(columns)))
    return None


@dataclass
class Columns:
    text: str | None = None
    text_pair: str | None = None
    label: str | None = None
    prompt: str | None = None
    response: str | None = None
    messages: str | None = None
    context: str | None = None       # an Alpaca-style "input" that goes with the instruction

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v}


def map_columns(df, cfg) -> Columns:
    cols = list(df.columns)
    if cfg.task == "classification":
        text = _pick(cols, cfg.text_column, TEXT_COLUMNS, ("text", "텍스트"), field_name="text_column")
        pair = _pick([c for c in cols if c != text], cfg.text_pair_column, PAIR_COLUMNS, ("second text", "두 번째 텍스트"),
                     required=False, field_name="text_pair_column")
        label = _pick([c for c in cols if c not in (text, pair)], cfg.label_column, LABEL_COLUMNS,
                      ("label", "라벨"), field_name="label_column")
        if cfg.label_column not in ("", "auto") and cfg.label_column in (text, pair):
            raise UserError(say("label_column '{l}' is also the text column", "label_column '{l}' 이(가) 텍스트 열과 같습니다",
                                l=cfg.label_column))
        return Columns(text=text, text_pair=pair, label=label)
    messages = None
    if cfg.messages_column != "":
        messages = _pick(cols, cfg.messages_column, MESSAGES_COLUMNS, ("messages", "메시지"), required=False,
                         field_name="messages_column")
    if messages:
        return Columns(messages=messages)
    prompt = _pick(cols, cfg.prompt_column, PROMPT_COLUMNS, ("instruction", "지시문"), field_name="prompt_column")
    response = _pick([c for c in cols if c != prompt], cfg.response_column, RESPONSE_COLUMNS, ("response", "응답"),
                     field_name="response_column")
    context = "input" if ("input" in cols and prompt != "input" and response != "input") else None
    return Columns(prompt=prompt, response=response, context=context)


# -- labels ---------------------------------------------------------------------------------------------------
INT_RE = re.compile(r"^[+-]?\d+$")
INTEGRAL_FLOAT_RE = re.compile(r"^[+-]?\d+\.0+$")


@dataclass
class Labels:
    names: list[str]                 # id -> name
    raw_to_id: dict[str, int]        # the column's value (as a string) -> id
    integer: bool

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.names))

    @property
    def label2id(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    def to_dict(self) -> dict:
        return {"names": self.names, "raw_to_id": self.raw_to_id, "integer": self.integer}


def _raw(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, float):
        if math.isnan(v):
            return None
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False)
    s = str(v).strip()
    if INTEGRAL_FLOAT_RE.match(s):  # "1.0" as a CSV written from floats: the class id 1
        s = s.split(".")[0]
    return s or None


def infer_labels(values, column: str, label_names: list[str] | None = None, class_names: list[str] | None = None) -> Labels:
    """Label ids from a column's values: whole numbers (ids, named by label_names when given) or names (sorted,
    or in label_names' order). class_names: names a Hugging Face ClassLabel column carries."""
    raw = [_raw(v) for v in values]
    present = [r for r in raw if r is not None]
    if not present:
        raise UserError(say("label_column '{c}' is empty in every row", "label_column '{c}' 이(가) 모든 행에서 비어 있습니다",
                            c=column))
    distinct = sorted(set(present))
    bad = [v for v in distinct if v.startswith(("[", "{"))]
    numeric_nonint = []
    for v in distinct:
        if INT_RE.match(v):
            continue
        try:
            float(v)
            numeric_nonint.append(v)
        except ValueError:
            pass
    if bad or numeric_nonint:
        ex = (bad or numeric_nonint)[:3]
        raise UserError(say("label_column '{c}' holds values that are neither class ids (whole numbers) nor class "
                            "names: {e}. Classification needs a class per row; a score column (e.g. KorSTS similarity) "
                            "is not a class: pick another column or bin the scores first",
                            "label_column '{c}' 의 값 {e} 은(는) 클래스 번호(정수)도 클래스 이름도 아닙니다. 분류에는 행마다 "
                            "클래스가 필요합니다 (KorSTS 유사도 같은 점수는 클래스가 아닙니다): 다른 열을 고르거나 점수를 "
                            "먼저 구간으로 나누세요", c=column, e=", ".join(ex)))
    n_rows = len(present)
    if len(distinct) > max(50, n_rows // 2):
        raise UserError(say("label_column '{c}' has {k:,} different values in {n:,} rows: it looks like text, not "
                            "classes; pick the column that holds the class",
                            "label_column '{c}' 에 {n:,}행 중 서로 다른 값이 {k:,}개 있습니다. 클래스가 아니라 텍스트로 "
                            "보입니다: 클래스가 든 열을 고르세요", c=column, k=len(distinct), n=n_rows))
    if len(distinct) < 2:
        raise UserError(say("label_column '{c}' has only one class ('{v}') in the training data: a classifier needs at "
                            "least two; check the column or the data split",
                            "label_column '{c}' 의 학습 데이터에 클래스가 하나 ('{v}') 뿐입니다. 분류기에는 최소 두 개가 "
                            "필요합니다: 열이나 데이터 분할을 확인하세요", c=column, v=distinct[0]))
    integer = all(INT_RE.match(v) for v in distinct)
    names_given = [str(n) for n in (label_names or [])]
    if integer:
        ids = sorted(int(v) for v in distinct)
        raw_to_id = {str(v): i for i, v in enumerate(ids)}
        source_names = names_given or list(class_names or [])
        if source_names and ids[0] >= 0 and ids[-1] < len(source_names):
            # names index the raw ids (0 -> first name), as NSMC's 0/1 -> negative/positive
            if ids == list(range(len(source_names))):
                names = source_names
            else:
                names = [source_names[v] for v in ids]
        elif names_given:
            raise UserError(say("label_names has {k} names but the labels are {v}: give one name per class id "
                                "0..{m}", "label_names 에 이름이 {k}개인데 라벨은 {v} 입니다. 클래스 번호 0..{m} 마다 이름을 "
                                "하나씩 주세요", k=len(names_given), v=", ".join(map(str, ids[:10])), m=ids[-1]))
        else:
            names = [str(v) for v in ids]
        return Labels(names=names, raw_to_id=raw_to_id, integer=True)
    if names_given:
        unknown = [v for v in distinct if v not in names_given]
        if unknown:
            raise UserError(say("label_column '{c}' has classes that label_names lacks: {u} (label_names: {n})",
                                "label_column '{c}' 에 label_names 에 없는 클래스가 있습니다: {u} (label_names: {n})",
                                c=column, u=", ".join(unknown[:5]), n=", ".join(names_given)))
        names = names_given
    else:
        names = distinct
    return Labels(names=names, raw_to_id={n: i for i, n in enumerate(names)}, integer=False)


# -- splitting --------------------------------------------------------------------------------------------------
@dataclass
class Splits:
    train: Any
    validation: Any
    test: Any
    how: dict                         # split -> "file" / "fraction 0.1 (seed 42)" / ...

    def sizes(self) -> dict:
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}


def _carve(df, fraction: float, seed: int, stratify_col: str | None, of_rows: int):
    """Hold out `fraction` of `of_rows` (all the rows read) from df, stratified by the label when it can be."""
    from sklearn.model_selection import train_test_split
    n = len(df)
    k = max(1, int(round(of_rows * fraction)))
    if k >= n:
        raise UserError(say("the data has {n} rows, too few to hold out {f:.0%}: give more rows or lower the "
                            "fractions", "데이터가 {n}행으로 {f:.0%} 를 떼어 두기에 너무 적습니다. 행을 늘리거나 비율을 "
                            "줄이세요", n=n, f=fraction))
    strat = None
    if stratify_col is not None:
        counts = df[stratify_col].value_counts()
        if len(counts) > 1 and counts.min() >= 2 and k >= len(counts) and n - k >= len(counts):
            strat = df[stratify_col]
    rest, held = train_test_split(df, test_size=k, random_state=seed, stratify=strat)
    return rest, held


def make_splits(source: Source, *, val_fraction: float, test_fraction: float, seed: int,
                stratify: str | None = None) -> Splits:
    import pandas as pd
    train = source.frames["train"]
    how = {"train": source.files.get("train", "train")}
    val = source.frames.get("validation")
    test = source.frames.get("test")
    n_rows = len(train)
    for name, frame, frac in (("test", test, test_fraction), ("validation", val, val_fraction)):
        if frame is not None:
            how[name] = source.files.get(name, name)
            continue
        if frac <= 0:
            how[name] = "none"
            continue
        train, held = _carve(train, frac, seed, stratify, n_rows)
        how[name] = f"{frac:g} of the rows (seed {seed})"
        if name == "test":
            test = held
        else:
            val = held
    empty = pd.DataFrame(columns=train.columns)
    return Splits(train=train.reset_index(drop=True),
                  validation=(val if val is not None else empty).reset_index(drop=True),
                  test=(test if test is not None else empty).reset_index(drop=True), how=how)


# -- rows -> examples ----------------------------------------------------------------------------------------
def _text(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v)


def classification_rows(df, cols: Columns, labels: Labels) -> tuple[list[dict], int]:
    """[{text, text_pair?, label}] with a known label and non-empty text; and how many rows were dropped."""
    out, dropped = [], 0
    texts = df[cols.text].tolist()
    pairs = df[cols.text_pair].tolist() if cols.text_pair else [None] * len(df)
    for t, p, lab in zip(texts, pairs, df[cols.label].tolist()):
        r = _raw(lab)
        t = _text(t).strip()
        if r is None or r not in labels.raw_to_id or not t:
            dropped += 1
            continue
        item = {"text": t, "label": labels.raw_to_id[r]}
        if cols.text_pair:
            item["text_pair"] = _text(p).strip()
        out.append(item)
    return out, dropped


def _messages_of(value) -> list[dict] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        return None
    out = []
    for m in value:
        if not isinstance(m, dict):
            return None
        role = m.get("role") or m.get("from")
        content = m.get("content") if "content" in m else m.get("value")
        role = {"human": "user", "gpt": "assistant", "bot": "assistant"}.get(role, role)
        if role not in ("system", "user", "assistant") or not isinstance(content, str):
            return None
        out.append({"role": role, "content": content})
    return out if any(m["role"] == "assistant" for m in out) else None


def chat_rows(df, cols: Columns, system_prompt: str = "") -> tuple[list[list[dict]], int]:
    """Conversations [{role, content}] with at least one assistant turn; and how many rows were dropped."""
    out, dropped = [], 0
    system = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
    if cols.messages:
        for v in df[cols.messages].tolist():
            msgs = _messages_of(v)
            if msgs is None:
                dropped += 1
                continue
            if system and msgs[0]["role"] != "system":
                msgs = system + msgs
            out.append(msgs)
        return out, dropped
    ctxs = df[cols.context].tolist() if cols.context else [None] * len(df)
    for p, r, c in zip(df[cols.prompt].tolist(), df[cols.response].tolist(), ctxs):
        p, r, c = _text(p).strip(), _text(r).strip(), _text(c).strip()
        if not p or not r:
            dropped += 1
            continue
        user = f"{p}\n\n{c}" if c else p
        out.append(system + [{"role": "user", "content": user}, {"role": "assistant", "content": r}])
    return out, dropped


# -- tokenization ---------------------------------------------------------------------------------------------
# Used when the base tokenizer has no chat template: plain Korean markers, no new special tokens needed.
DEFAULT_CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}### 질문:\n{{ m['content'] }}\n\n"
    "{% else %}### 답변:\n{{ m['content'] }}{{ eos_token }}\n\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}### 답변:\n{% endif %}"
)


def encode_classification(tokenizer, text: str, pair: str | None, max_length: int) -> list[int]:
    """Token ids of one input (see encode_classifications)."""
    return encode_classifications(tokenizer, [text], None if pair is None else [pair], max_length)[0]


def encode_classifications(tokenizer, texts: list[str], pairs: list[str] | None, max_length: int) -> list[list[int]]:
    """Token ids of many inputs, tokenized in one batched call. A pair is joined with the tokenizer's own pair
    format when it has a separator token (BERT-style), else with its end-of-text token between the two texts
    (causal LMs have no pair format), cut longest first."""
    if pairs is None:
        return tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    if tokenizer.sep_token_id is not None:
        return tokenizer(list(texts), list(pairs), truncation="longest_first", max_length=max_length)["input_ids"]
    firsts = tokenizer(list(texts))["input_ids"]
    seconds = tokenizer(list(pairs), add_special_tokens=False)["input_ids"]
    sep = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    budget = max_length - len(sep)
    out = []
    for a, b in zip(firsts, seconds):
        over = len(a) + len(b) - budget
        if over > 0:  # longest first: trim the longer one until they are even, then both in turn (first text first)
            cut_a = min(over, max(0, len(a) - len(b)))
            cut_b = min(over - cut_a, max(0, len(b) - len(a)))
            rest = over - cut_a - cut_b
            cut_a += (rest + 1) // 2
            cut_b += rest // 2
            a, b = a[:len(a) - cut_a], b[:len(b) - cut_b]
        out.append(a + sep + b)
    return out


def render(tokenizer, messages: list[dict], *, add_generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def answer_spans(tokenizer, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of each assistant turn (its content and whatever the
    template closes the turn with, e.g. an end-of-turn token), found by rendering the growing prefixes."""
    full = render(tokenizer, messages, add_generation_prompt=False)
    spans = []
    cursor = 0
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = render(tokenizer, messages[:i], add_generation_prompt=True) if i else ""
        upto = render(tokenizer, messages[:i + 1], add_generation_prompt=False)
        if full.startswith(upto) and upto.startswith(before) and len(upto) > len(before):
            start, end = len(before), len(upto)
        else:  # a template that rewrites earlier turns: find the content itself
            start = full.find(m["content"], cursor)
            if start < 0:
                continue
            end = start + len(m["content"])
            eos = tokenizer.eos_token or ""
            if eos and full.startswith(eos, end):
                end += len(eos)
        spans.append((start, end))
        cursor = end
    return full, spans


def encode_chat(tokenizer, messages: list[dict], max_length: int) -> dict | None:
    """input_ids and labels (-100 on everything but the assistant turns). None when truncation leaves no answer."""
    full, spans = answer_spans(tokenizer, messages)
    if not spans:
        return None
    if getattr(tokenizer, "is_fast", False):
        enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
        ids = enc["input_ids"]
        labels = []
        for tid, (s, e) in zip(ids, enc["offset_mapping"]):
            inside = any(a <= s < b for a, b in spans) and e > s
            labels.append(tid if inside else -100)
    else:  # slow tokenizers have no offsets: tokenize the pieces one after another
        ids, labels, pos = [], [], 0
        for a, b in spans:
            for piece, scored in ((full[pos:a], False), (full[a:b], True)):
                if piece:
                    t = tokenizer(piece, add_special_tokens=False)["input_ids"]
                    ids += t
                    labels += t if scored else [-100] * len(t)
            pos = b
        if full[pos:]:
            t = tokenizer(full[pos:], add_special_tokens=False)["input_ids"]
            ids += t
            labels += [-100] * len(t)
    ids, labels = ids[:max_length], labels[:max_length]
    if not any(x != -100 for x in labels[1:]):
        return None
    return {"input_ids": ids, "labels": labels}


class ListDataset:
    """Examples as lists of ints; the collator pads each batch."""

    def __init__(self, items: list[dict]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


def make_collator(pad_id: int, *, left: bool = False):
    """Pad a batch to its longest example. left=True pads on the left (prompt-learning classifiers: their virtual
    tokens enter as embeddings, so the model cannot find the last real token of a right-padded row)."""
    def collate(items: list[dict]) -> dict:
        import torch
        n = max(len(it["input_ids"]) for it in items)
        ids = torch.full((len(items), n), pad_id, dtype=torch.long)
        mask = torch.zeros((len(items), n), dtype=torch.long)
        seq_labels = "labels" in items[0] and isinstance(items[0]["labels"], list)
        labels = torch.full((len(items), n), -100, dtype=torch.long) if seq_labels else None
        for i, it in enumerate(items):
            k = len(it["input_ids"])
            sl = slice(n - k, n) if left else slice(0, k)
            ids[i, sl] = torch.tensor(it["input_ids"], dtype=torch.long)
            mask[i, sl] = 1
            if seq_labels:
                labels[i, sl] = torch.tensor(it["labels"], dtype=torch.long)
        out = {"input_ids": ids, "attention_mask": mask}
        if seq_labels:
            out["labels"] = labels
        elif "labels" in items[0]:
            out["labels"] = torch.tensor([it["labels"] for it in items], dtype=torch.long)
        return out
    return collate


# -- preview (for the tab) ----------------------------------------------------------------------------------------
def preview(data: str = "", *, task: str = "classification", n: int = 5, data_config: str = "", ws=None,
            text_column: str = "auto", text_pair_column: str = "auto", label_column: str = "auto",
            prompt_column: str = "auto", response_column: str = "auto", messages_column: str = "auto",
            label_names: list[str] | None = None) -> dict:
    """What a data reference holds: splits with row counts, columns, the first rows, the columns the stage would
    use, and (classification) the classes with their counts. Raises the same UserError the run would."""
    from types import SimpleNamespace
    src = read_source(data, task=task, data_config=data_config, ws=ws)
    train = src.frames["train"]
    opts = SimpleNamespace(task=task, text_column=text_column, text_pair_column=text_pair_column,
                           label_column=label_column, prompt_column=prompt_column, response_column=response_column,
                           messages_column=messages_column)
    out = {"source": src.description, "splits": {k: len(v) for k, v in src.frames.items()},
           "columns": list(train.columns), "rows": json.loads(train.head(n).to_json(orient="records",
                                                                                    force_ascii=False)),
           "bundled": src.bundled}
    cols = map_columns(train, opts)
    out["mapping"] = cols.to_dict()
    if task == "classification":
        names = label_names if label_names else (BUNDLED_LABEL_NAMES["classification"] if src.bundled else None)
        class_names = (train.attrs.get("label_names") or {}).get(cols.label)
        labels = infer_labels(train[cols.label].tolist(), cols.label, names, class_names)
        counts = train[cols.label].map(lambda v: _raw(v)).value_counts().to_dict()
        out["labels"] = {labels.names[i]: int(counts.get(raw, 0)) for raw, i in labels.raw_to_id.items()}
    return out
