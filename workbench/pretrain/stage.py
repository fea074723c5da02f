"""Pretrain stage: the config (single source of truth for form, CLI and validation) and STAGE."""
from __future__ import annotations

from dataclasses import dataclass

from ..arch.families import ArchConfig
from ..config import param, section
from ..i18n import say
from ..stages import Stage
from ..training.settings import ComputeSettings

DEFAULT_PROMPTS = ["대한민국은", "오늘 영화는 정말", "인공지능이란"]


@dataclass
class PretrainConfig(ComputeSettings):
    corpus: str = param("", ko="말뭉치", en="Corpus",
                        help_ko="말뭉치 산출물 이름/번호, 또는 .txt/.jsonl(.gz) 파일·폴더 경로",
                        help_en="corpus artifact name/id, or a path to .txt/.jsonl(.gz) files or a folder")
    tokenizer: str = param("", ko="토크나이저", en="Tokenizer", help_ko="토크나이저 산출물 이름/번호 또는 폴더",
                           help_en="tokenizer artifact name/id, or a tokenizer folder")
    arch_artifact: str = param("", ko="아키텍처 산출물 (선택)", en="Architecture artifact (optional)",
                               help_ko="비워 두면 아래 아키텍처 설정을 씁니다",
                               help_en="empty: use the architecture settings below")
    arch: ArchConfig = section(ArchConfig, ko="아키텍처", en="Architecture")
    output_name: str = param("", ko="모델 이름", en="Model name",
                             help_ko="저장할 모델 산출물 이름 (비우면 실행 번호)",
                             help_en="name of the model artifact to save (empty: the run id)")
    overwrite: bool = param(False, ko="같은 이름 덮어쓰기", en="Overwrite an artifact of the same name")
    seq_len: int = param(128, ko="시퀀스 길이", en="Sequence length (block size)", min=8, max=131072)
    batch_size: int = param(16, ko="배치 크기", en="Batch size (per device)", min=1, max=4096)
    grad_accum: int = param(1, ko="그래디언트 누적", en="Gradient accumulation steps", min=1, max=1024)
    max_steps: int = param(900, ko="최대 스텝", en="Max optimizer steps", min=1, max=10_000_000)
    max_minutes: float = param(0.0, ko="시간 제한(분, 0=없음)", en="Time budget in minutes (0 = none)", min=0.0,
                               help_ko="시간이 다 되면 저장하고 정상 종료", help_en="saves and ends normally when reached")
    lr: float = param(3e-3, ko="학습률", en="Learning rate", min=0.0, max=10.0, above=0.0)
    min_lr_ratio: float = param(0.1, ko="최소 학습률 비율", en="Final LR as a fraction of the peak", min=0.0, max=1.0)
    schedule: str = param("cosine", ko="학습률 일정", en="LR schedule", choices=["cosine", "wsd", "constant"],
                          help_ko="wsd = warmup-stable-decay", help_en="wsd = warmup-stable-decay")
    warmup_steps: int = param(30, ko="워밍업 스텝", en="Warmup steps", min=0)
    decay_fraction: float = param(0.2, ko="WSD 감쇠 비율", en="WSD: fraction of steps spent decaying", min=0.0,
                                  max=1.0, advanced=True)
    weight_decay: float = param(0.1, ko="가중치 감쇠", en="Weight decay", min=0.0, max=1.0)
    grad_clip: float = param(1.0, ko="그래디언트 클리핑", en="Gradient clipping (max norm, 0 = off)", min=0.0)
    seed: int = param(42, ko="시드", en="Seed", min=0)
    val_fraction: float = param(0.01, ko="검증 비율", en="Validation fraction (when the corpus has no split)",
                                min=0.0, max=0.5)
    eval_every: int = param(50, ko="검증 주기(스텝)", en="Evaluate every N steps", min=1)
    eval_batches: int = param(8, ko="검증 배치 수", en="Validation batches per evaluation", min=1)
    sample_every: int = param(100, ko="샘플 생성 주기", en="Generate samples every N steps (0 = never)", min=0)
    sample_prompts: list[str] = param(DEFAULT_PROMPTS, ko="샘플 프롬프트", en="Sample prompts")
    sample_tokens: int = param(32, ko="샘플 길이(토큰)", en="Sample length (tokens)", min=1, max=1024)
    early_stopping: int = param(0, ko="조기 종료 인내(검증 횟수, 0=끔)",
                                en="Early stopping patience in evaluations (0 = off)", min=0)
    save_every: int = param(200, ko="체크포인트 주기", en="Checkpoint every N steps", min=1)

    def check(self) -> list[tuple[str, str]]:
        errors = super().check()
        for field, en, ko in (("corpus", "a corpus artifact (Corpus tab)", "말뭉치 산출물 (말뭉치 탭)"),
                              ("tokenizer", "a tokenizer artifact (Tokenizer tab)", "토크나이저 산출물 (토크나이저 탭)")):
            if not getattr(self, field).strip():
                errors.append((field, say("not chosen: pick {en} by name or id, or give a path",
                                          "고르지 않았습니다: {ko} 을(를) 이름이나 번호로 고르거나 경로를 쓰세요", en=en, ko=ko)))
        if self.warmup_steps >= self.max_steps:
            errors.append(("warmup_steps", say("warmup ({w}) must be shorter than max_steps ({m})",
                                               "워밍업({w})은 최대 스텝({m})보다 짧아야 합니다",
                                               w=self.warmup_steps, m=self.max_steps)))
        if self.seq_len > self.arch.context and self.arch.family in ("gpt2", "llama", "mixtral", "qwen2moe",
                                                                     "deepseekv3", "rwkv") and not self.arch_artifact:
            errors.append(("seq_len", say("sequence length {s} exceeds the model's context {c}: raise arch.context or "
                                          "lower seq_len",
                                          "시퀀스 길이 {s} 이(가) 모델의 문맥 길이 {c} 보다 깁니다. arch.context 를 늘리거나 "
                                          "seq_len 을 줄이세요", s=self.seq_len, c=self.arch.context)))
        return errors


def _precheck(cfg: PretrainConfig, ws) -> None:
    """Before a run is queued: its inputs exist and its model name is free (no artifact, no other active run)."""
    from ..artifacts import output_name, resolve
    resolve(ws, "corpus", cfg.corpus, "corpus")
    resolve(ws, "tokenizer", cfg.tokenizer, "tokenizer")
    if cfg.arch_artifact:
        resolve(ws, "arch", cfg.arch_artifact, "architecture")
    if cfg.output_name:
        output_name(ws, "model", cfg.output_name, overwrite=cfg.overwrite, stage="pretrain")


def _run(cfg, ctx):
    from .train import run
    return run(cfg, ctx)


STAGE = Stage(name="pretrain", config=PretrainConfig, run=_run, device=PretrainConfig.queue_device,
              precheck=_precheck,
              help="Pretrain a causal language model from scratch on a corpus with a tokenizer (HF Trainer).")
