"""Evaluate stage scores (workbench/evaluate/metrics.py): checked against the libraries called directly and
against small cases worked out by hand."""
from __future__ import annotations

import random
import subprocess
import sys
import warnings

import pytest

from workbench.errors import UserError
from workbench.evaluate import metrics as M
from workbench.evaluate.metrics import (METRIC_INFO, classification_metrics, generation_metrics, morphemes,
                                        per_example_generation, regression_metrics)

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


# -- classification ------------------------------------------------------------------------------------
def test_classification_hand_computed():
    # 3 classes, 6 examples, worked out by hand
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 1, 1, 1, 0, 2]
    out = classification_metrics(y_true, y_pred, ["neg", "neu", "pos"])
    assert out["n"] == 6
    assert out["accuracy"] == pytest.approx(4 / 6, abs=1e-6)
    assert out["confusion"] == [[1, 1, 0],
                                [0, 2, 0],
                                [1, 0, 1]]
    assert out["labels"] == ["neg", "neu", "pos"]
    assert out["per_class"]["neg"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert out["per_class"]["neu"]["precision"] == pytest.approx(2 / 3, abs=1e-6)
    assert out["per_class"]["neu"]["recall"] == 1.0
    assert out["per_class"]["pos"]["precision"] == 1.0 and out["per_class"]["pos"]["recall"] == 0.5
    # macro recall = (1/2 + 1 + 1/2) / 3
    assert out["macro_recall"] == pytest.approx(2 / 3, abs=1e-6)
    for v in (out["accuracy"], out["macro_f1"], out["per_class"]["neu"]["f1"]):
        assert type(v) is float
    assert type(out["per_class"]["neu"]["support"]) is int
    assert all(type(c) is int for row in out["confusion"] for c in row)


def test_classification_matches_sklearn():
    from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score,
                                 precision_recall_fscore_support)
    rng = random.Random(0)
    names = ["a", "b", "c", "d"]
    y_true = [rng.randrange(4) for _ in range(60)]
    y_pred = [y if rng.random() < 0.55 else rng.randrange(4) for y in y_true]
    out = classification_metrics(y_true, y_pred, names)
    labels = list(range(4))
    assert out["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-6)
    assert out["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"), abs=1e-6)
    assert out["weighted_f1"] == pytest.approx(f1_score(y_true, y_pred, average="weighted"), abs=1e-6)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    mp, mr, _, _ = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    assert out["macro_precision"] == pytest.approx(mp, abs=1e-6)
    assert out["macro_recall"] == pytest.approx(mr, abs=1e-6)
    for i, name in enumerate(names):
        pc = out["per_class"][name]
        assert (pc["precision"], pc["recall"], pc["f1"]) == pytest.approx((p[i], r[i], f[i]), abs=1e-6)
        assert pc["support"] == s[i]
    assert out["confusion"] == confusion_matrix(y_true, y_pred, labels=labels).tolist()
    assert sum(map(sum, out["confusion"])) == 60


