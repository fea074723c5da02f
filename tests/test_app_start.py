"""Starting the app: what it says before it listens beyond this machine, and its own start-up line."""
import subprocess
import sys
import time

from conftest import ROOT, free_port

import app


def test_listening_beyond_this_machine_without_auth_is_warned():
    (only,) = app.exposure_warnings(app.parse_args(["--host", "0.0.0.0", "--api"]))
    assert "--auth" in only and "anyone" in only and "API" in only
    assert app.exposure_warnings(app.parse_args([])) == []
    assert app.exposure_warnings(app.parse_args(["--host", "0.0.0.0", "--auth", "a:b"])) == []
    assert any("--share" in w for w in app.exposure_warnings(app.parse_args(["--share"])))


def test_start_up_lines_name_the_apps_flags(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "app.py", "--host", "0.0.0.0", "--port", str(port), "--workspace",
                             str(tmp_path / "ws")], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not any("Korean LLM Workbench: http" in ln for ln in lines):
            lines.append(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(15)
    text = "".join(lines)
    assert f"http://127.0.0.1:{port}" in text and "--share" in text, text
    assert "warning: --host 0.0.0.0 without --auth" in text
    assert "share=True" not in text, "gradio's own advice points at launch(), not at our flag"


def test_language_switch_runs_in_the_browser_and_forms_restore_when_their_tab_opens(tmp_path):
    """Gradio's front end walks its whole component tree, on every event, once per widget any server event has
    output: the relabelling (every widget) is a browser-side function, and only the first tab's loaders run at page
    load (the others when their tab is first opened), or an idle page kept a slow machine's browser busy."""
    from state import Workspace
    from tabs.components import AppContext
    from tabs.i18n import UI
    from workbench.jobs import JobManager

    ws = Workspace(tmp_path / "ws")
    ctx = AppContext(ws=ws, jobs=JobManager(ws), ui=UI("ko"))
    ctx.args = app.parse_args([])
    cfg = app.build_app(ctx).config
    deps = cfg["dependencies"]
    (switch,) = [d for d in deps if [ctx.ui.lang_box._id, "change"] in [list(t) for t in d["targets"]]]
    assert not switch["backend_fn"] and "Load the bundled corpus" in switch["js"]
    assert len(switch["outputs"]) > 300  # every bilingual widget, tab names included
    at_load = [o for d in deps if any(t[1] == "load" for t in d["targets"]) for o in d["outputs"]]
    assert len(at_load) < 20, f"{len(at_load)} widgets set at page load"
    restored = {tab for tab, *_ in ctx.loaders}  # still restored, when opened (the browser tests reload and check)
    assert {"corpus_tab", "tokenizer_tab", "pretrain_tab", "finetune_tab", "align_tab"} <= restored, restored
    # ... and every server event that shows no progress tracks it on one hidden widget, not on each of its outputs:
    # gradio keeps a status per tracked widget for good and revisits each on every later event (a tab click took
    # 2-4 s of browser time, not ~1 s, once every tab had been opened: bench/ui_bench.py's reopen_tab figures)
    hidden = [d for d in deps if d["backend_fn"] and d["show_progress"] == "hidden"]
    assert len(hidden) > 50 and {tuple(d["show_progress_on"] or ()) for d in hidden} == {(app_sink(cfg),)}
    tracked = {c for d in deps if d["backend_fn"] for c in d["show_progress_on"] or d["outputs"]}
    assert len(tracked) < 250, f"{len(tracked)} widgets carry a loading status"
    # the same holds for inputs: a Start button's server event reads its form as one packed widget (tabs/packed.py)
    ids = {c["props"].get("elem_id"): c["id"] for c in cfg["components"]}
    starts = ["corpus-run", "tok-train", "arch-measure-btn", "pt-start", "ft-start", "ft-count", "ev-start",
              "opt-start", "al-start"]
    for name in starts:
        chain = [d for d in deps if [ids[name], "click"] in [list(t) for t in d["targets"]]]
        server = [d for d in deps if d["backend_fn"] and (d in chain or d["trigger_after"] in [c["id"] for c in chain])]
        assert server and all(len(d["inputs"]) <= 4 for d in server), (name, [len(d["inputs"]) for d in server])
    tab_ids = {c["id"] for c in cfg["components"] if c["type"] == "tabitem"}
    on_open = [len(d["inputs"]) for d in deps if d["backend_fn"] and any(t[0] in tab_ids for t in d["targets"])]
    assert on_open and max(on_open) <= 10, sorted(on_open)  # the Architecture tab's language hook read 43


def app_sink(cfg: dict) -> int:
    (sink,) = [c["id"] for c in cfg["components"] if c["props"].get("elem_id") == "wb-progress-sink"]
    return sink


def test_a_form_restores_a_model_its_last_run_named_and_never_a_quantized_one(tmp_path):
    """The Align form restores the policy its latest run used, also when that run (the CLI, the pipeline) named it by
    name rather than by the picker's artifact id; the policy list leaves out a model the Optimize stage quantized."""
    from fixtures import publish_tiny_llama
    from state import Workspace
    from tabs.components import AppContext
    from tabs.i18n import UI
    from workbench import runs, stages
    from workbench.artifacts import QUANT_FILE
    from workbench.jobs import JobManager

    ws = Workspace(tmp_path / "ws")
    base = publish_tiny_llama(ws, "tiny-base")
    tok = ws.store.get_artifact(base).parents[0]
    newer = publish_tiny_llama(ws, "tiny-newer", tokenizer_id=tok)
    staging = ws.staging_dir("model", "tiny-int8")  # only the marker matters to the picker
    (staging / QUANT_FILE).write_text('{"method": "torch-dynamic-int8"}', encoding="utf-8")
    quantized = ws.publish(staging, "model", "tiny-int8", parents=[newer])
    stage = stages.get("align")
    runs.create(ws, stage, stage.config.load(sets=["policy_model=tiny-base"]), status="failed")
    ctx = AppContext(ws=ws, jobs=JobManager(ws), ui=UI("en"))
    ctx.args = app.parse_args([])
    app.build_app(ctx)
    (policy,) = [c for *_, outputs in ctx.loaders for c in outputs if getattr(c, "elem_id", None) == "al-policy"]
    (load,) = [(fn, outputs) for tab, fn, _, outputs in ctx.loaders if tab == "align_tab" and policy in outputs]
    fn, outputs = load
    update = fn()[outputs.index(policy)]
    assert update["value"] == str(base), update  # by name in the run's config, by id in the picker
    assert str(quantized) not in {v for _, v in update["choices"]} and str(newer) in {v for _, v in update["choices"]}
    assert policy.value == str(newer), "a fresh form starts on the newest model it can train, not the quantized one"
