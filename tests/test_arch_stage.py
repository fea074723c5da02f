"""The architecture stage end to end: measurement and race jobs, saving an arch artifact, learn sources."""
import json
import math
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
from arch_helpers import make_corpus_artifact, make_tokenizer_artifact, tiny_lab
from conftest import ROOT, last_json, run_cli, wait_for

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
    notes = " ".join(n["en"] for n in saved["measure"]["notes"])  # the run says what it used
    assert "no tokenizer chosen" in notes and "8,000" in notes and "no corpus is read" in notes
    ev = ws.store.events(run.id, kind="arch_note")
    assert ev and ev[0]["payload"]["task"] == "measure" and ev[0]["payload"]["notes"] == saved["measure"]["notes"]


PROFILER_NOISE = ("USDT:", "profiler_start", "profiler_stop", "SyncActivityProfilerHandler", "STAGE:")


def test_measure_log_has_no_profiler_lines(tmp_path):
    """The CPU peak memory runs under torch.profiler; Kineto's own lines must not reach the person's log."""
    from state import Workspace

    ws = Workspace(tmp_path / "ws")
    tok_id = make_tokenizer_artifact(ws, "ko-bpe")
    r = run_cli("arch", "--set", "task=measure", "--set", "families=llama", "--set", "model.depth=1",
                "--set", "measure.seq_lens=16,32", "--set", "measure.gen_contexts=16", "--set", "measure.gen_tokens=2",
                "--set", "measure.repeats=1", "--set", "threads=1", "--set", "tokenizer=ko-bpe",
                workspace=ws.root, timeout=300)
    out = last_json(r.stdout)
    assert out["ok"], r.stderr[-2000:]
    assert out["measure"]["families"][0]["train"][0]["peak_bytes"] > 0  # the profiler did run
    noise = [ln for ln in r.stderr.splitlines() if any(k in ln for k in PROFILER_NOISE)]
    assert not noise, noise[:4]
    notes = out["measure"]["notes"]
    assert f"tokenizer 'ko-bpe' (artifact #{tok_id})" in notes[0]["en"] and "ko-bpe" in notes[0]["ko"]
    assert "tokenizer 'ko-bpe'" in r.stderr  # the log says it too


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
    assert race["corpus"] == "ko-law" and corpus_id and race["tokenizer"] == "ko-bpe"
    notes = " ".join(n["en"] for n in race["notes"])  # what the race used, as the tab shows it
    assert "corpus 'ko-law'" in notes and f"tokenizer 'ko-bpe' (artifact #{tok_id})" in notes
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


def _strict_json(text: str):
    def no_constant(c):
        raise AssertionError(f"{c} in JSON output")
    return json.loads(text, parse_constant=no_constant)


def test_race_falls_back_to_bundled_text_from_the_cli(tmp_path):
    ws = tmp_path / "ws"
    # evaluated only at the end: the slower family has no held-out loss at equal time (null, never NaN)
    r = run_cli("arch", "--set", "task=race", "--set", "families=llama,gpt2", "--set", "model.depth=1",
                "--set", "race.tokens=1024", "--set", "race.seq_len=32", "--set", "race.batch=4",
                "--set", "race.eval_every=1000", "--set", "threads=1", workspace=ws, timeout=300)
    out = _strict_json(r.stdout.strip().splitlines()[-1])
    assert out["ok"], r.stderr[-2000:]
    notes = " ".join(n["en"] for n in out["race"]["notes"])
    assert "konlpy" in notes and "byte-level BPE" in notes
    assert out["race"]["corpus"] == "konlpy bundled text" and "byte-level BPE" in out["race"]["tokenizer"]
    assert all(any("\uac00" <= ch <= "\ud7a3" for ch in n["ko"]) for n in out["race"]["notes"])  # Korean too
    rows = out["race"]["table"]["rows"]
    assert sorted(r["loss_equal_time"] is None for r in rows) == [False, True]
    assert out["race"]["table"]["best_at_equal_time"] in ("llama", "gpt2")
    _strict_json((ws / "runs" / out["run_id"] / "results.json").read_text())


def _race_result(fam, seconds, evals, steps=8):
    from workbench.arch.families import FAMILIES

    curve = [{"step": i + 1, "tokens": 128 * (i + 1), "loss": 5.0 - 0.1 * i, "seconds": seconds * (i + 1) / steps}
             for i in range(steps)]
    return {"family": fam, "label": FAMILIES[fam][0], "curve": curve, "evals": evals, "steps": steps,
            "tokens": 128 * steps, "seconds": seconds, "tokens_per_s": 128 * steps / seconds,
            "final_train_loss": 4.3, "held_out_loss": evals[-1]["loss"] if evals else float("nan"),
            "params": 1000, "active_params": 1000, "non_embedding_params": 500, "finished": True}


