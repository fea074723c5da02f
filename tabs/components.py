"""Shared UI pieces every stage tab reuses: the job panel, artifact pickers, the runs view.

All of them read the store on a timer; none holds a job object, so a page refresh or
a second browser shows the same runs and re-attaches to a running job.
"""
from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass, field

import gradio as gr

from state import Run, Workspace

from .i18n import UI, pick, tr
from .plots import metrics_figure

STATUS_COLOR = {"queued": "#888", "running": "#1f77b4", "succeeded": "#2ca02c", "failed": "#d62728",
                "stopped": "#ff7f0e", "interrupted": "#9467bd"}


@dataclass
class AppContext:
    ws: Workspace
    jobs: object  # workbench.jobs.JobManager (typed loosely: tabs import no engine module at build time)
    ui: UI
    # (tab, fn, inputs, outputs) run once per page (a reload, a second browser), when that tab is first opened:
    # see JobPanel.restore and app.wire_page_loads
    loaders: list = field(default_factory=list)

    def on_page_load(self, fn, inputs: list, outputs: list) -> None:
        """Run fn once per page for the tab being built: at page load for the first tab, else when it is opened."""
        self.loaders.append((self.ui.tab, fn, inputs, outputs))

    @property
    def store(self):
        return self.ws.store


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "–"
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def fmt_time(t: float | None) -> str:
    return time.strftime("%m-%d %H:%M:%S", time.localtime(t)) if t else "–"


def status_badge(status: str, lang: str) -> str:
    return (f"<span class='wb-badge' style='background:{STATUS_COLOR.get(status, '#888')}'>"
            f"{html.escape(tr(status, lang))}</span>")


def run_header_html(store, run: Run | None, lang: str) -> str:
    if run is None:
        return f"<div class='wb-run'>{html.escape(tr('no_run', lang))}</div>"
    parts = [f"<b>{html.escape(run.id)}</b>", status_badge(run.status, lang)]
    if run.status == "queued":
        pos = store.queue_position(run.id)
        if pos:
            parts.append(html.escape(tr("queued_at", lang, pos=pos)))
    if run.duration is not None:
        parts.append(html.escape(tr("elapsed", lang, t=fmt_seconds(run.duration))))
    out = " ".join(parts)
    f = run.fraction
    if f is not None:
        eta = run.eta
        eta_txt = f" · {tr('eta', lang, eta=fmt_seconds(eta))}" if eta is not None else ""
        out += (f"<div class='wb-progress'><progress max='1' value='{f:.4f}'></progress> "
                f"{f * 100:.0f}%{eta_txt}</div>")
    if run.progress_msg:  # engine messages carry both wordings (state.i18n.Text): shown in the person's language
        out += f"<div class='wb-msg'>{html.escape(pick(run.progress_msg, lang))}</div>"
    if run.error and run.status in ("failed", "interrupted"):
        out += f"<pre class='wb-error'>{html.escape(pick(run.error, lang)[-3000:])}</pre>"
    elif run.error and run.status == "stopped":  # a stop the person asked for is not a failure
        out += f"<div class='wb-stopped'>{html.escape(pick(run.error, lang)[-3000:])}</div>"
    return f"<div class='wb-run' data-status='{run.status}'>{out}</div>"


def queue_html(store, shown: Run | None, lang: str) -> str:
    """The other jobs that are running or waiting, so a newly queued run does not hide the one that runs."""
    others = [r for r in store.list_runs(status=("running", "queued"), limit=50) if shown is None or r.id != shown.id]
    if not others:
        return ""
    items = []
    for r in sorted(others, key=lambda r: (r.status != "running", r.created)):
        f = r.fraction
        where = f" {f * 100:.0f}%" if r.status == "running" and f is not None else (
            f" ({tr('queued_at', lang, pos=store.queue_position(r.id))})" if r.status == "queued" else "")
        items.append(f"<b>{html.escape(r.id)}</b> {status_badge(r.status, lang)}{html.escape(where)}")
    return f"<div class='wb-queue'>{html.escape(tr('other_jobs', lang))}: " + " · ".join(items) + "</div>"


def _short(line: str, limit: int = 400) -> str:
    """A log line as the panel shows it: the CLI's closing JSON line can hold whole curves (the Runs tab has it all)."""
    return line if len(line) <= limit else line[:limit] + f" … (+{len(line) - limit:,})"


