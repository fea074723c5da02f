"""Korean text that ships with an installed package, so every stage works offline with no set-up:
konlpy's corpora (the Korean constitution and ten National Assembly bills, ~65k characters),
read straight from the package data. Importing konlpy itself would go looking for Java; this does not.
Beside it, a small everyday-Korean text the team wrote (corpus/data/everyday_ko.txt, ~8.5k characters: places,
history, food, health, science, daily life), so a demo model's vocabulary and knowledge are not only legal prose.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

KONLPY_SETS = ("kolaw", "kobill")
EVERYDAY_TEXT = Path(__file__).resolve().parent / "corpus" / "data" / "everyday_ko.txt"  # team-written


def konlpy_corpus_dir() -> Path | None:
    spec = importlib.util.find_spec("konlpy")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(list(spec.submodule_search_locations)[0]) / "data" / "corpus"
    return d if d.is_dir() else None


def konlpy_files(sets: tuple[str, ...] = KONLPY_SETS) -> list[Path]:
    base = konlpy_corpus_dir()
    if base is None:
        return []
    return [p for s in sets for p in sorted((base / s).glob("*.txt"))]


def konlpy_texts() -> list[str]:
    """One text per file: the constitution, then the bills."""
    return [t for t in (p.read_text(encoding="utf-8") for p in konlpy_files()) if t.strip()]


def konlpy_lines(min_chars: int = 6) -> list[str]:
    """The bundled texts as stripped lines of at least min_chars characters (one short document each)."""
    return [ln.strip() for t in konlpy_texts() for ln in t.splitlines() if len(ln.strip()) >= min_chars]
