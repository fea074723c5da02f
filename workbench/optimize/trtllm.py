"""NVIDIA serving path: a TensorRT-LLM engine built through its Python LLM API, and a Triton Inference Server model
repository (config.pbtxt + the engine) for the TensorRT-LLM backend.

Both need an NVIDIA GPU and the `tensorrt_llm` package (the Dockerfile's NGC image installs it). Everywhere else
`missing()` says exactly what is absent and `gpu_command()` the command that runs the same job on a GPU machine;
the repository writer is plain file work and runs (and is tested) anywhere."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from ..errors import UserError
from ..i18n import Text, say

IMAGE = "korean-llm-workbench"  # the Dockerfile's image (docker build -t korean-llm-workbench .)


def missing() -> list[Text]:
    """What this machine lacks for a TensorRT-LLM build (empty: it can build)."""
    from ..devices import cuda_present  # answers without importing torch (the tab asks at app start)
    out = []
    if not cuda_present():
        out.append(say("an NVIDIA GPU (none is visible here)", "NVIDIA GPU (여기서는 보이지 않음)"))
    if importlib.util.find_spec("tensorrt_llm") is None:
        out.append(say("the tensorrt_llm package (installed from NVIDIA's index in the Dockerfile's NGC image)",
                       "tensorrt_llm 패키지 (Dockerfile 의 NGC 이미지에서 NVIDIA 인덱스로 설치됨)"))
    return out


def gpu_command(model_ref: str, name: str) -> str:
    return (f"docker run --gpus all -v $PWD/workspace:/workspace {IMAGE} python -m workbench optimize "
            f"--set model={model_ref} --set method=tensorrt-llm --set output_name={name}")


def refuse_without_gpu(model_ref: str, name: str) -> None:
    lacking = missing()
    if lacking:
        cmd = gpu_command(model_ref, name)
        raise UserError(say("a TensorRT-LLM engine cannot be built on this machine: it lacks {m}. On a machine with an "
                            "NVIDIA GPU, the same job is: {c}",
                            "이 컴퓨터에서는 TensorRT-LLM 엔진을 만들 수 없습니다: {mk} 이(가) 없습니다. NVIDIA GPU 가 있는 "
                            "컴퓨터에서는 같은 작업이: {c}", m="; ".join(lacking),
                            mk="; ".join(t.ko for t in lacking), c=cmd))


def build_engine(hf_folder: Path, engine_dir: Path, *, max_batch: int, max_input_len: int, max_output_len: int) -> dict:
    """Build and save a TensorRT-LLM engine from a Hugging Face folder with the LLM API."""
    from tensorrt_llm import LLM, BuildConfig  # noqa: PLC0415 - only on a GPU machine that has it
    build = BuildConfig(max_batch_size=max_batch, max_input_len=max_input_len,
                        max_seq_len=max_input_len + max_output_len)
    llm = LLM(model=str(hf_folder), build_config=build)
    llm.save(str(engine_dir))
    return {"engine_dir": str(engine_dir), "max_batch": max_batch, "max_input_len": max_input_len,
            "max_output_len": max_output_len}


CONFIG_PBTXT = """name: "{name}"
backend: "tensorrtllm"
max_batch_size: {max_batch}

model_transaction_policy {{
  decoupled: true
}}

input [
  {{ name: "input_ids" data_type: TYPE_INT32 dims: [ -1 ] allow_ragged_batch: true }},
  {{ name: "input_lengths" data_type: TYPE_INT32 dims: [ 1 ] reshape: {{ shape: [ ] }} }},
  {{ name: "request_output_len" data_type: TYPE_INT32 dims: [ 1 ] reshape: {{ shape: [ ] }} }},
  {{ name: "end_id" data_type: TYPE_INT32 dims: [ 1 ] reshape: {{ shape: [ ] }} optional: true }},
  {{ name: "pad_id" data_type: TYPE_INT32 dims: [ 1 ] reshape: {{ shape: [ ] }} optional: true }},
  {{ name: "streaming" data_type: TYPE_BOOL dims: [ 1 ] reshape: {{ shape: [ ] }} optional: true }}
]
output [
  {{ name: "output_ids" data_type: TYPE_INT32 dims: [ -1, -1 ] }},
  {{ name: "sequence_length" data_type: TYPE_INT32 dims: [ -1 ] }}
]
instance_group [
  {{ count: 1 kind: KIND_CPU }}
]
parameters: {{ key: "gpt_model_type" value: {{ string_value: "inflight_fused_batching" }} }}
parameters: {{ key: "gpt_model_path" value: {{ string_value: "{engine_path}" }} }}
parameters: {{ key: "batch_scheduler_policy" value: {{ string_value: "max_utilization" }} }}
parameters: {{ key: "max_tokens_in_paged_kv_cache" value: {{ string_value: "{kv_tokens}" }} }}
"""


def triton_repository(engine_dir: Path, repo: Path, *, name: str = "tensorrt_llm", max_batch: int = 8,
                      max_seq_len: int = 768) -> Path:
    """A Triton model repository for the TensorRT-LLM backend: <repo>/<name>/config.pbtxt and the engine in
    <repo>/<name>/1/. Token ids in, token ids out (the client tokenizes with the model's tokenizer, shipped beside
    it in <repo>/tokenizer/). `tritonserver --model-repository <repo>` serves it."""
    if not Path(engine_dir).is_dir():
        raise UserError(say("no engine at {e}: build it first", "{e} 에 엔진이 없습니다. 먼저 만드세요", e=str(engine_dir)))
    model_dir = Path(repo) / name
    version = model_dir / "1"
    version.mkdir(parents=True, exist_ok=True)
    for f in Path(engine_dir).iterdir():
        if f.is_file():
            shutil.copy2(f, version / f.name)
    text = CONFIG_PBTXT.format(name=name, max_batch=max_batch, engine_path=f"/models/{name}/1",
                               kv_tokens=max_batch * max_seq_len)
    (model_dir / "config.pbtxt").write_text(text, encoding="utf-8")
    return model_dir
