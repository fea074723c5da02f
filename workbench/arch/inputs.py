"""Inputs of the architecture lab: the tokenizer and corpus artifacts a user picked, or a stated fallback.

An artifact reference is what the tab's picker gives (the artifact id as text), an artifact
name, or a folder path (handy from a terminal). When no corpus or tokenizer exists yet (the
earlier tabs were skipped), the race still runs on Korean text that ships with konlpy (the
constitution and ten National Assembly bills) and a small byte-level BPE trained on it here,
and says so: its numbers then describe that text, not the user's corpus.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..bundled import konlpy_texts
from ..errors import UserError
from ..i18n import Text, say

log = logging.getLogger("workbench.arch")

DEFAULT_VOCAB = 8000  # what measurements assume when neither a tokenizer nor a vocab size is given


@dataclass
class Resolved:
    path: Path
    artifact_id: int | None
    name: str


def resolve_artifact(ws, ref: str, kind: str) -> Resolved | None:
    """An artifact id, a name of the given kind, or a folder path; None when ref is empty."""
    from ..artifacts import resolve

    if not (ref or "").strip():
        return None
    path, art = resolve(ws, kind, ref, kind)
    return Resolved(path, art.id if art else None, art.name if art else path.name)


def load_tokenizer_ref(ws, ref: str):
    """(tokenizer, Resolved) for a tokenizer artifact reference, or (None, None) when empty."""
    from ..artifacts import load_tokenizer

    r = resolve_artifact(ws, ref, "tokenizer")
    if r is None:
        return None, None
    try:
        tok = load_tokenizer(r.path)
    except Exception as e:  # noqa: BLE001 - any loading failure means the folder is not a tokenizer
        raise UserError(say("'{p}' is not a loadable tokenizer folder ({err}); pick a tokenizer artifact made in the "
                            "Tokenizer tab", "'{p}' 은(는) 불러올 수 있는 토크나이저 폴더가 아닙니다 ({err}). "
                            "토크나이저 탭에서 만든 토크나이저 산출물을 고르세요", p=r.path,
                            err=f"{type(e).__name__}: {e}")) from None
    return tok, r


def special_ids(tok) -> dict[str, int | None]:
    """bos/eos/pad ids for the model config (pad falls back to eos, then 0)."""
    eos = tok.eos_token_id
    bos = tok.bos_token_id if tok.bos_token_id is not None else eos
    pad = tok.pad_token_id if tok.pad_token_id is not None else (eos if eos is not None else 0)
    return {"bos": bos, "eos": eos, "pad": pad}


def corpus_texts(ws, ref: str, max_chars: int) -> tuple[list[str], Resolved | None, dict[str, str]]:
    """Texts for the race (up to max_chars), the corpus used, and a note for the user ({'en', 'ko'})."""
    from ..artifacts import iter_corpus_texts

    r = resolve_artifact(ws, ref, "corpus")
    if r is None:
        texts = konlpy_texts()
        return texts, None, {
            "en": "no corpus artifact chosen: racing on the Korean text bundled with konlpy (constitution + 10 "
                  "bills, ~65k characters). Build a corpus in tab 1 to race on yours.",
            "ko": "말뭉치를 고르지 않아 konlpy에 들어 있는 한국어 텍스트(헌법 + 법률안 10건, 약 6만 5천 자)로 경주합니다. "
                  "1번 탭에서 말뭉치를 만들면 그것으로 경주할 수 있습니다."}
    texts, n = [], 0
    try:
        for t in iter_corpus_texts(r.path, "train"):
            if t:
                texts.append(t)
                n += len(t)
                if n >= max_chars:
                    break
    except FileNotFoundError as e:
        why = e.args[0] if len(e.args) == 1 and isinstance(e.args[0], Text) else str(e)
        raise UserError(say("{e}: pick a corpus artifact made in the Corpus tab",
                            "{e}: 말뭉치 탭에서 만든 말뭉치 산출물을 고르세요", e=why)) from None
    if not texts:
        raise UserError(say("corpus '{n}' has no text in its train split: pick another corpus",
                            "말뭉치 '{n}' 의 train 분할에 텍스트가 없습니다. 다른 말뭉치를 고르세요", n=r.name))
    return texts, r, {"en": f"corpus '{r.name}': {len(texts):,} documents, {n:,} characters read",
                      "ko": f"말뭉치 '{r.name}': 문서 {len(texts):,}개, {n:,}자를 읽었습니다"}


def fallback_tokenizer(texts: list[str], vocab_size: int = 2000):
    """A byte-level BPE trained in-process on the race text (only when the user picked no tokenizer)."""
    from ..tokenizer.quick import quick_bpe

    return quick_bpe(texts, vocab_size)


def vocab_of(tok) -> int:
    """Rows the embedding needs: every id the tokenizer can produce (added tokens included)."""
    return len(tok)