class JobPanel:
    """Status, progress with ETA, a live metrics chart, log tail and Stop for one stage's runs.

    Shows the run chosen in this browser session, or else the stage's latest run, so it
    re-attaches after a reload or from another browser.
    """

    def __init__(self, ctx: AppContext, stage: str, *, groups: list[list[str]] | None = None,
                 samples: bool = False, every: float = 2.0):
        self.ctx, self.stage, self.groups = ctx, stage, groups
        ui = ctx.ui
        with gr.Group(elem_classes=["wb-jobpanel"]):
            self.run_id = gr.State(None)
            self._seen = gr.State("")
            self.header = gr.HTML(run_header_html(ctx.store, self.latest(), ui.lang), elem_classes=["wb-run-header"])
            with gr.Row():
                self.stop_btn = ui.reg(gr.Button(ui.t("stop"), variant="stop", size="sm", scale=0,
                                                 elem_classes=["wb-stop"]), value="stop")
                self.note = gr.Markdown("")
            self.plot = ui.reg(gr.Plot(label=ui.t("metrics"), elem_classes=["wb-metrics-plot"]), label="metrics")
            self.samples = gr.Markdown("", visible=samples, elem_classes=["wb-samples"])
            self.log = ui.reg(gr.Textbox(label=ui.t("log"), lines=6, max_lines=10, interactive=False, autoscroll=True,
                                         elem_classes=["wb-log"]), label="log")
            self.cmd = ui.reg(gr.Textbox(label=ui.t("command"), interactive=False, buttons=["copy"], max_lines=3,
                                         elem_classes=["wb-cmd"]), label="command")
            self.timer = ui.timer(every)
        lang = ui.lang_box
        self.timer.tick(self.refresh, [self.run_id, lang, self._seen],
                        [self.header, self.plot, self.samples, self.log, self.cmd, self._seen, self.note],
                        show_progress="hidden", queue=False)
        self.stop_btn.click(self.stop, [self.run_id, lang], [self.note], queue=False)
        # the newest log line in view (the textbox's own autoscroll leaves a refreshed value at its top)
        self.log.change(None, None, None, js="() => document.querySelectorAll('.wb-log textarea')"
                                               ".forEach(t => { t.scrollTop = t.scrollHeight; })")

    def latest(self) -> Run | None:
        runs = self.ctx.store.list_runs(stage=self.stage, limit=1)
        return runs[0] if runs else None

    def current(self, run_id: str | None) -> Run | None:
        if run_id:
            run = self.ctx.store.get_run(run_id)
            if run is not None:
                return run
        return self.latest()

    def refresh(self, run_id, lang, seen):
        store = self.ctx.store
        run = self.current(run_id)
        header = run_header_html(store, run, lang) + queue_html(store, run, lang)
        if run is None:
            return header, gr.skip(), gr.skip(), "", "", seen, gr.skip()
        n = store.metric_count(run.id)
        n_events = len(store.events(run.id, kind="sample", limit=1))
        key = f"{run.id}:{n}:{n_events}:{run.status}"
        if key == seen and run.status not in ("queued", "running"):  # an ended run shown already: only the header
            return header, gr.skip(), gr.skip(), gr.skip(), gr.skip(), seen, gr.skip()
        if key == seen:
            plot = samples = gr.skip()
        else:
            plot = metrics_figure({run.id: store.metrics(run.id)}, self.groups) if n else None
            samples = self.samples_markdown(run.id)
        from workbench.jobs import tail  # light module-level deps only (psutil, state)
        log_text = "\n".join(_short(line) for line in tail(self.ctx.ws.run_dir(run.id) / "log.txt", 30).splitlines())
        cmd = self.ctx.jobs.command_line(run.id)
        note = gr.skip() if run.status in ("queued", "running") else ""  # a stop note is stale once it ended
        return header, plot, samples, log_text, cmd, key, note

    def restore(self, forms: list, pickers: dict | None = None, widgets: dict | None = None) -> None:
        """When a page loads (a reload mid-run, a second browser), fill these forms with the config of the run the
        panel shows (the stage's latest), so what the person set is not replaced by defaults and Start does not
        launch a default run. pickers: config path -> artifact dropdown (set when that artifact still exists);
        widgets: config path -> any other widget holding that field's value as it is."""
        pickers, widgets = dict(pickers or {}), dict(widgets or {})
        outputs = [c for f in forms for c in f.components] + list(pickers.values()) + list(widgets.values())

        def load():
            run = self.latest()
            cfg = None
            if run is not None:
                from workbench import stages
                try:
                    cfg = stages.get(self.stage).config.from_dict(run.config)
                except Exception:  # noqa: BLE001 - a config an older version saved: keep the form as it is
                    cfg = None
            if cfg is None:
                return [gr.skip()] * len(outputs)
            values = [v for f in forms for v in f.values_of(cfg)]
            from workbench.artifacts import find
            for path, dd in pickers.items():
                ref = str(cfg.get(path) or "")
                choices = _picker_choices(self.ctx.store, dd.kind, getattr(dd, "optional", False),
                                          getattr(dd, "trainable", False))
                known = {v for _, v in choices}  # choices refreshed too: artifacts made since the app started
                if ref and ref not in known and not dd.multiselect:  # a run started from the CLI names it
                    art = find(self.ctx.store, tuple(dd.kind) if isinstance(dd.kind, list) else dd.kind, ref)
                    ref = str(art.id) if art is not None else ref
                values.append(gr.update(choices=choices, value=ref) if ref in known else gr.skip())
            values += [cfg.get(path) for path in widgets]
            return values

        self.ctx.on_page_load(load, [], outputs)

    def samples_markdown(self, run_id: str) -> str:
        ev = self.ctx.store.events(run_id, kind="sample", limit=1)
        if not ev:
            return ""
        p = ev[-1]["payload"]
        lines = [f"**step {p.get('step', '?')}**"]
        for s in p.get("samples", []):
            lines.append(f"- **{html.escape(s.get('prompt', ''))}** → {html.escape(s.get('text', ''))}")
        return "\n".join(lines)

    def stop(self, run_id, lang):
        run = self.current(run_id)
        if run is None:
            return ""
        active = run.status in ("queued", "running")
        what = pick(self.ctx.jobs.stop(run.id), lang)
        return tr("stop_sent", lang, what=what) if active else what


