"""Fine-tune stage: the config (single source of truth for form, CLI and validation), its checks, and STAGE.

A model the project pretrained (a `model` artifact), any Hugging Face causal-LM folder or a Hub name is
specialised for a task: `classification` (a single text, NSMC-style, or a sentence pair, KorNLI-style) or `sft`
(instruction -> response pairs or chat `messages`, the loss on the answer tokens only), with full fine-tuning or
a PEFT method. Importing this module imports no torch, transformers or peft."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import param
from ..i18n import say
from ..stages import Stage
from ..training.arguments import SCHEDULES
from ..training.settings import ComputeSettings
from .methods import LORA_LIKE, NAMED_METHODS, advanced_types, wavelet_families

TASKS = ["classification", "sft"]
MONITORS = ["auto", "loss", "accuracy", "macro_f1"]
PEFT_TYPES = advanced_types()
WAVELETS = wavelet_families()
PEFT_METHODS = set(NAMED_METHODS) - {"full", "advanced"}
ADAPTER_METHODS = set(NAMED_METHODS) - {"full"}


@dataclass
class FinetuneConfig(ComputeSettings):
    # -- what is tuned, on what ----------------------------------------------------------------------------
    base_model: str = param("", ko="기본 모델", en="Base model",
                            help_ko="모델 산출물 이름/번호, Hugging Face 모델 폴더 경로, 또는 Hub 이름 (예: org/model)",
                            help_en="model artifact name/id, a Hugging Face model folder, or a Hub name (org/model)")
    task: str = param("classification", ko="과제", en="Task", choices=TASKS,
                      help_ko="classification: 문장(쌍) 분류 · sft: 지시문→응답 (답변 토큰만 손실)",
                      help_en="classification: label a text (or a pair) · sft: instruction -> response "
                              "(loss on the answer only)")
    data: str = param("", ko="데이터", en="Data",
                      help_ko="TSV/CSV/JSONL/JSON/parquet 파일, train/validation/test 파일 폴더, 데이터 산출물, 또는 "
                              "Hugging Face 데이터셋 이름 (비우면 함께 든 팀 작성 예제)",
                      help_en="a TSV/CSV/JSONL/JSON/parquet file, a folder of train/validation/test files, a dataset "
                              "artifact, or a Hugging Face dataset name (empty: the bundled team-written sample)")
    data_config: str = param("", ko="데이터셋 구성", en="Dataset config (Hugging Face)", advanced=True,
                             help_ko="예: klue 의 nli", help_en="e.g. 'nli' for klue")
    validation_data: str = param("", ko="검증 파일 (선택)", en="Validation file (optional)",
                                 help_ko="비우면 학습 데이터에서 떼어 냅니다", help_en="empty: held out of the training data")
    test_data: str = param("", ko="시험 파일 (선택)", en="Test file (optional)",
                           help_ko="비우면 학습 데이터에서 떼어 냅니다. 시험 데이터로는 학습하지 않습니다",
                           help_en="empty: held out of the training data; never trained on")
    val_fraction: float = param(0.1, ko="검증 비율", en="Validation fraction (when no validation file)", min=0.0,
                                max=0.5)
    test_fraction: float = param(0.1, ko="시험 비율", en="Test fraction (when no test file)", min=0.0, max=0.5)
    max_rows: int = param(0, ko="학습 행 상한 (0=전부)", en="Training rows cap (0 = all)", min=0)
    max_eval_rows: int = param(2000, ko="검증·시험 행 상한 (0=전부)", en="Validation/test rows cap (0 = all)", min=0)
    # columns
    text_column: str = param("auto", ko="텍스트 열", en="Text column", visible_when=("task", "classification"),
                             help_ko="auto: text/document/sentence1 ... 에서 찾음", help_en="auto: text, document, "
                                                                                           "sentence1, ...")
    text_pair_column: str = param("auto", ko="두 번째 텍스트 열 (문장 쌍)", en="Second text column (pairs)",
                                  visible_when=("task", "classification"),
                                  help_ko="auto: sentence2/hypothesis 가 있으면 씀 · 비우면 단일 문장",
                                  help_en="auto: sentence2 / hypothesis when present · empty: single texts")
    label_column: str = param("auto", ko="라벨 열", en="Label column", visible_when=("task", "classification"),
                              help_ko="auto: label/gold_label ...", help_en="auto: label, gold_label, ...")
    label_names: list[str] = param([], ko="라벨 이름 (선택)", en="Label names (optional)",
                                   visible_when=("task", "classification"),
                                   help_ko="정수 라벨 0,1,... 의 이름 (예: 부정,긍정), 또는 이름 라벨의 순서",
                                   help_en="names of integer labels 0,1,... (e.g. negative,positive), or the order of "
                                           "named labels")
    prompt_column: str = param("auto", ko="지시문 열", en="Instruction column", visible_when=("task", "sft"),
                               help_ko="auto: instruction/prompt/question/Q", help_en="auto: instruction, prompt, "
                                                                                      "question, Q")
    response_column: str = param("auto", ko="응답 열", en="Response column", visible_when=("task", "sft"),
                                 help_ko="auto: output/response/answer/A", help_en="auto: output, response, answer, A")
    messages_column: str = param("auto", ko="대화 열", en="Chat messages column", visible_when=("task", "sft"),
                                 help_ko="auto: messages 열이 있으면 그 대화 ([{role, content}]) 를 씀",
                                 help_en="auto: a 'messages' column ([{role, content}]) when present")
    system_prompt: str = param("", ko="시스템 프롬프트 (선택)", en="System prompt (optional)",
                               visible_when=("task", "sft"), advanced=True)
    chat_template: str = param("auto", ko="채팅 템플릿", en="Chat template", visible_when=("task", "sft"),
                               advanced=True, multiline=True,
                               help_ko="auto: 토크나이저의 템플릿, 없으면 기본 '### 질문/### 답변' 템플릿 · 또는 Jinja 템플릿",
                               help_en="auto: the tokenizer's own, else a plain '### 질문/### 답변' template · or a "
                                       "Jinja template")
    max_length: int = param(128, ko="최대 토큰 길이", en="Max tokens per example", min=8, max=131072)
    # -- method ---------------------------------------------------------------------------------------------
    method: str = param("lora", ko="방법", en="Method", choices=NAMED_METHODS,
                        help_ko="full: 모든 가중치 · lora · dora · waveft · qlora (4비트) · lora8bit · advanced: peft 의 "
                                "다른 방법",
                        help_en="full: every weight · lora · dora · waveft · qlora (4-bit base) · lora8bit · advanced: "
                                "another peft method")
    peft_type: str = param("LORA", ko="PEFT 방법 (고급)", en="PEFT type (advanced)", choices=PEFT_TYPES or None,
                           visible_when=("method", "advanced"),
                           help_ko="설치된 peft 의 PeftType: 기본값 + 대상 층으로 만듭니다",
                           help_en="a PeftType of the installed peft: built with its defaults plus the target modules")
    peft_options: dict = param({}, ko="PEFT 추가 설정 (JSON)", en="Extra PEFT config fields (JSON)", advanced=True,
                               visible_when=("method", ADAPTER_METHODS),
                               help_ko='방법의 설정 클래스에 그대로 전달 (예: {"num_virtual_tokens": 8})',
                               help_en='passed to the method\'s config class (e.g. {"num_virtual_tokens": 8})')
    target_modules: list[str] = param(["all-linear"], ko="대상 층", en="Target modules",
                                      visible_when=("method", ADAPTER_METHODS),
                                      help_ko="all-linear, 묶음 (attention, mlp, experts), 또는 층 이름 (q_proj, v_proj)",
                                      help_en="all-linear, a group (attention, mlp, experts) or layer names "
                                              "(q_proj, v_proj)")
    lora_rank: int = param(8, ko="LoRA 랭크 r", en="LoRA rank r", min=1, max=4096, visible_when=("method", LORA_LIKE))
    lora_alpha: float = param(16.0, ko="LoRA alpha", en="LoRA alpha", min=0.0, visible_when=("method", LORA_LIKE))
    lora_dropout: float = param(0.05, ko="LoRA 드롭아웃", en="LoRA dropout", min=0.0, max=0.9,
                                visible_when=("method", LORA_LIKE))
    waveft_n_frequency: int = param(256, ko="WaveFT 계수 수", en="WaveFT n_frequency (learnable coefficients per layer)",
                                    min=1, visible_when=("method", {"waveft"}),
                                    help_ko="대상 층마다 입력 x 출력 이하", help_en="<= d_in x d_out of every targeted layer")
    waveft_scaling: float = param(25.0, ko="WaveFT 배율", en="WaveFT scaling", min=0.0,
                                  visible_when=("method", {"waveft"}))
    waveft_wavelet_family: str = param("db1", ko="WaveFT 웨이블릿", en="WaveFT wavelet family", choices=WAVELETS,
                                       visible_when=("method", {"waveft"}))
    quant_type: str = param("nf4", ko="4비트 형식", en="4-bit type", choices=["nf4", "fp4"],
                            visible_when=("method", {"qlora"}))
    double_quant: bool = param(True, ko="이중 양자화", en="Double quantization", visible_when=("method", {"qlora"}),
                               advanced=True)
    gradient_checkpointing: bool = param(False, ko="그래디언트 체크포인팅", en="Gradient checkpointing", advanced=True,
                                         help_ko="메모리를 아끼고 시간을 더 씀", help_en="less memory, more time")
    # -- training ----------------------------------------------------------------------------------------------
    output_name: str = param("", ko="결과 이름", en="Output name",
                             help_ko="저장할 어댑터/모델 산출물 이름 (비우면 실행 번호)",
                             help_en="name of the adapter/model artifact to save (empty: the run id)")
    overwrite: bool = param(False, ko="같은 이름 덮어쓰기", en="Overwrite an artifact of the same name")
    batch_size: int = param(16, ko="배치 크기", en="Batch size (per device)", min=1, max=4096)
    grad_accum: int = param(1, ko="그래디언트 누적", en="Gradient accumulation steps", min=1, max=1024)
    max_steps: int = param(200, ko="최대 스텝", en="Max optimizer steps", min=1, max=10_000_000)
    epochs: float = param(0.0, ko="에폭 (0=최대 스텝 사용)", en="Epochs (0 = use max_steps)", min=0.0, max=1000.0,
                          help_ko="0보다 크면 스텝 수 = 에폭 x 학습 행 / 실효 배치",
                          help_en="> 0: steps = epochs x training rows / effective batch")
    max_minutes: float = param(0.0, ko="시간 제한(분, 0=없음)", en="Time budget in minutes (0 = none)", min=0.0)
    lr: float = param(2e-4, ko="학습률", en="Learning rate", min=0.0, max=10.0, above=0.0,
                      help_ko="PEFT 는 1e-4~1e-3, 전체 미세조정은 1e-5~1e-4 가 흔함",
                      help_en="PEFT: often 1e-4..1e-3; full fine-tuning: 1e-5..1e-4")
    schedule: str = param("cosine", ko="학습률 일정", en="LR schedule", choices=SCHEDULES)
    min_lr_ratio: float = param(0.1, ko="최소 학습률 비율", en="Final LR as a fraction of the peak", min=0.0, max=1.0,
                                advanced=True)
    decay_fraction: float = param(0.2, ko="WSD 감쇠 비율", en="WSD: fraction of steps spent decaying", min=0.0,
                                  max=1.0, advanced=True)
    warmup_steps: int = param(10, ko="워밍업 스텝", en="Warmup steps", min=0)
    weight_decay: float = param(0.0, ko="가중치 감쇠", en="Weight decay", min=0.0, max=1.0)
    grad_clip: float = param(1.0, ko="그래디언트 클리핑", en="Gradient clipping (max norm, 0 = off)", min=0.0)
    seed: int = param(42, ko="시드", en="Seed (splits, initialisation, data order)", min=0)
    eval_every: int = param(50, ko="검증 주기(스텝)", en="Evaluate every N steps", min=1)
    early_stopping: int = param(0, ko="조기 종료 인내(검증 횟수, 0=끔)",
                                en="Early stopping patience in evaluations (0 = off)", min=0)
    monitor: str = param("auto", ko="조기 종료 기준", en="Early stopping watches", choices=MONITORS,
                         help_ko="auto: 분류는 정확도(높을수록 좋음), sft 는 검증 손실",
                         help_en="auto: accuracy for classification (higher is better), validation loss for sft")
    save_every: int = param(100, ko="체크포인트 주기", en="Checkpoint every N steps", min=1)
    sample_every: int = param(0, ko="샘플 생성 주기 (sft)", en="Generate sample answers every N steps (sft; 0 = never)",
                              min=0, visible_when=("task", "sft"))
    sample_tokens: int = param(48, ko="샘플 길이(토큰)", en="Sample answer length (tokens)", min=1, max=1024,
                               visible_when=("task", "sft"))

    def check(self) -> list[tuple[str, str]]:
        errors = super().check()
        if not self.base_model.strip():
            errors.append(("base_model", say("not chosen: pick a model artifact (Pretrain tab) by name or id, or give a "
                                             "Hugging Face model folder or Hub name",
                                             "고르지 않았습니다: 모델 산출물 (사전학습 탭) 을 이름이나 번호로 고르거나 "
                                             "Hugging Face 모델 폴더나 Hub 이름을 쓰세요")))
        if self.warmup_steps >= self.max_steps and not self.epochs:
            errors.append(("warmup_steps", say("warmup ({w}) must be shorter than max_steps ({m})",
                                               "워밍업({w})은 최대 스텝({m})보다 짧아야 합니다",
                                               w=self.warmup_steps, m=self.max_steps)))
        if self.val_fraction + self.test_fraction >= 0.9:
            errors.append(("val_fraction", say("validation + test fractions ({v} + {t}) leave too little to train on: "
                                               "keep their sum below 0.9",
                                               "검증 + 시험 비율 ({v} + {t}) 이 너무 커서 학습할 데이터가 모자랍니다. 합을 "
                                               "0.9 미만으로 하세요", v=self.val_fraction, t=self.test_fraction)))
        if self.method == "advanced" and PEFT_TYPES and self.peft_type not in PEFT_TYPES:
            errors.append(("peft_type", say("{t} is not a PeftType of the installed peft", "{t} 은(는) 설치된 peft 의 "
                                            "PeftType 이 아닙니다", t=self.peft_type)))
        if self.method == "full" and self.peft_options:
            errors.append(("peft_options", say("full fine-tuning uses no PEFT config: clear peft_options",
                                               "전체 미세조정에는 PEFT 설정이 없습니다. peft_options 를 비우세요")))
        if self.task == "sft" and self.monitor in ("accuracy", "macro_f1"):
            errors.append(("monitor", say("{m} is a classification figure; sft is watched by its validation loss",
                                          "{m} 은(는) 분류 지표입니다. sft 는 검증 손실로 봅니다", m=self.monitor)))
        if self.method == "waveft" and self.waveft_n_frequency < 1:
            errors.append(("waveft_n_frequency", say("must be at least 1", "1 이상이어야 합니다")))
        if self.early_stopping and self.val_fraction == 0 and not self.validation_data:
            errors.append(("early_stopping", say("early stopping needs a validation split: set val_fraction > 0 or give "
                                                 "validation_data",
                                                 "조기 종료에는 검증 분할이 필요합니다. val_fraction 을 0보다 크게 하거나 "
                                                 "validation_data 를 주세요")))
        return errors

    @property
    def monitor_key(self) -> tuple[str, bool]:
        """(metric, higher_is_better) that early stopping watches."""
        m = self.monitor if self.monitor != "auto" else ("accuracy" if self.task == "classification" else "loss")
        return {"loss": ("val/loss", False), "accuracy": ("val/accuracy", True),
                "macro_f1": ("val/macro_f1", True)}[m]

    @property
    def output_kind(self) -> str:
        return "model" if self.method == "full" else "adapter"


def _precheck(cfg: FinetuneConfig, ws) -> None:
    """Before a run is queued: the base model exists, the data reads and has the columns and classes, and the
    output name is free (no artifact, no other active run)."""
    from ..artifacts import output_name
    from .model import resolve_base
    resolve_base(ws, cfg.base_model)
    from .data import is_hub_dataset
    if not is_hub_dataset(cfg.data, ws):  # a Hub dataset is read when the run starts (it may need the network)
        from .train import prepare_data
        prepare_data(cfg, ws, tokenizer=None)
    if cfg.output_name:
        output_name(ws, cfg.output_kind, cfg.output_name, overwrite=cfg.overwrite, stage="finetune")


def _run(cfg, ctx):
    from .train import run
    return run(cfg, ctx)


STAGE = Stage(name="finetune", config=FinetuneConfig, run=_run, device=FinetuneConfig.queue_device,
              precheck=_precheck,
              help="Fine-tune a model for Korean classification or instruction following (full, LoRA, DoRA, WaveFT, "
                   "QLoRA, 8-bit LoRA, or any method of the installed peft) on the Hugging Face Trainer.")
