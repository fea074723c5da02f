"""Evaluate stage: the config (one source for form, CLI and validation), its checks, and STAGE.

One run scores one or more models on one benchmark and saves an `eval` artifact (report.json with every figure,
predictions.jsonl, report.html and report.md). Tasks:
- classify: classifiers on labelled data (accuracy, macro/weighted F1, per class, confusion, calibration)
- fewshot: causal LMs on the same labelled data, each label's words scored by log-likelihood after k examples
- regression: similarity scores (KorSTS / KLUE-STS) from a one-output regression head (Pearson, Spearman)
- perplexity: loss, perplexity and bits per byte on held-out text
- generate: answers to a prompt set (BLEU, chrF, ROUGE against references; distinct-n, repetition, Hangul share)
- prompts: the prompt lab's batch mode, templates x prompts, scored like generate
Importing this module imports no torch or transformers."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import StageConfig, param
from ..devices import resolve_device
from ..i18n import say
from ..stages import Stage
from .benchmarks import PRESETS
from .prompts import SEED_THREE

TASKS = ["classify", "fewshot", "regression", "perplexity", "generate", "prompts"]
LABELLED = {"classify", "fewshot", "regression"}
GENERATING = {"generate", "prompts"}


@dataclass
class EvalConfig(StageConfig):
    models: list[str] = param([], ko="모델", en="Models",
                              help_ko="평가할 모델/어댑터 산출물 (이름이나 번호) 또는 모델 폴더, 여러 개 가능",
                              help_en="model or adapter artifacts (name or id) or model folders; one or several")
    task: str = param("classify", ko="평가", en="Evaluation", choices=TASKS,
                      help_ko="classify: 분류기 정확도 · fewshot: 언어 모델의 라벨 로그우도 · regression: 유사도 점수 · "
                              "perplexity: 퍼플렉서티/바이트당 비트 · generate: 답변 생성 지표 · prompts: 템플릿 x 프롬프트",
                      help_en="classify: classifier accuracy · fewshot: a causal LM's label log-likelihoods · "
                              "regression: similarity scores · perplexity: perplexity / bits per byte · generate: "
                              "answer metrics · prompts: templates x prompts")
    benchmark: str = param("file", ko="벤치마크", en="Benchmark", choices=list(PRESETS),
                           visible_when=("task", LABELLED),
                           help_ko="nsmc, kornli, klue-nli, korsts, klue-sts: 열과 라벨을 그 형식대로 · file: 아무 라벨 파일",
                           help_en="nsmc, kornli, klue-nli, korsts, klue-sts: their columns and labels · file: any "
                                   "labelled file")
    data: str = param("", ko="데이터", en="Data",
                      help_ko="파일, 분할 파일 폴더, Hugging Face 데이터셋 이름, (perplexity) 말뭉치 산출물. 비우면: 벤치마크의 "
                              "Hub 데이터셋, 또는 함께 든 팀 작성 예제",
                      help_en="a file, a folder of split files, a Hugging Face dataset name, (perplexity) a corpus "
                              "artifact. Empty: the benchmark's Hub dataset, or the bundled team-written sample")
    data_config: str = param("", ko="데이터셋 구성", en="Dataset config (Hugging Face)", advanced=True)
    split: str = param("auto", ko="분할", en="Split", choices=["auto", "test", "validation", "train"],
                       visible_when=("task", LABELLED), help_ko="auto: test, 없으면 validation",
                       help_en="auto: test, else validation")
    max_rows: int = param(500, ko="행 상한 (0=전부)", en="Rows cap (0 = all)", min=0,
                          help_ko="넘으면 시드로 무작위 표본", help_en="a seeded random sample when there are more")
    text_column: str = param("auto", ko="텍스트 열", en="Text column", visible_when=("task", LABELLED))
    text_pair_column: str = param("auto", ko="두 번째 텍스트 열", en="Second text column",
                                  visible_when=("task", LABELLED), help_ko="비우면 단일 문장",
                                  help_en="empty: single texts")
    label_column: str = param("auto", ko="라벨 열", en="Label / score column", visible_when=("task", LABELLED))
    label_names: list[str] = param([], ko="라벨 이름 (선택)", en="Label names (optional)",
                                   visible_when=("task", {"classify", "fewshot"}),
                                   help_ko="정수 라벨 0,1,... 의 이름", help_en="names of integer labels 0,1,...")
    # few-shot
    k_shot: int = param(0, ko="예시 수 k", en="In-context examples k", min=0, max=64,
                        visible_when=("task", {"fewshot"}),
                        help_ko="다른 분할(train)에서 시드로 뽑음", help_en="drawn with the seed from another split "
                                                                         "(train)")
    label_words: list[str] = param([], ko="라벨 단어", en="Label words", visible_when=("task", {"fewshot"}),
                                   help_ko="라벨마다 이어질 말 (비우면 라벨 이름)", help_en="the words scored for each "
                                                                                  "label (empty: the label names)")
    fewshot_template: str = param("auto", ko="few-shot 템플릿", en="Few-shot template", multiline=True,
                                  visible_when=("task", {"fewshot"}),
                                  help_ko="{text} (와 {text_pair}) 자리, 뒤에 라벨 단어가 붙음 · auto: 기본 한국어 템플릿",
                                  help_en="with {text} (and {text_pair}); the label word follows · auto: a plain "
                                          "Korean template")
    # generation
    prompt_column: str = param("auto", ko="프롬프트 열", en="Prompt column", visible_when=("task", GENERATING))
    reference_column: str = param("auto", ko="참고 답 열", en="Reference column", visible_when=("task", GENERATING),
                                  help_ko="비우면 참고 답 없이 (BLEU/ROUGE 없음)", help_en="empty: no references "
                                                                                    "(no BLEU/ROUGE)")
    templates: list[str] = param(list(SEED_THREE), ko="프롬프트 템플릿", en="Prompt templates",
                                 visible_when=("task", {"prompts"}),
                                 help_ko="템플릿 보관함의 이름 ({question} 자리)", help_en="names from the template "
                                                                                  "library ({question} placeholder)")
    chat_mode: str = param("auto", ko="채팅 템플릿", en="Chat template", choices=["auto", "chat", "text"],
                           visible_when=("task", {"generate"}),
                           help_ko="auto: 토크나이저에 있으면 씀 · text: 프롬프트 그대로",
                           help_en="auto: the tokenizer's when it has one · text: the prompt as it is")
    system_prompt: str = param("", ko="시스템 프롬프트", en="System prompt", visible_when=("task", {"generate"}),
                               advanced=True)
    max_new_tokens: int = param(64, ko="최대 생성 토큰", en="Max new tokens", min=1, max=8192,
                                visible_when=("task", GENERATING))
    temperature: float = param(0.0, ko="온도 (0=탐욕)", en="Temperature (0 = greedy)", min=0.0, max=5.0,
                               visible_when=("task", GENERATING))
    top_p: float = param(1.0, ko="top-p", en="top-p", min=0.01, max=1.0, visible_when=("task", GENERATING))
    judge_model: str = param("", ko="심사 모델 (선택)", en="Judge model (optional)", visible_when=("task", GENERATING),
                             help_ko="답변을 1~5점으로 매길 로컬 모델 (GPT-4 심사의 오프라인 대안)",
                             help_en="a local model that scores answers 1-5 with a rubric (the offline stand-in for a "
                                     "GPT-4 judge)")
    # shared
    max_length: int = param(256, ko="최대 토큰 길이", en="Max tokens per input", min=8, max=131072)
    batch_size: int = param(16, ko="배치 크기", en="Batch size", min=1, max=4096)
    seed: int = param(13, ko="시드", en="Seed (samples, shots, sampling)", min=0)
    output_name: str = param("", ko="결과 이름", en="Output name", help_ko="eval 산출물 이름 (비우면 실행 번호)",
                             help_en="name of the eval artifact (empty: the run id)")
    overwrite: bool = param(False, ko="같은 이름 덮어쓰기", en="Overwrite an artifact of the same name")
    update_model_cards: bool = param(False, ko="모델 카드에 결과 추가", en="Add the figures to the models' cards",
                                     help_ko="평가한 모델 산출물의 README.md 에 결과 절을 씀",
                                     help_en="writes an evaluation section into each evaluated artifact's README.md")
    device: str = param("auto", ko="장치", en="Device", choices=["auto", "cpu", "cuda"])
    threads: int = param(0, ko="CPU 스레드 (0=전부)", en="CPU threads (0 = all cores)", min=0, advanced=True)

    def check(self) -> list[tuple[str, str]]:
        errors = []
        models = [m for m in self.models if m.strip()]
        if not models:
            errors.append(("models", say("no model chosen: pick one or more model or adapter artifacts, or give a "
                                         "model folder", "모델을 고르지 않았습니다. 모델/어댑터 산출물을 하나 이상 고르거나 "
                                         "모델 폴더를 주세요")))
        if len(set(models)) != len(models):
            errors.append(("models", say("a model is listed twice", "같은 모델이 두 번 있습니다")))
        spec = PRESETS.get(self.benchmark, {})
        if self.task in ("classify", "fewshot") and spec.get("kind") == "score":
            errors.append(("benchmark", say("{b} holds similarity scores, not classes: use the task 'regression'",
                                            "{b} 은(는) 클래스가 아니라 유사도 점수입니다. 과제를 'regression' 으로 하세요",
                                            b=self.benchmark)))
        if self.task == "regression" and spec.get("kind") == "label":
            errors.append(("benchmark", say("{b} holds classes, not scores: use the task 'classify' or 'fewshot'",
                                            "{b} 은(는) 점수가 아니라 클래스입니다. 과제를 'classify' 나 'fewshot' 으로 "
                                            "하세요", b=self.benchmark)))
        if self.task == "prompts" and not [t for t in self.templates if t.strip()]:
            errors.append(("templates", say("pick at least one prompt template", "프롬프트 템플릿을 하나 이상 고르세요")))
        if self.task == "fewshot" and self.fewshot_template != "auto" and "{text}" not in self.fewshot_template:
            errors.append(("fewshot_template", say("the template needs a {{text}} placeholder (and {{text_pair}} for "
                                                   "pairs)", "템플릿에 {{text}} 자리가 필요합니다 (문장 쌍은 {{text_pair}} "
                                                   "도)")))
        if self.max_new_tokens >= self.max_length and self.task in GENERATING:
            errors.append(("max_new_tokens", say("max_new_tokens ({n}) must be below max_length ({m}): the prompt "
                                                 "needs room", "최대 생성 토큰({n})은 최대 토큰 길이({m})보다 작아야 "
                                                 "합니다", n=self.max_new_tokens, m=self.max_length)))
        return errors


def _precheck(cfg: EvalConfig, ws) -> None:
    """Before a run is queued: every model (and the judge) exists, and the output name is free."""
    from ..artifacts import output_name
    from ..chat.models import resolve
    for m in cfg.models:
        resolve(ws, m)
    if cfg.judge_model.strip() and cfg.task in GENERATING:
        resolve(ws, cfg.judge_model)
    if cfg.output_name:
        output_name(ws, "eval", cfg.output_name, overwrite=cfg.overwrite, stage="eval")


def _run(cfg, ctx):
    from .run import run
    return run(cfg, ctx)


STAGE = Stage(name="eval", config=EvalConfig, run=_run, device=lambda cfg: resolve_device(cfg.device),
              precheck=_precheck,
              help="Evaluate models on Korean benchmarks (classification, few-shot log-likelihood, similarity, "
                   "perplexity / bits per byte, generation metrics, prompt templates) into an eval artifact.")
