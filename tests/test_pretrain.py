"""Pretraining: a tiny real run end to end, stop and resume, DDP on two CPU processes, bad input."""
import json
import os
import re
import sys

import pytest

from conftest import last_json, run_cli, wait_for
from fixtures import make_corpus, make_tokenizer
from workbench import stages
from workbench.jobs import JobManager

TINY = ["arch.depth=1", "arch.width=32", "arch.heads=2", "arch.context=64", "seq_len=32", "batch_size=4",
        "warmup_steps=2", "eval_every=5", "eval_batches=2", "sample_every=0", "sample_tokens=8"]


def sets(*items):
    out = []
    for it in items:
        out += ["--set", it]
    return out


@pytest.fixture
def inputs(ws):
    c = make_corpus(ws)
    t = make_tokenizer(ws, parents=[c])
    return ws, c, t


def test_tiny_run_makes_a_loadable_model_with_lineage(inputs):
    ws, c, t = inputs
    r = run_cli("pretrain", *sets("corpus=kolaw", "tokenizer=tiny-bpe", "max_steps=12", "output_name=tiny-lm",
                                  "sample_every=12", *TINY), workspace=ws.root)
    assert r.returncode == 0, r.stderr[-3000:]
    out = last_json(r.stdout)
    assert out["status"] == "succeeded" and out["steps"] == 12 and out["tokens_trained"] == 12 * 4 * 32
    assert 0 < out["val_bpb"] < 20 and out["val_loss"] > 0
    art = ws.store.get_artifact(out["model_artifact"])
    assert art.kind == "model" and art.name == "tiny-lm" and sorted(art.parents) == sorted([c, t])
    run = ws.store.get_run(out["run_id"])
    names = {m["name"] for m in ws.store.metrics(run.id)}
    assert {"train/loss", "val/loss", "val/bpb", "train/lr", "train/grad_norm", "train/tokens_per_s",
            "train/mfu"} <= names
    # The artifact loads and generates with no project code.
    code = ("import sys; from transformers import AutoModelForCausalLM, AutoTokenizer; p=sys.argv[1]; "
            "tok=AutoTokenizer.from_pretrained(p); m=AutoModelForCausalLM.from_pretrained(p); "
            "ids=tok('대한민국', return_tensors='pt').input_ids; "
            "print(m.generate(ids, max_new_tokens=4, do_sample=False).shape[1] - ids.shape[1])")
    import subprocess
    g = subprocess.run([sys.executable, "-c", code, art.path], capture_output=True, text=True, cwd="/",
                       env={**os.environ, "PYTHONPATH": ""})
    assert g.returncode == 0 and g.stdout.strip().splitlines()[-1] == "4", g.stderr[-2000:]
    card = (ws.artifact_dir("model", "tiny-lm") / "README.md").read_text()
    assert "kolaw" in card and "val/bpb" in card and "loss_curve.svg" in card
    meta = json.loads((ws.artifact_dir("model", "tiny-lm") / "workbench.json").read_text())
    assert meta["arch"]["family"] == "llama" and meta["tokenizer"]["name"] == "tiny-bpe"
    assert ws.store.events(run.id, kind="sample"), "sample generations are recorded"
    # third-party noise stays out of the job's log (peft, which the Trainer imports, imports bitsandbytes)
    log = (ws.run_dir(run.id) / "log.txt").read_text(encoding="utf-8")
    assert "gemm_4bit_forward" not in log and "gemm_4bit_forward" not in r.stderr


def test_stop_then_resume_continues_the_same_curves(inputs):
    ws, _, _ = inputs
    jm = JobManager(ws, poll_s=0.1, grace_s=20).start()
    try:
        cfg = stages.get("pretrain").config.load(sets=["corpus=kolaw", "tokenizer=tiny-bpe", "max_steps=150",
                                                       "save_every=1000", *TINY])
        rid = jm.submit("pretrain", cfg)
        wait_for(lambda: any(m["step"] >= 10 for m in ws.store.metrics(rid, ["train/loss"])), 120,
                 what="training steps")
        jm.stop(rid)
        run = wait_for(lambda: (r := ws.store.get_run(rid)).status not in ("running", "queued") and r, 30)
        assert run.status == "stopped", run.error
        ckpts = sorted((ws.run_dir(rid) / "checkpoints").glob("checkpoint-*"))
        assert ckpts, "stop saved a checkpoint"
        stop_step = int(ckpts[-1].name.split("-")[-1])
        assert 10 <= stop_step < 150
        assert ws.store.get_artifact(kind="model", name=rid) is not None, "the stopped model is usable"
        assert jm.resume(rid) == "queued to resume"
        run = wait_for(lambda: (r := ws.store.get_run(rid)).status in ("succeeded", "failed") and r, 300,
                       what="resumed run to finish")
        assert run.status == "succeeded", run.error
        assert run.summary["steps"] == 150
        steps = [m["step"] for m in ws.store.metrics(rid, ["train/loss"])]
        assert steps == sorted(steps) and len(steps) == len(set(steps)), "curves continue without duplicates"
        assert max(steps) == 150 and min(s for s in steps if s > stop_step) > stop_step
    finally:
        jm.shutdown()


