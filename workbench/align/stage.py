"""Align stage: the config (single source of truth for form, CLI and validation), its checks, and STAGE.

A causal LM the project made (pretrained, SFT-tuned: a model or an SFT adapter, merged in memory) is trained on
preference pairs (prompt, chosen, rejected) with TRL's DPOTrainer, or another preference trainer the installed TRL
offers, fully or with LoRA / DoRA. The reference is a frozen copy of the policy (or another model with the same
tokenizer); with an adapter it is the policy with the adapter turned off. Importing this module imports no torch,
transformers or trl."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import param
from ..i18n import say
from ..stages import Stage
from ..training.arguments import SCHEDULES
from ..training.settings import ComputeSettings
from .trainers import ALGORITHMS, loss_types

METHODS = ["full", "lora", "dora"]
ADAPTER_METHODS = {"lora", "dora"}
LOSS_TYPES = loss_types()


@dataclass
class AlignConfig(ComputeSettings):
    # -- what is aligned, against what, on what ------------------------------------------------------------
    policy_model: str = param("", ko="정책 모델", en="Policy model",
                              help_ko="정렬할 모델: 모델 산출물, SFT 어댑터 (기본 모델에 합쳐서 씀), 모델 폴더 또는 Hub 이름",
                              help_en="the model to align: a model artifact, an SFT adapter (merged into its base "
                                      "first), a model folder or a Hub name")
    reference_model: str = param("", ko="기준 모델 (선택)", en="Reference model (optional)",
                                 help_ko="비우면 정책 모델의 얼린 사본 (LoRA/DoRA 면 어댑터를 끈 정책). 주면 같은 토크나이저여야 함",
                                 help_en="empty: a frozen copy of the policy (with LoRA/DoRA: the policy with the "
                                         "adapter off); another model must share the policy's tokenizer")
    algorithm: str = param("dpo", ko="알고리즘", en="Algorithm", choices=ALGORITHMS, advanced=True,
                           help_ko="dpo: TRL DPOTrainer · 그 밖에 설치된 TRL 의 선호 학습기 (고급)",
                           help_en="dpo: TRL's DPOTrainer · others: preference trainers of the installed TRL (advanced)")
    data: str = param("", ko="선호 데이터", en="Preference data",
                      help_ko="prompt/chosen/rejected 열의 JSONL/CSV/TSV/parquet 파일, 폴더, 데이터 산출물 (탭에서 모은 쌍), "
                              "Hugging Face 데이터셋 이름. 비우면 함께 든 팀 작성 예제 64쌍",
                      help_en="a JSONL/CSV/TSV/parquet file with prompt/chosen/rejected columns, a folder, a dataset "
                              "artifact (pairs collected in this tab) or a Hugging Face dataset name; empty: the "
                              "bundled team-written sample (64 pairs)")
    data_config: str = param("", ko="데이터셋 구성", en="Dataset config (Hugging Face)", advanced=True)
    prompt_column: str = param("auto", ko="프롬프트 열", en="Prompt column", help_en="auto: prompt, instruction, question")
    chosen_column: str = param("auto", ko="좋은 답 열", en="Chosen column", help_en="auto: chosen")
    rejected_column: str = param("auto", ko="나쁜 답 열", en="Rejected column", help_en="auto: rejected")
    val_fraction: float = param(0.1, ko="검증 비율", en="Validation fraction", min=0.0, max=0.5,
                                help_ko="학습 중 보상 정확도를 잴 쌍", help_en="pairs scored during training")
    test_fraction: float = param(0.1, ko="시험 비율", en="Held-out test fraction", min=0.0, max=0.5,
                                 help_ko="학습 전후를 비교할 쌍. 학습하지 않습니다",
                                 help_en="pairs scored before and after training; never trained on")
    max_rows: int = param(0, ko="학습 쌍 상한 (0=전부)", en="Training pairs cap (0 = all)", min=0)
    max_eval_rows: int = param(500, ko="검증·시험 쌍 상한 (0=전부)", en="Validation/test pairs cap (0 = all)", min=0)
    system_prompt: str = param("", ko="시스템 프롬프트 (선택)", en="System prompt (optional)", advanced=True)
    chat_template: str = param("auto", ko="채팅 템플릿", en="Chat template", advanced=True, multiline=True,
                               help_ko="auto: 토크나이저의 템플릿, 없으면 기본 '### 질문/### 답변' 템플릿",
                               help_en="auto: the tokenizer's own, else the plain '### 질문/### 답변' template")
    max_length: int = param(192, ko="최대 토큰 길이 (프롬프트+답)", en="Max tokens (prompt + answer)", min=8,
                            max=131072)
    # -- the objective -------------------------------------------------------------------------------------
    loss_type: str = param("sigmoid", ko="손실 종류", en="Loss type", choices=LOSS_TYPES or None,
                           visible_when=("algorithm", {"dpo"}),
                           help_ko="sigmoid: 원래 DPO · ipo · hinge · robust 등 설치된 TRL 의 손실",
                           help_en="sigmoid: the original DPO · ipo · hinge · robust, ... (the installed TRL's)")
    beta: float = param(0.1, ko="beta (기준 모델에서 벗어나는 정도)", en="beta (how far from the reference)", min=0.0,
                        above=0.0, help_ko="작을수록 기준 모델에서 멀리 갈 수 있음",
                        help_en="smaller: the policy may move further from the reference")
    sft_warmup_steps: int = param(0, ko="SFT 예열 스텝 (0=끔)", en="SFT warm-up steps on the chosen answers (0 = off)",
                                  min=0, help_ko="채팅 템플릿을 본 적 없는 모델이면 좋은 답으로 먼저 SFT",
                                  help_en="for a base that has never seen the chat template: SFT on the chosen answers "
                                          "first, in the same job")
    # -- method ---------------------------------------------------------------------------------------------
    method: str = param("lora", ko="방법", en="Method", choices=METHODS,
                        help_ko="full: 모든 가중치 (기준 모델 사본이 메모리에 하나 더) · lora · dora",
                        help_en="full: every weight (a second copy as reference) · lora · dora (reference: adapter off)")
    target_modules: list[str] = param(["all-linear"], ko="대상 층", en="Target modules",
                                      visible_when=("method", ADAPTER_METHODS))
    lora_rank: int = param(16, ko="LoRA 랭크 r", en="LoRA rank r", min=1, max=4096,
                           visible_when=("method", ADAPTER_METHODS))
    lora_alpha: float = param(32.0, ko="LoRA alpha", en="LoRA alpha", min=0.0, visible_when=("method", ADAPTER_METHODS))
    lora_dropout: float = param(0.0, ko="LoRA 드롭아웃", en="LoRA dropout", min=0.0, max=0.9,
                                visible_when=("method", ADAPTER_METHODS))
    # -- training ----------------------------------------------------------------------------------------------
    output_name: str = param("", ko="결과 이름", en="Output name",
                             help_ko="저장할 모델/어댑터 이름 (비우면 실행 번호)",
                             help_en="name of the model/adapter artifact to save (empty: the run id)")
    overwrite: bool = param(False, ko="같은 이름 덮어쓰기", en="Overwrite an artifact of the same name")
    batch_size: int = param(8, ko="배치 크기 (쌍)", en="Batch size (pairs per device)", min=1, max=4096)
    grad_accum: int = param(1, ko="그래디언트 누적", en="Gradient accumulation steps", min=1, max=1024)
    max_steps: int = param(60, ko="최대 스텝", en="Max optimizer steps", min=1, max=10_000_000)
    epochs: float = param(0.0, ko="에폭 (0=최대 스텝 사용)", en="Epochs (0 = use max_steps)", min=0.0, max=1000.0)
    max_minutes: float = param(0.0, ko="시간 제한(분, 0=없음)", en="Time budget in minutes (0 = none)", min=0.0)
    lr: float = param(5e-4, ko="학습률", en="Learning rate", min=0.0, max=10.0, above=0.0,
                      help_ko="LoRA 는 1e-4~1e-3, 전체 학습은 1e-6~1e-5 (작은 모델은 더 크게)",
                      help_en="LoRA: 1e-4..1e-3; full: 1e-6..1e-5 (larger for tiny models)")
    schedule: str = param("cosine", ko="학습률 일정", en="LR schedule", choices=SCHEDULES)
    min_lr_ratio: float = param(0.1, ko="최소 학습률 비율", en="Final LR as a fraction of the peak", min=0.0, max=1.0,
                                advanced=True)
    decay_fraction: float = param(0.2, ko="WSD 감쇠 비율", en="WSD: fraction of steps spent decaying", min=0.0,
                                  max=1.0, advanced=True)
    warmup_steps: int = param(5, ko="워밍업 스텝", en="Warmup steps", min=0)
    weight_decay: float = param(0.0, ko="가중치 감쇠", en="Weight decay", min=0.0, max=1.0)
    grad_clip: float = param(1.0, ko="그래디언트 클리핑", en="Gradient clipping (max norm, 0 = off)", min=0.0)
    seed: int = param(42, ko="시드", en="Seed (splits, initialisation, data order, samples)", min=0)
    eval_every: int = param(20, ko="검증 주기(스텝)", en="Evaluate every N steps", min=1)
    early_stopping: int = param(0, ko="조기 종료 인내(검증 횟수, 0=끔)",
                                en="Early stopping patience in evaluations (0 = off)", min=0)
    save_every: int = param(50, ko="체크포인트 주기", en="Checkpoint every N steps", min=1)
    compare_prompts: int = param(4, ko="전후 비교 프롬프트 수", en="Held-out prompts answered before and after", min=0,
                                 max=200)
    tricky_prompts: bool = param(True, ko="민감·까다로운 프롬프트도 비교", en="Also compare on sensitive / tricky "
                                                                       "Korean prompts (bundled)")
    compare_tokens: int = param(48, ko="비교 답 길이(토큰)", en="Answer length for the comparison (tokens)", min=1,
                                max=1024)

    def check(self) -> list[tuple[str, str]]:
        errors = super().check()
        if not self.policy_model.strip():
            errors.append(("policy_model", say("not chosen: pick a model artifact (Pretrain or Fine-tune tab), an SFT "
                                               "adapter, or give a Hugging Face model folder or Hub name",
                                               "고르지 않았습니다: 모델 산출물 (사전학습·미세조정 탭), SFT 어댑터를 고르거나 "
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
        if self.early_stopping and self.val_fraction == 0:
            errors.append(("early_stopping", say("early stopping needs a validation split: set val_fraction > 0",
                                                 "조기 종료에는 검증 분할이 필요합니다. val_fraction 을 0보다 크게 하세요")))
        if self.algorithm != "dpo" and self.reference_model.strip() and self.algorithm not in ("kto",):
            errors.append(("reference_model", say("{a} uses no reference model: clear reference_model",
                                                  "{a} 은(는) 기준 모델을 쓰지 않습니다. reference_model 을 비우세요",
                                                  a=self.algorithm)))
        return errors

    # finetune.methods and finetune.model read these names (the LoRA fields above share their meaning)
    task = "sft"
    peft_type = "LORA"
    peft_options = None
    waveft_n_frequency = 1


def output_kind(cfg: AlignConfig, policy) -> str:
    """An adapter only when it sits on a saved model: a policy that is itself an adapter, or an SFT warm-up, leaves
    a base that exists only in memory, so the result is saved merged, as a model."""
    if cfg.method == "full" or policy.adapter or cfg.sft_warmup_steps:
        return "model"
    return "adapter"


def _precheck(cfg: AlignConfig, ws) -> None:
    """Before a run is queued: the models exist and are causal LMs with one tokenizer, the pairs read and pass their
    checks (lengths too, with the policy's tokenizer and chat template), the output name is free. A Hub model or
    dataset is read when the run starts (it may need the network)."""
    from ..artifacts import output_name
    from .data import check_lengths, is_hub_dataset, prepare_pairs
    from .policy import check_causal, check_same_tokenizer, config_of, resolve_policy, set_chat_template, tokenizer_of
    policy = resolve_policy(ws, cfg.policy_model)
    tok = None
    if not policy.base.hub:
        check_causal(policy, config_of(policy))
        tok = tokenizer_of(policy)
    if cfg.reference_model.strip():
        ref = resolve_policy(ws, cfg.reference_model, what="reference")
        if tok is not None and not ref.base.hub:
            check_causal(ref, config_of(ref), "reference")
            check_same_tokenizer(tok, tokenizer_of(ref), cfg.reference_model)
    if not is_hub_dataset(cfg.data, ws):
        pairs = prepare_pairs(cfg, ws)
        if tok is not None:
            set_chat_template(tok, cfg.chat_template)
            check_lengths(pairs.rows, tok, cfg)
    if cfg.output_name:
        output_name(ws, output_kind(cfg, policy), cfg.output_name, overwrite=cfg.overwrite, stage="align")


def _run(cfg, ctx):
    from .train import run
    return run(cfg, ctx)


STAGE = Stage(name="align", config=AlignConfig, run=_run, device=AlignConfig.queue_device, precheck=_precheck,
              help="Align a causal LM on preference pairs (prompt, chosen, rejected) with TRL's DPOTrainer (or another "
                   "preference trainer of the installed TRL), fully or with LoRA/DoRA; before/after answers and reward "
                   "accuracy on held-out pairs.")
