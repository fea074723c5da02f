"""Optimize stage: CPU int8 saved without pickle reloads exactly, one run measures the original and the result and
saves a model artifact with lineage that the chat engine loads, bitsandbytes 4-bit keeps the layers it cannot take in
float (and refuses a model it can take none of), GPT-2's Conv1D is refused for torch int8, TensorRT-LLM without a
GPU is refused with the command for a GPU machine while the Triton repository writer works anywhere, too little
disk and a stopped job save nothing."""
import json
import shutil
import time

import pytest

from fixtures import konlpy_lines, train_tokenizer

torch = pytest.importorskip("torch")

from workbench import runs  # noqa: E402
from workbench.errors import UserError  # noqa: E402
from workbench.optimize import int8, quantize  # noqa: E402
from workbench.optimize.stage import OptimizeConfig  # noqa: E402

FAST = ["threads=1", "n_prompts=2", "new_tokens=4", "batch_sizes=1,2", "max_rows=12", "max_length=64"]


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return train_tokenizer(tmp_path_factory.mktemp("tok") / "t", konlpy_lines()[:600], 400)


def llama(folder, tok, hidden=64, tie=True, seed=0, inter=None):
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=inter or 2 * hidden, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                      tie_word_embeddings=tie)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def publish(ws, folder, name):
    staging = ws.staging_dir("model", name)
    shutil.copytree(folder, staging, dirs_exist_ok=True)
    return ws.publish(staging, "model", name, meta={"stage": "pretrain"})


def optimize(ws, *items):
    return runs.run_in_process("optimize", OptimizeConfig.load(sets=[*FAST, *items]), ws)


@pytest.mark.parametrize("tie", [False, True])
def test_int8_folder_holds_no_pickle_and_reloads_to_the_same_logits(tmp_path, tok, tie):
    from transformers import AutoModelForCausalLM
    src = llama(tmp_path / "src", tok, tie=tie)
    q = int8.quantize(AutoModelForCausalLM.from_pretrained(str(src)).eval())
    info = int8.save(q, tmp_path / "q")
    assert sorted(p.name for p in (tmp_path / "q").iterdir()) == sorted(
        ["config.json", "generation_config.json", "model.int8.safetensors", "workbench_quant.json"])
    assert len(info["quantized_modules"]) == 2 * 7 + 1  # q k v o gate up down per layer, and the head
    back = int8.load(tmp_path / "q")
    ids = torch.tensor([tok("대한민국은 민주공화국이다")["input_ids"]])
    with torch.no_grad():
        assert torch.equal(q(ids).logits, back(ids).logits)


def test_int8_run_measures_both_saves_a_model_with_lineage_and_chat_loads_it(ws, tmp_path, tok):
    from workbench.chat.generation import load_model
    from workbench.chat.models import resolve
    src_id = publish(ws, llama(tmp_path / "m", tok), "tiny")
    res = optimize(ws, "model=tiny", "method=int8-dynamic")
    assert res["status"] == "succeeded", res["error"]
    s = res["summary"]
    for side in ("before", "after"):
        assert all(s[side][k] is not None and s[side][k] > 0 for k in
                   ("decode_tokens_per_s", "ttft_ms", "decode_ms_p50", "decode_ms_p95", "ppl", "peak_rss_mb", "size_mb"))
    assert s["size_ratio"] < 0.9 and abs(s["ppl_change_pct"]) < 5 and 0 <= s["greedy_exact_share"] <= 1
    art = ws.store.get_artifact(kind="model", name="tiny-int8-dynamic")
    assert art.parents == [src_id] and art.meta["quantization"]["method"] == "int8-dynamic"
    report = json.loads((ws.artifact_dir("model", art.name) / "workbench_optimize.json").read_text())
    assert set(report["compare"]["throughput_tokens_per_s"]) == {"1", "2"}
    assert "int8-dynamic" in (ws.artifact_dir("model", art.name) / "README.md").read_text()
    lm = load_model(resolve(ws, art.name), key=("t",), device_pref="auto")
    assert lm.device == "cpu" and lm.model.__class__.__name__ == "LlamaForCausalLM"
    from fastapi.testclient import TestClient

    from workbench.chat.api import create_app
    from workbench.chat.engine import ChatEngine
    client = TestClient(create_app(ChatEngine(), ws))  # the OpenAI-compatible API serves it and says it is quantized
    listed = {m["id"]: m["quantization"] for m in client.get("/v1/models").json()["data"]}
    assert listed == {"tiny": None, "tiny-int8-dynamic": "int8-dynamic"}
    reply = client.post("/v1/chat/completions", json={"model": "tiny-int8-dynamic", "max_tokens": 3,
                                                       "messages": [{"role": "user", "content": "대한민국은"}]}).json()
    assert reply["workbench"]["quantization"] == "int8-dynamic" and reply["usage"]["completion_tokens"] >= 1
    names = {m["name"] for m in ws.store.metrics(res["run_id"])}
    assert {"before/decode_tokens_per_s", "after/decode_tokens_per_s", "before/ppl", "after/size_mb"} <= names


