"""The chat engine with a tiny trained model: streaming, stats, seeds, stop, context window, cache, bad files, CLI."""
from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from chat_fixtures import publish_tiny_model, tiny_model_dir
from conftest import last_json, run_cli, wait_for


@pytest.fixture(scope="module")
def tiny():
    return tiny_model_dir()


@pytest.fixture
def chat_ws(ws, tiny):
    publish_tiny_model(ws, tiny, "tiny-chat", chat_model=True)
    publish_tiny_model(ws, tiny, "tiny-base", chat_model=False)
    return ws


@pytest.fixture
def engine():
    from workbench.chat.engine import ChatEngine
    return ChatEngine(threads=1, max_concurrent=3)


def _chat(engine, ws, name, text, history=(), **params):
    from workbench.chat.engine import SamplingParams, messages_from
    from workbench.chat.models import resolve
    mode = params.pop("mode", "auto")
    system = params.pop("system", "")
    return engine.chat(resolve(ws, name), messages_from(list(history), text, system), mode=mode,
                       params=SamplingParams(**params))


def test_reply_streams_in_pieces_with_stats_and_mode_from_meta(chat_ws, engine):
    g = _chat(engine, chat_ws, "tiny-chat", "국회의 권한은 무엇인가요?", seed=1, temperature=1.0, max_new_tokens=60)
    assert g.mode == "chat"  # workbench.json chat_model: true -> the tokenizer's chat template
    pieces = list(g)
    assert len(pieces) > 1 and "".join(pieces) == g.text and g.text.strip()
    s = g.stats
    assert 0 < s["tokens"] <= 60 and s["prompt_tokens"] > 5
    assert s["ttft_s"] > 0 and s["tokens_per_s"] > 0 and s["seed"] == 1
    assert s["finish_reason"] in ("stop", "length") and s["load_s"] > 0
    # a base model continues the text itself (no template markers in its prompt)
    b = _chat(engine, chat_ws, "tiny-base", "대한민국은", seed=1, max_new_tokens=20).run_to_end()
    assert b.mode == "continue" and b.stats["prompt_tokens"] <= 5 and b.stats["load_s"] > 0  # its own cache entry
    # the same seed gives the same reply; seed -1 draws a fresh seed, reported in the stats
    again = _chat(engine, chat_ws, "tiny-chat", "국회의 권한은 무엇인가요?", seed=1, temperature=1.0,
                  max_new_tokens=60).run_to_end()
    assert again.text == g.text
    rnd = _chat(engine, chat_ws, "tiny-chat", "국회", seed=-1, max_new_tokens=5).run_to_end()
    assert rnd.stats["seed"] >= 0


def test_seeded_reply_equals_plain_generate_and_survives_concurrency(chat_ws, engine):
    """Same seed and settings as `torch.manual_seed(seed); model.generate(do_sample=True, ...)`: same tokens,
    even while another reply samples at the same time."""
    import torch
    from workbench.chat.engine import stream_together

    settings = dict(temperature=0.9, top_k=40, top_p=0.95, repetition_penalty=1.2, max_new_tokens=40)
    lm, _ = engine.load(__import__("workbench.chat.models", fromlist=["resolve"]).resolve(chat_ws, "tiny-base"))
    tok = lm.tokenizer
    ids = tok("국회는", return_tensors="pt")
    torch.manual_seed(7)
    with torch.inference_mode():
        out = lm.model.generate(**ids, do_sample=True, **settings)
    plain = tok.decode(out[0][ids["input_ids"].shape[1]:], skip_special_tokens=True)
    alone = _chat(engine, chat_ws, "tiny-base", "국회는", seed=7, **settings).run_to_end()
    assert alone.text == plain and plain.strip()
    other_alone = _chat(engine, chat_ws, "tiny-chat", "법률안", seed=3, **settings).run_to_end()
    same_model_alone = _chat(engine, chat_ws, "tiny-base", "헌법", seed=9, **settings).run_to_end()
    gens = [_chat(engine, chat_ws, "tiny-base", "국회는", seed=7, **settings),
            _chat(engine, chat_ws, "tiny-chat", "법률안", seed=3, **settings),
            _chat(engine, chat_ws, "tiny-base", "헌법", seed=9, **settings)]  # the same model twice at once
    texts = {0: "", 1: "", 2: ""}
    for i, piece, err in stream_together(gens):
        assert err is None
        texts[i] += piece or ""
    assert texts == {0: plain, 1: other_alone.text, 2: same_model_alone.text}  # nothing mixed or disturbed


