"""`python -m workbench env`: the environment the Home tab shows, as JSON (one line at the end, like every stage).

    python -m workbench env                                   # machine, GPUs, core and optional packages
    python -m workbench env --set run_model=true              # + generate with a model of the workspace (or a
                                                              #   tiny random one) and time it
    python -m workbench env --set run_model=true --set model=my-model --set prompt="대한민국의 수도는"

Every import check is done again (a fresh process); the workspace's lifecycle overview is included.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config import StageConfig, param
from ..i18n import say
from ..stages import Stage
from .run_model import DEFAULT_PROMPT


@dataclass
class EnvConfig(StageConfig):
    run_model: bool = param(False, ko="모델 실행해 보기", en="Run a model",
                            help_ko="텍스트 생성 파이프라인으로 모델을 한 번 돌려 장치와 속도를 잽니다",
                            help_en="run a model once with a text-generation pipeline and time it")
    model: str = param("", ko="모델", en="Model",
                       help_ko="모델 산출물의 이름, 번호 또는 폴더; 비우면 가장 최근의 인과 언어 모델, 없으면 여기서 만든 "
                               "작은 무작위 모델",
                       help_en="a model artifact's name, id or folder; empty = the newest causal LM of the workspace, "
                               "or a tiny random model built here when there is none")
    prompt: str = param(DEFAULT_PROMPT, ko="프롬프트", en="Prompt")
    max_new_tokens: int = param(32, ko="최대 생성 토큰", en="Max new tokens", min=1, max=1024)
    device: Literal["auto", "cpu", "cuda"] = param("auto", ko="장치", en="Device",
                                                   help_ko="auto: GPU가 있으면 cuda, 없으면 cpu",
                                                   help_en="auto: cuda when a GPU is present, else cpu")
    seed: int = param(0, ko="시드", en="Seed", min=0)
    import_timeout: float = param(60.0, ko="가져오기 제한 시간 (초)", en="Import timeout (s)", min=1, max=600,
                                  advanced=True,
                                  help_ko="선택 패키지마다 별도 프로세스에서 import를 시험하는 최대 시간",
                                  help_en="how long each optional package's import may take in its child process")
    overview: bool = param(True, ko="작업 공간 개요 포함", en="Include the workspace overview", advanced=True)

    def check(self):
        if self.run_model and not self.prompt.strip():
            return [("prompt", say("is empty: write a few words for the model to continue",
                                   "비어 있습니다: 모델이 이어 쓸 말을 몇 단어 쓰세요"))]
        return []


def run(cfg: EnvConfig, ctx) -> dict:
    from . import env
    ctx.progress(0, 2 if cfg.run_model else 1, say("checking the environment", "환경 점검 중"))
    out = {"env": env.report(timeout=cfg.import_timeout, fresh=True)}
    out["summary"] = env.summary_line(out["env"]).en
    if cfg.overview and ctx.ws is not None:
        from .overview import overview
        out["overview"] = overview(ctx.ws)
    if cfg.run_model:
        from .run_model import run_model
        ctx.progress(1, 2, say("running a model", "모델 실행 중"))
        out["run_model"] = run_model(ctx.ws, model=cfg.model, prompt=cfg.prompt, max_new_tokens=cfg.max_new_tokens,
                                     device=cfg.device, seed=cfg.seed)
    return out


def _device(cfg: EnvConfig) -> str:
    from ..devices import resolve_device
    return resolve_device(cfg.device) if cfg.run_model else "cpu"


STAGE = Stage(name="env", config=EnvConfig, run=run, device=_device, needs_workspace=False,
              help="the environment checked live (CPU, memory, GPUs, core and optional packages: installed, usable "
                   "here, why not, what each enables), optionally running a model once with a text-generation "
                   "pipeline; the workspace's lifecycle overview")