def test_bnb_4bit_keeps_the_layers_it_cannot_take_in_float_and_refuses_a_model_it_can_take_none_of(tmp_path, tok):
    from transformers import AutoModelForCausalLM
    wide = AutoModelForCausalLM.from_pretrained(str(llama(tmp_path / "w", tok, hidden=64)))
    p = quantize.plan("bnb-4bit", wide)
    assert p["quantized"] and all("lm_head" in n for n in p["float"])  # every body layer's width is 64 or 128
    narrow = AutoModelForCausalLM.from_pretrained(str(llama(tmp_path / "n", tok, hidden=32, inter=48)))
    with pytest.raises(UserError, match="not a multiple of 64"):
        quantize.plan("bnb-4bit", narrow)
    mixed = AutoModelForCausalLM.from_pretrained(str(llama(tmp_path / "x", tok, hidden=64)))
    mixed.model.layers[0].mlp.down_proj = torch.nn.Linear(96, 64)  # an odd width in one layer
    p = quantize.plan("bnb-4bit", mixed)
    assert "model.layers.0.mlp.down_proj" in p["float"] and "in_features 96" in p["float"]["model.layers.0.mlp.down_proj"]


def test_bnb_4bit_run_saves_a_folder_that_from_pretrained_reloads(ws, tmp_path, tok):
    from transformers import AutoModelForCausalLM
    res = optimize(ws, f"model={llama(tmp_path / 'b', tok)}", "method=bnb-4bit", "output_name=b4")
    assert res["status"] == "succeeded", res["error"]
    folder = ws.artifact_dir("model", "b4")
    assert "quantization_config" in json.loads((folder / "config.json").read_text())
    m = AutoModelForCausalLM.from_pretrained(str(folder), device_map="cpu")
    assert type(m.model.layers[0].self_attn.q_proj).__name__ == "Linear4bit"


def test_gpt2_conv1d_is_refused_for_torch_int8_naming_the_layers(ws, tmp_path, tok):
    from transformers import GPT2Config, GPT2LMHeadModel
    folder = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=64, n_layer=1, n_head=4, n_positions=128,
                               bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)).save_pretrained(folder)
    tok.save_pretrained(folder)
    res = optimize(ws, f"model={folder}", "method=int8-dynamic")
    assert res["status"] == "failed" and "Conv1D" in str(res["error"]) and "bnb-int8" in str(res["error"])
    assert res["error"].ko and not ws.store.list_artifacts("model")


def test_tensorrt_llm_without_a_gpu_is_refused_with_the_gpu_command_and_triton_files_write_anywhere(ws, tmp_path, tok):
    from workbench.config import ConfigError
    from workbench.optimize.trtllm import triton_repository
    publish(ws, llama(tmp_path / "m", tok), "tiny")
    with pytest.raises((UserError, ConfigError)) as e:
        optimize(ws, "model=tiny", "method=tensorrt-llm")
    assert "docker run --gpus all" in str(e.value) and "NVIDIA GPU" in str(e.value)
    engine = tmp_path / "engine"
    engine.mkdir()
    (engine / "rank0.engine").write_bytes(b"\x00" * 16)
    (engine / "config.json").write_text("{}")
    model_dir = triton_repository(engine, tmp_path / "repo", max_batch=4, max_seq_len=256)
    text = (model_dir / "config.pbtxt").read_text()
    assert 'backend: "tensorrtllm"' in text and "max_batch_size: 4" in text and '"1024"' in text
    assert (model_dir / "1" / "rank0.engine").is_file()


def test_too_little_disk_and_a_missing_model_are_refused_before_work(ws, tmp_path, tok, monkeypatch):
    from collections import namedtuple
    from workbench.config import ConfigError
    publish(ws, llama(tmp_path / "m", tok), "tiny")
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(quantize.shutil, "disk_usage", lambda p: usage(10**9, 10**9, 1000))
    res = optimize(ws, "model=tiny")
    assert res["status"] == "failed" and "too little disk" in str(res["error"])
    with pytest.raises((UserError, ConfigError), match="was not found"):
        optimize(ws, "model=nothing-here")


