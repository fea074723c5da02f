"""The environment, checked live: CPU and memory, each CUDA GPU, the versions of the core stack, and for each
optional package whether it is installed and usable here, why not, and what it would enable in this app.

"Installed" is answered cheaply (importlib.metadata / importlib.util.find_spec, nothing imported). "Usable" is
answered by a rule where one suffices (a package that needs an NVIDIA GPU on a machine without one) and otherwise by
importing the package in a child process with a timeout, so a broken or slow package cannot hang the app. Import
results are remembered per process for the same installed version (`fresh=True` checks again).
"""
from __future__ import annotations

import importlib.metadata as md
import importlib.util
import json
import os
import platform
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..i18n import Text, both, say

# The core stack (requirements.txt): the version of each, from its metadata (nothing imported).
CORE = ("torch", "transformers", "tokenizers", "peft", "trl", "bitsandbytes", "gradio", "datasets", "accelerate",
        "safetensors", "sentencepiece", "kiwipiepy")


@dataclass(frozen=True)
class Optional_:
    """An optional package: its distribution names (the first one found counts), its import name, whether what it
    does for this app needs an NVIDIA GPU, what it enables, and how to get it."""
    key: str
    dists: tuple[str, ...]
    module: str
    needs_cuda: bool
    enables: Text
    install: str


OPTIONAL: tuple[Optional_, ...] = (
    Optional_("nemo_toolkit", ("nemo_toolkit", "nemo-toolkit"), "nemo", True,
              say("NeMo training recipes for pretraining and fine-tuning across many GPUs and nodes",
                  "여러 GPU·여러 노드에서 사전학습·미세조정을 하는 NeMo 학습 레시피"),
              "pip install 'nemo_toolkit>=3.0'"),
    Optional_("nemo_curator", ("nemo_curator", "nemo-curator"), "nemo_curator", False,
              say("Corpus: the NeMo Curator backend (a Ray pipeline of its text filters; runs on CPU)",
                  "말뭉치: NeMo Curator 백엔드 (텍스트 필터를 Ray 파이프라인으로; CPU에서 동작)"),
              "pip install 'nemo_curator>=1.4'"),
    Optional_("cudf", ("cudf", "cudf-cu12", "cudf-cu13"), "cudf", True,
              say("Corpus: NeMo Curator's GPU fuzzy deduplication (cuDF)",
                  "말뭉치: NeMo Curator의 GPU 유사 중복 제거 (cuDF)"),
              "pip install cudf-cu12 (RAPIDS, on a CUDA machine)"),
    Optional_("nemo_run", ("nemo_run", "nemo-run"), "nemo_run", False,
              say("launching pretraining and fine-tuning as a NeMo-Run experiment (local, or a Slurm script)",
                  "사전학습·미세조정을 NeMo-Run 실험으로 실행 (로컬, 또는 Slurm 스크립트)"),
              "pip install nemo-run"),
    Optional_("mamba_ssm", ("mamba-ssm", "mamba_ssm"), "mamba_ssm", True,
              say("Architecture/Pretrain: the CUDA selective-scan kernels for Mamba and Mamba2 (without them "
                  "transformers uses a slow pure-PyTorch scan)",
                  "아키텍처/사전학습: Mamba·Mamba2의 CUDA 선택적 스캔 커널 (없으면 transformers가 느린 순수 "
                  "PyTorch 스캔을 씀)"),
              "pip install 'mamba-ssm>=2.2' (needs CUDA and triton)"),
    Optional_("causal_conv1d", ("causal-conv1d", "causal_conv1d"), "causal_conv1d", True,
              say("Architecture/Pretrain: the fast causal convolution of Mamba's block",
                  "아키텍처/사전학습: Mamba 블록의 빠른 인과 합성곱"),
              "pip install 'causal-conv1d>=1.4' (needs CUDA)"),
    Optional_("tensorrt_llm", ("tensorrt_llm", "tensorrt-llm"), "tensorrt_llm", True,
              say("Optimize: the tensorrt-llm method (a TensorRT-LLM engine and a Triton model repository)",
                  "최적화: tensorrt-llm 방법 (TensorRT-LLM 엔진과 Triton 모델 저장소)"),
              "NVIDIA's NGC image or index (see the Dockerfile); the PyPI entry is a stub"),
    Optional_("fla", ("flash-linear-attention", "fla-core"), "fla", True,
              say("triton kernels for RWKV-style linear attention", "RWKV 계열 선형 어텐션의 triton 커널"),
              "pip install 'flash-linear-attention>=0.2' (its layers need triton on a GPU)"),
    Optional_("triton", ("triton",), "triton", True,
              say("GPU kernels: torch.compile on a GPU, and what mamba-ssm and flash-linear-attention build on",
                  "GPU 커널: GPU에서의 torch.compile, 그리고 mamba-ssm·flash-linear-attention의 기반"),
              "comes with the CUDA build of torch"),
    Optional_("torchao", ("torchao",), "torchao", False,
              say("Optimize benchmark: torchao int8 (dynamic and weight-only) beside torch and ONNX Runtime "
                  "(bench/optimize_bench.py)",
                  "최적화 벤치마크: torchao int8 (동적, 가중치 전용)을 torch·ONNX Runtime과 나란히 "
                  "(bench/optimize_bench.py)"),
              "pip install torchao"),
    Optional_("onnxruntime", ("onnxruntime", "onnxruntime-gpu"), "onnxruntime", False,
              say("Optimize: the onnx-fp32 and onnx-int8 methods (served by ONNX Runtime on the CPU)",
                  "최적화: onnx-fp32, onnx-int8 방법 (ONNX Runtime으로 CPU에서 실행)"),
              "pip install 'onnxruntime>=1.20'"),
    Optional_("onnx", ("onnx",), "onnx", False,
              say("Optimize: the int8 pass of the onnx-int8 method", "최적화: onnx-int8 방법의 int8 변환"),
              "pip install 'onnx>=1.17'"),
    Optional_("optimum", ("optimum", "optimum-onnx"), "optimum", False,
              say("nothing this app needs: its Optimize stage exports ONNX with its own code (Hugging Face Optimum "
                  "is another exporter)",
                  "이 앱에는 필요 없음: 최적화 단계가 ONNX를 자체 코드로 내보냄 (Hugging Face Optimum은 다른 "
                  "내보내기 도구)"),
              "pip install optimum"),
    Optional_("lm_eval", ("lm_eval", "lm-eval"), "lm_eval", False,
              say("Evaluate: the tests check the few-shot scorer against lm-evaluation-harness",
                  "평가: 퓨샷 채점기를 lm-evaluation-harness와 맞춰 보는 테스트"),
              "pip install 'lm-eval>=0.4.8,<0.5'"),
    Optional_("huggingface_hub", ("huggingface_hub", "huggingface-hub"), "huggingface_hub", False,
              say("Hugging Face Hub: datasets and models by name (with a network), and pushing artifacts to the Hub",
                  "Hugging Face Hub: 이름으로 데이터셋·모델 받기 (네트워크 필요), 산출물을 Hub에 올리기"),
              "pip install huggingface_hub"),
)

