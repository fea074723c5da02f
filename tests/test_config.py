from dataclasses import dataclass

import pytest

from workbench.config import ConfigError, StageConfig, param, section


@dataclass
class Inner(StageConfig):
    on: bool = param(True, ko="켜기", en="On")
    threshold: float = param(0.5, ko="문턱", en="Threshold", min=0.0, max=1.0)


@dataclass
class Inner2(Inner):
    def check(self):
        return [("threshold", "inner rule")] if self.threshold == 0.3 else []


@dataclass
class Demo(StageConfig):
    lr: float = param(3e-4, ko="학습률", en="Learning rate", min=0.0)
    steps: int = param(10, ko="단계", en="Steps", min=1)
    mode: str = param("a", ko="모드", en="Mode", choices=["a", "b"])
    names: list[str] = param(["x"], ko="이름", en="Names")
    inner: Inner = section(Inner, ko="안쪽", en="Inner")
    inner2: Inner2 = section(Inner2, ko="안쪽2", en="Inner 2")

    def check(self):
        return [("steps", "must be even")] if self.steps % 2 else []


def test_defaults_and_sets():
    c = Demo.load(sets=["lr=1e-3", "inner.threshold=0.25", "inner.on=false", "names=a, b"])
    assert c.lr == 1e-3 and c.inner.threshold == 0.25 and c.inner.on is False and c.names == ["a", "b"]
    assert Demo.from_dict(c.to_dict()) == c


def test_errors_name_the_field_and_fix(tmp_path):
    with pytest.raises(ConfigError) as e:
        Demo.load(sets=["steps=abc"])
    assert e.value.errors[0][0] == "steps" and "whole number" in e.value.errors[0][1]
    with pytest.raises(ConfigError) as e:
        Demo.load(sets=["inner.threshold=2"])
    assert e.value.errors[0][0] == "inner.threshold" and "<= 1.0" in e.value.errors[0][1]
    with pytest.raises(ConfigError) as e:
        Demo.load(sets=["stpes=4"])
    assert "did you mean 'steps'" in str(e.value)
    with pytest.raises(ConfigError) as e:
        Demo.load(sets=["steps=3"])
    assert e.value.errors == [("steps", "must be even")]
    with pytest.raises(ConfigError) as e:
        Demo.load(sets=["inner2.threshold=0.3"])
    assert e.value.errors == [("inner2.threshold", "inner rule")], "nested sections' rules run too"
    with pytest.raises(ConfigError) as e:
        Demo.load(sets=["mode=c"])
    assert e.value.errors[0][0] == "mode"
    p = tmp_path / "c.yaml"
    p.write_text("lr: 0.1\ninner:\n  threshold: 0.9\n  bogus: 1\n")
    with pytest.raises(ConfigError) as e:
        Demo.load(p)
    assert e.value.errors[0][0] == "inner.bogus"


def test_field_infos_flatten_sections():
    paths = [f.path for f in Demo.field_infos()]
    assert paths == ["lr", "steps", "mode", "names", "inner.on", "inner.threshold", "inner2.on", "inner2.threshold"]
    info = {f.path: f for f in Demo.field_infos()}
    assert info["inner.threshold"].label("ko") == "문턱" and info["mode"].choices == ["a", "b"]


def test_every_stage_help_lists_choices_and_ranges():
    from workbench import stages
    from workbench.__main__ import stage_parser
    for name in stages.available():
        stage = stages.get(name)
        text = " ".join(stage_parser(stage).format_help().split())  # argparse wraps long lines
        for fi in stage.config.field_infos():
            if fi.choices:
                assert "one of: " + ", ".join(map(str, fi.choices)) in text, (name, fi.path)
            elif fi.meta.get("above") is not None:
                assert f"> {fi.meta['above']}" in text, (name, fi.path)
            elif fi.meta.get("min") is not None and fi.meta.get("max") is not None:
                assert f"{fi.meta['min']} to {fi.meta['max']}" in text, (name, fi.path)


def test_visibility_is_declared_in_the_config_with_full_paths():
    from workbench.pretrain.stage import PretrainConfig
    experts = PretrainConfig.field_info("arch.experts")
    assert experts.meta["visible_when"][0] == "arch.family"
    assert experts.visible({"arch.family": "mixtral"}) and not experts.visible({"arch.family": "llama"})
    assert PretrainConfig.field_info("arch.depth").visible({"arch.family": "llama"})


def test_messages_are_bilingual_and_plain_strings_still_work():
    from state.i18n import Text, join, pick, say
    t = say("{n} files refused: {why}", "파일 {n}개 거부: {why}", n=2, why=say("binary", "바이너리"))
    assert t == "2 files refused: binary" and t.ko == "파일 2개 거부: 바이너리"
    assert pick(t, "ko") == t.ko and pick(t, "en") == "2 files refused: binary" and pick("plain", "ko") == "plain"
    both = t + "!"
    assert isinstance(both, Text) and both.ko.endswith("!")
    assert join("; ", [t, "x"]).ko == "파일 2개 거부: 바이너리; x"
    import copy
    import json
    assert copy.deepcopy(t).ko == t.ko and json.dumps({"e": t}) == '{"e": "2 files refused: binary"}'
    with pytest.raises(ConfigError) as e:
        Demo().replace(steps="many")
    (field, msg), = e.value.errors
    assert field == "steps" and "whole number" in msg and "정수" in msg.ko


def test_a_runs_error_keeps_both_wordings_in_the_store(tmp_path):
    from state import Store
    from state.i18n import say
    store = Store(tmp_path / "w.db")
    rid = store.create_run("x", {}, status="running")
    store.set_progress(rid, 1, 2, say("reading", "읽는 중"))
    store.finish_run(rid, "failed", error=say("bad input", "잘못된 입력"))
    run = store.get_run(rid)
    assert run.error == "bad input" and run.error.ko == "잘못된 입력" and run.progress_msg.ko == "읽는 중"
    store.finish_run(rid, "failed", error="plain")  # a plain string reads the same in both
    assert store.get_run(rid).error.ko == "plain"