def test_a_stop_after_the_first_measurement_saves_nothing(ws, tmp_path, tok, monkeypatch):
    from workbench.optimize import measure
    publish(ws, llama(tmp_path / "m", tok), "tiny")
    real = measure.measure_in_child

    def measure_then_stop(spec, timeout=3600):
        out = real(spec, timeout)
        run = ws.store.list_runs(stage="optimize", status=("running",))[0]
        ws.store.request_stop(run.id)
        time.sleep(2.1)  # the run reads the store's stop flag at most every 2 s
        return out

    monkeypatch.setattr(measure, "measure_in_child", measure_then_stop)
    res = optimize(ws, "model=tiny")
    assert res["status"] == "stopped", res
    assert [a.name for a in ws.store.list_artifacts("model")] == ["tiny"]


def test_an_adapter_without_its_base_is_refused_and_the_original_is_untouched(ws, tmp_path, tok):
    folder = tmp_path / "lonely-adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA",
                                                            "base_model_name_or_path": str(tmp_path / "gone")}))
    (folder / "adapter_model.safetensors").write_bytes(b"")
    res = optimize(ws, f"model={folder}")
    assert res["status"] == "failed" and "without its base model" in str(res["error"]), res["error"]
    assert sorted(p.name for p in folder.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]


def test_a_classifier_is_quantized_and_scored_by_its_accuracy_before_and_after(ws, tmp_path, tok):
    from transformers import LlamaConfig, LlamaForSequenceClassification

    from workbench.chat.models import check_files
    folder = tmp_path / "clf"
    torch.manual_seed(0)
    LlamaForSequenceClassification(LlamaConfig(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, pad_token_id=tok.pad_token_id, num_labels=2,
        id2label={0: "부정", 1: "긍정"}, label2id={"부정": 0, "긍정": 1})).save_pretrained(folder)
    tok.save_pretrained(folder)
    res = optimize(ws, f"model={folder}", "method=int8-dynamic", "max_rows=40", "output_name=clf-int8")
    assert res["status"] == "succeeded", res["error"]
    s = res["summary"]
    assert s["task"] == "sequence-classification" and 0 <= s["before"]["accuracy"] <= 1
    assert abs(s["accuracy_change"]) <= 0.1 and s["examples_per_s_speedup_at_batch_2"] > 0
    report = json.loads((ws.artifact_dir("model", "clf-int8") / "workbench_optimize.json").read_text())
    assert set(report["compare"]) >= {"accuracy", "macro_f1", "ms_per_example", "size_mb", "examples_per_s"}
    assert report["n_inputs"] == 32  # the bundled sample's held-out test rows (fewer than max_rows)
    assert "classifier" in str(check_files(ws.artifact_dir("model", "clf-int8"))[0])  # chat still refuses it


def _onnx_or_skip():
    from workbench.optimize import ort
    if ort.available():
        pytest.skip(ort.available())
    return ort


def test_onnx_export_with_kv_cache_gives_torchs_logits_and_greedy_tokens(tmp_path, tok):
    from transformers import AutoModelForCausalLM
    ort = _onnx_or_skip()
    src = llama(tmp_path / "src", tok)
    info = ort.export(src, tmp_path / "onnx", int8=False)
    assert info["method"] == "onnx-fp32" and ort.is_onnx_folder(tmp_path / "onnx")
    assert not any(p.suffix in (".bin", ".pt", ".pkl", ".pth") for p in (tmp_path / "onnx").iterdir())  # no pickle
    ref = AutoModelForCausalLM.from_pretrained(str(src)).eval()
    m = ort.load(tmp_path / "onnx", threads=1)
    ids = torch.tensor([tok("대한민국은 민주공화국이다")["input_ids"]])
    with torch.no_grad():
        want = ref(ids).logits
        first = m(ids[:, :-2])  # the prompt without its last two tokens, then those two through the cache
        step = m(ids[:, -2:], past_key_values=first.past_key_values)
    assert torch.allclose(first.logits, want[:, :-2], atol=1e-4)
    assert torch.allclose(step.logits, want[:, -2:], atol=1e-4)
    pad = tok.pad_token_id
    batch = torch.tensor([[pad, pad] + ids[0, :5].tolist(), ids[0, :7].tolist()])
    mask = (batch != pad).long()
    mask[1] = 1
    got = m.generate(batch, attention_mask=mask, max_new_tokens=5, min_new_tokens=5, pad_token_id=pad)
    expect = ref.generate(input_ids=batch, attention_mask=mask, max_new_tokens=5, min_new_tokens=5, do_sample=False,
                          pad_token_id=pad)
    assert torch.equal(got, expect)


