"""The prompt lab's single question: one question through several templates, for one or several models, with the
same sampling settings and seed, answered side by side with length and timing. (Templates x a prompt set, scored,
is the Evaluate stage's `prompts` task: a job and an eval artifact.)"""
from __future__ import annotations

from ..errors import UserError
from ..i18n import say
from . import scoring


def ask(ws, models: list[str], templates: dict[str, str], question: str, *, max_new_tokens: int = 64,
        temperature: float = 0.0, top_p: float = 1.0, seed: int = 13, max_length: int = 256) -> list[dict]:
    """[{model, template, prompt, answer, tokens, seconds}] for every model x template, models loaded in turn."""
    if not question.strip():
        raise UserError(say("write a question first", "질문을 먼저 쓰세요"))
    if not models:
        raise UserError(say("pick at least one model", "모델을 하나 이상 고르세요"))
    if not templates:
        raise UserError(say("tick at least one prompt template", "프롬프트 템플릿을 하나 이상 고르세요"))
    if max_new_tokens >= max_length:
        raise UserError(say("max_new_tokens ({n}) must be below max_length ({m})",
                            "최대 생성 토큰({n})은 최대 토큰 길이({m})보다 작아야 합니다", n=max_new_tokens, m=max_length))
    out = []
    for ref in models:
        lm = scoring.open_model(ws, ref, want=scoring.CAUSAL)
        for name, text in templates.items():
            prompt = text.format(question=question.strip())
            ids = scoring.render_prompt(lm.tokenizer, prompt, chat=False)
            res = scoring.generate(lm.model, lm.tokenizer, ids, max_new_tokens=max_new_tokens,
                                   temperature=temperature, top_p=top_p, seed=seed, max_length=max_length)
            out.append({"model": lm.label, "template": name, "prompt": prompt, "answer": res["text"],
                        "tokens": res["tokens"], "chars": len(res["text"]), "seconds": round(res["seconds"], 3)})
    return out