# -- artifact pickers -------------------------------------------------------------
def artifact_choices(store, kind: str | list[str], trainable: bool = False) -> list[tuple[str, str]]:
    """trainable: leave out the models the Optimize stage quantized into its own format (they load for answering
    only), so that a training stage's picker neither offers nor preselects one."""
    from workbench.artifacts import quant_info
    out = []
    for a in store.list_artifacts(kind):
        if trainable and quant_info(a.path) is not None:
            continue
        out.append((f"{a.name} · {a.kind} · {fmt_time(a.created)}", str(a.id)))
    return out


def artifact_picker(ctx: AppContext, kind: str | list[str], label: tuple[str, str], *, multiselect: bool = False,
                    info: tuple[str, str] | None = None, optional: bool = False, trainable: bool = False,
                    **kw) -> gr.Dropdown:
    """A dropdown of artifacts of some kind(s), newest first; its value is the artifact id (a string).
    optional: start empty instead of on the newest artifact. trainable: models a stage can train (or quantize)
    only. For a picker that fills a config field, pass `**forms.field_texts(Config.field_info("corpus"))` as label
    and info: the config holds the words."""
    choices = _picker_choices(ctx.store, kind, optional and not multiselect, trainable)
    value = [] if multiselect else ("" if optional else choices[0][1] if choices else None)
    dd = gr.Dropdown(choices=choices, value=value, label=ctx.ui.text(label), multiselect=multiselect,
                     info=ctx.ui.text(info) if info else None, **kw)
    attrs = {"label": label}
    if info:
        attrs["info"] = info
    ctx.ui.reg(dd, **attrs)
    dd.kind = kind  # remembered for refresh_picker
    dd.optional = optional
    dd.trainable = trainable
    return dd


NONE_CHOICE = ("— (비움 · none)", "")  # an optional picker can always go back to "nothing chosen"


def _picker_choices(store, kind, optional: bool, trainable: bool = False) -> list[tuple[str, str]]:
    return ([NONE_CHOICE] if optional else []) + artifact_choices(store, kind, trainable)


def refresh_picker(ctx: AppContext, dd: gr.Dropdown, current=None):
    optional = getattr(dd, "optional", False)
    choices = _picker_choices(ctx.store, dd.kind, optional and not dd.multiselect, getattr(dd, "trainable", False))
    values = {v for _, v in choices}
    if dd.multiselect:
        keep = [v for v in (current or []) if v in values]
        return gr.update(choices=choices, value=keep)
    fallback = "" if optional else choices[0][1] if choices else None
    value = current if current in values else fallback
    return gr.update(choices=choices, value=value)


# -- runs view ----------------------------------------------------------------
def run_detail(ctx: AppContext, run_id: str | None, lang: str):
    store = ctx.store
    run = store.get_run(run_id) if run_id else None
    if run is None:
        return run_header_html(store, None, lang), "{}", None, [], ""
    config = json.dumps(run.config, ensure_ascii=False, indent=2)
    # every metric the run logged (pretraining logs ten): the detail view is where one looks for all of them
    fig = metrics_figure({run.id: store.metrics(run.id)}, max_panels=12) if store.metric_count(run.id) else None
    outputs = [[a.kind, a.name, a.path] for a in store.list_artifacts(run=run.id)]
    from workbench.jobs import tail
    summary = json.dumps(run.summary, ensure_ascii=False, indent=2) if run.summary else ""
    log = tail(ctx.ws.run_dir(run.id) / "log.txt", 60)
    return run_header_html(store, run, lang), config, fig, outputs, (summary + "\n\n" + log).strip()
