"""Scores of the Evaluate stage: classification, regression and generation figures, and what each means.

Library-backed (the formulas are the libraries', not ours):
- classification: accuracy, macro / weighted F1, macro precision / recall, per-class figures and the
  confusion matrix from scikit-learn (`zero_division=0`: a class never predicted has precision 0); log loss
  from `sklearn.metrics.log_loss`.
- regression: Pearson and Spearman correlation from scipy.stats; MSE and MAE from scikit-learn.
- generation against references: BLEU and chrF from sacrebleu (0-100, as sacrebleu reports them);
  ROUGE-1/2/L from rouge-score (mean F-measure, 0-1).

Written here because no library gives them:
- ECE (expected calibration error): confidence = the top class probability, correct = that class is the
  true one. The confidences fall into 10 equal-width bins (lo, hi] (0.0 goes to the first bin); ECE is the
  count-weighted mean over non-empty bins of |share correct in the bin - mean confidence in the bin|
  (Guo et al. 2017, "On Calibration of Modern Neural Networks").
- reference-free generation figures (distinct-n, repetition, Hangul share, lengths, empty share): each is
  defined where it is computed below.

Korean text is counted in Kiwi morphemes (`morphemes`), not whitespace words: an eojeol glues particles and
endings onto its stem (학교에, 갔습니다), so word-level overlap would miss most shared content.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..errors import UserError
from ..i18n import say

ROUND = 6

# key -> ((Korean name, English name), higher is better)
METRIC_INFO: dict[str, tuple[tuple[str, str], bool]] = {
    # classification
    "accuracy": (("정확도", "accuracy"), True),
    "acc_norm": (("길이 정규화 정확도", "length-normalized accuracy"), True),
    "macro_f1": (("매크로 F1", "macro F1"), True),
    "weighted_f1": (("가중 F1", "weighted F1"), True),
    "macro_precision": (("매크로 정밀도", "macro precision"), True),
    "macro_recall": (("매크로 재현율", "macro recall"), True),
    "log_loss": (("로그 손실", "log loss"), False),
    "ece": (("기대 보정 오차(ECE)", "expected calibration error (ECE)"), False),
    # regression
    "pearson": (("피어슨 상관계수", "Pearson correlation"), True),
    "spearman": (("스피어만 상관계수", "Spearman correlation"), True),
    "mse": (("평균 제곱 오차", "mean squared error"), False),
    "mae": (("평균 절대 오차", "mean absolute error"), False),
    # generation against references
    "bleu": (("BLEU (형태소)", "BLEU (morphemes)"), True),
    "chrf": (("chrF", "chrF"), True),
    "rouge1": (("ROUGE-1 (형태소)", "ROUGE-1 (morphemes)"), True),
    "rouge2": (("ROUGE-2 (형태소)", "ROUGE-2 (morphemes)"), True),
    "rougeL": (("ROUGE-L (형태소)", "ROUGE-L (morphemes)"), True),
    # generation, reference-free
    "distinct_1": (("고유 1-그램 비율", "distinct-1"), True),
    "distinct_2": (("고유 2-그램 비율", "distinct-2"), True),
    "repetition": (("반복률 (3-그램)", "repetition (3-grams)"), False),
    "hangul_share": (("한글 비율", "Hangul share"), True),
    "answer_chars": (("평균 답변 길이 (글자)", "mean answer length (characters)"), True),
    "answer_morphemes": (("평균 답변 길이 (형태소)", "mean answer length (morphemes)"), True),
    "empty_share": (("빈 답변 비율", "empty answer share"), False),
    # added by the stage
    "ppl": (("퍼플렉서티", "perplexity"), False),
    "bpb": (("바이트당 비트", "bits per byte"), False),
    "loss": (("손실", "loss"), False),
    "judge_score": (("심사 모델 점수", "judge score"), True),
    "examples_per_s": (("초당 예제 수", "examples per second"), True),
}
# Figures whose direction in METRIC_INFO is nominal: longer answers are not better in themselves, so a
# comparison should not mark a "best" value for these.
NO_DIRECTION = frozenset({"answer_chars", "answer_morphemes"})

ECE_BINS = 10


def _r(x) -> float | None:
    """A plain Python float rounded to ROUND digits; None for None or NaN."""
    if x is None:
        return None
    x = float(x)
    if x != x:  # NaN
        return None
    return round(x, ROUND)


def _check_lengths(a: Sequence, b: Sequence, what_a, what_b) -> None:
    """UserError unless `a` and `b` (named by the Texts what_a, what_b) are equally long and not empty."""
    if len(a) != len(b):
        raise UserError(say("{what_a} and {what_b} differ in length: {na} vs {nb}; give one per example.",
                            "개수가 다릅니다: {what_a} {na}개, {what_b} {nb}개. 예제마다 하나씩 주세요.",
                            what_a=what_a, what_b=what_b, na=len(a), nb=len(b)))
    if not a:
        raise UserError(say("nothing to score: no {what_a}.", "채점할 것이 없습니다: {what_a} 0개.",
                            what_a=what_a))


# -- classification ------------------------------------------------------------------------------------
def classification_metrics(y_true: list[int], y_pred: list[int], names: list[str],
                           probs: list[list[float]] | None = None) -> dict:
    """Accuracy, F1, precision, recall, per-class figures and the confusion matrix (scikit-learn).

    Labels are indices into `names`; the confusion matrix has one row per true label and one column per
    predicted label, in `names` order, including classes that never occur. With `probs` (one row of class
    probabilities per example, in `names` order) also `log_loss` and `calibration` (ECE over 10 equal-width
    bins of the top-class probability; see the module docstring)."""
    from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score, log_loss,
                                 precision_recall_fscore_support)

    _check_lengths(y_true, y_pred, say("true labels", "정답 레이블"), say("predicted labels", "예측 레이블"))
    k = len(names)
    if k == 0:
        raise UserError("no class names given.", ko="클래스 이름이 없습니다.")
    y_true = [int(y) for y in y_true]
    y_pred = [int(y) for y in y_pred]
    bad = sorted({y for y in y_true + y_pred if not 0 <= y < k})
    if bad:
        raise UserError(say("labels {bad} are outside the {k} classes (0..{last}).",
                            "레이블 {bad}이(가) 클래스 {k}개(0..{last}) 범위를 벗어납니다.",
                            bad=bad[:10], k=k, last=k - 1))
    labels = list(range(k))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    mp, mr, _, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro",
                                                   zero_division=0)
    out = {
        "n": len(y_true),
        "accuracy": _r(accuracy_score(y_true, y_pred)),
        "macro_f1": _r(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "weighted_f1": _r(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "macro_precision": _r(mp),
        "macro_recall": _r(mr),
        "per_class": {name: {"precision": _r(p[i]), "recall": _r(r[i]), "f1": _r(f[i]), "support": int(s[i])}
                      for i, name in enumerate(names)},
        "confusion": [[int(c) for c in row] for row in confusion_matrix(y_true, y_pred, labels=labels)],
        "labels": list(names),
    }
    if probs is not None:
        _check_lengths(y_true, probs, say("true labels", "정답 레이블"), say("probability rows", "확률 행"))
        widths = sorted({len(row) for row in probs})
        if widths != [k]:
            raise UserError(say("each probability row needs {k} values (one per class), got rows of {widths}.",
                                "확률 행마다 클래스 수만큼 {k}개 값이 필요한데 {widths}개짜리 행이 있습니다.",
                                k=k, widths=widths))
        out["log_loss"] = _r(log_loss(y_true, probs, labels=labels))
        out["calibration"] = calibration(y_true, probs)
    return out


def calibration(y_true: list[int], probs: list[list[float]], n_bins: int = ECE_BINS) -> dict:
    """Reliability bins and ECE of the top-class probability.

    Confidence = max probability of a row; correct = its argmax is the true label. Bins are `n_bins`
    equal-width intervals (lo, hi] of confidence (0.0 falls in the first). Each bin reports its bounds, its
    mean confidence, its share correct and its count (confidence / accuracy None when empty). ECE = sum over
    non-empty bins of count / n * |accuracy - confidence|."""
    import numpy as np

    P = np.asarray(probs, dtype=float)
    conf = P.max(axis=1)
    correct = (P.argmax(axis=1) == np.asarray(y_true)).astype(float)
    inner_edges = np.arange(1, n_bins) / n_bins          # 0.1 ... 0.9, exact decimal floats
    idx = np.digitize(conf, inner_edges, right=True)      # bin i holds (edge[i-1], edge[i]]
    bins, ece, n = [], 0.0, len(conf)
    for i in range(n_bins):
        mask = idx == i
        c = int(mask.sum())
        if c:
            mc, acc = float(conf[mask].mean()), float(correct[mask].mean())
            ece += c / n * abs(acc - mc)
        else:
            mc = acc = None
        bins.append({"lo": _r(i / n_bins), "hi": _r((i + 1) / n_bins),
                     "confidence": _r(mc), "accuracy": _r(acc), "count": c})
    return {"ece": _r(ece), "bins": bins, "n_bins": n_bins}


# -- regression ----------------------------------------------------------------------------------------
def regression_metrics(y_true: list[float], y_pred: list[float]) -> dict:
    """Pearson and Spearman correlation (scipy.stats), MSE and MAE (scikit-learn).

    A correlation is None where it is undefined: a constant prediction or reference, or fewer than 2
    examples (scipy would give NaN or refuse)."""
    import warnings

    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    _check_lengths(y_true, y_pred, say("true values", "정답 값"), say("predicted values", "예측 값"))
    t = [float(v) for v in y_true]
    p = [float(v) for v in y_pred]
    pearson = spearman = None
    if len(t) >= 2 and len(set(t)) > 1 and len(set(p)) > 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pearson = _r(pearsonr(t, p).statistic)
            spearman = _r(spearmanr(t, p).statistic)
    return {"n": len(t), "pearson": pearson, "spearman": spearman,
            "mse": _r(mean_squared_error(t, p)), "mae": _r(mean_absolute_error(t, p))}


# -- Korean morphemes ----------------------------------------------------------------------------------
def _kiwi_tokens(texts: list[str]) -> list[list]:
    # The tokenizer stage's analyzer: one Kiwi per process (~1.2 s and a few hundred MB to start),
    # created on first use under a lock, and shared with its batch API across both stages.
    from ..tokenizer.backends import kiwi_tokens
    return kiwi_tokens(texts)


def morphemes(text: str) -> list[str]:
    """Kiwi's morpheme forms of `text` (갑니다 -> 가, ᆸ니다); [] for empty or whitespace-only text."""
    if not text or not text.strip():
        return []
    return [t.form for t in _kiwi_tokens([text])[0]]


