"""Fine-tuning: every method trains a tiny real model (and its classification head), QLoRA keeps its gradients
after an evaluation pass, SFT scores only the answer, the CLI ends with one JSON line, stop and resume, bad input
is refused before work starts, the adapter loads with plain peft, merge matches, predict with the adapter off."""
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, last_json, run_cli, shared_data
from fixtures import konlpy_lines, train_tokenizer

torch = pytest.importorskip("torch")

from workbench import runs  # noqa: E402
from workbench.errors import UserError  # noqa: E402
from workbench.finetune import data as D  # noqa: E402
from workbench.finetune.stage import FinetuneConfig  # noqa: E402

FAST = ["max_steps=6", "eval_every=3", "batch_size=8", "lr=1e-2", "threads=1", "max_rows=64", "max_eval_rows=24",
        "warmup_steps=0", "save_every=1000", "seed=7"]
GOOD = ["정말 좋아요", "최고예요", "재밌어요", "감동이에요", "추천해요"]
BAD = ["정말 싫어요", "최악이에요", "지루해요", "실망이에요", "별로예요"]


def sets(*items):
    out = []
    for it in items:
        out += ["--set", it]
    return out


# -- tiny real inputs, built on the spot -----------------------------------------------------------------------
def _tiny_llama(folder, tok, *, vocab=None, hidden=64, layers=1, seed=0):
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab or len(tok), hidden_size=hidden, intermediate_size=2 * hidden,
                      num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=256, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tok_lines():
    sample = [ln.split("\t")[1] for ln in D.BUNDLED_FILES["classification"].read_text().splitlines()[1:]]
    return konlpy_lines()[:1500] + sample + GOOD + BAD


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory, tok_lines):
    """A 1-layer Llama (hidden 64; k/v project to 32) with a byte-level BPE tokenizer that has pad/eos and a chat
    template, saved as a plain Hugging Face folder."""
    folder = tmp_path_factory.mktemp("base") / "tiny-llama"
    tok = train_tokenizer(folder, tok_lines, 600)
    return _tiny_llama(folder, tok)


@pytest.fixture(scope="module")
def easy_tsv(tmp_path_factory):
    """A sentiment set a tiny model learns in a few steps: the label is in one short phrase."""
    import random
    rnd = random.Random(0)
    lines = konlpy_lines()[:200]
    path = tmp_path_factory.mktemp("data") / "easy.tsv"
    rows = ["id\tdocument\tlabel"]
    for i in range(160):
        lab = i % 2
        phrase = rnd.choice(GOOD if lab else BAD)
        filler = rnd.choice(lines)[:20]
        rows.append(f"{i}\t{phrase} {filler}\t{lab}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def run_here(ws, *items):
    """The stage run in-process exactly as a job runs it (recorded run, summary, error)."""
    cfg = FinetuneConfig.load(sets=list(items))
    return runs.run_in_process("finetune", cfg, ws)


def publish_base(ws, base_dir, name="tiny-llama"):
    import shutil
    staging = ws.staging_dir("model", name)
    shutil.copytree(base_dir, staging, dirs_exist_ok=True)
    return ws.publish(staging, "model", name, meta={"stage": "pretrain"})


def _korean(e: UserError) -> bool:
    return bool(re.search("[가-힣]", e.text.ko)) and e.text.ko != str(e)


# -- config -----------------------------------------------------------------------------------------------------
def test_config_reads_peft_choices_without_importing_torch():
    code = ("import sys; from workbench.finetune.stage import FinetuneConfig, PEFT_TYPES, WAVELETS; "
            "FinetuneConfig(base_model='m').validate(); print(len(PEFT_TYPES), len(WAVELETS), 'torch' in sys.modules, "
            "'peft' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    n_types, n_wave, has_torch, has_peft = r.stdout.split()
    assert has_torch == "False" and has_peft == "False", "the config must stay cheap to import (job queue, forms)"
    import peft
    from peft.tuners.waveft.constants import WAVELET_REDUCTIONS
    assert int(n_types) == len(list(peft.PeftType)) and int(n_wave) == len(WAVELET_REDUCTIONS)
    info = FinetuneConfig.field_info("peft_type")
    assert info.choices == [t.value for t in peft.PeftType], "advanced choices come from peft.PeftType"
    errs = dict(FinetuneConfig(base_model="x", task="sft", monitor="accuracy").check())
    assert "monitor" in errs and re.search("[가-힣]", errs["monitor"].ko)


# -- the CLI, end to end --------------------------------------------------------------------------------------------
def test_cli_lora_run_ends_with_one_json_line_and_an_adapter_plain_peft_loads(ws, base_dir, easy_tsv):
    base_id = publish_base(ws, base_dir)
    r = run_cli("finetune", *sets("base_model=tiny-llama", f"data={easy_tsv}", "output_name=sent-lora",
                                  "max_steps=30", "eval_every=10", "lr=1e-2", "batch_size=16", "threads=1",
                                  "warmup_steps=2", "label_names=[\"부정\", \"긍정\"]"), workspace=ws.root)
    assert r.returncode == 0, r.stderr[-3000:]
    out = last_json(r.stdout)
    assert out["status"] == "succeeded" and out["method"] == "lora" and out["kind"] == "adapter"
    assert 0 < out["trainable_params"] < out["total_params"] and 0 < out["trainable_share"] < 0.2
    for k in ("val_loss", "val_accuracy", "val_macro_f1", "test_loss", "test_accuracy", "test_macro_f1"):
        assert k in out, k
    assert out["val_accuracy"] >= 0.9 and out["test_accuracy"] >= 0.9, out
    assert out["data"] == {"train": 128, "validation": 16, "test": 16}
    art = ws.store.get_artifact(out["adapter_artifact"])
    assert art.kind == "adapter" and art.parents == [base_id] and out["path"] == art.path
    meta = json.loads((ws.artifact_dir("adapter", "sent-lora") / "workbench.json").read_text())
    assert meta["task"] == "sequence-classification" and meta["method"] == "lora" and meta["chat_model"] is False
    assert meta["base_model_path"] == str(ws.artifact_dir("model", "tiny-llama"))
    assert meta["labels"]["names"] == ["부정", "긍정"] and len(meta["confusion"]) == 2
    names = {m["name"] for m in ws.store.metrics(out["run_id"])}
    assert {"train/loss", "train/lr", "train/grad_norm", "train/tokens_per_s", "sys/peak_rss_mb", "val/loss",
            "val/accuracy", "val/macro_f1", "test/accuracy"} <= names
    card = (ws.artifact_dir("adapter", "sent-lora") / "README.md").read_text()
    assert "lora" in card and "test/accuracy" in card and "PeftModel.from_pretrained" in card
    # plain peft, no project code: both loaders agree with the workbench's predict()
    code = ("import sys, json, torch; from transformers import AutoTokenizer, AutoModelForSequenceClassification; "
            "from peft import PeftModel, AutoPeftModelForSequenceClassification; p, base = sys.argv[1], sys.argv[2]; "
            "tok = AutoTokenizer.from_pretrained(p); b = AutoModelForSequenceClassification.from_pretrained(base, "
            "num_labels=2); b.config.pad_token_id = tok.pad_token_id; m = PeftModel.from_pretrained(b, p).eval(); "
            "a = AutoPeftModelForSequenceClassification.from_pretrained(p, num_labels=2).eval(); "
            "ids = tok(['정말 좋아요 헌법', '정말 싫어요 헌법'], return_tensors='pt', padding=True); "
            "x = torch.softmax(m(**ids).logits, -1); y = torch.softmax(a(**ids).logits, -1); "
            "print(json.dumps([x.tolist(), float((x - y).abs().max())]))")
    g = subprocess.run([sys.executable, "-c", code, art.path, meta["base_model_path"]], capture_output=True,
                       text=True, cwd="/", env={**os.environ, "PYTHONPATH": ""})
    assert g.returncode == 0, g.stderr[-2000:]
    probs, diff = json.loads(g.stdout.strip().splitlines()[-1])
    assert diff < 1e-5 and probs[0][1] > 0.5 > probs[1][1], probs
    from workbench.finetune.save import predict
    ours = predict("sent-lora", ["정말 좋아요 헌법", "정말 싫어요 헌법"], ws=ws)
    assert [o["label"] for o in ours] == ["긍정", "부정"]
    assert abs(ours[0]["probs"]["긍정"] - probs[0][1]) < 1e-4, "the tab's predict() is what plain peft computes"


# -- every method -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["full", "lora", "dora", "waveft", "qlora", "lora8bit", "advanced:IA3",
                                    "advanced:LOHA"])
