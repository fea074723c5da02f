"""Pipeline stage: one config runs the chain corpus -> tokenizer -> pretrain -> SFT -> align -> optimize -> evaluate
-> chat, each step as its own run of its stage (its own job, log, curves and artifact), each step's artifact feeding
the next. A step whose config and inputs are unchanged and whose artifact exists is reused, not redone; a stopped or
failed step is resumed from its checkpoint when the pipeline run is resumed. Importing this module imports no torch."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import StageConfig, param
from ..i18n import say
from ..stages import Stage
from .presets import PRESETS, STEPS


@dataclass
class PipelineConfig(StageConfig):
    preset: str = param("demo", ko="프리셋", en="Preset", choices=list(PRESETS),
                        help_ko="demo: 함께 든 데이터로 2코어에서 몇 분 · workshop: ../shared/data 같은 배치의 실제 데이터와 "
                                "각 단계의 기본값",
                        help_en="demo: the bundled data, a few minutes on 2 cores · workshop: the real data in a "
                                "../shared/data-like layout, each stage's defaults")
    name: str = param("demo", ko="이름 (산출물 접두사)", en="Name (prefix of every artifact)",
                      help_ko="산출물 이름: <이름>-corpus, <이름>-base, <이름>-aligned ...",
                      help_en="artifacts are named <name>-corpus, <name>-base, <name>-aligned, ...")
    steps: list[str] = param(list(STEPS), ko="단계", en="Steps", choices=list(STEPS),
                             help_ko="돌릴 단계 (순서는 항상 생애 주기 순)", help_en="steps to run (always in lifecycle order)")
    data_dir: str = param("../shared/data", ko="데이터 폴더 (workshop)", en="Data folder (workshop)",
                          visible_when=("preset", {"workshop"}),
                          help_ko="pretrain/, instruct/, preference/ 가 있는 폴더",
                          help_en="a folder with pretrain/, instruct/ and preference/")
    overrides: dict = param({}, ko="단계별 설정 덮어쓰기 (JSON)", en="Per-step overrides (JSON)", advanced=True,
                            help_ko='예: {"pretrain": {"max_steps": 300}, "align": {"beta": 0.2}}',
                            help_en='e.g. {"pretrain": {"max_steps": 300}, "align": {"beta": 0.2}}')
    chat_prompt: str = param("한국의 수도는 어디인가요?", ko="마지막 채팅 확인 질문", en="Final chat check prompt",
                             help_ko="기본값은 기본 제공 지시문 데이터의 학습 질문입니다: 몇 분 학습한 데모 모델은 배운 답만 "
                                     "외워 말하고, 처음 보는 질문에는 한국어 모양의 엉뚱한 답을 합니다",
                             help_en="the default is a training question of the bundled instruction set: a demo model "
                                     "trained for minutes recites what it was taught and answers unseen questions "
                                     "with Korean-looking nonsense")
    reuse: bool = param(True, ko="바뀌지 않은 단계는 다시 쓰기", en="Reuse unchanged steps",
                        help_ko="설정과 입력이 같고 산출물이 있으면 다시 돌리지 않음",
                        help_en="a step whose config and inputs are unchanged and whose artifact exists is not redone")
    threads: int = param(0, ko="CPU 스레드 (0=전부)", en="CPU threads per step (0 = all cores)", min=0)

    def check(self) -> list[tuple[str, str]]:
        errors = []
        if not self.steps:
            errors.append(("steps", say("choose at least one step", "단계를 하나 이상 고르세요")))
        unknown = [k for k in self.overrides if k not in STEPS]
        if unknown:
            errors.append(("overrides", say("{u} is not a step; the steps are: {s}", "{u} 은(는) 단계가 아닙니다. 단계: {s}",
                                            u=", ".join(unknown), s=", ".join(STEPS))))
        bad = [k for k, v in self.overrides.items() if not isinstance(v, dict)]
        if bad:
            errors.append(("overrides", say("each step's overrides must be an object of field: value ({b})",
                                            "단계마다 {{항목: 값}} 객체여야 합니다 ({b})", b=", ".join(bad))))
        return errors


def _precheck(cfg: PipelineConfig, ws) -> None:
    """Before the run is queued: the whole plan builds (every step's config validates, the steps fit together)."""
    from .plan import make_plan
    make_plan(cfg, ws, check_only=True)


def _run(cfg, ctx):
    from .run import run
    return run(cfg, ctx)


def _add_args(p) -> None:
    p.add_argument("--preset", choices=list(PRESETS), help="demo or workshop (same as --set preset=...)")


def _args_to_updates(args) -> dict:
    return {"preset": args.preset} if args.preset else {}


STAGE = Stage(name="pipeline", config=PipelineConfig, run=_run, precheck=_precheck, add_args=_add_args,
              args_to_updates=_args_to_updates,
              device=lambda cfg: "pipeline",  # its own queue: the steps it starts wait for the cpu/cuda device
              help="Run the whole chain (corpus -> tokenizer -> pretrain -> SFT -> align -> optimize -> evaluate -> "
                   "chat) as one run per step, reusing unchanged steps and resuming stopped ones.")
