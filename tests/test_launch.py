"""Past one machine: the launch files written from a training run's config, two nodes (two torchrun agents on this
machine, static rendezvous) training one run with them, the NeMo-Run experiment and the NeMo AutoModel recipe."""
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, free_port, last_json, run_cli
from fixtures import make_corpus, make_tokenizer
from workbench import runs
from workbench.config import ConfigError
from workbench.launch.files import Cluster, automodel_yaml
from workbench.stages import get
from workbench.training.settings import ComputeSettings

TINY = {"corpus": "kolaw", "tokenizer": "tiny-bpe", "max_steps": 3, "arch": {"depth": 1, "width": 32, "heads": 2,
        "context": 64}, "seq_len": 32, "batch_size": 4, "warmup_steps": 1, "eval_every": 3, "eval_batches": 1,
        "sample_every": 0, "save_every": 3}


@pytest.fixture
def pretrain_run(ws):
    """A recorded pretrain run (its config is what gets launched; nothing trained yet)."""
    c = make_corpus(ws)
    make_tokenizer(ws, parents=[c])
    stage = get("pretrain")
    cfg = stage.config.load(base=TINY)
    return runs.create(ws, stage, cfg, status="succeeded")


def launch(ws, *items):
    args = []
    for it in items:
        args += ["--set", it]
    return run_cli("launch", *args, workspace=ws.root, timeout=300)


def test_launch_files_from_a_pretrain_run(ws, pretrain_run):
    port = free_port()
    r = launch(ws, f"run={pretrain_run}", "nnodes=3", "nproc_per_node=2", "device=cuda", "master_addr=node0.lan",
               f"master_port={port}", "slurm_partition=gpu", "slurm_account=lab")
    assert r.returncode == 0, r.stderr[-3000:]
    out = last_json(r.stdout)
    assert out["ok"] and out["stage"] == "pretrain" and out["source_run"] == pretrain_run
    d = ws.root / "runs" / out["run_id"] / "launch"
    assert sorted(p.name for p in d.iterdir()) == ["config.json", "nemo_run_experiment.py", "run_node.sh",
                                                   "slurm.sbatch"], "no AutoModel recipe for pretraining"
    cfg = get("pretrain").config.load(str(d / "config.json"), sets=["node_rank=2"])
    assert (cfg.launcher, cfg.nnodes, cfg.nproc, cfg.master_addr, cfg.device) == ("torchrun", 3, 2, "node0.lan", "cuda")
    assert cfg.arch.width == 32 and cfg.max_steps == 3, "the run's own config, not the defaults"
    assert cfg.launcher_prefix()[-5:] == ["--nnodes=3", "--node_rank=2", "--nproc_per_node=2",
                                          "--master_addr=node0.lan", f"--master_port={port}"]
    node = (d / "run_node.sh").read_text()
    assert "--nnodes=3" in node and "--nproc_per_node=2" in node and "-m workbench pretrain" in node
    sbatch = (d / "slurm.sbatch").read_text()
    for line in ("#SBATCH --nodes=3", "#SBATCH --gpus-per-node=2", "#SBATCH --partition=gpu", "#SBATCH --account=lab",
                 "scontrol show hostnames", "$SLURM_NODEID"):
        assert line in sbatch, line
    for sh in ("run_node.sh", "slurm.sbatch"):
        assert subprocess.run(["bash", "-n", str(d / sh)]).returncode == 0, f"{sh} is not valid bash"
    compile((d / "nemo_run_experiment.py").read_text(), "nemo_run_experiment.py", "exec")
    assert (ws.root / "runs" / out["run_id"] / "launch_files.zip").stat().st_size > 0


