"""The steps of the chain, the stage each one runs, and the two presets (each step's config fields as `--set` values).

demo: the bundled data (konlpy's constitution and bills, the team-written everyday text, instructions and preference
pairs), sized to finish in minutes on 2 CPU cores and end with a model that answers in Korean: the SFT step runs ~50
epochs of the 96 training instructions so the model recites their answers and learns where an answer ends, and the
align step's learning rate is low (1e-4) because 5e-4 undid that end of the answer (measured: the reply ran on).
workshop: the real data of a ../shared/data-like folder with each stage's own defaults (an hour or more on a CPU)."""
from __future__ import annotations

# step -> (stage, kinds of artifact it makes; None: no artifact)
STEP_STAGE = {"corpus": ("corpus", ("corpus",)), "tokenizer": ("tokenizer", ("tokenizer",)),
              "pretrain": ("pretrain", ("model",)), "sft": ("finetune", ("model", "adapter")),
              "align": ("align", ("model", "adapter")), "optimize": ("optimize", ("model",)),
              "evaluate": ("eval", ("eval",)), "chat": ("chat", None)}
STEPS = list(STEP_STAGE)
# the config field that names a step's output
OUTPUT_FIELD = {"corpus": "name", "tokenizer": "name", "pretrain": "output_name", "sft": "output_name",
                "align": "output_name", "optimize": "output_name", "evaluate": "output_name"}

DEMO = {
    "corpus": {"inputs": ["bundled:konlpy", "bundled:everyday"], "validation_fraction": 0.05},
    "tokenizer": {"algorithm": "hf-bpe-char", "vocab_size": 3000},
    "pretrain": {"arch.family": "llama", "arch.depth": 4, "arch.width": 192, "arch.heads": 3, "arch.context": 256,
                 "seq_len": 128, "batch_size": 16, "max_steps": 400, "warmup_steps": 20, "lr": 3e-3,
                 "eval_every": 100, "sample_every": 0, "save_every": 200},
    "sft": {"task": "sft", "data": "", "method": "full", "max_steps": 300, "batch_size": 16, "lr": 1e-3,
            "warmup_steps": 10, "eval_every": 100, "max_length": 128, "save_every": 1000},
    "align": {"data": "", "method": "lora", "max_steps": 40, "eval_every": 20, "batch_size": 8, "lr": 1e-4,
              "compare_prompts": 2, "compare_tokens": 24, "save_every": 1000},
    "optimize": {"method": "int8-dynamic", "n_prompts": 4, "new_tokens": 16, "batch_sizes": [1]},
    "evaluate": {"task": "perplexity", "max_rows": 200},
    "chat": {"temperature": 0.0, "max_new_tokens": 48, "repetition_penalty": 1.0},
}
WORKSHOP = {
    "corpus": {"inputs": ["{data_dir}/pretrain"]},
    "tokenizer": {},
    "pretrain": {},
    "sft": {"task": "sft", "data": "{data_dir}/instruct/chatbot_data.jsonl", "method": "lora"},
    "align": {"data": "{data_dir}/preference/chatbot_data_synthetic_pairs.jsonl"},
    "optimize": {"method": "int8-dynamic"},
    "evaluate": {"task": "perplexity"},
    "chat": {"temperature": 0.0},
}
PRESETS = {"demo": DEMO, "workshop": WORKSHOP}
# what the workshop preset needs in data_dir
WORKSHOP_FILES = {"corpus": "pretrain", "sft": "instruct/chatbot_data.jsonl",
                  "align": "preference/chatbot_data_synthetic_pairs.jsonl"}
# a step's key figure: the first of these its run's summary holds
FIGURES = {
    "corpus": ("docs_out",), "tokenizer": ("vocab_size", "fertility"),
    "pretrain": ("val_loss", "val_bpb", "train_loss"), "sft": ("val_loss", "test_loss", "val_bpb"),
    "align": ("test_reward_accuracy", "val_rewards_accuracies", "train_loss"),
    "optimize": ("speedup_decode", "size_ratio"), "evaluate": ("bpb", "ppl"),
    "chat": ("hangul_ratio",),
}
