"""`python -m workbench chat`: one reply from a model artifact, or serve the OpenAI-compatible API.

    python -m workbench chat --set model=my-model --set message="대한민국의 수도는?"
    python -m workbench chat --set serve=true --set port=8000      # until Ctrl-C

The reply streams to stderr as it is generated; the last stdout line is JSON with the reply,
time to first token, tokens/s and token count.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass
from typing import Literal

from ..config import StageConfig, param
from ..i18n import Text, say
from ..stages import Stage
from .limits import LIMITS

log = logging.getLogger("workbench.chat")

# a reply's mode, in the progress message: the value in English, its name in Korean
MODE_NAMES = {"chat": Text("chat", "채팅"), "continue": Text("continue", "이어쓰기")}


@dataclass
class ChatConfig(StageConfig):
    model: str = param("", ko="모델", en="Model",
                       help_ko="모델 산출물의 이름, kind/이름, 번호 또는 폴더",
                       help_en="a model artifact's name, kind/name, id, or a model folder")
    message: str = param("", ko="메시지", en="Message", multiline=True)
    system: str = param("", ko="시스템 프롬프트", en="System prompt", multiline=True,
                        help_ko="채팅 모드에서 대화 맨 앞에 놓이는 지시문", help_en="instructions put before the conversation (chat mode)")
    mode: Literal["auto", "chat", "continue"] = param(
        "auto", ko="모드", en="Mode",
        help_ko="auto: 채팅 모델(workbench.json의 chat_model)은 채팅 템플릿, 기본 모델은 이어쓰기",
        help_en="auto: chat template for chat models (workbench.json chat_model), plain continuation for base models")
    temperature: float = param(0.7, ko="온도", en="Temperature", step=0.05, **LIMITS["temperature"].bounds(),
                               help_ko="0이면 항상 가장 확률 높은 토큰 (탐욕 디코딩)", help_en="0 = always the most likely token (greedy)")
    top_p: float = param(0.9, ko="top-p", en="Top-p", step=0.01, **LIMITS["top_p"].bounds(),
                         help_ko="누적 확률 p 안의 토큰에서만 뽑기", help_en="sample only from the smallest set of tokens with probability p")
    top_k: int = param(50, ko="top-k", en="Top-k", **LIMITS["top_k"].bounds(),
                       help_ko="확률 상위 k개 토큰에서만 뽑기 (0: 끔)", help_en="sample only from the k most likely tokens (0: off)")
    repetition_penalty: float = param(1.1, ko="반복 벌점", en="Repetition penalty", step=0.05,
                                      **LIMITS["repetition_penalty"].bounds(),
                                      help_ko="1이면 끔; 클수록 이미 나온 토큰을 덜 씀", help_en="1 = off; higher avoids tokens already used")
    max_new_tokens: int = param(128, ko="최대 생성 토큰", en="Max new tokens", **LIMITS["max_new_tokens"].bounds())
    seed: int = param(-1, ko="시드", en="Seed", **LIMITS["seed"].bounds(),
                      help_ko="-1이면 답마다 새 시드 (사용한 시드는 답 아래 표시)",
                      help_en="-1 = a new seed per reply (the seed used is shown under the reply)")
    device: Literal["auto", "cpu", "cuda", "mps"] = param("auto", ko="장치", en="Device", advanced=True)
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = param(
        "auto", ko="정밀도", en="Dtype", advanced=True, help_ko="auto: CPU는 float32, GPU는 bfloat16/float16",
        help_en="auto: float32 on CPU, bfloat16/float16 on GPU")
    cache_mb: int = param(4096, ko="모델 캐시 (MB)", en="Model cache (MB)", min=1, advanced=True,
                          help_ko="메모리에 함께 둘 모델들의 최대 크기; 넘으면 가장 오래 안 쓴 모델부터 내림",
                          help_en="most memory the loaded models may use together; the least recently used goes first")
    max_concurrent: int = param(2, ko="동시 생성 수", en="Concurrent replies", min=1, max=64, advanced=True,
                                help_ko="동시에 생성하는 답의 수; 나머지는 온 순서대로 기다림",
                                help_en="replies generated at once; the rest wait in arrival order")
    threads: int = param(0, ko="CPU 스레드", en="CPU threads", min=0, max=256, advanced=True,
                         help_ko="0이면 torch 기본값", help_en="0 = torch's default")
    serve: bool = param(False, ko="API 서버로 실행", en="Serve the API", advanced=True,
                        help_ko="OpenAI 호환 /v1/chat/completions를 중지할 때까지 제공",
                        help_en="serve the OpenAI-compatible /v1/chat/completions until stopped")
    host: str = param("127.0.0.1", ko="API 주소", en="API host", advanced=True)
    port: int = param(8000, ko="API 포트", en="API port", min=1, max=65535, advanced=True)

    def check(self):
        errors = []
        if not self.serve:
            if not self.model.strip():
                errors.append(("model", say("is empty: name a model artifact, e.g. --set model=my-model "
                                            "(train one with the pretrain stage first)",
                                            "비어 있습니다. 모델 산출물 이름을 쓰세요. 예: --set model=my-model "
                                            "(먼저 pretrain 단계로 모델을 학습하세요)")))
            if not self.message.strip():
                errors.append(("message", say("is empty: give the text to send, e.g. --set message=안녕하세요",
                                              "비어 있습니다. 보낼 글을 쓰세요. 예: --set message=안녕하세요")))
        return errors

    def sampling(self):
        from .engine import SamplingParams
        return SamplingParams(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
                              repetition_penalty=self.repetition_penalty, max_new_tokens=self.max_new_tokens,
                              seed=self.seed)


def run(cfg: ChatConfig, ctx) -> dict:
    from .engine import ChatEngine, messages_from
    from .models import resolve

    engine = ChatEngine.from_config(cfg)
    if cfg.serve:
        return serve(cfg, ctx, engine)
    ref = resolve(ctx.ws, cfg.model)
    stop = threading.Event()
    ctx.progress(0, 1, say("loading {m}", "{m} 불러오는 중", m=ref.label))
    gen = engine.chat(ref, messages_from([], cfg.message, cfg.system), mode=cfg.mode, params=cfg.sampling(), stop=stop)
    for n in gen.notices:
        log.warning("%s", n.text)
    before = len(gen.notices)
    ctx.progress(0, 1, say("generating ({m} mode)", "생성 중 ({m} 모드)", m=MODE_NAMES.get(gen.mode, gen.mode)))
    for piece in gen:
        sys.stderr.write(piece)
        sys.stderr.flush()
        if ctx.should_stop:
            stop.set()
    sys.stderr.write("\n")
    for n in gen.notices[before:]:  # found once the reply ended (an empty reply says why)
        log.warning("%s", n.text)
    s = gen.stats
    ctx.metrics(0, {k: s[k] for k in ("ttft_s", "tokens_per_s", "tokens", "prompt_tokens") if s.get(k) is not None},
                flush=True)
    ctx.event("chat", {"model": ref.label, "message": cfg.message, "reply": gen.text, "stats": s})
    ctx.progress(1, 1, say("done", "완료"))
    return {"reply": gen.text, "notices": [n.text for n in gen.notices], **s}


def serve(cfg: ChatConfig, ctx, engine) -> dict:
    """Serve the OpenAI-compatible API with uvicorn until the run is stopped (Ctrl-C / SIGTERM / Stop)."""
    import uvicorn

    from . import generation  # noqa: F401  torch + transformers now, not in two request threads at once
    from .api import api_key_from_env, create_app

    app = create_app(engine, ctx.ws, api_key=api_key_from_env())
    server = uvicorn.Server(uvicorn.Config(app, host=cfg.host, port=cfg.port, log_level="warning"))
    server.install_signal_handlers = lambda: None  # the run context owns SIGTERM/SIGINT (they set should_stop)
    th = threading.Thread(target=server.run, daemon=True, name="chat-api")
    th.start()
    url = f"http://{cfg.host}:{cfg.port}/v1/chat/completions"
    while not server.started and th.is_alive():
        time.sleep(0.05)
    if not th.is_alive():
        from ..errors import UserError
        raise UserError(say("cannot serve on {host}:{port} (is the port in use?): pick another with --set port=...",
                            "{host}:{port} 에서 API를 열 수 없습니다 (포트가 이미 쓰이고 있나요?). "
                            "--set port=... 로 다른 포트를 고르세요", host=cfg.host, port=cfg.port))
    log.info("OpenAI-compatible API at %s (stop with Ctrl-C)", url)
    print(f"serving {url}", file=sys.stderr, flush=True)
    ctx.progress(0, None, say("serving {url}", "{url} 에서 API 제공 중", url=url))
    while not ctx.should_stop and th.is_alive():
        time.sleep(0.2)
    server.should_exit = True
    th.join(timeout=10)
    return {"url": url, "served": True}


STAGE = Stage(name="chat", config=ChatConfig, run=run,
              help="Generate one reply from a model artifact (streamed to stderr; JSON summary on stdout), "
                   "or with serve=true serve the OpenAI-compatible /v1/chat/completions until stopped.",
              device=lambda cfg: cfg.device if cfg.device.startswith("cuda") else "cpu")


# Engine settings of the app's chat tab and API come from ChatConfig's defaults, overridable per
# machine with environment variables (e.g. WORKBENCH_CHAT_CACHE_MB=16000 WORKBENCH_CHAT_DEVICE=cuda).
_ENV_FIELDS = ("device", "dtype", "cache_mb", "max_concurrent", "threads")


def app_config(environ=None) -> ChatConfig:
    import os
    env = os.environ if environ is None else environ
    updates = {f: env[f"WORKBENCH_CHAT_{f.upper()}"] for f in _ENV_FIELDS if env.get(f"WORKBENCH_CHAT_{f.upper()}")}
    from ..config import ConfigError
    try:
        cfg = ChatConfig().replace(**updates)
        cfg.validate()
    except ConfigError as e:
        bad = [(f"WORKBENCH_CHAT_{f.upper()}", m) for f, m in e.errors if f in _ENV_FIELDS]
        if bad:
            raise ConfigError(bad) from None
    return cfg