def test_stop_event_ends_the_reply_early(chat_ws, engine):
    from workbench.chat.engine import SamplingParams, messages_from
    from workbench.chat.models import resolve
    stop = threading.Event()
    g = engine.chat(resolve(chat_ws, "tiny-base"), messages_from([], "대한민국은"), mode="continue",
                    params=SamplingParams(temperature=0, repetition_penalty=1.0, max_new_tokens=200), stop=stop)
    for i, _ in enumerate(g):
        if i == 2:
            stop.set()
    assert g.stats["finish_reason"] == "stopped"
    assert g.stats["tokens"] < 20
    assert engine.slots.busy == 0


def test_a_reply_that_ends_at_once_says_why_it_is_empty_and_what_to_try(chat_ws, engine):
    # the tiny base model learned that a full stop ends a line: greedily, its first token is the end token
    g = _chat(engine, chat_ws, "tiny-base", "대한민국은 민주공화국이다.", temperature=0, max_new_tokens=30)
    assert g.notices == []  # nothing known before it runs
    g.run_to_end()
    assert g.text == "" and g.stats["finish_reason"] == "stop" and g.stats["tokens"] <= 1
    empty = [n for n in g.notices if n.code == "empty_reply"]
    assert len(empty) == 1 and empty[0].values == {"mode": "continue", "tokens": g.stats["tokens"]}
    text = empty[0].text
    assert "empty" in text and "end token" in text and "temperature" in text and "trained longer" in text
    assert "답이 비어 있습니다" in text.ko and "온도" in text.ko
    # in chat mode the advice names continuation mode
    from workbench.chat.engine import empty_reply_notice
    chat = empty_reply_notice("chat", 1).text
    assert "continuation mode" in chat and "이어쓰기 모드" in chat.ko
    # a reply with text, or one that was stopped, gets no such notice
    ok = _chat(engine, chat_ws, "tiny-base", "대한민국은", temperature=0, max_new_tokens=10).run_to_end()
    assert ok.text.strip() and not [n for n in ok.notices if n.code == "empty_reply"]
    stop = threading.Event()
    stop.set()
    from workbench.chat.engine import SamplingParams, messages_from
    from workbench.chat.models import resolve
    stopped = engine.chat(resolve(chat_ws, "tiny-base"), messages_from([], "대한민국은"), mode="continue",
                          params=SamplingParams(max_new_tokens=10), stop=stop).run_to_end()
    assert stopped.stats["finish_reason"] == "stopped" and not [n for n in stopped.notices
                                                                if n.code == "empty_reply"]
    # the CLI says it too (in its log and its JSON line)
    r = run_cli("chat", "--set", "model=tiny-base", "--set", "message=대한민국은 민주공화국이다.",
                "--set", "temperature=0", "--set", "threads=1", workspace=chat_ws.root, timeout=300)
    out = last_json(r.stdout)
    assert out["ok"] and out["reply"] == "" and any("The reply is empty" in n for n in out["notices"])
    assert "The reply is empty" in r.stderr


def test_long_prompt_is_fitted_into_the_context_window_with_notices(chat_ws, engine):
    long_text = "대한민국 헌법 제1조 " * 200
    g = _chat(engine, chat_ws, "tiny-chat", long_text, seed=0, max_new_tokens=100).run_to_end()
    codes = {n.code for n in g.notices}
    assert "prompt_cut" in codes
    cut = next(n for n in g.notices if n.code == "prompt_cut")
    assert cut.values["tokens"] > 256 and cut.values["context"] == 256
    assert g.stats["prompt_tokens"] + g.stats["max_new_tokens"] <= 256 and g.stats["tokens"] > 0
    # a long conversation loses its oldest turns first (the new message is kept whole)
    history = []
    for i in range(12):
        history += [{"role": "user", "content": f"질문 {i} " + "국회 " * 10},
                    {"role": "assistant", "content": "답 " + "법률 " * 10}]
    g = _chat(engine, chat_ws, "tiny-chat", "마지막 질문", history, seed=0, max_new_tokens=64).run_to_end()
    dropped = [n for n in g.notices if n.code == "turns_dropped"]
    assert dropped and dropped[0].values["turns"] >= 1 and "prompt_cut" not in {n.code for n in g.notices}
    # asking for more new tokens than the window holds shortens the reply, with a notice
    g = _chat(engine, chat_ws, "tiny-chat", "안녕", seed=0, max_new_tokens=5000).run_to_end()
    short = next(n for n in g.notices if n.code == "reply_shortened")
    assert short.values["new"] + g.stats["prompt_tokens"] <= 256


