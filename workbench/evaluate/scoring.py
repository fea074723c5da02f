"""What the Evaluate stage asks of a model: class probabilities (classifiers), log-likelihoods of continuations
(zero/few-shot scoring of causal LMs, and a local judge), held-out loss (perplexity, bits per byte) and generated
answers. Each works on a loaded (model, tokenizer) so the bench can time it against a plain loop.

Models load through the fine-tune stage's loader (`finetune.save.load_finetuned`): a `model` artifact, a PEFT
`adapter` on its base, or a Hugging Face folder, the same way the Chat and Fine-tune tabs load them."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..i18n import say

CLASSIFIER, CAUSAL = "sequence-classification", "causal-lm"


@dataclass
class Loaded:
    label: str                # what the report calls it: "name (kind #id)" or the folder
    ref: str                  # what the config said
    path: Path
    kind: str                 # model / adapter / quantized / folder
    artifact_id: int | None
    task: str                 # CLASSIFIER or CAUSAL
    model: Any
    tokenizer: Any
    meta: dict
    seconds: float            # load time


def model_task(path: Path) -> str:
    from ..finetune.save import result_info
    return result_info(path)["task"]


def _unloadable(what, ref, e) -> UserError:
    return UserError(say("{w} '{r}' cannot be loaded ({e}): check the folder, or pick another",
                         "{wk} '{r}' 을(를) 불러올 수 없습니다 ({e}). 폴더를 확인하거나 다른 것을 고르세요",
                         w=what[0], wk=what[1], r=ref, e=f"{type(e).__name__}: {str(e)[:200]}"))


def probe(ws, ref: str, *, want: str | None = None, what=("model", "모델")):
    """Resolve a model and read its config without loading weights: what it is, or why it cannot be used (before
    any work starts). Returns (ModelRef, task)."""
    from ..chat.models import resolve
    mref = resolve(ws, ref)
    try:
        task = model_task(mref.path)
        from transformers import AutoConfig
        AutoConfig.from_pretrained(str(mref.path if not (mref.path / "adapter_config.json").is_file()
                                       else _adapter_base(mref.path)))
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - a damaged or foreign folder: say which and why
        raise _unloadable(what, ref, e) from None
    if want == CAUSAL and task == CLASSIFIER:
        raise UserError(say("{w} '{r}' is a classifier (a sequence-classification head): it cannot generate text or "
                            "score continuations. Use the task 'classify' for it, or pick a causal language model",
                            "{wk} '{r}' 은(는) 분류기(sequence-classification 헤드)라 글을 생성하거나 이어지는 말을 "
                            "채점할 수 없습니다. 과제를 'classify' 로 하거나 언어 모델을 고르세요",
                            w=what[0], wk=what[1], r=ref))
    if want == CLASSIFIER and task == CAUSAL:
        raise UserError(say("model '{r}' is a causal language model, not a classifier: use the task 'fewshot' (it "
                            "scores each label's words by log-likelihood), or fine-tune it for classification first "
                            "(Fine-tune tab)",
                            "모델 '{r}' 은(는) 분류기가 아니라 언어 모델입니다. 과제를 'fewshot' 으로 하거나 (라벨 단어를 "
                            "로그우도로 채점), 먼저 미세조정 탭에서 분류용으로 미세조정하세요", r=ref))
    return mref, task


def _adapter_base(folder: Path) -> Path:
    from ..chat.models import base_model_path
    base = base_model_path(folder)
    if base is None:
        raise UserError(say("adapter {f} names no base model", "어댑터 {f} 에 기본 모델이 적혀 있지 않습니다", f=folder))
    return base


def open_model(ws, ref: str, *, want: str | None = None, what=("model", "모델")) -> Loaded:
    """Resolve and load one model. want: the task the evaluation needs; a model of the other task is refused with
    what to do instead (a classifier cannot generate; a causal LM is scored by its label words, not a head)."""
    from ..finetune.save import load_finetuned
    mref, task = probe(ws, ref, want=want, what=what)
    t0 = time.perf_counter()
    try:
        model, tok, meta, _ = load_finetuned(mref.path, None, task=task)
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001
        raise _unloadable(what, ref, e) from None
    kind = mref.kind if mref.artifact_id is not None else "folder"
    label = f"{mref.name} ({mref.kind} #{mref.artifact_id})" if mref.artifact_id is not None else str(mref.path)
    return Loaded(label, ref, mref.path, kind, mref.artifact_id, task, model, tok, meta, time.perf_counter() - t0)


def _pad_id(model, tok) -> int:
    for v in (getattr(model.config, "pad_token_id", None), tok.pad_token_id, tok.eos_token_id):
        if v is not None:
            return int(v)
    return 0


def context_of(model, default: int = 512) -> int:
    from ..finetune.model import context_of as ctx_of
    return ctx_of(model.config) or default


# -- classifiers ------------------------------------------------------------------------------------------------
def model_labels(model) -> list[str]:
    return [str(model.config.id2label.get(i, i)) for i in range(model.config.num_labels)]


def label_map(model_names: list[str], data_names: list[str], model_ref: str) -> list[int]:
    """For each data class id, the model's class id. By name when the names match (any order); by position when
    either side has bare class ids (LABEL_0, 0, 1 ...) and the counts agree; otherwise the labels outside the model's
    label set are refused by name."""
    low = {n.strip().lower(): i for i, n in enumerate(model_names)}
    if all(d.strip().lower() in low for d in data_names):
        return [low[d.strip().lower()] for d in data_names]
    generic = all(n.upper().startswith("LABEL_") or n.isdigit() for n in model_names)
    if (generic or all(d.strip().isdigit() for d in data_names)) and len(model_names) == len(data_names):
        # class ids on one side (NSMC's 0/1, or a model's LABEL_0..): id i is class i
        return list(range(len(data_names)))
    outside = [d for d in data_names if d.strip().lower() not in low]
    raise UserError(say("the benchmark has labels outside model '{m}''s label set: {o} (the model knows {k}). Give "
                        "label_names in the model's order, pick the matching benchmark, or another model",
                        "벤치마크에 모델 '{m}' 의 라벨에 없는 라벨이 있습니다: {o} (모델의 라벨: {k}). 모델 순서대로 "
                        "label_names 를 주거나, 맞는 벤치마크나 다른 모델을 고르세요", m=model_ref,
                        o=", ".join(outside[:6]), k=", ".join(model_names)))


def encode_rows(tok, rows: list[dict], max_length: int) -> list[dict]:
    from ..finetune.data import encode_classifications
    pairs = [r.get("text_pair", "") for r in rows] if any("text_pair" in r for r in rows) else None
    return [{"input_ids": ids} for ids in encode_classifications(tok, [r["text"] for r in rows], pairs, max_length)]


def classify(model, tok, items: list[dict], *, batch_size: int = 32, left: bool = False,
             progress=None) -> list[list[float]]:
    """Softmax class probabilities (or, for a one-output regression head, [score]) for encoded items, in order."""
    import torch

    from ..finetune.data import make_collator
    collate = make_collator(_pad_id(model, tok), left=left)
    out: list[list[float]] = []
    regression = model.config.num_labels == 1
    with torch.no_grad():
        for s in range(0, len(items), batch_size):
            b = collate(items[s:s + batch_size])
            logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits.float()
            out.extend(logits.tolist() if regression else torch.softmax(logits, -1).tolist())
            if progress:
                progress(min(len(items), s + batch_size), len(items))
    return out


# -- log-likelihood of continuations ---------------------------------------------------------------------------------
def encode_request(tok, context: str, continuation: str, max_length: int) -> tuple[list[int], int]:
    """(token ids of context + continuation, number of continuation tokens), as lm-evaluation-harness does it:
    the two are encoded separately (so the continuation's tokens are exactly its own), a context's trailing spaces
    move to the continuation, an empty context starts from the end-of-text token, and a too-long input loses its
    oldest context tokens."""
    n_space = len(context) - len(context.rstrip(" "))
    if n_space:
        context, continuation = context[:-n_space], context[-n_space:] + continuation
    ctx = tok(context)["input_ids"] if context else []
    if not ctx:
        start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        ctx = [start] if start is not None else []
    cont = tok(continuation, add_special_tokens=False)["input_ids"]
    if not cont:
        raise UserError(say("the continuation '{c}' encodes to no token", "이어질 말 '{c}' 이(가) 토큰이 되지 않습니다",
                            c=continuation))
    ids = (ctx + cont)[-(max_length + 1):]
    return ids, min(len(cont), len(ids) - 1)


def loglikelihoods(model, tok, requests: list[tuple[list[int], int]], *, batch_size: int = 16,
                   progress=None) -> list[tuple[float, bool]]:
    """For each encoded (ids, n_cont): the sum of the continuation tokens' log-probabilities given everything
    before them, and whether greedy decoding would have produced exactly that continuation."""
    import torch
    pad = _pad_id(model, tok)
    out: list[tuple[float, bool]] = []
    with torch.no_grad():
        for s in range(0, len(requests), batch_size):
            chunk = requests[s:s + batch_size]
            n = max(len(ids) - 1 for ids, _ in chunk)
            inp = torch.full((len(chunk), n), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), n), dtype=torch.long)
            for i, (ids, _) in enumerate(chunk):
                inp[i, :len(ids) - 1] = torch.tensor(ids[:-1])
                mask[i, :len(ids) - 1] = 1
            logits = model(input_ids=inp, attention_mask=mask).logits
            for i, (ids, k) in enumerate(chunk):
                last = len(ids) - 1
                lp = torch.log_softmax(logits[i, last - k:last].float(), -1)  # positions predicting ids[-k:]
                target = torch.tensor(ids[-k:])
                out.append((float(lp.gather(1, target[:, None]).sum()), bool((lp.argmax(-1) == target).all())))
            if progress:
                progress(min(len(requests), s + batch_size), len(requests))
    return out


# -- held-out text -------------------------------------------------------------------------------------------------
def perplexity(model, tok, texts: list[str], *, max_length: int, batch_size: int = 8) -> dict:
    """Loss, perplexity and bits per byte of the texts: each text followed by the end-of-text token, all of them
    joined and cut into windows of max_length tokens (the first token of each window has no context and is not
    scored). Bits per byte divide by the texts' UTF-8 bytes (+1 per text for its separator), so models with
    different tokenizers compare fairly."""
    import torch

    from ..training.evaluation import heldout_loss
    eos = tok.eos_token_id
    ids: list[int] = []
    for t in texts:
        ids.extend(tok(t, add_special_tokens=False)["input_ids"] + ([eos] if eos is not None else []))
    if len(ids) < 2:
        raise UserError(say("the text gives fewer than 2 tokens: give more text", "텍스트의 토큰이 2개 미만입니다. "
                            "텍스트를 더 주세요"))
    pad = _pad_id(model, tok)
    items = []
    for s in range(0, len(ids), max_length):
        w = ids[s:s + max_length]
        if len(w) < 2:
            break
        k = max_length - len(w)
        items.append({"input_ids": torch.tensor(w + [pad] * k), "labels": torch.tensor(w + [-100] * k),
                      "attention_mask": torch.tensor([1] * len(w) + [0] * k)})
    n_bytes = sum(len(t.encode("utf-8")) + 1 for t in texts)
    was_training = model.training
    res = heldout_loss(model, items, batch_size=batch_size, n_bytes=n_bytes, prefix="")
    model.train(was_training)
    return {"loss": res["loss"], "ppl": res["ppl"], "bpb": res["bpb"], "tokens": len(ids), "bytes": n_bytes,
            "windows": len(items)}


# -- generation ------------------------------------------------------------------------------------------------------
def render_prompt(tok, prompt: str, *, chat: bool, system: str = "") -> list[int]:
    """Token ids of a prompt: through the tokenizer's chat template when chat=True and it has one, else as text."""
    if chat and getattr(tok, "chat_template", None):
        msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        return tok(text, add_special_tokens=False)["input_ids"]
    return tok(prompt)["input_ids"]


def generate(model, tok, prompt_ids: list[int], *, max_new_tokens: int, temperature: float = 0.0,
             top_p: float = 1.0, seed: int = 0, max_length: int | None = None) -> dict:
    """One answer: {"text", "tokens", "seconds"}. temperature 0: greedy; else sampling seeded per answer, so the
    same settings and seed give the same answer for every template and model compared."""
    import torch
    limit = max_length or context_of(model)
    ids = prompt_ids[-max(1, limit - max_new_tokens):]
    inp = torch.tensor([ids])
    kw: dict[str, Any] = {"do_sample": False}
    if temperature > 0:
        kw = {"do_sample": True, "temperature": temperature, "top_p": top_p}
    t0 = time.perf_counter()
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(seed)
        out = model.generate(input_ids=inp, attention_mask=torch.ones_like(inp), max_new_tokens=max_new_tokens,
                             pad_token_id=_pad_id(model, tok), eos_token_id=tok.eos_token_id, **kw)
    new = out[0, inp.shape[1]:].tolist()
    if tok.eos_token_id is not None and tok.eos_token_id in new:
        new = new[:new.index(tok.eos_token_id)]
    return {"text": tok.decode(new, skip_special_tokens=True).strip(), "tokens": len(new),
            "seconds": time.perf_counter() - t0}


# -- a local judge -------------------------------------------------------------------------------------------------------
JUDGE_RUBRIC = ("다음은 질문과 답변입니다. 답변이 질문에 얼마나 도움이 되고 정확하며 자연스러운 한국어인지 1점(나쁨)에서 "
                "5점(아주 좋음)으로 매기세요.\n질문: {prompt}\n{reference}답변: {answer}\n점수:")


def judge_scores(model, tok, items: list[dict], *, rubric: str = JUDGE_RUBRIC, max_length: int = 512,
                 batch_size: int = 10) -> list[float]:
    """A local model as judge: for each {prompt, answer, reference?} the expected score 1..5 under the judge's own
    probabilities of the tokens "1".."5" after the rubric (normalised over those five)."""
    import math
    reqs, choices = [], [" 1", " 2", " 3", " 4", " 5"]
    for it in items:
        ref = f"참고 답: {it['reference']}\n" if it.get("reference") else ""
        ctx = rubric.format(prompt=it["prompt"], answer=it["answer"], reference=ref)
        reqs.extend(encode_request(tok, ctx, c, max_length) for c in choices)
    lls = [ll for ll, _ in loglikelihoods(model, tok, reqs, batch_size=batch_size)]
    out = []
    for i in range(len(items)):
        row = lls[i * 5:(i + 1) * 5]
        m = max(row)
        w = [math.exp(x - m) for x in row]
        out.append(sum((j + 1) * x for j, x in enumerate(w)) / sum(w))
    return out
