"""The registry of stages: name -> module holding its `STAGE` object.

Modules are imported only when a stage is used, so `--help` and the app's first
page never pay for torch or transformers.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
from dataclasses import dataclass
from typing import Any, Callable

from .config import StageConfig
from .runtime import RunContext

# name -> (module, one-line description). Order is lifecycle order.
REGISTRY: dict[str, tuple[str, str]] = {
    "env": ("workbench.home.stage", "the environment checked live (CPU, GPUs, packages: installed, usable, why "
                                    "not) and a model run once; what the Home tab shows"),
    "corpus": ("workbench.corpus.stage", "load, clean, filter and deduplicate Korean text into a corpus artifact"),
    "tokenizer": ("workbench.tokenizer.stage", "train a Korean tokenizer (BPE, Unigram, WordPiece, SentencePiece)"),
    "tokenizer-compare": ("workbench.tokenizer.compare_stage",
                          "compare tokenizers on held-out text: fertility, morpheme F1, throughput"),
    "arch": ("workbench.arch.stage", "measure model families: step time, memory, scaling; same-data race"),
    "pretrain": ("workbench.pretrain.stage", "pretrain a causal language model from scratch"),
    "finetune": ("workbench.finetune.stage", "fine-tune a model (full, LoRA, DoRA, WaveFT, QLoRA, ...) on a Korean task"),
    "eval": ("workbench.evaluate.stage", "evaluate models: Korean benchmarks, few-shot scoring, perplexity, generation, "
                                         "prompt templates"),
    "optimize": ("workbench.optimize.stage", "quantize a model (int8, 4-bit, TensorRT-LLM) and measure it before and "
                                             "after"),
    "align": ("workbench.align.stage", "align a causal LM on preference pairs (DPO, KTO) with live reward curves"),
    "pipeline": ("workbench.pipeline.stage", "run the whole chain (corpus -> ... -> chat) as one run per step, reusing "
                                             "unchanged steps"),
    "launch": ("workbench.launch.stage", "write the files that start a training run on several machines (torchrun per "
                                         "node, Slurm, NeMo-Run, NeMo AutoModel); optionally start NeMo-Run here"),
    "chat": ("workbench.chat.stage", "generate a reply from a model artifact (or serve the OpenAI-compatible API)"),
    "export": ("workbench.share.stage", "export a model, adapter or tokenizer as a .zip / .tar.gz with a model card "
                                        "(lineage, data, config, evaluation figures)"),
    "push": ("workbench.share.push_stage", "push a model, adapter or tokenizer to the Hugging Face Hub (private by "
                                           "default; token from --set token=... or HF_TOKEN)"),
}

# Extra stages from the environment, "name=module,name2=module2" (plugins, and test fixtures).
for _item in filter(None, os.environ.get("WORKBENCH_EXTRA_STAGES", "").split(",")):
    _n, _m = _item.split("=", 1)
    REGISTRY[_n.strip()] = (_m.strip(), f"(extra stage from {_m.strip()})")


@dataclass
class Stage:
    name: str
    config: type[StageConfig]
    run: Callable[[StageConfig, RunContext], dict]
    help: str = ""
    # Which queue a run waits in: "cpu", "cuda:0", ... Stages without devices run on "cpu".
    device: Callable[[StageConfig], str] = lambda cfg: "cpu"
    # Stage-specific quick flags: add them to a parser, and turn parsed args into config updates.
    add_args: Callable[[argparse.ArgumentParser], None] | None = None
    args_to_updates: Callable[[argparse.Namespace], dict[str, Any]] | None = None
    # Whether the stage needs a workspace (for artifacts) even when run from the CLI.
    needs_workspace: bool = True
    # Checks that need the workspace but not the job (inputs exist, the output name is free), run when a run is
    # created: a queued run is refused at submit instead of failing after it waited its turn. Raises UserError.
    precheck: Callable[[StageConfig, Any], None] | None = None


def available() -> list[str]:
    """Stages whose module exists in this checkout (a stage appears only once it is built)."""
    out = []
    for name, (mod, _) in REGISTRY.items():
        if importlib.util.find_spec(mod.rsplit(".", 1)[0]) is not None:
            try:
                if importlib.util.find_spec(mod) is not None:
                    out.append(name)
            except ModuleNotFoundError:
                pass
    return out


def get(name: str) -> Stage:
    if name not in REGISTRY:
        raise KeyError(f"unknown stage '{name}': choose one of {', '.join(available())}")
    return importlib.import_module(REGISTRY[name][0]).STAGE
