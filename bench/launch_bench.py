"""The launch stage measured. Prints one JSON line.

A small pretrain run on two "nodes" (two torchrun agents on this machine, static rendezvous at 127.0.0.1, one process
each): started with the files `python -m workbench launch` writes (bash run_node.sh 0 / 1) against plain torchrun typed
by hand with the same config, in the same run, alternating which goes first; plus the time to write the files.

    python bench/launch_bench.py --steps 20 --repeats 2
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def two_nodes(cmds: list[list[str]], env: dict | None = None) -> float:
    t0 = time.perf_counter()
    procs = [subprocess.Popen(c, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for c in cmds]
    for p in procs:
        _, err = p.communicate(timeout=1800)
        if p.returncode != 0:
            raise SystemExit(err[-3000:])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    from conftest import free_port
    from fixtures import make_corpus, make_tokenizer
    from state import Workspace
    from workbench import runs
    from workbench.stages import get

    ws = Workspace(Path(tempfile.mkdtemp()) / "ws")
    make_tokenizer(ws, parents=[make_corpus(ws)])
    cfg = {"corpus": "kolaw", "tokenizer": "tiny-bpe", "max_steps": a.steps, "arch": {"depth": 2, "width": 64,
           "heads": 2, "context": 64}, "seq_len": 64, "batch_size": 8, "warmup_steps": 2, "eval_every": a.steps,
           "eval_batches": 2, "sample_every": 0, "save_every": a.steps, "threads": 1}
    source = runs.create(ws, get("pretrain"), get("pretrain").config.load(base=cfg), status="succeeded")

    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "workbench", "launch", "--set", f"run={source}", "--set", "nnodes=2",
                          "--set", "nproc_per_node=1", "--set", "device=cpu", "--set", "master_addr=127.0.0.1",
                          "--workspace", str(ws.root)], cwd=ROOT, capture_output=True, text=True, check=True)
    write_s = time.perf_counter() - t0
    folder = Path(json.loads(out.stdout.strip().splitlines()[-1])["dir"])
    plain_cfg = ws.root / "plain.json"
    plain_cfg.write_text(json.dumps(cfg))

    def by_files() -> float:
        return two_nodes([["bash", str(folder / "run_node.sh"), str(r)] for r in (0, 1)],
                         env={**os.environ, "MASTER_PORT": str(free_port())})

    def by_hand() -> float:
        port = free_port()
        return two_nodes([[sys.executable, "-m", "torch.distributed.run", "--nnodes=2", f"--node_rank={r}",
                           "--nproc_per_node=1", "--master_addr=127.0.0.1", f"--master_port={port}", "-m", "workbench",
                           "pretrain", "--config", str(plain_cfg), "--workspace", str(ws.root)] for r in (0, 1)])

    files_s, hand_s = [], []
    for i in range(a.repeats):
        for name, fn, acc in ((("files", by_files, files_s), ("hand", by_hand, hand_s)) if i % 2 == 0
                              else (("hand", by_hand, hand_s), ("files", by_files, files_s))):
            acc.append(round(fn(), 2))
    f, h = statistics.median(files_s), statistics.median(hand_s)
    print(json.dumps({"bench": "launch", "steps": a.steps, "nodes": 2, "write_files_s": round(write_s, 2),
                      "files_s": files_s, "by_hand_s": hand_s, "ratio_hand_over_files": round(h / f, 3)}))


if __name__ == "__main__":
    main()
