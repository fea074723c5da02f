"""The OpenAI-compatible endpoint over real HTTP: non-streaming, SSE streaming, errors, API key, disconnects, serve."""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading

import pytest

from chat_fixtures import publish_endless_model, publish_tiny_model, tiny_model_dir
from conftest import ROOT, free_port, last_json, wait_for


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The API router on a real uvicorn server in this process (same engine object the test can inspect)."""
    import uvicorn

    from state import Workspace
    from workbench.chat.api import create_app
    from workbench.chat.engine import ChatEngine

    ws = Workspace(tmp_path_factory.mktemp("api") / "ws")
    tiny = tiny_model_dir()
    publish_tiny_model(ws, tiny, "tiny-chat", chat_model=True)
    publish_tiny_model(ws, tiny, "tiny-base", chat_model=False)
    publish_endless_model(ws, tiny, "tiny-long")
    staging = ws.staging_dir("model", "broken")
    (staging / "config.json").write_text("{}")
    ws.publish(staging, "model", "broken")
    engine = ChatEngine(threads=1)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(engine, ws, api_key=None), host="127.0.0.1", port=port,
                                        log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    wait_for(lambda: srv.started, 30, what="uvicorn to start")
    yield {"port": port, "engine": engine, "ws": ws}
    srv.should_exit = True
    th.join(10)


def post(port, body, path="/v1/chat/completions", headers=None, raw=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    data = raw if raw is not None else json.dumps(body).encode()
    conn.request("POST", path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    r = conn.getresponse()
    return r.status, r.getheader("content-type"), r.read().decode()


def sse_events(text):
    events = [ln[len("data: "):] for ln in text.splitlines() if ln.startswith("data: ")]
    assert events[-1] == "[DONE]", events[-3:]
    return [json.loads(e) for e in events[:-1]]


def test_models_and_non_streaming_completion(server):
    conn = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=30)
    conn.request("GET", "/v1/models")
    models = json.loads(conn.getresponse().read())
    ids = {m["id"]: m for m in models["data"]}
    assert {"tiny-chat", "tiny-base"} <= set(ids) and ids["tiny-chat"]["chat_model"] is True
    body = {"model": "tiny-chat", "messages": [{"role": "system", "content": "짧게 답하세요."},
                                               {"role": "user", "content": "국회는 무엇을 하나요?"}],
            "temperature": 0.8, "max_tokens": 40, "seed": 11}
    status, ctype, text = post(server["port"], body)
    assert status == 200 and ctype.startswith("application/json"), text
    r = json.loads(text)
    assert r["object"] == "chat.completion" and r["model"] == "tiny-chat"
    choice = r["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"].strip()
    assert choice["finish_reason"] in ("stop", "length")
    u = r["usage"]
    assert u["completion_tokens"] > 0 and u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    assert r["workbench"]["mode"] == "chat" and r["workbench"]["ttft_s"] > 0 and r["workbench"]["seed"] == 11
    # content parts are accepted too, and the same seed gives the same reply
    body["messages"][1]["content"] = [{"type": "text", "text": "국회는 무엇을 하나요?"}]
    assert json.loads(post(server["port"], body)[2])["choices"][0]["message"]["content"] == \
        choice["message"]["content"]


def test_streaming_sse_matches_the_non_streaming_reply(server):
    body = {"model": "tiny-base", "messages": [{"role": "user", "content": "대한민국은"}], "temperature": 0.7,
            "max_tokens": 30, "seed": 5, "stream": True, "stream_options": {"include_usage": True}}
    status, ctype, text = post(server["port"], body)
    assert status == 200 and ctype.startswith("text/event-stream")
    events = sse_events(text)
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    pieces = [e["choices"][0]["delta"].get("content", "") for e in events if e["choices"]]
    content_chunks = [p for p in pieces if p]
    assert len(content_chunks) > 1  # it streamed in several chunks
    final = [e for e in events if e["choices"] and e["choices"][0]["finish_reason"]]
    assert len(final) == 1 and final[0]["workbench"]["mode"] == "continue"
    usage = events[-1]["usage"]
    assert usage["completion_tokens"] > 0 and events[-1]["choices"] == []
    assert all(e["object"] == "chat.completion.chunk" and e["id"] == events[0]["id"] for e in events)
    body["stream"] = False
    whole = json.loads(post(server["port"], body)[2])["choices"][0]["message"]["content"]
    assert "".join(pieces) == whole


@pytest.mark.parametrize("body,status,code,param", [
    ({"model": "nope", "messages": [{"role": "user", "content": "hi"}]}, 404, "model_not_found", "model"),
    ({"model": "tiny-chat", "messages": []}, 400, "invalid_messages", "messages"),
    ({"model": "tiny-chat", "messages": [{"role": "user", "content": "  "}]}, 400, "empty_message", "messages"),
    ({"model": "tiny-chat", "messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}, 400,
     "invalid_type", "temperature"),
    ({"model": "tiny-chat", "messages": [{"role": "user", "content": "hi"}], "top_p": 3}, 400, "invalid_value",
     "top_p"),
    ({"model": "tiny-chat", "messages": [{"role": "tool", "content": "x"}]}, 400, "invalid_role", "messages[0].role"),
    ({"model": "tiny-chat", "messages": [{"role": "user", "content": "hi"}], "n": 2}, 400, "unsupported_value", "n"),
    ({"messages": [{"role": "user", "content": "hi"}]}, 400, "missing_model", "model"),
    ({"model": "broken", "messages": [{"role": "user", "content": "hi"}]}, 400, "model_unavailable", "model"),
])
def test_bad_requests_get_openai_style_errors(server, body, status, code, param):
    got, _, text = post(server["port"], body)
    err = json.loads(text)["error"]
    assert got == status and err["code"] == code and err["param"] == param and err["message"]


def test_invalid_json_and_api_key(server, monkeypatch):
    got, _, text = post(server["port"], None, raw=b"{not json")
    assert got == 400 and "not valid JSON" in json.loads(text)["error"]["message"]
    import uvicorn

    from workbench.chat.api import create_app
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(server["engine"], server["ws"], api_key="s3cret"),
                                        host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    wait_for(lambda: srv.started, 30)
    try:
        body = {"model": "tiny-chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
        got, _, text = post(port, body)
        assert got == 401 and json.loads(text)["error"]["type"] == "authentication_error"
        assert post(port, body, headers={"Authorization": "Bearer wrong"})[0] == 401
        assert post(port, body, headers={"Authorization": "Bearer s3cret"})[0] == 200
    finally:
        srv.should_exit = True
        th.join(10)


def test_client_disconnect_stops_generation_and_frees_the_slot(server):
    engine = server["engine"]
    body = {"model": "tiny-long", "messages": [{"role": "user", "content": "대한민국은"}], "temperature": 0,
            "repetition_penalty": 1.0, "max_tokens": 4000, "stream": True}
    conn = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=30)
    conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200
    r.fp.readline()  # the first event arrived: generation is running
    wait_for(lambda: engine.slots.busy == 1, 10, what="a busy slot")
    conn.sock.shutdown(2)
    conn.close()
    wait_for(lambda: engine.slots.busy == 0, 20, what="the slot to be freed after the client left")
    last = engine.recent[-1]
    assert last["finish_reason"] == "stopped" and last["tokens"] < last["max_new_tokens"]


def test_serve_from_the_cli_until_stopped(server, tmp_path):
    port = free_port()
    env = dict(os.environ, WORKBENCH_API_KEY="")
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "chat", "--workspace", str(server["ws"].root),
                             "--set", "serve=true", "--set", f"port={port}", "--set", "threads=1"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        def up():
            try:
                return post(port, {"model": "tiny-chat", "messages": [{"role": "user", "content": "안녕"}],
                                   "max_tokens": 5, "seed": 1})
            except OSError:
                return None
        status, _, text = wait_for(up, 90, interval=0.5, what="the CLI server to answer")
        assert status == 200 and json.loads(text)["usage"]["completion_tokens"] > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    res = last_json(out)
    assert res["url"].endswith(f":{port}/v1/chat/completions") and res["status"] == "stopped", err[-2000:]


@pytest.mark.parametrize("setting", ["temperature", "top_p", "top_k", "repetition_penalty", "max_new_tokens", "seed"])
def test_sampling_limits_agree_in_the_config_the_engine_and_the_api(setting):
    """One table (workbench/chat/limits.py): the form/config, SamplingParams.check and the API refuse the same
    values just outside it, naming the same bound, and accept its bounds."""
    from workbench.chat.api import ApiError, parse_request
    from workbench.chat.engine import SamplingParams
    from workbench.chat.limits import LIMITS
    from workbench.chat.stage import ChatConfig
    from workbench.config import ConfigError
    from workbench.errors import UserError

    lim = LIMITS[setting]
    meta = ChatConfig.field_info(setting).meta
    assert (meta["min"], meta["max"]) == (lim.lo, lim.hi)
    key = "max_tokens" if setting == "max_new_tokens" else setting
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    cfg = ChatConfig(model="m", message="hi")
    step = 1 if lim.kind is int else 0.01
    for bad, bound, word in ((lim.hi + step, lim.hi, "maximum"), (lim.lo - step, lim.lo, "minimum")):
        with pytest.raises(ConfigError) as e:
            cfg.replace(**{setting: bad}).validate()
        [(field, msg)] = e.value.errors
        assert field == setting and f"{word} {bound}" in msg and f"{bound}" in msg.ko
        with pytest.raises(UserError) as e:
            SamplingParams(**{setting: bad}).check()
        assert f"{setting} is {bad}: it must be between {lim.lo} and {lim.hi}" in str(e.value)
        assert f"{lim.lo} 이상 {lim.hi} 이하" in e.value.text.ko
        with pytest.raises(ApiError) as e:
            parse_request({**body, key: bad})
        assert (e.value.status, e.value.param, e.value.code) == (400, key, "invalid_value")
        assert f"'{key}' is {bad}: it must be between {lim.lo} and {lim.hi}" in e.value.message
    for ok in (lim.lo, lim.hi):
        assert cfg.replace(**{setting: ok}).validate().get(setting) == ok
        SamplingParams(**{setting: ok}).check()
        assert getattr(parse_request({**body, key: ok})["params"], setting) == ok