def test_each_method_trains_and_its_classification_head_learns(ws, base_dir, easy_tsv, method):
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification, set_seed
    extra = [f"method={method.split(':')[0]}"] + ([f"peft_type={method.split(':')[1]}"] if ":" in method else [])
    if method == "waveft":
        extra.append("waveft_n_frequency=64")
    res = run_here(ws, f"base_model={base_dir}", f"data={easy_tsv}", f"output_name=m-{method.replace(':', '-')}",
                   *FAST, "max_steps=10", "eval_every=5", *extra)
    assert res["status"] == "succeeded", res["error"]
    s = res["summary"]
    losses = [m["value"] for m in ws.store.metrics(res["run_id"], ["train/loss"])]
    assert len(losses) >= 2 and losses[-1] < losses[0], f"{method}: the training loss moves down ({losses})"
    assert 0 < s["trainable_share"] <= 1 and (s["trainable_share"] == 1) == (method == "full")
    # the classification head trained (modules_to_save for PEFT): compare with its initial weights (same seed)
    set_seed(7)
    init = AutoModelForSequenceClassification.from_pretrained(str(base_dir), num_labels=2).score.weight.detach()
    folder = ws.artifact_dir("model" if method == "full" else "adapter", f"m-{method.replace(':', '-')}")
    saved = load_file(str(folder / ("model.safetensors" if method == "full" else "adapter_model.safetensors")))
    head = [v for k, v in saved.items() if k.endswith("score.weight") or "score.modules_to_save" in k]
    assert head, f"{method}: the trained head is saved ({list(saved)[:5]})"
    assert (head[0].float() - init).abs().max() > 1e-3, f"{method}: the head moved from its random start"


