"""On-paper figures of the architecture lab, checked against instantiated transformers models."""
import re

import pytest

from workbench.arch import paper
from workbench.arch.families import FAMILIES, RECURRENT, ArchConfig, build_model, count_params, hf_config
from workbench.config import ConfigError

V = 500
SPECIAL = dict(bos=1, eos=2, pad=0)


def _meta_model(hc, **kw):
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(hc, **kw)


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("overrides", [{}, {"depth": 3, "width": 96, "heads": 3, "kv_heads": 1,
                                            "tie_embeddings": False, "experts": 4, "top_k": 1}])
def test_param_counts_equal_the_instantiated_model(family, overrides):
    cfg = ArchConfig(family=family, **overrides)
    hc = hf_config(cfg, V, **SPECIAL)
    counted = count_params(_meta_model(hc))
    p = paper.params(hc)
    for key in ("total", "embedding", "non_embedding", "active"):
        assert p[key] == counted[key], (key, p[key], counted[key])
    if family in ("mixtral", "qwen2moe", "deepseekv3"):
        assert p["active"] < p["total"]          # MoE: a token uses top-k of the routed experts
    else:
        assert p["active"] == p["total"]
    assert p["embedding"] == V * hc.hidden_size * (1 if cfg.tie_embeddings else 2) + \
        (hc.n_positions * hc.n_embd if family == "gpt2" else 0)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_forward_flops_match_torch_flop_counter(family):
    """Paper FLOPs vs torch.utils.flop_counter on eager attention/experts (the code paths it can count)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    T = 32
    hc = hf_config(ArchConfig(family=family, depth=2, width=64, experts=4), V, **SPECIAL)
    kw = {"experts_implementation": "eager"} if family in ("mixtral", "qwen2moe", "deepseekv3") else {}
    if family not in RECURRENT:
        kw["attn_implementation"] = "eager"
    # no parameter needs a gradient here: with `kernels` installed, mamba's scan is a module called with
    # parameters as inputs, and FlopCounterMode's module tracker cannot hook those under no_grad
    model = AutoModelForCausalLM.from_config(hc, **kw).eval().requires_grad_(False)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(input_ids=torch.randint(3, V, (1, T)))
    measured = counter.get_total_flops() / T
    on_paper = paper.flops_per_token(hc, T)
    # attention counted over the full context, as eager attention computes it; the Mamba/RWKV recurrence is
    # elementwise work, which the counter (matmuls and convolutions only) leaves out; Mamba2's chunked scan is matmuls
    elementwise = on_paper["recurrence"] if family in ("mamba", "rwkv") else 0
    assert measured == pytest.approx(on_paper["forward"] - elementwise, rel=0.1), (measured, on_paper)
    assert on_paper["train"] == 3 * on_paper["forward"]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_cache_bytes_equal_what_generate_keeps(family):
    import torch

    from workbench.arch.measure import generation_cost

    torch.manual_seed(0)
    model = build_model(ArchConfig(family=family, depth=2, width=64, experts=4), V, **SPECIAL)
    hc = model.config
    sizes = []
    for context in (8, 24):
        r = generation_cost(model, context=context, new_tokens=3, vocab=V, device="cpu")
        expected = paper.cache_bytes(hc, r["cache_tokens"], 4)["at_context"]
        assert r["cache_bytes"] == expected, (family, context, r["cache_bytes"], expected)
        sizes.append(r["cache_bytes"])
    if family in RECURRENT:
        assert sizes[0] == sizes[1]                          # constant state
    else:
        assert sizes[1] / sizes[0] == pytest.approx(26 / 10)  # grows with the tokens held


def test_cache_per_token_orders_mha_gqa_mla():
    mha = paper.cache_bytes(hf_config(ArchConfig(family="llama", depth=4, kv_heads=4), V), 1000)
    gqa = paper.cache_bytes(hf_config(ArchConfig(family="llama", depth=4, kv_heads=1), V), 1000)
    mla = paper.cache_bytes(hf_config(ArchConfig(family="deepseekv3", depth=4), V), 1000)
    ssm = paper.cache_bytes(hf_config(ArchConfig(family="mamba2", depth=4), V), 1000)
    assert (mha["kind"], gqa["kind"], mla["kind"]) == ("MHA", "MQA", "MLA")
    assert mha["per_token"] == 4 * gqa["per_token"]
    assert mla["per_token"] < mla["mha_equivalent_per_token"] / 4
    assert ssm["per_token"] == 0 and ssm["constant"] > 0
    assert paper.cache_bytes(hf_config(ArchConfig(family="mamba2", depth=4), V), 10**6)["at_context"] == \
        ssm["at_context"]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_activation_estimate_tracks_saved_tensors(family):
    """The training-memory estimate's activations (+ logits) vs the tensors autograd really keeps."""
    import torch

    from workbench.arch.measure import saved_tensor_bytes

    torch.manual_seed(0)
    model = build_model(ArchConfig(family=family, depth=2, width=64, experts=4), V, **SPECIAL).train()
    x = torch.randint(3, V, (2, 32))
    _, saved = saved_tensor_bytes(model, lambda: model(input_ids=x, labels=x))
    mem = paper.training_memory(model.config, 2, 32)
    estimate = mem["activations"] + mem["logits"]
    assert 0.6 < saved / estimate < 1.5, (family, saved, estimate)
    n = paper.params(model.config)["total"]
    assert mem["weights"] == mem["grads"] == 4 * n and mem["optimizer"] == 8 * n


