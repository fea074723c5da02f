"""Optimize stage: the config (one source for form, CLI and validation), its checks, and STAGE.

One run quantizes one model (an adapter is merged into its base first), measures the original and the result on
the same prompts and text in the same run (each in a process of its own), and saves the result as a `model`
artifact whose metadata names the quantization, with lineage to the original. Importing this module imports no
torch or transformers."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import StageConfig, param
from ..devices import resolve_device
from ..i18n import say
from ..stages import Stage
from .quantize import CPU_ONLY, METHODS


@dataclass
class OptimizeConfig(StageConfig):
    model: str = param("", ko="모델", en="Model", help_ko="모델/어댑터 산출물 (이름이나 번호) 또는 모델 폴더. 어댑터는 먼저 "
                                                        "기본 모델에 병합합니다",
                       help_en="a model or adapter artifact (name or id) or a model folder; an adapter is merged into "
                               "its base first")
    method: str = param("int8-dynamic", ko="방법", en="Method", choices=METHODS,
                        help_ko="int8-dynamic: CPU 에서 빠른 torch 동적 int8 · onnx-int8 / onnx-fp32: ONNX 로 내보내 "
                                "ONNX Runtime 으로 CPU 서빙 (onnxruntime 필요) · bnb-int8: LLM.int8 · bnb-4bit: nf4/fp4 · "
                                "tensorrt-llm: NVIDIA GPU 엔진 + Triton",
                        help_en="int8-dynamic: torch dynamic int8, fast on CPUs · onnx-int8 / onnx-fp32: exported to "
                                "ONNX, served by ONNX Runtime on the CPU (needs onnxruntime) · bnb-int8: LLM.int8 · "
                                "bnb-4bit: nf4/fp4 · tensorrt-llm: an NVIDIA GPU engine + Triton")
    quant_type: str = param("nf4", ko="4비트 형식", en="4-bit type", choices=["nf4", "fp4"],
                            visible_when=("method", {"bnb-4bit"}))
    double_quant: bool = param(True, ko="이중 양자화", en="Double quantization", visible_when=("method", {"bnb-4bit"}))
    compute_dtype: str = param("fp32", ko="계산 자료형", en="Compute dtype", choices=["fp32", "bf16", "fp16"],
                               visible_when=("method", {"bnb-4bit"}),
                               help_ko="4비트 가중치를 풀어 계산할 자료형", help_en="the dtype 4-bit weights are computed in")
    data: str = param("", ko="평가 텍스트", en="Held-out text",
                      help_ko="퍼플렉서티를 잴 말뭉치 산출물 (validation 분할) 이나 텍스트 파일. 비우면 konlpy 의 헌법 텍스트",
                      help_en="a corpus artifact (its validation split) or a text file for perplexity; empty: konlpy's "
                              "constitution text")
    max_rows: int = param(200, ko="텍스트 줄 상한", en="Text lines (0 = all)", min=0)
    prompts: str = param("", ko="프롬프트 파일", en="Prompt file",
                         help_ko="지연 시간과 일치율을 잴 프롬프트 (JSONL/TSV). 비우면 함께 든 지시문 예제",
                         help_en="prompts for latency and greedy agreement (JSONL/TSV); empty: the bundled instructions")
    n_prompts: int = param(8, ko="프롬프트 수", en="Prompts", min=1, max=1000)
    new_tokens: int = param(32, ko="생성 토큰 수", en="New tokens per prompt", min=2, max=4096)
    batch_sizes: list[int] = param([1, 2, 4], ko="배치 크기들", en="Batch sizes (throughput)",
                                   help_ko="처리량을 잴 배치 크기 (예: 1,2,4,8)", help_en="e.g. 1,2,4,8")
    max_length: int = param(128, ko="퍼플렉서티 창 길이", en="Perplexity window (tokens)", min=8, max=131072)
    trt_max_batch: int = param(8, ko="TensorRT 최대 배치", en="TensorRT-LLM max batch", min=1,
                               visible_when=("method", {"tensorrt-llm"}))
    trt_max_input_len: int = param(512, ko="TensorRT 최대 입력", en="TensorRT-LLM max input tokens", min=8,
                                   visible_when=("method", {"tensorrt-llm"}))
    trt_max_output_len: int = param(256, ko="TensorRT 최대 출력", en="TensorRT-LLM max output tokens", min=1,
                                    visible_when=("method", {"tensorrt-llm"}))
    output_name: str = param("", ko="결과 이름", en="Output name", help_ko="비우면 <모델>-<방법>",
                             help_en="empty: <model>-<method>")
    overwrite: bool = param(False, ko="같은 이름 덮어쓰기", en="Overwrite an artifact of the same name")
    threads: int = param(0, ko="CPU 스레드 (0=전부)", en="CPU threads (0 = all cores)", min=0)
    device: str = param("auto", ko="장치", en="Device", choices=["auto", "cpu", "cuda"],
                        help_ko="bnb 는 GPU 가 있으면 GPU 에서 · int8-dynamic 은 CPU 전용",
                        help_en="bitsandbytes on the GPU when there is one · int8-dynamic is CPU only")

    @property
    def on_gpu(self) -> bool:
        return self.method.startswith("bnb") and resolve_device(self.device) == "cuda"

    def check(self) -> list[tuple[str, str]]:
        errors = []
        if not self.model.strip():
            errors.append(("model", say("not chosen: pick a model or adapter artifact, or give a model folder",
                                        "고르지 않았습니다. 모델/어댑터 산출물을 고르거나 모델 폴더를 주세요")))
        if not self.batch_sizes or any(b < 1 for b in self.batch_sizes):
            errors.append(("batch_sizes", say("give one or more batch sizes of at least 1 (e.g. 1,2,4)",
                                              "1 이상인 배치 크기를 하나 이상 주세요 (예: 1,2,4)")))
        if self.method in CPU_ONLY and self.device == "cuda":
            errors.append(("device", say("{m} runs on the CPU only: choose device cpu or auto, or a bnb method for the "
                                         "GPU", "{m} 은(는) CPU 에서만 돕니다. 장치를 cpu 나 auto 로 하거나, GPU 에서는 "
                                         "bnb 방법을 고르세요", m=self.method)))
        if self.method in ("onnx-int8", "onnx-fp32"):
            from .ort import available
            if available():
                errors.append(("method", say("{m} needs {w}; or choose int8-dynamic",
                                             "{m} 에는 {w} 이(가) 필요합니다. 아니면 int8-dynamic 을 고르세요",
                                             m=self.method, w=available())))
        return errors


def _precheck(cfg: OptimizeConfig, ws) -> None:
    """Before a run is queued: the model exists, a GPU-only method has its GPU, the output name is free."""
    from ..artifacts import output_name, refuse_quantized
    from ..chat.models import resolve
    ref = resolve(ws, cfg.model)
    refuse_quantized(ref.path, cfg.model, say("quantized again", "다시 양자화할 수는 없습니다"))
    if cfg.method == "tensorrt-llm":
        from .trtllm import refuse_without_gpu
        refuse_without_gpu(cfg.model, cfg.output_name or f"{ref.name}-trtllm")
    if cfg.output_name:
        output_name(ws, "model", cfg.output_name, overwrite=cfg.overwrite, stage="optimize")


def _run(cfg, ctx):
    from .run import run
    return run(cfg, ctx)


STAGE = Stage(name="optimize", config=OptimizeConfig, run=_run,
              device=lambda cfg: "cuda" if cfg.on_gpu or cfg.method == "tensorrt-llm" else "cpu",
              precheck=_precheck,
              help="Quantize a model (torch dynamic int8, ONNX Runtime fp32/int8, bitsandbytes 8-bit / 4-bit, TensorRT-LLM on a GPU) and "
                   "measure latency, throughput, memory, size and perplexity before and after in one run.")