def test_every_peft_type_of_the_installed_peft_trains_or_is_refused_clearly(ws, base_dir):
    """The advanced choice is driven by peft.PeftType: each type builds generically (its config class, defaults and
    the target modules) and trains a step with the head in modules_to_save, or ends with a bilingual message that
    names what it lacks. None crashes with a raw traceback."""
    import peft
    ok, refused = [], {}
    for t in [t.value for t in peft.PeftType]:
        res = run_here(ws, f"base_model={base_dir}", "method=advanced", f"peft_type={t}", f"output_name=adv-{t.lower()}",
                       *FAST, "max_steps=1", "max_rows=16", "max_eval_rows=8", "batch_size=4")
        if res["status"] == "succeeded":
            ok.append(t)
        else:
            err = res["error"]
            assert re.search("[가-힣]", err.ko) and err.ko != err.en, f"{t}: a raw error, not a message: {err}"
            assert "PEFT method" in err.en, err
            refused[t] = err.en
    assert {"LORA", "IA3", "LOHA", "LOKR", "ADALORA", "BOFT", "OFT", "VERA", "FOURIERFT", "HRA"} <= set(ok)
    assert len(ok) >= 25, refused
    assert "needs inputs this stage cannot choose for you: num_virtual_tokens" in refused["PROMPT_TUNING"]
    # given what it needs, a prompt-learning method trains too (left-padded, its virtual tokens come first)
    res = run_here(ws, f"base_model={base_dir}", "method=advanced", "peft_type=PROMPT_TUNING", "output_name=pt",
                   'peft_options={"num_virtual_tokens": 4}', *FAST, "max_steps=2")
    assert res["status"] == "succeeded", res["error"]
    meta = json.loads((ws.artifact_dir("adapter", "pt") / "workbench.json").read_text())
    assert meta["peft_type"] == "PROMPT_TUNING" and meta["encoding"]["padding_side"] == "left"


def test_trainable_count_on_meta_matches_the_trained_model_and_layers_are_grouped(ws, base_dir, tmp_path):
    from workbench.finetune.model import count_trainable, target_modules
    groups = target_modules(str(base_dir), ws, task="classification")
    assert {e["name"] for e in groups["attention"]} == {"q_proj", "k_proj", "v_proj", "o_proj"}
    assert {e["name"] for e in groups["mlp"]} == {"gate_proj", "up_proj", "down_proj"}
    assert groups["head"][0]["name"] == "score", "the head is listed apart (never a target)"
    cfg = FinetuneConfig(base_model=str(base_dir), lora_rank=4, target_modules=["attention"])
    c = count_trainable(cfg, ws)
    # r*(d_in + d_out) per targeted layer + the whole 64x2 head
    expect = 4 * ((64 + 64) + (64 + 32) + (64 + 32) + (64 + 64)) + 64 * 2
    assert c["trainable"] == expect and c["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj"]
    res = run_here(ws, f"base_model={base_dir}", "lora_rank=4", "target_modules=attention", *FAST, "max_steps=2")
    assert res["status"] == "succeeded", res["error"]
    assert res["summary"]["trainable_params"] == expect, "the meta-device count is what trains"
    # a mixture of experts: fused expert weights are their own group and LoRA reaches them (target_parameters)
    from transformers import MixtralConfig, MixtralForCausalLM
    tok = train_tokenizer(tmp_path / "moe", konlpy_lines()[:300], 300)
    MixtralForCausalLM(MixtralConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                     num_attention_heads=2, num_key_value_heads=2, num_local_experts=2,
                                     num_experts_per_tok=1, pad_token_id=tok.pad_token_id)).save_pretrained(tmp_path / "moe")
    g = target_modules(str(tmp_path / "moe"), ws)
    assert {e["name"] for e in g["experts"]} == {"experts.gate_up_proj", "experts.down_proj"}
    c = count_trainable(FinetuneConfig(base_model=str(tmp_path / "moe"), task="sft", lora_rank=2,
                                       target_modules=["experts"]), ws)
    assert c["target_parameters"] and c["trainable"] > 0
    with pytest.raises(UserError, match="only take plain LoRA"):
        count_trainable(FinetuneConfig(base_model=str(tmp_path / "moe"), task="sft", method="dora",
                                       target_modules=["experts"]), ws)


def test_target_checkboxes_pick_exactly_their_layers_and_follow_the_target_words(ws, base_dir, tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    from workbench.finetune.model import count_trainable, target_choices
    g = target_choices(str(base_dir), ws, "classification", ["attention"])
    assert "head" not in g, "the head is never a checkbox"
    assert {e["value"]: e["checked"] for e in g["attention"]} == dict.fromkeys(["q_proj", "k_proj", "v_proj", "o_proj"], True)
    assert not any(e["checked"] for e in g["mlp"])
    g = target_choices(str(base_dir), ws, "classification", ["q_proj", "down_proj"])
    assert [e["value"] for es in g.values() for e in es if e["checked"]] == ["q_proj", "down_proj"]
    # GPT-2 names both its attention output and its MLP output c_proj: each box picks only its own
    tok = train_tokenizer(tmp_path / "gpt2", konlpy_lines()[:300], 300)
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=2, n_head=2, n_positions=64,
                               pad_token_id=tok.pad_token_id)).save_pretrained(tmp_path / "gpt2")
    g = target_choices(str(tmp_path / "gpt2"), ws, "sft")
    values = {e["value"] for es in g.values() for e in es}
    assert {"attn.c_proj", "mlp.c_proj", "c_attn", "c_fc"} <= values and all(e["checked"] for es in g.values() for e in es)
    attn_only = count_trainable(FinetuneConfig(base_model=str(tmp_path / "gpt2"), task="sft", lora_rank=2,
                                               target_modules=["attn.c_proj"]), ws)
    assert attn_only["targeted_layers"] == 2 and attn_only["trainable"] == 2 * 2 * (32 + 32)


