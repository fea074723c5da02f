"""Benchmark data for the Evaluate stage: labelled rows (classification, sentence pairs, similarity scores), text for
perplexity, and prompt sets for generation.

Presets name the field's benchmarks and their published layouts: NSMC (TSV `id, document, label`), KorNLI (TSV
`sentence1, sentence2, gold_label`), KorSTS (TSV `..., score, sentence1, sentence2`), KLUE NLI / STS (the published
JSON lists, or the Hugging Face `klue` dataset). `data` may be a file, a folder of split files, or a Hugging Face
dataset name; empty means the preset's Hub dataset, or (preset `file`) the bundled team-written sample.

Reading, column picking and label parsing are the fine-tune stage's own (`workbench.finetune.data`), so a file that
trains there evaluates here with the same columns and the same label ids."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..finetune import data as ftdata
from ..i18n import say

NLI_LABELS = ["entailment", "neutral", "contradiction"]
# preset -> what it is: task family, Hub dataset (name, config), columns, label names (in id order)
PRESETS: dict[str, dict[str, Any]] = {
    "file": {},
    "nsmc": {"kind": "label", "hub": ("nsmc", ""), "text": "document", "label": "label", "names": ["부정", "긍정"]},
    "kornli": {"kind": "label", "hub": ("kor_nli", "xnli"), "text": "sentence1", "pair": "sentence2",
               "label": "gold_label", "names": NLI_LABELS},
    "klue-nli": {"kind": "label", "hub": ("klue", "nli"), "text": "premise", "pair": "hypothesis",
                 "label": "gold_label", "names": NLI_LABELS},
    "korsts": {"kind": "score", "hub": None, "text": "sentence1", "pair": "sentence2", "label": "score"},
    "klue-sts": {"kind": "score", "hub": ("klue", "sts"), "text": "sentence1", "pair": "sentence2", "label": "labels"},
}
SCORE_COLUMNS = ["score", "similarity", "labels", "label", "real-label"]


@dataclass
class Labelled:
    """Rows of one benchmark split: [{text, text_pair?, label}] (class ids) or [{..., score}] (similarity)."""
    rows: list[dict]
    names: list[str] | None            # class names in id order (None for scores)
    columns: dict
    source: str                         # what was read, for the report
    split: str
    shots: list[dict] = field(default_factory=list)   # rows of another split, for few-shot examples
    dropped: int = 0

    @property
    def pairs(self) -> bool:
        return any("text_pair" in r for r in self.rows)


def _frames(data: str, preset: str, data_config: str, ws) -> tuple[dict[str, Any], str]:
    """{split: DataFrame} and a description, from a file, a folder of split files, a Hub dataset or the bundled
    sample."""
    ref = (data or "").strip()
    spec = PRESETS[preset]
    if not ref:
        if preset == "file":
            return _bundled_splits()
        if not spec.get("hub"):
            raise UserError(say("benchmark {b} has no Hugging Face dataset here: give its folder or file in data "
                                "(e.g. KorSTS's sts-test.tsv)",
                                "{b} 벤치마크는 Hugging Face 데이터셋이 없습니다. data 에 폴더나 파일을 주세요 "
                                "(예: KorSTS 의 sts-test.tsv)", b=preset))
        ref = "hf:" + spec["hub"][0]
        data_config = data_config or spec["hub"][1]
    p = Path(ref).expanduser()
    if not ref.startswith("hf:") and p.is_dir():
        found = ftdata.folder_splits(p)
        if not found:
            listed = ", ".join(x.name for x in sorted(p.iterdir())[:20]) or "(empty)"
            raise UserError(say("folder {p} holds no train/validation/test file (names like test.tsv, "
                                "xnli.test.ko.tsv, dev.json); it holds: {l}",
                                "폴더 {p} 에 train/validation/test 파일 (test.tsv, xnli.test.ko.tsv, dev.json 같은 이름) "
                                "이 없습니다. 있는 것: {l}", p=str(p), l=listed))
        return {s: ftdata.read_file(f) for s, f in found.items()}, f"folder {p}"
    if not ref.startswith("hf:") and (p.exists() or ftdata.looks_like_path(ref)):
        if not p.is_file():
            raise UserError(say("benchmark data '{r}' does not exist: give a TSV/CSV/JSONL/JSON/parquet file, a folder "
                                "of split files, or a Hugging Face dataset name",
                                "벤치마크 데이터 '{r}' 이(가) 없습니다. TSV/CSV/JSONL/JSON/parquet 파일, 분할 파일 폴더, "
                                "또는 Hugging Face 데이터셋 이름을 주세요", r=ref))
        split = ftdata._split_of(p.name) or "test"
        return {split: ftdata.read_file(p)}, f"file {p.name}"
    name = ref[3:] if ref.startswith("hf:") else ref
    frames = ftdata.load_hf_dataset(name, data_config)
    return frames, f"Hugging Face dataset {name}" + (f" ({data_config})" if data_config else "")


def _bundled_splits() -> tuple[dict[str, Any], str]:
    """The bundled sentiment sample cut exactly as the Fine-tune stage cuts it by default (same fractions, seed and
    stratification), so a model fine-tuned on it with the defaults is scored on its held-out test rows only."""
    from ..finetune.stage import FinetuneConfig
    d = FinetuneConfig()
    src = ftdata.read_source("", task="classification")
    sp = ftdata.make_splits(src, val_fraction=d.val_fraction, test_fraction=d.test_fraction, seed=d.seed,
                            stratify="label")
    desc = (f"bundled team-written sample ({ftdata.BUNDLED_FILES['classification'].name}), the Fine-tune stage's "
            f"default held-out split (validation {d.val_fraction:g} / test {d.test_fraction:g}, seed {d.seed})")
    return {"train": sp.train, "validation": sp.validation, "test": sp.test}, desc


def _eval_split(frames: dict, split: str) -> str:
    if split != "auto":
        if split not in frames:
            raise UserError(say("the data has no {s} split (it has {have}): pick one of those",
                                "데이터에 {s} 분할이 없습니다 (있는 분할: {have}). 그중 하나를 고르세요",
                                s=split, have=", ".join(frames)))
        return split
    return next(s for s in ("test", "validation", "train") if s in frames)


def _column(df, wanted: str, candidates: list[str], what: tuple[str, str], field_name: str, required=True):
    return ftdata._pick(list(df.columns), wanted, candidates, what, required=required, field_name=field_name)


def _score(v) -> float | None:
    if isinstance(v, dict):  # KLUE STS: {"label": 3.7, "real-label": 3.714, "binary-label": 1}
        v = v.get("label", v.get("real-label"))
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def load_labelled(data: str = "", *, preset: str = "file", split: str = "auto", kind: str = "label",
                  text_column: str = "auto", text_pair_column: str = "auto", label_column: str = "auto",
                  label_names: list[str] | None = None, data_config: str = "", max_rows: int = 0, seed: int = 13,
                  ws=None) -> Labelled:
    """The rows of one split of a labelled benchmark. kind "label": class ids with names; "score": floats (STS).
    max_rows > 0 takes a seeded random sample. Few-shot examples come from another split (train, else
    validation) or, for a single file, from the rows left out of the sample."""
    spec = PRESETS.get(preset)
    if spec is None:
        raise UserError(say("unknown benchmark '{b}': choose one of {c}", "알 수 없는 벤치마크 '{b}'. 다음 중 하나를 "
                            "고르세요: {c}", b=preset, c=", ".join(PRESETS)))
    kind = spec.get("kind", kind)
    frames, desc = _frames(data, preset, data_config, ws)
    split = _eval_split(frames, split)
    df = frames[split]
    auto = lambda v, key: spec.get(key, "auto") if v == "auto" else v  # noqa: E731 - the preset's column
    text = _column(df, auto(text_column, "text"), ftdata.TEXT_COLUMNS, ("text", "텍스트"), "text_column")
    pair = _column(df[[c for c in df.columns if c != text]], auto(text_pair_column, "pair"), ftdata.PAIR_COLUMNS,
                   ("second text", "두 번째 텍스트"), "text_pair_column", required=False)
    cands = SCORE_COLUMNS if kind == "score" else ftdata.LABEL_COLUMNS
    label = _column(df[[c for c in df.columns if c not in (text, pair)]], auto(label_column, "label"), cands,
                    ("label" if kind == "label" else "score", "라벨" if kind == "label" else "점수"), "label_column")
    names = list(label_names or spec.get("names") or [])
    if not names and not (data or "").strip() and preset == "file":
        names = list(ftdata.BUNDLED_LABEL_NAMES["classification"])
    class_names = (getattr(df, "attrs", {}).get("label_names") or {}).get(label)

    def rows_of(frame, labels) -> tuple[list[dict], int]:
        out, dropped = [], 0
        texts, pairs = frame[text].tolist(), (frame[pair].tolist() if pair else [None] * len(frame))
        for t, pr, lab in zip(texts, pairs, frame[label].tolist()):
            t = ftdata._text(t).strip()
            if kind == "score":
                y = _score(lab)
                ok = y is not None
            else:
                r = ftdata._raw(lab)
                ok = r is not None and r in labels.raw_to_id
                y = labels.raw_to_id.get(r) if ok else None
            if not t or not ok:
                dropped += 1
                continue
            item = {"text": t, ("score" if kind == "score" else "label"): y}
            if pair:
                item["text_pair"] = ftdata._text(pr).strip()
            out.append(item)
        return out, dropped

    labels = None
    if kind == "label":
        labels = ftdata.infer_labels(df[label].tolist(), label, names or None, class_names)
        names = labels.names
    rows, dropped = rows_of(df, labels)
    if not rows:
        raise UserError(say("the {s} split has no usable row (every row lacks a text or a {w})",
                            "{s} 분할에 쓸 수 있는 행이 없습니다 (모든 행에 텍스트나 {wk} 이(가) 없음)", s=split,
                            w="label" if kind == "label" else "score", wk="라벨" if kind == "label" else "점수"))
    import random
    rng = random.Random(seed)
    shots: list[dict] = []
    other = next((s for s in ("train", "validation") if s in frames and s != split), None)
    if max_rows and len(rows) > max_rows:
        order = list(range(len(rows)))
        rng.shuffle(order)
        keep = set(order[:max_rows])
        if other is None:  # one file: the rows not sampled are the few-shot pool (never the scored rows)
            shots = [rows[i] for i in order[max_rows:]]
        rows = [rows[i] for i in sorted(keep)]
    if other is not None:
        try:
            shots, _ = rows_of(frames[other].head(5000), labels)
        except KeyError:  # that split lacks the columns: no shots from it
            shots = []
    return Labelled(rows=rows, names=names if kind == "label" else None,
                    columns={"text": text, "text_pair": pair, "label": label}, source=desc, split=split,
                    shots=shots, dropped=dropped)


# -- text for perplexity ---------------------------------------------------------------------------------------
def load_texts(data: str = "", *, max_rows: int = 0, ws=None) -> tuple[list[str], str]:
    """Held-out text: a corpus artifact (its validation split, else train), a .txt file (one document a line), a
    table file with a text column, or (empty) konlpy's constitution text bundled with the package."""
    ref = (data or "").strip()
    limit = max_rows or None
    if not ref:
        from ..bundled import konlpy_files
        files = konlpy_files(("kolaw",))
        if not files:
            raise UserError(say("no text given and konlpy's bundled corpus is not installed: give a corpus artifact "
                                "or a text file", "텍스트를 주지 않았고 konlpy 의 내장 말뭉치도 없습니다. 말뭉치 산출물이나 "
                                "텍스트 파일을 주세요"))
        lines = [ln.strip() for ln in files[0].read_text(encoding="utf-8").splitlines() if ln.strip()]
        return lines[:limit] if limit else lines, ("konlpy kolaw constitution.txt (bundled with konlpy; not held out for a model pretrained on the "
                                                "bundled corpus: give a corpus's validation split for that)")
    if ws is not None:
        from ..artifacts import corpus_splits, find, iter_corpus_texts
        art = find(ws.store, ("corpus",), ref)
        if art is not None and art.kind == "corpus":
            splits = corpus_splits(art.path)
            split = "validation" if "validation" in splits else "train"
            return list(iter_corpus_texts(art.path, split, limit=limit)), f"corpus {art.name} ({split} split)"
    p = Path(ref).expanduser()
    if not p.is_file():
        raise UserError(say("text '{r}' is neither a corpus artifact nor a file: pick a corpus or give a .txt/.jsonl "
                            "file", "텍스트 '{r}' 은(는) 말뭉치 산출물도 파일도 아닙니다. 말뭉치를 고르거나 .txt/.jsonl "
                            "파일을 주세요", r=ref))
    if p.suffix.lower() == ".txt":
        ftdata.read_file(p, limit=1)  # the same refusals (empty, binary, not UTF-8) as every other file
        lines = [ln.strip() for ln in p.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]
    else:
        df = ftdata.read_file(p, limit=limit)
        col = _column(df, "auto", ftdata.TEXT_COLUMNS, ("text", "텍스트"), "data")
        lines = [ftdata._text(v).strip() for v in df[col].tolist() if ftdata._text(v).strip()]
    if not lines:
        raise UserError(say("text file {p} holds no text", "텍스트 파일 {p} 에 텍스트가 없습니다", p=str(p)))
    return (lines[:limit] if limit else lines), f"file {p.name}"


