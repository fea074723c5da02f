"""Pipeline tab: the whole chain in one go (tabs/pipeline_runner.py, when present), the lineage of every artifact
(a graph, and for any artifact its chain back to the raw text with each step's run, config and figures; open a
step's run), and export and share (a downloadable archive with a model card; a push to the Hugging Face Hub).

UI only: the lineage comes from workbench.lineage, the archive and the push from the export / push stages."""
from __future__ import annotations

import html
from pathlib import Path

import gradio as gr

from .components import AppContext, artifact_picker, refresh_picker, run_detail
from .i18n import pick

T = {
    "intro": ("파이프라인: 단계 전체를 한 번에 돌리고, 모든 산출물의 계보를 보고, 모델을 내보내거나 공유합니다.",
              "Pipeline: run the whole chain in one go, see the lineage of every artifact, export and share a model."),
    "lineage_h": ("### 계보", "### Lineage"),
    "lineage_note": ("열은 단계 순서(데이터 → 토크나이저 → … → 평가), 화살표는 부모 → 자식입니다. 점 위에 마우스를 올리면 "
                     "만든 실행과 주요 수치가 보입니다. 산출물을 고르면 원본 텍스트까지의 계보가 빨갛게 표시됩니다.",
                     "Columns are the lifecycle (data → tokenizer → … → evaluate), arrows go parent → child. Hover a "
                     "node for the run that made it and its key figures. Pick an artifact to trace its chain back "
                     "to the raw text (in red)."),
    "graph": ("계보 그래프", "Lineage graph"),
    "artifact": ("산출물", "Artifact"),
    "artifact_info": ("계보를 볼 산출물 (모든 종류)", "the artifact whose chain to show (any kind)"),
    "chain_h": ("#### 원본 텍스트에서 이 산출물까지", "#### From the raw text to this artifact"),
    "pick_first": ("산출물을 고르면 계보가 여기에 나옵니다.", "Pick an artifact to see its chain here."),
    "run": ("단계의 실행", "Run of a step"),
    "run_info": ("계보의 한 단계를 만든 실행", "the run that made a step of the chain"),
    "open_run": ("실행 열기", "Open run"),
    "no_runs": ("이 계보의 산출물은 모두 실행 기록 없이 등록되었습니다 (스크립트).",
                "Every artifact of this chain was registered outside a run (a script): no run to open."),
    "config": ("실행 설정", "Run config"),
    "outputs": ("산출물", "Outputs"),
    "out_cols": (["종류", "이름", "경로"], ["Kind", "Name", "Path"]),
    "summary_log": ("결과 요약과 로그", "Summary and log"),
    "metrics": ("지표", "Metrics"),
    "refresh": ("새로 고침", "Refresh"),
    "share_h": ("### 내보내기와 공유", "### Export and share"),
    "share_note": ("모델, 어댑터, 토크나이저를 압축 파일로 내려받거나 Hugging Face Hub 에 올립니다. 둘 다 계보, 데이터, "
                   "설정, 평가 수치를 적은 모델 카드(README.md)를 새로 써서 함께 넣습니다. 산출물 폴더는 바뀌지 않습니다.",
                   "Download a model, adapter or tokenizer as an archive, or push it to the Hugging Face Hub. Both carry "
                   "a fresh model card (README.md) stating its lineage, data, config and evaluation figures; the "
                   "artifact folder is not changed."),
    "share_artifact": ("내보낼 산출물", "Artifact to share"),
    "format": ("압축 형식", "Archive format"),
    "export": ("압축 파일 만들기", "Export"),
    "archive": ("내려받기", "Download"),
    "card": ("모델 카드 (README.md)", "Model card (README.md)"),
    "exported": ("압축 파일을 만들었습니다: **{name}** ({size}, 파일 {n}개). 아래에서 내려받으세요. 실행 `{run}`.",
                 "Archive ready: **{name}** ({size}, {n} files). Download it below. Run `{run}`."),
    "hub_h": ("#### Hugging Face Hub 에 올리기", "#### Push to the Hugging Face Hub"),
    "hub_note": ("토큰은 이 요청에만 쓰이고 저장되거나 기록되지 않습니다. 인터넷이 없는 곳에서는 연결할 수 없다고 "
                 "알려 줍니다.",
                 "The token is used for this push only: never saved or logged. Without internet the push says it "
                 "cannot connect."),
    "repo": ("Hub 저장소", "Hub repository"),
    "repo_info": ("사용자이름/모델이름", "your-name/model-name"),
    "token": ("Hugging Face 토큰", "Hugging Face token"),
    "token_info": ("쓰기 권한 토큰 (비우면 HF_TOKEN 환경 변수)", "a token with write access (empty: the env HF_TOKEN)"),
    "private": ("비공개 저장소 (새로 만들 때)", "Private repository (when created)"),
    "push": ("Hub 에 올리기", "Push to Hub"),
    "pushed": ("올렸습니다: [{repo}]({url}) ({vis}, 파일 {n}개). 실행 `{run}`.",
               "Pushed: [{repo}]({url}) ({vis}, {n} files). Run `{run}`."),
    "private_word": ("비공개", "private"),
    "public_word": ("공개", "public"),
}


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _lineage():
    from workbench import lineage  # light: no torch
    return lineage


