"""Errors that reach a user, worded to say what is wrong and how to fix it."""
from __future__ import annotations


class UserError(ValueError):
    """Bad input that the user can fix (shown as-is, without a traceback)."""


def describe_exception(e: BaseException) -> str:
    """A one-paragraph message for an unexpected failure, with advice for the common ones."""
    name = type(e).__name__
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    if name in ("OutOfMemoryError", "MemoryError") or "out of memory" in msg.lower() \
            or "DefaultCPUAllocator: can't allocate memory" in msg:
        return (f"{name}: the job ran out of memory ({msg[:200]}). Lower the batch size or sequence length, "
                "use a smaller model (fewer layers / narrower width), or enable gradient accumulation.")
    if isinstance(e, KeyboardInterrupt):
        return "interrupted"
    return f"{name}: {msg}" if msg else name
