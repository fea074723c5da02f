"""Validation of user-chosen names (artifacts, runs).

Names become folder names under the workspace, so they must never escape it
(no '/', '..', NUL) and must stay portable across file systems. Korean is allowed:
people name their corpora in Korean.
"""
from __future__ import annotations

import re
import unicodedata

from .i18n import Text, as_text, say

MAX_NAME = 80
# Letters (any script, Hangul included), digits, and a few separators; must start with a letter or digit.
_NAME_RE = re.compile(r"^[\w][\w.\-]*$", re.UNICODE)
_RESERVED = {".", "..", "con", "prn", "aux", "nul"}


# How the callers' `what` reads in Korean (a caller may also pass a Text with its own Korean).
_WHAT_KO = {"name": "이름", "corpus name": "말뭉치 이름", "tokenizer name": "토크나이저 이름",
            "architecture name": "아키텍처 이름", "model name": "모델 이름", "run id": "실행 ID", "run name": "실행 이름",
            "artifact kind": "산출물 종류", "artifact name": "산출물 이름"}


class NameError_(ValueError):
    """A name that cannot be used; the message (a Text: English, with `.ko`) says why and what to do instead."""

    @property
    def text(self) -> Text:
        """The message in both languages (`str(e)` is the English)."""
        return as_text(self.args[0]) if self.args else Text("")


def check_name(name: str, what: str = "name") -> str:
    """Return the NFC-normalized name, or raise NameError_ naming the problem."""
    what = what if isinstance(what, Text) else Text(what, _WHAT_KO.get(what, what))
    if not isinstance(name, str) or not name.strip():
        raise NameError_(say("{what} is empty: type a short name such as 'my-corpus'.",
                             "{what}: 비어 있습니다. 'my-corpus'처럼 짧은 이름을 입력하세요.", what=what))
    name = unicodedata.normalize("NFC", name.strip())
    if len(name) > MAX_NAME:
        raise NameError_(say("{what} '{short}…' is {n} characters long: use at most {max}.",
                             "{what} '{short}…'은(는) {n}자입니다: {max}자 이하로 지으세요.",
                             what=what, short=name[:20], n=len(name), max=MAX_NAME))
    if "/" in name or "\\" in name or "\x00" in name or ".." in name:
        raise NameError_(say("{what} '{name}' contains '/', '\\' or '..': names cannot point outside the workspace.",
                             "{what} '{name}'에 '/', '\\' 또는 '..'이(가) 들어 있습니다: 이름은 작업 공간 밖을 "
                             "가리킬 수 없습니다.", what=what, name=name))
    if name.lower() in _RESERVED or not _NAME_RE.match(name):
        raise NameError_(say(
            "{what} '{name}' has characters that are not allowed: use letters (Korean is fine), digits, "
            "'-', '_' and '.', starting with a letter or digit.",
            "{what} '{name}'에 쓸 수 없는 문자가 있습니다: 글자(한글 가능), 숫자, '-', '_', '.'만 쓰고, "
            "글자나 숫자로 시작하세요.", what=what, name=name))
    return name


def slug(text: str, default: str = "item") -> str:
    """Turn free text into a valid name (used for automatic names)."""
    text = unicodedata.normalize("NFC", text or "")
    out = re.sub(r"[^\w.\-]+", "-", text, flags=re.UNICODE).strip("-.")
    out = re.sub(r"\.\.+", ".", out)[:MAX_NAME]
    return out or default
