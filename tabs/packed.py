"""Events that read a whole form send its values to the server as one hidden widget.

Gradio's front end keeps a loading status for every input and output of each server event that has run in the
page, for good, and on every later status message (each event sends several, each timer tick does) it looks each
of them up in the whole component tree and reads its props. A Start or Count button reads its whole form (the
Fine-tune tab's: ~70 widgets), so after a person had used a few forms every tab click and every live-chart tick
cost twice the browser time (bench/ui_bench.py measures it). Here a browser-side step (which gradio tracks no
status for) copies the form's values into one hidden textbox, and the server event reads that textbox.
"""
from __future__ import annotations

import inspect
import json
import os

import gradio as gr

# Widgets whose browser value is plain JSON the server can take as it is (choice widgets: their value, unchecked
# against choices the server updated in this session, which it does not see here; the handlers validate), or after
# the widget's own preprocess (numbers: range and precision; the rest pass through).
CHOICES = (gr.Dropdown, gr.Radio, gr.CheckboxGroup)
PLAIN = (gr.Number, gr.Textbox, gr.Checkbox, gr.Slider, gr.Code)
AT_LEAST = 6  # fewer than this packable inputs: wired as usual


def gradio_default_wiring() -> bool:
    """WORKBENCH_UI_ALL_PROGRESS=1: neither this packing nor app.py's quiet_progress, for bench/ui_bench.py to
    measure the difference."""
    return bool(os.environ.get("WORKBENCH_UI_ALL_PROGRESS"))


def on_form(listener, fn, inputs: list, outputs, **kw):
    """listener(fn, inputs, outputs, **kw) (e.g. `button.click`, or a dependency's `.then`), with the packable
    inputs travelling as one. Returns the server event's dependency (to chain `.then` or cancel)."""
    packable = [i for i, c in enumerate(inputs) if isinstance(c, CHOICES + PLAIN)]
    # trigger_mode="always_last" reruns a deferred event with the values of when it runs; packed, it would rerun
    # with those of when it was triggered (the Architecture tab's table showed a depth the person had changed since).
    if (len(packable) < AT_LEAST or "js" in kw or kw.get("trigger_mode") == "always_last"
            or gradio_default_wiring()):
        return listener(fn, inputs, outputs, **kw)
    at = set(packable)
    sent = [inputs[i] for i in packable]
    rest = [c for i, c in enumerate(inputs) if i not in at]
    box = gr.Textbox(visible=False)

    def args_of(values: str, others: tuple) -> list:
        """The handler's arguments in the order of `inputs`, from the packed values and the other inputs."""
        got, other = iter(json.loads(values)), iter(others)
        args = []
        for i, c in enumerate(inputs):
            if i not in at:
                args.append(next(other))
            elif isinstance(c, CHOICES):
                args.append(next(got))
            else:
                args.append(c.preprocess(next(got)))
        return args

    if inspect.isgeneratorfunction(fn):  # gradio streams a handler's yields only when the handler is a generator
        def unpacked(values: str, *others):
            yield from fn(*args_of(values, others))
    else:
        def unpacked(values: str, *others):
            return fn(*args_of(values, others))

    name = getattr(fn, "__name__", "")
    if name.isidentifier():  # the event keeps its handler's name in gradio's API page
        kw.setdefault("api_name", name)
    packing = listener(None, sent, [box], js="(...v) => JSON.stringify(v)", queue=False, show_progress="hidden")
    return packing.then(unpacked, [box, *rest], outputs, **kw)
