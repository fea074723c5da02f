"""Evaluate stage: the few-shot scorer against a hand-checked case and an independent forward pass, classification
figures that agree with scikit-learn on the model's own predictions (labels mapped by name), perplexity and bits
per byte, generation and the prompt templates, one eval artifact per run with its report, the CLI's JSON line, the
model card section, and bad input refused with a message naming the fix."""
import json
import math

import pytest

from conftest import last_json, run_cli, shared_data
from fixtures import konlpy_lines, train_tokenizer

torch = pytest.importorskip("torch")

from workbench import runs  # noqa: E402
from workbench.errors import UserError  # noqa: E402
from workbench.evaluate import prompts, scoring  # noqa: E402
from workbench.evaluate.stage import EvalConfig  # noqa: E402

GOOD = ["정말 좋아요", "최고예요", "재밌어요", "감동이에요", "추천해요"]
BAD = ["정말 싫어요", "최악이에요", "지루해요", "실망이에요", "별로예요"]


def _llama_config(tok, **kw):
    from transformers import LlamaConfig
    return LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                       bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                       **kw)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Tiny real models as Hugging Face folders: two causal LMs (different seeds), one whose weights are all zero
    (every next token equally likely: log p = -ln V), and a classifier whose labels are named 긍정, 부정 (the reverse
    of the data's 0 = 부정, 1 = 긍정 order)."""
    from transformers import LlamaForCausalLM, LlamaForSequenceClassification
    root = tmp_path_factory.mktemp("models")
    tok = train_tokenizer(root / "lm-a", konlpy_lines()[:800] + GOOD + BAD, 500)
    out = {}
    for name, seed in (("lm-a", 0), ("lm-b", 1), ("zero", 0)):
        tok.save_pretrained(root / name)
        torch.manual_seed(seed)
        m = LlamaForCausalLM(_llama_config(tok))
        if name == "zero":
            with torch.no_grad():
                for p in m.parameters():
                    p.zero_()
        m.save_pretrained(root / name)
        out[name] = root / name
    tok.save_pretrained(root / "clf")
    torch.manual_seed(0)
    LlamaForSequenceClassification(_llama_config(tok, num_labels=2, id2label={0: "긍정", 1: "부정"},
                                                 label2id={"긍정": 0, "부정": 1})).save_pretrained(root / "clf")
    out["clf"] = root / "clf"
    out["tok"] = tok
    return out


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    """NSMC-style TSV (id, document, label 0/1) with 40 rows."""
    import random
    rnd = random.Random(0)
    path = tmp_path_factory.mktemp("data") / "reviews.tsv"
    rows = ["id\tdocument\tlabel"] + [f"{i}\t{rnd.choice(GOOD if i % 2 else BAD)} {i}\t{i % 2}" for i in range(40)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def evaluate(ws, *items):
    return runs.run_in_process("eval", EvalConfig.load(sets=["threads=1", *items]), ws)


def publish(ws, folder, name):
    import shutil
    staging = ws.staging_dir("model", name)
    shutil.copytree(folder, staging, dirs_exist_ok=True)
    return ws.publish(staging, "model", name, meta={"stage": "pretrain"})


# -- the few-shot scorer ---------------------------------------------------------------------------------------------
def test_loglikelihood_of_a_uniform_model_is_minus_n_log_v_and_acc_norm_divides_by_bytes(folders):
    lm = scoring.open_model(None, str(folders["zero"]), want=scoring.CAUSAL)
    tok, v = lm.tokenizer, lm.model.config.vocab_size
    words = ["좋음", "아주 아주 나쁨"]
    reqs = [scoring.encode_request(tok, "문장: 재밌어요\n답:", " " + w, 64) for w in words]
    n_cont = [len(tok(" " + w, add_special_tokens=False)["input_ids"]) for w in words]
    assert [k for _, k in reqs] == n_cont and n_cont[0] < n_cont[1]
    lls = scoring.loglikelihoods(lm.model, tok, reqs, batch_size=2)
    for (ll, _), n in zip(lls, n_cont):
        assert ll == pytest.approx(-n * math.log(v), rel=1e-5)  # every token has probability 1/V
    # summed log-likelihood prefers the shorter continuation; per byte, -n ln V / bytes decides
    per_byte = [ll / len((" " + w).encode()) for (ll, _), w in zip(lls, words)]
    assert (per_byte[0] > per_byte[1]) == (n_cont[0] / len(" 좋음".encode()) < n_cont[1] / len(" 아주 아주 나쁨".encode()))


def test_loglikelihood_matches_an_independent_forward_pass_and_padding_does_not_change_it(folders):
    lm = scoring.open_model(None, str(folders["lm-a"]), want=scoring.CAUSAL)
    tok = lm.tokenizer
    reqs = [scoring.encode_request(tok, ctx, cont, 64) for ctx, cont in
            [("대한민국은 민주공화국이다.", " 모든 권력은"), ("짧은", " 말"), ("", "헌법")]]
    together = scoring.loglikelihoods(lm.model, tok, reqs, batch_size=3)   # padded to the longest
    for (ids, k), (ll, _) in zip(reqs, together):
        with torch.no_grad():
            logp = torch.log_softmax(lm.model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
        expect = sum(float(logp[i - 1, ids[i]]) for i in range(len(ids) - k, len(ids)))
        assert ll == pytest.approx(expect, abs=1e-4)
    alone = [scoring.loglikelihoods(lm.model, tok, [r], batch_size=1)[0][0] for r in reqs]
    assert [x for x, _ in together] == pytest.approx(alone, abs=1e-4)


def test_loglikelihood_agrees_with_lm_evaluation_harness(folders):
    """The field's standard scorer (EleutherAI lm-evaluation-harness, HFLM.loglikelihood) on the same model and
    requests gives the same log-likelihoods and greedy flags."""
    pytest.importorskip("lm_eval")
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM
    lm = scoring.open_model(None, str(folders["lm-a"]), want=scoring.CAUSAL)
    pairs = [("문장: 재밌어요\n답:", " 긍정"), ("문장: 재밌어요\n답:", " 부정"), ("대한민국은 민주공화국이다.", " 모든 권력은"),
             ("질문: ", "헌법")]
    ours = scoring.loglikelihoods(lm.model, lm.tokenizer, [scoring.encode_request(lm.tokenizer, c, x, 128)
                                                           for c, x in pairs], batch_size=3)
    harness = HFLM(pretrained=lm.model, tokenizer=lm.tokenizer, batch_size=2, device="cpu")
    theirs = harness.loglikelihood([Instance(request_type="loglikelihood", doc={}, arguments=p, idx=i)
                                    for i, p in enumerate(pairs)], disable_tqdm=True)
    assert [round(a, 4) for a, _ in ours] == [round(b, 4) for b, _ in theirs]
    assert [g for _, g in ours] == [g for _, g in theirs]


def test_a_context_too_long_loses_its_oldest_tokens_and_keeps_the_continuation(folders):
    tok = scoring.open_model(None, str(folders["lm-a"])).tokenizer
    ids, k = scoring.encode_request(tok, ("헌법 " * 200).strip(), " 제1조", 32)
    assert len(ids) == 33 and ids[-k:] == tok(" 제1조", add_special_tokens=False)["input_ids"]
    ids2, k2 = scoring.encode_request(tok, "질문: ", "답", 32)  # a trailing space moves to the continuation
    assert ids2[-k2:] == tok(" 답", add_special_tokens=False)["input_ids"]


def test_fewshot_prompt_puts_k_solved_examples_before_the_row():
    from workbench.evaluate.run import FEWSHOT_TEMPLATE, fewshot_prompt
    shots = [{"text": "최고예요", "label": 1}, {"text": "별로예요", "label": 0}]
    text = fewshot_prompt(FEWSHOT_TEMPLATE, {"text": "재밌어요", "label": 1}, shots, ["부정", "긍정"])
    assert text == "문장: 최고예요\n답: 긍정\n\n문장: 별로예요\n답: 부정\n\n문장: 재밌어요\n답:"


# -- runs and reports ------------------------------------------------------------------------------------------------
def test_classify_agrees_with_sklearn_on_the_models_own_predictions_labels_mapped_by_name(ws, folders, reviews):
    from sklearn.metrics import accuracy_score, f1_score

    from workbench.finetune.save import predict
    res = evaluate(ws, f"models={folders['clf']}", f"data={reviews}", "max_rows=0", "output_name=clf-eval")
    assert res["status"] == "succeeded", res["error"]
    folder = ws.artifact_dir("eval", "clf-eval")
    report = json.loads((folder / "report.json").read_text())
    entry = report["models"][0]
    assert report["benchmark"] == "file:reviews.tsv" and report["n"] == 40 and entry["labels"] == ["0", "1"]
    preds = [json.loads(ln) for ln in (folder / "predictions.jsonl").read_text().splitlines()]
    # the model's own argmax, by name: its label 긍정 is its id 0, the data's "1" (bare ids map by position)
    direct = predict(folders["clf"], [p["input"] for p in preds])
    assert [p["prediction"] for p in preds] == [str(["긍정", "부정"].index(d["label"])) for d in direct]
    y_true, y_pred = [int(p["reference"]) for p in preds], [int(p["prediction"]) for p in preds]
    assert entry["metrics"]["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert entry["metrics"]["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert sum(map(sum, entry["confusion"])) == 40 and entry["calibration"]["n_bins"] == 10
    for name in ("report.html", "report.md"):
        assert "reviews.tsv" in (folder / name).read_text()


def test_named_labels_map_by_name_whatever_the_models_order(ws, folders, tmp_path):
    path = tmp_path / "named.tsv"
    path.write_text("text\tlabel\n" + "".join(f"{g}\t긍정\n{b}\t부정\n" for g, b in zip(GOOD, BAD)), encoding="utf-8")
    res = evaluate(ws, f"models={folders['clf']}", f"data={path}")
    assert res["status"] == "succeeded", res["error"]
    entry = res["summary"]["models"][0]
    from workbench.finetune.save import predict
    direct = [d["label"] for d in predict(folders["clf"], [t for pair in zip(GOOD, BAD) for t in pair])]
    truth = ["긍정", "부정"] * 5
    assert entry["metrics"]["accuracy"] == pytest.approx(sum(a == b for a, b in zip(direct, truth)) / 10)


def test_two_models_fewshot_and_perplexity_compare_in_one_table_with_lineage(ws, folders, reviews):
    from workbench.evaluate.report import comparison
    from workbench.evaluate.run import read_reports
    a, b = publish(ws, folders["lm-a"], "lm-a"), publish(ws, folders["lm-b"], "lm-b")
    res = evaluate(ws, "models=lm-a,lm-b", "task=fewshot", f"data={reviews}", "max_rows=12", "k_shot=2",
                   "label_names=부정,긍정", "output_name=fs")
    assert res["status"] == "succeeded", res["error"]
    ppl = evaluate(ws, "models=lm-a,lm-b", "task=perplexity", "max_rows=30", "max_length=64", "output_name=ppl")
    assert ppl["status"] == "succeeded", ppl["error"]
    for m in ppl["summary"]["models"]:
        assert m["metrics"]["ppl"] == pytest.approx(math.exp(m["metrics"]["loss"]), rel=1e-6)
        assert 0 < m["metrics"]["bpb"] < 20
    art = ws.store.get_artifact(kind="eval", name="fs")
    assert set(art.parents) >= {a, b}
    cols, rows = comparison(read_reports(ws))
    assert [r["model"] for r in rows] == ["lm-a (model #%d)" % a, "lm-b (model #%d)" % b]
    assert any(c.endswith("accuracy") for c in cols) and any(c.endswith("bpb") for c in cols)
    assert all(r[c] is not None for r in rows for c in cols if c.endswith(("accuracy", "bpb")))


def test_generate_and_prompts_score_answers_and_a_local_judge_is_labelled(ws, folders, tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps({"instruction": q, "output": a}, ensure_ascii=False) + "\n" for q, a in
                            [("헌법은 무엇인가요?", "나라의 기본 법입니다."), ("오늘 날씨 어때?", "맑아요.")]),
                    encoding="utf-8")
    res = evaluate(ws, f"models={folders['lm-a']}", "task=generate", f"data={path}", "max_new_tokens=6",
                   f"judge_model={folders['lm-b']}", "output_name=gen")
    assert res["status"] == "succeeded", res["error"]
    report = json.loads((ws.artifact_dir("eval", "gen") / "report.json").read_text())
    m = report["models"][0]["metrics"]
    assert {"bleu", "chrf", "rougeL", "distinct_1", "hangul_share", "judge_score"} <= set(m)
    assert 1.0 <= m["judge_score"] <= 5.0 and "not GPT-4" in report["judge"]["note"]
    res = evaluate(ws, f"models={folders['lm-a']}", "task=prompts", "templates=plain-ko,step-ko,assistant-ko",
                   "max_rows=2", "max_new_tokens=4", "output_name=tpl")
    assert res["status"] == "succeeded", res["error"]
    labels = [m["model"] for m in res["summary"]["models"]]
    assert len(labels) == 3 and labels[1].endswith("· step-ko")
    preds = [json.loads(ln) for ln in (ws.artifact_dir("eval", "tpl") / "predictions.jsonl").read_text().splitlines()]
    assert any("단계별로" in p["prompt_text"] for p in preds)  # the template really went into the prompt


def test_cli_eval_prints_one_json_line_and_writes_the_model_card_section_once(ws, folders, reviews):
    publish(ws, folders["clf"], "clf")
    for _ in range(2):
        proc = run_cli("eval", "--set", "models=clf", "--set", f"data={reviews}", "--set", "update_model_cards=true",
                       "--set", "threads=1", "--set", "overwrite=true", "--set", "output_name=card", workspace=ws.root)
        out = last_json(proc.stdout)
        assert out["ok"] and out["status"] == "succeeded", proc.stderr[-2000:]
    assert out["models"][0]["metrics"]["accuracy"] is not None and out["task"] == "classify"
    card = (ws.artifact_dir("model", "clf") / "README.md").read_text()
    assert card.count("## Evaluation: file:reviews.tsv") == 1 and "accuracy" in card


def test_prompt_library_saves_the_persons_templates_and_refuses_bad_ones(ws):
    lib = prompts.save_template(ws, "mine", "Q: {question}\nA:")
    assert lib["mine"] == "Q: {question}\nA:" and "plain-ko" in lib
    assert "mine" in prompts.templates(ws)  # read back from the workspace file
    with pytest.raises(UserError, match="no {question}"):
        prompts.save_template(ws, "bad", "질문만")
    with pytest.raises(UserError, match="cannot be deleted"):
        prompts.delete_template(ws, "plain-ko")
    assert "mine" not in prompts.delete_template(ws, "mine")


def test_prompt_lab_answers_every_model_and_template_with_the_same_seed(ws, folders):
    from workbench.evaluate.lab import ask
    tpls = prompts.resolve_templates(ws, prompts.SEED_THREE)
    out = ask(ws, [str(folders["lm-a"]), str(folders["lm-b"])], tpls, "헌법이란?", max_new_tokens=4, temperature=0.8,
              seed=3)
    assert len(out) == 6 and {a["template"] for a in out} == set(prompts.SEED_THREE)
    again = ask(ws, [str(folders["lm-a"])], tpls, "헌법이란?", max_new_tokens=4, temperature=0.8, seed=3)
    assert [a["answer"] for a in again] == [a["answer"] for a in out[:3]]  # seeded sampling repeats


# -- bad input -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case, needle", [
    ("missing_column", "no column 'review'"),
    ("labels_outside", "outside model"),
    ("classifier_generates", "is a classifier"),
    ("lm_classifies", "not a classifier"),
    ("empty_prompts", "prompt set is empty"),
    ("no_model", "was not found"),
    ("judge_broken", "cannot be loaded"),
    ("score_benchmark_as_classes", "use the task 'regression'"),
])
def test_bad_input_is_refused_with_a_message_naming_the_fix(ws, folders, reviews, tmp_path, case, needle):
    before = ws.store.list_artifacts()
    broken = tmp_path / "broken-judge"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    empty = tmp_path / "empty.jsonl"
    empty.write_text(json.dumps({"instruction": " ", "output": "x"}) + "\n")
    three = tmp_path / "three.tsv"
    three.write_text("text\tlabel\n가\t가족\n나\t나무\n다\t다리\n" * 3, encoding="utf-8")
    args = {
        "missing_column": [f"models={folders['clf']}", f"data={reviews}", "text_column=review"],
        "labels_outside": [f"models={folders['clf']}", f"data={three}"],
        "classifier_generates": [f"models={folders['clf']}", "task=generate"],
        "lm_classifies": [f"models={folders['lm-a']}", f"data={reviews}"],
        "empty_prompts": [f"models={folders['lm-a']}", "task=generate", f"data={empty}"],
        "no_model": ["models=no-such-model", f"data={reviews}"],
        "judge_broken": [f"models={folders['lm-a']}", "task=generate", "max_rows=1", "max_new_tokens=2",
                         f"judge_model={broken}"],
        "score_benchmark_as_classes": [f"models={folders['clf']}", "benchmark=korsts"],
    }[case]
    from workbench.config import ConfigError
    try:
        res = evaluate(ws, *args)
        text = str(res["error"]) if res["status"] != "succeeded" else ""
        ko = getattr(res["error"], "ko", "")
    except (UserError, ConfigError) as e:
        text, ko = str(e), getattr(getattr(e, "text", e), "ko", "x")
    assert needle in text, text
    assert ko and ko != text  # the Korean wording exists too
    assert [a.id for a in ws.store.list_artifacts()] == [a.id for a in before]  # nothing saved, nothing lost


def test_kornli_dev_pairs_score_with_three_labels(ws, folders):
    folder = shared_data("kor-nlu", "KorNLI")
    res = evaluate(ws, f"models={folders['lm-a']}", "task=fewshot", "benchmark=kornli", f"data={folder}",
                   "max_rows=9", "k_shot=1", "label_words=예,모름,아니오")
    assert res["status"] == "succeeded", res["error"]
    report = json.loads((ws.artifact_dir("eval", res["run_id"]) / "report.json").read_text())
    assert report["split"] == "test" and report["models"][0]["labels"] == ["entailment", "neutral", "contradiction"]
    assert len(report["models"][0]["confusion"]) == 3


def test_benchmark_presets_load_the_hub_names_the_seed_uses(monkeypatch):
    """An empty data field with a preset asks datasets.load_dataset for the seed's names (nsmc; klue + nli): the real
    call, replaced here only at the network boundary, its ClassLabel names kept."""
    import pandas as pd

    from workbench.evaluate import benchmarks
    asked = []

    def fake_hub(name, config="", **kw):
        asked.append((name, config))
        if name == "nsmc":
            return {"train": pd.DataFrame({"id": ["1"], "document": ["좋아요"], "label": [1]}),
                    "test": pd.DataFrame({"id": ["2", "3"], "document": ["최고", "별로"], "label": [1, 0]})}
        df = pd.DataFrame({"premise": ["a", "b", "c"], "hypothesis": ["x", "y", "z"], "label": [0, 1, 2]})
        df.attrs["label_names"] = {"label": ["entailment", "neutral", "contradiction"]}
        return {"train": df, "validation": df}

    monkeypatch.setattr(benchmarks.ftdata, "load_hf_dataset", fake_hub)
    lab = benchmarks.load_labelled(preset="nsmc")
    assert asked[-1] == ("nsmc", "") and lab.split == "test" and lab.names == ["부정", "긍정"]
    assert [r["label"] for r in lab.rows] == [1, 0] and lab.shots == [{"text": "좋아요", "label": 1}]
    lab = benchmarks.load_labelled(preset="klue-nli", label_column="label")
    assert asked[-1] == ("klue", "nli") and lab.split == "validation" and lab.pairs
    assert lab.names == ["entailment", "neutral", "contradiction"] and [r["label"] for r in lab.rows] == [0, 1, 2]


def test_similarity_scores_from_klue_sts_json_go_through_a_regression_head(ws, folders, tmp_path):
    """KLUE-STS as published (labels: {label, real-label, binary-label}) scored by a one-output head: Pearson and
    Spearman equal scipy's on the model's own outputs; a classifier with labels is refused for scores."""
    from scipy.stats import pearsonr, spearmanr
    from transformers import LlamaForSequenceClassification
    tok = folders["tok"]
    reg = tmp_path / "reg"
    tok.save_pretrained(reg)
    torch.manual_seed(0)
    LlamaForSequenceClassification(_llama_config(tok, num_labels=1)).save_pretrained(reg)
    rows = [{"guid": str(i), "sentence1": f"{GOOD[i % 5]} {i}", "sentence2": f"{BAD[i % 5]} {i * 7}",
             "labels": {"label": round(i * 0.4, 1), "real-label": i * 0.4, "binary-label": int(i > 5)}}
            for i in range(12)]
    path = tmp_path / "klue-sts-v1.1_dev.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    res = evaluate(ws, f"models={reg}", "task=regression", "benchmark=klue-sts", f"data={path}", "output_name=sts")
    assert res["status"] == "succeeded", res["error"]
    preds = [json.loads(ln) for ln in (ws.artifact_dir("eval", "sts") / "predictions.jsonl").read_text().splitlines()]
    y, p = [r["reference"] for r in preds], [r["prediction"] for r in preds]
    assert y == [round(i * 0.4, 1) for i in range(12)]
    m = res["summary"]["models"][0]["metrics"]
    assert m["pearson"] == pytest.approx(pearsonr(y, p)[0], abs=1e-3)
    assert m["spearman"] == pytest.approx(spearmanr(y, p)[0], abs=1e-3)
    res = evaluate(ws, f"models={folders['clf']}", "task=regression", "benchmark=klue-sts", f"data={path}")
    assert res["status"] == "failed" and "regression head" in str(res["error"])


def test_a_fine_tuned_adapter_and_its_base_are_scored_on_the_same_benchmark(ws, folders, reviews):
    """One lineage on one suite: a LoRA classifier adapter (Fine-tune stage) by its artifact name, next to its causal
    base scored few-shot; the report names both and the adapter's figures match the fine-tune stage's predict."""
    from workbench.finetune.save import predict
    from workbench.finetune.stage import FinetuneConfig
    publish(ws, folders["lm-a"], "base")
    ft = runs.run_in_process("finetune", FinetuneConfig.load(sets=[
        "base_model=base", f"data={reviews}", "label_names=부정,긍정", "max_steps=4", "eval_every=2", "batch_size=8",
        "lr=1e-2", "threads=1", "warmup_steps=0", "save_every=1000", "output_name=clf-lora"]), ws)
    assert ft["status"] == "succeeded", ft["error"]
    res = evaluate(ws, "models=clf-lora", f"data={reviews}", "label_names=부정,긍정", "output_name=lineage")
    assert res["status"] == "succeeded", res["error"]
    entry = res["summary"]["models"][0]
    assert entry["model"].startswith("clf-lora (adapter #")
    texts = [json.loads(ln)["input"] for ln in
             (ws.artifact_dir("eval", "lineage") / "predictions.jsonl").read_text().splitlines()]
    truth = {json.loads(ln)["input"]: json.loads(ln)["reference"] for ln in
             (ws.artifact_dir("eval", "lineage") / "predictions.jsonl").read_text().splitlines()}
    direct = predict("clf-lora", texts, ws=ws)
    assert entry["metrics"]["accuracy"] == pytest.approx(
        sum(d["label"] == truth[t] for d, t in zip(direct, texts)) / len(texts))
    base = evaluate(ws, "models=base", "task=fewshot", f"data={reviews}", "label_names=부정,긍정", "max_rows=8")
    assert base["status"] == "succeeded", base["error"]


def test_the_bundled_sample_is_scored_on_the_fine_tune_stages_held_out_rows_only():
    """A model fine-tuned on the bundled sample with the defaults never sees the rows Evaluate scores it on."""
    from workbench.evaluate.benchmarks import load_labelled
    from workbench.finetune.stage import FinetuneConfig
    from workbench.finetune.train import prepare_data
    lab = load_labelled()
    prep = prepare_data(FinetuneConfig(base_model="unused"), None)
    trained = {r["text"] for r in prep.rows["train"]} | {r["text"] for r in prep.rows["validation"]}
    assert lab.split == "test" and {r["text"] for r in lab.rows} == {r["text"] for r in prep.rows["test"]}
    assert not trained & {r["text"] for r in lab.rows} and "held-out" in lab.source
    assert all(s["text"] in {r["text"] for r in prep.rows["train"]} for s in lab.shots)  # shots: training rows
