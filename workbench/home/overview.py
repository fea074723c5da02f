"""The lifecycle at a glance: the stages in order, what each has produced in this workspace (artifacts by kind,
runs by status, the latest result with its key figure), and where to go next. Reads the store only (no torch)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..i18n import Text, both, say


@dataclass(frozen=True)
class StageInfo:
    key: str
    name: Text
    runs: tuple[str, ...]  # run stages counted here
    does: Text


STAGES: tuple[StageInfo, ...] = (
    StageInfo("corpus", say("Corpus", "말뭉치"), ("corpus",),
              say("load, clean, filter and deduplicate Korean text", "한국어 텍스트를 불러와 정제·필터·중복 제거")),
    StageInfo("tokenizer", say("Tokenizer", "토크나이저"), ("tokenizer", "tokenizer-compare"),
              say("train a Korean tokenizer and compare it", "한국어 토크나이저를 학습하고 비교")),
    StageInfo("arch", say("Architecture", "아키텍처"), ("arch",),
              say("measure model families side by side", "모델 계열을 나란히 측정")),
    StageInfo("pretrain", say("Pretrain", "사전학습"), ("pretrain",),
              say("train a causal LM from scratch", "인과 언어 모델을 처음부터 학습")),
    StageInfo("finetune", say("Fine-tune", "미세조정"), ("finetune",),
              say("full or PEFT fine-tuning on a task", "과제에 맞춰 전체 또는 PEFT 미세조정")),
    StageInfo("evaluate", say("Evaluate", "평가"), ("eval",),
              say("score any model on benchmarks", "모든 모델을 벤치마크로 채점")),
    StageInfo("optimize", say("Optimize", "최적화"), ("optimize",),
              say("quantize and measure before and after", "양자화하고 전후를 측정")),
    StageInfo("align", say("Align", "정렬"), ("align",),
              say("DPO/KTO on preference pairs", "선호 쌍으로 DPO/KTO")),
    StageInfo("chat", say("Chat", "채팅"), ("chat",),
              say("talk to any model made here", "여기서 만든 모델과 대화")),
    StageInfo("pipeline", say("Pipeline", "파이프라인"), ("pipeline",),
              say("the whole chain in one go, lineage, export", "전체 과정을 한 번에, 계보, 내보내기")),
)
BY_KEY = {s.key: s for s in STAGES}
_BY_RUN_STAGE = {r: s.key for s in STAGES for r in s.runs}
# a `model`/`adapter` artifact belongs to the stage its meta names (pretrain, finetune, align, optimize, ...)
_META_STAGE = {"pretrain": "pretrain", "finetune": "finetune", "finetune-merge": "finetune", "align": "align",
               "optimize": "optimize", "eval": "evaluate", "corpus": "corpus", "tokenizer": "tokenizer",
               "arch": "arch"}
_KIND_STAGE = {"corpus": "corpus", "tokenizer": "tokenizer", "arch": "arch", "eval": "evaluate",
               "dataset": "align", "model": "pretrain", "adapter": "finetune"}


def stage_of(art, run_stage: dict[str, str]) -> str | None:
    """Which lifecycle stage made an artifact: its meta's stage, else its run's stage, else its kind's."""
    meta_stage = (art.meta or {}).get("stage")
    if meta_stage in _META_STAGE:
        return _META_STAGE[meta_stage]
    if art.run and art.run in run_stage and run_stage[art.run] in _BY_RUN_STAGE:
        return _BY_RUN_STAGE[run_stage[art.run]]
    return _KIND_STAGE.get(art.kind)


def _num(v) -> str | None:
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and math.isnan(v)):
        return None
    return f"{v:,}" if isinstance(v, int) else f"{v:,.4g}"


def _fig(label: Text, value) -> dict | None:
    shown = _num(value)
    return None if shown is None else {"label": both(label), "value": value, "shown": shown}


