"""The files that start one training run past this machine, all from the run's own config:

- run_node.sh: torchrun on one node (`bash run_node.sh NODE_RANK`), the same CLI the app's job queue starts;
- slurm.sbatch: that script under srun on every node of a Slurm allocation (node 0 = the first host);
- nemo_run_experiment.py: the same command as a NeMo-Run experiment, on a local executor (torchrun, this machine)
  or a Slurm executor (`--dryrun` writes the sbatch script NeMo-Run would submit);
- automodel.yaml (fine-tuning of a Hugging Face model only): a NeMo AutoModel recipe for its GPU backend.

No file needs this project's Python objects: they call `python -m workbench <stage> --config config.json`."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from ..jobs import PROJECT_ROOT

TRAINING_STAGES = ("pretrain", "finetune", "align")


@dataclass
class Cluster:
    nnodes: int
    nproc_per_node: int
    master_addr: str
    master_port: int
    gpus: bool                 # a GPU per process (CUDA) or CPU processes
    partition: str = ""
    account: str = ""
    time: str = "01:00:00"
    container_image: str = ""


def node_config(cfg: dict, cluster: Cluster) -> dict:
    """The training config as every node runs it: torchrun across `nnodes`, the rank taken from the command line."""
    return {**cfg, "launcher": "torchrun", "nproc": cluster.nproc_per_node, "nnodes": cluster.nnodes,
            "node_rank": 0, "master_addr": cluster.master_addr, "master_port": cluster.master_port,
            "device": "cuda" if cluster.gpus else "cpu"}


def run_node_sh(stage: str, workspace: Path, cluster: Cluster) -> str:
    return f"""#!/usr/bin/env bash
# One node of a {cluster.nnodes}-node run, {cluster.nproc_per_node} process(es) per node: bash run_node.sh NODE_RANK
# Node 0 is the machine at MASTER_ADDR; it runs global rank 0, which records the run in the workspace.
# Every node needs this project and the workspace at the same paths (a shared disk), and the same Python packages.
set -euo pipefail
NODE_RANK="${{1:?usage: bash run_node.sh NODE_RANK (0 to {cluster.nnodes - 1})}}"
HERE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
ROOT="${{WORKBENCH_ROOT:-{PROJECT_ROOT}}}"
WORKSPACE="${{WORKBENCH_WORKSPACE:-{workspace}}}"
PYTHON="${{PYTHON:-{sys.executable}}}"
cd "$ROOT"
exec "$PYTHON" -m torch.distributed.run --nnodes={cluster.nnodes} --node_rank="$NODE_RANK" \\
  --nproc_per_node={cluster.nproc_per_node} --master_addr="${{MASTER_ADDR:-{cluster.master_addr}}}" \\
  --master_port="${{MASTER_PORT:-{cluster.master_port}}}" \\
  -m workbench {stage} --config "$HERE/config.json" --workspace "$WORKSPACE" \\
  --set node_rank="$NODE_RANK" --set master_addr="${{MASTER_ADDR:-{cluster.master_addr}}}"
"""


def slurm_sbatch(stage: str, cluster: Cluster) -> str:
    lines = ["#!/usr/bin/env bash", f"#SBATCH --job-name=workbench-{stage}", f"#SBATCH --nodes={cluster.nnodes}",
             "#SBATCH --ntasks-per-node=1", f"#SBATCH --time={cluster.time}"]
    if cluster.gpus:
        lines.append(f"#SBATCH --gpus-per-node={cluster.nproc_per_node}")
    if cluster.partition:
        lines.append(f"#SBATCH --partition={cluster.partition}")
    if cluster.account:
        lines.append(f"#SBATCH --account={cluster.account}")
    return "\n".join(lines) + f"""
# sbatch slurm.sbatch: one task per node runs run_node.sh with its node number; node 0 is the allocation's first host.
set -euo pipefail
HERE="${{SLURM_SUBMIT_DIR:-$(cd "$(dirname "$0")" && pwd)}}"
export MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"
export MASTER_PORT={cluster.master_port}
srun --kill-on-bad-exit=1 bash -c 'bash "$0/run_node.sh" "$SLURM_NODEID"' "$HERE"
"""


def nemo_run_py(stage: str, workspace: Path, cluster: Cluster) -> str:
    return f'''"""NeMo-Run experiment: the workbench {stage} run (config.json beside this file) on {cluster.nnodes} node(s) x
{cluster.nproc_per_node} process(es). Run it with a Python that has nemo-run installed:

    python nemo_run_experiment.py local            # this machine: torchrun with {cluster.nproc_per_node} process(es)
    python nemo_run_experiment.py slurm --dryrun   # write the sbatch script NeMo-Run would submit; submit nothing
    python nemo_run_experiment.py slurm            # submit (on the cluster's login node)
