"""An OpenAI-compatible HTTP API on the chat engine: POST /v1/chat/completions (streaming or not), GET /v1/models.

Mounted into the app with `python app.py --api`, or served alone with
`python -m workbench chat --set serve=true --set port=8000`. The `model` field names an artifact
(name, kind/name or id). Sampling: temperature, top_p, max_tokens / max_completion_tokens, seed,
plus the extensions top_k, repetition_penalty and mode ("auto", "chat", "continue"). Each response
carries a `workbench` object with time to first token, tokens/s, the mode and any notices.
If the environment variable WORKBENCH_API_KEY is set, requests need `Authorization: Bearer <key>`.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import threading
import time
import uuid
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..errors import UserError
from .engine import ChatEngine, Generation, SamplingParams, pump
from .limits import LIMITS
from .models import CHAT_KINDS, ModelNotFound, list_models, resolve

log = logging.getLogger("workbench.chat.api")

API_DEFAULTS = SamplingParams(temperature=1.0, top_p=1.0, top_k=0, repetition_penalty=1.0, max_new_tokens=256, seed=-1)
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 type_: str = "invalid_request_error"):
        super().__init__(message)
        # a Text (e.g. a limit's refusal) carries Korean too; the JSON holds its English, as OpenAI clients expect
        self.status, self.message, self.param, self.code, self.type = status, str(message), param, code, type_

    def response(self) -> JSONResponse:
        return JSONResponse({"error": {"message": self.message, "type": self.type, "param": self.param,
                                       "code": self.code}}, status_code=self.status)


def _number(body: dict, key: str, setting: str, default):
    """A sampling value of the request, checked against the chat's limits (limits.py: the same as the UI's)."""
    v = body.get(key)
    if v is None:
        return default
    limit = LIMITS[setting]
    kind = limit.kind
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind is int and not float(v).is_integer()):
        raise ApiError(400, f"'{key}' must be {'an integer' if kind is int else 'a number'}", key, "invalid_type")
    if not limit.allows(v):
        raise ApiError(400, limit.refusal(f"'{key}'", v), key, "invalid_value")
    return kind(v)


def _text(content: Any, i: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise ApiError(400, f"messages[{i}].content: only text parts are supported", f"messages[{i}].content",
                               "unsupported_content")
            parts.append(str(part.get("text", "")))
        return "".join(parts)
    if content is None:
        return ""
    raise ApiError(400, f"messages[{i}].content must be a string or a list of text parts", f"messages[{i}].content",
                   "invalid_type")


def parse_request(body: Any) -> dict:
    """Validate an OpenAI chat completion request; returns what the engine needs. Raises ApiError."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ApiError(400, "'model' is required: the name of a model artifact (GET /v1/models lists them)", "model",
                       "missing_model")
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise ApiError(400, "'messages' must be a non-empty list of {role, content}", "messages", "invalid_messages")
    messages, system = [], []
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            raise ApiError(400, f"messages[{i}].role must be one of {sorted(_ROLES)}", f"messages[{i}].role",
                           "invalid_role")
        role, text = _ROLES[m["role"]], _text(m.get("content"), i)
        (system if role == "system" else messages).append({"role": role, "content": text})
    if not messages or messages[-1]["role"] != "user":
        raise ApiError(400, "the last message must come from the user", "messages", "invalid_messages")
    if not messages[-1]["content"].strip():
        raise ApiError(400, "the last user message is empty: send some text", "messages", "empty_message")
    if body.get("n", 1) != 1:
        raise ApiError(400, "only n=1 is supported", "n", "unsupported_value")
    if body.get("stop"):
        raise ApiError(400, "stop sequences are not supported by this server", "stop", "unsupported_value")
    if body.get("tools") or body.get("functions"):
        raise ApiError(400, "tools/function calling are not supported by this server", "tools", "unsupported_value")
    tokens_key = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    params = SamplingParams(
        temperature=_number(body, "temperature", "temperature", API_DEFAULTS.temperature),
        top_p=_number(body, "top_p", "top_p", API_DEFAULTS.top_p),
        top_k=_number(body, "top_k", "top_k", API_DEFAULTS.top_k),
        repetition_penalty=_number(body, "repetition_penalty", "repetition_penalty", API_DEFAULTS.repetition_penalty),
        max_new_tokens=_number(body, tokens_key, "max_new_tokens", API_DEFAULTS.max_new_tokens),
        seed=_number(body, "seed", "seed", API_DEFAULTS.seed),
    )
    mode = body.get("mode", "auto")
    if mode not in ("auto", "chat", "continue"):
        raise ApiError(400, "'mode' must be auto, chat or continue", "mode", "invalid_value")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be true or false", "stream", "invalid_type")
    opts = body.get("stream_options") or {}
    return {"model": model.strip(), "messages": [{"role": "system", "content": "\n\n".join(s["content"] for s in system)}]
            * bool(system) + messages, "params": params, "mode": mode, "stream": stream,
            "include_usage": bool(isinstance(opts, dict) and opts.get("include_usage"))}


