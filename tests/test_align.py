"""Alignment: DPO (and KTO) on TRL trains a tiny real model with LoRA or fully, the reward figures reach the store
live, held-out pairs are scored before and after, the result is a chat model with lineage, stop and resume, the
pairs collected in the UI train, and bad input is refused before any work with nothing saved lost."""
import json

import pytest

from conftest import last_json, run_cli
from fixtures import publish_tiny_llama

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from workbench import runs  # noqa: E402
from workbench.align import feedback  # noqa: E402
from workbench.align.data import prepare_pairs  # noqa: E402
from workbench.align.stage import AlignConfig  # noqa: E402
from workbench.errors import UserError  # noqa: E402
from workbench.runtime import RunContext  # noqa: E402
from workbench.stages import get  # noqa: E402

FAST = ["max_steps=8", "eval_every=4", "batch_size=8", "threads=1", "warmup_steps=0", "save_every=1000", "seed=3",
        "compare_prompts=2", "compare_tokens=6", "max_length=64"]
POLITE = ["네, 알려 드릴게요. 천천히 설명해 드리겠습니다.", "좋은 질문이에요. 자세히 답해 드릴게요.",
          "도와드릴게요. 차근차근 해 보세요."]


def sets(*items):
    out = []
    for it in items:
        out += ["--set", it]
    return out


@pytest.fixture
def base(ws):
    publish_tiny_llama(ws, "tiny-base", hidden=64, layers=1)
    return "tiny-base"