# (module, version) -> (usable, why-not as a Text or None, seconds the import took)
_PROBES: dict[tuple[str, str | None], tuple[bool, Text | None, float]] = {}
_PROBE_LOCK = threading.Lock()


def version_of(*dists: str) -> str | None:
    for d in dists:
        try:
            return md.version(d)
        except md.PackageNotFoundError:
            continue
    return None


def _find_spec(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def cuda_devices() -> dict:
    """{"available", "torch_cuda", "gpus": [{index, name, memory_gb, compute_capability, bf16}], "mps", "error"}."""
    out = {"available": False, "torch_cuda": None, "gpus": [], "mps": False}
    try:
        import torch
    except Exception as e:  # noqa: BLE001 - reported, not raised: the page still shows the rest
        out["error"] = f"import torch failed: {type(e).__name__}: {e}"
        return out
    out["torch_cuda"] = torch.version.cuda
    try:
        out["mps"] = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
        if torch.cuda.is_available():
            out["available"] = True
            for i in range(torch.cuda.device_count()):
                p = torch.cuda.get_device_properties(i)
                out["gpus"].append({"index": i, "name": p.name, "memory_gb": round(p.total_memory / 2 ** 30, 1),
                                    "compute_capability": f"{p.major}.{p.minor}",
                                    "bf16": p.major >= 8})  # bf16 tensor cores from Ampere (8.0) on
    except Exception as e:  # noqa: BLE001 - a broken driver is a finding, not a crash
        out["error"] = f"{type(e).__name__}: {e}"
    return out


def machine() -> dict:
    import psutil
    vm = psutil.virtual_memory()
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    return {"python": platform.python_version(), "platform": platform.platform(terse=True),
            "executable": sys.executable, "cpu_cores": os.cpu_count(), "cpu_cores_usable": usable,
            "cpu_model": _cpu_model(), "memory_gb": round(vm.total / 2 ** 30, 1),
            "memory_available_gb": round(vm.available / 2 ** 30, 1)}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def core_packages() -> list[dict]:
    out = []
    for name in CORE:
        v = version_of(name)
        row = {"package": name, "installed": v is not None, "version": v}
        if v is None:
            row["why"] = both(say("not installed: pip install -r requirements.txt",
                                  "설치되지 않음: pip install -r requirements.txt"))
        out.append(row)
    return out


def _child(code: str, timeout: float) -> subprocess.CompletedProcess:
    """Run `python -c code` with this interpreter, the project importable, warnings off; raises TimeoutExpired."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONWARNINGS="ignore", TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.pathsep.join(
        [root] + [x for x in os.environ.get("PYTHONPATH", "").split(os.pathsep) if x]))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL, cwd=root)


def probe_import(module: str, timeout: float) -> tuple[bool, Text | None, float]:
    """Import `module` in a child process (the same interpreter): (ok, why not, seconds)."""
    t0 = time.perf_counter()
    try:
        p = _child(f"import importlib; importlib.import_module({module!r})", timeout)
    except subprocess.TimeoutExpired:
        return False, say("importing {m} took longer than {s:g} s and was stopped",
                          "{m} 가져오기(import)가 {s:g}초를 넘겨 멈췄습니다", m=module, s=timeout), timeout
    secs = round(time.perf_counter() - t0, 2)
    if p.returncode == 0:
        return True, None, secs
    lines = [ln.strip() for ln in (p.stderr or "").splitlines() if ln.strip()]
    err = next((ln for ln in reversed(lines) if "Error" in ln or "error" in ln), lines[-1] if lines else
               f"exit code {p.returncode}")
    return False, say("installed, but importing it fails: {e}", "설치되어 있지만 가져오기(import)가 실패합니다: {e}",
                      e=err[:300]), secs


def _probe_cached(module: str, version: str | None, timeout: float, fresh: bool):
    key = (module, version)
    with _PROBE_LOCK:
        if not fresh and key in _PROBES:
            return _PROBES[key]
    res = probe_import(module, timeout)
    with _PROBE_LOCK:
        _PROBES[key] = res
    return res


def _needs_probe(o: Optional_, cuda: bool | None) -> tuple[bool, str | None, Text | None]:
    """(installed, version, why not without importing it) for one optional package."""
    v = version_of(*o.dists)
    installed = v is not None or _find_spec(o.module)
    if not installed:
        return False, v, say("not installed", "설치되지 않음")
    if o.needs_cuda and cuda is False:
        return True, v, say("needs an NVIDIA GPU (CUDA); this machine has none",
                            "NVIDIA GPU(CUDA)가 필요한데 이 컴퓨터에는 없음")
    return True, v, None


def optional_packages(cuda: bool | None, *, timeout: float = 60.0, fresh: bool = False, workers: int = 4,
                      wait: bool = True) -> list[dict]:
    """One row per OPTIONAL package: installed (and version), usable here, why not, what it enables, how to get it.

    cuda None: not known yet (the rows that depend on it stay pending). wait False: an import not checked yet is
    left pending (`usable` None) instead of checked now."""
    rows, to_probe = [], []
    for o in OPTIONAL:
        installed, v, why = _needs_probe(o, cuda)
        row = {"package": o.key, "module": o.module, "installed": installed, "version": v, "needs_cuda": o.needs_cuda,
               "usable": False, "why": both(why) if why is not None else None, "enables": both(o.enables),
               "install": o.install}
        if installed and why is None:
            if o.needs_cuda and cuda is None:
                row["usable"] = None
            else:
                to_probe.append((row, o.module, v))
        rows.append(row)
    if not wait:
        for row, module, v in to_probe:
            got = _PROBES.get((module, v))
            if got is None:
                row["usable"] = None
            else:
                row["usable"], row["why"], row["import_seconds"] = got[0], both(got[1]) if got[1] else None, got[2]
        return rows
    if to_probe:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(to_probe)))) as pool:
            results = list(pool.map(lambda t: _probe_cached(t[1], t[2], timeout, fresh), to_probe))
        for (row, _, _), (ok, why, secs) in zip(to_probe, results):
            row["usable"], row["import_seconds"] = ok, secs
            row["why"] = both(why) if why is not None else None
    return rows


_CUDA: dict | None = None  # cuda_devices() of this process (a GPU does not come and go while the app runs)
_BACKGROUND: dict = {"thread": None}


def _cuda(fresh: bool) -> dict:
    global _CUDA
    if _CUDA is None or fresh:
        _CUDA = cuda_devices() if "torch" in sys.modules else cuda_devices_in_child()
    return _CUDA


def cuda_devices_in_child(timeout: float = 120.0) -> dict:
    """cuda_devices() asked of a child process: the app does not import torch (1-2 s and hundreds of MB) nor
    initialise CUDA just to show the environment; the stages import it when they run."""
    try:
        p = _child("import json; from workbench.home.env import cuda_devices; print(json.dumps(cuda_devices()))",
                   timeout)
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, ValueError, IndexError) as e:
        return {"available": False, "torch_cuda": None, "gpus": [], "mps": False,
                "error": f"checking the GPUs in a child process failed: {type(e).__name__}"}


def _check_in_background(timeout: float, fresh: bool) -> None:
    """Fill the caches (torch's view of the GPUs, each import check) in a thread, once at a time."""
    with _PROBE_LOCK:
        t = _BACKGROUND["thread"]
        if t is not None and t.is_alive():
            return
        t = threading.Thread(target=lambda: optional_packages(_cuda(fresh)["available"], timeout=timeout, fresh=fresh),
                             name="workbench-env-check", daemon=True)
        _BACKGROUND["thread"] = t
    t.start()


def report(*, timeout: float = 60.0, fresh: bool = False, wait: bool = True) -> dict:
    """The whole environment as a JSON-ready dict (what `python -m workbench env` prints).

    fresh: check every import again (else an import already checked in this process for the same version is
    reused). wait False (the app): answer at once with what is known, and check the rest in a background thread;
    `complete` says whether anything is still pending (call again later)."""
    t0 = time.perf_counter()
    if fresh:
        with _PROBE_LOCK:
            _PROBES.clear()
        global _CUDA
        if wait:
            _CUDA = None
    if wait or _CUDA is not None or "torch" in sys.modules:
        cuda = _cuda(fresh and wait)
    else:
        cuda = None
    if not wait and fresh:
        _check_in_background(timeout, True)
    rows = optional_packages(cuda["available"] if cuda else None, timeout=timeout, fresh=fresh, wait=wait)
    complete = cuda is not None and all(r["usable"] is not None for r in rows)
    if not complete and not fresh:
        _check_in_background(timeout, False)
    out = {"machine": machine(), "cuda": cuda or {"available": None, "pending": True, "gpus": []},
           "core": core_packages(), "optional": rows, "complete": complete}
    out["counts"] = {"optional": len(rows), "installed": sum(bool(r["installed"]) for r in rows),
                     "usable": sum(r["usable"] is True for r in rows), "gpus": len(out["cuda"]["gpus"])}
    out["check_seconds"] = round(time.perf_counter() - t0, 2)
    return out


def summary_line(rep: dict) -> Text:
    """One sentence: the machine and what of the optional stack works here."""
    m, c, n = rep["machine"], rep["cuda"], rep["counts"]
    gpus = ", ".join(f"{g['name']} ({g['memory_gb']} GB)" for g in c["gpus"])
    if c.get("pending"):
        dev = say("GPUs: being checked", "GPU: 확인 중")
    elif gpus:
        dev = say("GPU: {g}", "GPU: {g}", g=gpus)
    else:
        dev = say("no CUDA GPU: everything runs on the CPU", "CUDA GPU 없음: 모두 CPU에서 실행")
    return say("{cores} CPU cores, {mem} GB memory; {dev}; optional packages: {u} of {n} usable here, {i} installed",
               "CPU {cores}코어, 메모리 {mem} GB; {dev}; 선택 패키지: {n}개 중 {u}개 사용 가능, {i}개 설치됨",
               cores=m["cpu_cores_usable"], mem=m["memory_gb"], dev=dev, u=n["usable"], n=n["optional"],
               i=n["installed"])
