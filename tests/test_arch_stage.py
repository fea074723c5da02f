"""The architecture stage end to end: measurement and race jobs, saving an arch artifact, learn sources."""
import json
import math

import pytest
from arch_helpers import make_corpus_artifact, make_tokenizer_artifact, tiny_lab
from conftest import last_json, run_cli, wait_for

from workbench.errors import UserError


def _run(ws, cfg):
    """Run the stage in-process exactly as the CLI does (run record, metrics, events, summary)."""
    from workbench import stages
    from workbench.__main__ import run_stage

    code = run_stage(stages.get("arch"), cfg, str(ws.root))
    run = ws.store.list_runs(stage="arch", limit=1)[0]
    return code, run


def test_measure_reports_every_point_per_family(ws):
    cfg = tiny_lab(families=["llama", "mamba2"])
    code, run = _run(ws, cfg)
    assert code == 0 and run.status == "succeeded", run.error
    names = {m["name"] for m in ws.store.metrics(run.id)}
    for fam in ("llama", "mamba2"):
        assert {f"step_s/{fam}", f"peak_mib/{fam}", f"decode_tok_s/{fam}", f"cache_kib/{fam}"} <= names
    steps = sorted(m["step"] for m in ws.store.metrics(run.id, names=["step_s/llama"]))
    assert steps == [16, 32, 64]
    res = {r["family"]: r for r in run.summary["measure"]["families"]}
    for fam, r in res.items():
        assert all(p["seconds"] > 0 and p["peak_bytes"] > 0 and p["saved_bytes"] > 0 for p in r["train"])
        # activations saved for backward grow with the sequence length
        assert r["train"][-1]["saved_bytes"] > 2 * r["train"][0]["saved_bytes"]
        assert r["exponents"]["step_time"]["all"] is not None
        assert [g["cache_bytes"] for g in r["gen"]] == [g["paper_cache_bytes"] for g in r["gen"]]
    # the KV cache grows with the context (exponent ~1); the SSM state does not (exponent 0)
    assert res["llama"]["exponents"]["cache_bytes"]["all"] > 0.5
    assert res["mamba2"]["exponents"]["cache_bytes"]["all"] == pytest.approx(0.0)
    assert len(ws.store.events(run.id, kind="arch_result")) == 2
    saved = json.loads((ws.run_dir(run.id) / "results.json").read_text())
    assert saved["measure"]["vocab_size"] == 8000  # no tokenizer: the stated default


def test_slow_fallback_is_capped_and_said(ws):
    cfg = tiny_lab(families=["mamba"], **{"measure.slow_seq_cap": 32, "model.depth": 1})
    code, run = _run(ws, cfg)
    assert code == 0, run.error
    r = run.summary["measure"]["families"][0]
    # capped at 32, plus a halving so that three lengths remain for the exponent fit
    assert [p["seq"] for p in r["train"]] == [8, 16, 32] and r["lengths_capped"]
    assert "mamba_ssm" in r["slow_path"]["en"] and "mamba_ssm" in r["slow_path"]["ko"]


def test_race_on_corpus_and_tokenizer_artifacts(ws):
    tok_id = make_tokenizer_artifact(ws)
    corpus_id = make_corpus_artifact(ws)
    cfg = tiny_lab(task="race", families=["llama", "rwkv"], tokenizer=str(tok_id), corpus="ko-law")
    code, run = _run(ws, cfg)
    assert code == 0 and run.status == "succeeded", run.error
    race = run.summary["race"]
    assert race["corpus"] == "ko-law" and corpus_id
    from workbench.artifacts import load_tokenizer
    assert race["vocab_size"] == len(load_tokenizer(ws.store.get_artifact(tok_id).path))
    rows = {r["family"]: r for r in race["table"]["rows"]}
    assert set(rows) == {"llama", "rwkv"}
    assert rows["llama"]["tokens"] == rows["rwkv"]["tokens"] == race["tokens_per_family"] == 2048
    for fam, curve in race["curves"].items():
        assert [c["tokens"] for c in curve] == [128 * (i + 1) for i in range(16)]
        assert curve[-1]["loss"] < curve[0]["loss"], fam  # it learns
        assert math.isfinite(rows[fam]["held_out_loss"])
    budget = race["table"]["equal_time_budget_s"]
    assert budget == min(r["seconds"] for r in rows.values())
    fastest = min(rows.values(), key=lambda r: r["seconds"])
    slower = max(rows.values(), key=lambda r: r["seconds"])
    assert fastest["loss_equal_time"] == fastest["held_out_loss"]  # its budget is its whole run
    assert slower["tokens_by_equal_time"] <= slower["tokens"]
    loss_metrics = ws.store.metrics(run.id, names=["loss/llama", "loss/rwkv"])
    assert len(loss_metrics) == 32
    held = ws.store.metrics(run.id, names=["held_out/llama"])
    assert [m["step"] for m in held] == [512, 1024, 1536, 2048]  # every 4 steps of 128 tokens, and the end
    assert held[-1]["value"] == pytest.approx(rows["llama"]["held_out_loss"])


