"""An artifact as a downloadable archive: `workspace/exports/<kind>-<name>-<time>.zip` (or .tar.gz) holding the
artifact's files under `<name>/` with a fresh model card as `<name>/README.md`.

The archive is written beside its final name and renamed when complete and re-opened, so a failed export leaves
nothing half-written; the artifact folder is only read."""
from __future__ import annotations

import json
import os
import shutil
import tarfile
import time
import zipfile
from pathlib import Path

from ..artifacts import kind_text
from ..errors import UserError
from ..i18n import say

SHAREABLE = ("model", "adapter", "tokenizer")
FORMATS = ("zip", "tar.gz")
WEIGHT_SUFFIXES = (".safetensors", ".onnx", ".bin", ".pt", ".gguf", ".engine")
_SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", "checkpoints"}


def exports_dir(ws) -> Path:
    d = Path(ws.root) / "exports"
    d.mkdir(parents=True, exist_ok=True)
    return d


def shareable(ws, ref: str | int):
    """The artifact a config names (id or name) if it is a model, adapter or tokenizer whose files are all there;
    else a UserError that says what is wrong. Returns the store's Artifact."""
    from ..artifacts import find
    ref = "" if ref is None else str(ref).strip()
    if not ref:
        raise UserError(say("no artifact chosen: pick a model, adapter or tokenizer (by name or id)",
                            "산출물을 고르지 않았습니다. 모델, 어댑터 또는 토크나이저를 이름이나 번호로 고르세요"))
    art = find(ws.store, SHAREABLE, ref)
    if art is None:  # named as another kind (a corpus, an eval report): say what it is
        art = find(ws.store, ("corpus", "dataset", "arch", "eval", "quantized"), ref)
    if art is None:
        raise UserError(say("'{r}' is not a model, adapter or tokenizer artifact of this workspace: pick one from the list",
                            "'{r}' 은(는) 이 작업 공간의 모델·어댑터·토크나이저 산출물이 아닙니다. 목록에서 고르세요",
                            r=ref))
    if art.kind not in SHAREABLE:
        raise UserError(say("artifact #{id} '{name}' is a {kind}: only a model, adapter or tokenizer is exported or "
                            "shared (a corpus or an eval report is data, not a model)",
                            "산출물 #{id} '{name}' 은(는) {kind}입니다. 모델, 어댑터, 토크나이저만 내보내거나 공유할 수 "
                            "있습니다", id=art.id, name=art.name, kind=kind_text(art.kind)))
    missing = missing_files(Path(art.path), art.kind)
    if missing:
        raise UserError(say("the files of {kind} '{name}' (#{id}) are missing at {path} ({what}): nothing was exported "
                            "and nothing was changed. Re-create it (run its stage again) or restore the folder.",
                            "{kind} '{name}' (#{id}) 의 파일이 {path} 에 없습니다 ({what}). 아무것도 내보내지 않았고 "
                            "바뀐 것도 없습니다. 그 단계를 다시 실행해 새로 만들거나 폴더를 되살리세요.",
                            kind=kind_text(art.kind), name=art.name, id=art.id, path=art.path,
                            what=", ".join(missing)))
    return art


def missing_files(folder: Path, kind: str) -> list[str]:
    """What an artifact folder lacks to be usable: [] when complete."""
    if not folder.is_dir():
        return ["the folder itself"]
    names = {p.name for p in folder.iterdir()}
    if not names - {"workbench.json", "README.md"}:
        return ["every file but its card"] if names else ["every file (the folder is empty)"]
    out = []
    if kind == "tokenizer":
        if not names & {"tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "vocab.txt"}:
            out.append("tokenizer.json")
    elif kind == "adapter":
        for f in ("adapter_config.json",):
            if f not in names:
                out.append(f)
        if not any(n.startswith("adapter_model") for n in names):
            out.append("adapter_model.safetensors")
    else:  # model: a config and weights (any format the stages write), every shard an index names
        if "config.json" not in names and not (folder / "engine").is_dir() and not (folder / "triton").is_dir():
            out.append("config.json")
        weights = [p for p in folder.rglob("*") if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES)]
        if not weights:
            out.append("the weights (model.safetensors)")
        for index in folder.glob("*.index.json"):
            try:
                shards = set((json.loads(index.read_text(encoding="utf-8")).get("weight_map") or {}).values())
            except (OSError, ValueError):
                shards = set()
            out += sorted(s for s in shards if not (folder / s).is_file())
    return out