def _chain_of(ctx: AppContext, art_id):
    """(graph, chain or None) of the picked artifact."""
    lin = _lineage()
    graph = lin.build_graph(ctx.store)
    key = str(art_id or "").strip()
    ch = lin.chain(ctx.store, key, graph) if key.isdigit() and int(key) in graph.nodes else None
    return graph, ch


def _run_choices(ch) -> list[tuple[str, str]]:
    if ch is None:
        return []
    return [(f"{s.node.name} · {s.node.stage} · {s.run_id}", s.run_id) for s in reversed(ch.steps) if s.run_id] + \
        [(f"{e['name']} · eval · {e['run']}", e["run"]) for e in ch.evaluations if e.get("run")]


def build(ctx: AppContext):
    ui = ctx.ui
    lang = ui.lang_box
    ui.md(T["intro"])

    # ==== Run the chain =========================================================================================
    # Added by the pipeline's developer in tabs/pipeline_runner.py (build_runner(ctx)); the tab works without it.
    runner_open = None
    try:
        from .pipeline_runner import build_runner
    except ModuleNotFoundError as e:
        if e.name != f"{__package__}.pipeline_runner":
            raise
        build_runner = None
    if build_runner is not None:
        runner_open = build_runner(ctx)
    # ==== end of "Run the chain" =================================================================================

    # ---- Lineage ---------------------------------------------------------------------------------------------
    lin = _lineage()
    ui.md(T["lineage_h"])
    ui.md(T["lineage_note"], elem_classes=["wb-msg"])
    graph0 = lin.build_graph(ctx.store)
    choices0 = lin.artifact_choices(graph0)
    with gr.Row():
        art = ui.reg(gr.Dropdown(choices=choices0, value=None, label=ui.text(T["artifact"]),
                                 info=ui.text(T["artifact_info"]), elem_id="pipe-artifact", scale=4),
                     label=T["artifact"], info=T["artifact_info"])
        refresh = ui.button(T["refresh"], size="sm", scale=0, elem_id="pipe-refresh")
    plot = ui.reg(gr.Plot(label=ui.text(T["graph"]), elem_id="pipe-graph"), label=T["graph"])
    ui.md(T["chain_h"])
    chain_md = gr.Markdown(pick(T["pick_first"], ui.lang), elem_id="pipe-chain")
    with gr.Row():
        run_dd = ui.reg(gr.Dropdown(choices=[], value=None, label=ui.text(T["run"]), info=ui.text(T["run_info"]),
                                    elem_id="pipe-run", scale=4), label=T["run"], info=T["run_info"])
        open_btn = ui.button(T["open_run"], size="sm", scale=0, elem_id="pipe-open-run")
    with gr.Group(visible=False, elem_id="pipe-run-detail") as detail_box:
        header = gr.HTML(elem_id="pipe-run-header")
        with gr.Row():
            config = ui.reg(gr.Code(language="json", label=ui.text(T["config"]), max_lines=20,
                                    elem_id="pipe-run-config"), label=T["config"])
            with gr.Column():
                outputs = ui.reg(gr.Dataframe(headers=pick(T["out_cols"], ui.lang), label=ui.text(T["outputs"]),
                                              interactive=False), label=T["outputs"])
                summary_log = ui.reg(gr.Textbox(label=ui.text(T["summary_log"]), lines=8, max_lines=16,
                                                interactive=False), label=T["summary_log"])
        run_plot = ui.reg(gr.Plot(label=ui.text(T["metrics"])), label=T["metrics"])

    def show_chain(art_id, lg):
        graph, ch = _chain_of(ctx, art_id)
        fig = lin.graph_figure(graph, lg, highlight=ch)
        if ch is None:
            return fig, pick(T["pick_first"], lg), gr.update(choices=[], value=None)
        text = lin.chain_markdown(ch, lg)
        runs = _run_choices(ch)
        if not runs:
            text += "\n\n" + pick(T["no_runs"], lg)
        return fig, text, gr.update(choices=runs, value=runs[0][1] if runs else None)

    def open_run(run_id, lg):
        if not run_id:
            return gr.update(visible=False), "", "{}", None, [], ""
        head, cfg, fig, outs, summ = run_detail(ctx, run_id, lg)
        return (gr.update(visible=True), head, cfg, fig, gr.update(value=outs, headers=pick(T["out_cols"], lg)),
                summ)

    detail_outputs = [detail_box, header, config, run_plot, outputs, summary_log]

    # ---- Export and share ------------------------------------------------------------------------------------
    ui.md(T["share_h"])
    ui.md(T["share_note"], elem_classes=["wb-msg"])
    with gr.Row():
        share_art = artifact_picker(ctx, ["model", "adapter", "tokenizer"], T["share_artifact"],
                                    elem_id="pipe-share-artifact", scale=4)
        fmt = ui.reg(gr.Radio(["zip", "tar.gz"], value="zip", label=ui.text(T["format"]), elem_id="pipe-format",
                              scale=1), label=T["format"])
        export_btn = ui.button(T["export"], variant="primary", scale=0, elem_id="pipe-export")
    export_msg = gr.Markdown(elem_id="pipe-export-msg")
    archive = ui.reg(gr.File(label=ui.text(T["archive"]), interactive=False, elem_id="pipe-archive"),
                     label=T["archive"])
    with ui.reg(gr.Accordion(ui.text(T["card"]), open=False, elem_id="pipe-card-box"), label=T["card"]):
        card_md = gr.Markdown(elem_id="pipe-card")
    ui.md(T["hub_h"])
    ui.md(T["hub_note"], elem_classes=["wb-msg"])
    with gr.Row():
        repo = ui.reg(gr.Textbox(label=ui.text(T["repo"]), info=ui.text(T["repo_info"]), placeholder="me/my-model",
                                 elem_id="pipe-repo", scale=3), label=T["repo"], info=T["repo_info"])
        token = ui.reg(gr.Textbox(label=ui.text(T["token"]), info=ui.text(T["token_info"]), type="password",
                                  placeholder="hf_…", elem_id="pipe-token", scale=3),
                       label=T["token"], info=T["token_info"])
        private = ui.reg(gr.Checkbox(value=True, label=ui.text(T["private"]), elem_id="pipe-private", scale=1),
                         label=T["private"])
        push_btn = ui.button(T["push"], variant="primary", scale=0, elem_id="pipe-push")
    push_msg = gr.Markdown(elem_id="pipe-push-msg")

    def on_pick(art_id, lg, current_share):
        fig, text, runs = show_chain(art_id, lg)
        node = _chain_of(ctx, art_id)[0].nodes.get(int(art_id)) if str(art_id or "").isdigit() else None
        share = str(node.id) if node is not None and node.kind in ("model", "adapter", "tokenizer") else current_share
        return fig, text, runs, refresh_picker(ctx, share_art, share), *open_run(None, lg)

    art.input(on_pick, [art, lang, share_art], [plot, chain_md, run_dd, share_art, *detail_outputs])
    open_btn.click(open_run, [run_dd, lang], detail_outputs)

    def do_export(lg, art_id, fmt_value):
        from workbench.share.stage import ExportConfig

        from .launch import launch
        res = launch(ctx, "export", lambda: ExportConfig(artifact=str(art_id or ""), format=fmt_value), lg,
                     in_process=True)
        if not res.ok:
            return res.message, None, ""
        s = res.result["summary"]
        msg = pick(T["exported"], lg).format(name=html.escape(Path(s["archive"]).name), size=_size(s["bytes"]),
                                             n=s["files"], run=res.run_id)
        return msg, s["archive"], _card_display(_read_card(s["archive"], s["name"]))

    export_btn.click(do_export, [lang, share_art, fmt], [export_msg, archive, card_md])

    def do_push(lg, art_id, repo_id, tok, priv):
        from workbench.share.push_stage import PushConfig

        from .launch import launch
        res = launch(ctx, "push", lambda: PushConfig(artifact=str(art_id or ""), repo_id=repo_id or "",
                                                     token=tok or "", private=bool(priv)), lg, in_process=True)
        if not res.ok:
            return res.message, gr.skip()
        s = res.result["summary"]
        return pick(T["pushed"], lg).format(repo=s["repo_id"], url=s["url"], n=s["files"], run=res.run_id,
                                            vis=pick(T["private_word" if s["private"] else "public_word"], lg)), ""

    push_btn.click(do_push, [lang, share_art, repo, token, private], [push_msg, token])

    # ---- Past one machine: launch files for a training run ------------------------------------------------------
    from .pipeline_cluster import build_cluster
    cluster_refresh, cluster_in, cluster_out = build_cluster(ctx)

    def on_open(art_id, share, lg, *cluster_values):
        graph = lin.build_graph(ctx.store)
        choices = lin.artifact_choices(graph)
        keep = art_id if art_id in {v for _, v in choices} else None
        fig, text, runs = show_chain(keep, lg)
        return (gr.update(choices=choices, value=keep), fig, text, runs, refresh_picker(ctx, share_art, share),
                cluster_refresh(*cluster_values))

    open_in = [art, share_art, lang, *cluster_in]
    open_out = [art, plot, chain_md, run_dd, share_art, *cluster_out]
    refresh.click(on_open, open_in, open_out, queue=False)
    ui.on_language(lambda a, lg: show_chain(a, lg)[:2], [art, lang], [plot, chain_md])
    mine = (on_open, open_in, open_out)
    if runner_open:  # the runner's own refresh runs next
        return (*mine, tuple(runner_open[:3]), *runner_open[3:])
    return mine


def _card_display(card: str) -> str:
    """The card for the page: its YAML front matter as a code block (as markdown it would read as headings)."""
    if card.startswith("---"):
        end = card.find("\n---", 3)
        if end > 0:
            return "```yaml\n" + card[4:end].strip("\n") + "\n```\n" + card[end + 4:]
    return card


def _read_card(archive: str, name: str) -> str:
    """The card as written into the archive (what the person downloads), for display."""
    import tarfile
    import zipfile
    try:
        if archive.endswith(".zip"):
            with zipfile.ZipFile(archive) as z:
                return z.read(f"{name}/README.md").decode("utf-8")
        with tarfile.open(archive, "r:gz") as t:
            f = t.extractfile(f"{name}/README.md")
            return f.read().decode("utf-8") if f else ""
    except (OSError, KeyError, zipfile.BadZipFile, tarfile.TarError):
        return ""
