"""The prompt-template library of the prompt lab: the seed's three templates (plain question/answer, "think step by
step", "you are a helpful AI assistant") in Korean and English, plus the person's own, saved in the workspace
(`<workspace>/prompt_templates.json`). A template is text with a `{question}` placeholder."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError
from ..i18n import say

SEED_TEMPLATES: dict[str, str] = {
    "plain-ko": "질문: {question}\n답변:",
    "step-ko": "질문: {question}\n단계별로 차근차근 생각해 봅시다.\n답변:",
    "assistant-ko": "당신은 친절하고 도움이 되는 AI 어시스턴트입니다.\n질문: {question}\n답변:",
    "plain-en": "Question: {question}\nAnswer:",
    "step-en": "Question: {question}\nLet's think step by step.\nAnswer:",
    "assistant-en": "You are a helpful AI assistant.\nQuestion: {question}\nAnswer:",
}
SEED_THREE = ["plain-ko", "step-ko", "assistant-ko"]
FILE = "prompt_templates.json"


def _path(ws) -> Path:
    return Path(ws.root) / FILE


def user_templates(ws) -> dict[str, str]:
    p = _path(ws) if ws is not None else None
    if p is None or not p.is_file():
        return {}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # a damaged file loses only the person's own templates from the list; it is not overwritten
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def templates(ws=None) -> dict[str, str]:
    """Every template: the seed's, then the person's own (theirs win on a shared name)."""
    return {**SEED_TEMPLATES, **user_templates(ws)}


def check_template(name: str, text: str) -> None:
    if not name.strip():
        raise UserError(say("give the template a name", "템플릿 이름을 쓰세요"))
    if "{question}" not in text:
        raise UserError(say("template '{n}' has no {{question}} placeholder: put {{question}} where the question goes",
                            "템플릿 '{n}' 에 {{question}} 자리가 없습니다. 질문이 들어갈 곳에 {{question}} 을 쓰세요",
                            n=name))
    try:
        text.format(question="x")
    except (KeyError, IndexError, ValueError) as e:
        raise UserError(say("template '{n}' has a placeholder other than {{question}} ({e}): write literal braces as "
                            "{{{{ and }}}}", "템플릿 '{n}' 에 {{question}} 말고 다른 자리 표시가 있습니다 ({e}). 중괄호는 "
                            "{{{{ 와 }}}} 로 쓰세요", n=name, e=e)) from None


def save_template(ws, name: str, text: str) -> dict[str, str]:
    """Add or replace one of the person's templates; returns the whole library."""
    name = name.strip()
    check_template(name, text)
    own = user_templates(ws)
    own[name] = text
    p = _path(ws)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(own, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(p)
    return templates(ws)


def delete_template(ws, name: str) -> dict[str, str]:
    own = user_templates(ws)
    if name not in own:
        raise UserError(say("'{n}' is not one of your templates (the seed's cannot be deleted)",
                            "'{n}' 은(는) 직접 만든 템플릿이 아닙니다 (기본 템플릿은 지울 수 없습니다)", n=name))
    del own[name]
    _path(ws).write_text(json.dumps(own, ensure_ascii=False, indent=2), encoding="utf-8")
    return templates(ws)


def resolve_templates(ws, names: list[str]) -> dict[str, str]:
    """The named templates (in order); an unknown name is refused with the names there are."""
    lib = templates(ws)
    unknown = [n for n in names if n not in lib]
    if unknown:
        raise UserError(say("unknown prompt template(s): {u}; the library has {k}",
                            "없는 프롬프트 템플릿: {u}. 있는 템플릿: {k}", u=", ".join(unknown), k=", ".join(lib)))
    return {n: lib[n] for n in names}