def key_figure(stage: str, art, summary: dict | None) -> dict | None:
    """The one figure that says how an artifact came out: {"label": {"en","ko"}, "value", "shown"} or None."""
    meta, summary = art.meta or {}, summary or {}
    if not meta:  # published without store meta: the folder's workbench.json says the same
        from ..artifacts import read_meta
        try:
            meta = read_meta(art.path)
        except (OSError, ValueError):
            meta = {}
    m = meta.get("metrics") or {}
    if stage == "corpus":
        return _fig(say("documents", "문서 수"), meta.get("docs_out", meta.get("docs")))
    if stage == "tokenizer":
        f = (meta.get("heldout") or {}).get("fertility", summary.get("heldout_fertility"))
        return _fig(say("tokens per word (held out)", "단어당 토큰 (검증)"), f) or \
            _fig(say("vocabulary", "어휘 수"), meta.get("vocab_size"))
    if stage == "arch":
        p = meta.get("params")
        p = p.get("total") if isinstance(p, dict) else p
        return _fig(say("parameters", "파라미터"), p)
    if stage == "pretrain":
        return _fig(say("val bits per byte", "검증 바이트당 비트"), m.get("val/bpb")) or \
            _fig(say("val loss", "검증 손실"), m.get("val/loss"))
    if stage == "finetune":
        for k, label in (("test/accuracy", say("test accuracy", "테스트 정확도")),
                         ("test/pearson", say("test Pearson r", "테스트 피어슨 r")),
                         ("test/bpb", say("test bits per byte", "테스트 바이트당 비트")),
                         ("val/accuracy", say("val accuracy", "검증 정확도")),
                         ("test/loss", say("test loss", "테스트 손실")), ("val/loss", say("val loss", "검증 손실"))):
            if k in m:
                return _fig(label, m[k])
        return None
    if stage == "evaluate":
        from ..evaluate.report import ALL_HEADLINES, HEADLINE
        models = meta.get("models") or []
        if not models:
            return None
        mm = models[0].get("metrics") or {}
        for k in HEADLINE.get(meta.get("task"), ALL_HEADLINES):
            if mm.get(k) is not None:
                return _fig(say("{k} of {model}", "{model}의 {k}", k=k, model=str(models[0].get("model"))), mm[k])
        return None
    if stage == "align":
        for k, label in (("test/reward_accuracy", say("held-out reward accuracy", "검증 보상 정확도")),
                         ("val/rewards/accuracies", say("val reward accuracy", "검증 보상 정확도")),
                         ("val/loss", say("val loss", "검증 손실"))):
            if k in m:
                return _fig(label, m[k])
        return None
    if stage == "optimize":
        if summary.get("speedup_decode") is not None:
            return _fig(say("decode speed-up", "디코딩 속도 향상"), summary["speedup_decode"])
        return _fig(say("size ratio", "크기 비율"), summary.get("size_ratio"))
    return None


def _run_counts(runs) -> dict:
    out: dict[str, int] = {}
    for r in runs:
        out[r.status] = out.get(r.status, 0) + 1
    return out


