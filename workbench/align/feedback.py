"""Human feedback collected in the app: sample two answers from a model for a prompt, let a person pick the better
one (or write a better one), and keep the pair in a preference `dataset` artifact that the Align stage trains on.

A preference dataset is a folder with `train.jsonl` ({prompt, chosen, rejected, source, model, created}) and
workbench.json ({"format": "preference", "pairs": n}). Every change (add, edit, delete) writes the whole file to a
staging folder and publishes it over the old one, so a crash mid-write never leaves half a file, and the artifact
keeps its id (runs that trained on it keep their lineage)."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from ..artifacts import read_meta, write_meta
from ..errors import UserError
from ..i18n import say

FILE = "train.jsonl"
_LOCK = threading.Lock()  # one writer at a time inside the app (two browser tabs adding at once)
MAX_TEXT = 20_000


def _dataset_dir(ws, name: str) -> Path | None:
    art = ws.store.get_artifact(kind="dataset", name=name)
    return Path(art.path) if art is not None else None


def list_pairs(ws, name: str) -> list[dict]:
    """The pairs of a preference dataset (empty when it does not exist yet)."""
    folder = _dataset_dir(ws, name)
    if folder is None or not (folder / FILE).is_file():
        return []
    with (folder / FILE).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def preference_datasets(ws) -> list[str]:
    """Names of the dataset artifacts that hold preference pairs (for the tab's pickers)."""
    return [a.name for a in ws.store.list_artifacts("dataset") if (a.meta or {}).get("format") == "preference"]


def _check(prompt: str, chosen: str, rejected: str) -> tuple[str, str, str]:
    prompt, chosen, rejected = (s.strip() if isinstance(s, str) else "" for s in (prompt, chosen, rejected))
    for what, ko, text in (("prompt", "프롬프트", prompt), ("chosen answer", "좋은 답", chosen),
                           ("rejected answer", "나쁜 답", rejected)):
        if not text:
            raise UserError(say("the {w} is empty: a pair needs a prompt, a better and a worse answer",
                                "{k} 이(가) 비어 있습니다. 쌍에는 프롬프트, 더 나은 답, 못한 답이 모두 필요합니다", w=what,
                                k=ko))
        if len(text) > MAX_TEXT:
            raise UserError(say("the {w} is {n:,} characters long: keep it under {m:,}",
                                "{k} 이(가) {n:,}자입니다. {m:,}자 아래로 줄이세요", w=what, k=ko, n=len(text), m=MAX_TEXT))
    if chosen == rejected:
        raise UserError(say("the two answers are the same: such a pair teaches nothing; edit one of them",
                            "두 답이 같습니다. 그런 쌍은 아무것도 가르치지 못하니 하나를 고치세요"))
    return prompt, chosen, rejected


def _write(ws, name: str, pairs: list[dict], *, parents=()) -> int:
    from ..artifacts import output_name
    output_name(ws, "dataset", name, overwrite=True)  # validates the name (no path tricks)
    staging = ws.staging_dir("dataset", name)
    with (staging / FILE).open("w", encoding="utf-8") as f:
        for p in pairs:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    old = read_meta(_dataset_dir(ws, name)) if _dataset_dir(ws, name) else {}
    meta = {"format": "preference", "pairs": len(pairs), "columns": ["prompt", "chosen", "rejected"],
            "created": old.get("created", time.time()), "updated": time.time(),
            "description": "preference pairs collected in the Align tab (human feedback)"}
    write_meta(staging, meta)
    existing = ws.store.get_artifact(kind="dataset", name=name)
    keep = list(existing.parents) if existing is not None else []
    return ws.publish(staging, "dataset", name, parents=list(dict.fromkeys(keep + list(parents))), meta=meta,
                      overwrite=True)


def add_pair(ws, name: str, prompt: str, chosen: str, rejected: str, *, model: str = "", model_artifact=None,
             how: str = "picked") -> dict:
    """Append a pair to the preference dataset `name` (created on first use). how: picked (one of two samples) or
    written (the person wrote the better answer). Returns {"artifact", "pairs"}."""
    prompt, chosen, rejected = _check(prompt, chosen, rejected)
    with _LOCK:
        pairs = list_pairs(ws, name)
        pairs.append({"prompt": prompt, "chosen": chosen, "rejected": rejected, "how": how, "model": model,
                      "created": round(time.time(), 3)})
        art = _write(ws, name, pairs, parents=[model_artifact] if model_artifact else ())
    return {"artifact": art, "pairs": len(pairs)}


def _index(pairs: list[dict], index: int) -> int:
    if not isinstance(index, int) or not 0 <= index < len(pairs):
        raise UserError(say("there is no pair #{i}: the dataset holds {n} (numbered from 0)",
                            "{i}번 쌍이 없습니다. 데이터에는 {n}개가 있습니다 (0번부터)", i=index, n=len(pairs)))
    return index


def update_pair(ws, name: str, index: int, prompt: str, chosen: str, rejected: str) -> dict:
    prompt, chosen, rejected = _check(prompt, chosen, rejected)
    with _LOCK:
        pairs = list_pairs(ws, name)
        i = _index(pairs, index)
        pairs[i] = {**pairs[i], "prompt": prompt, "chosen": chosen, "rejected": rejected, "edited": round(time.time(), 3)}
        art = _write(ws, name, pairs)
    return {"artifact": art, "pairs": len(pairs)}


def delete_pair(ws, name: str, index: int) -> dict:
    with _LOCK:
        pairs = list_pairs(ws, name)
        i = _index(pairs, index)
        del pairs[i]
        art = _write(ws, name, pairs)
    return {"artifact": art, "pairs": len(pairs)}


def sample_two(ws, model_ref: str, prompt: str, *, max_new_tokens: int = 48, seed: int = 0,
               temperature: float = 0.9, top_k: int = 50) -> dict:
    """Two answers sampled from a chat model (a model or adapter artifact, or a folder) for one prompt, with
    different seeds, through its chat template. Returns {"answers": [a, b], "model": name, "artifact": id}."""
    from ..finetune.save import load_finetuned, result_info
    from ..training.sampling import generate_samples
    prompt = (prompt or "").strip()
    if not prompt:
        raise UserError(say("write a prompt first", "프롬프트를 먼저 쓰세요"))
    if not (model_ref or "").strip():
        raise UserError(say("pick a model to answer the prompt", "프롬프트에 답할 모델을 고르세요"))
    info = result_info(model_ref, ws)
    if info["task"] != "causal-lm":
        raise UserError(say("'{m}' is a classifier: it cannot write answers; pick a chat (causal LM) model",
                            "'{m}' 은(는) 분류기라서 답을 쓸 수 없습니다. 채팅 (인과 언어) 모델을 고르세요", m=model_ref))
    model, tok, meta, _ = load_finetuned(model_ref, ws, task="causal-lm")
    text = prompt
    if getattr(tok, "chat_template", None):
        text = tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
    answers = []
    for k in range(2):
        out = generate_samples(model, tok, [text], max_new_tokens=max_new_tokens, seed=seed + k, top_k=top_k,
                               temperature=temperature)
        answers.append(out[0]["text"].strip() if out else "")
    model.eval()
    from ..artifacts import find
    art = find(ws.store, ("model", "adapter"), str(model_ref))
    return {"answers": answers, "model": art.name if art else str(model_ref), "artifact": art.id if art else None}