def test_empty_message_and_chat_mode_without_template(chat_ws, engine, tiny):
    from workbench.errors import UserError
    with pytest.raises(UserError, match="empty"):
        _chat(engine, chat_ws, "tiny-chat", "   ")
    # a chat-marked model whose tokenizer lost its template: auto falls back with a notice; chat is refused
    staging = chat_ws.staging_dir("model", "no-template")
    shutil.copytree(tiny, staging, dirs_exist_ok=True)
    (staging / "chat_template.jinja").unlink()
    tc = json.loads((staging / "tokenizer_config.json").read_text())
    tc.pop("chat_template", None)
    (staging / "tokenizer_config.json").write_text(json.dumps(tc))
    (staging / "workbench.json").write_text(json.dumps({"chat_model": True}))
    chat_ws.publish(staging, "model", "no-template", meta={"chat_model": True})
    g = _chat(engine, chat_ws, "no-template", "국회", seed=0, max_new_tokens=5)
    assert g.mode == "continue" and [n.code for n in g.notices] == ["no_template"]
    with pytest.raises(UserError, match="no chat template"):
        _chat(engine, chat_ws, "no-template", "국회", mode="chat")


def _broken_copy(ws, tiny, name, damage):
    staging = ws.staging_dir("model", name)
    shutil.copytree(tiny, staging, dirs_exist_ok=True)
    damage(Path(staging))
    ws.publish(staging, "model", name, meta={"chat_model": True})


