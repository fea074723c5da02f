"""Text a person reads, in Korean and English: the one i18n helper of the whole app.

A `Text` is a `str` holding the English wording (what logs, the CLI and its JSON line show) that
also carries the Korean one. The engine raises and reports Texts; the store keeps both wordings;
the UI shows `pick(text, lang)`, so an engine message follows the language switch like a label.
Plain strings still work everywhere (they read the same in both languages), and anything that
turns a Text into a plain `str` (slicing, an f-string) keeps the English, never loses the message.

It lives in `state/` (no torch, no gradio) because the store needs it and every layer above may
import it: `workbench.i18n` and `tabs.i18n` re-export it.
"""
from __future__ import annotations

from typing import Any, Iterable

LANGS = ("ko", "en")


class Text(str):
    """English text (the str value) that also carries its Korean wording (`.ko`)."""

    ko: str

    def __new__(cls, en: str, ko: str | None = None):
        obj = super().__new__(cls, en)
        obj.ko = str(en) if ko is None else str(ko)
        return obj

    @property
    def en(self) -> str:
        return str.__str__(self)

    def __str__(self) -> str:
        return self.en

    def __reduce__(self):  # copy, deepcopy and pickle keep both wordings
        return (Text, (self.en, self.ko))

    def __add__(self, other):
        if not isinstance(other, str):
            return NotImplemented
        return Text(self.en + other, self.ko + (other.ko if isinstance(other, Text) else other))

    def __radd__(self, other):
        if not isinstance(other, str):
            return NotImplemented
        return Text(other + self.en, other + self.ko)

    def __repr__(self) -> str:
        return f"Text({self.en!r}, ko={self.ko!r})"


def _side(value: Any, lang: str) -> Any:
    return pick(value, lang) if isinstance(value, (Text, tuple)) else value


def say(en: str, ko: str, /, **kw) -> Text:
    """A message in both languages; `{name}` fields are filled in each (a Text value in its own language)."""
    if not kw:
        return Text(en, ko)
    return Text(en.format(**{k: _side(v, "en") for k, v in kw.items()}),
                ko.format(**{k: _side(v, "ko") for k, v in kw.items()}))


def pick(text: Text | tuple | dict | str | None, lang: str) -> str:
    """The wording of `text` for `lang`: a Text's own, a (ko, en) pair's, a {"ko", "en"} mapping's (the form a
    bilingual message takes inside JSON, e.g. a run's summary), or a plain string as it is."""
    if text is None:
        return ""
    if isinstance(text, Text):
        return text.ko if lang == "ko" else text.en
    if isinstance(text, tuple):
        return text[0] if lang == "ko" else text[1]
    if isinstance(text, dict) and "en" in text:
        return text.get(lang) or text["en"]
    return str(text)


def both(text: Text | str) -> dict:
    """A message as {"en", "ko"}, to keep both wordings through JSON (json.dumps of a Text keeps the English)."""
    text = as_text(text)
    return {"en": text.en, "ko": text.ko}


def join(sep: str, parts: Iterable[str]) -> Text:
    """`sep.join(parts)` in both languages."""
    parts = list(parts)
    return Text(sep.join(pick(p, "en") for p in parts), sep.join(pick(p, "ko") for p in parts))


def as_text(value: Any) -> Text | None:
    """A Text for a message that may be a plain string (the same wording in both languages)."""
    if value is None or isinstance(value, Text):
        return value
    return Text(str(value))
