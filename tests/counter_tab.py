"""A tab for the counter test stage (test fixture): a generated form, Start, and the shared job panel."""
import gradio as gr

from tabs.components import AppContext, JobPanel
from tabs.forms import ConfigForm
from tabs.launch import launch


def build(ctx: AppContext):
    ui = ctx.ui
    from tests.counter_stage import CounterConfig
    form = ConfigForm(ctx, CounterConfig, include=["steps", "step_seconds"])
    go = ui.reg(gr.Button(ui.text(("시작", "Start")), variant="primary", elem_id="counter-start"),
                value=("시작", "Start"))
    msg = gr.Markdown(elem_id="counter-msg")
    panel = JobPanel(ctx, "counter", groups=[["loss"]])

    def start(lang, *values):
        return launch(ctx, "counter", lambda: form.to_config(values), lang).outputs()

    go.click(start, [ui.lang_box, *form.components], [panel.run_id, msg])