def test_onnx_int8_run_measures_both_and_saves_a_smaller_onnx_model(ws, tmp_path, tok):
    _onnx_or_skip()
    src_id = publish(ws, llama(tmp_path / "m", tok, hidden=128), "tiny")
    res = optimize(ws, "model=tiny", "method=onnx-int8")
    assert res["status"] == "succeeded", res["error"]
    s = res["summary"]
    assert s["after"]["decode_tokens_per_s"] > 0 and abs(s["ppl_change_pct"]) < 5 and 0 < s["size_ratio"] < 0.9
    art = ws.store.get_artifact(kind="model", name="tiny-onnx-int8")
    assert art.parents == [src_id] and art.meta["quantization"]["method"] == "onnx-int8"
    folder = ws.artifact_dir("model", art.name)
    assert (folder / "model.onnx").is_file() and not list(folder.glob("*.safetensors"))
    report = json.loads((folder / "workbench_optimize.json").read_text())
    assert set(report["compare"]["throughput_tokens_per_s"]) == {"1", "2"}
    from workbench.chat.models import check_files
    assert "ONNX Runtime model" in str(check_files(folder)[0])  # chat says why it does not take it


def test_onnx_is_refused_on_cuda(tok):
    from workbench.config import ConfigError
    with pytest.raises(ConfigError, match="CPU only"):
        OptimizeConfig.load(sets=["model=x", "method=onnx-int8", "device=cuda"])


def test_timed_greedy_decode_passes_the_cache_under_the_name_this_transformers_takes(tmp_path, tok):
    """transformers 5.25 renamed forward's past_key_values to cache (the old name warns, and goes in 5.40); 5.20,
    which requirements.txt allows, knows only the old one. The cached decode must match a plain generate either way."""
    import warnings

    from transformers import AutoModelForCausalLM

    from workbench.kvcache import cache_kwarg
    from workbench.optimize.measure import greedy_timed
    model = AutoModelForCausalLM.from_pretrained(str(llama(tmp_path / "m", tok))).eval()
    prompt = "대한민국은 민주공화국이다"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        got = greedy_timed(model, tok, prompt, 6)["tokens"]
    assert not [w for w in seen if "past_key_values" in str(w.message)], [str(w.message) for w in seen]
    ids = torch.tensor([tok(prompt)["input_ids"]])
    want = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=6, min_new_tokens=6,
                          do_sample=False, pad_token_id=tok.pad_token_id)[0, ids.shape[1]:].tolist()
    assert got == want
    assert cache_kwarg(lambda input_ids, past_key_values=None: None) == "past_key_values"  # our ONNX Runtime wrapper


def test_a_quantized_model_is_refused_by_training_stages_by_name_and_still_answers(tmp_path):
    """A model the Optimize stage wrote in its own int8 format has no weights transformers can load: Fine-tune, Align
    and Optimize refuse it before a run is queued, naming what it is and the model it came from (they used to fail
    after loading with "no file named model.safetensors"); training pickers leave it out; feedback sampling loads it."""
    from fixtures import publish_tiny_llama
    from state import Workspace
    from tabs.components import artifact_choices
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from workbench.align.feedback import sample_two
    from workbench.align.policy import resolve_policy
    from workbench.artifacts import write_meta
    from workbench.finetune.model import resolve_base
    from workbench.optimize.stage import _precheck
    ws = Workspace(tmp_path / "ws")
    src = ws.store.get_artifact(publish_tiny_llama(ws))
    staging = ws.staging_dir("model", "tiny-int8")
    int8.save(int8.quantize(AutoModelForCausalLM.from_pretrained(src.path).eval()), staging)
    AutoTokenizer.from_pretrained(src.path).save_pretrained(staging)
    meta = {"stage": "optimize", "task": "causal-lm", "quantization": {"method": "int8-dynamic"},
            "optimized_from": {"name": "tiny-base", "artifact_id": src.id}}
    write_meta(staging, meta)  # as the Optimize stage does
    ws.publish(staging, "model", "tiny-int8", parents=[src.id], meta=meta)
    for refuse in (lambda: resolve_base(ws, "tiny-int8"), lambda: resolve_policy(ws, "tiny-int8", what="reference"),
                   lambda: _precheck(OptimizeConfig.load(sets=["model=tiny-int8"]), ws)):
        with pytest.raises(UserError) as e:
            refuse()
        assert "quantized (torch-dynamic-int8)" in str(e.value) and "('tiny-base')" in str(e.value), str(e.value)
    assert resolve_base(ws, "tiny-base").artifact.id == src.id
    names = [label.split(" · ")[0] for label, _ in artifact_choices(ws.store, "model", trainable=True)]
    assert names == ["tiny-base"], names
    assert len(artifact_choices(ws.store, "model")) == 2, "other pickers (chat, evaluate) still list it"
    out = sample_two(ws, "tiny-int8", "안녕하세요", max_new_tokens=4)
    assert len(out["answers"]) == 2
    from workbench.chat.models import describe, resolve
    assert describe(resolve(ws, "tiny-int8")).params >= describe(resolve(ws, "tiny-base")).params > 0, \
        "the Chat tab counts the int8 model's parameters (it showed '?')"