def morphemes_many(texts: list[str]) -> list[list[str]]:
    """`morphemes` for each text, analysed in one batch (Kiwi's worker threads)."""
    out: list[list[str]] = [[] for _ in texts]
    todo = [i for i, t in enumerate(texts) if t and t.strip()]
    for i, toks in zip(todo, _kiwi_tokens([texts[i] for i in todo])):
        out[i] = [t.form for t in toks]
    return out


class _MorphemeTokenizer:
    """rouge-score tokenizer (an object with .tokenize(text)) that splits into Kiwi morphemes.

    rouge-score's default tokenizer lowercases and then drops every character outside [a-z0-9], so any
    Korean text scores 0 with it. Texts analysed in advance are looked up in `known`."""

    def __init__(self, known: dict[str, list[str]] | None = None):
        self.known = known or {}

    def tokenize(self, text: str) -> list[str]:
        toks = self.known.get(text)
        return list(toks) if toks is not None else morphemes(text)


# -- generation ----------------------------------------------------------------------------------------
def _ngrams(toks: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)]


def _is_hangul(ch: str) -> bool:
    o = ord(ch)
    return 0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F


def _hangul_counts(text: str) -> tuple[int, int]:
    """(Hangul characters, non-whitespace characters)."""
    chars = [c for c in text if not c.isspace()]
    return sum(1 for c in chars if _is_hangul(c)), len(chars)


