"""What a model costs on paper: pure arithmetic from its transformers config (no torch here).

Every figure is computed from the config object's attributes (the same object the model is
built from), so the tests can check each one against an instantiated model:
- parameters: total, embedding (token + learned position tables + an untied output head),
  non-embedding, and for MoE the parameters active for one token;
- FLOPs per token: forward at a context length, training (forward + backward = 3 x forward);
- bytes each generated token adds to the KV cache, or the constant recurrent state of an
  SSM/RWKV model, and the total at a chosen context;
- a training-memory estimate (weights, gradients, AdamW state, activations, logits).

Conventions (stated in the UI too):
- matmul FLOPs = 2 x multiply-accumulates; small vectors (norms, biases) are counted as if they
  were matmul weights, which changes the totals by well under 1 %;
- attention FLOPs count the full context (QK^T and AV: 4 x heads x head_dim x context per layer),
  the convention of Kaplan et al. and nanochat, i.e. a kernel that skips the masked half does less;
- the Mamba/RWKV recurrence is elementwise work, counted approximately (8 ops per state element);
  Mamba2's chunked scan is matmuls over chunks of `chunk_size` tokens, counted exactly.
"""
from __future__ import annotations

from typing import Any

DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


def _g(cfg: Any, name: str, default: Any = None) -> Any:
    v = getattr(cfg, name, default)
    return default if v is None else v


def family_of(cfg: Any) -> str:
    """The architecture-lab family name of a transformers config."""
    return {"gpt2": "gpt2", "llama": "llama", "mamba": "mamba", "mamba2": "mamba2", "rwkv": "rwkv",
            "mixtral": "mixtral", "qwen2_moe": "qwen2moe", "deepseek_v3": "deepseekv3"}[cfg.model_type]


# -- shapes ----------------------------------------------------------------------------
def _head_dim(cfg: Any) -> int:
    return _g(cfg, "head_dim") or cfg.hidden_size // cfg.num_attention_heads


def _layer_params(cfg: Any, i: int) -> dict[str, int]:
    """Parameters of decoder layer i, split into mixer (attention/SSM/time-mix), mlp, experts, norms.

    `experts` holds the routed experts only (the part of which just top-k/E is active per token).
    """
    f = family_of(cfg)
    out = {"mixer": 0, "mlp": 0, "experts": 0, "norm": 0}
    if f == "gpt2":
        d = cfg.n_embd
        ff = _g(cfg, "n_inner") or 4 * d
        out["norm"] = 4 * d
        out["mixer"] = (d * 3 * d + 3 * d) + (d * d + d)
        out["mlp"] = (d * ff + ff) + (ff * d + d)
        return out
    if f in ("llama", "mixtral", "qwen2moe"):
        d, hd = cfg.hidden_size, _head_dim(cfg)
        h, kv = cfg.num_attention_heads, cfg.num_key_value_heads
        bias = bool(_g(cfg, "attention_bias", False)) or bool(_g(cfg, "qkv_bias", False))
        out["norm"] = 2 * d
        out["mixer"] = d * h * hd + 2 * d * kv * hd + h * hd * d + (bias and (h * hd + 2 * kv * hd))
        if _g(cfg, "attention_bias", False):  # Llama's attention_bias also puts a bias on o_proj
            out["mixer"] += d
        if f == "llama":
            out["mlp"] = 3 * d * cfg.intermediate_size + (3 * cfg.intermediate_size if _g(cfg, "mlp_bias") else 0)
        elif f == "mixtral":
            e = cfg.num_local_experts
            out["mlp"] = d * e  # router
            out["experts"] = 3 * e * d * cfg.intermediate_size
        else:  # qwen2moe: routed experts on sparse layers, a dense MLP on the others
            sparse = (i not in (_g(cfg, "mlp_only_layers", []) or [])) and cfg.num_experts > 0 \
                and (i + 1) % cfg.decoder_sparse_step == 0
            if sparse:
                e = cfg.num_experts
                out["mlp"] = d * e + 3 * d * cfg.shared_expert_intermediate_size + d  # router, shared expert, its gate
                out["experts"] = 3 * e * d * cfg.moe_intermediate_size
            else:
                out["mlp"] = 3 * d * cfg.intermediate_size
        return out
    if f == "deepseekv3":
        d, h = cfg.hidden_size, cfg.num_attention_heads
        qk = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim
        r, rope, v = cfg.kv_lora_rank, cfg.qk_rope_head_dim, cfg.v_head_dim
        ql = _g(cfg, "q_lora_rank")
        q = d * h * qk if not ql else d * ql + ql + ql * h * qk
        out["norm"] = 2 * d
        out["mixer"] = q + d * (r + rope) + r + r * h * (cfg.qk_nope_head_dim + v) + h * v * d
        if i < cfg.first_k_dense_replace:
            out["mlp"] = 3 * d * cfg.intermediate_size
        else:
            e = cfg.n_routed_experts
            out["mlp"] = e * d + 3 * d * cfg.moe_intermediate_size * cfg.n_shared_experts
            out["experts"] = 3 * e * d * cfg.moe_intermediate_size
        return out
    if f == "mamba":
        d, di, n, k, r = cfg.hidden_size, cfg.intermediate_size, cfg.state_size, cfg.conv_kernel, cfg.time_step_rank
        b = bool(cfg.use_bias)
        out["norm"] = d
        out["mixer"] = (d * 2 * di + b * 2 * di) + (di * k + (di if cfg.use_conv_bias else 0)) \
            + di * (r + 2 * n) + (r * di + di) + di * n + di + (di * d + b * d)
        return out
    if f == "mamba2":
        d = cfg.hidden_size
        di, nh, g, n, k = int(cfg.expand * d), cfg.num_heads, cfg.n_groups, cfg.state_size, cfg.conv_kernel
        conv = di + 2 * g * n
        b = bool(cfg.use_bias)
        proj = 2 * di + 2 * g * n + nh
        out["norm"] = d
        out["mixer"] = (d * proj + b * proj) + (conv * k + (conv if cfg.use_conv_bias else 0)) + 3 * nh + di \
            + (di * d + b * d)
        return out
    if f == "rwkv":
        d, a, ff = cfg.hidden_size, cfg.attention_hidden_size, cfg.intermediate_size
        out["norm"] = 4 * d + (2 * d if i == 0 else 0)  # block 0 also has the pre-LayerNorm
        out["mixer"] = 2 * a + 3 * d + 3 * d * a + a * d
        out["mlp"] = 2 * d + d * ff + d * d + ff * d
        return out
    raise ValueError(f"unknown family {f}")


