"""The Pipeline tab's "Past one machine" section: pick a training run, fill the LaunchConfig form (nodes, processes,
node 0's address, Slurm fields), write the launch files (torchrun per node, Slurm, NeMo-Run, NeMo AutoModel) and read
or download them; "Start now: nemo-run-local" queues the NeMo-Run experiment as a job. UI only: workbench/launch."""
from __future__ import annotations

import html
from pathlib import Path

import gradio as gr

from state.i18n import pick

from .components import AppContext
from .forms import ConfigForm
from .launch import launch
from .packed import on_form

T = {
    "h": ("### 여러 머신에서 학습하기", "### Past one machine"),
    "note": ("학습 실행(사전학습·미세조정·정렬)의 설정 그대로 여러 GPU·노드에서 돌릴 파일을 씁니다: 노드마다 실행할 torchrun 스크립트, "
             "Slurm 스크립트, NeMo-Run 실험 (이 머신의 local 실행기 또는 Slurm), 전체 SFT 미세조정이면 NeMo AutoModel 레시피. "
             "노드 0 (master 주소의 머신)이 실행을 기록하므로 모든 노드가 같은 경로의 작업 공간(공유 디스크)을 봐야 합니다.",
             "Writes, from a training run's own config (pretrain, fine-tune, align), the files that run it on many GPUs "
             "and nodes: a torchrun script for each node, a Slurm script, a NeMo-Run experiment (local executor here, "
             "or Slurm) and, for a full SFT fine-tune, a NeMo AutoModel recipe. Node 0 (the machine at the master "
             "address) records the run, so every node needs the workspace at the same path (a shared disk)."),
    "run": ("학습 실행", "Training run"),
    "run_info": ("이 실행의 설정을 씁니다", "its config is what the files run"),
    "none": ("아직 학습 실행이 없습니다: 사전학습, 미세조정 또는 정렬 탭에서 먼저 돌리세요.",
             "No training run yet: run one in the Pretrain, Fine-tune or Align tab first."),
    "write": ("실행 파일 쓰기", "Write launch files"),
    "file": ("파일", "File"),
    "archive": ("실행 파일 (zip)", "Launch files (zip)"),
    "written": ("**{n}개 파일**을 `{dir}` 에 썼습니다 (실행 {run}, {stage} 설정, 노드 {nodes}개 × 프로세스 {procs}개, 노드 0: "
                "`{addr}`).\n\n- 노드마다: `{node}` (NODE_RANK 는 0 부터)\n- Slurm: `{slurm}`\n- NeMo-Run: "
                "`python nemo_run_experiment.py local` 또는 `slurm --dryrun`{auto}",
                "Wrote **{n} files** to `{dir}` (run {run}, the {stage} config, {nodes} node(s) x {procs} process(es), "
                "node 0: `{addr}`).\n\n- On each node: `{node}` (NODE_RANK from 0)\n- Slurm: `{slurm}`\n- NeMo-Run: "
                "`python nemo_run_experiment.py local` or `slurm --dryrun`{auto}"),
    "auto": ("\n- NeMo AutoModel (GPU): `automodel automodel.yaml`", "\n- NeMo AutoModel (GPU): `automodel automodel.yaml`"),
}


def training_runs(ctx: AppContext) -> list[tuple[str, str]]:
    from workbench.launch.files import TRAINING_STAGES
    out = []
    for r in ctx.store.list_runs(limit=300):
        if r.stage in TRAINING_STAGES:
            out.append((f"{r.id} · {r.stage} · {r.status}", r.id))
    return out


def build_cluster(ctx: AppContext):
    from workbench.launch.stage import LaunchConfig  # light: no torch at import

    ui = ctx.ui
    lang = ui.lang_box
    ui.md(T["h"])
    ui.md(T["note"], elem_classes=["wb-msg"])
    runs0 = training_runs(ctx)
    run_dd = ui.reg(gr.Dropdown(choices=runs0, value=runs0[0][1] if runs0 else None, label=ui.text(T["run"]),
                                info=ui.text(T["run_info"]), elem_id="pipe-launch-run"),
                    label=T["run"], info=T["run_info"])
    form = ConfigForm(ctx, LaunchConfig, exclude=["run"], columns=4)
    write = ui.button(T["write"], variant="primary", elem_id="pipe-launch-write")
    msg = gr.Markdown(elem_id="pipe-launch-msg")
    with gr.Row():
        pick_file = ui.reg(gr.Dropdown(choices=[], value=None, label=ui.text(T["file"]), elem_id="pipe-launch-file",
                                       scale=1), label=T["file"])
        archive = ui.reg(gr.File(label=ui.text(T["archive"]), interactive=False, elem_id="pipe-launch-zip", scale=1),
                         label=T["archive"])
    code = gr.Code(language="shell", elem_id="pipe-launch-code", max_lines=30)
    folder = gr.State("")

    def read(dir_, name):
        p = Path(dir_ or "") / (name or "")
        return p.read_text(encoding="utf-8") if dir_ and name and p.is_file() else ""

    def on_write(lg, run_id, *values):
        if not run_id:
            return pick(T["none"], lg), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        res = launch(ctx, "launch", lambda: form.to_config(values, run=run_id), lg,
                     in_process=lambda cfg: cfg.start == "no")
        if res.result is None or not res.ok:  # refused, or queued (start now): the message says which
            return res.message, gr.skip(), gr.skip(), gr.skip(), gr.skip()
        s = res.result["summary"]
        text = pick(T["written"], lg).format(
            n=len(s["files"]), dir=html.escape(s["dir"]), run=s["source_run"], stage=s["stage"], nodes=s["nnodes"],
            procs=s["nproc_per_node"], addr=html.escape(s["master_addr"]), node=html.escape(s["node_command"]),
            slurm=html.escape(s["slurm_command"]), auto=pick(T["auto"], lg) if s["automodel"] else "")
        first = "run_node.sh"
        return (text, gr.update(choices=s["files"], value=first), s["archive"], read(s["dir"], first), s["dir"])

    on_form(write.click, on_write, [lang, run_dd, *form.components], [msg, pick_file, archive, code, folder])
    pick_file.input(read, [folder, pick_file], [code])

    def refresh(current):
        choices = training_runs(ctx)
        ids = {v for _, v in choices}
        return gr.update(choices=choices, value=current if current in ids else (choices[0][1] if choices else None))

    return refresh, [run_dd], [run_dd]