def test_same_budget_preset_changes_only_the_method_and_the_table_reads_the_runs(ws, base_dir, easy_tsv):
    from workbench.finetune.compare import FULL_LR_CAP, comparison_rows, same_budget_configs
    cfg = FinetuneConfig(base_model=str(base_dir), data=str(easy_tsv), output_name="cmp", lr=2e-3, max_steps=40)
    cfgs = same_budget_configs(cfg)
    assert [c.method for c in cfgs] == ["lora", "dora", "waveft", "full"]
    assert [c.output_name for c in cfgs] == ["cmp-lora", "cmp-dora", "cmp-waveft", "cmp-full"]
    assert [c.lr for c in cfgs] == [2e-3, 2e-3, 2e-3, FULL_LR_CAP]
    same = {k: v for k, v in cfg.to_dict().items() if k not in ("method", "output_name", "lr")}
    assert all({k: v for k, v in c.to_dict().items() if k in same} == same for c in cfgs)
    done = [runs.run_in_process("finetune", c.replace(**dict(kv.split("=") for kv in FAST)), ws)
            for c in (cfgs[0], cfgs[3])]
    assert all(r["status"] == "succeeded" for r in done), [r["error"] for r in done]
    rows = comparison_rows(ws.store, [r["run_id"] for r in done])
    lora, full = rows
    assert (lora["method"], full["method"]) == ("lora", "full")
    assert lora["trainable"] < full["trainable"] and 0 < lora["trainable_pct"] < full["trainable_pct"] <= 100
    assert lora["test_accuracy"] is not None and lora["train_s"] > 0 and lora["peak_rss_mb"] > 0
    assert lora["size_mb"] < full["size_mb"], "an adapter is smaller on disk than the whole model"
    assert [r["run"] for r in comparison_rows(ws.store)][:2] == [done[1]["run_id"], done[0]["run_id"]], \
        "without a choice: the latest finished runs"


def test_qlora_adapter_gets_correct_gradients_after_an_eval_pass(base_dir):
    """STACK.md: on AVX512-BF16 CPUs a no-grad eval forward repacks 4-bit weights and the gradients are silently
    wrong (or None) from then on. With the stage's fix the gradients after an eval pass equal those before."""
    from types import SimpleNamespace

    from workbench.finetune.model import Base, load_config, plan
    from workbench.finetune.model import load_for_training
    cfg = FinetuneConfig(base_model=str(base_dir), method="qlora", lora_dropout=0.0, lora_rank=4)
    base = Base(ref=str(base_dir), path=str(base_dir))
    config = load_config(base)
    labels = D.Labels(names=["0", "1"], raw_to_id={"0": 0, "1": 1}, integer=True)
    hw = SimpleNamespace(bf16=False, fp16=False, device="cpu")
    ids = torch.randint(5, 500, (2, 10))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": torch.tensor([0, 1])}

    def grads(model, eval_first):
        if eval_first:
            model.eval()
            with torch.no_grad():
                model(input_ids=ids)
        model.train()
        model.zero_grad()
        model(**batch).loss.backward()
        return {n: p.grad for n, p in model.named_parameters() if "lora_" in n}

    def build():
        m = load_for_training(cfg, base, config, p, hw, labels=labels, pad_id=0)
        with torch.no_grad():  # non-zero B, so every LoRA factor gets a gradient
            for n, q in m.named_parameters():
                if "lora_B" in n:
                    q.normal_(0, 0.1, generator=torch.Generator().manual_seed(len(n)))
        return m

    p = plan(cfg, config, labels=labels, pad_id=0)
    fresh, after = grads(build(), False), grads(build(), True)
    assert fresh and all(g is not None for g in after.values()), "every adapter parameter gets a gradient"
    assert max((fresh[k] - after[k]).abs().max().item() for k in fresh) < 1e-6
    import bitsandbytes as bnb
    from bitsandbytes.functional import has_avx512bf16
    if has_avx512bf16():  # control: without the fix this CPU does lose them, so the check above is meaningful
        m = build()
        for mod in m.modules():
            if isinstance(mod, bnb.nn.Linear4bit):
                mod.support_avx512bf16_for_cpu = True
        import warnings
        with warnings.catch_warnings():  # torch says it here too: "an autograd kernel was not registered"
            warnings.simplefilter("ignore")
            broken = grads(m, True)
        assert any(broken[k] is None or (fresh[k] - broken[k]).abs().max() > 1e-4 for k in fresh)


# -- SFT --------------------------------------------------------------------------------------------------------
def test_sft_labels_cover_only_the_answer_tokens(base_dir):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(base_dir))
    msgs = [{"role": "user", "content": "한국의 수도는?"}, {"role": "assistant", "content": "서울입니다."},
            {"role": "user", "content": "고마워"}, {"role": "assistant", "content": "천만에요."}]
    enc = D.encode_chat(tok, msgs, 256)
    ids, labels = enc["input_ids"], enc["labels"]
    assert ids == tok(D.render(tok, msgs, add_generation_prompt=False), add_special_tokens=False)["input_ids"]
    scored = [t for t in labels if t != -100]
    assert tok.decode(scored) == "서울입니다.</s>천만에요.</s>", "both answers with their end-of-turn token"
    unscored = tok.decode([t for t, lab in zip(ids, labels) if lab == -100])
    assert "한국의 수도는?" in unscored and "고마워" in unscored and "서울" not in unscored
    # the prompt of the first turn is exactly what the chat tab renders before generating
    prompt = D.render(tok, msgs[:1], add_generation_prompt=True)
    first = labels.index(next(t for t in labels if t != -100))
    assert tok.decode(ids[:first]) == prompt
    # a tokenizer with no template gets the plain ### 질문 / ### 답변 one
    tok.chat_template = D.DEFAULT_CHAT_TEMPLATE
    enc = D.encode_chat(tok, msgs[:2], 256)
    assert tok.decode([t for t in enc["labels"] if t != -100]) == "서울입니다.</s>\n\n"
    assert D.encode_chat(tok, msgs[:2], 4) is None, "truncation that leaves no answer drops the example"


