"""Model families of the architecture lab, all as `transformers` model classes built from configs.

One size dial (`depth`, the number of layers) derives width, heads and the rest (the
nanochat habit: width = 64 * depth, heads of 64 dims), and every derived value can be
overridden per field. Because each family is a stock transformers class, every later
stage (pretraining, PEFT, generate, save/load, quantization, chat) works for all of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import StageConfig, param
from ..i18n import say

# name -> (label, what it is)
FAMILIES: dict[str, tuple[str, str]] = {
    "gpt2": ("GPT-2", "learned positions, LayerNorm, GELU MLP, multi-head attention"),
    "llama": ("Llama", "RoPE, RMSNorm, SwiGLU, grouped-query attention"),
    "mamba": ("Mamba", "selective state-space scan (no attention), constant state per layer"),
    "mamba2": ("Mamba2", "state-space duality: multi-head SSM computed in chunks"),
    "rwkv": ("RWKV", "linear-attention RNN: time-mix and channel-mix, constant state"),
    "mixtral": ("Mixtral (MoE)", "Llama blocks whose MLP is a top-k routed mixture of experts"),
    "qwen2moe": ("Qwen2-MoE", "routed experts plus an always-on shared expert"),
    "deepseekv3": ("DeepSeek-V3 (MLA+MoE)", "multi-head latent attention (compressed KV) + shared/routed experts"),
}
ATTENTION = {"gpt2", "llama", "mixtral", "qwen2moe", "deepseekv3"}
MOE = {"mixtral", "qwen2moe", "deepseekv3"}
RECURRENT = {"mamba", "mamba2", "rwkv"}


def _round_to(x: float, m: int) -> int:
    return max(m, int(round(x / m)) * m)


@dataclass
class ArchConfig(StageConfig):
    family: str = param("llama", ko="모델 계열", en="Family", choices=list(FAMILIES),
                        help_ko="transformers의 모델 클래스", help_en="a stock transformers model class")
    depth: int = param(4, ko="깊이(층 수)", en="Depth (layers)", min=1, max=128,
                       help_ko="이 값 하나에서 폭, 헤드 수 등이 정해집니다", help_en="the size dial: width, heads, ... follow")
    width: int = param(0, ko="폭 (0=자동)", en="Width (0 = 64 x depth)", min=0, max=16384, advanced=True)
    heads: int = param(0, ko="어텐션 헤드 (0=자동)", en="Attention heads (0 = width / 64)", min=0, max=256,
                       advanced=True)
    kv_heads: int = param(0, ko="KV 헤드 (0=자동)", en="KV heads for GQA (0 = heads / 2 when even)", min=0,
                          max=256, advanced=True)
    ffn_mult: float = param(0.0, ko="FFN 배수 (0=자동)", en="FFN width multiple (0 = 4, or 8/3 for SwiGLU)",
                            min=0.0, max=16.0, advanced=True)
    context: int = param(512, ko="최대 문맥 길이", en="Max context length", min=8, max=131072)
    vocab_size: int = param(0, ko="어휘 크기 (0=토크나이저)", en="Vocab size (0 = from the tokenizer)", min=0,
                            max=1_000_000, advanced=True)
    tie_embeddings: bool = param(True, ko="입출력 임베딩 공유", en="Tie input/output embeddings", advanced=True)
    # Family-specific knobs: a form shows them only for the families that have them (visible_when).
    experts: int = param(8, ko="전문가 수 (MoE)", en="Experts (MoE)", min=1, max=512, visible_when=("family", MOE))
    top_k: int = param(2, ko="토큰당 전문가 (MoE)", en="Experts per token (MoE top-k)", min=1, max=64,
                       visible_when=("family", MOE))
    shared_experts: int = param(1, ko="공유 전문가", en="Shared experts (Qwen2-MoE, DeepSeek)", min=0, max=16,
                                advanced=True, visible_when=("family", {"qwen2moe", "deepseekv3"}))
    kv_lora_rank: int = param(0, ko="MLA KV 압축 차원 (0=자동)", en="MLA KV latent rank (0 = width / 4)", min=0,
                              max=8192, advanced=True, visible_when=("family", {"deepseekv3"}))
    state_size: int = param(16, ko="SSM 상태 크기", en="SSM state size (Mamba)", min=1, max=512, advanced=True,
                            visible_when=("family", {"mamba", "mamba2"}))
    dropout: float = param(0.0, ko="드롭아웃", en="Dropout", min=0.0, max=0.9, advanced=True)

    # -- derived sizes -----------------------------------------------------------
    def dims(self) -> dict[str, Any]:
        """Concrete sizes after applying the depth dial to every field left at 0."""
        width = self.width or 64 * self.depth
        heads = self.heads or max(1, width // 64)
        kv = self.kv_heads or (heads // 2 if heads % 2 == 0 and heads >= 2 and self.family != "gpt2" else heads)
        if self.family == "gpt2":
            kv = heads
        swiglu = self.family in ("llama", "mixtral", "qwen2moe", "deepseekv3")
        mult = self.ffn_mult or (8 / 3 if swiglu else 4.0)
        ffn = _round_to(width * mult, 32)
        return dict(width=width, heads=heads, kv_heads=kv, head_dim=width // max(1, heads), ffn=ffn,
                    expert_ffn=_round_to(ffn / max(1, self.top_k), 32) if self.family in MOE else ffn,
                    kv_lora_rank=self.kv_lora_rank or max(16, width // 4))

    def check(self) -> list[tuple[str, str]]:
        errors = []
        d = self.dims()
        if self.family in ATTENTION:
            if d["width"] % d["heads"]:
                errors.append(("heads", say("width {w} is not divisible by {h} heads: choose heads that divide the "
                                            "width (e.g. {e})", "폭 {w}이(가) 헤드 수 {h}로 나누어떨어지지 않습니다. "
                                            "폭을 나누어떨어지게 하는 헤드 수를 고르세요 (예: {e})", w=d["width"],
                                            h=d["heads"], e=max(1, d["width"] // 64))))
            elif d["heads"] % d["kv_heads"]:
                errors.append(("kv_heads", say("{h} heads are not divisible by {kv} KV heads: use a divisor of heads "
                                               "(1 = multi-query, heads = multi-head)",
                                               "헤드 {h}개가 KV 헤드 {kv}개로 나누어떨어지지 않습니다. 헤드 수의 약수를 "
                                               "쓰세요 (1 = 멀티쿼리, 헤드 수와 같으면 멀티헤드)", h=d["heads"],
                                               kv=d["kv_heads"])))
            if self.family == "deepseekv3" and (d["head_dim"] < 4 or d["head_dim"] % 2):
                errors.append(("heads", say("DeepSeek's MLA needs an even head size of at least 4: use fewer heads",
                                            "DeepSeek의 MLA는 헤드 크기가 4 이상의 짝수여야 합니다. 헤드 수를 줄이세요")))
        if self.family in MOE and self.top_k > self.experts:
            errors.append(("top_k", say("top-k {k} is more than the {e} experts: lower top_k or add experts",
                                        "top-k {k}이(가) 전문가 수 {e}보다 많습니다. top_k를 줄이거나 전문가를 늘리세요",
                                        k=self.top_k, e=self.experts)))
        elif self.family == "deepseekv3" and self.experts < 2:
            errors.append(("experts", say("DeepSeek's router scores the top 2 experts of each group: use at least 2 "
                                          "experts", "DeepSeek의 라우터는 그룹마다 상위 2개 전문가의 점수를 매깁니다. "
                                          "전문가를 2개 이상 쓰세요")))
        if self.family == "mamba2" and (2 * d["width"]) % 64 and (2 * d["width"]) % 16:
            errors.append(("width", say("Mamba2 needs 2 x width divisible by its head size (16 or 64)",
                                        "Mamba2는 2 x 폭이 헤드 크기(16 또는 64)로 나누어떨어져야 합니다")))
        if self.family == "rwkv" and self.depth < 2:
            errors.append(("depth", say("RWKV needs at least 2 layers (its initialisation spreads decay rates from "
                                        "the first to the last layer): use depth 2 or more",
                                        "RWKV는 층이 2개 이상 필요합니다 (초기화가 감쇠율을 첫 층부터 마지막 층까지 "
                                        "나눠 정합니다). depth를 2 이상으로 쓰세요")))
        if self.family == "rwkv" and d["width"] % 32 and self.width:
            errors.append(("width", say("RWKV width should be a multiple of 32", "RWKV의 폭은 32의 배수여야 합니다")))
        return errors

    @property
    def is_moe(self) -> bool:
        return self.family in MOE


def hf_config(cfg: ArchConfig, vocab_size: int, *, bos: int | None = None, eos: int | None = None,
              pad: int | None = None):
    """The transformers config object for a family at the configured size."""
    import transformers as tf

    cfg.validate()
    d = cfg.dims()
    w, L, ctx = d["width"], cfg.depth, cfg.context
    common = dict(vocab_size=vocab_size, bos_token_id=bos, eos_token_id=eos, pad_token_id=pad,
                  tie_word_embeddings=cfg.tie_embeddings)
    f = cfg.family
    if f == "gpt2":
        c = tf.GPT2Config(n_embd=w, n_layer=L, n_head=d["heads"], n_inner=d["ffn"], n_positions=ctx,
                          resid_pdrop=cfg.dropout, embd_pdrop=cfg.dropout, attn_pdrop=cfg.dropout, **common)
    elif f == "llama":
        c = tf.LlamaConfig(hidden_size=w, num_hidden_layers=L, num_attention_heads=d["heads"],
                           num_key_value_heads=d["kv_heads"], intermediate_size=d["ffn"], max_position_embeddings=ctx,
                           attention_dropout=cfg.dropout, **common)
    elif f == "mamba":
        c = tf.MambaConfig(hidden_size=w, num_hidden_layers=L, state_size=cfg.state_size, expand=2, **common)
    elif f == "mamba2":
        head_dim = 64 if (2 * w) % 64 == 0 else 16
        c = tf.Mamba2Config(hidden_size=w, num_hidden_layers=L, state_size=cfg.state_size, expand=2,
                            head_dim=head_dim, num_heads=2 * w // head_dim, n_groups=1, chunk_size=64, **common)
    elif f == "rwkv":
        common.pop("pad_token_id")
        c = tf.RwkvConfig(hidden_size=w, num_hidden_layers=L, attention_hidden_size=w, intermediate_size=4 * w,
                          context_length=ctx, **common)
    elif f == "mixtral":
        c = tf.MixtralConfig(hidden_size=w, num_hidden_layers=L, num_attention_heads=d["heads"],
                             num_key_value_heads=d["kv_heads"], intermediate_size=d["expert_ffn"],
                             num_local_experts=cfg.experts, num_experts_per_tok=cfg.top_k, max_position_embeddings=ctx,
                             attention_dropout=cfg.dropout, **common)
    elif f == "qwen2moe":
        c = tf.Qwen2MoeConfig(hidden_size=w, num_hidden_layers=L, num_attention_heads=d["heads"],
                              num_key_value_heads=d["kv_heads"], intermediate_size=d["ffn"],
                              moe_intermediate_size=d["expert_ffn"],
                              shared_expert_intermediate_size=d["expert_ffn"] * max(1, cfg.shared_experts),
                              num_experts=cfg.experts, num_experts_per_tok=cfg.top_k, max_position_embeddings=ctx,
                              attention_dropout=cfg.dropout, **common)
    elif f == "deepseekv3":
        hd = d["head_dim"]
        rope = max(2, (hd // 2) // 2 * 2)
        c = tf.DeepseekV3Config(hidden_size=w, num_hidden_layers=L, num_attention_heads=d["heads"],
                                num_key_value_heads=d["heads"], intermediate_size=d["ffn"],
                                moe_intermediate_size=d["expert_ffn"], n_routed_experts=cfg.experts,
                                n_shared_experts=max(0, cfg.shared_experts), num_experts_per_tok=cfg.top_k,
                                first_k_dense_replace=1 if L > 1 else 0, n_group=1, topk_group=1,
                                kv_lora_rank=d["kv_lora_rank"], q_lora_rank=None, qk_rope_head_dim=rope,
                                qk_nope_head_dim=hd - rope, v_head_dim=hd, max_position_embeddings=ctx,
                                attention_dropout=cfg.dropout, **common)
    else:  # validated above; kept for clarity
        raise ValueError(f"unknown family {f}")
    return c


def build_model(cfg: ArchConfig, vocab_size: int, *, bos: int | None = None, eos: int | None = None,
                pad: int | None = None, seed: int = 0):
    """A randomly initialised causal LM of the family (deterministic for a seed)."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(hf_config(cfg, vocab_size, bos=bos, eos=eos, pad=pad))


def count_params(model) -> dict[str, int]:
    """Parameter counts of an instantiated model (tied weights once).

    embedding = token table + learned position table (GPT-2) + an untied output head, so that
    non_embedding is the part whose compute grows with width and depth (Kaplan et al.'s N).
    For MoE models, `active` counts only top-k of the routed experts (the part one token uses).
    """
    seen, total = set(), 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    tok = model.get_input_embeddings().weight
    emb = tok.numel()
    out = model.get_output_embeddings()
    if out is not None and out.weight is not tok:
        emb += out.weight.numel()
    wpe = getattr(getattr(model, "transformer", None), "wpe", None)
    if wpe is not None:
        emb += wpe.weight.numel()
    routed = sum(p.numel() for n, p in model.named_parameters() if ".mlp.experts." in n)
    cfg = model.config
    n_exp = getattr(cfg, "num_local_experts", None) or getattr(cfg, "num_experts", None) \
        or getattr(cfg, "n_routed_experts", None) or 0
    inactive = routed - routed * cfg.num_experts_per_tok // n_exp if routed and n_exp else 0
    return {"total": total, "embedding": emb, "non_embedding": total - emb, "active": total - inactive}