def _layers(cfg: Any) -> int:
    return _g(cfg, "num_hidden_layers") or cfg.n_layer


def _width(cfg: Any) -> int:
    return _g(cfg, "hidden_size") or cfg.n_embd


def _final_norm(cfg: Any) -> int:
    f = family_of(cfg)
    return 2 * _width(cfg) if f in ("gpt2", "rwkv") else _width(cfg)


def params(cfg: Any) -> dict[str, int]:
    """Parameter counts from the config. `embedding` = token table + learned positions + untied output head."""
    d, V, L = _width(cfg), cfg.vocab_size, _layers(cfg)
    layers = [_layer_params(cfg, i) for i in range(L)]
    tok = V * d
    pos = cfg.n_positions * d if family_of(cfg) == "gpt2" else 0
    head = 0 if cfg.tie_word_embeddings else V * d
    body = sum(sum(lp.values()) for lp in layers) + _final_norm(cfg)
    embedding = tok + pos + head
    experts = sum(lp["experts"] for lp in layers)
    active_experts = experts * _top_k(cfg) // max(1, _n_experts(cfg)) if experts else 0
    return {"total": embedding + body, "embedding": embedding, "non_embedding": body,
            "token_embedding": tok, "position_embedding": pos, "output_head": head,
            "routed_experts": experts,
            "active_non_embedding": body - experts + active_experts,
            "active": embedding + body - experts + active_experts,
            "mixer": sum(lp["mixer"] for lp in layers), "mlp": sum(lp["mlp"] for lp in layers),
            "norm": sum(lp["norm"] for lp in layers) + _final_norm(cfg)}


def _n_experts(cfg: Any) -> int:
    return _g(cfg, "num_local_experts") or _g(cfg, "num_experts") or _g(cfg, "n_routed_experts") or 0


def _top_k(cfg: Any) -> int:
    return _g(cfg, "num_experts_per_tok", 0) if _n_experts(cfg) else 0


# -- compute -----------------------------------------------------------------------------
def _attn_dims(cfg: Any) -> tuple[int, int, int] | None:
    """(heads, qk dim, v dim) of the attention score/value products, or None for recurrent families."""
    f = family_of(cfg)
    if f == "gpt2":
        return cfg.n_head, cfg.n_embd // cfg.n_head, cfg.n_embd // cfg.n_head
    if f in ("llama", "mixtral", "qwen2moe"):
        return cfg.num_attention_heads, _head_dim(cfg), _head_dim(cfg)
    if f == "deepseekv3":  # transformers expands the latent to per-head K and V before attention
        return cfg.num_attention_heads, cfg.qk_nope_head_dim + cfg.qk_rope_head_dim, cfg.v_head_dim
    return None


