"""`python -m workbench push --set artifact=NAME --set repo_id=org/name [--set token=...]`: an artifact to the
Hugging Face Hub, private by default. The token comes from `--set token=` or the env HF_TOKEN; it is a secret field,
so the saved run config, config.json and the recorded command never hold it."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import StageConfig, param
from ..i18n import say
from ..stages import Stage


@dataclass
class PushConfig(StageConfig):
    artifact: str = param("", ko="올릴 산출물", en="Artifact to push",
                          help_ko="모델, 어댑터 또는 토크나이저 (이름이나 번호)",
                          help_en="a model, adapter or tokenizer (name or id)")
    repo_id: str = param("", ko="Hub 저장소", en="Hub repository", help_ko="사용자이름/모델이름",
                         help_en="your-name/model-name")
    token: str = param("", ko="Hugging Face 토큰", en="Hugging Face token", secret=True,
                       help_ko="쓰기 권한 토큰. 비우면 HF_TOKEN 환경 변수. 저장되지 않습니다",
                       help_en="a token with write access; empty: the env HF_TOKEN. Never saved")
    private: bool = param(True, ko="비공개 저장소", en="Private repository",
                          help_ko="새로 만드는 저장소를 비공개로 (이미 있는 저장소는 그대로)",
                          help_en="create the repository private (an existing one keeps its visibility)")
    commit_message: str = param("", ko="커밋 메시지", en="Commit message", advanced=True)

    def check(self):
        errs = []
        if not self.artifact.strip():
            errs.append(("artifact", say("no artifact chosen: give a model, adapter or tokenizer by name or id",
                                         "산출물이 비어 있습니다. 모델, 어댑터 또는 토크나이저의 이름이나 번호를 쓰세요")))
        return errs


def precheck(cfg: PushConfig, ws) -> None:
    from .hub import precheck as check
    check(ws, cfg.artifact, cfg.repo_id, cfg.token)


def run(cfg: PushConfig, ctx) -> dict:
    from .hub import push_artifact
    return push_artifact(ctx.ws, cfg.artifact, cfg.repo_id, cfg.token, private=cfg.private,
                         commit_message=cfg.commit_message, progress=ctx.progress)


STAGE = Stage(name="push", config=PushConfig, run=run, precheck=precheck,
              help="push a model, adapter or tokenizer to the Hugging Face Hub (private by default; the token from "
                   "--set token=... or HF_TOKEN, never saved)")