def _pairs_file(path, n=48, rejected="몰라요.", prompts=None):
    """Pairs with one learnable rule: the rejected answer is always the same curt one."""
    rows = [{"prompt": prompts[i % len(prompts)] if prompts else f"질문 {i}번: 이것은 무엇인가요?",
             "chosen": POLITE[i % len(POLITE)], "rejected": rejected} for i in range(n)]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_config_choices_come_from_trl_without_importing_torch():
    import subprocess
    import sys
    code = ("import sys; from workbench.align.stage import AlignConfig, LOSS_TYPES; "
            "from workbench.align.trainers import ALGORITHMS; "
            "assert 'sigmoid' in LOSS_TYPES and 'ipo' in LOSS_TYPES and 'hinge' in LOSS_TYPES, LOSS_TYPES; "
            "assert ALGORITHMS[0] == 'dpo'; assert 'torch' not in sys.modules and 'trl' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("conftest").ROOT))
    from trl import DPOConfig
    assert set(AlignConfig.field_info("loss_type").choices) <= set(
        __import__("re").findall(r"'([a-z_]+)'", DPOConfig.__dataclass_fields__["loss_type"].metadata["help"]))


def test_cli_dpo_lora_run_learns_the_rule_scores_heldout_pairs_and_saves_a_chat_adapter(ws, base, tmp_path):
    data = _pairs_file(tmp_path / "pairs.jsonl")
    res = run_cli("align", *sets(f"policy_model={base}", f"data={data}", "output_name=aligned", *FAST, "max_steps=16",
                                 "lr=2e-2", "beta=0.5", "val_fraction=0.2", "test_fraction=0.2"), workspace=ws.root)
    assert res.returncode == 0, res.stderr[-3000:]
    out = last_json(res.stdout)
    assert out["kind"] == "adapter" and out["steps"] == 16 and out["data"] == {"train": 28, "validation": 10,
                                                                               "test": 10}
    before, after = out["heldout"]["before"], out["heldout"]["after"]
    assert before["reward_accuracy"] == 0.0 and before["reward_margin"] == 0.0  # the policy starts as the reference
    assert after["reward_accuracy"] >= 0.9 and after["reward_margin"] > 0, out["heldout"]
    assert after["logp_margin"] > before["logp_margin"]
    # live reward figures in the store, train and validation
    rid = out["run_id"]
    names = {m["name"] for m in ws.store.metrics(rid)}
    for n in ("train/loss", "train/rewards/margins", "train/rewards/accuracies", "train/logps/chosen",
              "train/logratio/chosen", "train/tokens_per_s", "val/rewards/accuracies", "val/rewards/margins"):
        assert n in names, (n, sorted(names))
    assert len(ws.store.metrics(rid, ["train/loss"])) >= 3, "train loss is logged between evaluations too"
    log_text = (ws.run_dir(rid) / "log.txt").read_text(encoding="utf-8")
    assert "`gradient_checkpointing` is deprecated" not in log_text, "the job passes the argument's current name"
    last_words = str(ws.store.get_run(rid).progress_msg)  # what the job panel shows once the run has ended
    assert f"done: step 16/16 · held-out reward accuracy {after['reward_accuracy']:.3f}" in last_words, last_words
    # before/after answers: held-out prompts and the bundled tricky ones, each with its reward
    kinds = [r["kind"] for r in out["compare"]]
    assert kinds.count("held-out") == 2 and kinds.count("tricky") == 8
    assert all(isinstance(r["reward_aligned_answer"], float) for r in out["compare"])
    assert all(0 <= r["aligned_repetition"] <= 1 and 0 <= r["reference_repetition"] <= 1 for r in out["compare"])
    assert isinstance(out["warnings"], list)
    # the artifact: a PEFT adapter plain peft loads, a chat model, lineage to the base
    art = ws.store.get_artifact(kind="adapter", name="aligned")
    assert art.meta["chat_model"] and art.meta["stage"] == "align"
    assert ws.store.get_artifact(kind="model", name=base).id in art.parents
    from peft import AutoPeftModelForCausalLM
    m = AutoPeftModelForCausalLM.from_pretrained(art.path)
    assert m.peft_config["default"].peft_type.value == "LORA"
    assert "reward accuracy" in (__import__("pathlib").Path(art.path) / "README.md").read_text()
    # the Chat tab lists it as a chat model with no problem; the Evaluate stage opens it on its base
    from workbench.chat.models import describe, list_models
    info = describe(next(r for r in list_models(ws) if r.name == "aligned"))
    assert info.default_mode == "chat" and not info.problems, (info.default_mode, info.problems)
    from workbench.evaluate.scoring import open_model
    assert open_model(ws, "aligned").model is not None


def test_full_dpo_keeps_a_frozen_reference_and_kto_runs(ws, base, tmp_path):
    data = _pairs_file(tmp_path / "pairs.jsonl", n=24)
    stage = get("align")
    cfg = AlignConfig.load(sets=[f"policy_model={base}", f"data={data}", "output_name=full", *FAST, "method=full",
                                 "lr=1e-3", "max_steps=4", "tricky_prompts=false", "loss_type=ipo"])
    rid = runs.create(ws, stage, cfg, status="running")
    out = runs.execute(stage, cfg, RunContext(ws, rid, "align"))
    assert out.status == "succeeded", out.error
    assert out.summary["kind"] == "model" and out.summary["trainable_share"] == 1.0
    before = ws.store.get_artifact(kind="model", name=base)
    after = ws.store.get_artifact(kind="model", name="full")
    from safetensors.torch import load_file
    a = load_file(f"{before.path}/model.safetensors")
    b = load_file(f"{after.path}/model.safetensors")
    assert any(not torch.equal(a[k], b[k]) for k in a if k in b), "full DPO changed the weights"
    cfg2 = AlignConfig.load(sets=[f"policy_model={base}", f"data={data}", "output_name=kto", *FAST, "algorithm=kto",
                                  "max_steps=2", "tricky_prompts=false", "compare_prompts=0"])
    rid2 = runs.create(ws, stage, cfg2, status="running")
    out2 = runs.execute(stage, cfg2, RunContext(ws, rid2, "align"))
    assert out2.status == "succeeded", out2.error
    assert any(m["name"] == "train/kl" for m in ws.store.metrics(rid2))


def test_stop_then_resume_continues_from_the_checkpoint(ws, base):
    class StopAfterLog(RunContext):
        seen = 0

        def metrics(self, step, values, flush=False):
            self.seen = max(self.seen, step)
            super().metrics(step, values, flush)

        @property
        def should_stop(self):
            return self.seen >= 3

    stage = get("align")
    cfg = AlignConfig.load(sets=["policy_model=" + base, "output_name=resumed", *FAST, "max_steps=10", "eval_every=5",
                                 "compare_prompts=0", "tricky_prompts=false"])
    rid = runs.create(ws, stage, cfg, status="running")
    out = runs.execute(stage, cfg, StopAfterLog(ws, rid, "align"))
    assert out.status == "stopped", out.error
    ckpts = sorted((ws.run_dir(rid) / "checkpoints").glob("checkpoint-*"))
    assert ckpts, "stop saved a checkpoint"
    stop_step = int(ckpts[-1].name.split("-")[-1])
    assert 3 <= stop_step < 10
    out2 = runs.execute(stage, cfg, RunContext(ws, rid, "align", resume=True))
    assert out2.status == "succeeded", out2.error
    assert out2.summary["steps"] == 10
    steps = [m["step"] for m in ws.store.metrics(rid, ["train/loss"])]
    assert steps == sorted(steps) and len(steps) == len(set(steps)) and max(steps) == 10


def test_pairs_collected_in_the_ui_are_edited_and_trained_on(ws, base):
    with pytest.raises(UserError, match="same"):
        feedback.add_pair(ws, "my-prefs", "질문", "같은 답", "같은 답")
    with pytest.raises(UserError, match="empty"):
        feedback.add_pair(ws, "my-prefs", "질문", "", "나쁜 답")
    assert ws.store.get_artifact(kind="dataset", name="my-prefs") is None, "a refused pair creates nothing"
    two = feedback.sample_two(ws, base, "안녕하세요?", max_new_tokens=6, seed=1)
    assert len(two["answers"]) == 2 and two["model"] == base
    first = None
    for i in range(12):
        res = feedback.add_pair(ws, "my-prefs", f"질문 {i}", POLITE[i % 3], f"몰라요 {i}", model=base,
                                model_artifact=two["artifact"])
        first = first or res["artifact"]
    assert res == {"artifact": first, "pairs": 12}, "the dataset keeps its id as it grows"
    feedback.update_pair(ws, "my-prefs", 0, "고친 질문", "고친 좋은 답", "고친 나쁜 답")
    feedback.delete_pair(ws, "my-prefs", 11)
    pairs = feedback.list_pairs(ws, "my-prefs")
    assert len(pairs) == 11 and pairs[0]["prompt"] == "고친 질문" and pairs[0]["edited"]
    with pytest.raises(UserError, match="no pair #11"):
        feedback.delete_pair(ws, "my-prefs", 11)
    assert feedback.preference_datasets(ws) == ["my-prefs"]
    stage = get("align")
    cfg = AlignConfig.load(sets=[f"policy_model={base}", "data=my-prefs", "output_name=from-feedback", *FAST,
                                 "max_steps=2", "compare_prompts=0", "tricky_prompts=false", "val_fraction=0.2",
                                 "test_fraction=0.2"])
    rid = runs.create(ws, stage, cfg, status="running")
    out = runs.execute(stage, cfg, RunContext(ws, rid, "align"))
    assert out.status == "succeeded", out.error
    art = ws.store.get_artifact(kind="adapter", name="from-feedback")
    assert first in art.parents, "the aligned model's lineage names the collected pairs"


def test_sft_warmup_then_dpo_on_an_sft_adapter_saves_a_merged_chat_model(ws, base, tmp_path):
    from transformers import AutoModelForCausalLM
    stage = get("align")
    cfg = AlignConfig.load(sets=[f"policy_model={base}", "output_name=warm", *FAST, "max_steps=2",
                                 "sft_warmup_steps=3", "compare_prompts=1", "tricky_prompts=false"])
    rid = runs.create(ws, stage, cfg, status="running")
    out = runs.execute(stage, cfg, RunContext(ws, rid, "align"))
    assert out.status == "succeeded", out.error
    assert out.summary["kind"] == "model", "a warmed base exists only in memory: the result is saved merged"
    assert len(ws.store.metrics(rid, ["sft/loss"])) == 3
    art = ws.store.get_artifact(kind="model", name="warm")
    AutoModelForCausalLM.from_pretrained(art.path)
    # an SFT adapter as the policy: merged in memory, so the DPO result is a model too
    from workbench.finetune.stage import FinetuneConfig
    ft = get("finetune")
    fcfg = FinetuneConfig.load(sets=[f"base_model={base}", "task=sft", "output_name=sft-adapter", "max_steps=2",
                                     "eval_every=2", "batch_size=8", "threads=1", "warmup_steps=0", "max_rows=16",
                                     "max_eval_rows=8", "save_every=1000"])
    frid = runs.create(ws, ft, fcfg, status="running")
    assert runs.execute(ft, fcfg, RunContext(ws, frid, "finetune")).status == "succeeded"
    cfg2 = AlignConfig.load(sets=["policy_model=sft-adapter", "output_name=dpo-on-sft", *FAST, "max_steps=2",
                                  "compare_prompts=0", "tricky_prompts=false"])
    rid2 = runs.create(ws, stage, cfg2, status="running")
    out2 = runs.execute(stage, cfg2, RunContext(ws, rid2, "align"))
    assert out2.status == "succeeded", out2.error
    art2 = ws.store.get_artifact(kind="model", name="dpo-on-sft")
    assert ws.store.get_artifact(kind="adapter", name="sft-adapter").id in art2.parents


@pytest.mark.parametrize("case, needle", [
    ("empty", "empty prompt, chosen or rejected answer (rows 2)"),
    ("same", "same chosen and rejected answer (rows 3)"),
    ("long", "not shorter than max_length"),
    ("no_column", "no rejected answer column found"),
    ("other_tokenizer", "another tokenizer"),
    ("classifier", "sequence classifier"),
])
def test_bad_input_is_refused_before_work_starts_and_nothing_saved_is_lost(ws, base, tmp_path, case, needle):
    stage = get("align")
    rows = [{"prompt": "질문", "chosen": "좋은 답입니다", "rejected": "몰라요"}] * 6
    extra = []
    if case == "empty":
        rows = rows[:1] + [{"prompt": "질문", "chosen": " ", "rejected": "몰라요"}] + rows[2:]
    elif case == "same":
        rows = rows[:2] + [{"prompt": "질문", "chosen": "같아요", "rejected": "같아요"}] + rows[3:]
    elif case == "long":
        rows = rows[:5] + [{"prompt": "아주 긴 질문 " * 80, "chosen": "좋은 답", "rejected": "몰라요"}]
    elif case == "no_column":
        rows = [{"prompt": r["prompt"], "chosen": r["chosen"], "worse_one": r["rejected"]} for r in rows]
    elif case == "other_tokenizer":
        from fixtures import make_tokenizer
        tok_id = make_tokenizer(ws, "other-bpe", lines=["가나다라 마바사 아자차카 타파하"] * 50 + ["abc def"] * 50,
                                vocab_size=300)
        publish_tiny_llama(ws, "other-model", tokenizer_id=tok_id)
        extra = ["reference_model=other-model"]
    elif case == "classifier":
        from transformers import AutoModelForSequenceClassification
        src = ws.store.get_artifact(kind="model", name=base).path
        staging = ws.staging_dir("model", "clf")
        AutoModelForSequenceClassification.from_pretrained(src, num_labels=2).save_pretrained(staging)
        ws.publish(staging, "model", "clf")
        extra = ["policy_model=clf"]
    data = tmp_path / "pairs.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    cfg = AlignConfig.load(sets=[f"policy_model={base}", f"data={data}", "output_name=bad", *FAST, *extra])
    kept = {a.id for a in ws.store.list_artifacts()}
    with pytest.raises(UserError) as e:
        stage.precheck(cfg, ws)
    assert needle in str(e.value), str(e.value)
    assert {a.id for a in ws.store.list_artifacts()} == kept
    assert ws.store.get_artifact(kind="adapter", name="bad") is None


def test_best_always_ends_with_the_best_validation_weights():
    from types import SimpleNamespace

    from workbench.align.train import AlignCallback
    from workbench.training.callback import LoopRules
    acc = {3: 0.5, 6: 0.9, 9: 0.6, 10: 0.7}
    model = torch.nn.Linear(2, 2, bias=False)
    ctx = SimpleNamespace(is_main=True, should_stop=False, metrics=lambda s, v, flush=False: None,
                          progress=lambda *a, **k: None, event=lambda k, p: None)
    cb = AlignCallback(ctx, LoopRules(max_steps=10, eval_every=3, monitor="val/rewards/accuracies",
                                      higher_is_better=True, best_always=True),
                       evaluate=lambda m: {"val/rewards/accuracies": acc.get(int(m.weight[0, 0].item()), 0.9)},
                       beta=0.1)
    state = SimpleNamespace(global_step=0)
    cb.on_train_begin(None, state, None)
    for step in range(1, 11):
        with torch.no_grad():
            model.weight.fill_(float(step))
        state.global_step = step
        cb.on_step_end(None, state, SimpleNamespace(should_save=False, should_training_stop=False), model=model)
    assert cb.ended == "max_steps"
    assert cb.finish(model, 10)["val/rewards/accuracies"] == 0.9 and model.weight[0, 0].item() == 6.0
    assert "reward accuracy 0.90" in cb.progress_text(10)


def test_a_hugging_face_conversational_dataset_maps_to_pairs(ws, monkeypatch):
    """The Hub path is the Fine-tune reader's (datasets.load_dataset, faked only at the network boundary); chat-message
    answers ([{role, content}], as in many Hub preference sets) become the last assistant turn."""
    import pandas as pd

    from workbench.finetune import data as FD
    msgs = lambda role, text: [{"role": role, "content": text}]  # noqa: E731
    frame = pd.DataFrame({"prompt": [msgs("user", f"질문 {i}") for i in range(20)],
                          "chosen": [msgs("assistant", f"좋은 답 {i}") for i in range(20)],
                          "rejected": [msgs("assistant", f"나쁜 답 {i}") for i in range(20)]})
    seen = {}

    def fake(name, config="", **kw):
        seen["name"] = name
        return {"train": frame}

    monkeypatch.setattr(FD, "load_hf_dataset", fake)
    cfg = AlignConfig.load(sets=["policy_model=x", "data=org/prefs", "test_fraction=0.2", "val_fraction=0.1"])
    pairs = prepare_pairs(cfg, ws)
    assert seen["name"] == "org/prefs" and pairs.sizes() == {"train": 14, "validation": 2, "test": 4}
    row = pairs.rows["train"][0]
    assert row["prompt"].startswith("질문") and row["chosen"].startswith("좋은 답") and row["rejected"].startswith("나쁜")


def test_aligned_answers_that_loop_are_flagged_in_the_summary_and_the_tab():
    """Over-optimised DPO loops ("좋아하는 것 같아요." again and again) while its reward looks good: the run warns, in
    its summary and above the tab's answers, only when the aligned model loops and the reference did not."""
    from types import SimpleNamespace

    from tabs.align_tab import comparison_html
    from workbench.align.scoring import LOOPING, looping_warning
    from workbench.evaluate.metrics import repetition_share
    from workbench.i18n import both

    def row(reference, aligned):
        return {"prompt": "요즘 잠이 안 와요", "kind": "held-out", "reference": reference, "aligned": aligned,
                "reward_reference_answer": 0.0, "reward_aligned_answer": 1.2,
                "reference_repetition": repetition_share(reference.split()),
                "aligned_repetition": repetition_share(aligned.split())}
    loop, fine = "좋아하는 것 같아요.\n\n" * 6, "따뜻한 우유를 마시고 스트레칭을 해 보세요."
    assert repetition_share(loop.split()) >= LOOPING > repetition_share(fine.split())
    assert looping_warning([row(fine, fine), row(fine, fine)]) is None
    assert looping_warning([row(loop, loop)]) is None, "the reference looped already: not what DPO did"
    warning = looping_warning([row(fine, loop), row(fine, fine)])
    assert "1 of 2" in warning and "over-optimisation" in warning and "2개 중 1개" in warning.ko
    run = SimpleNamespace(status="succeeded", summary={"compare": [row(fine, loop)], "warnings": [both(warning)]})
    page = comparison_html(run, "ko", [])
    assert "id='al-warning'" in page and "과최적화" in page and page.index("al-warning") < page.index("al-answers")
    assert "over-optimisation" in comparison_html(run, "en", [])
    assert "al-warning" not in comparison_html(SimpleNamespace(status="succeeded", summary={
        "compare": [row(fine, fine)], "warnings": []}), "en", [])