def test_sft_run_scores_answers_saves_a_chat_adapter_and_answers_with_adapter_on_and_off(ws, base_dir):
    res = run_here(ws, f"base_model={base_dir}", "task=sft", "output_name=chat-lora", *FAST, "max_steps=12",
                   "eval_every=6", "sample_every=12", "sample_tokens=6")
    assert res["status"] == "succeeded", res["error"]
    s = res["summary"]
    assert s["val_bpb"] > 0 and s["test_bpb"] > 0 and "val_accuracy" not in s
    vals = [m["value"] for m in ws.store.metrics(res["run_id"], ["val/loss"])]
    assert vals[-1] < vals[0], "answer loss goes down"
    folder = ws.artifact_dir("adapter", "chat-lora")
    meta = json.loads((folder / "workbench.json").read_text())
    assert meta["task"] == "causal-lm" and meta["chat_model"] is True and meta["chat_template"] == "tokenizer"
    assert ws.store.events(res["run_id"], kind="sample"), "sample answers are recorded"
    from workbench.chat.models import check_files
    assert check_files(folder) == [], "the chat tab finds the adapter's base and files"
    from workbench.finetune.save import answer
    on = answer("chat-lora", ["한국의 수도는 어디인가요?"], ws=ws, max_new_tokens=5)
    off = answer("chat-lora", ["한국의 수도는 어디인가요?"], ws=ws, max_new_tokens=5, adapter=False)
    assert isinstance(on[0], str) and isinstance(off[0], str)


# -- stop and resume ----------------------------------------------------------------------------------------------
def test_stop_then_resume_continues_from_the_checkpoint(ws, base_dir, easy_tsv):
    from workbench.runtime import RunContext
    from workbench.stages import get

    class StopAfterLog(RunContext):
        """Stop is pressed once metrics of step 5 have been logged (the next step end sees it)."""
        seen = 0

        def metrics(self, step, values, flush=False):
            self.seen = max(self.seen, step)
            super().metrics(step, values, flush)

        @property
        def should_stop(self):
            return self.seen >= 5

    stage = get("finetune")
    cfg = FinetuneConfig.load(sets=[f"base_model={base_dir}", f"data={easy_tsv}", "output_name=resumed", *FAST,
                                    "max_steps=20", "eval_every=10", "lr=1e-3"])
    rid = runs.create(ws, stage, cfg, status="running")
    out = runs.execute(stage, cfg, StopAfterLog(ws, rid, "finetune"))
    assert out.status == "stopped", out.error
    ckpts = sorted((ws.run_dir(rid) / "checkpoints").glob("checkpoint-*"))
    assert ckpts and (ckpts[-1] / "adapter_model.safetensors").is_file(), "stop saved an adapter checkpoint"
    stop_step = int(ckpts[-1].name.split("-")[-1])
    assert 5 <= stop_step < 20 and out.summary["steps"] == stop_step
    assert ws.store.get_artifact(kind="adapter", name="resumed") is not None, "the stopped adapter is usable"
    out2 = runs.execute(stage, cfg, RunContext(ws, rid, "finetune", resume=True))
    assert out2.status == "succeeded", out2.error
    assert out2.summary["steps"] == 20 and out2.summary["ended_by"] == "max_steps"
    steps = [m["step"] for m in ws.store.metrics(rid, ["train/loss"])]
    assert steps == sorted(steps) and len(steps) == len(set(steps)) and max(steps) == 20