def overview(ws) -> dict:
    """{"stages": [...], "next": {"stage", "text": {"en","ko"}}, "fresh": bool, "artifacts": n, "runs": n}."""
    store = ws.store
    runs = store.list_runs(limit=100_000)
    run_stage = {r.id: r.stage for r in runs}
    run_by_id = {r.id: r for r in runs}
    arts = store.list_artifacts()  # newest first
    per: dict[str, list] = {s.key: [] for s in STAGES}
    for a in arts:
        st = stage_of(a, run_stage)
        if st in per:
            per[st].append(a)
    chat_models = [a for a in arts if a.kind in ("model", "adapter") and
                   (a.meta or {}).get("task") in (None, "causal-lm", "sft", "chat")]
    rows = []
    for s in STAGES:
        stage_runs = [r for r in runs if r.stage in s.runs]
        kinds: dict[str, int] = {}
        for a in per[s.key]:
            kinds[a.kind] = kinds.get(a.kind, 0) + 1
        latest = None
        if per[s.key]:
            a = per[s.key][0]
            run = run_by_id.get(a.run) if a.run else None
            latest = {"id": a.id, "kind": a.kind, "name": a.name, "created": a.created,
                      "figure": key_figure(s.key, a, run.summary if run else None)}
        last_run = stage_runs[0] if stage_runs else None
        row = {"stage": s.key, "name": both(s.name), "does": both(s.does), "artifacts": kinds,
               "artifact_count": len(per[s.key]), "runs": _run_counts(stage_runs), "run_count": len(stage_runs),
               "latest": latest,
               "last_run": {"id": last_run.id, "status": last_run.status, "created": last_run.created}
               if last_run else None}
        if s.key == "chat":
            row["models_ready"] = len(chat_models)
        if s.key == "pipeline" and last_run is not None:
            # a pipeline's artifacts are counted under the stages that made them: say what its last run chained
            steps = (last_run.summary or {}).get("steps") or []
            made = [st["artifact"] for st in steps if st.get("status") == "succeeded" and st.get("artifact")]
            if steps:  # the run itself is row["last_run"]
                row["chain"] = {"steps": len(steps), "succeeded": sum(st.get("status") == "succeeded" for st in steps),
                                "last": made[-1] if made else None}
        rows.append(row)
    nxt = next_step({r["stage"]: r for r in rows})
    return {"stages": rows, "next": nxt, "fresh": not arts and not [r for r in runs if r.stage != "env"],
            "artifacts": len(arts), "runs": len(runs)}


def next_step(rows: dict[str, dict]) -> dict:
    """Where to go next: the first step of the lifecycle that has produced nothing yet."""
    def has(k):
        return rows[k]["artifact_count"] > 0

    def out(stage, text):
        return {"stage": stage, "text": both(text)}

    if not has("corpus"):
        return out("corpus", say(
            "Start here: open the Corpus tab and click 'Load the bundled corpus' (the Korean constitution and 10 bills), "
            "then run the recipe and save the result as a corpus.",
            "여기서 시작하세요: 말뭉치 탭을 열고 '기본 말뭉치 불러오기'(대한민국헌법 + 국회 의안 10건)를 누른 뒤, "
            "레시피를 실행하고 결과를 말뭉치로 저장하세요."))
    if not has("tokenizer"):
        return out("tokenizer", say("Next: train a tokenizer on your corpus in the Tokenizer tab.",
                                    "다음: 토크나이저 탭에서 말뭉치로 토크나이저를 학습하세요."))
    if not has("pretrain"):
        return out("pretrain", say(
            "Next: pretrain a small model in the Pretrain tab (the Architecture tab first, if you want to compare "
            "model families).",
            "다음: 사전학습 탭에서 작은 모델을 학습하세요 (모델 계열을 비교하려면 아키텍처 탭을 먼저)."))
    if not has("finetune"):
        return out("finetune", say(
            "Next: talk to your model in the Chat tab, then fine-tune it on a Korean task in the Fine-tune tab.",
            "다음: 채팅 탭에서 모델과 대화해 보고, 미세조정 탭에서 한국어 과제로 미세조정하세요."))
    if not has("evaluate"):
        return out("evaluate", say("Next: score your models side by side in the Evaluate tab.",
                                   "다음: 평가 탭에서 모델들을 나란히 채점하세요."))
    if not has("optimize"):
        return out("optimize", say("Next: quantize a model and measure it before and after in the Optimize tab.",
                                   "다음: 최적화 탭에서 모델을 양자화하고 전후를 측정하세요."))
    if not has("align"):
        return out("align", say("Next: align a model on preference pairs in the Align tab.",
                                "다음: 정렬 탭에서 선호 쌍으로 모델을 정렬하세요."))
    return out("pipeline", say(
        "Every stage has produced something. Chat with your models, or run the whole chain in one go in the Pipeline "
        "tab.", "모든 단계가 산출물을 냈습니다. 모델과 대화하거나, 파이프라인 탭에서 전체 과정을 한 번에 실행해 보세요."))
