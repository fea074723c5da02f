"""A form's values travel to the server as one hidden widget (tabs/packed.py): the handler gets the same arguments,
in the same order and types, as when gradio sends each widget itself."""
import json

import gradio as gr
import pytest

from tabs.packed import on_form


def build(fn, n_numbers=5):
    with gr.Blocks() as demo:
        lang = gr.Radio(["ko", "en"], value="ko")
        upload = gr.State("kept")
        numbers = [gr.Number(precision=0, minimum=0) for _ in range(n_numbers)]
        pick = gr.Dropdown(["a"], value="a", allow_custom_value=False)
        flag = gr.Checkbox()
        out = gr.Markdown()
        btn = gr.Button()
        dep = on_form(btn.click, fn, [lang, upload, *numbers, pick, flag], [out])
    return demo, dep


def server_fns(demo):
    return [f for f in demo.fns.values() if f.fn is not None]


def test_the_handler_gets_each_value_in_place_after_its_widgets_preprocess():
    got = []
    demo, _ = build(lambda *a: got.append(a) or "ok")
    (fn,) = server_fns(demo)
    assert len(fn.inputs) == 2, "the packed values and the one widget the browser cannot pack (a State)"
    # a browser value the server updated since (a new choice) is passed through; numbers are rounded as gradio does
    packed = json.dumps(["en", 1.0, 2.0, 3.0, 4.0, 5.0, "new choice", True])
    assert fn.fn(packed, "kept") == "ok"
    assert got == [("en", "kept", 1, 2, 3, 4, 5, "new choice", True)]
    assert all(type(v) is int for v in got[0][2:7])
    with pytest.raises(gr.Error, match="minimum"):  # the Number's own range check still applies
        fn.fn(json.dumps(["ko", -1, 2, 3, 4, 5, "a", False]), "kept")


def test_a_generator_handler_still_streams_and_a_small_form_is_wired_as_usual():
    def stream(*a):
        yield "one"
        yield "two"
    demo, _ = build(stream)
    (fn,) = server_fns(demo)
    assert list(fn.fn(json.dumps(["ko", 1, 2, 3, 4, 5, "a", True]), "kept")) == ["one", "two"]
    demo, _ = build(lambda *a: "ok", n_numbers=1)  # 4 packable widgets: not worth a browser step
    (fn,) = server_fns(demo)
    assert len(fn.inputs) == 5 and fn.js is None


def test_an_event_rerun_with_the_values_of_when_it_runs_is_not_packed():
    """trigger_mode="always_last" defers a trigger until the running one ends, then reads the widgets: packed, it
    would read the values of when it was triggered."""
    with gr.Blocks() as demo:
        numbers = [gr.Number() for _ in range(8)]
        on_form(numbers[0].input, lambda *a: None, numbers, [], trigger_mode="always_last")
    (fn,) = server_fns(demo)
    assert len(fn.inputs) == 8
