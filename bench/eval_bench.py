"""Throughput of the Evaluate stage's scoring on KorNLI (xnli.test.ko.tsv, read by the stage's own loader): classifier
evaluation (encode the sentence pairs, softmax class probabilities) and log-likelihood scoring (zero-shot, each row's
three label words scored as continuations), in examples/s, against a plain transformers + torch loop doing the same
forward passes in the same run. Prints one JSON line.

    python bench/eval_bench.py [--rows 1000] [--batch 16] [--max-length 128] [--threads 2] [--repeats 9]

Workbench side: exactly what the Evaluate stage runs (`scoring.open_model`, `encode_rows` + `classify`;
`fewshot_prompt` + `encode_request`, `loglikelihoods`). Plain side, written here independently: AutoTokenizer +
AutoModelFor*.from_pretrained on the same folders, batches of the same rows in the same order, right padding, one
forward per batch, softmax (classifier; it tokenizes for itself, and the workbench's timing includes its encoding) or
log_softmax + gather of the continuation tokens (log-likelihood; both sides start from the same encoded requests).
The token ids and the outputs of the two sides are checked to agree (probabilities / log-likelihoods within 1e-4).
The models are built here (a quick BPE trained on KorNLI dev sentences, a small Llama with random weights): the figures
are throughput only, not accuracy. Each side is warmed up once, then the two alternate --repeats times (which goes
first alternating too); the median of each is reported (and the ratio of the best runs), with all runs.

Skips cleanly (one JSON line with "skipped") when ../shared/data is not beside the project.
"""
from __future__ import annotations

import argparse
import json
import statistics
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
KORNLI = DATA / "kor-nlu" / "KorNLI"
LABEL_WORDS = ["예", "모름", "아니오"]   # entailment / neutral / contradiction, scored as " 예" ...
SIZES = {"hidden": 256, "layers": 4, "heads": 4, "intermediate": 512, "max_position_embeddings": 512}
TOL = 1e-4

_STDOUT = sys.stdout


def _emit(obj: dict) -> None:
    """The one JSON line, on the real stdout (library chatter was sent to stderr)."""
    sys.stderr.flush()
    _STDOUT.write(json.dumps(obj, ensure_ascii=False) + "\n")
    _STDOUT.flush()


