"""Seconds from `python app.py` to HTTP 200 on `/`, next to a bare Gradio Blocks app, in the same run.

Prints one JSON line: {"workbench_s", "bare_gradio_s", "ratio", ...} (medians over --repeats).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BARE = """
import sys, gradio as gr
with gr.Blocks() as demo:
    gr.Markdown("bare")
demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_to_200(cmd: list[str], port: int, timeout: float = 120) -> float:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t0 < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - t0
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"no answer within {timeout}s: {cmd}")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bare_py = Path(tmp) / "bare.py"
        bare_py.write_text(BARE)
        wb, bare = [], []
        for i in range(args.repeats):  # interleaved, so drifting machine load hits both alike
            port = free_port()
            bare.append(time_to_200([sys.executable, str(bare_py), str(port)], port))
            port = free_port()
            wb.append(time_to_200([sys.executable, "app.py", "--port", str(port), "--workspace",
                                   os.path.join(tmp, f"ws{i}")], port))
    w, b = statistics.median(wb), statistics.median(bare)
    print(json.dumps({"bench": "startup", "workbench_s": round(w, 3), "bare_gradio_s": round(b, 3),
                      "ratio": round(w / b, 3), "target_ratio": 1.5, "repeats": args.repeats,
                      "workbench_runs_s": [round(x, 3) for x in wb], "bare_runs_s": [round(x, 3) for x in bare]}))


if __name__ == "__main__":
    main()