def test_validation_names_the_field():
    with pytest.raises(ConfigError) as e:
        ArchConfig(family="llama", depth=4, heads=3).validate()
    assert e.value.errors[0][0] == "heads" and "divisible" in e.value.errors[0][1]
    with pytest.raises(ConfigError) as e:
        ArchConfig(family="mixtral", experts=2, top_k=4).validate()
    assert e.value.errors[0][0] == "top_k"
    with pytest.raises(ConfigError) as e:
        ArchConfig(family="llama", depth=4, kv_heads=3).validate()
    assert e.value.errors[0][0] == "kv_heads"
    with pytest.raises(ConfigError) as e:
        ArchConfig(family="rwkv", depth=1).validate()
    assert e.value.errors[0][0] == "depth"


def test_lab_config_overrides_are_validated_per_family():
    from workbench.arch.stage import ArchCompareConfig

    cfg = ArchCompareConfig().replace(families=["llama", "mamba"], overrides='{"mamba": {"depth": 2}}', **{"model.depth": 3})
    assert cfg.arch_for("mamba").depth == 2 and cfg.arch_for("llama").depth == 3
    with pytest.raises(ConfigError) as e:
        ArchCompareConfig().replace(families=["llama"], overrides='{"llama": {"heads": 3}}').validate()
    assert e.value.errors[0][0] == "overrides.llama.heads"
    with pytest.raises(ConfigError) as e:
        ArchCompareConfig().replace(families=["llama"], overrides='{"lama": {"depth": 2}}').validate()
    assert e.value.errors[0][0] == "overrides" and "lama" in e.value.errors[0][1]
    with pytest.raises(ConfigError) as e:
        ArchCompareConfig().replace(families=["llama"], overrides='{"llama": {"depht": 2}}').validate()
    assert e.value.errors[0][0] == "overrides.llama.depht"
    with pytest.raises(ConfigError) as e:  # a shared size that one selected family cannot take
        ArchCompareConfig().replace(families=["llama", "gpt2"], **{"model.heads": 3}).validate()
    assert {f for f, _ in e.value.errors} == {"model.heads"}


def test_fit_exponent_recovers_known_slopes():
    from workbench.arch.measure import fit_exponent

    xs = [64, 128, 256, 512]
    assert fit_exponent(xs, [x ** 2 for x in xs])["all"] == pytest.approx(2.0)
    assert fit_exponent(xs, [3 * x for x in xs])["tail"] == pytest.approx(1.0)
    assert fit_exponent(xs, [3 * x for x in xs])["spread"] == pytest.approx(0.0, abs=1e-9)
    assert fit_exponent([64], [1.0])["all"] is None
    assert fit_exponent([512, 64, 128], [512.0, 64.0, 128.0])["tail"] == pytest.approx(1.0)  # any order


def test_timing_exponent_needs_three_lengths_and_shows_its_spread():
    """Two step times on a busy CPU gave Llama -0.18: no exponent from two timings, and uneven slopes are said."""
    from tabs.arch_tab import exponent_rows
    from workbench.arch.measure import fit_exponent

    two = fit_exponent([16, 32], [0.014, 0.0124])
    assert two["all"] is None and two["n"] == 2
    assert fit_exponent([16, 32], [1024, 2048], min_points=2)["all"] == pytest.approx(1.0)  # bytes: exact
    bumpy = fit_exponent([16, 32, 64], [0.014, 0.009, 0.014])
    assert bumpy["all"] is not None and bumpy["spread"] > 1.0
    rows = exponent_rows({"step_s": {"llama": [(16, 0.014), (32, 0.0124)]},
                          "cache_kib": {"llama": [(19, 10.0), (35, 18.4)]}}, {}, "en")
    fam, step, tail, _mem, _dec, cache, lengths, note = rows[0]
    assert (fam, step, tail, lengths) == ("Llama", "–", "–", "16, 32")
    assert cache == "1.00" and "only 2 lengths" in note and "at least 3" in note
    ko = exponent_rows({"step_s": {"llama": [(16, 0.014), (32, 0.009), (64, 0.014)]}}, {}, "ko")[0]
    assert ko[1] == "0.00 (-0.64…0.64)" and "-0.64~0.64" in ko[7] and re.search("[가-힣]", ko[7])


def test_edge_values_that_do_nothing_are_refused():
    from workbench.arch.stage import ArchCompareConfig

    cases = [({"race.lr": 0.0}, "race.lr", "nothing happens"),
             ({"race.tokens": 100, "race.batch": 8, "race.seq_len": 64}, "race.tokens", "less than one batch"),
             ({"measure.slow_seq_cap": 4}, "measure.slow_seq_cap", "no length to measure"),
             ({"measure.seq_lens": [1, 16]}, "measure.seq_lens", "at least 2 tokens")]
    for sets, field, words in cases:
        with pytest.raises(ConfigError) as e:
            ArchCompareConfig().replace(**sets).validate()
        (f, msg), = e.value.errors
        assert f == field and words in msg, (sets, e.value.errors)  # the field's name, once (not measure.measure.)
        assert re.search("[가-힣]", msg.ko), msg
    for ok in ({"race.lr": 1e-4}, {"measure.slow_seq_cap": 0}, {"measure.slow_seq_cap": 8},
               {"race.tokens": 512, "race.batch": 8, "race.seq_len": 64}):
        ArchCompareConfig().replace(**ok).validate()