def test_absent_classes_keep_their_row_and_column():
    # class 2 is never predicted, class 3 never occurs at all
    out = classification_metrics([0, 1, 2, 2], [0, 1, 1, 0], ["a", "b", "c", "d"])
    assert out["confusion"] == [[1, 0, 0, 0],
                                [0, 1, 0, 0],
                                [1, 1, 0, 0],
                                [0, 0, 0, 0]]
    assert out["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    assert out["per_class"]["d"]["support"] == 0
    assert list(out["per_class"]) == ["a", "b", "c", "d"]


def test_calibration_and_log_loss():
    from sklearn.metrics import log_loss
    # every confidence 0.9, half of them right: ECE = |0.5 - 0.9| = 0.4
    y_true = [0] * 5 + [1] * 5
    probs = [[0.9, 0.1]] * 10
    out = classification_metrics(y_true, [0] * 10, ["x", "y"], probs=probs)
    cal = out["calibration"]
    assert cal["ece"] == pytest.approx(0.4, abs=1e-6)
    assert cal["n_bins"] == 10 and len(cal["bins"]) == 10
    full = [b for b in cal["bins"] if b["count"]]
    assert len(full) == 1 and full[0]["count"] == 10
    assert full[0]["confidence"] == pytest.approx(0.9) and full[0]["accuracy"] == 0.5
    assert cal["bins"][8]["count"] == 10          # bins are (lo, hi]: 0.9 belongs to (0.8, 0.9]
    assert out["log_loss"] == pytest.approx(log_loss(y_true, probs, labels=[0, 1]), abs=1e-6)

    # two bins: conf 0.55 both right (gap 0.45), conf 0.95 both wrong (gap 0.95) -> (0.45 + 0.95) / 2
    probs = [[0.55, 0.45], [0.45, 0.55], [0.95, 0.05], [0.05, 0.95]]
    out = classification_metrics([0, 1, 1, 0], [0, 1, 0, 1], ["x", "y"], probs=probs)
    assert out["calibration"]["ece"] == pytest.approx(0.7, abs=1e-6)
    counts = [b["count"] for b in out["calibration"]["bins"]]
    assert counts == [0, 0, 0, 0, 0, 2, 0, 0, 0, 2]
    # a confidence of exactly 1.0 lands in the last bin; perfect confidence and accuracy: ECE 0
    out = classification_metrics([0, 1], [0, 1], ["x", "y"], probs=[[1.0, 0.0], [0.0, 1.0]])
    assert out["calibration"]["bins"][9]["count"] == 2 and out["calibration"]["ece"] == 0.0
    assert "log_loss" not in classification_metrics([0, 1], [0, 1], ["x", "y"])


def test_classification_bad_input():
    with pytest.raises(UserError) as e:
        classification_metrics([0, 1, 0], [0, 1], ["a", "b"])
    assert "3" in str(e.value) and "2" in str(e.value)
    assert "3" in e.value.text.ko and "2" in e.value.text.ko and e.value.text.ko != str(e.value)
    with pytest.raises(UserError):
        classification_metrics([], [], ["a", "b"])
    with pytest.raises(UserError):
        classification_metrics([0, 5], [0, 1], ["a", "b"])
    with pytest.raises(UserError):
        classification_metrics([0, 1], [0, 1], ["a", "b"], probs=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


# -- regression ----------------------------------------------------------------------------------------
def test_regression_matches_scipy_and_sklearn():
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import mean_absolute_error, mean_squared_error
    t = [0.0, 1.0, 2.5, 3.0, 4.2, 5.0]
    p = [0.3, 0.8, 2.0, 3.9, 4.0, 4.4]
    out = regression_metrics(t, p)
    assert out["n"] == 6
    assert out["pearson"] == pytest.approx(pearsonr(t, p).statistic, abs=1e-6)
    assert out["spearman"] == pytest.approx(spearmanr(t, p).statistic, abs=1e-6)
    assert out["mse"] == pytest.approx(mean_squared_error(t, p), abs=1e-6)
    assert out["mae"] == pytest.approx(mean_absolute_error(t, p), abs=1e-6)
    assert all(type(out[k]) is float for k in ("pearson", "spearman", "mse", "mae"))


def test_constant_prediction_gives_none_not_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # no ConstantInputWarning leaks out either
        out = regression_metrics([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    assert out["pearson"] is None and out["spearman"] is None
    assert out["mse"] == pytest.approx(2 / 3, abs=1e-6) and out["mae"] == pytest.approx(2 / 3, abs=1e-6)
    assert regression_metrics([1.0], [1.5])["pearson"] is None
    with pytest.raises(UserError) as e:
        regression_metrics([1.0, 2.0], [1.0, 2.0, 3.0, 4.0])
    assert "2" in str(e.value) and "4" in str(e.value)


# -- morphemes and reference-free figures --------------------------------------------------------------
def test_morphemes():
    assert morphemes("사과 바나나") == ["사과", "바나나"]
    assert morphemes("") == [] and morphemes("  \n ") == []
    assert "학교" in morphemes("나는 학교에 갑니다.")
    texts = ["고양이가 밥을 먹었다.", "", "사과 바나나"]
    assert M.morphemes_many(texts) == [morphemes(t) for t in texts]


def test_distinct_and_repetition_by_hand():
    preds = ["사과 바나나 사과 바나나 사과 바나나", "사과 바나나"]
    assert morphemes(preds[0]) == ["사과", "바나나"] * 3      # A B A B A B
    out = generation_metrics(preds)
    # unigrams: 6 + 2 = 8, distinct {사과, 바나나}: 2/8
    assert out["distinct_1"] == 0.25
    # bigrams: AB BA AB BA AB + AB = 6, distinct {AB, BA}: 2/6
    assert out["distinct_2"] == pytest.approx(1 / 3, abs=1e-6)
    # 3-grams of the first: ABA BAB ABA BAB, two repeat an earlier one: 2/4; the second has none: 0
    assert out["repetition"] == 0.25
    assert [r["repetition"] for r in per_example_generation(preds)] == [0.5, 0.0]
    assert out["answer_morphemes"] == 4.0
    assert out["answer_chars"] == (len(preds[0]) + len(preds[1])) / 2
    assert out["n"] == 2 and out["empty_share"] == 0.0
    assert "bleu" not in out and "rougeL" not in out
    # no n-grams at all: None, not a division error
    empty = generation_metrics(["", "   "])
    assert empty["distinct_1"] is None and empty["distinct_2"] is None and empty["hangul_share"] is None
    assert empty["empty_share"] == 1.0 and empty["repetition"] == 0.0 and empty["answer_morphemes"] == 0.0


def test_hangul_share_by_hand():
    assert generation_metrics(["가나 abc"])["hangul_share"] == pytest.approx(2 / 5)
    # compatibility jamo (ㅋ U+314B) and conjoining jamo (ᄀ U+1100) count as Hangul; spaces do not count
    assert generation_metrics(["ㅋㅋ ok"])["hangul_share"] == 0.5
    assert generation_metrics(["\u1100x"])["hangul_share"] == 0.5
    # pooled over answers: (2 + 0) / (5 + 3)
    assert generation_metrics(["가나 abc", "xyz", ""])["hangul_share"] == pytest.approx(2 / 8)
    rows = per_example_generation(["가나 abc", " "])
    assert rows[0] == {"chars": 6, "morphemes": 2, "hangul_share": 0.4, "repetition": 0.0}
    assert rows[1]["hangul_share"] is None and rows[1]["morphemes"] == 0


# -- against references --------------------------------------------------------------------------------
PREDS = ["고양이가 밥을 먹었다.", "나는 학교에 갑니다.", "주식 시장이 크게 올랐다."]
REFS = ["고양이가 밥을 먹는다.", "나는 학교에 간다.", "오늘은 날씨가 맑습니다."]


def test_bleu_is_sacrebleu_over_kiwi_morphemes():
    import sacrebleu
    out = generation_metrics(PREDS, REFS)
    want = sacrebleu.corpus_bleu([" ".join(morphemes(p)) for p in PREDS],
                                 [[" ".join(morphemes(r)) for r in REFS]], tokenize="none").score
    assert out["bleu"] == pytest.approx(want, abs=1e-5)
    assert 0 < out["bleu"] < 100
    # over whitespace words the particles hide the overlap: morpheme BLEU is the higher one here
    words = sacrebleu.corpus_bleu(PREDS, [REFS], tokenize="none").score
    assert out["bleu"] > words


def test_chrf_is_sacrebleu_on_raw_strings():
    import sacrebleu
    out = generation_metrics(PREDS, REFS)
    assert out["chrf"] == pytest.approx(sacrebleu.corpus_chrf(PREDS, [REFS]).score, abs=1e-5)
    rows = per_example_generation(PREDS, REFS)
    for row, p, r in zip(rows, PREDS, REFS):
        assert row["chrf"] == pytest.approx(sacrebleu.sentence_chrf(p, [r]).score, abs=1e-5)


def test_rouge_scores_korean_with_kiwi_tokens():
    from rouge_score import rouge_scorer
    same = ["나는 학교에 갑니다.", "고양이가 밥을 먹었다."]
    # the trap this guards against: rouge-score's default tokenizer drops all non-ASCII text
    default = rouge_scorer.RougeScorer(["rougeL"]).score(same[0], same[0])["rougeL"].fmeasure
    assert default == 0.0
    out = generation_metrics(same, same)
    assert out["rougeL"] == 1.0 and out["rouge1"] == 1.0 and out["rouge2"] == 1.0
    assert out["bleu"] == pytest.approx(100.0) and out["chrf"] == pytest.approx(100.0)
    assert [r["rougeL"] for r in per_example_generation(same, same)] == [1.0, 1.0]
    assert morphemes("사과 바나나") == ["사과", "바나나"] and morphemes("주식 시장") == ["주식", "시장"]
    unrelated = generation_metrics(["사과 바나나"], ["주식 시장"])
    assert unrelated["rougeL"] == 0.0 and unrelated["rouge1"] == 0.0
    # partial overlap, worked out by hand: 나 는 학교 에 | 가 ᆸ니다 . vs 가 ᆫ다 . -> LCS 6 of 7 and 7
    part = per_example_generation(["나는 학교에 갑니다."], ["나는 학교에 간다."])[0]
    assert morphemes("나는 학교에 간다.") == ["나", "는", "학교", "에", "가", "ᆫ다", "."]
    assert part["rougeL"] == pytest.approx(6 / 7, abs=1e-6)


def test_generation_length_mismatch_names_both_counts():
    with pytest.raises(UserError) as e:
        generation_metrics(["a", "b", "c"], ["a", "b"])
    assert "3" in str(e.value) and "2" in str(e.value)
    assert "3" in e.value.text.ko and "2" in e.value.text.ko
    with pytest.raises(UserError):
        per_example_generation(["a"], ["a", "b"])
    with pytest.raises(UserError):
        generation_metrics([])


# -- metric names and the import rule ------------------------------------------------------------------
def test_metric_info_covers_every_summary_key():
    keys = set()
    keys |= set(classification_metrics([0, 1], [0, 1], ["a", "b"], probs=[[0.8, 0.2], [0.3, 0.7]])) \
        - {"n", "per_class", "confusion", "labels", "calibration"}
    keys |= {"ece"}
    keys |= set(regression_metrics([1.0, 2.0], [1.0, 2.0])) - {"n"}
    keys |= set(generation_metrics(["가"], ["가"])) - {"n"}
    keys |= {"acc_norm", "ppl", "bpb", "loss", "judge_score", "examples_per_s"}
    assert keys <= set(METRIC_INFO)
    for key, ((ko, en), higher) in METRIC_INFO.items():
        assert ko and en and isinstance(higher, bool), key
    assert METRIC_INFO["accuracy"] == (("정확도", "accuracy"), True)
    assert METRIC_INFO["ppl"] == (("퍼플렉서티", "perplexity"), False)
    assert METRIC_INFO["bpb"] == (("바이트당 비트", "bits per byte"), False)
    assert not METRIC_INFO["ece"][1] and not METRIC_INFO["repetition"][1] and not METRIC_INFO["mse"][1]


def test_import_pulls_no_heavy_library():
    code = ("import sys, workbench.evaluate.metrics; "
            "print(','.join(m for m in ('sklearn', 'scipy', 'sacrebleu', 'rouge_score', 'kiwipiepy', 'torch', "
            "'gradio', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
