"""Export and push staging next to the plain library doing the same work, in the same run.

- Export: `workbench.share.export.export_artifact` (a fresh model card with the lineage, the archive written to a
  .part file, read back and checked, then renamed) vs `shutil.make_archive` of the same model folder, for .zip and
  .tar.gz (seconds, medians of --repeats alternating runs; bytes; ratio = plain / workbench, 1.0 means the card and
  the check cost nothing).
- Push staging: the folder `push_artifact` hands to `upload_folder` (`staged_copy`: hard links and the card) vs
  `shutil.copytree` of the model folder. The upload itself needs the network and a token: not measured here.
Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--depth", type=int, default=4)
    args = ap.parse_args()

    from random_llama import publish_random_llama
    from state import Workspace
    from workbench.share.export import card_for, export_artifact, shareable, staged_copy

    out = {"bench": "share", "model": f"llama {args.depth}x{args.width}", "repeats": args.repeats}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ws = Workspace(tmp / "ws")
        art_id, folder = publish_random_llama(ws, "bench-llama", depth=args.depth, width=args.width, heads=8)
        out["model_mb"] = round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2 ** 20, 1)

        for fmt, plain_fmt in (("zip", "zip"), ("tar.gz", "gztar")):
            wb, plain, sizes = [], [], {}
            for i in range(args.repeats):  # alternating, so drifting machine load hits both alike
                s, res = timed(lambda: export_artifact(ws, art_id, fmt))
                wb.append(s)
                sizes["workbench"] = res["bytes"]
                base = tmp / f"plain-{i}"
                s, path = timed(lambda: shutil.make_archive(str(base), plain_fmt, root_dir=folder.parent,
                                                            base_dir=folder.name))
                plain.append(s)
                sizes["plain"] = Path(path).stat().st_size
            key = fmt.replace(".", "")
            out[f"export_{key}_s"] = round(statistics.median(wb), 2)
            out[f"plain_{key}_s"] = round(statistics.median(plain), 2)
            out[f"export_{key}_ratio"] = round(statistics.median(plain) / statistics.median(wb), 3)
            out[f"export_{key}_mb"] = round(sizes["workbench"] / 2 ** 20, 2)
            out[f"plain_{key}_mb"] = round(sizes["plain"] / 2 ** 20, 2)

        art = shareable(ws, art_id)
        wb, plain = [], []
        for i in range(args.repeats):
            def stage():
                card, files = card_for(ws, art)
                return staged_copy(art, card, files, tmp / f"staged-{i}")
            wb.append(timed(stage)[0])
            plain.append(timed(lambda: shutil.copytree(folder, tmp / f"copied-{i}"))[0])
        out["push_staging_s"] = round(statistics.median(wb), 3)
        out["plain_copytree_s"] = round(statistics.median(plain), 3)
        out["push_staging_ratio"] = round(statistics.median(plain) / statistics.median(wb), 2)
        out["upload"] = "not measured: needs the network and a Hub token"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
