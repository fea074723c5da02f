"""The training pieces every training stage shares (workbench/training): checkpoints, held-out loss and bits per
byte, the live callback's rules (Stop, budget, early stopping with the best weights), launch settings."""
import math
import re
import sys
import time
from types import SimpleNamespace

import pytest
import torch

from workbench.training import checkpoints
from workbench.training.callback import LiveCallback, LoopRules
from workbench.training.evaluation import heldout_loss
from workbench.training.settings import ComputeSettings


class FakeCtx:
    """The RunContext surface the callback uses, recording what it is told."""

    def __init__(self, stop_at: int | None = None):
        self.is_main, self.resume, self.stop_at, self.step = True, False, stop_at, 0
        self.logged, self.progressed, self.events = [], [], []

    @property
    def should_stop(self):
        return self.stop_at is not None and self.step >= self.stop_at

    def metrics(self, step, values, flush=False):
        self.logged.append((step, dict(values)))

    def progress(self, done, total, msg=None):
        self.progressed.append((done, total, msg))

    def event(self, kind, payload):
        self.events.append((kind, payload))


def drive(cb, model, ctx, steps):
    """Call the callback as the Trainer would, one optimizer step at a time, until it asks to stop."""
    state, args = SimpleNamespace(global_step=0), None
    cb.on_train_begin(args, state, SimpleNamespace())
    for step in range(1, steps + 1):
        with torch.no_grad():
            model.weight.fill_(float(step))  # the "training": weights tell which step they come from
        state.global_step = ctx.step = step
        control = SimpleNamespace(should_save=False, should_training_stop=False)
        cb.on_step_end(args, state, control, model=model)
        if control.should_training_stop:
            assert control.should_save, "an early end saves a checkpoint"
            return step
    return steps


def test_early_stopping_ends_after_patience_and_keeps_the_best_weights():
    losses = {2: 3.0, 4: 2.0, 6: 2.5, 8: 2.6, 10: 2.7}  # best at step 4, then two worse evaluations
    model = torch.nn.Linear(2, 2, bias=False)
    ctx = FakeCtx()
    evaluate = lambda m: {"val/loss": losses.get(int(m.weight[0, 0].item()), 9.0)}  # noqa: E731
    cb = LiveCallback(ctx, LoopRules(max_steps=20, eval_every=2, early_stopping=2), evaluate=evaluate)
    end = drive(cb, model, ctx, 20)
    assert end == 8 and cb.ended == "early_stopping"
    final = cb.finish(model, end)
    assert model.weight[0, 0].item() == 4.0, "the weights of the best evaluation are what is saved"
    assert final == {"val/loss": 2.0} and cb.best_step == 4
    assert any(k == "note" and p["restored_step"] == 4 for k, p in ctx.events)


def test_stop_and_time_budget_end_the_loop_with_a_checkpoint():
    model = torch.nn.Linear(2, 2, bias=False)
    ctx = FakeCtx(stop_at=3)
    cb = LiveCallback(ctx, LoopRules(max_steps=50, eval_every=10), evaluate=lambda m: {"val/loss": 1.0})
    assert drive(cb, model, ctx, 50) == 3 and cb.ended == "stop"
    assert ctx.logged[-1] == (3, {"val/loss": 1.0}), "an early end is evaluated at the step it ends"
    ctx2 = FakeCtx()
    cb2 = LiveCallback(ctx2, LoopRules(max_steps=50, eval_every=10, max_minutes=1e-6),
                       evaluate=lambda m: {"val/loss": 1.0})
    time.sleep(0.01)
    assert drive(cb2, model, ctx2, 50) == 1 and cb2.ended == "budget"
    assert re.search("[가-힣]", ctx2.progressed[-1][2].ko), "progress messages carry Korean"


def test_heldout_loss_scores_only_labelled_tokens_and_reports_bits_per_byte():
    torch.manual_seed(0)
    from transformers import LlamaConfig, LlamaForCausalLM
    model = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2))
    ids = torch.randint(0, 50, (3, 8))
    labels = ids.clone()
    labels[:, :4] = -100  # a prompt that is not scored (as in instruction tuning)
    data = [{"input_ids": ids[i], "labels": labels[i]} for i in range(3)]
    out = heldout_loss(model, data, batch_size=2, n_bytes=100)
    with torch.no_grad():
        logits = model(input_ids=ids).logits[:, :-1]
        manual = torch.nn.functional.cross_entropy(logits.reshape(-1, 50), labels[:, 1:].reshape(-1),
                                                   ignore_index=-100, reduction="sum").item()
    n = int((labels[:, 1:] != -100).sum())
    assert out["val/loss"] == pytest.approx(manual / n, rel=1e-5)
    assert out["val/bpb"] == pytest.approx(manual / math.log(2) / 100, rel=1e-5)
    assert out["val/ppl"] == pytest.approx(math.exp(manual / n), rel=1e-5)
    assert model.training, "evaluation hands the model back in training mode"


def test_only_complete_checkpoints_are_resumed(tmp_path):
    for step, complete in ((5, True), (10, True), (15, False)):
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir()
        if complete:
            (d / "trainer_state.json").write_text("{}")
    assert [p.name for p in checkpoints.complete_checkpoints(tmp_path)] == ["checkpoint-5", "checkpoint-10"]
    ctx = SimpleNamespace(resume=True, is_main=False, ws=None)
    assert checkpoints.resume_point(ctx, tmp_path).name == "checkpoint-10"
    from workbench.errors import UserError
    with pytest.raises(UserError, match="no checkpoint to resume"):
        checkpoints.resume_point(ctx, tmp_path / "empty")


@pytest.mark.parametrize("settings,prefix", [
    ({}, [sys.executable]),
    ({"launcher": "torchrun", "nproc": 2}, [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                            "--nproc_per_node=2"]),
    ({"launcher": "accelerate", "nproc": 2}, [sys.executable, "-m", "accelerate.commands.launch",
                                              "--num_processes=2"]),
])
def test_the_config_says_how_its_job_is_launched(settings, prefix, tmp_path):
    from workbench.jobs import build_command
    from workbench.pretrain.stage import PretrainConfig
    cfg = PretrainConfig(corpus="c", tokenizer="t").replace(**settings)
    cmd = build_command("pretrain", tmp_path / "config.json", tmp_path, "run-1", cfg)
    assert cmd[:len(prefix)] == prefix and cmd[len(prefix):len(prefix) + 3] == ["-m", "workbench", "pretrain"]


def test_compute_settings_are_checked_in_both_languages():
    from workbench.config import ConfigError
    with pytest.raises(ConfigError) as e:
        ComputeSettings(nproc=2).validate()
    (field, msg), = e.value.errors
    assert field == "launcher" and "torchrun" in msg and re.search("[가-힣]", msg.ko)
