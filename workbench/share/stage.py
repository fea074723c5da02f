"""`python -m workbench export --set artifact=NAME --set format=zip`: an artifact as a downloadable archive with a
model card (lineage, data, config, evaluation figures) under workspace/exports/."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config import StageConfig, param
from ..i18n import say
from ..stages import Stage


@dataclass
class ExportConfig(StageConfig):
    artifact: str = param("", ko="내보낼 산출물", en="Artifact to export",
                          help_ko="모델, 어댑터 또는 토크나이저 (이름이나 번호)",
                          help_en="a model, adapter or tokenizer (name or id)")
    format: Literal["zip", "tar.gz"] = param("zip", ko="압축 형식", en="Archive format",
                                             help_ko="zip 또는 tar.gz", help_en="zip or tar.gz")

    def check(self):
        if not self.artifact.strip():
            return [("artifact", say("no artifact chosen: give a model, adapter or tokenizer by name or id",
                                     "산출물이 비어 있습니다. 모델, 어댑터 또는 토크나이저의 이름이나 번호를 쓰세요"))]
        return []


def precheck(cfg: ExportConfig, ws) -> None:
    from .export import shareable
    shareable(ws, cfg.artifact)


def run(cfg: ExportConfig, ctx) -> dict:
    from .export import export_artifact
    out = export_artifact(ctx.ws, cfg.artifact, cfg.format,
                          progress=lambda i, n, f: ctx.progress(i, n, say("packing {f}", "{f} 압축 중", f=f)))
    ctx.progress(1, 1, say("archive ready: {p}", "압축 파일 완성: {p}", p=out["archive"]))
    return {k: v for k, v in out.items() if k != "card"} | {"card_chars": len(out["card"])}


STAGE = Stage(name="export", config=ExportConfig, run=run, precheck=precheck,
              help="export a model, adapter or tokenizer as a .zip / .tar.gz with a model card")
