"""Home engine: the environment report (consistent with importlib.metadata, an absent package reported with its
reason), `python -m workbench env` as one JSON line, the run-a-model check on a fresh workspace and on one with a
model, and the lifecycle overview of a fresh and a used workspace."""
import importlib.metadata as md
import json

import pytest
from conftest import last_json, run_cli
from fixtures import konlpy_lines, make_corpus, make_tokenizer, publish_tiny_llama

from workbench.errors import UserError
from workbench.home import env
from workbench.home.env import OPTIONAL, Optional_
from workbench.home.overview import overview
from workbench.home.run_model import RANDOM_NOTE, run_model
from workbench.i18n import say


def test_env_report_fields_and_versions_match_metadata():
    rep = env.report(timeout=60, fresh=True)
    json.dumps(rep)  # JSON-ready
    m = rep["machine"]
    assert m["cpu_cores"] >= 1 and m["memory_gb"] > 0 and m["python"]
    assert rep["cuda"]["available"] in (True, False) and isinstance(rep["cuda"]["gpus"], list)
    for g in rep["cuda"]["gpus"]:
        assert {"name", "memory_gb", "compute_capability", "bf16"} <= set(g)
    core = {r["package"]: r for r in rep["core"]}
    for name in ("torch", "transformers", "tokenizers", "peft", "trl", "bitsandbytes", "gradio"):
        assert core[name]["installed"] and core[name]["version"] == md.version(name)
    opt = {r["package"]: r for r in rep["optional"]}
    assert {"nemo_toolkit", "nemo_curator", "nemo_run", "mamba_ssm", "tensorrt_llm", "fla", "torchao", "onnxruntime",
            "optimum", "lm_eval", "huggingface_hub"} <= set(opt)
    assert rep["complete"] is True
    for r in opt.values():
        assert r["enables"]["en"] and r["enables"]["ko"] != r["enables"]["en"]
        assert r["usable"] in (True, False)
        if not r["usable"]:
            assert r["why"]["en"] and r["why"]["ko"], r
        if not r["installed"]:
            assert r["why"]["en"] == "not installed" and r["version"] is None
    # installed packages carry the version importlib.metadata gives
    assert opt["onnxruntime"]["installed"] and opt["onnxruntime"]["version"] == md.version("onnxruntime")
    assert opt["onnxruntime"]["usable"] is True and opt["onnxruntime"]["import_seconds"] >= 0
    if not rep["cuda"]["available"]:  # a CUDA-only package is never usable without a GPU, installed or not
        for key in ("mamba_ssm", "tensorrt_llm", "fla", "nemo_toolkit"):
            assert opt[key]["usable"] is False
            assert opt[key]["why"]["en"] in ("not installed", "needs an NVIDIA GPU (CUDA); this machine has none")
    assert rep["counts"]["usable"] == sum(r["usable"] for r in rep["optional"])


