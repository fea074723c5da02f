"""Validation of user-chosen names (artifacts, runs).

Names become folder names under the workspace, so they must never escape it
(no '/', '..', NUL) and must stay portable across file systems. Korean is allowed:
people name their corpora in Korean.
"""
from __future__ import annotations

import re
import unicodedata

MAX_NAME = 80
# Letters (any script, Hangul included), digits, and a few separators; must start with a letter or digit.
_NAME_RE = re.compile(r"^[\w][\w.\-]*$", re.UNICODE)
_RESERVED = {".", "..", "con", "prn", "aux", "nul"}


class NameError_(ValueError):
    """A name that cannot be used; the message says why and what to do instead."""


def check_name(name: str, what: str = "name") -> str:
    """Return the NFC-normalized name, or raise NameError_ naming the problem."""
    if not isinstance(name, str) or not name.strip():
        raise NameError_(f"{what} is empty: type a short name such as 'my-corpus'.")
    name = unicodedata.normalize("NFC", name.strip())
    if len(name) > MAX_NAME:
        raise NameError_(f"{what} '{name[:20]}…' is {len(name)} characters long: use at most {MAX_NAME}.")
    if "/" in name or "\\" in name or "\x00" in name or ".." in name:
        raise NameError_(f"{what} '{name}' contains '/', '\\' or '..': names cannot point outside the workspace.")
    if name.lower() in _RESERVED or not _NAME_RE.match(name):
        raise NameError_(
            f"{what} '{name}' has characters that are not allowed: use letters (Korean is fine), digits, "
            "'-', '_' and '.', starting with a letter or digit."
        )
    return name


def slug(text: str, default: str = "item") -> str:
    """Turn free text into a valid name (used for automatic names)."""
    text = unicodedata.normalize("NFC", text or "")
    out = re.sub(r"[^\w.\-]+", "-", text, flags=re.UNICODE).strip("-.")
    out = re.sub(r"\.\.+", ".", out)[:MAX_NAME]
    return out or default
