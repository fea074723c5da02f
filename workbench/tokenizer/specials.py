"""Special tokens and the chat template every trained tokenizer carries.

Ids are fixed and the same for every algorithm: pad=0, unk=1, bos=2, eos=3, chat start=4, chat end=5,
then any extra special tokens, then (for byte fallback) the 256 byte pieces <0x00>..<0xFF>, then the
learned vocabulary. The pretrain stage separates documents with eos and pads with pad; the chat stage
calls `tokenizer.apply_chat_template`, which renders ChatML-style turns with the chat tokens:

    <|im_start|>user\n안녕하세요?<|im_end|>\n<|im_start|>assistant\n네, 안녕하세요.<|im_end|>\n

Generation should stop at the chat end token (`chat_end` in workbench.json) as well as at eos.
Assistant content is wrapped in {% generation %} so `return_assistant_tokens_mask=True` works for SFT.
"""
from __future__ import annotations

from dataclasses import dataclass

from workbench.config import StageConfig, param
from workbench.i18n import say


@dataclass
class Specials(StageConfig):
    pad: str = param("<pad>", ko="패딩 토큰", en="Padding token", help_ko="배치를 같은 길이로 채울 때 씁니다 (id 0).",
                     help_en="Fills batches to one length (id 0).")
    unk: str = param("<unk>", ko="미등록 토큰", en="Unknown token", help_ko="어휘에 없는 글자 (id 1).",
                     help_en="Stands for text outside the vocabulary (id 1).")
    bos: str = param("<s>", ko="시작 토큰", en="Begin-of-sequence token", help_ko="id 2.", help_en="id 2.")
    eos: str = param("</s>", ko="끝 토큰", en="End-of-sequence token",
                     help_ko="사전학습에서 문서를 구분합니다 (id 3).", help_en="Separates documents in pretraining (id 3).")
    chat_start: str = param("<|im_start|>", ko="대화 차례 시작", en="Chat turn start",
                            help_ko="채팅 템플릿에서 각 차례를 엽니다 (id 4).", help_en="Opens each turn of the chat template (id 4).")
    chat_end: str = param("<|im_end|>", ko="대화 차례 끝", en="Chat turn end",
                          help_ko="각 차례를 닫습니다. 생성은 여기서 멈춥니다 (id 5).",
                          help_en="Closes each turn; generation stops here (id 5).")
    extra: list[str] = param([], ko="추가 특수 토큰", en="Extra special tokens",
                             help_ko="쉼표로 구분 (id 6부터).", help_en="Comma-separated (ids from 6).")

    @property
    def ordered(self) -> list[str]:
        """All special tokens in id order."""
        return [self.pad, self.unk, self.bos, self.eos, self.chat_start, self.chat_end, *self.extra]

    def named(self) -> dict[str, str]:
        return {"pad_token": self.pad, "unk_token": self.unk, "bos_token": self.bos, "eos_token": self.eos,
                "chat_start": self.chat_start, "chat_end": self.chat_end}

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) for every token that is empty, contains whitespace, or collides with another."""
        out = []
        names = [("special_tokens.pad", self.pad), ("special_tokens.unk", self.unk), ("special_tokens.bos", self.bos),
                 ("special_tokens.eos", self.eos), ("special_tokens.chat_start", self.chat_start),
                 ("special_tokens.chat_end", self.chat_end)] + \
                [(f"special_tokens.extra[{i}]", t) for i, t in enumerate(self.extra)]
        seen: dict[str, str] = {}
        for fname, tok in names:
            if not tok or not tok.strip():
                out.append((fname, say("is empty: every special token needs its own text, e.g. <pad>",
                                       "비어 있습니다: 특수 토큰마다 고유한 글자가 있어야 합니다 (예: <pad>)")))
                continue
            if any(c.isspace() or c in "'\\{}" for c in tok):
                out.append((fname, say(f"{tok!r} contains whitespace, a quote, a backslash or a brace: special tokens "
                                       "must be one plain piece, e.g. <|im_end|>",
                                       f"{tok!r}에 공백, 따옴표, 역슬래시 또는 중괄호가 들어 있습니다: 특수 토큰은 "
                                       "하나의 단순한 조각이어야 합니다 (예: <|im_end|>)")))
            if tok in seen:
                out.append((fname, say(f"{tok!r} is the same as {seen[tok]}: special tokens must all differ "
                                       "(eos separates documents and pad is masked out, so pad = eos would hide eos)",
                                       f"{tok!r}이(가) {seen[tok]}과(와) 같습니다: 특수 토큰은 모두 달라야 합니다 "
                                       "(eos는 문서를 구분하고 pad는 손실 계산에서 가려지므로, pad = eos이면 eos도 "
                                       "가려집니다)")))
            else:
                seen[tok] = fname
            if len(tok) < 3 or tok.isalnum():
                out.append((fname, say(f"{tok!r} looks like ordinary text and would be cut out of every sentence "
                                       "that contains it: use a marked form such as <pad> or <|im_end|>",
                                       f"{tok!r}은(는) 보통 글자처럼 보여서, 이것이 들어간 모든 문장에서 떼어져 "
                                       "나옵니다: <pad>나 <|im_end|>처럼 표시가 있는 형태를 쓰세요")))
        return out


def chat_template(sp: Specials) -> str:
    """A Jinja chat template (ChatML style) using the chat special tokens."""
    s, e = sp.chat_start, sp.chat_end
    return (
        "{%- for message in messages -%}"
        f"{{{{- '{s}' + message['role'] + '\\n' -}}}}"
        "{%- if message['role'] == 'assistant' -%}"
        f"{{% generation %}}{{{{- message['content'] + '{e}' -}}}}{{% endgeneration %}}"
        "{%- else -%}"
        f"{{{{- message['content'] + '{e}' -}}}}"
        "{%- endif -%}"
        "{{- '\\n' -}}"
        "{%- endfor -%}"
        f"{{%- if add_generation_prompt -%}}{{{{- '{s}assistant\\n' -}}}}{{%- endif -%}}"
    )
