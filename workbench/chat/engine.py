"""The chat engine shared by every browser session and the HTTP API of one app.

- `ModelCache`: one loaded model per artifact, least-recently-used first out when the
  memory limit is passed (a model in use by a reply stays alive until that reply ends).
- `FairSlots`: at most N replies generate at once; the rest wait first-come first-served
  (the UI's Gradio queue is FIFO too; the API goes through the same slots).
- `ChatEngine.chat(...)` returns a `Generation`: iterate it for text pieces as they stream;
  afterwards `.text`, `.stats` (time to first token, tokens/s, token count) and `.notices`.

No torch at import time (the tab builds an engine while the app starts); the torch parts
are in generation.py and load on first use.
"""
from __future__ import annotations

import collections
import gc
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from ..errors import UserError
from ..i18n import join, say
from .limits import LIMITS, refusals
from .models import ModelRef

log = logging.getLogger("workbench.chat")

MODES = ("auto", "chat", "continue")


@dataclass
class SamplingParams:
    temperature: float = 0.7        # 0 = greedy
    top_p: float = 0.9
    top_k: int = 50                 # 0 = off
    repetition_penalty: float = 1.1
    max_new_tokens: int = 128
    seed: int = -1                  # -1 = a fresh random seed per reply (reported in the stats)

    def check(self) -> None:
        """Refuse settings outside the limits of limits.py (the same ones the config form and the API use)."""
        bad = refusals({k: getattr(self, k) for k in LIMITS})
        if bad:
            raise UserError(join("; ", bad))


@dataclass
class Notice:
    """Something the user should know about a reply (e.g. the prompt was truncated).

    `code` and `values` let the UI word it its own way; `text` is a Text (English, with `.ko`)."""
    code: str
    text: str
    values: dict = field(default_factory=dict)


def empty_reply_notice(mode: str, tokens: int) -> Notice:
    """Why a reply that ended by itself is empty, and what to try (a weakly trained model often ends at once)."""
    why = (say("the model ended it at once (its first token was an end token)",
               "모델이 첫 토큰으로 끝 토큰을 내어 바로 끝났습니다") if tokens <= 1 else
           say("the model produced only end or special tokens", "모델이 끝 토큰이나 특수 토큰만 냈습니다"))
    if mode == "chat":
        fix = say("try continuation mode, a higher temperature, or a model trained longer",
                  "이어쓰기 모드, 더 높은 온도, 더 오래 학습한 모델을 써 보세요")
    else:
        fix = say("try a higher temperature, a longer or different message, or a model trained longer",
                  "더 높은 온도, 더 길거나 다른 메시지, 더 오래 학습한 모델을 써 보세요")
    return Notice("empty_reply", say("The reply is empty: {why}. A weakly trained model often does this: {fix}.",
                                     "답이 비어 있습니다: {why}. 학습이 덜 된 모델에서 흔히 생깁니다. {fix}.",
                                     why=why, fix=fix), {"mode": mode, "tokens": tokens})


class FairSlots:
    """A first-come first-served counting semaphore (threading.Semaphore makes no order promise)."""

    def __init__(self, n: int):
        self.n = max(1, int(n))
        self._cond = threading.Condition()
        self._busy = 0
        self._tickets: collections.deque[int] = collections.deque()
        self._next = 0

    def acquire(self, stop: threading.Event | None = None) -> bool:
        with self._cond:
            ticket = self._next
            self._next += 1
            self._tickets.append(ticket)
            try:
                while not (self._busy < self.n and self._tickets[0] == ticket):
                    if stop is not None and stop.is_set():
                        return False
                    self._cond.wait(0.1)
                self._busy += 1
                return True
            finally:
                self._tickets.remove(ticket)
                self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    @property
    def busy(self) -> int:
        return self._busy

    @property
    def waiting(self) -> int:
        return len(self._tickets)


@dataclass
class LoadedModel:
    key: tuple
    ref: ModelRef
    model: Any
    tokenizer: Any
    device: str
    nbytes: int
    context: int | None
    chat_model: bool
    has_template: bool
    load_seconds: float
    eos_ids: list[int]
    pad_id: int | None
    turn_end_ids: list[int] = field(default_factory=list)  # also end a reply in chat mode (e.g. <|im_end|>)
    last_used: float = 0.0