"""
import argparse
import os

import nemo_run as run

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("WORKBENCH_ROOT", {json.dumps(str(PROJECT_ROOT))})
WORKSPACE = os.environ.get("WORKBENCH_WORKSPACE", {json.dumps(str(workspace))})
PYTHON = os.environ.get("WORKBENCH_PYTHON", {json.dumps(sys.executable)})
STAGE = {json.dumps(stage)}


def task(nnodes):
    # the stage's CLI; torchrun around it comes from the executor's launcher. Node rank and address are torchrun's
    # (the config's own fields are then only read on a single node).
    return run.Script(path="workbench", m=True, entrypoint=PYTHON,
                      args=[STAGE, "--config", os.path.join(HERE, "config.json"), "--workspace", WORKSPACE,
                            "--set", f"nnodes={{nnodes}}"],
                      env={{"PYTHONPATH": ROOT}})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("where", choices=["local", "slurm"])
    p.add_argument("--dryrun", action="store_true")
    p.add_argument("--account", default=os.environ.get("SLURM_ACCOUNT", {cluster.account!r}), help="Slurm account")
    a = p.parse_args()
    if a.where == "slurm" and not a.account:
        p.error("Slurm needs an account: pass --account NAME (or set SLURM_ACCOUNT)")
    if a.where == "local":
        executor = run.LocalExecutor(ntasks_per_node={cluster.nproc_per_node}, launcher="torchrun",
                                     env_vars={{"PYTHONPATH": ROOT}})
        t = task(1)
    else:
        executor = run.SlurmExecutor(account=a.account, partition={cluster.partition or None!r},
                                     nodes={cluster.nnodes}, ntasks_per_node={cluster.nproc_per_node},
                                     gpus_per_node={cluster.nproc_per_node if cluster.gpus else None!r},
                                     time={cluster.time!r}, container_image={cluster.container_image or None!r},
                                     launcher="torchrun", env_vars={{"PYTHONPATH": ROOT}},
                                     packager=run.Packager(),  # the project is already on the cluster's disk
                                     tunnel=run.LocalTunnel(job_dir="nemo_run_jobs"))
        t = task({cluster.nnodes})
    with run.Experiment("workbench-" + STAGE, executor=executor, base_dir=os.path.join(HERE, "nemo_run")) as exp:
        exp.add(t, name="workbench-" + STAGE)
        if a.dryrun:
            exp.dryrun(delete_exp_dir=False)
        else:
            exp.run(sequential=True, detach=False, tail_logs=True)


if __name__ == "__main__":
    main()
'''


def automodel_yaml(cfg: dict, out_dir: Path, cluster: Cluster) -> str | None:
    """A NeMo AutoModel recipe (its `automodel` CLI; CUDA GPUs) for a full SFT fine-tune of a causal LM; None for what
    this recipe does not cover (pretraining from scratch, classification, PEFT methods, DPO)."""
    if cfg.get("task") != "sft" or cfg.get("method") != "full":
        return None
    prompt = cfg.get("prompt_column") if cfg.get("prompt_column") not in (None, "", "auto") else "instruction"
    answer = cfg.get("response_column") if cfg.get("response_column") not in (None, "", "auto") else "output"
    batch = int(cfg.get("batch_size", 8))
    recipe = {
        "recipe": "TrainFinetuneRecipeForNextTokenPrediction",
        "dist_env": {"backend": "nccl", "timeout_minutes": 30},
        "rng": {"_target_": "nemo_automodel.components.training.rng.StatefulRNG", "seed": cfg.get("seed", 42),
                "ranked": True},
        "model": {"_target_": "nemo_automodel.NeMoAutoModelForCausalLM.from_pretrained",
                  "pretrained_model_name_or_path": cfg["base_model"], "torch_dtype": "auto",
                  "attn_implementation": "sdpa"},
        "distributed": {"_target_": "nemo_automodel.components.distributed.fsdp2.FSDP2Manager",
                        "dp_size": cluster.nnodes * cluster.nproc_per_node, "tp_size": 1, "pp_size": 1, "cp_size": 1},
        "step_scheduler": {"global_batch_size": batch * int(cfg.get("grad_accum", 1)) * cluster.nnodes
                           * cluster.nproc_per_node, "local_batch_size": batch,
                           "max_steps": int(cfg.get("max_steps", 200)), "val_every_steps": int(cfg.get("eval_every", 50)),
                           "ckpt_every_steps": int(cfg.get("save_every", 100))},
        "optimizer": {"_target_": "torch.optim.AdamW", "lr": float(cfg.get("lr", 2e-5)),
                      "weight_decay": float(cfg.get("weight_decay", 0.0))},
        "lr_scheduler": {"lr_decay_style": "cosine", "lr_warmup_steps": int(cfg.get("warmup_steps", 0))},
        "checkpoint": {"enabled": True, "model_save_format": "safetensors", "save_consolidated": True,
                       "checkpoint_dir": str(out_dir / "automodel_checkpoints")},
        "dataset": {"_target_": "nemo_automodel.components.datasets.llm.column_mapped_text_instruction_dataset."
                                "ColumnMappedTextInstructionDataset",
                    "path_or_dataset_id": cfg["data"], "split": "train",
                    "column_mapping": {"question": prompt, "answer": answer},
                    "seq_length": int(cfg.get("max_length", 128)), "answer_only_loss_mask": True},
        "dataloader": {"_target_": "torchdata.stateful_dataloader.StatefulDataLoader",
                       "collate_fn": "nemo_automodel.components.datasets.utils.default_collater"},
        "loss_fn": {"_target_": "nemo_automodel.components.loss.masked_ce.MaskedCrossEntropy"},
    }
    import yaml
    head = (f"# NeMo AutoModel recipe (GPU backend) for this fine-tune: full SFT, {cluster.nnodes} node(s) x "
            f"{cluster.nproc_per_node} GPU(s).\n# One node: automodel automodel.yaml --nproc-per-node "
            f"{cluster.nproc_per_node}\n# Several: torchrun --nnodes ... -m nemo_automodel.cli.app automodel.yaml\n")
    return head + yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True)