def _recurrence_flops(cfg: Any, context: int) -> float:
    """The sequence mixing of SSM/RWKV per token, all layers.

    Mamba, RWKV: elementwise recurrence (approximate: 8 ops per state element, 16 per RWKV channel).
    Mamba2: the chunked SSD form used for training and prompts is matmuls: within each chunk of
    `chunk_size` tokens a (chunk x chunk) score matrix per head against B and x, plus the state
    passed between chunks; a sequence shorter than a chunk is padded to a whole chunk.
    """
    f, L = family_of(cfg), _layers(cfg)
    if f == "mamba":
        return float(8 * cfg.intermediate_size * cfg.state_size * L)
    if f == "mamba2":
        cs, n, hd, nh = cfg.chunk_size, cfg.state_size, cfg.head_dim, cfg.num_heads
        pad = -(-max(1, context) // cs) * cs / max(1, context)
        return float(pad * 2 * L * nh * (cs * (n + hd) + 2 * n * hd))
    if f == "rwkv":
        return float(16 * cfg.attention_hidden_size * L)
    return 0.0


def flops_per_token(cfg: Any, context: int) -> dict[str, float]:
    """Forward FLOPs for one token that sees `context` tokens, and training FLOPs (3 x forward)."""
    p = params(cfg)
    d, V, L = _width(cfg), cfg.vocab_size, _layers(cfg)
    dense = 2 * p["active_non_embedding"]
    head = 2 * d * V
    att = _attn_dims(cfg)
    attention = 2 * L * att[0] * (att[1] + att[2]) * context if att else 0
    rec = _recurrence_flops(cfg, context)
    fwd = dense + head + attention + rec
    return {"forward": float(fwd), "train": float(3 * fwd), "dense": float(dense), "head": float(head),
            "attention": float(attention), "recurrence": float(rec)}


# -- inference memory ----------------------------------------------------------------------
def cache_bytes(cfg: Any, context: int, dtype_bytes: int = 4, batch: int = 1) -> dict[str, Any]:
    """What generation keeps per sequence: KV cache (grows with context) or recurrent state (constant).

    Numbers match what transformers' caches hold (checked by the tests): K and V per KV head for
    MHA/GQA; DeepSeek's compressed latent (kv_lora_rank + rope dims, one 'head') for MLA;
    conv + SSM state for Mamba/Mamba2; five vectors per layer for RWKV (three kept in float32).
    """
    f, L = family_of(cfg), _layers(cfg)
    b = dtype_bytes
    if f == "gpt2":
        per_tok = 2 * L * cfg.n_embd * b
        kind, mha = "MHA", per_tok
    elif f in ("llama", "mixtral", "qwen2moe"):
        hd = _head_dim(cfg)
        kv, h = cfg.num_key_value_heads, cfg.num_attention_heads
        per_tok = 2 * L * kv * hd * b
        kind = "MHA" if kv == h else ("MQA" if kv == 1 else "GQA")
        mha = 2 * L * h * hd * b
    elif f == "deepseekv3":
        per_tok = L * (cfg.kv_lora_rank + cfg.qk_rope_head_dim) * b
        kind = "MLA"
        mha = L * cfg.num_attention_heads * (cfg.qk_nope_head_dim + cfg.qk_rope_head_dim + cfg.v_head_dim) * b
    else:
        per_tok, mha = 0, 0
        if f == "mamba":
            di = cfg.intermediate_size
            state = L * (di * cfg.conv_kernel + di * cfg.state_size) * b
        elif f == "mamba2":
            di = int(cfg.expand * cfg.hidden_size)
            conv = di + 2 * cfg.n_groups * cfg.state_size
            state = L * (conv * cfg.conv_kernel + cfg.num_heads * cfg.head_dim * cfg.state_size) * b
        else:  # rwkv: x of time-mix and channel-mix in the model dtype, numerator/denominator/max in float32
            state = L * cfg.hidden_size * (2 * b + 3 * 4)
        return {"kind": "SSM state" if f != "rwkv" else "RWKV state", "per_token": 0, "constant": batch * state,
                "at_context": batch * state, "mha_equivalent_per_token": 0}
    return {"kind": kind, "per_token": per_tok, "constant": 0, "at_context": batch * per_tok * context,
            "mha_equivalent_per_token": mha}


# -- training memory -----------------------------------------------------------------------
def _activation_floats_per_token(cfg: Any) -> float:
    """Values kept for backward per token, all layers, in units of one number (eager transformers code).

    Read off the transformers implementations and checked against the tensors autograd saves
    (tests/test_arch_paper.py): residual and norm inputs, projections, activation-function
    intermediates; SDPA keeps no context x context matrix. The Mamba reference scan used without
    the mamba_ssm kernels keeps the discretised (inner x state) tensors for every token, which is
    why it dominates there; the fused CUDA kernel recomputes them instead.
    """
    f, L = family_of(cfg), _layers(cfg)
    d = _width(cfg)
    if f == "gpt2":
        ff = _g(cfg, "n_inner") or 4 * d
        per = 10 * d + 5 * ff
    elif f == "llama":
        per = 9 * d + 4 * cfg.intermediate_size
    elif f in ("mixtral", "qwen2moe", "deepseekv3"):
        fe = cfg.moe_intermediate_size if f != "mixtral" else cfg.intermediate_size
        k = _top_k(cfg)
        shared = 0
        if f == "qwen2moe":
            shared = 4 * cfg.shared_expert_intermediate_size
        elif f == "deepseekv3":
            shared = 4 * cfg.moe_intermediate_size * cfg.n_shared_experts
        attn = 9 * d if f != "deepseekv3" else 9 * d + 2 * cfg.kv_lora_rank
        per = attn + 3 * d + k * (2 * d + 4 * fe) + shared
    elif f == "mamba":
        di, n = cfg.intermediate_size, cfg.state_size
        per = 3 * di * n + 10 * di
    elif f == "mamba2":
        di = int(cfg.expand * cfg.hidden_size)
        per = 16 * di + 4 * cfg.num_heads * cfg.state_size
    else:  # rwkv: the CPU loop keeps a handful of d-sized tensors per step
        per = 28 * d + 2 * cfg.intermediate_size
    return float(per * L)


def training_memory(cfg: Any, batch: int, seq: int, *, dtype_bytes: int = 4, optimizer: str = "adamw",
                    mixed_precision: bool = False) -> dict[str, float]:
    """Bytes to train: weights, gradients, optimizer state, activations (+ logits), for a batch x seq step.

    mixed_precision: 16-bit weights and gradients with an fp32 master copy in the optimizer.
    """
    n = params(cfg)["total"]
    wb = 2 if mixed_precision else dtype_bytes
    weights = n * wb
    grads = n * wb
    opt = {"adamw": 2, "sgd": 0, "adafactor": 0.1}.get(optimizer, 2) * n * 4 + (n * 4 if mixed_precision else 0)
    tokens = batch * seq
    act = _activation_floats_per_token(cfg) * tokens * (2 if mixed_precision else dtype_bytes)
    logits = 3 * tokens * cfg.vocab_size * 4  # logits, float32 upcast and log-softmax for the loss
    total = weights + grads + opt + act + logits
    return {"weights": float(weights), "grads": float(grads), "optimizer": float(opt), "activations": float(act),
            "logits": float(logits), "total": float(total)}


def figures(cfg: Any, *, context: int, batch: int = 1, seq: int | None = None, dtype_bytes: int = 4) -> dict:
    """Every on-paper figure for one config (what the tab's table and the saved artifact show)."""
    seq = seq or context
    return {"family": family_of(cfg), "params": params(cfg), "flops_per_token": flops_per_token(cfg, context),
            "flops_per_token_train": flops_per_token(cfg, seq)["train"],
            "cache": cache_bytes(cfg, context, dtype_bytes), "train_memory": training_memory(cfg, batch, seq,
                                                                                        dtype_bytes=dtype_bytes)}


def human(n: float, unit: str = "") -> str:
    """1234567 -> '1.23M' (bytes: unit='B' gives KiB/MiB/GiB)."""
    if unit == "B":
        for u in ("B", "KiB", "MiB", "GiB", "TiB"):
            if abs(n) < 1024 or u == "TiB":
                return f"{n:.0f} {u}" if u == "B" else f"{n:.2f} {u}"
            n /= 1024
    for u in ("", "K", "M", "G", "T", "P"):
        if abs(n) < 1000 or u == "P":
            return f"{n:.0f}{u}" if u == "" else f"{n:.2f}{u}"
        n /= 1000
    return str(n)