def _extension(gen: Generation) -> dict:
    s = gen.stats
    return {"ttft_s": s.get("ttft_s"), "tokens_per_s": s.get("tokens_per_s"), "mode": gen.mode, "seed": gen.seed,
            "notices": [n.text for n in gen.notices], "artifact": gen.lm.ref.label,
            "quantization": ((gen.lm.ref.meta or {}).get("quantization") or {}).get("method")}


def _usage(gen: Generation) -> dict:
    p, c = gen.stats.get("prompt_tokens", 0), gen.stats.get("tokens", 0)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _finish_reason(gen: Generation) -> str:
    return "length" if gen.stats.get("finish_reason") == "length" else "stop"


def create_router(engine: ChatEngine, ws, *, api_key: str | None = None) -> APIRouter:
    router = APIRouter()

    def authorized(request: Request) -> bool:
        if not api_key:
            return True
        got = request.headers.get("authorization", "")
        return got.startswith("Bearer ") and secrets.compare_digest(got[7:].strip(), api_key)

    def unauthorized() -> JSONResponse:
        return ApiError(401, "missing or wrong API key: send 'Authorization: Bearer <key>' (WORKBENCH_API_KEY)",
                        code="invalid_api_key", type_="authentication_error").response()

    @router.get("/v1/models")
    async def models(request: Request):
        if not authorized(request):
            return unauthorized()
        data = [{"id": m.name, "object": "model", "created": 0, "owned_by": "workbench", "kind": m.kind,
                 "artifact_id": m.artifact_id, "chat_model": bool(m.meta.get("chat_model")),
                 "quantization": (m.meta.get("quantization") or {}).get("method")} for m in list_models(ws)]
        return {"object": "list", "data": data}

    @router.post("/v1/chat/completions")
    async def completions(request: Request):
        if not authorized(request):
            return unauthorized()
        try:
            try:
                body = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise ApiError(400, "the request body is not valid JSON") from None
            req = parse_request(body)
            try:
                ref = resolve(ws, req["model"])
                stop = threading.Event()
                gen = await run_in_threadpool(engine.chat, ref, req["messages"], mode=req["mode"],
                                              params=req["params"], stop=stop)
            except ModelNotFound as e:
                raise ApiError(404, str(e), "model", "model_not_found") from None
            except UserError as e:
                raise ApiError(400, str(e), "model", "model_unavailable") from None
        except ApiError as e:
            return e.response()
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if not req["stream"]:
            try:
                await run_in_threadpool(gen.run_to_end)
            except UserError as e:
                return ApiError(500, str(e), code="generation_failed", type_="server_error").response()
            return {"id": cid, "object": "chat.completion", "created": created, "model": req["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": gen.text},
                                 "finish_reason": _finish_reason(gen)}],
                    "usage": _usage(gen), "workbench": _extension(gen)}
        return StreamingResponse(_sse(gen, cid, created, req), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return router


async def _sse(gen: Generation, cid: str, created: int, req: dict):
    """Server-sent events in OpenAI's chunk format, ending with `data: [DONE]`."""
    loop = asyncio.get_running_loop()
    q: asyncio.Queue = asyncio.Queue()
    pump(gen, lambda item: loop.call_soon_threadsafe(q.put_nowait, item))

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        obj = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": req["model"],
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"

    try:
        yield chunk({"role": "assistant", "content": ""})
        while True:
            _, piece, error = await q.get()
            if error is not None:
                err = {"message": str(error), "type": "server_error", "param": None, "code": "generation_failed"}
                yield f"data: {json.dumps({'error': err}, ensure_ascii=False)}\n\n"
                break
            if piece is None:
                yield chunk({}, _finish_reason(gen), workbench=_extension(gen))
                if req["include_usage"]:
                    obj = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": req["model"],
                           "choices": [], "usage": _usage(gen)}
                    yield f"data: {json.dumps(obj)}\n\n"
                break
            yield chunk({"content": piece})
        yield "data: [DONE]\n\n"
    finally:
        if not gen.done:
            gen.stop_event.set()  # the client went away: stop the model (its thread frees the slot)


def create_app(engine: ChatEngine, ws, *, api_key: str | None = None) -> FastAPI:
    app = FastAPI(title="Korean LLM Workbench: OpenAI-compatible chat API", docs_url=None, redoc_url=None)
    app.include_router(create_router(engine, ws, api_key=api_key))
    return app


def api_key_from_env() -> str | None:
    return os.environ.get("WORKBENCH_API_KEY") or None


__all__ = ["create_router", "create_app", "parse_request", "ApiError", "api_key_from_env", "CHAT_KINDS"]