# -- bad input ------------------------------------------------------------------------------------------------------
def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def bad_inputs(tmp_path, base_dir, tok_lines):
    from transformers import AutoTokenizer
    p = {}
    p["one_class"] = _write(tmp_path / "one.tsv", "document\tlabel\n" + "".join(f"좋다 {i}\t1\n" for i in range(30)))
    p["float_labels"] = _write(tmp_path / "float.csv", "text,label\n" + "".join(f"문장 {i},{i / 7:.3f}\n"
                                                                                for i in range(30)))
    p["empty"] = _write(tmp_path / "empty.jsonl", "")
    (tmp_path / "binary.tsv").write_bytes(b"\x00\x01\x02PK\x03\x04" * 100)
    p["binary"] = tmp_path / "binary.tsv"
    # a model whose embedding table is smaller than its tokenizer
    small = tmp_path / "small-vocab"
    tok = AutoTokenizer.from_pretrained(str(base_dir))
    tok.save_pretrained(small)
    _tiny_llama(small, tok, vocab=100)
    p["small_vocab"] = small
    # a tokenizer with no pad, eos, unk or bos token
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.train_from_iterator(tok_lines[:300], trainers.BpeTrainer(vocab_size=300, show_progress=False,
                                                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    bare = tmp_path / "no-specials"
    fast = PreTrainedTokenizerFast(tokenizer_object=t)
    fast.save_pretrained(bare)
    _tiny_llama(bare, fast)
    p["no_specials"] = bare
    # RWKV: its layers rescale their weights in place, which 4-bit weights cannot take
    from transformers import RwkvConfig, RwkvForCausalLM
    rwkv = tmp_path / "rwkv"
    tok.save_pretrained(rwkv)
    RwkvForCausalLM(RwkvConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, attention_hidden_size=32,
                               intermediate_size=64, context_length=256)).save_pretrained(rwkv)
    p["rwkv"] = rwkv
    # a fine-tuned classifier (its language-model head is gone)
    from transformers import AutoModelForSequenceClassification
    cls = tmp_path / "classifier"
    AutoModelForSequenceClassification.from_pretrained(str(base_dir), num_labels=2).save_pretrained(cls)
    tok.save_pretrained(cls)
    p["classifier"] = cls
    return p


BAD_CASES = [
    (["data={one_class}"], "has only one class ('1')"),
    (["data={float_labels}"], "neither class ids (whole numbers) nor class names: 0.143"),
    (["text_column=review"], "the data has no column 'review'; its columns are: id, document, label"),
    (["data={empty}"], "the file is empty"),
    (["data={binary}"], "the file is binary"),
    (["lora_rank=40"], "lora_rank 40 is larger than layer model.layers.0.self_attn.k_proj (64 in x 32 out)"),
    (["method=waveft", "waveft_n_frequency=5000"], "waveft_n_frequency 5000 is larger than layer "
                                                   "model.layers.0.self_attn.k_proj can take (64 x 32 = 2048"),
    (["method=waveft", "waveft_n_frequency=64", "waveft_wavelet_family=nope"], "is not one of"),
    (["base_model={rwkv}", "task=sft", "method=qlora"], "a rwkv model cannot be loaded in 4 bits"),
    (["base_model={rwkv}"], "a rwkv model has no sequence-classification head"),
    (["base_model={small_vocab}"], "has 600 tokens but the model's embedding table has only 100 rows"),
    (["base_model={no_specials}"], "has no pad, end-of-text or unknown token"),
    (["method=advanced", "peft_type=PROMPT_TUNING"], "needs inputs this stage cannot choose for you: "
                                                     "num_virtual_tokens"),
    (["method=advanced", "peft_type=LORA", "peft_options={\"rank\": 4}"], "peft_options: rank is not a field"),
    (["target_modules=qkv"], "target_modules: qkv matches no layer of this model. Its layers:"),
    (["base_model=someone/no-such-model"], "from the Hugging Face Hub"),
    (["max_length=512"], "max_length 512 is longer than the base model's context (256 positions)"),
    (["base_model={classifier}", "task=sft"], "is a sequence classifier (LlamaForSequenceClassification)"),
    (["data=hf:nobody/nothing"], "the Hugging Face dataset 'nobody/nothing' cannot be loaded"),
]


@pytest.mark.parametrize("extra,needle", BAD_CASES, ids=[c[1][:40] for c in BAD_CASES])
def test_bad_input_is_refused_before_work_starts_and_nothing_saved_is_lost(ws, base_dir, bad_inputs, extra, needle):
    """Each refusal is a UserError naming the fix, in English and Korean, raised before any training; an existing
    artifact of the same name (overwrite on) is left as it was."""
    from workbench.config import ConfigError
    from workbench.runtime import RunContext
    from workbench.stages import get
    keep = ws.staging_dir("adapter", "keep")
    (keep / "adapter_config.json").write_text("{}")
    ws.publish(keep, "adapter", "keep")
    items = [f"base_model={base_dir}", *FAST, "output_name=keep", "overwrite=true"]
    for e in extra:
        for k, v in bad_inputs.items():
            e = e.replace("{%s}" % k, str(v))
        items.append(e)
    stage = get("finetune")
    try:
        cfg = FinetuneConfig.load(sets=items)
    except ConfigError as e:
        assert needle in str(e)
        return
    with pytest.raises(UserError) as e:
        stage.precheck(cfg, ws)
        rid = ws.store.create_run("finetune", cfg.to_dict(), status="running")
        stage.run(cfg, RunContext(ws, rid, "finetune"))
    assert needle in str(e.value), str(e.value)
    assert _korean(e.value), "the message is also Korean"
    assert (ws.artifact_dir("adapter", "keep") / "adapter_config.json").read_text() == "{}", "nothing saved is lost"
    assert not list((ws.root / "runs").glob("*/checkpoints/checkpoint-*")), "no training step ran"


def test_a_classifier_base_without_a_pad_token_pads_with_eos(ws, base_dir, tmp_path, easy_tsv):
    from transformers import AutoTokenizer
    folder = tmp_path / "no-pad"
    tok = AutoTokenizer.from_pretrained(str(base_dir))
    tok.pad_token = None
    tok.save_pretrained(folder)
    _tiny_llama(folder, tok)
    res = run_here(ws, f"base_model={folder}", f"data={easy_tsv}", "output_name=nopad", *FAST, "max_steps=2")
    assert res["status"] == "succeeded", res["error"]
    meta = json.loads((ws.artifact_dir("adapter", "nopad") / "workbench.json").read_text())
    assert meta["pad_token_id"] == tok.eos_token_id
    assert any("no pad token" in n["en"] for n in meta["notes"])


# -- data ---------------------------------------------------------------------------------------------------------
def test_data_preview_splits_and_pairs(tmp_path, base_dir):
    pv = D.preview()
    assert pv["bundled"] and pv["columns"] == ["id", "document", "label"] and pv["splits"] == {"train": 320}
    assert pv["mapping"] == {"text": "document", "label": "label"} and pv["labels"] == {"부정": 160, "긍정": 160}
    pv = D.preview(task="sft")
    assert pv["mapping"] == {"prompt": "instruction", "response": "output"} and pv["splits"]["train"] >= 100
    # KorNLI-style pairs: three named labels, a folder of split files (dev = validation)
    nli = tmp_path / "nli"
    nli.mkdir()
    rows = "sentence1\tsentence2\tgold_label\n" + "".join(
        f"문장 {i}\t가설 {i}\t{['entailment', 'neutral', 'contradiction'][i % 3]}\n" for i in range(60))
    for name in ("train.tsv", "xnli.dev.ko.tsv", "xnli.test.ko.tsv"):
        _write(nli / name, rows)
    cfg = FinetuneConfig(base_model=str(base_dir), data=str(nli))
    from workbench.finetune.train import prepare_data
    prep = prepare_data(cfg, None)
    assert prep.columns.to_dict() == {"text": "sentence1", "text_pair": "sentence2", "label": "gold_label"}
    assert prep.labels.names == ["contradiction", "entailment", "neutral"]
    assert prep.sizes() == {"train": 60, "validation": 60, "test": 60} and prep.how["validation"].endswith(".tsv")
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(base_dir))
    ids = D.encode_classification(tok, "문장", "가설", 64)
    assert tok.eos_token_id in ids and tok.decode(ids) == "문장</s>가설"
    # fractions with a seed: disjoint, reproducible, stratified; the test rows are never trained on
    cfg = FinetuneConfig(base_model=str(base_dir), val_fraction=0.2, test_fraction=0.25, seed=3)
    a, b = prepare_data(cfg, None), prepare_data(cfg, None)
    train_t = {r["text"] for r in a.rows["train"]}
    test_t = {r["text"] for r in a.rows["test"]}
    assert a.rows == b.rows and not (train_t & test_t) and len(a.rows["test"]) == 80
    assert sum(r["label"] for r in a.rows["test"]) == 40, "stratified: the test split keeps the balance"
    # KLUE NLI as published: one JSON list of objects
    klue = _write(tmp_path / "klue-nli-v1.1_train.json", json.dumps(
        [{"guid": str(i), "premise": f"전제 {i}", "hypothesis": f"가설 {i}",
          "gold_label": ["entailment", "contradiction"][i % 2]} for i in range(20)], ensure_ascii=False))
    pv = D.preview(str(klue))
    assert pv["mapping"] == {"text": "premise", "text_pair": "hypothesis", "label": "gold_label"}
    with pytest.raises(UserError, match="classes the training data lacks: neutral"):
        prepare_data(FinetuneConfig(base_model=str(base_dir), data=str(klue), test_data=str(_write(
            tmp_path / "t.jsonl", '{"premise": "a", "hypothesis": "b", "gold_label": "neutral"}\n'))), None)