class ModelCache:
    """Loaded models by folder (+ weights mtime, so a re-published artifact reloads), LRU under a byte limit."""

    def __init__(self, max_bytes: int, loader):
        self.max_bytes = int(max_bytes)
        self._loader = loader
        self._items: "collections.OrderedDict[tuple, LoadedModel]" = collections.OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple, threading.Lock] = {}
        self.evictions = 0

    @staticmethod
    def key(ref: ModelRef) -> tuple:
        stamp = []
        for name in ("model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors", "config.json"):
            p = ref.path / name
            if p.is_file():
                st = p.stat()
                stamp.append((name, st.st_mtime_ns, st.st_size))
        return (str(ref.path), tuple(stamp))

    def get(self, ref: ModelRef) -> tuple[LoadedModel, bool]:
        """The loaded model for a reference, and whether it was loaded by this call."""
        key = self.key(ref)
        with self._lock:
            lm = self._items.get(key)
            if lm is not None:
                self._items.move_to_end(key)
                lm.last_used = time.time()
                return lm, False
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # two users asking for the same model load it once
            with self._lock:
                lm = self._items.get(key)
                if lm is not None:
                    self._items.move_to_end(key)
                    return lm, False
            try:
                lm = self._loader(ref, key)
            except BaseException:
                with self._lock:
                    self._key_locks.pop(key, None)
                raise
            lm.last_used = time.time()
            with self._lock:
                # an older version of the same folder (the artifact was overwritten) goes first
                for k in [k for k in self._items if k[0] == key[0]]:
                    del self._items[k]
                self._items[key] = lm
                self._evict_locked(keep=key)
                self._key_locks.pop(key, None)
        return lm, True

    def _evict_locked(self, keep: tuple) -> None:
        evicted = False
        while self.total_bytes > self.max_bytes and len(self._items) > 1:
            k = next(iter(self._items))
            if k == keep:
                break
            old = self._items.pop(k)
            log.info("chat cache: unloading %s (%.1f MB) to stay under %.0f MB", old.ref.label, old.nbytes / 2**20,
                     self.max_bytes / 2**20)
            self.evictions += 1
            evicted = True
        if evicted:
            _free_memory()

    @property
    def total_bytes(self) -> int:
        return sum(m.nbytes for m in self._items.values())

    def loaded(self) -> list[LoadedModel]:
        with self._lock:
            return list(reversed(self._items.values()))  # most recently used first

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
        _free_memory()


def _free_memory() -> None:
    gc.collect()
    try:
        import torch
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


class ChatEngine:
    """Models, slots and generation for every chat of one process (the app, or a CLI server)."""

    def __init__(self, *, cache_mb: int = 4096, max_concurrent: int = 2, device: str = "auto", dtype: str = "auto",
                 threads: int = 0):
        self.device_pref, self.dtype_pref, self.threads = device, dtype, threads
        self.cache = ModelCache(cache_mb * 2**20, self._load)
        self.slots = FairSlots(max_concurrent)
        self.recent: collections.deque[dict] = collections.deque(maxlen=100)  # stats of the last replies
        self._threads_set = False

    @classmethod
    def from_config(cls, cfg) -> "ChatEngine":
        return cls(cache_mb=cfg.cache_mb, max_concurrent=cfg.max_concurrent, device=cfg.device, dtype=cfg.dtype,
                   threads=cfg.threads)

    def _load(self, ref: ModelRef, key: tuple) -> LoadedModel:
        from . import generation
        if self.threads and not self._threads_set:
            import torch
            torch.set_num_threads(self.threads)
            self._threads_set = True
        return generation.load_model(ref, key, self.device_pref, self.dtype_pref)

    def load(self, ref: ModelRef) -> tuple[LoadedModel, bool]:
        return self.cache.get(ref)

    def chat(self, ref: ModelRef, messages: list[dict], *, mode: str = "auto", params: SamplingParams | None = None,
             stop: threading.Event | None = None) -> "Generation":
        """Prepare one reply (loads the model, builds and fits the prompt; raises UserError on bad input).

        Iterate the result to generate; nothing runs on the model until then."""
        from . import generation
        params = params or SamplingParams()
        params.check()
        if mode not in MODES:
            raise UserError(say("mode '{mode}' is unknown: use one of {modes}",
                                "모드 '{mode}' 은(는) 없습니다. 다음 중 하나를 쓰세요: {modes}", mode=mode,
                                modes=", ".join(MODES)))
        t0 = time.perf_counter()
        lm, loaded_now = self.load(ref)
        load_s = time.perf_counter() - t0 if loaded_now else 0.0
        prompt = generation.build_prompt(lm, messages, mode, params.max_new_tokens)
        return Generation(self, lm, prompt, params, stop, load_s)

    def status(self) -> dict:
        return {"loaded": [{"model": m.ref.label, "mb": round(m.nbytes / 2**20, 1), "device": m.device}
                           for m in self.cache.loaded()],
                "cache_mb": round(self.cache.total_bytes / 2**20, 1), "cache_limit_mb": round(self.cache.max_bytes / 2**20),
                "busy": self.slots.busy, "waiting": self.slots.waiting, "slots": self.slots.n}


