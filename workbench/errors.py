"""Errors that reach a user, worded to say what is wrong and how to fix it, in Korean and English."""
from __future__ import annotations

from .i18n import Text, say


class UserError(ValueError):
    """Bad input that the user can fix (shown as-is, without a traceback).

    `UserError("English", ko="한국어")` or `UserError(say(en, ko, **fields))`; `str(e)` is the English,
    `e.text` the Text the store and the UI show in the person's language."""

    def __init__(self, message: str, ko: str | None = None):
        self.text = message if isinstance(message, Text) and ko is None else Text(str(message), ko)
        super().__init__(self.text)


def describe_exception(e: BaseException) -> Text:
    """A one-paragraph message for an unexpected failure, with advice for the common ones."""
    if isinstance(e, UserError):
        return e.text
    name = type(e).__name__
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    if name in ("OutOfMemoryError", "MemoryError") or "out of memory" in msg.lower() \
            or "DefaultCPUAllocator: can't allocate memory" in msg:
        return say("{name}: the job ran out of memory ({msg}). Lower the batch size or sequence length, use a smaller "
                   "model (fewer layers / narrower width), or enable gradient accumulation.",
                   "{name}: 메모리가 부족합니다 ({msg}). 배치 크기나 시퀀스 길이를 줄이거나, 더 작은 모델(층 수·폭)을 "
                   "쓰거나, 그래디언트 누적을 켜세요.", name=name, msg=msg[:200])
    if isinstance(e, KeyboardInterrupt):
        return say("interrupted", "중단됨")
    return Text(f"{name}: {msg}" if msg else name)