def test_a_hugging_face_dataset_goes_through_datasets_load_dataset(tmp_path, base_dir):
    """data=hf:<name> runs the real datasets.load_dataset (here on a local parquet folder, offline): its splits are
    used as they are and a ClassLabel column keeps its names."""
    import datasets
    feats = datasets.Features({"sentence": datasets.Value("string"),
                               "label": datasets.ClassLabel(names=["negative", "positive"])})
    folder = tmp_path / "hfdata"
    folder.mkdir()
    for split, n in (("train", 40), ("validation", 10), ("test", 10)):
        datasets.Dataset.from_dict({"sentence": [f"{GOOD[i % 5] if i % 2 else BAD[i % 5]} {i}" for i in range(n)],
                                    "label": [i % 2 for i in range(n)]}, features=feats).to_parquet(
            str(folder / f"{split}.parquet"))
    from workbench.finetune.train import prepare_data
    prep = prepare_data(FinetuneConfig(base_model=str(base_dir), data=f"hf:{folder}"), None)
    assert prep.sizes() == {"train": 40, "validation": 10, "test": 10}
    assert prep.labels.names == ["negative", "positive"], "ClassLabel names become id2label"
    assert prep.columns.text == "sentence" and prep.source.description.startswith("Hugging Face dataset")
    with pytest.raises(UserError, match="the Hugging Face dataset 'nobody/nothing' cannot be loaded"):
        prepare_data(FinetuneConfig(base_model=str(base_dir), data="hf:nobody/nothing"), None)


def test_sentence_pairs_with_three_named_classes_train_and_predict(ws, base_dir, tmp_path):
    rows = "sentence1\tsentence2\tgold_label\n" + "".join(
        f"{GOOD[i % 5]} {i}\t{[GOOD, BAD, GOOD][i % 3][i % 5]}\t{['entailment', 'contradiction', 'neutral'][i % 3]}\n"
        for i in range(90))
    res = run_here(ws, f"base_model={base_dir}", f"data={_write(tmp_path / 'nli.tsv', rows)}", "output_name=nli",
                   *FAST, "max_steps=3")
    assert res["status"] == "succeeded", res["error"]
    assert res["summary"]["labels"] == ["contradiction", "entailment", "neutral"]
    from workbench.finetune.save import predict
    out = predict("nli", ["정말 좋아요"], ["최악이에요"], ws=ws)
    assert set(out[0]["probs"]) == {"contradiction", "entailment", "neutral"}
    meta = json.loads((ws.artifact_dir("adapter", "nli") / "workbench.json").read_text())
    assert meta["data"]["columns"] == {"text": "sentence1", "text_pair": "sentence2", "label": "gold_label"}
    assert meta["encoding"]["pair_separator"] == "</s>"


