"""Corpus stage: load Korean text from anywhere, clean, filter, deduplicate, explore, save.

Modules: decode (encodings, binary refusal), sources (readers for every input kind),
clean (cleaning steps), charstats (vectorized per-document character classes),
filters (quality filters), dedup (exact + MinHash LSH near-duplicates), stats (explorer
figures' numbers), pipeline (the streaming, multi-process recipe), nemo (NeMo Curator
backend), stage (config, CLI flags, STAGE).
"""