def test_resume_from_a_terminal_needs_only_the_run_id(inputs):
    """`--run-id RUN --resume` continues with the run's own saved config (overrides on top), as the README says."""
    ws, _, _ = inputs
    r = run_cli("pretrain", *sets("corpus=kolaw", "tokenizer=tiny-bpe", "max_steps=10", "save_every=5", *TINY),
                workspace=ws.root)
    first = last_json(r.stdout)
    assert first["status"] == "succeeded", r.stderr[-2000:]
    r = run_cli("pretrain", "--run-id", first["run_id"], "--resume", "--set", "max_steps=14", workspace=ws.root)
    out = last_json(r.stdout)
    assert r.returncode == 0 and out["status"] == "succeeded" and out["steps"] == 14, r.stderr[-2000:]
    assert ws.store.get_run(first["run_id"]).config["corpus"] == "kolaw"


def test_a_taken_model_name_is_refused_before_the_run_is_queued(inputs):
    from workbench.errors import UserError
    ws, _, _ = inputs
    jm = JobManager(ws)  # not started: nothing runs, so the first run stays queued
    cfg = stages.get("pretrain").config.load(sets=["corpus=kolaw", "tokenizer=tiny-bpe", "output_name=lm-a", *TINY])
    first = jm.submit("pretrain", cfg)
    with pytest.raises(UserError, match=f"run {first} \\(queued\\) is already making a model named 'lm-a'"):
        jm.submit("pretrain", cfg)
    with pytest.raises(UserError, match="neither an artifact"):
        jm.submit("pretrain", cfg.replace(output_name="lm-b", corpus="no-such-corpus"))
    assert [r.id for r in ws.store.list_runs(stage="pretrain")] == [first], "refused runs are not recorded"