def test_race_falls_back_to_bundled_text_from_the_cli(tmp_path):
    ws = tmp_path / "ws"
    r = run_cli("arch", "--set", "task=race", "--set", "families=llama", "--set", "model.depth=1",
                "--set", "race.tokens=1024", "--set", "race.seq_len=32", "--set", "race.batch=4",
                "--set", "threads=1", workspace=ws, timeout=300)
    out = last_json(r.stdout)
    assert out["ok"], r.stderr[-2000:]
    notes = " ".join(n["en"] for n in out["race"]["notes"])
    assert "konlpy" in notes and "byte-level BPE" in notes
    assert all(any("\uac00" <= ch <= "\ud7a3" for ch in n["ko"]) for n in out["race"]["notes"])  # Korean too


def test_invalid_config_names_the_field_from_the_cli(tmp_path):
    r = run_cli("arch", "--set", "families=llama,gpt2", "--set", "model.heads=3", workspace=tmp_path / "ws",
                timeout=120)
    assert r.returncode == 2
    assert "model.heads" in last_json(r.stdout)["error"]


def test_stop_ends_a_race_job(ws):
    from workbench.jobs import JobManager

    jobs = JobManager(ws, poll_s=0.2, grace_s=20).start()
    try:
        cfg = tiny_lab(task="race", families=["llama", "mamba2"], **{"race.tokens": 10**6})
        run_id = jobs.submit("arch", cfg)
        wait_for(lambda: ws.store.metric_count(run_id) > 2, 120, what="race metrics")
        jobs.stop(run_id)
        run = wait_for(lambda: (r := ws.store.get_run(run_id)).status in ("stopped", "failed") and r, 30,
                       what="the job to stop")
        assert run.status == "stopped", run.error
    finally:
        jobs.shutdown()


def test_save_architecture_is_what_pretrain_loads(ws):
    from transformers import AutoConfig, AutoModelForCausalLM

    from workbench.arch.families import ArchConfig, count_params
    from workbench.arch.save import save_architecture
    from workbench.artifacts import load_arch, load_tokenizer, read_meta

    tok_id = make_tokenizer_artifact(ws)
    arch = ArchConfig(family="deepseekv3", depth=2, experts=4)
    res = save_architecture(ws, arch, str(tok_id), "ds-d2")
    art = ws.store.get_artifact(res["artifact"])
    assert art.kind == "arch" and art.parents == [tok_id]
    assert ArchConfig.from_dict(load_arch(art.path)) == arch           # the same config object comes back
    tok = load_tokenizer(ws.store.get_artifact(tok_id).path)
    hc = AutoConfig.from_pretrained(art.path)                           # plain transformers reads it
    assert hc.model_type == "deepseek_v3" and hc.vocab_size == len(tok) and hc.eos_token_id == tok.eos_token_id
    model = AutoModelForCausalLM.from_config(hc)
    assert count_params(model)["total"] == read_meta(art.path)["params"]["total"] == res["params"]
    with pytest.raises(UserError, match="already exists"):
        save_architecture(ws, arch, str(tok_id), "ds-d2")
    assert save_architecture(ws, arch.replace(depth=3), str(tok_id), "ds-d2", overwrite=True)["artifact"] == art.id
    with pytest.raises(UserError, match="tokenizer"):
        save_architecture(ws, arch, "", "no-tok")
    with pytest.raises(UserError, match="name"):
        save_architecture(ws, arch, str(tok_id), "../escape")


def test_save_task_from_the_cli(tmp_path):
    from state import Workspace

    ws = Workspace(tmp_path / "ws")
    make_tokenizer_artifact(ws, "bpe")
    r = run_cli("arch", "--set", "task=save", "--set", "model.family=mamba2", "--set", "model.depth=2",
                "--set", "tokenizer=bpe", "--set", "name=m2", workspace=tmp_path / "ws", timeout=120)
    out = last_json(r.stdout)
    assert out["ok"], r.stderr[-2000:]
    art = ws.store.get_artifact(kind="arch", name="m2")
    assert art is not None and art.run == out["run_id"] and out["family"] == "mamba2"


def test_learn_shows_each_core_block_from_transformers():
    from workbench.arch.families import FAMILIES
    from workbench.arch.learn import EXPLAIN, core_source, core_source_text

    expected = {"gpt2": "attn", "llama": "repeat_kv", "mamba": "for index in range(seq_len)", "mamba2": "segment_sum",
                "rwkv": "time_decay", "mixtral": "top_k", "qwen2moe": "shared_expert",
                "deepseekv3": "kv_a_proj_with_mqa"}
    for fam in FAMILIES:
        info = core_source(fam)
        assert info["file"].endswith(".py") and "transformers" in info["file"]
        assert all(not p["source"].startswith("# ") for p in info["pieces"]), fam  # every piece was found
        assert expected[fam] in core_source_text(fam), fam
        ko, en = EXPLAIN[fam]
        assert any("\uac00" <= ch <= "\ud7a3" for ch in ko) and en
