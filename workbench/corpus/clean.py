"""Cleaning steps: each takes a text and returns the cleaned text (the same object when unchanged).

Cheap pre-checks (`"<" in text`, `"@" in text`) skip most regular expressions on most documents:
that is where the speed on 650k short reviews comes from.
"""
from __future__ import annotations

import html
import re
import unicodedata
from typing import Callable

CLEAN_STEPS = ("markup", "nfc", "whitespace", "repeats", "pii")
PII_KINDS = ("url", "email", "phone", "rrn")
PII_TOKENS = {"url": "<URL>", "email": "<EMAIL>", "phone": "<PHONE>", "rrn": "<RRN>"}

# -- markup ---------------------------------------------------------------------------------
_SCRIPT = re.compile(r"<(script|style|noscript)\b.*?</\1\s*>|<!--.*?-->", re.S | re.I)
_BLOCK_TAG = re.compile(r"</?(?:p|div|br|li|ul|ol|tr|table|h[1-6]|section|article|blockquote|pre|hr)\b[^<>]*>", re.I)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)(\s[^<>]*)?(/?)>")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]{2,8});")
_HTML_ELEMENTS = frozenset("""a abbr acronym address area article aside audio b base basefont bdi bdo big blink blockquote
body br button canvas caption center cite code col colgroup data datalist dd del details dfn dialog dir div dl dt em
embed fieldset figcaption figure font footer form frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html i iframe
img input ins kbd label legend li link main map mark marquee menu meta meter nav nobr noframes noscript object ol
optgroup option output p param picture pre progress q rp rt ruby s samp script section select small source span
strike strong style sub summary sup svg table tbody td template textarea tfoot th thead time title tr track tt u ul
var video wbr""".split())


def _drop_tag(m: re.Match, text: str) -> str:
    """A tag goes if it is plainly markup: an HTML element, a closing or self-closing tag, one with attributes,
    or an opening tag closed later in the text (XML such as <doc id=..>..</doc>). A lone <NumLock> or
    <Enter> in prose, or List<String> in code, stays."""
    closing, name, attrs, self_closing = m.groups()
    if closing or self_closing or attrs or name.lower() in _HTML_ELEMENTS or f"</{name}>" in text:
        return ""
    return m.group(0)


def strip_markup(t: str) -> str:
    """HTML/XML tags and comments removed (block tags become line breaks), entities decoded."""
    if "<" in t:
        t2 = _SCRIPT.sub("", t)
        t2 = _BLOCK_TAG.sub("\n", t2)
        t2 = _TAG.sub(lambda m: _drop_tag(m, t), t2)
        if t2 != t:
            t = t2
    if "&" in t and _ENTITY.search(t):
        t = html.unescape(t)
    return t


# -- Unicode NFC --------------------------------------------------------------------------------
def nfc(t: str) -> str:
    """Decomposed Hangul (conjoining jamo, e.g. from macOS file names) recomposed into syllables."""
    return t if unicodedata.is_normalized("NFC", t) else unicodedata.normalize("NFC", t)


# -- whitespace and control characters -------------------------------------------------------------
_CTRL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_SPACES = re.compile("[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]{2,}|[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_NL_SPACES = re.compile(r" *\n *")
_MANY_NL = re.compile(r"\n{3,}")


# One scan tells whether a text needs any whitespace work at all (most short documents do not).
_WS_NEEDED = re.compile(_CTRL.pattern + "|" + _SPACES.pattern + "|[\r\n]|^\\s|\\s$")


def fix_whitespace(t: str) -> str:
    """Control and invisible characters removed, odd spaces made plain, runs of spaces and blank lines collapsed."""
    if not _WS_NEEDED.search(t):
        return t
    t2 = _CTRL.sub("", t)
    if "\r" in t2:
        t2 = t2.replace("\r\n", "\n").replace("\r", "\n")
    t2 = _SPACES.sub(" ", t2)
    if "\n" in t2:
        t2 = _MANY_NL.sub("\n\n", _NL_SPACES.sub("\n", t2))
    t2 = t2.strip()
    return t if t2 == t else t2


# -- repeated characters ---------------------------------------------------------------------------
def make_squash(max_repeat: int) -> Callable[[str], str]:
    """ㅋㅋㅋㅋㅋㅋ -> ㅋㅋㅋ, !!!!!! -> !!! (max_repeat=3). Digits and spaces are left alone (100000 stays)."""
    pat = re.compile(r"([^\d\s])\1{%d,}" % max_repeat)
    repl = "\\1" * max_repeat

    def squash(t: str) -> str:
        t2 = pat.sub(repl, t)
        return t if t2 == t else t2
    return squash


# -- personal information ---------------------------------------------------------------------------
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'()\[\]{}\uac00-\ud7a3]+", re.I)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Korean resident registration number: YYMMDD-GNNNNNN (G: 1-4 citizens, 5-8 foreigners)
_RRN = re.compile(r"(?<!\d)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\s?-?\s?[1-8]\d{6}(?!\d)")
# Korean phone numbers: 010-1234-5678, 02-123-4567, 031.123.4567, +82 10 1234 5678, 1588-1234
_PHONE = re.compile(r"(?<![\d-])(?:(?:\+82[-.\s]?\(?0?\)?\d{1,2}|\(0\d{1,2}\)\s?|0\d{1,2})[-.\s]?\d{3,4}[-.\s]?\d{4}"
                    r"|1[5-9]\d{2}-\d{4})(?![\d-])")
_DIGITS = re.compile(r"\d{4}")


def make_pii(kinds: list[str]) -> Callable[[str], str]:
    kinds = [k for k in PII_KINDS if k in kinds]

    def mask(t: str) -> str:
        t2 = t
        if "url" in kinds and ("://" in t2 or "www." in t2 or "WWW." in t2):
            t2 = _URL.sub(PII_TOKENS["url"], t2)
        if "email" in kinds and "@" in t2:
            t2 = _EMAIL.sub(PII_TOKENS["email"], t2)
        if ("rrn" in kinds or "phone" in kinds) and _DIGITS.search(t2):
            if "rrn" in kinds:
                t2 = _RRN.sub(PII_TOKENS["rrn"], t2)
            if "phone" in kinds:
                t2 = _PHONE.sub(PII_TOKENS["phone"], t2)
        return t if t2 == t else t2
    return mask


def build_steps(clean_cfg) -> list[tuple[str, Callable[[str], str]]]:
    """The enabled cleaning steps of a recipe, in order."""
    steps: list[tuple[str, Callable[[str], str]]] = []
    if clean_cfg.markup:
        steps.append(("markup", strip_markup))
    if clean_cfg.nfc:
        steps.append(("nfc", nfc))
    if clean_cfg.whitespace:
        steps.append(("whitespace", fix_whitespace))
    if clean_cfg.repeats:
        steps.append(("repeats", make_squash(clean_cfg.max_repeat)))
    if clean_cfg.pii and clean_cfg.pii_kinds:
        steps.append(("pii", make_pii(clean_cfg.pii_kinds)))
    return steps
