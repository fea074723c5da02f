"""The pipeline: the demo chain (shrunk) runs every step as its own run with the pipeline as parent, its chat model
answers, a second run reuses every step in seconds, a changed step is redone with what follows it, and configs whose
steps do not fit together are refused before anything runs."""
import json

import pytest

from conftest import last_json, run_cli

pytest.importorskip("torch")

from workbench.errors import UserError  # noqa: E402
from workbench.pipeline.plan import make_plan  # noqa: E402
from workbench.pipeline.stage import PipelineConfig  # noqa: E402

SMALL = {"pretrain": {"max_steps": 8, "eval_every": 4, "warmup_steps": 2, "arch.depth": 1, "arch.width": 64,
                     "arch.heads": 2},
         "sft": {"max_steps": 4, "eval_every": 2, "warmup_steps": 0},
         "align": {"max_steps": 2, "eval_every": 1, "warmup_steps": 0, "compare_tokens": 4, "tricky_prompts": False},
         "optimize": {"n_prompts": 2, "new_tokens": 4}, "evaluate": {"max_rows": 20}, "chat": {"max_new_tokens": 8}}


CHAIN = ["corpus", "tokenizer", "pretrain", "sft", "align", "chat"]  # optimize/evaluate: wiring tested below, runs
                                                                     # in their own stages' tests (each costs ~40 s)


def _config(tmp_path, overrides=SMALL, **kw):
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps({"preset": "demo", "name": "t", "threads": 1, "overrides": overrides, "steps": CHAIN,
                                **kw}), encoding="utf-8")
    return path


def test_demo_chain_runs_each_step_as_a_run_then_reuses_them_and_redoes_a_changed_step(ws, tmp_path):
    res = run_cli("pipeline", "--config", str(_config(tmp_path)), workspace=ws.root, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    out = last_json(res.stdout)
    steps = {s["step"]: s for s in out["steps"]}
    assert list(steps) == CHAIN
    assert all(s["status"] == "succeeded" for s in steps.values()), out["steps"]
    pipeline_run = out["run_id"]
    for s in steps.values():  # each step is its own run, child of the pipeline run
        run = ws.store.get_run(s["run_id"])
        assert run.status == "succeeded" and run.parent_run == pipeline_run, (s, run.parent_run)
    # each step's artifact fed the next: the aligned adapter's lineage goes back to the corpus
    aligned = ws.store.get_artifact(kind="adapter", name="t-aligned")
    chain, todo = set(), [aligned.id]
    while todo:
        a = ws.store.get_artifact(todo.pop())
        chain.add(a.kind)
        todo += a.parents
    assert {"corpus", "tokenizer", "model", "adapter"} <= chain
    assert out["chat"]["model"] == "t-aligned" and isinstance(out["chat"]["reply"], str)
    assert steps["pretrain"]["figure"]["name"] == "val_loss"

    again = run_cli("pipeline", "--config", str(_config(tmp_path)), workspace=ws.root, timeout=300)
    out2 = last_json(again.stdout)
    assert out2["status"] == "succeeded" and out2["reused"] == len(CHAIN) and out2["seconds"] < 10, out2

    changed = {**SMALL, "chat": {"max_new_tokens": 6}}
    third = run_cli("pipeline", "--config", str(_config(tmp_path, changed)), workspace=ws.root, timeout=300)
    out3 = last_json(third.stdout)
    status = {s["step"]: s["status"] for s in out3["steps"]}
    assert status["chat"] == "succeeded" and all(v == "reused" for k, v in status.items() if k != "chat"), status


def test_steps_that_do_not_fit_together_are_refused_before_anything_runs(ws, tmp_path):
    def refused(needle, **kw):
        cfg = PipelineConfig.load(base={"preset": "demo", "name": "t", **kw})
        with pytest.raises(UserError) as e:
            make_plan(cfg, ws, check_only=True)
        assert needle in str(e.value), str(e.value)

    refused("a classifier cannot be fed to DPO", overrides={"sft": {"task": "classification"}})
    refused("would not fit together", overrides={"pretrain": {"arch.vocab_size": 100}})
    refused("has no field", overrides={"align": {"rank": 4}})
    refused("which no chosen step makes", steps=["align"])
    refused("lacks", preset="workshop", data_dir=str(tmp_path / "nowhere"))
    assert ws.store.list_runs() == [] and ws.store.list_artifacts() == []
    # the CLI refuses the same at submit, with exit code 2 and nothing recorded
    res = run_cli("pipeline", "--config", str(_config(tmp_path, {"sft": {"task": "classification"}})),
                  workspace=ws.root)
    assert res.returncode == 2 and "classifier" in last_json(res.stdout)["error"]


def test_plan_wires_each_step_to_the_one_before(ws):
    cfg = PipelineConfig.load(base={"preset": "demo", "name": "w"})
    plan = {p.key: p for p in make_plan(cfg, ws, check_only=True)}
    assert plan["optimize"].cfg.model == "w-aligned" and plan["evaluate"].cfg.data == "w-corpus"
    assert plan["evaluate"].cfg.models == ["w-base", "w-sft", "w-aligned"]
    assert plan["pretrain"].cfg.corpus == "w-corpus" and plan["pretrain"].cfg.tokenizer == "w-tokenizer"
    assert plan["sft"].cfg.base_model == "w-base" and plan["align"].cfg.policy_model == "w-sft"
    assert plan["chat"].cfg.model == "w-aligned" and plan["chat"].cfg.message == cfg.chat_prompt
    assert all(getattr(p.cfg, "overwrite", True) for p in plan.values())


def test_the_default_chat_check_asks_a_question_the_demo_sft_trains_on(ws):
    """The final chat check's help says so: a demo model trained for minutes answers what it was taught, so the
    default question must be in the demo SFT's train split (not its validation or test rows)."""
    from workbench.finetune.data import make_splits, read_source
    cfg = PipelineConfig.load(base={"preset": "demo", "name": "w"})
    sft = {p.key: p for p in make_plan(cfg, ws, check_only=True)}["sft"].cfg
    splits = make_splits(read_source(sft.data, task="sft"), val_fraction=sft.val_fraction,
                         test_fraction=sft.test_fraction, seed=sft.seed)
    assert cfg.chat_prompt in set(splits.train["instruction"])
    held = set(splits.validation["instruction"]) | set(splits.test["instruction"])
    assert cfg.chat_prompt not in held and len(held) >= 10
