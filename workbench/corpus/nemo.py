"""NeMo Curator backend: the recipe's filters run as a NeMo Curator Pipeline (Xenna executor on Ray).

    clean (our worker pool)  -> parquet shards
    NeMo Pipeline: ParquetReader -> Score(Korean-aware DocumentFilters) -> ParquetWriter   (on Ray)
    per shard, in input order: each filter's keep_document() on its score, in recipe order
                               (so every removal is attributed to one filter), then dedup keys
    deduplication: on a CUDA machine with cuDF, NeMo Curator's GPU FuzzyDeduplicationWorkflow
                   (the path for clusters); otherwise our MinHash LSH (NeMo's dedup needs cuDF).

NeMo's own NonAlphaNumericFilter (ASCII-only alphanumerics) and MeanWordLengthFilter reject
ordinary Korean, so the filters here are Korean-aware DocumentFilters with exactly the local
backend's definitions (same thresholds, same counts).
"""
from __future__ import annotations

import importlib.util
import logging
import os
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from workbench.errors import UserError
from workbench.i18n import say

from . import charstats
from .filters import FILTER_STEPS, dup_line_ratio, dup_ngram_ratio

log = logging.getLogger("workbench.corpus.nemo")
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def available() -> bool:
    return importlib.util.find_spec("nemo_curator") is not None


def gpu_dedup_available() -> bool:
    """NeMo Curator's fuzzy dedup runs on cuDF: a CUDA GPU and the cudf package are needed."""
    if importlib.util.find_spec("cudf") is None:
        return False
    try:
        import torch
        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def check_available() -> None:
    if not available():
        raise UserError("backend nemo_curator needs the nemo_curator package: pip install nemo-curator "
                        "(see requirements-gpu.txt), or choose backend local",
                        ko="nemo_curator 백엔드에는 nemo_curator 패키지가 필요합니다: pip install nemo-curator "
                           "(requirements-gpu.txt 참고), 또는 백엔드로 local을 고르세요")


def backend_label() -> str:
    dedup = "NeMo Curator GPU fuzzy dedup" if gpu_dedup_available() else \
        "local MinHash LSH (NeMo Curator's dedup needs cuDF and a GPU)"
    return f"nemo_curator: filters in a NeMo Curator pipeline on Ray (Xenna); dedup: {dedup}"


def _counts(text: str) -> np.ndarray:
    cp, lengths = charstats.codepoints([text])
    return charstats.class_counts(cp, lengths)


def make_filters(f) -> list[tuple[str, object]]:
    """Korean-aware NeMo DocumentFilters for the enabled filter steps, in recipe order."""
    from nemo_curator.stages.text.filters import DocumentFilter

    class KoreanLengthFilter(DocumentFilter):
        """Characters and space-separated words (eojeol) within bounds."""
        def score_document(self, text):
            return [float(len(text)), float(len(text.split()))]

        def keep_document(self, s):
            return f.min_chars <= s[0] <= f.max_chars and f.min_words <= s[1] <= f.max_words

        def why(self, s):
            c, w = int(s[0]), int(s[1])
            if c < f.min_chars or c > f.max_chars:
                return {"metric": "chars", "value": c, "op": "<" if c < f.min_chars else ">",
                        "limit": f.min_chars if c < f.min_chars else f.max_chars}
            return {"metric": "words", "value": w, "op": "<" if w < f.min_words else ">",
                    "limit": f.min_words if w < f.min_words else f.max_words}

    class HangulRatioFilter(DocumentFilter):
        """Share of letters that are Hangul (NeMo's alphanumeric filters count only ASCII)."""
        def score_document(self, text):
            return float(charstats.ratios(_counts(text))["hangul_ratio"][0])

        def keep_document(self, s):
            return s >= f.min_hangul_ratio

        def why(self, s):
            return {"metric": "hangul_ratio", "value": round(s, 3), "op": "<", "limit": f.min_hangul_ratio}

    class KoreanSymbolDigitFilter(DocumentFilter):
        """Symbols and digits among non-space characters; Hangul counts as a letter."""
        def score_document(self, text):
            r = charstats.ratios(_counts(text))
            return [float(r["symbol_ratio"][0]), float(r["digit_ratio"][0])]

        def keep_document(self, s):
            return s[0] <= f.max_symbol_ratio and s[1] <= f.max_digit_ratio

        def why(self, s):
            if s[0] > f.max_symbol_ratio:
                return {"metric": "symbol_ratio", "value": round(s[0], 3), "op": ">", "limit": f.max_symbol_ratio}
            return {"metric": "digit_ratio", "value": round(s[1], 3), "op": ">", "limit": f.max_digit_ratio}

    class RepetitionFilter(DocumentFilter):
        def score_document(self, text):
            return [dup_line_ratio(text), dup_ngram_ratio(text.split(), f.ngram_size)]

        def keep_document(self, s):
            return s[0] <= f.max_dup_line_ratio and s[1] <= f.max_dup_ngram_ratio

        def why(self, s):
            if s[0] > f.max_dup_line_ratio:
                return {"metric": "dup_line_ratio", "value": round(s[0], 3), "op": ">", "limit": f.max_dup_line_ratio}
            return {"metric": f"dup_{f.ngram_size}gram_ratio", "value": round(s[1], 3), "op": ">",
                    "limit": f.max_dup_ngram_ratio}

    class ScriptMixFilter(DocumentFilter):
        def score_document(self, text):
            return float(charstats.script_share(_counts(text), list(f.allowed_scripts))[0])

        def keep_document(self, s):
            return s <= f.max_foreign_ratio

        def why(self, s):
            return {"metric": "foreign_script_ratio", "value": round(s, 3), "op": ">", "limit": f.max_foreign_ratio}

    made = {"length": KoreanLengthFilter, "hangul": HangulRatioFilter, "symbols": KoreanSymbolDigitFilter,
            "repetition": RepetitionFilter, "script": ScriptMixFilter}
    return [(s, made[s]()) for s in FILTER_STEPS if getattr(f, s)]


