"""The workspace on disk: the store plus run folders and artifact folders.

    <workspace>/workbench.db            the store (SQLite, WAL)
    <workspace>/runs/<run_id>/          config.json, log.txt, checkpoints, outputs
    <workspace>/artifacts/<kind>/<name>/ one folder per artifact (HF format for models/tokenizers)
    <workspace>/uploads/                files received from the browser

Artifacts are written into a staging folder first and moved into place when
complete, so a crash half-way never leaves a broken artifact behind and an
overwrite never destroys the old one before the new one exists.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from .names import check_name
from .store import Store


class Workspace:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        for sub in ("runs", "artifacts", "uploads"):
            (self.root / sub).mkdir(exist_ok=True)
        self.store = Store(self.root / "workbench.db")

    def run_dir(self, run_id: str) -> Path:
        d = self.root / "runs" / check_name(run_id, "run id")
        d.mkdir(parents=True, exist_ok=True)
        return d

    def artifact_dir(self, kind: str, name: str) -> Path:
        return self.root / "artifacts" / check_name(kind, "artifact kind") / check_name(name, "artifact name")

    def staging_dir(self, kind: str, name: str) -> Path:
        d = self.root / "artifacts" / ".staging" / f"{check_name(kind)}-{check_name(name)}-{os.getpid()}-{time.time_ns()}"
        d.mkdir(parents=True)
        return d

    def publish(self, staging: Path, kind: str, name: str, *, run: str | None = None, parents=(),
                meta: dict | None = None, overwrite: bool = False) -> int:
        """Move a finished staging folder into place and register it. Returns the artifact id."""
        final = self.artifact_dir(kind, name)
        existing = self.store.get_artifact(kind=kind, name=name)
        if (existing or final.exists()) and not overwrite:
            from .store import ArtifactExists
            raise ArtifactExists(
                f"a {kind} artifact named '{name}' already exists: choose another name, or allow overwriting.")
        final.parent.mkdir(parents=True, exist_ok=True)
        old = None
        if final.exists():
            old = final.with_name(f".old-{final.name}-{time.time_ns()}")
            final.rename(old)
        Path(staging).rename(final)
        try:
            art_id = self.store.add_artifact(kind, name, final, run=run, parents=parents, meta=meta, overwrite=overwrite)
        except BaseException:
            final.rename(staging)
            if old is not None:
                old.rename(final)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return art_id

    def upload_dir(self) -> Path:
        return self.root / "uploads"