def test_race_table_shows_a_dash_and_says_why_never_nan():
    """RWKV's held-out loss at equal time is nan when its first evaluation came after the fastest family ended."""
    from tabs.arch_tab import race_rows

    results = [_race_result("llama", 2.0, [{"tokens": 1024, "loss": 4.1, "seconds": 2.0}]),
               _race_result("rwkv", 9.0, [{"tokens": 512, "loss": 4.4, "seconds": 4.5},
                                          {"tokens": 1024, "loss": 4.0, "seconds": 9.0}])]
    for lang, words in (("en", "no held-out evaluation finished within"), ("ko", "끝난 검증이")):
        rows, why = race_rows(results, lang, eval_every=4)
        assert not any("nan" in cell.lower() for row in rows for cell in row), rows
        rwkv = next(r for r in rows if r[0] == "RWKV")
        assert rwkv[7] == "–" and rwkv[8] == "–" and rwkv[6] == "4.000"
        assert len(why) == 1 and "RWKV" in why[0] and words in why[0] and "2.0" in why[0] and "4.5" in why[0]
        assert "nan" not in why[0]
    stopped = _race_result("mamba2", 1.0, [], steps=0) | {"tokens": 0, "seconds": 0.0, "tokens_per_s": 0.0,
                                                           "final_train_loss": float("nan"), "curve": []}
    rows, why = race_rows(results + [stopped], "en", eval_every=4)
    assert rows[-1][3:] == ["0.0", "–", "–", "–", "–", "–"] and "Mamba2" in why[-1]


def test_pickers_start_on_what_the_latest_run_used(ws):
    """After a reload: the artifact the latest run used, an explicit none, or else the newest artifact."""
    from tabs.arch_tab import picker_start

    ctx = SimpleNamespace(store=ws.store)
    assert picker_start(ctx, "tokenizer", None) == ("", False)  # nothing made yet: none
    old = make_tokenizer_artifact(ws, "old-bpe")
    time.sleep(0.01)
    new = make_tokenizer_artifact(ws, "new-bpe")
    assert picker_start(ctx, "tokenizer", None) == (str(new), False)  # no run: the newest
    code, run = _run(ws, tiny_lab(families=["llama"], tokenizer="old-bpe", **{"model.depth": 1,
                                                                               "measure.seq_lens": [16],
                                                                               "measure.gen_contexts": [16]}))
    assert code == 0, run.error
    assert picker_start(ctx, "tokenizer", run) == (str(old), True)  # by name from a CLI run: its id
    assert picker_start(ctx, "corpus", run) == ("", False)  # no corpus existed: not a choice, follow the newest
    code, run = _run(ws, tiny_lab(families=["llama"], tokenizer="", **{"model.depth": 1, "measure.seq_lens": [16],
                                                                        "measure.gen_contexts": [16]}))
    assert picker_start(ctx, "tokenizer", run) == ("", True)  # none although two existed: kept as chosen


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


LEARN_PROBE = """
import sys, time
t0 = time.perf_counter()
from workbench.arch.families import FAMILIES
from workbench.arch.learn import core_source_text
from workbench.arch.measure import pick_device, slow_path
firsts = []
for fam in FAMILIES:
    t = time.perf_counter()
    slow_path(fam, pick_device("auto"))
    core_source_text(fam)
    firsts.append(time.perf_counter() - t)
t = time.perf_counter()
core_source_text("mamba")
again = time.perf_counter() - t
from workbench.arch.measure import _torch_build_has_gpu
print(firsts[0], max(firsts), again, "torch" in sys.modules, "transformers.modeling_utils" in sys.modules,
      _torch_build_has_gpu())
"""


def test_learn_reads_source_without_importing_torch():
    """'Show the code' took 19 s: importing a modeling module (torch, most of transformers) to print its text."""
    r = subprocess.run([sys.executable, "-c", LEARN_PROBE], capture_output=True, text=True, timeout=120,
                       cwd=str(ROOT))
    assert r.returncode == 0, r.stderr[-2000:]
    first, slowest, again, torch_loaded, modeling_loaded, gpu_build = r.stdout.split()
    assert modeling_loaded == "False"  # the source is read from the file, nothing imported
    if gpu_build == "False":  # a CPU-only torch: where a measurement would run is known without importing it
        assert torch_loaded == "False"
    assert float(first) < 2.0 and float(slowest) < 2.0 and float(again) < 0.5, r.stdout


def test_learn_shows_each_core_block_from_transformers():
    import importlib
    import inspect

    from workbench.arch.families import FAMILIES
    from workbench.arch.learn import CORE, EXPLAIN, _resolve, core_source, core_source_text

    expected = {"gpt2": "attn", "llama": "repeat_kv", "mamba": "for index in range(seq_len)", "mamba2": "segment_sum",
                "rwkv": "time_decay", "mixtral": "top_k", "qwen2moe": "shared_expert",
                "deepseekv3": "kv_a_proj_with_mqa"}
    for fam in FAMILIES:
        info = core_source(fam)
        assert info["file"].endswith(".py") and "transformers" in info["file"]
        assert all(not p["source"].startswith("# ") for p in info["pieces"]), fam  # every piece was found
        assert expected[fam] in core_source_text(fam), fam
        module = importlib.import_module(CORE[fam][0])  # what was read from the file is what inspect gives
        assert info["file"] == inspect.getsourcefile(module)
        for p in info["pieces"]:
            assert p["source"] == inspect.getsource(_resolve(module, p["name"])), (fam, p["name"])
        ko, en = EXPLAIN[fam]
        assert any("\uac00" <= ch <= "\ud7a3" for ch in ko) and en
