"""Bilingual messages for the engine: `say(en, ko, **fields)` makes a Text; see state/i18n.py."""
from state.i18n import LANGS, Text, as_text, both, join, pick, say

__all__ = ["LANGS", "Text", "as_text", "both", "join", "pick", "say"]