def repetition_share(toks: list[str]) -> float:
    """Share of an answer's token 3-grams that repeat an earlier 3-gram of the same answer (0 if none); tokens are
    morphemes here, words in the Align stage's looping check."""
    grams = _ngrams(toks, 3)
    if not grams:
        return 0.0
    seen, repeats = set(), 0
    for g in grams:
        if g in seen:
            repeats += 1
        seen.add(g)
    return repeats / len(grams)


def _check_generation(predictions: list[str], references: list[str] | None) -> None:
    if references is not None:
        _check_lengths(predictions, references, say("predictions", "생성 답변"), say("references", "참조 답변"))
    elif not predictions:
        raise UserError("nothing to score: no predictions.", ko="채점할 것이 없습니다: 생성 답변 0개.")


def generation_metrics(predictions: list[str], references: list[str] | None = None) -> dict:
    """Corpus-level figures of generated answers.

    Always (no reference needed), with morphemes from Kiwi (`morphemes`):
    - answer_chars: mean characters per answer (len of the text as given, spaces included).
    - answer_morphemes: mean Kiwi morphemes per answer.
    - distinct_n (n = 1, 2): distinct morpheme n-grams / all morpheme n-grams, pooled over all answers
      (n-grams do not cross answers); None when there are no n-grams. Low: the model says the same things.
    - repetition: mean over answers of the share of an answer's morpheme 3-grams that repeat an earlier
      3-gram of the same answer (an answer without a 3-gram counts 0). High: loops.
    - hangul_share: Hangul characters (syllables U+AC00-U+D7A3, jamo U+1100-U+11FF and U+3130-U+318F) /
      non-whitespace characters, pooled over all answers; None when there are none.
    - empty_share: share of answers that are empty after stripping whitespace.
    With references (one per prediction):
    - bleu: sacrebleu.corpus_bleu over Kiwi morphemes joined by spaces, tokenize="none" (0-100). Korean
      words glue particles and endings on (학교에 / 학교를), so BLEU over whitespace words or sacrebleu's
      13a tokens would count those as wholly different words.
    - chrf: sacrebleu.corpus_chrf on the raw strings (0-100; character n-grams need no tokenizer).
    - rouge1, rouge2, rougeL: mean F-measure (0-1) of rouge-score's RougeScorer with a Kiwi morpheme
      tokenizer (its default one drops all non-ASCII characters: Korean would score 0).
    """
    _check_generation(predictions, references)
    n = len(predictions)
    toks = morphemes_many(predictions)
    out: dict = {"n": n,
                 "answer_chars": _r(sum(len(p) for p in predictions) / n),
                 "answer_morphemes": _r(sum(len(t) for t in toks) / n)}
    for k in (1, 2):
        grams = [g for t in toks for g in _ngrams(t, k)]
        out[f"distinct_{k}"] = _r(len(set(grams)) / len(grams)) if grams else None
    out["repetition"] = _r(sum(repetition_share(t) for t in toks) / n)
    hangul = total = 0
    for p in predictions:
        h, c = _hangul_counts(p)
        hangul, total = hangul + h, total + c
    out["hangul_share"] = _r(hangul / total) if total else None
    out["empty_share"] = _r(sum(1 for p in predictions if not p.strip()) / n)
    if references is not None:
        out.update(_reference_metrics(predictions, references, toks))
    return out


