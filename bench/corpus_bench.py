"""Corpus stage benchmark: the full default recipe on ../shared/data/pretrain/ (62 MB, ~650k documents)
next to plain datasketch MinHash LSH deduplication of the same documents, in the same run.

    python bench/corpus_bench.py [--data DIR] [--num-proc 2] [--limit N]

Prints exactly one JSON line. Both sides run in their own child process so that each one's peak
memory (summed over its process tree, sampled every 0.1 s) is its own:
- recipe: `python -m workbench corpus --input DIR --set save=false` (what a user runs: read, clean,
  filter, exact + near dedup, statistics before/after, write the parquet splits);
- datasketch: the same documents (read beforehand, untimed), each shingled the same way (character
  5-grams without spaces), `MinHash(num_perm=128).update_batch(...)`, then `MinHashLSH(threshold=0.8)`
  query-then-insert: plain streaming near-duplicate removal, on one core.
Targets (issue 3): recipe under 120 s on 2 cores, at most 3x the datasketch time, peak RSS under 4 GB.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "pretrain"


def run_measured(cmd: list[str], env=None) -> tuple[float, float, str, int]:
    """Wall seconds, peak RSS (MB) of the whole process tree, stdout, exit code."""
    import psutil
    t0 = time.time()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, **(env or {})))
    peak = 0
    stop = threading.Event()

    def sample():
        nonlocal peak
        try:
            p = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        while not stop.is_set():
            try:
                rss = p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))
                peak = max(peak, rss)
            except psutil.Error:
                pass
            time.sleep(0.1)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, _ = proc.communicate()
    wall = time.time() - t0
    stop.set()
    th.join()
    return wall, peak / 2**20, out, proc.returncode


def datasketch_only(data: str, limit: int) -> None:
    """Child process: plain datasketch dedup of the same documents; prints one JSON line."""
    from datasketch import MinHash, MinHashLSH

    from workbench.corpus.sources import iter_documents
    texts = [t for _, t, _ in iter_documents([data], limit=limit)]
    t0 = time.time()
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    dups = 0
    for i, text in enumerate(texts):
        s = "".join(text.split())
        sh = {s[j:j + 5] for j in range(max(1, len(s) - 4))}
        m = MinHash(num_perm=128)
        m.update_batch([x.encode("utf-8") for x in sh])
        if lsh.query(m):
            dups += 1
        else:
            lsh.insert(i, m)
    sec = time.time() - t0
    mb = sum(len(t.encode("utf-8")) for t in texts) / 2**20
    print(json.dumps({"docs": len(texts), "seconds": round(sec, 2), "near_duplicates": dups, "text_mb": round(mb, 1)}))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--num-proc", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="only the first N documents (quick check)")
    ap.add_argument("--datasketch-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.datasketch_only:
        datasketch_only(args.data, args.limit)
        return 0
    data = Path(args.data)
    if not data.exists():
        print(json.dumps({"bench": "corpus", "skipped": f"{data} is not present (needs ../shared/data/pretrain)"}))
        return 0
    size_mb = sum(f.stat().st_size for f in data.rglob("*") if f.is_file()) / 2**20 if data.is_dir() \
        else data.stat().st_size / 2**20
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "workbench", "corpus", "--input", str(data), "--workspace", tmp,
               "--set", "save=false", "--set", f"num_proc={args.num_proc}"]
        if args.limit:
            cmd += ["--set", f"max_docs={args.limit}"]
        wall, rss, out, code = run_measured(cmd)
        if code != 0:
            print(json.dumps({"bench": "corpus", "error": f"recipe exited {code}", "tail": out[-2000:]}))
            return 1
        rec = json.loads(out.strip().splitlines()[-1])
        report = json.loads((Path(tmp) / "runs" / rec["run_id"] / "report.json").read_text(encoding="utf-8"))
    ds_wall, ds_rss, ds_out, ds_code = run_measured(
        [sys.executable, str(Path(__file__).resolve()), "--datasketch-only", "--data", str(data),
         "--limit", str(args.limit)])
    if ds_code != 0:
        print(json.dumps({"bench": "corpus", "error": f"datasketch baseline exited {ds_code}"}))
        return 1
    ds = json.loads(ds_out.strip().splitlines()[-1])
    recipe_s = rec["seconds"]
    result = {
        "bench": "corpus", "data": str(data), "input_mb_on_disk": round(size_mb, 1), "input_text_mb": ds["text_mb"],
        "cpu_count": os.cpu_count(),
        "num_proc": args.num_proc, "load_avg_at_start": round(load_before, 2),
        "load_avg_at_end": round(os.getloadavg()[0], 2),
        "docs_in": rec["docs_in"], "docs_out": rec["docs_out"], "removed": rec["removed"],
        "recipe_seconds": recipe_s, "recipe_process_wall_seconds": round(wall, 2),
        "recipe_phases": report.get("phases"), "recipe_workers": report.get("workers"),
        "recipe_docs_per_second": round(rec["docs_in"] / recipe_s),
        "recipe_peak_rss_mb": round(rss), "datasketch_seconds": ds["seconds"],
        "datasketch_docs_per_second": round(ds["docs"] / max(ds["seconds"], 1e-9)),
        "datasketch_near_duplicates": ds["near_duplicates"], "datasketch_peak_rss_mb": round(ds_rss),
        "ratio_recipe_over_datasketch": round(recipe_s / max(ds["seconds"], 1e-9), 3),
        "targets": {"under_120s": recipe_s < 120, "at_most_3x_datasketch": recipe_s <= 3 * ds["seconds"],
                    "rss_under_4gb": rss < 4096},
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