def test_two_nodes_train_one_run_with_the_launch_files(ws, pretrain_run):
    """Two torchrun agents on this machine stand for two nodes (static rendezvous at 127.0.0.1): one run, recorded
    once, that trained a batch per rank per step."""
    r = launch(ws, f"run={pretrain_run}", "nnodes=2", "nproc_per_node=1", "device=cpu", "master_addr=127.0.0.1",
               f"master_port={free_port()}")
    assert r.returncode == 0, r.stderr[-3000:]
    script = ws.root / "runs" / last_json(r.stdout)["run_id"] / "launch" / "run_node.sh"
    before = {x.id for x in ws.store.list_runs(stage="pretrain")}
    env = {**os.environ, "WORKBENCH_ROOT": str(ROOT), "PYTHON": sys.executable}
    nodes = [subprocess.Popen(["bash", str(script), str(rank)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
    outs = [p.communicate(timeout=400) for p in nodes]
    for p, (so, se) in zip(nodes, outs):
        assert p.returncode == 0, se[-3000:]
    out = last_json(outs[0][0])
    assert '"run_id"' not in outs[1][0], "only global rank 0 (on node 0) prints the summary"
    assert out["status"] == "succeeded" and out["steps"] == 3
    assert out["tokens_trained"] == 3 * 4 * 32 * 2, "each node's rank trains a batch per step"
    new = [x for x in ws.store.list_runs(stage="pretrain") if x.id not in before]
    assert [x.id for x in new] == [out["run_id"]], "the two nodes record one run"


@pytest.mark.parametrize("items,needle", [
    (["run=nope"], "does not exist"),
    (["run={tok}"], "only pretrain, finetune, align runs train"),
    (["run={pre}", "slurm_time=two hours"], "not a Slurm time"),
    (["run={pre}", "device=cpu", "nproc_per_node=1", "nnodes=1"], None),
])
def test_launch_refusals(ws, pretrain_run, items, needle):
    tok = runs.create(ws, get("tokenizer"), get("tokenizer").config.load(base={"corpus": "kolaw"}), status="succeeded")
    r = launch(ws, *[i.format(tok=tok, pre=pretrain_run) for i in items])
    if needle is None:
        assert r.returncode == 0, r.stderr[-2000:]
        return
    assert r.returncode == 2 and needle in (r.stderr + r.stdout), r.stderr[-2000:]


def test_several_nodes_need_torchrun_an_address_and_a_rank_below_nnodes():
    ok = ComputeSettings(launcher="torchrun", nnodes=2, node_rank=1, master_addr="10.0.0.1", nproc=4).validate()
    assert ok.launcher_prefix()[3:] == ["--nnodes=2", "--node_rank=1", "--nproc_per_node=4", "--master_addr=10.0.0.1",
                                        "--master_port=29500"]
    for kw, field, words in [
        (dict(launcher="accelerate", nnodes=2, master_addr="h"), "launcher", "torchrun"),
        (dict(launcher="torchrun", nnodes=2), "master_addr", "node 0's address"),
        (dict(launcher="torchrun", nnodes=2, node_rank=2, master_addr="h"), "node_rank", "0 to 1"),
        (dict(launcher="torchrun", node_rank=1), "node_rank", "nnodes above 1"),
    ]:
        with pytest.raises(ConfigError) as e:
            ComputeSettings(**kw).validate()
        assert any(f == field and words in str(m) for f, m in e.value.errors), e.value.errors


def test_automodel_recipe_for_a_full_sft_finetune(tmp_path):
    cluster = Cluster(nnodes=2, nproc_per_node=4, master_addr="h", master_port=1, gpus=True)
    cfg = {"task": "sft", "method": "full", "base_model": "/models/base", "data": "/data/chat.jsonl",
           "prompt_column": "auto", "response_column": "answer", "batch_size": 2, "grad_accum": 3, "max_steps": 50,
           "lr": 1e-5, "max_length": 256, "seed": 7}
    text = automodel_yaml(cfg, tmp_path, cluster)
    recipe = yaml.safe_load(text)
    assert recipe["recipe"] == "TrainFinetuneRecipeForNextTokenPrediction"
    assert recipe["model"]["pretrained_model_name_or_path"] == "/models/base"
    assert recipe["dataset"]["path_or_dataset_id"] == "/data/chat.jsonl"
    assert recipe["dataset"]["column_mapping"] == {"question": "instruction", "answer": "answer"}
    assert recipe["step_scheduler"]["global_batch_size"] == 2 * 3 * 8 and recipe["distributed"]["dp_size"] == 8
    assert automodel_yaml({**cfg, "method": "lora"}, tmp_path, cluster) is None
    assert automodel_yaml({**cfg, "task": "classification"}, tmp_path, cluster) is None


def _python_with_nemo_run():
    py = os.environ.get("WORKBENCH_NEMO_PYTHON") or shutil.which("python", path="/tmp/nr/bin") or ""
    if py and subprocess.run([py, "-c", "import nemo_run"], capture_output=True).returncode == 0:
        return py
    return None


def test_nemo_run_local_start_without_nemo_run_says_how_to_install_it(ws, pretrain_run):
    if subprocess.run([sys.executable, "-c", "import nemo_run"], capture_output=True).returncode == 0:
        pytest.skip("nemo-run is importable in this Python: the refusal cannot happen")
    r = launch(ws, f"run={pretrain_run}", "nnodes=1", "device=cpu", "start=nemo-run-local")
    out = last_json(r.stdout)
    assert r.returncode != 0 and out["status"] == "failed"
    assert "nemo-run is not usable" in out["error"] and "pip install nemo-run" in out["error"]
    assert (ws.root / "runs" / out["run_id"] / "launch" / "run_node.sh").exists(), "the files are written first"


def test_nemo_run_experiment_trains_here_and_writes_a_slurm_script(ws, pretrain_run):
    py = _python_with_nemo_run()
    if py is None:
        pytest.skip("no Python with nemo-run (it conflicts with gradio 6: set WORKBENCH_NEMO_PYTHON to one that has "
                    "it)")
    r = launch(ws, f"run={pretrain_run}", "nnodes=2", "nproc_per_node=2", "device=cpu", "start=nemo-run-local",
               f"nemo_python={py}", f"master_port={free_port()}")
    assert r.returncode == 0, (r.stderr + r.stdout)[-3000:]
    out = last_json(r.stdout)
    trained = ws.store.get_run(out["trained_run"])
    assert trained.stage == "pretrain" and trained.status == "succeeded"
    d = ws.root / "runs" / out["run_id"] / "launch"
    dry = subprocess.run([py, str(d / "nemo_run_experiment.py"), "slurm", "--dryrun", "--account", "lab"], cwd=d, capture_output=True,
                         text=True, timeout=300, env={**os.environ, "NEMORUN_HOME": str(d / "home")})
    assert dry.returncode == 0, dry.stderr[-3000:]
    scripts = list(d.rglob("*_sbatch.sh"))
    assert scripts, "NeMo-Run's dry run writes the sbatch script"
    text = scripts[0].read_text()
    assert "--nodes=2" in text and "workbench" in text
