"""The Evaluate stage's run: read the benchmark once, score every model on it the same way, save an `eval` artifact
(report.json: every figure; predictions.jsonl: every answer; report.html / report.md: the report to hand in).

Each task is one function (model, data) -> the model's entry in the report: its metrics, and what the report
draws (confusion matrix, calibration) and shows (sample predictions)."""
from __future__ import annotations

import json
import math
import random
import time
from datetime import datetime, timezone
from pathlib import Path

from ..errors import UserError
from ..i18n import say
from . import benchmarks, metrics, scoring
from .prompts import resolve_templates
from .stage import GENERATING, EvalConfig

FEWSHOT_TEMPLATE = "문장: {text}\n답:"
FEWSHOT_PAIR_TEMPLATE = "문장 1: {text}\n문장 2: {text_pair}\n관계:"
N_SAMPLES = 20
HEADLINE = {"classify": ["accuracy", "macro_f1"], "fewshot": ["accuracy", "acc_norm", "macro_f1"],
            "regression": ["pearson", "spearman"], "perplexity": ["bpb", "ppl"],
            "generate": ["chrf", "bleu", "rougeL", "hangul_share"], "prompts": ["chrf", "rougeL", "hangul_share"]}


def load_data(cfg: EvalConfig, ws) -> dict:
    """The benchmark's rows for the task (read once, before any model loads: bad data fails fast)."""
    if cfg.task in ("classify", "fewshot", "regression"):
        lab = benchmarks.load_labelled(
            cfg.data, preset=cfg.benchmark, split=cfg.split, kind="score" if cfg.task == "regression" else "label",
            text_column=cfg.text_column, text_pair_column=cfg.text_pair_column, label_column=cfg.label_column,
            label_names=cfg.label_names, data_config=cfg.data_config, max_rows=cfg.max_rows, seed=cfg.seed, ws=ws)
        if cfg.task == "fewshot":
            words = cfg.label_words or lab.names
            if len(words) != len(lab.names):
                raise UserError(say("label_words has {k} words but the benchmark has {n} labels ({names}): give one "
                                    "word per label, in that order",
                                    "label_words 에 단어가 {k}개인데 벤치마크의 라벨은 {n}개 ({names}) 입니다. 라벨마다 "
                                    "하나씩 그 순서로 주세요", k=len(words), n=len(lab.names), names=", ".join(lab.names)))
            if cfg.k_shot and len(lab.shots) < cfg.k_shot:
                raise UserError(say("k_shot is {k} but only {n} rows outside the scored ones can serve as examples: "
                                    "lower k_shot or max_rows, or give a folder with a train split",
                                    "k_shot 이 {k} 인데 채점 행 밖에서 예시로 쓸 행이 {n}개뿐입니다. k_shot 이나 "
                                    "max_rows 를 줄이거나 train 분할이 있는 폴더를 주세요", k=cfg.k_shot,
                                    n=len(lab.shots)))
        return {"labelled": lab, "benchmark": cfg.benchmark if cfg.benchmark != "file"
                else (_short(cfg.data) or "bundled-sentiment"), "source": lab.source, "split": lab.split, "n": len(lab.rows)}
    if cfg.task == "perplexity":
        texts, desc = benchmarks.load_texts(cfg.data, max_rows=cfg.max_rows, ws=ws)
        return {"texts": texts, "benchmark": _short(cfg.data) or "bundled-kolaw", "source": desc, "split": "text",
                "n": len(texts)}
    prompts, desc = benchmarks.load_prompts(cfg.data, prompt_column=cfg.prompt_column,
                                            reference_column=cfg.reference_column, max_rows=cfg.max_rows,
                                            seed=cfg.seed, ws=ws)
    out = {"prompts": prompts, "benchmark": _short(cfg.data) or "bundled-instructions", "source": desc,
           "split": "prompts", "n": len(prompts)}
    if cfg.task == "prompts":
        out["templates"] = resolve_templates(ws, [t for t in cfg.templates if t.strip()])
    return out


def _short(ref: str) -> str:
    ref = (ref or "").strip()
    return f"file:{Path(ref).name}" if ref and ("/" in ref or Path(ref).suffix) else ref


