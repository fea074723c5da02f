"""Short, in-process work for the tab: a preview of sources, a look at a saved corpus, search and samples.

Everything here is bounded: at most `limit` documents are read, and statistics of a corpus larger
than that come from an evenly spread sample (the result says so).
"""
from __future__ import annotations

import random
from pathlib import Path

from .sources import HFSource, LoadReport, iter_documents
from .stats import describe

PREVIEW_LIMIT = 20_000


def load_preview(specs: list[str], *, text_field: str = "", unit: str = "auto", hf: HFSource | None = None,
                 ws=None, limit: int = PREVIEW_LIMIT) -> dict:
    """The first `limit` documents of the sources, what was refused and why, and their statistics."""
    report = LoadReport()
    docs = [{"id": i, "text": t, "source": s} for i, t, s in
            iter_documents(specs, text_field=text_field, unit=unit, hf=hf, ws=ws, report=report, limit=limit + 1)]
    truncated = len(docs) > limit
    docs = docs[:limit]
    return {"docs": docs, "truncated": truncated, "report": report.to_dict(),
            "stats": describe([d["text"] for d in docs]) if docs else None}


def corpus_overview(folder: str | Path, limit: int = 50_000) -> dict:
    """Statistics of a saved corpus, every split (as a run's "after" counts every kept document); beyond
    `limit` documents, of an evenly spread sample of them."""
    import pyarrow.parquet as pq

    from workbench.artifacts import corpus_splits
    files = {s: pq.ParquetFile(p) for s, p in corpus_splits(folder).items()}
    n = sum(pf.metadata.num_rows for pf in files.values())
    step = max(1, -(-n // limit))
    texts: list[str] = []
    seen = 0
    for pf in files.values():
        for rb in pf.iter_batches(batch_size=20_000, columns=["text"]):
            col = rb.column(0).to_pylist()
            first = (-seen) % step
            texts.extend(col[first::step])
            seen += len(col)
    return {"docs_total": n, "sampled": len(texts) < n, "stats": describe(texts),
            "splits": {s: pf.metadata.num_rows for s, pf in files.items()}}


def search_docs(docs: list[dict], query: str = "", n: int = 20, seed: int = 0) -> tuple[list[dict], int]:
    """Up to n documents containing `query` (all when empty), in random order; and how many matched."""
    q = query.strip()
    hits = [d for d in docs if q in d["text"]] if q else list(docs)
    rng = random.Random(seed)
    return (rng.sample(hits, n) if len(hits) > n else rng.sample(hits, len(hits))), len(hits)


def search_corpus(folder: str | Path, query: str = "", n: int = 20, seed: int = 0, split: str = "train"
                  ) -> tuple[list[dict], int]:
    """The same over a saved corpus, scanned with Arrow (no Python loop over rows)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from workbench.artifacts import corpus_split_path
    pf = pq.ParquetFile(corpus_split_path(folder, split))
    q = query.strip()
    rng = random.Random(seed)
    reservoir: list[dict] = []
    matched = 0
    for rb in pf.iter_batches(batch_size=50_000, columns=["id", "text", "source"]):
        if q:
            rb = rb.filter(pc.match_substring(rb.column(1), q))
        for k in range(rb.num_rows):  # reservoir sampling; only chosen rows become Python objects
            matched += 1
            j = len(reservoir) if len(reservoir) < n else rng.randrange(matched)
            if j < n:
                row = {"id": rb.column(0)[k].as_py(), "text": rb.column(1)[k].as_py(), "source": rb.column(2)[k].as_py()}
                if j == len(reservoir):
                    reservoir.append(row)
                else:
                    reservoir[j] = row
    rng.shuffle(reservoir)
    return reservoir, matched