class Generation:
    """One reply. Iterating yields text pieces as the model produces them (the model runs in a thread
    feeding a TextIteratorStreamer); closing the iterator early stops the model."""

    def __init__(self, engine: ChatEngine, lm: LoadedModel, prompt, params: SamplingParams,
                 stop: threading.Event | None, load_s: float):
        self.engine, self.lm, self.prompt, self.params = engine, lm, prompt, params
        self.stop_event = stop or threading.Event()
        self.load_s = load_s
        self.text = ""
        self.stats: dict = {}
        self.notices: list[Notice] = list(prompt.notices)
        self.mode: str = prompt.mode
        self.times = None
        self.seed = params.seed if params.seed >= 0 else int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF
        self.done = False

    def __iter__(self) -> Iterator[str]:
        from . import generation
        t_wait = time.perf_counter()
        if not self.engine.slots.acquire(self.stop_event):
            self._finish(generation.StreamTimes(), 0.0, stopped_waiting=True)
            return
        queue_s = time.perf_counter() - t_wait
        run, read_all = None, False
        try:
            run = generation.start(self.lm, self.prompt, self.params, self.seed, self.stop_event)
            for piece in run.pieces():
                self.text += piece
                yield piece
            read_all = True
        finally:
            if run is not None:
                if not read_all:
                    self.stop_event.set()  # the reader went away (or failed): stop the model first
                run.join()
                self._finish(run.times, queue_s, failed=run.error is not None)
            self.engine.slots.release()
        if run.error is not None:
            raise run.error

    def _finish(self, t, queue_s: float, stopped_waiting: bool = False, failed: bool = False) -> None:
        if self.done:
            return
        self.times = t  # perf_counter() instants: start, first and last token (for benchmarks)
        n = t.tokens
        gen_s = (t.last - t.start) if (t.last and t.start) else 0.0
        if self.stop_event.is_set():
            finish = "stopped"
        elif n >= self.prompt.max_new_tokens:
            finish = "length"
        else:
            finish = "stop"
        self.stats = {
            "model": self.lm.ref.label, "mode": self.mode, "tokens": n, "prompt_tokens": len(self.prompt.ids),
            "ttft_s": round(t.first - t.start, 4) if t.first else None,
            "tokens_per_s": round(n / gen_s, 2) if gen_s > 0 else None,
            "decode_tokens_per_s": round((n - 1) / (t.last - t.first), 2) if n > 1 and t.last > t.first else None,
            "generate_s": round(gen_s, 4), "max_new_tokens": self.prompt.max_new_tokens, "seed": self.seed,
            "finish_reason": finish, "load_s": round(self.load_s, 3), "queue_s": round(queue_s, 3),
        }
        if stopped_waiting:
            self.stats["finish_reason"] = "stopped"
        elif finish == "stop" and not failed and not self.text.strip():
            self.notices.append(empty_reply_notice(self.mode, n))
        self.done = True
        self.engine.recent.append(self.stats)

    def run_to_end(self) -> "Generation":
        for _ in self:
            pass
        return self


def pump(gen: Generation, put, index: int = 0) -> threading.Thread:
    """Read a reply to its end in its own thread, handing each event to `put`.

    Events: (index, piece, None) for text, (index, None, None) at the end, (index, None, error) on failure.
    The reader never holds the generator, so a reader that goes away (a closed HTTP connection, a
    cancelled UI event) only sets the stop event; this thread still finishes the reply and frees its slot."""
    def work() -> None:
        try:
            for piece in gen:
                put((index, piece, None))
            put((index, None, None))
        except BaseException as e:  # noqa: BLE001 - reported to the reader
            put((index, None, e))

    t = threading.Thread(target=work, daemon=True, name=f"chat-reply-{index}")
    t.start()
    return t


def stream_together(gens: list[Generation]) -> Iterator[tuple[int, str | None, BaseException | None]]:
    """Run several replies at once (side-by-side models) and interleave their pieces as they come.

    Yields pump()'s events. Closing this iterator early stops every reply still running."""
    q: queue.Queue = queue.Queue()
    threads = [pump(g, q.put, i) for i, g in enumerate(gens)]
    open_ = len(gens)
    try:
        while open_:
            item = q.get()
            if item[1] is None:
                open_ -= 1
            yield item
    finally:
        for g in gens:
            if not g.done:
                g.stop_event.set()
        for t in threads:
            t.join(timeout=30)


def messages_from(history: Iterable[dict], message: str, system: str = "") -> list[dict]:
    """The message list of one turn: optional system prompt, earlier turns, the new user message."""
    out = [{"role": "system", "content": system}] if system and system.strip() else []
    out += [{"role": m["role"], "content": m["content"]} for m in history if m.get("role") in ("user", "assistant")]
    out.append({"role": "user", "content": message})
    return out
