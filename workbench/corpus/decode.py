"""Text decoding for files from anywhere: UTF-8 (with or without BOM), UTF-16 with BOM,
CP949/EUC-KR (common in Korean files), else whatever charset-normalizer is sure of.
Binary or undecodable files are refused with a reason a person understands.
"""
from __future__ import annotations

import codecs
import io
from dataclasses import dataclass

from workbench.i18n import Text, as_text, say

SNIFF_BYTES = 1 << 20  # decide the encoding from the first 1 MiB

_BOMS = [(codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]

# What people call these encodings (the UI shows it next to each file).
NICE = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 (BOM)", "utf-16": "UTF-16", "utf-32": "UTF-32", "cp949": "CP949/EUC-KR"}


class Refused(ValueError):
    """A file that cannot be read; the message says why (a Text: English, with `.ko`; `str(e)` is the English),
    `code` names the kind of problem so a UI can group it."""

    def __init__(self, message: str, code: str = "unreadable"):
        self.text: Text = as_text(message)
        super().__init__(self.text)
        self.code = code


@dataclass
class Sniffed:
    encoding: str      # a Python codec name
    label: str         # how the UI names it


def _decodes(data: bytes, enc: str, complete: bool) -> str | None:
    """The decoded sample, or None. A cut sample may end inside a multi-byte character: allow that."""
    dec = codecs.getincrementaldecoder(enc)(errors="strict")
    try:
        return dec.decode(data, final=complete)
    except UnicodeDecodeError:
        return None


def _binary_reason(text: str) -> Text | None:
    if not text:
        return None
    ctrl = sum(1 for ch in text[:200_000] if ch < " " and ch not in "\t\n\r\f\v\x1a")
    if ctrl / min(len(text), 200_000) > 0.01:
        return say("it looks like a binary file (many control characters), not text",
                   "제어 문자가 많아 텍스트가 아니라 바이너리 파일로 보입니다")
    return None


def sniff(sample: bytes, complete: bool = False) -> Sniffed:
    """Pick the encoding of a file from its first bytes, or raise Refused with the reason."""
    for bom, enc in _BOMS:
        if sample.startswith(bom):
            text = _decodes(sample, enc, complete)
            if text is None:
                nice = NICE.get(enc, enc)
                raise Refused(say(f"it starts with a {nice} byte-order mark but is not valid {nice}",
                                  f"{nice} BOM(바이트 순서 표시)으로 시작하지만 올바른 {nice} 파일이 아닙니다"),
                              "encoding")
            return Sniffed(enc, NICE.get(enc, enc))
    if b"\x00" in sample[:65536]:
        raise Refused(say("it contains NUL bytes: a binary file (image, archive, program...), not text",
                          "NUL 바이트가 들어 있습니다: 텍스트가 아니라 바이너리 파일(이미지, 압축 파일, 프로그램 등)입니다"),
                      "binary")
    for enc in ("utf-8", "cp949"):  # cp949 is a superset of EUC-KR
        text = _decodes(sample, enc, complete)
        if text is not None:
            reason = _binary_reason(text)
            if reason:
                raise Refused(reason, "binary")
            return Sniffed(enc, NICE[enc])
    from charset_normalizer import from_bytes
    best = from_bytes(sample[:200_000]).best()
    if best is not None and best.chaos < 0.2 and best.encoding:
        text = _decodes(sample, best.encoding, complete)
        if text is not None and not _binary_reason(text):
            return Sniffed(best.encoding, best.encoding)
    raise Refused(say("it is neither UTF-8 nor CP949/EUC-KR, and its encoding cannot be told: "
                      "save it as UTF-8 and upload it again",
                      "UTF-8도 CP949/EUC-KR도 아니고 인코딩을 알아낼 수 없습니다: UTF-8로 저장해서 다시 올리세요"),
                  "encoding")


def decode_bytes(data: bytes) -> tuple[str, Sniffed]:
    """Decode a whole (small) file. Raises Refused."""
    s = sniff(data[:SNIFF_BYTES], complete=len(data) <= SNIFF_BYTES)
    try:
        text = data.decode(s.encoding)
    except UnicodeDecodeError as e:
        raise Refused(say(f"it was read as {s.label} but byte {e.start} cannot be decoded: "
                          "the file mixes encodings or is damaged",
                          f"{s.label}(으)로 읽었지만 {e.start}번 위치의 바이트를 해독할 수 없습니다: "
                          "인코딩이 섞여 있거나 손상된 파일입니다"), "encoding") from None
    return text.replace("\r\n", "\n").replace("\r", "\n"), s


def open_text(raw) -> tuple[io.TextIOWrapper, Sniffed]:
    """Wrap a binary stream as text in its detected encoding, without reading it whole.

    Pass files opened with `buffering=SNIFF_BYTES` (or any non-BufferedReader stream: it gets
    such a buffer), so the first peek sees enough bytes to decide.
    """
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw, buffer_size=SNIFF_BYTES)
    head = buffered.peek(SNIFF_BYTES)[:SNIFF_BYTES]
    s = sniff(head, complete=False)
    return io.TextIOWrapper(buffered, encoding=s.encoding, errors="strict", newline=None), s