def artifact_files(folder: Path) -> list[tuple[Path, str]]:
    """(file, path inside the archive) of everything the artifact holds but its card (replaced by a fresh one)."""
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part in _SKIP_DIRS or part.startswith(".") for part in rel.parts):
            continue
        if p.is_symlink() and not p.resolve().is_relative_to(folder.resolve()):
            continue  # never ship a file from outside the artifact
        if p.is_file() and str(rel) != "README.md":
            out.append((p, rel.as_posix()))
    return out


def card_for(ws, art, *, repo_id: str | None = None) -> tuple[str, list[tuple[Path, str]]]:
    """(the card's text, the files it describes) for an artifact."""
    from ..lineage import chain
    from .card import model_card
    files = artifact_files(Path(art.path))
    ch = chain(ws.store, art.id)
    listed = [(rel, p.stat().st_size) for p, rel in files] + [("README.md", 0)]
    return model_card(ch, listed, repo_id=repo_id), files


def export_artifact(ws, ref: str | int, fmt: str = "zip", *, progress=None) -> dict:
    """Write the archive; returns {"archive", "format", "files", "bytes", "card", "artifact", "name", "kind"}."""
    if fmt not in FORMATS:
        raise UserError(say("format {f} is not one of {c}", "형식 {f}: 다음 중 하나여야 합니다 {c}", f=fmt,
                            c=list(FORMATS)))
    art = shareable(ws, ref)
    card, files = card_for(ws, art)
    top = art.name
    stamp = time.strftime("%Y%m%d-%H%M%S")
    final = exports_dir(ws) / f"{art.kind}-{art.name}-{stamp}.{fmt}"
    n = 1
    while final.exists():
        n += 1
        final = final.with_name(f"{art.kind}-{art.name}-{stamp}-{n}.{fmt}")
    part = final.with_name("." + final.name + ".part")
    total = len(files) + 1
    try:
        if fmt == "zip":
            with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as z:
                z.writestr(f"{top}/README.md", card)
                for i, (p, rel) in enumerate(files, 1):
                    z.write(p, f"{top}/{rel}")
                    if progress:
                        progress(i + 1, total, rel)
            with zipfile.ZipFile(part) as z:  # the archive opens and every member reads back (CRC checked)
                bad = z.testzip()
                if bad:
                    raise OSError(f"archive member {bad} failed its check")
                names = z.namelist()
        else:
            import io
            with tarfile.open(part, "w:gz", dereference=True) as t:
                data = card.encode("utf-8")
                info = tarfile.TarInfo(f"{top}/README.md")
                info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
                t.addfile(info, io.BytesIO(data))
                for i, (p, rel) in enumerate(files, 1):
                    t.add(p, f"{top}/{rel}", recursive=False)
                    if progress:
                        progress(i + 1, total, rel)
            with tarfile.open(part, "r:gz") as t:
                names = t.getnames()
        os.replace(part, final)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return {"archive": str(final), "format": fmt, "files": len(names), "bytes": final.stat().st_size,
            "card": card, "artifact": art.id, "name": art.name, "kind": art.kind}


def staged_copy(art, card: str, files: list[tuple[Path, str]], dest: Path) -> Path:
    """A folder with the artifact's files (hard links where the disk allows, else copies) and the card, to upload."""
    dest.mkdir(parents=True, exist_ok=False)
    for p, rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(p.resolve(), target)
        except OSError:
            shutil.copy2(p, target)
    (dest / "README.md").write_text(card, encoding="utf-8")
    return dest