# -- the tasks ---------------------------------------------------------------------------------------------------
def _classify(cfg, lm: scoring.Loaded, data: dict, progress) -> dict:
    lab = data["labelled"]
    model_names = scoring.model_labels(lm.model)
    if lm.model.config.num_labels == 1:
        raise UserError(say("model '{m}' has a one-output regression head: use the task 'regression' (KorSTS, "
                            "KLUE-STS)", "모델 '{m}' 은(는) 출력이 하나인 회귀 헤드입니다. 과제를 'regression' 으로 하세요",
                            m=lm.ref))
    to_model = scoring.label_map(model_names, lab.names, lm.ref)
    items = scoring.encode_rows(lm.tokenizer, lab.rows, cfg.max_length)
    left = (lm.meta.get("encoding") or {}).get("padding_side") == "left"
    t0 = time.perf_counter()
    probs = scoring.classify(lm.model, lm.tokenizer, items, batch_size=cfg.batch_size, left=left, progress=progress)
    secs = time.perf_counter() - t0
    # the model's probabilities in the benchmark's label order (a model label the data lacks is dropped)
    p_data = [[p[to_model[j]] for j in range(len(lab.names))] for p in probs]
    y_true = [r["label"] for r in lab.rows]
    y_pred = [max(range(len(row)), key=row.__getitem__) for row in p_data]
    p_norm = [[x / (sum(row) or 1.0) for x in row] for row in p_data]
    m = metrics.classification_metrics(y_true, y_pred, lab.names, p_norm)
    return _label_entry(lm, m, lab, y_pred, p_norm, secs)


def _label_entry(lm, m: dict, lab, y_pred, probs, secs) -> dict:
    flat = {k: m[k] for k in ("accuracy", "macro_f1", "weighted_f1", "macro_precision", "macro_recall", "log_loss")
            if k in m}
    if m.get("calibration"):
        flat["ece"] = m["calibration"]["ece"]
    preds = [{"i": i, "input": r["text"], **({"input_pair": r["text_pair"]} if "text_pair" in r else {}),
              "reference": lab.names[r["label"]], "prediction": lab.names[y], "correct": y == r["label"],
              "probs": {n: round(p, 6) for n, p in zip(lab.names, pr)}}
             for i, (r, y, pr) in enumerate(zip(lab.rows, y_pred, probs))]
    return {**_entry_head(lm), "metrics": flat, "labels": lab.names, "confusion": m["confusion"],
            "calibration": m.get("calibration"), "per_class": m["per_class"], "seconds": round(secs, 3),
            "examples_per_s": round(len(lab.rows) / max(secs, 1e-9), 2), "predictions": preds}


def _entry_head(lm) -> dict:
    return {"model": lm.label, "ref": lm.ref, "artifact_id": lm.artifact_id, "kind": lm.kind, "path": str(lm.path),
            "load_s": round(lm.seconds, 3)}


def fewshot_prompt(template: str, row: dict, shots: list[dict], words: list[str]) -> str:
    """k solved examples, then the row to score; each example is the template filled in + " " + its label word."""
    fill = lambda r: template.format(text=r["text"], text_pair=r.get("text_pair", ""))  # noqa: E731
    return "".join(f"{fill(s)} {words[s['label']]}\n\n" for s in shots) + fill(row)


