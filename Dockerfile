# Korean LLM Workbench on a GPU machine: NVIDIA's NGC PyTorch image (CUDA, cuDNN, NCCL, a CUDA
# build of torch), plus the core stack and the GPU / scale-out extras.
#   docker build -t korean-llm-workbench .
#   docker run --gpus all -p 7860:7860 -v $PWD/workspace:/workspace korean-llm-workbench
FROM nvcr.io/nvidia/pytorch:25.10-py3

ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 WORKBENCH_WORKSPACE=/workspace
RUN apt-get update && apt-get install -y --no-install-recommends fonts-nanum default-jre-headless \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt requirements-gpu.txt ./
# The image's torch satisfies requirements.txt's range, so its CUDA build stays in place.
RUN pip install -r requirements.txt \
    && pip install -r requirements-gpu.txt \
    && (pip install --extra-index-url https://pypi.nvidia.com tensorrt_llm \
        || echo "tensorrt_llm not installed: the Optimize stage will say so and use the other backends")
COPY . .

VOLUME /workspace
EXPOSE 7860
# Inside the container the app must listen on all interfaces; publish the port only where you mean to.
CMD ["python", "app.py", "--host", "0.0.0.0", "--port", "7860", "--workspace", "/workspace"]