def test_absent_and_broken_packages_say_why(monkeypatch, tmp_path):
    absent = Optional_("no_such_pkg", ("no-such-pkg-xyz",), "no_such_pkg_xyz", False,
                       say("nothing", "없음"), "pip install no-such-pkg-xyz")
    # a package that is installed but fails on import: a module on the path that raises
    (tmp_path / "wb_broken_mod.py").write_text("raise ImportError('libfoo.so: cannot open shared object file')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.syspath_prepend(str(tmp_path))
    broken = Optional_("wb_broken", ("wb-broken-xyz",), "wb_broken_mod", False, say("x", "엑스"), "-")
    gpu_only = Optional_("wb_gpu", ("wb-gpu-xyz",), "wb_broken_mod", True, say("y", "와이"), "-")
    monkeypatch.setattr(env, "OPTIONAL", (absent, broken, gpu_only))
    rows = {r["package"]: r for r in env.optional_packages(False, timeout=30, fresh=True)}
    assert rows["no_such_pkg"]["installed"] is False and rows["no_such_pkg"]["usable"] is False
    assert rows["no_such_pkg"]["why"] == {"en": "not installed", "ko": "설치되지 않음"}
    assert rows["wb_broken"]["installed"] is True and rows["wb_broken"]["usable"] is False
    assert "importing it fails" in rows["wb_broken"]["why"]["en"] and "libfoo.so" in rows["wb_broken"]["why"]["en"]
    assert "가져오기" in rows["wb_broken"]["why"]["ko"]
    assert rows["wb_gpu"]["usable"] is False and "NVIDIA GPU" in rows["wb_gpu"]["why"]["en"]  # a rule, no import
    assert "import_seconds" not in rows["wb_gpu"]


def test_a_hanging_import_is_stopped_by_the_timeout(tmp_path, monkeypatch):
    (tmp_path / "wb_slow_mod.py").write_text("import time\ntime.sleep(30)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    ok, why, secs = env.probe_import("wb_slow_mod", timeout=1.5)
    assert ok is False and secs == 1.5 and "longer than 1.5 s" in why and "초" in why.ko


def test_app_answer_does_not_wait_for_import_checks(monkeypatch):
    """wait=False answers at once with what is known, and the background check completes it."""
    import time
    env._PROBES.clear()
    first = env.report(wait=False, fresh=True)
    assert first["complete"] is False
    assert any(r["usable"] is None for r in first["optional"] if r["installed"])
    deadline = time.time() + 120
    while time.time() < deadline and not env.report(wait=False)["complete"]:
        time.sleep(0.5)
    done = env.report(wait=False)
    assert done["complete"] and all(r["usable"] in (True, False) for r in done["optional"])


def test_cli_prints_one_json_line(tmp_path):
    r = run_cli("env", workspace=tmp_path / "ws", timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stdout[:2000]
    out = last_json(r.stdout)
    assert out["ok"] and out["stage"] == "env" and out["status"] == "succeeded"
    assert {r["package"] for r in out["env"]["optional"]} == {o.key for o in OPTIONAL}
    assert out["env"]["core"][0]["version"] == md.version("torch")
    assert out["overview"]["fresh"] is True and out["overview"]["next"]["stage"] == "corpus"
    assert "run_model" not in out
    bad = run_cli("env", "--set", "max_new_tokens=0", workspace=tmp_path / "ws")
    assert bad.returncode == 2 and "max_new_tokens" in bad.stderr


def test_run_a_model_on_a_fresh_workspace_builds_a_tiny_one(ws):
    res = run_model(ws, max_new_tokens=12)
    assert res["model"]["kind"] == "random" and res["note"]["en"] == RANDOM_NOTE.en
    assert res["device"] == "cpu" and res["dtype"] == "float32"
    assert 1 <= res["new_tokens"] <= 12 and res["tokens_per_s"] > 0 and res["seconds"] > 0
    assert res["prompt_tokens"] > 0 and isinstance(res["text"], str)
    again = run_model(ws, max_new_tokens=12)
    assert again["text"] == res["text"]  # fixed seed: the same model and the same sample
    with pytest.raises(UserError, match="prompt is empty"):
        run_model(ws, prompt="  ")


def test_run_a_model_uses_the_workspace_model(ws):
    art = publish_tiny_llama(ws, "tiny-base")
    res = run_model(ws, max_new_tokens=8, seed=1)
    assert res["model"] == {"kind": "artifact", "path": ws.store.get_artifact(art).path, "id": art,
                            "name": "tiny-base"}
    assert res["note"] is None and 1 <= res["new_tokens"] <= 8 and res["tokens_per_s"] > 0
    named = run_model(ws, model="tiny-base", max_new_tokens=4)
    assert named["model"]["id"] == art
    tok = ws.store.list_artifacts("tokenizer")[0]
    with pytest.raises(UserError, match="tokenizer"):  # a tokenizer is not a model
        run_model(ws, model=str(tok.id))


def test_run_a_model_skips_classifiers(ws):
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification
    tok_id = make_tokenizer(ws)
    tok = AutoTokenizer.from_pretrained(ws.store.get_artifact(tok_id).path)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, num_labels=2, pad_token_id=tok.pad_token_id)
    staging = ws.staging_dir("model", "clf")
    LlamaForSequenceClassification(cfg).save_pretrained(staging)
    tok.save_pretrained(staging)
    ws.publish(staging, "model", "clf", parents=[tok_id], meta={"stage": "finetune", "task": "sequence-classification"})
    assert run_model(ws, max_new_tokens=4)["model"]["kind"] == "random"  # the classifier is not "run"
    with pytest.raises(UserError, match="not a causal language model"):
        run_model(ws, model="clf", max_new_tokens=4)


def test_overview_fresh_then_counted(ws):
    ov = overview(ws)
    assert ov["fresh"] and ov["artifacts"] == 0
    assert [s["stage"] for s in ov["stages"]] == ["corpus", "tokenizer", "arch", "pretrain", "finetune", "evaluate",
                                                  "optimize", "align", "chat", "pipeline"]
    assert ov["next"]["stage"] == "corpus" and "Load the bundled corpus" in ov["next"]["text"]["en"]
    assert "기본 말뭉치 불러오기" in ov["next"]["text"]["ko"]

    corpus = make_corpus(ws)
    run = ws.store.create_run("pretrain", {"max_steps": 3}, status="running")
    ws.store.finish_run(run, "succeeded", summary={"val_loss": 5.0})
    failed = ws.store.create_run("pretrain", {}, status="running")
    ws.store.finish_run(failed, "failed", error="boom")
    tok = make_tokenizer(ws, parents=[corpus])
    model = publish_tiny_llama(ws, "base", tokenizer_id=tok)
    ws.store.add_artifact("model", "base2", ws.store.get_artifact(model).path, run=run, parents=[tok],
                          meta={"stage": "pretrain", "metrics": {"val/loss": 5.25, "val/bpb": 2.5}})
    ws.store.add_artifact("eval", "rep", ws.store.get_artifact(model).path, meta={
        "stage": "eval", "task": "classify", "models": [{"model": "base2", "metrics": {"accuracy": 0.75}}]})
    ov = overview(ws)
    st = {s["stage"]: s for s in ov["stages"]}
    assert not ov["fresh"]
    assert st["corpus"]["artifacts"] == {"corpus": 1} and st["tokenizer"]["artifacts"] == {"tokenizer": 1}
    assert st["pretrain"]["artifacts"] == {"model": 2} and st["pretrain"]["runs"] == {"succeeded": 1, "failed": 1}
    assert st["pretrain"]["latest"]["name"] == "base2"
    assert st["pretrain"]["latest"]["figure"]["value"] == 2.5 and st["pretrain"]["latest"]["figure"]["label"]["en"] \
        == "val bits per byte"
    assert st["evaluate"]["latest"]["figure"]["value"] == 0.75 and "accuracy" in \
        st["evaluate"]["latest"]["figure"]["label"]["en"]
    assert st["corpus"]["latest"]["figure"]["value"] == len(konlpy_lines())
    assert st["chat"]["models_ready"] == 2
    assert ov["next"]["stage"] == "finetune"  # corpus, tokenizer and a pretrained model exist


def test_the_pipeline_row_says_what_its_last_run_chained(ws):
    # a pipeline's artifacts are counted under the stages that made them, so its row said "nothing yet" and "–"
    # after a chain of eight succeeded steps
    from tabs.home_tab import overview_html
    run = ws.store.create_run("pipeline", {}, status="running")
    ws.store.finish_run(run, "failed", summary={"steps": [
        {"step": "corpus", "status": "succeeded", "artifact": "demo-corpus"},
        {"step": "tokenizer", "status": "succeeded", "artifact": "demo-tokenizer"},
        {"step": "pretrain", "status": "failed"}]})
    row = {s["stage"]: s for s in overview(ws)["stages"]}["pipeline"]
    assert row["artifact_count"] == 0
    assert row["last_run"]["id"] == run
    assert row["chain"] == {"steps": 3, "succeeded": 2, "last": "demo-tokenizer"}
    html = overview_html(overview(ws), "en")
    cells = html[html.index("data-stage='pipeline'"):]
    assert "last run: 2 of 3 steps succeeded" in cells and "ends in: demo-tokenizer" in cells and run in cells
    assert "단계 3개 중 2개 완료" in overview_html(overview(ws), "ko")
