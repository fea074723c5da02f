"""`python -m workbench launch --set run=RUN --set nnodes=2 ...`: the files that start a training run (pretrain,
fine-tune, align) on several machines, written from that run's config (workbench.launch.files), and optionally the
NeMo-Run experiment started on this machine (local executor: torchrun with nproc_per_node processes)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError, StageConfig, param
from ..errors import UserError
from ..i18n import say
from ..stages import Stage, get
from .files import TRAINING_STAGES, Cluster, automodel_yaml, nemo_run_py, node_config, run_node_sh, slurm_sbatch

NEMO_RUN_FIX = ("pip install nemo-run 'leptonai==0.27.3' in an environment of its own (it pins starlette below 1, "
                "which gradio 6 cannot run with): python -m venv --system-site-packages nemo-env && nemo-env/bin/pip "
                "install nemo-run 'leptonai==0.27.3'; then set nemo_python to nemo-env/bin/python")


@dataclass
class LaunchConfig(StageConfig):
    run: str = param("", ko="학습 실행", en="Training run",
                     help_ko="설정을 가져올 사전학습·미세조정·정렬 실행 번호",
                     help_en="the pretrain, finetune or align run whose config to launch (run id)")
    nnodes: int = param(2, ko="노드 수", en="Nodes (machines)", min=1, max=4096)
    nproc_per_node: int = param(1, ko="노드당 프로세스", en="Processes per node (GPUs per node)", min=1, max=1024)
    device: str = param("cuda", ko="장치", en="Device", choices=["cuda", "cpu"],
                        help_ko="cuda: 프로세스마다 GPU 하나", help_en="cuda: one GPU per process")
    master_addr: str = param("", ko="노드 0 주소", en="Node 0 address",
                             help_ko="비우면 이 머신의 이름 (Slurm 은 할당된 첫 노드를 씀)",
                             help_en="empty: this machine's name (Slurm uses the allocation's first node)")
    master_port: int = param(29500, ko="노드 0 포트", en="Node 0 port", min=1, max=65535)
    slurm_partition: str = param("", ko="Slurm 파티션", en="Slurm partition", advanced=True)
    slurm_account: str = param("", ko="Slurm 계정", en="Slurm account", advanced=True)
    slurm_time: str = param("01:00:00", ko="Slurm 시간 제한", en="Slurm time limit (HH:MM:SS)", advanced=True)
    container_image: str = param("", ko="컨테이너 이미지 (NeMo-Run Slurm)", en="Container image (NeMo-Run on Slurm)",
                                 advanced=True)
    start: str = param("no", ko="지금 시작", en="Start now", choices=["no", "nemo-run-local"],
                       help_ko="nemo-run-local: NeMo-Run 실험을 이 머신에서 실행 (torchrun, 노드 1개)",
                       help_en="nemo-run-local: run the NeMo-Run experiment on this machine (torchrun, one node)")
    nemo_python: str = param("", ko="nemo-run 파이썬", en="Python with nemo-run", advanced=True,
                             help_ko="비우면 이 파이썬", help_en="empty: this Python")

    def check(self):
        errors = []
        if not self.run.strip():
            errors.append(("run", say("no training run chosen: give the id of a pretrain, finetune or align run",
                                      "학습 실행이 비어 있습니다. 사전학습·미세조정·정렬 실행 번호를 쓰세요")))
        if not _valid_time(self.slurm_time):
            errors.append(("slurm_time", say("{t} is not a Slurm time: write HH:MM:SS, e.g. 02:00:00",
                                             "{t}: Slurm 시간 형식이 아닙니다. 02:00:00 처럼 쓰세요", t=self.slurm_time)))
        return errors


def _valid_time(t: str) -> bool:
    parts = t.strip().replace("-", ":").split(":")
    return 2 <= len(parts) <= 4 and all(p.isdigit() for p in parts)


def source(ws, run_id: str) -> tuple[str, dict]:
    """(stage, config) of the training run to launch; refuses what is not a training run."""
    run = ws.store.get_run(run_id.strip())
    if run is None:
        raise UserError(say("run '{r}' does not exist in this workspace: pick a run from the Runs tab",
                            "실행 '{r}' 이(가) 이 작업 공간에 없습니다. 실행 탭에서 고르세요", r=run_id))
    if run.stage not in TRAINING_STAGES:
        raise UserError(say("run {r} is a {s} run: only {t} runs train, and only they launch on several machines",
                            "실행 {r} 은(는) {s} 실행입니다. 여러 머신 실행은 학습 실행({t})만 됩니다",
                            r=run.id, s=run.stage, t=", ".join(TRAINING_STAGES)))
    path = ws.run_dir(run.id) / "config.json"
    cfg = json.loads(path.read_text(encoding="utf-8")) if path.exists() else dict(run.config or {})
    return run.stage, cfg


def cluster_of(cfg: LaunchConfig) -> Cluster:
    return Cluster(nnodes=cfg.nnodes, nproc_per_node=cfg.nproc_per_node,
                   master_addr=cfg.master_addr.strip() or socket.getfqdn(), master_port=cfg.master_port,
                   gpus=cfg.device == "cuda", partition=cfg.slurm_partition.strip(),
                   account=cfg.slurm_account.strip(), time=cfg.slurm_time.strip(),
                   container_image=cfg.container_image.strip())


def precheck(cfg: LaunchConfig, ws) -> None:
    stage, train_cfg = source(ws, cfg.run)
    try:  # the config every node runs must itself be valid (e.g. FSDP, precision on the chosen device)
        get(stage).config.load(base=node_config(train_cfg, cluster_of(cfg)))
    except ConfigError as e:
        raise UserError(say("the {s} config cannot run this way: {e}", "{s} 설정을 이렇게 실행할 수 없습니다: {e}",
                            s=stage, e=e)) from None


def write_files(ws, cfg: LaunchConfig, out_dir: Path) -> dict:
    stage, train_cfg = source(ws, cfg.run)
    cluster = cluster_of(cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    node_cfg = get(stage).config.load(base=node_config(train_cfg, cluster)).to_dict()
    files = {"config.json": json.dumps(node_cfg, ensure_ascii=False, indent=2),
             "run_node.sh": run_node_sh(stage, ws.root, cluster),
             "slurm.sbatch": slurm_sbatch(stage, cluster),
             "nemo_run_experiment.py": nemo_run_py(stage, ws.root, cluster)}
    recipe = automodel_yaml(node_cfg, out_dir, cluster) if stage == "finetune" else None
    if recipe:
        files["automodel.yaml"] = recipe
    for name, text in files.items():
        (out_dir / name).write_text(text, encoding="utf-8")
        if name.endswith(".sh"):
            os.chmod(out_dir / name, 0o755)
    archive = shutil.make_archive(str(out_dir.parent / "launch_files"), "zip", out_dir)
    return {"stage": stage, "source_run": cfg.run.strip(), "dir": str(out_dir), "files": sorted(files),
            "archive": archive, "nnodes": cluster.nnodes, "nproc_per_node": cluster.nproc_per_node,
            "master_addr": cluster.master_addr,
            "node_command": f"bash {out_dir / 'run_node.sh'} NODE_RANK",
            "slurm_command": f"sbatch {out_dir / 'slurm.sbatch'}",
            "automodel": bool(recipe)}


def nemo_python(cfg: LaunchConfig) -> str:
    """A Python that imports nemo_run: the configured one, else this one; refused with the fix when neither does."""
    py = cfg.nemo_python.strip() or sys.executable
    try:
        ok = subprocess.run([py, "-c", "import nemo_run"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UserError(say("cannot start {p}: {e}", "{p} 를 실행할 수 없습니다: {e}", p=py, e=e)) from None
    if ok.returncode != 0:
        why = (ok.stderr.strip().splitlines() or ["import failed"])[-1]
        raise UserError(say("nemo-run is not usable in {p} ({w}). {fix}", "{p} 에서 nemo-run 을 쓸 수 없습니다 ({w}). {fix}",
                            p=py, w=why, fix=NEMO_RUN_FIX))
    return py


def start_nemo_run_local(ctx, out_dir: Path, py: str) -> dict:
    """Run the experiment's local executor (torchrun on this machine) and wait, forwarding Stop; the training CLI
    records its own run, whose summary line is read from the experiment's log."""
    log_path = out_dir / "nemo_run_local.log"
    env = {**os.environ, "NEMORUN_HOME": str(out_dir / "nemo_run_home")}
    env.pop("WORKBENCH_RUN_ID", None)  # the training CLI creates its own run
    env.pop("WORKBENCH_SUPERVISED", None)
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen([py, str(out_dir / "nemo_run_experiment.py"), "local"], cwd=out_dir, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            while proc.poll() is None and not ctx.should_stop:
                time.sleep(1.0)
        finally:  # Stop, or this job dying: the experiment (and its torchrun ranks) goes with it
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    result = None
    for line in text.splitlines():  # the training CLI's summary line (nemo-run may prefix its log lines)
        i = line.find('{"ok"')
        if i >= 0:
            try:
                result = json.loads(line[i:])
            except ValueError:
                pass
    if proc.returncode != 0 or not result or not result.get("ok"):
        tail = "\n".join(text.splitlines()[-15:])
        raise UserError(say("the NeMo-Run experiment did not finish a run (exit {c}); its log {p} ends:\n{t}",
                            "NeMo-Run 실험이 실행을 끝내지 못했습니다 (종료 {c}). 로그 {p} 끝부분:\n{t}",
                            c=proc.returncode, p=log_path, t=tail))
    return {"nemo_run_log": str(log_path), "trained_run": result.get("run_id"), "trained_status": result.get("status")}


def run(cfg: LaunchConfig, ctx) -> dict:
    out = write_files(ctx.ws, cfg, ctx.run_dir / "launch")
    ctx.progress(1, 2 if cfg.start != "no" else 1, say("launch files written: {d}", "실행 파일 작성: {d}", d=out["dir"]))
    if cfg.start == "nemo-run-local":
        py = nemo_python(cfg)
        ctx.progress(1, 2, say("NeMo-Run experiment running on this machine", "NeMo-Run 실험을 이 머신에서 실행 중"))
        out |= start_nemo_run_local(ctx, Path(out["dir"]), py)
        ctx.progress(2, 2, say("trained run {r}: {s}", "학습 실행 {r}: {s}", r=out["trained_run"],
                               s=out["trained_status"]))
    return out


STAGE = Stage(name="launch", config=LaunchConfig, run=run, precheck=precheck,
              help="write the files that start a training run on several machines (torchrun per node, Slurm, "
                   "NeMo-Run, NeMo AutoModel) and optionally start the NeMo-Run experiment here")
