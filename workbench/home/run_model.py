"""The first exercise: run a model with a `transformers` text-generation pipeline and time it.

The model is the workspace's newest causal-LM `model` artifact (or the one named), else a tiny random Llama built
here on the spot with a small BPE tokenizer trained on the bundled Korean text: its text is noise, and it proves
that the stack (tokenizers, torch, transformers) runs on this machine.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from ..errors import UserError
from ..i18n import both, say

DEFAULT_PROMPT = "대한민국 헌법은"
RANDOM_NOTE = say("a random model built here: its text is noise; it proves the stack runs",
                  "여기서 만든 무작위 모델입니다: 출력은 의미 없는 잡음이고, 전체 스택이 돌아간다는 것만 보여 줍니다")


def causal_lm_folder(path: str | Path) -> bool:
    """A folder a text-generation pipeline can load: a causal-LM config, safetensors weights, not quantized."""
    p = Path(path)
    try:
        cfg = json.loads((p / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    archs = cfg.get("architectures") or []
    return (any(str(a).endswith("ForCausalLM") for a in archs) and "quantization_config" not in cfg
            and any(p.glob("*.safetensors")))


def newest_causal_lm(ws):
    """The newest `model` artifact whose folder is a plain causal LM (not a classifier, not a quantized model)."""
    for art in ws.store.list_artifacts("model"):
        if (art.meta or {}).get("quantization"):
            continue
        if causal_lm_folder(art.path):
            return art
    return None


def _tokenizer_path(ws, path: Path, art) -> Path:
    if (path / "tokenizer.json").is_file() or (path / "tokenizer_config.json").is_file():
        return path
    if art is not None:
        for a in ws.store.lineage(art.id):
            if a.kind == "tokenizer" and Path(a.path).is_dir():
                return Path(a.path)
    raise UserError(say("model '{m}' has no tokenizer in its folder nor among its parents: re-create it with a "
                        "tokenizer (the Pretrain stage saves one beside the weights)",
                        "모델 '{m}' 의 폴더에도, 부모 산출물에도 토크나이저가 없습니다. 토크나이저와 함께 다시 만드세요 "
                        "(사전학습 단계는 가중치 옆에 토크나이저를 저장합니다)", m=str(path)))


def tiny_random_model(seed: int = 0, lines: int = 400, vocab_size: int = 600):
    """(model, tokenizer): a 2-layer, 64-wide random Llama and a byte-level BPE trained on the bundled text."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from ..bundled import konlpy_lines
    from ..tokenizer.quick import quick_bpe
    texts = konlpy_lines()[:lines]
    if not texts:
        raise UserError("the bundled Korean text (konlpy's corpora) is not installed: pip install konlpy",
                        ko="기본 한국어 텍스트(konlpy 말뭉치)가 설치되어 있지 않습니다: pip install konlpy")
    tok = quick_bpe(texts, vocab_size)
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    return LlamaForCausalLM(cfg), tok


def _device(choice: str) -> str:
    import torch
    if choice in ("", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise UserError("device cuda was asked for, but torch sees no CUDA GPU here: choose auto or cpu",
                        ko="장치로 cuda를 골랐지만 torch가 CUDA GPU를 찾지 못했습니다: auto나 cpu를 고르세요")
    return choice


def run_model(ws, *, model: str = "", prompt: str = DEFAULT_PROMPT, max_new_tokens: int = 32,
              device: str = "auto", seed: int = 0) -> dict:
    """Generate `max_new_tokens` (at most) after `prompt` with a text-generation pipeline; report the model, the
    device, tokens generated, seconds, tokens/s and the text. `model`: an artifact name/id or folder; empty = the
    workspace's newest causal LM, or a tiny random model when there is none."""
    if not prompt.strip():
        raise UserError("the prompt is empty: write a few words for the model to continue",
                        ko="프롬프트가 비어 있습니다: 모델이 이어 쓸 말을 몇 단어 쓰세요")
    if not 1 <= int(max_new_tokens) <= 1024:
        raise UserError(f"max_new_tokens must be between 1 and 1024 (got {max_new_tokens})",
                        ko=f"최대 생성 토큰 수는 1 이상 1024 이하여야 합니다 (입력: {max_new_tokens})")
    t0 = time.perf_counter()
    dev = _device(device)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

    art = None
    if model.strip():
        from ..artifacts import resolve
        path, art = resolve(ws, "model", model, "model")
        if not causal_lm_folder(path):
            raise UserError(say("'{m}' is not a causal language model a text-generation pipeline can load (a "
                                "classifier, a quantized model or an adapter?): pick a pretrained or fine-tuned "
                                "causal LM, or leave the model empty",
                                "'{m}' 은(는) 텍스트 생성 파이프라인이 불러올 수 있는 인과 언어 모델이 아닙니다 "
                                "(분류기, 양자화 모델, 어댑터?). 사전학습·미세조정한 인과 언어 모델을 고르거나 비워 두세요",
                                m=model))
    else:
        art = newest_causal_lm(ws) if ws is not None else None
        path = Path(art.path) if art is not None else None
    if path is not None:
        dtype = torch.float32
        if dev == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        tok = AutoTokenizer.from_pretrained(_tokenizer_path(ws, Path(path), art))
        mdl = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        source = {"kind": "artifact" if art is not None else "folder", "path": str(path),
                  "id": art.id if art is not None else None, "name": art.name if art is not None else Path(path).name}
        note = None
    else:
        mdl, tok = tiny_random_model(seed)
        source = {"kind": "random", "path": None, "id": None, "name": "tiny-random-llama"}
        note = RANDOM_NOTE
    mdl.eval()
    gen = pipeline("text-generation", model=mdl, tokenizer=tok, device=dev)
    load_s = time.perf_counter() - t0
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    torch.manual_seed(seed)
    if dev == "cuda":
        torch.cuda.synchronize()
    t1 = time.perf_counter()
    out = gen(prompt, max_new_tokens=int(max_new_tokens), do_sample=True, top_k=50, temperature=0.8,
              return_tensors=True, pad_token_id=pad)
    if dev == "cuda":
        torch.cuda.synchronize()
    gen_s = time.perf_counter() - t1
    ids = list(out[0]["generated_token_ids"])
    # the prompt as the pipeline encoded it (with or without the tokenizer's special tokens) starts the sequence
    cands = [tok(prompt)["input_ids"], tok(prompt, add_special_tokens=False)["input_ids"]]
    n_prompt = len(next((c for c in cands if ids[:len(c)] == list(c)), cands[0]))
    new_ids = ids[n_prompt:]
    text = tok.decode(new_ids, skip_special_tokens=True)
    n_params = sum(p.numel() for p in mdl.parameters())
    return {"model": source, "note": both(note) if note is not None else None, "device": str(gen.device),
            "dtype": str(next(mdl.parameters()).dtype).replace("torch.", ""), "params": n_params,
            "prompt": prompt, "prompt_tokens": n_prompt, "new_tokens": len(new_ids),
            "seconds": round(gen_s, 3), "tokens_per_s": round(len(new_ids) / gen_s, 1) if gen_s > 0 else None,
            "load_seconds": round(load_s, 2), "text": text, "torch_threads": torch.get_num_threads(),
            "sampling": {"do_sample": True, "top_k": 50, "temperature": 0.8, "seed": seed}}
