"""The torch side of the chat: load a model artifact, build a prompt that fits, stream a reply.

Imported on first use only (torch and transformers load here, not when the app starts).
"""
from __future__ import annotations

import threading
import time
import queue
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import (AutoModelForCausalLM, AutoTokenizer, LogitsProcessor, LogitsProcessorList, StoppingCriteria,
                          StoppingCriteriaList, TemperatureLogitsWarper, TextIteratorStreamer, TopKLogitsWarper,
                          TopPLogitsWarper)

from ..errors import UserError, describe_exception
from ..i18n import Text, join, say
from .engine import LoadedModel, Notice, SamplingParams
from .models import ModelRef, base_model_path, check_files, context_window, _json_file


# -- loading -------------------------------------------------------------------------
TURN_END_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>")


def eos_token_ids(tokenizer, generation_config=None) -> set[int]:
    eos: set[int] = set()
    for src in (getattr(generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(src, int):
            eos.add(src)
        elif isinstance(src, (list, tuple)):
            eos.update(int(x) for x in src)
    return eos


def turn_end_ids(tokenizer) -> set[int]:
    """The turn-end token of a chat template (ChatML's <|im_end|> in the Tokenizer tab's template): in chat
    mode a reply stops there too, not only at EOS. Plain continuation stops at EOS alone."""
    vocab = tokenizer.get_vocab()
    return {vocab[t] for t in TURN_END_TOKENS if t in vocab}


def pick_device(pref: str) -> str:
    if pref and pref != "auto":
        if pref.startswith("cuda") and not torch.cuda.is_available():
            raise UserError(say("device '{d}' was asked for but no CUDA GPU is available here: use device=auto or cpu.",
                                "장치 '{d}' 을(를) 요청했지만 여기에는 CUDA GPU가 없습니다. device=auto 또는 cpu 를 "
                                "쓰세요.", d=pref))
        return pref
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(pref: str, device: str) -> torch.dtype:
    if pref and pref != "auto":
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[pref]
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def _unloadable(ref: ModelRef, why: str) -> UserError:
    return UserError(say("model '{m}' cannot be loaded: {why}. Re-create it with the stage that made it "
                         "(e.g. Pretrain), or pick another model.",
                         "모델 '{m}' 을(를) 불러올 수 없습니다: {why}. 이 모델을 만든 단계(예: 사전학습)로 다시 만들거나 "
                         "다른 모델을 고르세요.", m=ref.label, why=why))


def _clip(text: str, n: int) -> Text:
    """The first n characters of each wording (slicing a Text would keep the English only)."""
    t = Text(text) if not isinstance(text, Text) else text
    return Text(t.en[:n], t.ko[:n])


def load_model(ref: ModelRef, key: tuple, device_pref: str = "auto", dtype_pref: str = "auto") -> LoadedModel:
    """Load a model folder (or PEFT adapter folder) with safetensors only and no remote code."""
    folder = Path(ref.path)
    problems = check_files(folder)
    if problems:
        raise _unloadable(ref, join("; ", problems))
    device = pick_device(device_pref)
    dtype = pick_dtype(dtype_pref, device)
    t0 = time.perf_counter()
    common = dict(dtype=dtype, use_safetensors=True, trust_remote_code=False)
    is_adapter = (folder / "adapter_config.json").is_file()
    weights = base_model_path(folder) if is_adapter else folder
    quantized = "quantization_config" in _json_file(Path(weights) / "config.json")
    if quantized:  # bitsandbytes weights are placed while loading and cannot be moved afterwards
        common["device_map"] = device
    from ..optimize import int8
    try:
        if int8.is_int8_folder(weights):  # the Optimize stage's CPU int8 (safetensors, no pickle): CPU only
            model, info, quantized, device = int8.load(weights), {}, True, "cpu"
        else:
            model, info = AutoModelForCausalLM.from_pretrained(str(weights), output_loading_info=True, **common)
        missing = list(info.get("missing_keys") or [])
        if missing:
            # transformers would go on with random weights for these: refuse instead of chatting with noise
            raise _unloadable(ref, say("the weights file lacks {n} tensors (e.g. {k}): it is incomplete or belongs "
                                       "to another model", "가중치 파일에 텐서 {n}개가 없습니다 (예: {k}). 파일이 "
                                       "불완전하거나 다른 모델의 것입니다", n=len(missing), k=missing[0]))
        if is_adapter:
            from peft import PeftModel
            model = PeftModel.from_pretrained(model, str(folder), is_trainable=False)
        tok_dir = folder if any((folder / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")) else weights
        tokenizer = AutoTokenizer.from_pretrained(str(tok_dir), trust_remote_code=False)
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - any loading failure means damaged or foreign files
        raise _unloadable(ref, say("the files are damaged or incomplete ({e})", "파일이 손상되었거나 불완전합니다 ({e})",
                                   e=_clip(describe_exception(e), 300))) from None
    if not quantized:
        model.to(device)
    model.eval()
    nbytes = sum(p.numel() * p.element_size() for p in model.parameters()) + \
        sum(b.numel() * b.element_size() for b in model.buffers())
    cfg = _json_file(Path(weights) / "config.json")
    context = context_window(cfg, {"model_max_length": getattr(tokenizer, "model_max_length", None)})
    eos = eos_token_ids(tokenizer, model.generation_config)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (min(eos) if eos else None)
    meta = ref.meta or {}
    return LoadedModel(key=key, ref=ref, model=model, tokenizer=tokenizer, device=device, nbytes=nbytes,
                       context=context, chat_model=bool(meta.get("chat_model")),
                       has_template=bool(getattr(tokenizer, "chat_template", None)),
                       load_seconds=time.perf_counter() - t0, eos_ids=sorted(eos), pad_id=pad,
                       turn_end_ids=sorted(turn_end_ids(tokenizer) - eos))


# -- prompts ---------------------------------------------------------------------------
@dataclass
class Prompt:
    ids: list[int]
    mode: str                 # "chat" (the tokenizer's chat template) or "continue" (plain text)
    max_new_tokens: int
    notices: list[Notice] = field(default_factory=list)


def resolve_mode(lm: LoadedModel, requested: str) -> tuple[str, list[Notice]]:
    if requested == "chat":
        if not lm.has_template:
            raise UserError(say("model '{m}' has no chat template in its tokenizer, so chat mode cannot format a "
                                "conversation: switch to continuation mode (or fine-tune a chat model with a "
                                "template).",
                                "모델 '{m}' 의 토크나이저에 채팅 템플릿이 없어 채팅 모드로 대화를 만들 수 없습니다. "
                                "이어쓰기 모드로 바꾸세요 (또는 템플릿이 있는 채팅 모델을 미세조정하세요).",
                                m=lm.ref.label))
        return "chat", []
    if requested == "continue":
        return "continue", []
    if lm.chat_model and lm.has_template:
        return "chat", []
    if lm.chat_model:
        return "continue", [Notice("no_template", say(
            "this model is marked as a chat model but its tokenizer has no chat template: using plain continuation.",
            "채팅 모델로 표시되어 있지만 토크나이저에 채팅 템플릿이 없어 이어쓰기로 답합니다."))]
    return "continue", []


def _render_chat(tok, messages: list[dict]) -> list[int]:
    try:
        text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    except Exception as e:  # noqa: BLE001 - a template may reject a role (e.g. no system prompt)
        raise UserError(say("the model's chat template rejected the conversation ({e}): try without a system prompt, "
                            "or use continuation mode.",
                            "모델의 채팅 템플릿이 이 대화를 받아들이지 않았습니다 ({e}). 시스템 프롬프트 없이 해 보거나 "
                            "이어쓰기 모드를 쓰세요.", e=str(e)[:200])) from None
    return tok(text, add_special_tokens=False, verbose=False)["input_ids"]


def build_prompt(lm: LoadedModel, messages: list[dict], requested_mode: str, max_new_tokens: int) -> Prompt:
    """Token ids for the reply, fitted into the model's context window.

    The reply keeps the length asked for unless that would leave the prompt less than half the
    window; then the oldest turns are dropped, and last the start of the prompt is cut. Each step
    that changed something adds a notice."""
    if not messages or messages[-1].get("role") != "user":
        raise UserError("the conversation must end with a user message.", ko="대화는 사용자 메시지로 끝나야 합니다.")
    last = messages[-1].get("content")
    if not isinstance(last, str) or not last.strip():
        raise UserError("the message is empty: type something to send.", ko="메시지가 비어 있습니다. 보낼 내용을 입력하세요.")
    mode, notices = resolve_mode(lm, requested_mode)
    tok = lm.tokenizer
    system = [m for m in messages if m["role"] == "system"]
    turns = [m for m in messages[:-1] if m["role"] in ("user", "assistant")]

    def render(turns_kept: list[dict]) -> list[int]:
        if mode == "chat":
            return _render_chat(tok, system + turns_kept + [messages[-1]])
        return tok(last, verbose=False)["input_ids"]   # plain continuation of the latest message

    ids = render(turns)
    if not ids:
        raise UserError("the message turned into zero tokens: type some text.",
                        ko="메시지를 토큰으로 바꾸니 0개가 되었습니다. 글자를 입력하세요.")
    ctx = lm.context
    new = max_new_tokens
    if ctx:
        new = min(new, ctx - 1)
        budget = max(ctx - new, ctx // 2)    # the prompt always gets at least half the window
        dropped = 0
        while len(ids) > budget and turns:
            turns = turns[1:]
            while turns and turns[0]["role"] != "user":
                turns = turns[1:]
            dropped += 1
            ids = render(turns)
        if dropped:
            notices.append(Notice("turns_dropped", say(
                "the conversation was longer than the model's context window of {ctx} tokens: the oldest {n} turn(s) "
                "were left out.", "대화가 모델의 문맥 창({ctx} 토큰)보다 길어서 가장 오래된 {n}개 턴을 뺐습니다.",
                ctx=ctx, n=dropped), {"turns": dropped, "context": ctx}))
        if len(ids) > budget:
            n = len(ids)
            head = ids[:1] if ids[0] in (tok.bos_token_id,) else []
            ids = head + ids[n - (budget - len(head)):]
            notices.append(Notice("prompt_cut", say(
                "the prompt was {n} tokens, more than fit in the model's context window of {ctx} tokens: only its "
                "last {kept} tokens were used.", "프롬프트가 {n} 토큰으로 모델의 문맥 창({ctx} 토큰)에 들어가지 않아 "
                "마지막 {kept} 토큰만 썼습니다.", n=n, ctx=ctx, kept=len(ids)),
                {"tokens": n, "kept": len(ids), "context": ctx}))
        new = min(new, ctx - len(ids))
        if new < max_new_tokens:
            notices.append(Notice("reply_shortened", say(
                "the reply may be at most {new} tokens (asked: {asked}) so that prompt and reply fit in the context "
                "window of {ctx}.", "프롬프트와 답이 문맥 창({ctx} 토큰)에 함께 들어가도록 답은 최대 {new} 토큰까지만 "
                "생성합니다 (요청: {asked}).", new=new, asked=max_new_tokens, ctx=ctx),
                {"asked": max_new_tokens, "new": new, "context": ctx}))
    return Prompt(ids=ids, mode=mode, max_new_tokens=max(1, new), notices=notices)


# -- generation ----------------------------------------------------------------------------
class SeededSampler(LogitsProcessor):
    """Draw the next token with the reply's own torch.Generator, then hand greedy search a one-hot score.

    Why: transformers' sampling draws from torch's one global generator, so two replies sampling at the
    same time (two users, or side by side) would disturb each other's seeded randomness. With the
    same seed this draws exactly what `generate(do_sample=True)` after `torch.manual_seed(seed)` draws
    (same warpers in the same order, same multinomial), but per reply."""

    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def __call__(self, input_ids, scores):
        probs = torch.softmax(scores.float(), dim=-1)
        if probs.device != self.generator.device:  # e.g. Apple MPS: draw on the CPU generator
            nxt = torch.multinomial(probs.cpu(), num_samples=1, generator=self.generator).to(scores.device)
        else:
            nxt = torch.multinomial(probs, num_samples=1, generator=self.generator)
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(1, nxt, 0.0)


class StopOnEvent(StoppingCriteria):
    """Ends generation at the next token once the Stop button (or a closed connection) sets the event."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


@dataclass
class StreamTimes:
    start: float = 0.0
    first: float = 0.0
    last: float = 0.0
    tokens: int = 0


class CountingStreamer(TextIteratorStreamer):
    """A TextIteratorStreamer that also times the first token and counts generated tokens."""

    def __init__(self, tokenizer, times: StreamTimes, **kw):
        super().__init__(tokenizer, **kw)
        self.times = times

    def put(self, value):
        if not self.next_tokens_are_prompt:
            now = time.perf_counter()
            if not self.times.first:
                self.times.first = now
            self.times.last = now
            self.times.tokens += int(value.numel())
        super().put(value)


def sampling_processors(params: SamplingParams, generator: torch.Generator) -> LogitsProcessorList:
    """transformers' own warpers, in generate()'s order (temperature, top-k, top-p), then the seeded draw."""
    if params.temperature == 0:
        return LogitsProcessorList()  # greedy
    procs = LogitsProcessorList()
    if params.temperature != 1.0:
        procs.append(TemperatureLogitsWarper(params.temperature))
    if params.top_k:
        procs.append(TopKLogitsWarper(top_k=params.top_k))
    if params.top_p < 1.0:
        procs.append(TopPLogitsWarper(top_p=params.top_p))
    procs.append(SeededSampler(generator))
    return procs


class Run:
    """model.generate in a thread, feeding a streamer that the caller reads."""

    def __init__(self, lm: LoadedModel, prompt: Prompt, params: SamplingParams, seed: int, stop: threading.Event):
        self.times = StreamTimes()
        self.error: BaseException | None = None
        self.finished = False
        self.streamer = CountingStreamer(lm.tokenizer, self.times, skip_prompt=True, skip_special_tokens=True)
        gen_device = lm.device if lm.device.startswith("cuda") else "cpu"
        generator = torch.Generator(device=gen_device).manual_seed(seed)
        input_ids = torch.tensor([prompt.ids], device=lm.device)
        self.kwargs = dict(
            input_ids=input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=prompt.max_new_tokens,
            do_sample=False, temperature=None, top_p=None, top_k=None,
            repetition_penalty=params.repetition_penalty if params.repetition_penalty != 1.0 else None,
            logits_processor=sampling_processors(params, generator),
            stopping_criteria=StoppingCriteriaList([StopOnEvent(stop)]),
            eos_token_id=(lm.eos_ids + (lm.turn_end_ids if prompt.mode == "chat" else [])) or None,
            pad_token_id=lm.pad_id, streamer=self.streamer)
        self.model = lm.model
        self.thread = threading.Thread(target=self._work, daemon=True, name="chat-generate")

    def _work(self) -> None:
        try:
            with torch.inference_mode():
                self.model.generate(**self.kwargs)
        except BaseException as e:  # noqa: BLE001 - reported to the reader
            self.error = UserError(say("generation failed: {e}", "생성에 실패했습니다: {e}", e=describe_exception(e)))
            self.streamer.end()
        finally:
            self.finished = True

    def pieces(self):
        while True:
            try:
                piece = self.streamer.text_queue.get(timeout=0.5)
            except queue.Empty:
                if not self.thread.is_alive():
                    return
                continue
            if piece is self.streamer.stop_signal:
                return
            if piece:
                yield piece

    def join(self) -> None:
        self.thread.join()


def start(lm: LoadedModel, prompt: Prompt, params: SamplingParams, seed: int, stop: threading.Event) -> Run:
    run = Run(lm, prompt, params, seed, stop)
    run.times.start = time.perf_counter()
    run.thread.start()
    return run