def _reference_metrics(predictions: list[str], references: list[str], pred_toks: list[list[str]]) -> dict:
    import sacrebleu
    from rouge_score import rouge_scorer

    ref_toks = morphemes_many(references)
    bleu = sacrebleu.corpus_bleu([" ".join(t) for t in pred_toks], [[" ".join(t) for t in ref_toks]],
                                 tokenize="none")
    chrf = sacrebleu.corpus_chrf(list(predictions), [list(references)])
    known = {**dict(zip(references, ref_toks)), **dict(zip(predictions, pred_toks))}
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=_MorphemeTokenizer(known))
    sums = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for pred, ref in zip(predictions, references):
        scores = scorer.score(ref, pred)                 # rouge-score's order: (target, prediction)
        for key in sums:
            sums[key] += scores[key].fmeasure
    n = len(predictions)
    return {"bleu": _r(bleu.score), "chrf": _r(chrf.score), **{k: _r(v / n) for k, v in sums.items()}}


def per_example_generation(predictions: list[str], references: list[str] | None = None) -> list[dict]:
    """One dict per answer: chars, morphemes (count), hangul_share (None without characters), repetition;
    with references also chrf (sacrebleu.sentence_chrf, 0-100) and rougeL (F-measure with Kiwi morphemes).
    Definitions as in `generation_metrics`."""
    _check_generation(predictions, references)
    toks = morphemes_many(predictions)
    rows = []
    for p, t in zip(predictions, toks):
        h, c = _hangul_counts(p)
        rows.append({"chars": len(p), "morphemes": len(t), "hangul_share": _r(h / c) if c else None,
                     "repetition": _r(repetition_share(t))})
    if references is not None:
        import sacrebleu
        from rouge_score import rouge_scorer

        ref_toks = morphemes_many(references)
        known = {**dict(zip(references, ref_toks)), **dict(zip(predictions, toks))}
        scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_MorphemeTokenizer(known))
        for row, pred, ref in zip(rows, predictions, references):
            row["chrf"] = _r(sacrebleu.sentence_chrf(pred, [ref]).score)
            row["rougeL"] = _r(scorer.score(ref, pred)["rougeL"].fmeasure)
    return rows