def _fewshot(cfg, lm: scoring.Loaded, data: dict, progress) -> dict:
    lab = data["labelled"]
    words = cfg.label_words or lab.names
    template = cfg.fewshot_template if cfg.fewshot_template != "auto" else \
        (FEWSHOT_PAIR_TEMPLATE if lab.pairs else FEWSHOT_TEMPLATE)
    rng = random.Random(cfg.seed)
    requests, n_bytes = [], [len((" " + w).encode("utf-8")) for w in words]
    for row in lab.rows:
        shots = rng.sample(lab.shots, cfg.k_shot) if cfg.k_shot else []
        ctx = fewshot_prompt(template, row, shots, words)
        requests.extend(scoring.encode_request(lm.tokenizer, ctx, " " + w, cfg.max_length) for w in words)
    t0 = time.perf_counter()
    lls = scoring.loglikelihoods(lm.model, lm.tokenizer, requests, batch_size=cfg.batch_size,
                                 progress=lambda d, n: progress(d // len(words), len(lab.rows)))
    secs = time.perf_counter() - t0
    k = len(words)
    y_true = [r["label"] for r in lab.rows]
    y_pred, y_norm, probs = [], [], []
    for i in range(len(lab.rows)):
        row = [ll for ll, _ in lls[i * k:(i + 1) * k]]
        y_pred.append(max(range(k), key=row.__getitem__))
        y_norm.append(max(range(k), key=lambda j: row[j] / n_bytes[j]))  # lm-eval's acc_norm: per byte
        top = max(row)
        e = [math.exp(x - top) for x in row]
        probs.append([x / sum(e) for x in e])  # the label words' likelihoods, renormalised over the labels
    m = metrics.classification_metrics(y_true, y_pred, lab.names, probs)
    entry = _label_entry(lm, m, lab, y_pred, probs, secs)
    entry["metrics"]["acc_norm"] = sum(int(a == b) for a, b in zip(y_norm, y_true)) / len(y_true)
    entry["template"] = template
    return entry


def _regression(cfg, lm: scoring.Loaded, data: dict, progress) -> dict:
    lab = data["labelled"]
    if lm.model.config.num_labels != 1:
        raise UserError(say("model '{m}' is a classifier with {k} labels: similarity scores (KorSTS, KLUE-STS) need a "
                            "regression head with one output (num_labels=1)",
                            "모델 '{m}' 은(는) 라벨 {k}개의 분류기입니다. 유사도 점수 (KorSTS, KLUE-STS) 에는 출력이 하나인 "
                            "회귀 헤드 (num_labels=1) 가 필요합니다", m=lm.ref, k=lm.model.config.num_labels))
    items = scoring.encode_rows(lm.tokenizer, lab.rows, cfg.max_length)
    t0 = time.perf_counter()
    out = scoring.classify(lm.model, lm.tokenizer, items, batch_size=cfg.batch_size, progress=progress)
    secs = time.perf_counter() - t0
    y_true, y_pred = [r["score"] for r in lab.rows], [o[0] for o in out]
    m = metrics.regression_metrics(y_true, y_pred)
    preds = [{"i": i, "input": r["text"], "input_pair": r.get("text_pair"), "reference": r["score"],
              "prediction": round(p, 4), "correct": None} for i, (r, p) in enumerate(zip(lab.rows, y_pred))]
    return {**_entry_head(lm), "metrics": {k: m[k] for k in ("pearson", "spearman", "mse", "mae")},
            "seconds": round(secs, 3), "examples_per_s": round(len(lab.rows) / max(secs, 1e-9), 2),
            "predictions": preds}


def _perplexity(cfg, lm: scoring.Loaded, data: dict, progress) -> dict:
    t0 = time.perf_counter()
    max_len = min(cfg.max_length, scoring.context_of(lm.model, cfg.max_length))
    res = scoring.perplexity(lm.model, lm.tokenizer, data["texts"], max_length=max_len, batch_size=cfg.batch_size)
    secs = time.perf_counter() - t0
    progress(1, 1)
    return {**_entry_head(lm), "metrics": {"bpb": res["bpb"], "ppl": res["ppl"], "loss": res["loss"]},
            "tokens": res["tokens"], "bytes": res["bytes"], "window": max_len, "seconds": round(secs, 3),
            "examples_per_s": round(len(data["texts"]) / max(secs, 1e-9), 2), "predictions": []}


def _answers(cfg, lm: scoring.Loaded, prompts: list[str], progress, *, chat: bool) -> list[dict]:
    out = []
    for i, p in enumerate(prompts):
        ids = scoring.render_prompt(lm.tokenizer, p, chat=chat, system=cfg.system_prompt)
        out.append(scoring.generate(lm.model, lm.tokenizer, ids, max_new_tokens=cfg.max_new_tokens,
                                    temperature=cfg.temperature, top_p=cfg.top_p, seed=cfg.seed + i,
                                    max_length=cfg.max_length))
        progress(i + 1, len(prompts))
    return out


def _generation_entry(lm, label: str, rows: list[dict], answers: list[dict], shown: list[str]) -> dict:
    refs = [r.get("reference") for r in rows]
    refs = refs if all(refs) else None
    texts = [a["text"] for a in answers]
    m = metrics.generation_metrics(texts, refs)
    per = metrics.per_example_generation(texts, refs)
    secs = sum(a["seconds"] for a in answers)
    m["tokens_per_s"] = sum(a["tokens"] for a in answers) / max(secs, 1e-9)
    preds = [{"i": i, "input": r["prompt"], "prompt_text": s, "reference": r.get("reference"), "prediction": a["text"],
              "tokens": a["tokens"], "seconds": round(a["seconds"], 3), "correct": None, **pe}
             for i, (r, a, s, pe) in enumerate(zip(rows, answers, shown, per))]
    return {**_entry_head(lm), "model": label, "metrics": {k: v for k, v in m.items() if k != "n"},
            "seconds": round(secs, 3), "examples_per_s": round(len(rows) / max(secs, 1e-9), 3), "predictions": preds}


def _generate(cfg, lm: scoring.Loaded, data: dict, progress) -> list[dict]:
    chat = cfg.chat_mode == "chat" or (cfg.chat_mode == "auto" and bool(getattr(lm.tokenizer, "chat_template", None)))
    if cfg.chat_mode == "chat" and not getattr(lm.tokenizer, "chat_template", None):
        raise UserError(say("model '{m}' has no chat template: use chat_mode auto or text, or fine-tune it with SFT "
                            "first", "모델 '{m}' 에는 채팅 템플릿이 없습니다. chat_mode 를 auto 나 text 로 하거나 먼저 SFT "
                            "미세조정을 하세요", m=lm.ref))
    prompts = [r["prompt"] for r in data["prompts"]]
    answers = _answers(cfg, lm, prompts, progress, chat=chat)
    entry = _generation_entry(lm, lm.label, data["prompts"], answers, prompts)
    entry["chat_template"] = chat
    return [entry]


def _prompts(cfg, lm: scoring.Loaded, data: dict, progress) -> list[dict]:
    entries = []
    names = list(data["templates"])
    for t, name in enumerate(names):
        shown = [data["templates"][name].format(question=r["prompt"]) for r in data["prompts"]]
        answers = _answers(cfg, lm, shown, lambda d, n: progress(t * n + d, n * len(names)), chat=False)
        e = _generation_entry(lm, f"{lm.label} · {name}", data["prompts"], answers, shown)
        e["template"] = name
        entries.append(e)
    return entries


TASKS = {"classify": (_classify, scoring.CLASSIFIER), "fewshot": (_fewshot, scoring.CAUSAL),
         "regression": (_regression, scoring.CLASSIFIER), "perplexity": (_perplexity, scoring.CAUSAL),
         "generate": (_generate, scoring.CAUSAL), "prompts": (_prompts, scoring.CAUSAL)}


def _judge(cfg, ws, entries: list[dict]) -> dict:
    """Score every answer with the local judge model (loaded after the models: one model in memory at a time)."""
    jm = scoring.open_model(ws, cfg.judge_model, want=scoring.CAUSAL, what=("judge model", "심사 모델"))
    for e in entries:
        items = [{"prompt": p["input"], "answer": p["prediction"], "reference": p.get("reference")}
                 for p in e["predictions"]]
        scores = scoring.judge_scores(jm.model, jm.tokenizer, items, max_length=cfg.max_length)
        for p, s in zip(e["predictions"], scores):
            p["judge_score"] = round(s, 4)
        e["metrics"]["judge_score"] = sum(scores) / len(scores)
    return {"model": jm.label, "note": "a local model scoring each answer 1-5 (expected score under its own "
                                       "probabilities of 1..5 after a rubric prompt); not GPT-4, not a human",
            "rubric": scoring.JUDGE_RUBRIC}


# -- the run -------------------------------------------------------------------------------------------------------
def run(cfg: EvalConfig, ctx) -> dict:
    import torch

    from ..artifacts import output_name, write_meta
    from ..devices import resolve_device
    from .report import to_html, to_markdown
    ws = ctx.ws
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError(say("device 'cuda' was chosen but no GPU is visible to PyTorch: choose device auto or cpu",
                            "장치로 'cuda'를 골랐지만 PyTorch에 보이는 GPU가 없습니다. 장치를 auto 나 cpu 로 고르세요"))
    name = output_name(ws, "eval", cfg.output_name or ctx.run_id or "eval", overwrite=cfg.overwrite,
                       run_id=ctx.run_id)
    data = load_data(cfg, ws)
    fn, want = TASKS[cfg.task]
    entries: list[dict] = []
    models = [m.strip() for m in cfg.models if m.strip()]
    for ref in models:  # every model is what the task needs, before the first one spends time
        scoring.probe(ws, ref, want=want)
    use_judge = bool(cfg.judge_model.strip()) and cfg.task in GENERATING
    if use_judge:
        scoring.probe(ws, cfg.judge_model, want=scoring.CAUSAL, what=("judge model", "심사 모델"))
    for i, ref in enumerate(models):
        if ctx.should_stop:
            return {"stopped_after_models": i}
        ctx.progress(i, len(models), say("model {i}/{n}: loading {m}", "모델 {i}/{n}: {m} 불러오는 중", i=i + 1,
                                         n=len(models), m=ref))
        lm = scoring.open_model(ws, ref, want=want)
        if device == "cuda":
            lm.model.to("cuda")

        def progress(done, total, i=i, ref=ref):
            ctx.progress(i + done / max(1, total), len(models),
                         say("model {i}/{n} ({m}): {d}/{t}", "모델 {i}/{n} ({m}): {d}/{t}", i=i + 1, n=len(models),
                             m=ref, d=done, t=total))
        got = fn(cfg, lm, data, progress)
        got = got if isinstance(got, list) else [got]  # the prompts task gives one entry per template
        entries.extend(got)
        if device == "cuda":
            lm.model.to("cpu")
        ctx.metrics(i + 1, {f"eval/{k}": v for e in got
                            for k, v in e["metrics"].items() if k in HEADLINE[cfg.task] and v is not None})
    judge = None
    if use_judge:
        ctx.progress(len(models), len(models), say("judging the answers", "답변 심사 중"))
        judge = _judge(cfg, ws, entries)
    ctx.flush()
    report = {"name": name, "run_id": ctx.run_id, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "task": cfg.task, "benchmark": data["benchmark"], "source": data["source"], "split": data["split"],
              "n": data["n"], "seed": cfg.seed, "config": cfg.to_dict(), "judge": judge,
              "templates": ([{"name": k, "text": v} for k, v in data["templates"].items()]
                            if "templates" in data else None),
              "models": [{**{k: v for k, v in e.items() if k != "predictions"},
                          "samples": _samples(e["predictions"])} for e in entries]}
    staging = ws.staging_dir("eval", name)
    try:
        (staging / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str),
                                             encoding="utf-8")
        with (staging / "predictions.jsonl").open("w", encoding="utf-8") as f:
            for e in entries:
                for p in e["predictions"]:
                    f.write(json.dumps({"model": e["model"], **p}, ensure_ascii=False, default=str) + "\n")
        (staging / "report.html").write_text(to_html([report]), encoding="utf-8")
        (staging / "report.md").write_text(to_markdown([report]), encoding="utf-8")
        meta = {"stage": "eval", "task": cfg.task, "benchmark": data["benchmark"], "n": data["n"],
                "models": [{"model": e["model"], "artifact_id": e["artifact_id"], "metrics": e["metrics"]}
                           for e in entries]}
        write_meta(staging, {**meta, "kind": "eval"})
        parents = sorted({e["artifact_id"] for e in entries if e["artifact_id"] is not None})
        art_id = ctx.publish(staging, "eval", name, parents=parents, meta=meta, overwrite=cfg.overwrite)
    except BaseException:
        import shutil
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if cfg.update_model_cards:
        from .report import card_section
        for e in entries:
            if e["artifact_id"] is not None and e["kind"] in ("model", "adapter", "quantized"):
                add_to_card(Path(e["path"]), card_section(report, e["model"]))
    ctx.progress(len(models), len(models), say("done", "완료"))
    return {"artifact": art_id, "name": name, "path": str(ws.artifact_dir("eval", name)), "task": cfg.task,
            "benchmark": data["benchmark"], "n": data["n"],
            "models": [{"model": e["model"], "metrics": e["metrics"], "examples_per_s": e["examples_per_s"]}
                       for e in entries]}


def _samples(preds: list[dict]) -> list[dict]:
    keep = ("input", "input_pair", "prompt_text", "reference", "prediction", "correct", "judge_score", "probs")
    return [{k: p[k] for k in keep if k in p} for p in preds[:N_SAMPLES]]


CARD_START, CARD_END = "<!-- workbench-eval:start -->", "<!-- workbench-eval:end -->"


def add_to_card(folder: Path, section: str) -> None:
    """Put the evaluation section into a model card (README.md), replacing an earlier one."""
    p = folder / "README.md"
    text = p.read_text(encoding="utf-8") if p.is_file() else ""
    if CARD_START in text and CARD_END in text:
        a, rest = text.split(CARD_START, 1)
        text = a.rstrip() + "\n\n" + rest.split(CARD_END, 1)[1].lstrip()
    p.write_text(text.rstrip() + f"\n\n{CARD_START}\n{section.strip()}\n{CARD_END}\n", encoding="utf-8")


def read_reports(ws, refs: list[str] | None = None, *, limit: int = 20) -> list[dict]:
    """The report.json of eval artifacts (by id or name; none given: the newest `limit`), oldest first, each with
    its artifact id; an artifact whose files are gone is skipped."""
    from ..artifacts import find
    arts = [find(ws.store, ("eval",), str(r)) for r in refs] if refs else ws.store.list_artifacts(["eval"])[:limit]
    out = []
    for a in arts:
        p = Path(a.path) / "report.json" if a is not None else None
        if p is None or not p.is_file():
            continue
        try:
            rep = json.loads(p.read_text(encoding="utf-8"))
        except ValueError:
            continue
        out.append({**rep, "artifact_id": a.id})
    return sorted(out, key=lambda r: r.get("created", ""))