def test_early_stopping_on_accuracy_keeps_the_best_trainable_weights():
    from types import SimpleNamespace

    from workbench.finetune.evaluate import FinetuneCallback
    from workbench.training.callback import LoopRules
    acc = {2: 0.6, 4: 0.8, 6: 0.7, 8: 0.75}  # best at step 4 (higher is better), then two worse evaluations
    model = torch.nn.Linear(2, 2, bias=False)
    logged, events = [], []
    ctx = SimpleNamespace(is_main=True, should_stop=False, metrics=lambda s, v, flush=False: logged.append((s, v)),
                          progress=lambda *a, **k: None, event=lambda k, p: events.append((k, p)))
    cb = FinetuneCallback(ctx, LoopRules(max_steps=20, eval_every=2, early_stopping=2, monitor="val/accuracy",
                                         higher_is_better=True),
                          evaluate=lambda m: {"val/loss": 1.0, "val/accuracy": acc[int(m.weight[0, 0].item())]})
    state = SimpleNamespace(global_step=0)
    cb.on_train_begin(None, state, None)
    for step in range(1, 21):
        with torch.no_grad():
            model.weight.fill_(float(step))
        state.global_step = step
        control = SimpleNamespace(should_save=False, should_training_stop=False)
        cb.on_step_end(None, state, control, model=model)
        if control.should_training_stop:
            break
    assert step == 8 and cb.ended == "early_stopping" and cb.best_step == 4
    assert "accuracy 75.0%" in cb.progress_text(8)
    assert cb.finish(model, step)["val/accuracy"] == 0.8 and model.weight[0, 0].item() == 4.0
    assert any(k == "note" and p["restored_step"] == 4 for k, p in events)


# -- merge and predict ---------------------------------------------------------------------------------------------------
def test_merge_matches_the_adapter_and_predict_turns_the_adapter_truly_off(ws, base_dir, easy_tsv):
    base_id = publish_base(ws, base_dir)
    res = run_here(ws, "base_model=tiny-llama", f"data={easy_tsv}", "output_name=to-merge", *FAST, "max_steps=8")
    assert res["status"] == "succeeded", res["error"]
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from workbench.finetune.save import load_finetuned, merge_and_save, predict
    merged = merge_and_save(ws, "to-merge")
    art = ws.store.get_artifact(merged["artifact"])
    assert art.kind == "model" and set(art.parents) == {res["summary"]["adapter_artifact"], base_id}
    peft_model, tok, _, _ = load_finetuned("to-merge", ws)
    plain = AutoModelForSequenceClassification.from_pretrained(merged["path"]).eval()
    enc = tok(["정말 좋아요 헌법 제1조", "지루해요"], return_tensors="pt", padding=True)
    with torch.no_grad():
        a, b = peft_model(**enc).logits, plain(**enc).logits
    assert (a - b).abs().max() < 1e-4, "the merged model computes what the adapter computes"
    assert json.loads((ws.artifact_dir("model", merged["name"]) / "workbench.json").read_text())["task"] == \
        "sequence-classification"
    assert AutoTokenizer.from_pretrained(merged["path"]).pad_token_id == tok.pad_token_id
    on = predict("to-merge", ["정말 좋아요", "최악이에요"], ws=ws)
    off = predict("to-merge", ["정말 좋아요", "최악이에요"], ws=ws, adapter=False)
    assert all(abs(sum(o["probs"].values()) - 1) < 1e-5 for o in on + off)
    assert on[0]["probs"] != off[0]["probs"], "adapter off is the base (with its untrained head)"
    with torch.no_grad(), peft_model.disable_adapter():
        base_logits = peft_model(**tok(["정말 좋아요"], return_tensors="pt")).logits
    assert abs(torch.softmax(base_logits, -1)[0, 0].item() - off[0]["probs"]["0"]) < 1e-5
    with pytest.raises(UserError, match="no adapter to turn off"):
        predict(merged["name"], ["정말 좋아요"], ws=ws, adapter=False)


# -- the shared Korean data (skips cleanly without ../shared/data) -------------------------------------------------------
def test_nsmc_and_chatbot_data_read_with_the_right_columns():
    nsmc = shared_data("nsmc", "train.tsv")
    df = D.read_file(nsmc)
    assert len(df) == 150_000 and list(df.columns) == ["id", "document", "label"], "quoting=3 keeps every row"
    labels = D.infer_labels(df["label"].tolist(), "label", ["부정", "긍정"])
    assert labels.names == ["부정", "긍정"] and labels.integer
    chat = shared_data("instruct", "chatbot_data.jsonl")
    cfg = FinetuneConfig(base_model="x", task="sft", data=str(chat))
    cols = D.map_columns(D.read_file(chat, limit=50), cfg)
    assert (cols.prompt, cols.response) == ("instruction", "output")
    nli = shared_data("kor-nlu", "KorNLI", "xnli.dev.ko.tsv")
    cols = D.map_columns(D.read_file(nli, limit=50), FinetuneConfig(base_model="x"))
    assert (cols.text, cols.text_pair, cols.label) == ("sentence1", "sentence2", "gold_label")