# -- prompts for generation --------------------------------------------------------------------------------------
def load_prompts(data: str = "", *, prompt_column: str = "auto", reference_column: str = "auto", max_rows: int = 0,
                 seed: int = 13, ws=None) -> tuple[list[dict], str]:
    """[{prompt, reference?}] from a JSONL/TSV/CSV/parquet file (instruction/prompt/question + output/answer
    columns), or (empty) the bundled team-written instruction set. max_rows > 0: a seeded sample."""
    ref = (data or "").strip()
    if ref:
        p = Path(ref).expanduser()
        if not p.is_file():
            raise UserError(say("prompt file '{r}' does not exist: give a JSONL/TSV/CSV file with a prompt column",
                                "프롬프트 파일 '{r}' 이(가) 없습니다. 프롬프트 열이 있는 JSONL/TSV/CSV 파일을 주세요", r=ref))
        df, desc = ftdata.read_file(p), f"file {p.name}"
    else:
        p = ftdata.BUNDLED_FILES["sft"]
        df, desc = ftdata.read_file(p), f"bundled team-written instructions ({p.name})"
    pc = _column(df, prompt_column, ftdata.PROMPT_COLUMNS, ("prompt", "프롬프트"), "prompt_column")
    rc = _column(df[[c for c in df.columns if c != pc]], reference_column, ftdata.RESPONSE_COLUMNS,
                 ("reference", "참고 답"), "reference_column", required=False)
    rows = []
    for i, r in df.iterrows():
        q = ftdata._text(r[pc]).strip()
        if q:
            rows.append({"prompt": q, **({"reference": ftdata._text(r[rc]).strip()} if rc else {})})
    if not rows:
        raise UserError(say("the prompt set is empty: {d} has no non-empty {c}", "프롬프트 모음이 비어 있습니다: {d} 에 "
                            "비어 있지 않은 {c} 값이 없습니다", d=desc, c=pc))
    if max_rows and len(rows) > max_rows:
        import random
        idx = sorted(random.Random(seed).sample(range(len(rows)), max_rows))
        rows = [rows[i] for i in idx]
    return rows, desc