def score_pipeline(in_dir: Path, out_dir: Path, filters: list[tuple[str, object]]):
    """The NeMo Curator pipeline that scores every shard with every filter."""
    from nemo_curator.pipeline import Pipeline
    from nemo_curator.stages.text.filters import Score
    from nemo_curator.stages.text.io.reader import ParquetReader
    from nemo_curator.stages.text.io.writer import ParquetWriter

    stages = [ParquetReader(file_paths=str(in_dir), files_per_partition=1)]
    if filters:
        objs = [o for _, o in filters]
        fields = [f"score_{s}" for s, _ in filters]
        stages.append(Score(score_fn=objs if len(objs) > 1 else objs[0],
                            score_field=fields if len(fields) > 1 else fields[0], text_field="text"))
    stages.append(ParquetWriter(path=str(out_dir), mode="overwrite"))
    return Pipeline(name="korean_corpus_filters", description="Korean-aware quality filters", stages=stages)


def _ray_processes() -> set[int]:
    import psutil
    out = set()
    for p in psutil.process_iter(["pid", "name", "cmdline"]):
        cmd = " ".join(p.info.get("cmdline") or [])
        if cmd.startswith("ray::") or "raylet" in cmd or "gcs_server" in cmd or "ray/dashboard" in cmd \
                or "ray/_private" in cmd:
            out.add(p.info["pid"])
    return out


def run_pipeline(pipeline) -> None:
    """Run on a local Ray started for this run, and leave no Ray process of ours behind."""
    from nemo_curator.backends.xenna import XennaExecutor
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    before = _ray_processes()
    try:
        pipeline.run(XennaExecutor(config={"execution_mode": "batch"}))
    finally:
        try:
            import ray
            if ray.is_initialized():
                ray.shutdown()
        except ImportError:
            pass
        _end_new_ray_processes(before)


def _end_new_ray_processes(before: set[int]) -> None:
    import psutil
    time.sleep(0.5)
    left = [psutil.Process(p) for p in _ray_processes() - before if psutil.pid_exists(p)]
    for p in left:
        try:
            p.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(left, timeout=5)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass


def nemo_results(batches: Iterator[list], cfg, ctx, use_pool: bool, work: Path, words_every: int = 1
                 ) -> Iterator[dict]:
    """The same per-batch results as the local backend, with the filters scored by NeMo Curator."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .pipeline import clean_batch, finish_batch, init_worker, pmap
    check_available()
    in_dir, out_dir = work / "in", work / "out"
    in_dir.mkdir(parents=True, exist_ok=True)
    parts: list[dict] = []
    for bi, part in enumerate(pmap(clean_batch, batches, cfg, ctx, use_pool, words_every)):
        pq.write_table(pa.table({"id": part["ids"], "text": part["texts"], "source": part["sources"],
                                 "batch": [bi] * part["n"]}), in_dir / f"part-{bi:06d}.parquet")
        for key in ("ids", "texts", "sources"):
            part.pop(key)
        parts.append(part)
        n_clean = sum(p["n"] for p in parts)
        ctx.progress(min(400, 40 * (bi + 1)), 1000, say(f"cleaned {n_clean:,} documents", f"문서 {n_clean:,}개 정제함"))
        if ctx.should_stop:
            return
    if not parts:
        return
    filters = make_filters(cfg.filters)
    ctx.progress(400, 1000, say("NeMo Curator pipeline (Ray) scoring the filters",
                                "NeMo Curator 파이프라인(Ray)에서 필터 점수를 계산하는 중"))
    t0 = time.time()
    run_pipeline(score_pipeline(in_dir, out_dir, filters))
    log.info("NeMo Curator pipeline: %.1f s", time.time() - t0)
    by_batch = {}
    for f in out_dir.glob("*.parquet"):
        b = pq.read_table(f, columns=["batch"]).column(0)
        if len(b):
            by_batch[int(b[0].as_py())] = f
    init_worker(cfg, words_every=words_every)
    k = cfg.examples
    for bi, part in enumerate(parts):
        if bi in by_batch:
            t = pq.read_table(by_batch[bi])
        else:  # NeMo drops empty tasks; a batch of documents never is, but stay safe
            t = pq.read_table(in_dir / f"part-{bi:06d}.parquet")
        part.update(ids=t.column("id").to_pylist(), texts=t.column("text").to_pylist(),
                    sources=t.column("source").to_pylist())
        n = t.num_rows
        removed_by = np.full(n, -1, dtype=np.int8)
        fex: dict[str, list] = {s: [] for s in FILTER_STEPS}
        for step, obj in filters:
            scores = t.column(f"score_{step}").to_pylist()
            si = FILTER_STEPS.index(step)
            for i in range(n):
                if removed_by[i] < 0 and not obj.keep_document(scores[i]):
                    removed_by[i] = si
                    if len(fex[step]) < k:
                        fex[step].append((i, obj.why(scores[i])))
        ctx.progress(700 + int(200 * (bi + 1) / len(parts)), 1000, say("applying the filters' decisions",
                                                                       "필터 판정을 적용하는 중"))
        yield finish_batch(part, removed_by, fex)


def gpu_fuzzy_duplicates(survivors: Path, work: Path, dedup_cfg, bands: int, rows: int) -> np.ndarray:
    """Row indices of `survivors` (one parquet file) that NeMo Curator's GPU FuzzyDeduplicationWorkflow marks as
    near duplicates. Needs cuDF and a CUDA GPU (gpu_dedup_available()); not exercised on CPU-only machines.

    The workflow numbers the rows of each input file group from the start of the range its id generator
    registered for that group (written to fuzzy_id_generator.json), so a removed id minus the range start
    is the row index in our single input file."""
    import json

    import pyarrow.parquet as pq
    from nemo_curator.stages.deduplication.fuzzy.identify_duplicates import DUPLICATE_IDS_SUBDIR
    from nemo_curator.stages.deduplication.fuzzy.workflow import (ID_GENERATOR_OUTPUT_FILENAME,
                                                                  FuzzyDeduplicationWorkflow)
    from nemo_curator.stages.deduplication.id_generator import CURATOR_DEDUP_ID_STR

    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    before = _ray_processes()
    try:
        FuzzyDeduplicationWorkflow(cache_path=str(work / "cache"), output_path=str(work / "out"),
                                   input_path=str(survivors), input_filetype="parquet", text_field="text",
                                   seed=dedup_cfg.seed, char_ngrams=dedup_cfg.shingle, num_bands=bands,
                                   minhashes_per_band=rows, bands_per_iteration=min(5, bands)).run()
    finally:
        _end_new_ray_processes(before)
    registry = json.loads((work / "out" / ID_GENERATOR_OUTPUT_FILENAME).read_text())["batch_registry"]
    start = min(lo for lo, _ in registry.values())
    files = sorted((work / "out" / DUPLICATE_IDS_SUBDIR).glob("*.parquet"))
    if not files:
        return np.zeros(0, dtype=np.int64)
    ids = np.concatenate([pq.read_table(f, columns=[CURATOR_DEDUP_ID_STR]).column(0).to_numpy() for f in files])
    return ids.astype(np.int64) - start
