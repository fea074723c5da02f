"""A sentence cut by several tokenizers, as spans a UI can color (no UI code here).

Each span is a piece of the input with the token ids that make it. Byte pieces are grouped until
they spell whole characters, so a syllable split into 3 byte tokens shows as that syllable (with its
3 ids), never as mojibake. Round trip: the decoded ids must give the input back; `roundtrip` says
"exact", "normalized" (equal after the tokenizer's own NFC/NFKC normalization) or "lossy".
"""
from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, field

from workbench.errors import UserError
from workbench.i18n import say

from .backends import BYTE, NORMAL, SPECIAL, UNK, Backend, BackendCache, Encoded
from .metrics import word_spans


@dataclass
class Span:
    text: str                      # what to show (the syllable a group of byte pieces spells)
    ids: list                      # token ids (Kiwi: form/TAG)
    labels: list[str]              # vocabulary pieces / morphemes, for hovering
    kind: str                      # text, byte (several byte pieces or a partial char), unk, special
    start: int
    end: int


@dataclass
class Segmentation:
    name: str
    kind: str
    spans: list[Span] = field(default_factory=list)
    count: int = 0                 # tokens (not spans)
    words: int = 0
    roundtrip: str = "exact"       # exact | normalized | lossy | n/a
    decoded: str | None = None
    error: str | None = None       # the tokenizer could not be loaded / run

    def to_dict(self) -> dict:
        return asdict(self)


def segment(backend: Backend, text: str) -> Segmentation:
    enc = backend.encode(text)
    seg = Segmentation(backend.name, backend.kind, count=len(enc.ids), words=len(word_spans(text)))
    seg.spans = group_spans(enc, text)
    try:
        decoded = backend.decode(enc, text)
    except Exception as e:  # noqa: BLE001 - a decoder that fails is reported, not fatal
        decoded = None
        seg.error = say(f"decode failed: {type(e).__name__}: {e}", f"디코딩 실패: {type(e).__name__}: {e}")
    seg.decoded = decoded
    if decoded is None:
        seg.roundtrip = "n/a"
    elif decoded == text:
        seg.roundtrip = "exact"
    elif decoded == backend.normalize(text) or decoded in (unicodedata.normalize("NFC", text),
                                                           unicodedata.normalize("NFKC", text)):
        seg.roundtrip = "normalized"
    else:
        seg.roundtrip = "lossy"
    return seg


def group_spans(enc: Encoded, text: str) -> list[Span]:
    """Tokens -> display spans; runs of byte tokens are merged until their bytes form whole characters."""
    spans: list[Span] = []
    i, n = 0, len(enc.ids)
    while i < n:
        kind = enc.kinds[i]
        j = i + 1
        if kind == BYTE and enc.pieces[i] is not None:
            buf = bytes(enc.pieces[i])
            while j < n and not _whole(buf) and enc.kinds[j] == BYTE and enc.pieces[j] is not None:
                buf += enc.pieces[j]
                j += 1
        elif enc.pieces and enc.pieces[i] is None:
            # Units without bytes (Kiwi morphemes) that share characters (갔 = 가 + 었) show as one span.
            end = enc.offsets[i][1]
            while j < n and enc.pieces[j] is None and enc.offsets[j][0] < end:
                end = max(end, enc.offsets[j][1])
                j += 1
        a = min(enc.offsets[k][0] for k in range(i, j))
        b = max(enc.offsets[k][1] for k in range(i, j))
        spans.append(Span(_display(enc, i, j, text, a, b), enc.ids[i:j], enc.labels[i:j] if enc.labels else [],
                          kind, a, b))
        i = j
    return spans


def _whole(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _display(enc: Encoded, i: int, j: int, text: str, a: int, b: int) -> str:
    """The text of tokens i..j-1 as a person reads it; spaces shown as ▁ so they stay visible."""
    kind = enc.kinds[i]
    if kind == SPECIAL:
        return enc.labels[i]
    pieces = enc.pieces[i:j]
    if kind in (NORMAL, BYTE) and all(p is not None for p in pieces):
        raw = b"".join(pieces)
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError:
            s = text[a:b] if b > a else raw.decode("utf-8", errors="replace")
    else:  # unknown token, or a tokenizer that gives no bytes (Kiwi): show the input it covers
        s = text[a:b]
    if not s and b > a:
        s = text[a:b]
    return s.replace(" ", "▁") if s.strip() else s.replace(" ", "▁").replace("\n", "↵")


def segment_all(specs: list[str], text: str, cache: BackendCache, ws=None) -> list[Segmentation]:
    """Every selected tokenizer on one text; a tokenizer that cannot load becomes a row with its error."""
    out = []
    for spec in specs:
        try:
            out.append(segment(cache.get(spec, ws), text))
        except UserError as e:
            out.append(Segmentation(spec, "error", error=e.text, roundtrip="n/a"))
    return out


__all__ = ["Span", "Segmentation", "segment", "segment_all", "group_spans", "UNK", "BYTE", "NORMAL", "SPECIAL"]