def test_missing_or_corrupt_model_files_give_clear_errors_and_the_engine_keeps_working(chat_ws, engine, tiny):
    import torch
    from safetensors.torch import load_file, save_file
    from workbench.errors import UserError

    def drop_tensors(p):
        tensors = load_file(p / "model.safetensors")
        keep = dict(list(tensors.items())[: len(tensors) // 2])
        save_file(keep, p / "model.safetensors", metadata={"format": "pt"})

    cases = {
        "no-weights": (lambda p: (p / "model.safetensors").unlink(), "model.safetensors is missing"),
        "garbage-weights": (lambda p: (p / "model.safetensors").write_bytes(b"\x00not a safetensors file" * 10),
                            "damaged or incomplete"),
        "half-weights": (drop_tensors, "lacks"),
        "bad-config": (lambda p: (p / "config.json").write_text("{not json"), "config.json"),
        "no-tokenizer": (lambda p: [(p / f).unlink() for f in ("tokenizer.json", "tokenizer_config.json")],
                         "tokenizer files are missing"),
        "pickled": (lambda p: (torch.save({}, p / "pytorch_model.bin"), (p / "model.safetensors").unlink()),
                    "not in safetensors format"),
    }
    for name, (damage, expected) in cases.items():
        _broken_copy(chat_ws, tiny, name, damage)
        with pytest.raises(UserError, match=expected) as e:
            _chat(engine, chat_ws, name, "안녕", max_new_tokens=5)
        assert f"model/{name}" in str(e.value) and "pick another model" in str(e.value)
    from workbench.chat.models import ModelNotFound
    with pytest.raises(ModelNotFound, match="tiny-base, tiny-chat"):
        _chat(engine, chat_ws, "no-such-model", "안녕")
    # the engine still serves a good model, and nothing broken stayed in the cache
    assert _chat(engine, chat_ws, "tiny-chat", "안녕", seed=0, max_new_tokens=5).run_to_end().stats["tokens"] > 0
    assert [m.ref.name for m in engine.cache.loaded()] == ["tiny-chat"]


def test_lru_cache_keeps_models_under_the_memory_limit(chat_ws, tiny):
    from workbench.chat.engine import ChatEngine
    from workbench.chat.models import resolve
    publish_tiny_model(chat_ws, tiny, "tiny-3", chat_model=False)
    eng = ChatEngine(cache_mb=2, threads=1)  # each tiny model is ~0.6 MB in float32: three fit, a fourth does not
    a, loaded = eng.load(resolve(chat_ws, "tiny-chat"))
    size = a.nbytes
    assert loaded and 0.3 * 2**20 < size < 0.8 * 2**20
    eng.load(resolve(chat_ws, "tiny-base"))
    eng.load(resolve(chat_ws, "tiny-3"))
    assert eng.cache.evictions == 0 and len(eng.cache.loaded()) == 3
    assert eng.load(resolve(chat_ws, "tiny-chat"))[1] is False  # cached; now the most recently used
    publish_tiny_model(chat_ws, tiny, "tiny-4", chat_model=False)
    eng.load(resolve(chat_ws, "tiny-4"))
    names = [m.ref.name for m in eng.cache.loaded()]
    assert names == ["tiny-4", "tiny-chat", "tiny-3"] and eng.cache.evictions == 1  # tiny-base was least recent
    assert eng.cache.total_bytes <= eng.cache.max_bytes
    assert eng.load(resolve(chat_ws, "tiny-base"))[1] is True  # loads again when asked for
    # an overwritten artifact (same folder, new weights) is reloaded, not served stale
    publish_tiny_model(chat_ws, tiny_model_dir(seed=1, steps=5), "tiny-4", chat_model=False, overwrite=True)
    again, loaded = eng.load(resolve(chat_ws, "tiny-4"))
    assert loaded and sum(1 for m in eng.cache.loaded() if m.ref.name == "tiny-4") == 1


def test_fair_slots_serve_in_arrival_order():
    from workbench.chat.engine import FairSlots
    slots = FairSlots(1)
    assert slots.acquire()
    order, threads = [], []
    for i in range(4):
        th = threading.Thread(target=lambda i=i: (slots.acquire(), order.append(i), time.sleep(0.01), slots.release()))
        th.start()
        threads.append(th)
        wait_for(lambda: slots.waiting == i + 1, 10, interval=0.01, what="the waiter to queue")  # one after another
    assert slots.waiting == 4
    stop = threading.Event()
    stop.set()
    assert slots.acquire(stop) is False  # a stopped waiter leaves the queue
    slots.release()
    for th in threads:
        th.join(5)
    assert order == [0, 1, 2, 3] and slots.busy == 0


def test_peft_adapter_artifact_chats_on_its_base(chat_ws, engine, tiny):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    base_dir = chat_ws.store.get_artifact(kind="model", name="tiny-base").path
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base_dir),
                           LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    staging = chat_ws.staging_dir("adapter", "tiny-lora")
    model.save_pretrained(staging)
    (staging / "workbench.json").write_text(json.dumps({"chat_model": True, "base_model_path": base_dir}))
    chat_ws.publish(staging, "adapter", "tiny-lora", meta={"chat_model": True})
    g = _chat(engine, chat_ws, "tiny-lora", "국회", seed=0, max_new_tokens=10).run_to_end()
    assert g.mode == "chat" and g.stats["model"] == "adapter/tiny-lora" and g.stats["tokens"] > 0
    plain = _chat(engine, chat_ws, "tiny-chat", "국회", seed=0, max_new_tokens=10).run_to_end()
    assert g.text != plain.text  # the (random, non-zero) LoRA weights change the output


def test_quantized_artifact_bitsandbytes_8bit_chats(chat_ws, engine, tiny):
    """A quantized model saved as a Hugging Face folder (quantization_config in config.json) loads as it is."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
    q = AutoModelForCausalLM.from_pretrained(tiny, quantization_config=BitsAndBytesConfig(load_in_8bit=True),
                                             dtype=torch.float16)
    staging = chat_ws.staging_dir("quantized", "tiny-int8")
    q.save_pretrained(staging)
    AutoTokenizer.from_pretrained(tiny).save_pretrained(staging)
    chat_ws.publish(staging, "quantized", "tiny-int8", meta={"chat_model": True})
    g = _chat(engine, chat_ws, "tiny-int8", "국회", seed=0, max_new_tokens=10).run_to_end()
    lm = engine.cache.loaded()[0]
    assert g.stats["model"] == "quantized/tiny-int8" and g.stats["tokens"] > 0 and lm.model.is_quantized
    full = next(m for m in engine.cache.loaded() if m.ref.name == "tiny-int8")
    assert full.nbytes < 0.75 * 146_240 * 4  # int8 weights: smaller in the cache's memory count


def test_cli_one_reply_and_invalid_config(chat_ws):
    r = run_cli("chat", "--set", "model=tiny-chat", "--set", "message=대한민국의 국회는?", "--set", "seed=5",
                "--set", "max_new_tokens=30", "--set", "threads=1", workspace=chat_ws.root, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    out = last_json(r.stdout)
    assert out["ok"] and out["mode"] == "chat" and out["reply"] and out["reply"] in r.stderr  # streamed to stderr
    assert out["tokens"] > 0 and out["ttft_s"] > 0 and out["tokens_per_s"] > 0
    run = chat_ws.store.get_run(out["run_id"])
    assert run.status == "succeeded" and run.summary["reply"] == out["reply"]
    r = run_cli("chat", "--set", "model=tiny-chat", "--set", "temperature=-1", workspace=chat_ws.root)
    assert r.returncode == 2
    err = last_json(r.stdout)["error"]
    assert "temperature" in err and "message" in err  # both named, before anything loads
    r = run_cli("chat", "--set", "model=missing", "--set", "message=hi", workspace=chat_ws.root)
    assert r.returncode == 1 and "was not found" in last_json(r.stdout)["error"]


def test_user_errors_carry_korean(ws):
    """A UserError of the chat and the artifact lookup carries Korean next to the English (e.text.ko)."""
    import re

    from workbench.artifacts import resolve as resolve_artifact
    from workbench.chat.engine import SamplingParams
    from workbench.chat.models import ModelNotFound, resolve
    from workbench.errors import UserError

    def korean(raises, call):
        with pytest.raises(raises) as e:
            call()
        ko, en = e.value.text.ko, str(e.value)
        assert re.search("[가-힣]", ko) and ko != en and not re.search("[가-힣]", en.replace("안녕하세요", ""))
        return ko

    assert "모델" in korean(UserError, lambda: resolve(ws, ""))
    assert "'no-such-model'" in korean(ModelNotFound, lambda: resolve(ws, "no-such-model"))
    assert "2.0 이하" in korean(UserError, lambda: SamplingParams(temperature=3.0).check())
    assert "'nope'" in korean(UserError, lambda: resolve_artifact(ws, "corpus", "nope", "corpus"))


def test_app_config_reads_engine_settings_from_the_environment():
    from workbench.chat.stage import app_config
    from workbench.config import ConfigError
    cfg = app_config({"WORKBENCH_CHAT_CACHE_MB": "512", "WORKBENCH_CHAT_MAX_CONCURRENT": "3"})
    assert (cfg.cache_mb, cfg.max_concurrent) == (512, 3)
    with pytest.raises(ConfigError, match="WORKBENCH_CHAT_CACHE_MB"):
        app_config({"WORKBENCH_CHAT_CACHE_MB": "0"})


def test_reply_stops_at_the_tokenizer_stage_turn_end_token():
    """The Tokenizer tab's tokenizers use ChatML (<|im_start|> ... <|im_end|>): <|im_end|> ends a chat reply."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from workbench.chat.generation import eos_token_ids, turn_end_ids
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(["안녕 하세요"], trainers.BpeTrainer(special_tokens=["<pad>", "</s>", "<|im_start|>",
                                                                                "<|im_end|>"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>", pad_token="<pad>")
    assert eos_token_ids(fast) == {fast.convert_tokens_to_ids("</s>")}
    assert turn_end_ids(fast) == {fast.convert_tokens_to_ids("<|im_end|>")}


def test_a_classifier_is_refused_with_a_clear_message(tmp_path):
    import json as _json
    from workbench.chat.models import check_files
    folder = tmp_path / "clf"
    folder.mkdir()
    (folder / "config.json").write_text(_json.dumps({"architectures": ["LlamaForSequenceClassification"]}))
    (problem,) = check_files(folder)
    assert "classifier" in problem and "분류" in problem.ko