# -- the models, built on the spot ------------------------------------------------------------------------------------
def build_models(tmp: Path, lab, vocab: int) -> tuple[Path, Path, dict]:
    """A quick BPE on KorNLI dev sentences and two small random-init Llamas (a 3-class classifier, a causal LM) saved
    as Hugging Face folders with the tokenizer beside the weights."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification

    from workbench.tokenizer.quick import quick_bpe
    pool = lab.shots or lab.rows
    texts = [t for r in pool[:3000] for t in (r["text"], r.get("text_pair")) if t]
    tok = quick_bpe(texts, vocab)
    common = dict(vocab_size=len(tok), hidden_size=SIZES["hidden"], num_hidden_layers=SIZES["layers"],
                  num_attention_heads=SIZES["heads"], num_key_value_heads=SIZES["heads"],
                  intermediate_size=SIZES["intermediate"], max_position_embeddings=SIZES["max_position_embeddings"],
                  pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    folders, params = {}, {}
    for name, cls, extra in (
            ("classifier", LlamaForSequenceClassification,
             dict(num_labels=len(lab.names), id2label=dict(enumerate(lab.names)),
                  label2id={n: i for i, n in enumerate(lab.names)})),
            ("causal_lm", LlamaForCausalLM, {})):
        torch.manual_seed(0)
        model = cls(LlamaConfig(**common, **extra))
        folder = tmp / name
        model.save_pretrained(folder)
        tok.save_pretrained(folder)
        folders[name] = folder
        params[name] = sum(p.numel() for p in model.parameters())
    info = {**SIZES, "vocab": len(tok), "tokenizer": f"quick_bpe on {len(texts)} KorNLI dev sentences",
            "params": params}
    return folders["classifier"], folders["causal_lm"], info


# -- the plain loop ------------------------------------------------------------------------------------------------
def plain_encode(tok, rows: list[dict], max_length: int) -> list[list[int]]:
    """Pair inputs as the project joins them for a causal-LM tokenizer without a separator token: text ids, the
    end-of-text token, pair ids, cut longest-first to max_length."""
    a_all = tok([r["text"] for r in rows])["input_ids"]
    b_all = tok([r["text_pair"] for r in rows], add_special_tokens=False)["input_ids"]
    eos, budget = tok.eos_token_id, max_length - 1
    out = []
    for a, b in zip(a_all, b_all):
        while len(a) + len(b) > budget:
            if len(a) >= len(b):
                a = a[:-1]
            else:
                b = b[:-1]
        out.append(a + [eos] + b)
    return out


def right_pad(seqs: list[list[int]], pad: int):
    import torch
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, :len(s)] = 1
    return ids, mask


def plain_classify(model, tok, rows: list[dict], batch: int, max_length: int):
    """Tokenize, then one forward per batch of rows; softmax probabilities [rows, classes]."""
    import torch
    seqs = plain_encode(tok, rows, max_length)
    out = []
    with torch.no_grad():
        for s in range(0, len(seqs), batch):
            ids, mask = right_pad(seqs[s:s + batch], tok.pad_token_id)
            out.append(model(input_ids=ids, attention_mask=mask).logits.float().softmax(-1))
    return torch.cat(out)


def plain_loglikelihoods(model, pad: int, requests: list[tuple[list[int], int]], batch: int):
    """Per request (ids, n_cont): sum of the continuation tokens' log-probabilities and whether greedy decoding gives
    them; the input is ids[:-1], the logits at the last n_cont real positions predict ids[-n_cont:]."""
    import torch
    sums, greedy = [], []
    with torch.no_grad():
        for s in range(0, len(requests), batch):
            chunk = requests[s:s + batch]
            ids, mask = right_pad([r[:-1] for r, _ in chunk], pad)
            logits = model(input_ids=ids, attention_mask=mask).logits
            rows, pos, target, counts = [], [], [], []
            for i, (r, k) in enumerate(chunk):
                last = len(r) - 1
                rows += [i] * k
                pos += range(last - k, last)
                target += r[-k:]
                counts.append(k)
            lp = logits[rows, pos].float().log_softmax(-1)
            target = torch.tensor(target)
            tok_lp = lp.gather(1, target[:, None])[:, 0]
            hit = lp.argmax(-1) == target
            sums.extend(x.sum() for x in tok_lp.split(counts))
            greedy.extend(x.all() for x in hit.split(counts))
    return torch.stack(sums), torch.stack(greedy)


# -- timing ----------------------------------------------------------------------------------------------------------
def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def alternate(wb, plain, n_examples: int, repeats: int) -> tuple[dict, object, object]:
    """wb() and plain() repeats times, alternating; examples/s of each run, and the last outputs of both."""
    runs = {"workbench": [], "plain": []}
    out_wb = out_plain = None
    for i in range(repeats):
        order = (("workbench", wb), ("plain", plain)) if i % 2 == 0 else (("plain", plain), ("workbench", wb))
        for side, fn in order:  # who goes first alternates too (the first run of a pair tends to be faster)
            s, out = timed(fn)
            runs[side].append(n_examples / s)
            if side == "workbench":
                out_wb = out
            else:
                out_plain = out
    med_wb, med_plain = statistics.median(runs["workbench"]), statistics.median(runs["plain"])
    return {"workbench_examples_per_s": round(med_wb, 1), "plain_examples_per_s": round(med_plain, 1),
            "ratio": round(med_wb / med_plain, 3),
            "ratio_of_best": round(max(runs["workbench"]) / max(runs["plain"]), 3),
            "runs": {k: [round(x, 1) for x in v] for k, v in runs.items()}}, out_wb, out_plain


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--vocab", type=int, default=4000)
    args = ap.parse_args()
    if not (KORNLI / "xnli.test.ko.tsv").is_file():
        _emit({"bench": "eval", "skipped": f"needs {KORNLI}/xnli.test.ko.tsv"})
        return
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    from workbench.evaluate import scoring
    from workbench.evaluate.benchmarks import load_labelled
    from workbench.evaluate.run import FEWSHOT_PAIR_TEMPLATE, fewshot_prompt

    t_all = time.perf_counter()
    torch.set_num_threads(args.threads)
    lab = load_labelled(str(KORNLI), preset="kornli", max_rows=args.rows, seed=13)
    n, B, L = len(lab.rows), args.batch, args.max_length
    with tempfile.TemporaryDirectory(prefix="eval-bench-") as tmp:
        cls_dir, lm_dir, model_info = build_models(Path(tmp), lab, args.vocab)

        # (a) classifier: the stage's encode + classify vs a plain tokenize + forward + softmax loop
        wlm = scoring.open_model(None, str(cls_dir), want=scoring.CLASSIFIER)
        ptok = AutoTokenizer.from_pretrained(str(cls_dir))
        pmodel = AutoModelForSequenceClassification.from_pretrained(str(cls_dir)).eval()
        items = scoring.encode_rows(wlm.tokenizer, lab.rows, L)
        plain_ids = plain_encode(ptok, lab.rows, L)
        assert [it["input_ids"] for it in items[:B]] == plain_ids[:B], "first batch: token ids differ"
        ids_all_equal = [it["input_ids"] for it in items] == plain_ids
        wlm.model.eval()
        scoring.classify(wlm.model, wlm.tokenizer, items[:B], batch_size=B)  # warm-up
        plain_classify(pmodel, ptok, lab.rows[:B], B, L)
        cls_res, p_wb, p_plain = alternate(
            lambda: scoring.classify(wlm.model, wlm.tokenizer, scoring.encode_rows(wlm.tokenizer, lab.rows, L),
                                     batch_size=B),
            lambda: plain_classify(pmodel, ptok, lab.rows, B, L), n, args.repeats)
        cls_diff = float((torch.tensor(p_wb) - p_plain).abs().max())
        cls_res.update(mean_input_tokens=round(sum(len(s) for s in plain_ids) / n, 1),
                       max_abs_diff=cls_diff, token_ids_equal=ids_all_equal)
        del wlm, pmodel

        # (b) log-likelihood: zero-shot, the three label words of every row as continuations
        wlm = scoring.open_model(None, str(lm_dir), want=scoring.CAUSAL)
        wlm.model.eval()
        tok = wlm.tokenizer
        pmodel = AutoModelForCausalLM.from_pretrained(str(lm_dir)).eval()
        pad = AutoTokenizer.from_pretrained(str(lm_dir)).pad_token_id
        requests = []
        for row in lab.rows:
            ctx = fewshot_prompt(FEWSHOT_PAIR_TEMPLATE, row, [], LABEL_WORDS)
            requests.extend(scoring.encode_request(tok, ctx, " " + w, L) for w in LABEL_WORDS)
        scoring.loglikelihoods(wlm.model, tok, requests[:B], batch_size=B)  # warm-up
        plain_loglikelihoods(pmodel, pad, requests[:B], B)
        ll_res, ll_wb, (ll_plain, g_plain) = alternate(
            lambda: scoring.loglikelihoods(wlm.model, tok, requests, batch_size=B),
            lambda: plain_loglikelihoods(pmodel, pad, requests, B), n, args.repeats)
        ll_diff = float((torch.tensor([x for x, _ in ll_wb]) - ll_plain).abs().max())
        greedy_equal = [g for _, g in ll_wb] == g_plain.tolist()
        ll_res.update(requests_per_row=len(LABEL_WORDS), label_words=LABEL_WORDS, k_shot=0,
                      mean_input_tokens=round(sum(len(r) - 1 for r, _ in requests) / len(requests), 1),
                      max_abs_diff=ll_diff, greedy_flags_equal=greedy_equal)

    match = ids_all_equal and cls_diff <= TOL and ll_diff <= TOL and greedy_equal
    _emit({"bench": "eval", "data": "KorNLI xnli.test.ko.tsv", "rows": n, "model": model_info,
           "weights": "random init: throughput only", "classifier": cls_res, "loglikelihood": ll_res,
           "outputs_match": match, "tolerance": TOL, "threads": args.threads, "batch": B, "max_length": L,
           "wall_s": round(time.perf_counter() - t_all, 1)})
    if not match:
        sys.exit(1)


if __name__ == "__main__":
    import contextlib
    with contextlib.redirect_stdout(sys.stderr):  # load reports and library notices print to stdout
        main()