def test_killed_job_fails_with_the_reason_and_resumes_from_its_last_checkpoint(inputs):
    """A crash (here SIGKILL, as the out-of-memory killer sends) is shown as one, and Resume continues from the
    last complete checkpoint; a checkpoint folder the crash cut short is skipped."""
    import signal
    ws, _, _ = inputs
    jm = JobManager(ws, poll_s=0.1, grace_s=20).start()
    try:
        cfg = stages.get("pretrain").config.load(sets=["corpus=kolaw", "tokenizer=tiny-bpe", "max_steps=600",
                                                       "save_every=20", *TINY])
        rid = jm.submit("pretrain", cfg)
        ckdir = ws.run_dir(rid) / "checkpoints"

        def complete_checkpoint():
            return ckdir.is_dir() and any((p / "trainer_state.json").is_file() for p in ckdir.glob("checkpoint-*"))
        wait_for(complete_checkpoint, 120, interval=0.02, what="a checkpoint")
        os.kill(ws.store.get_run(rid).pid, signal.SIGKILL)
        run = wait_for(lambda: (r := ws.store.get_run(rid)).status not in ("running", "queued") and r, 30)
        assert run.status == "failed" and "SIGKILL" in run.error and "memory" in run.error, run.error
        done = [p for p in ckdir.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
        last = max(int(p.name.split("-")[-1]) for p in done)
        (ckdir / "checkpoint-999").mkdir()  # what a kill during a save leaves: no trainer_state.json
        (ckdir / "checkpoint-999" / "model.safetensors").write_bytes(b"cut short")
        assert jm.resume(rid) == "queued to resume"
        run = wait_for(lambda: (r := ws.store.get_run(rid)).status in ("succeeded", "failed") and r, 300,
                       what="resumed run to finish")
        assert run.status == "succeeded", run.error
        assert run.summary["steps"] == 600
        log = (ws.run_dir(rid) / "log.txt").read_text(encoding="utf-8")
        assert f"resuming from {ckdir / f'checkpoint-{last}'}" in log, log[-2000:]
    finally:
        jm.shutdown()


def test_ddp_two_cpu_processes(inputs):
    ws, _, _ = inputs
    r = run_cli("pretrain", *sets("corpus=kolaw", "tokenizer=tiny-bpe", "max_steps=4", "launcher=torchrun",
                                  "nproc=2", *TINY), "--print-config", workspace=ws.root)
    assert r.returncode == 0
    cfg_path = ws.root / "ddp.json"
    cfg_path.write_text(r.stdout)
    import subprocess
    from conftest import ROOT
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                        "-m", "workbench", "pretrain", "--config", str(cfg_path), "--workspace", str(ws.root)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    out = last_json(p.stdout)
    assert out["status"] == "succeeded" and out["steps"] == 4
    assert out["tokens_trained"] == 4 * 4 * 32 * 2, "two ranks each train a batch per step"
    assert len(ws.store.list_runs(stage="pretrain")) == 1, "only rank 0 records the run"


@pytest.mark.parametrize("extra,needle", [
    (["arch.vocab_size=123"], "vocab_size is 123 but the tokenizer has"),
    (["seq_len=64", "arch.context=64", "corpus=small"], "fewer than one block"),
    (["arch.depth=48", "arch.width=8192", "arch.heads=64", "batch_size=512", "seq_len=64"], "lower batch_size"),
    (["tokenizer=nope"], "neither an artifact"),
])
def test_bad_input_is_refused_with_advice(inputs, extra, needle):
    """Run in-process (the stage function the CLI runs): each refusal is a UserError naming the fix."""
    from workbench.errors import UserError
    from workbench.runtime import RunContext
    ws, _, _ = inputs
    make_corpus(ws, "small", ["짧은 글.", "아주 짧다."])
    stage = stages.get("pretrain")
    cfg = stage.config.load(sets=["corpus=kolaw", "tokenizer=tiny-bpe", "max_steps=3", *TINY, *extra])
    rid = ws.store.create_run("pretrain", cfg.to_dict(), status="running")
    with pytest.raises(UserError) as e:
        stage.run(cfg, RunContext(ws, rid, "pretrain"))
    assert needle in str(e.value)
    assert re.search("[가-힣]", e.value.text.ko) and e.value.text.ko != str(e.value), "the message is also Korean"


def test_failed_run_reports_error_json(inputs):
    ws, _, _ = inputs
    r = run_cli("pretrain", *sets("corpus=kolaw", "tokenizer=tiny-bpe", "arch.vocab_size=5", *TINY),
                workspace=ws.root)
    out = last_json(r.stdout)
    assert r.returncode == 1 and out["status"] == "failed" and "vocab_size is 5" in out["error"]
    error = ws.store.get_run(out["run_id"]).error
    assert error == out["error"] and re.search("[가-힣]", error.ko), "the store keeps the Korean wording too"


def test_config_errors_name_the_field(tmp_path):
    r = run_cli("pretrain", "--set", "warmup_steps=50", "--set", "max_steps=10", workspace=tmp_path / "w")
    assert r.returncode == 2 and "warmup_steps" in r.stderr
    r = run_cli("pretrain", "--set", "arch.heads=3", "--set", "arch.depth=4", workspace=tmp_path / "w")
    assert r.returncode == 2 and "arch.heads" in r.stderr and "divisible" in r.stderr
    r = run_cli("pretrain", "--set", "tokenizer=x", workspace=tmp_path / "w")
    assert r.returncode == 2 and "corpus: not chosen" in r.stderr


def test_architecture_artifact_is_what_pretraining_trains(inputs):
    """The Architecture tab saves an arch artifact; pretraining builds exactly that config and records it."""
    from workbench.arch.families import ArchConfig
    from workbench.arch.save import save_architecture
    from workbench.runtime import RunContext
    ws, _, t = inputs
    arch = ArchConfig(family="gpt2", depth=2, width=32, heads=2, context=64)
    saved = save_architecture(ws, arch, "tiny-bpe", "tiny-gpt2")
    stage = stages.get("pretrain")
    cfg = stage.config.load(sets=["corpus=kolaw", "tokenizer=tiny-bpe", "arch_artifact=tiny-gpt2", "max_steps=2",
                                  "seq_len=32", "batch_size=2", "warmup_steps=0", "eval_batches=1", "sample_every=0",
                                  "output_name=from-arch"])
    rid = ws.store.create_run("pretrain", cfg.to_dict(), status="running")
    out = stage.run(cfg, RunContext(ws, rid, "pretrain"))
    meta = json.loads((ws.artifact_dir("model", "from-arch") / "workbench.json").read_text())
    assert meta["arch"] == arch.to_dict() and meta["arch_artifact"] == saved["artifact"]
    model_cfg = json.loads((ws.artifact_dir("model", "from-arch") / "config.json").read_text())
    assert model_cfg["model_type"] == "gpt2" and model_cfg["n_layer"] == 2 and model_cfg["n_embd"] == 32
    assert saved["artifact"] in ws.store.get_artifact(out["model_artifact"]).parents


def test_a_low_cached_peak_is_replaced_by_a_higher_measurement(tmp_path):
    # A peak measured while the machine was busy must not stick: it put MFU above 1 in every later run.
    import json

    import torch

    from workbench.pretrain.flops import measured_peak_flops
    cache = tmp_path / "peak_flops.json"
    key = f"cpu:fp32:{torch.get_num_threads()}"
    cache.write_text(json.dumps({key: 1.0, "other:key": 5.0}))
    peak = measured_peak_flops("cpu", "fp32", cache)
    assert peak > 1e8
    assert json.loads(cache.read_text()) == {key: peak, "other:key": 5.0}
    cache.write_text(json.dumps({key: 1e18}))  # a higher peak than this machine reaches now is kept
    assert measured_peak_flops("cpu", "fp32", cache) == 1e18
