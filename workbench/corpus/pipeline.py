"""The curation recipe, streamed and parallel.

    read (stream) -> batches -> worker processes: clean, filter, exact keys, MinHash LSH band hashes
                  -> main: spill survivors to a temporary parquet, keep 8 bytes per band per document
    then: exact and near-duplicate decisions over the whole corpus (numpy + scipy connected components)
    -> second pass over the spill: train/validation parquet splits, "after" statistics, examples.

Memory stays bounded by the batch size and the per-document hashes, never the corpus: a corpus
larger than memory is processed the same way.
"""
from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import shutil
import time
import zlib
from collections import Counter, deque
from pathlib import Path
from typing import Iterator

import numpy as np

from workbench.errors import UserError
from workbench.i18n import join, say
from workbench.runtime import StopRequested

from . import charstats
from .clean import build_steps
from .dedup import MinHasher, exact_key, jaccard, lsh_params, near_duplicate_components, true_jaccard_ok
from .filters import FILTER_STEPS, run_filters
from .sources import LoadReport, expand, iter_documents
from .stats import TextStats, words_every_for

log = logging.getLogger("workbench.corpus")
CLIP = 400
SMALL_INPUT = 2 << 20  # below 2 MiB of input a worker pool costs more than it saves

# -- the per-batch work (runs in worker processes) -------------------------------------------------
_W: dict = {}


def init_worker(cfg, in_pool: bool = False, words_every: int = 1) -> None:
    if in_pool:  # a Stop (SIGTERM to the job's process group) ends workers at once; the main process cleans up
        import signal
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    _W["cfg"] = cfg
    _W["words_every"] = words_every  # top words of every n-th document (stats.words_every_for)
    _W["steps"] = build_steps(cfg.clean)
    d = cfg.dedup
    _W["hasher"] = MinHasher(d.num_perm, d.seed, d.shingle, d.threshold) if d.near else None
    charstats.table()


def clip(t: str, at: int = 0) -> str:
    """A window of a long text around position `at` (where a change happened)."""
    if len(t) <= CLIP:
        return t
    lo = max(0, min(at - CLIP // 4, len(t) - CLIP))
    return ("…" if lo else "") + t[lo:lo + CLIP] + ("…" if lo + CLIP < len(t) else "")


def _first_diff(a: str, b: str) -> int:
    return len(os.path.commonprefix([a, b]))


def enabled_filters(f) -> list[str]:
    return [s for s in FILTER_STEPS if getattr(f, s)]


def clean_batch(docs: list[tuple[str, str, str]]) -> dict:
    """Cleaning steps over a batch, counting changed documents; also the batch's 'before' statistics."""
    k = _W["cfg"].examples
    ids = [d[0] for d in docs]
    texts = [d[1] for d in docs]
    srcs = [d[2] for d in docs]
    before = TextStats(_W.get("words_every", 1)).add(texts)
    changed, examples = {}, {}
    for name, fn in _W["steps"]:
        c, ex = 0, []
        for i, t in enumerate(texts):
            t2 = fn(t)
            if t2 is not t:
                c += 1
                if len(ex) < k:
                    at = _first_diff(t, t2)
                    ex.append({"id": ids[i], "before": clip(t, at), "after": clip(t2, at)})
                texts[i] = t2
        changed[f"clean.{name}"] = c
        examples[f"clean.{name}"] = ex
    return {"n": len(docs), "ids": ids, "texts": texts, "sources": srcs, "changed": changed, "examples": examples,
            "before": before, "src_in": Counter(srcs)}


def finish_batch(part: dict, removed_by: np.ndarray, fex: dict) -> dict:
    """Count and sample the filters' removals, keep the survivors, compute their dedup keys and LSH bands."""
    cfg = _W["cfg"]
    ids, texts, srcs = part["ids"], part["texts"], part["sources"]
    removed = {}
    for si, step in enumerate(FILTER_STEPS):
        if getattr(cfg.filters, step):
            removed[f"filters.{step}"] = int((removed_by == si).sum())
            part["examples"][f"filters.{step}"] = [{"id": ids[i], "text": clip(texts[i]), "why": why}
                                                   for i, why in fex[step]]
    keep = np.flatnonzero(removed_by < 0)
    s_texts = [texts[i] for i in keep]
    out = {**part, "removed": removed, "ids": [ids[i] for i in keep], "texts": s_texts,
           "sources": [srcs[i] for i in keep]}
    if cfg.dedup.exact:
        out["exact"] = np.fromiter((exact_key(t) for t in s_texts), dtype=np.uint64, count=len(s_texts))
    if _W["hasher"] is not None:
        h = _W["hasher"]
        out["bands"] = h.band_hashes(h.signatures(s_texts))
    return out


def process_batch(docs: list[tuple[str, str, str]]) -> dict:
    """The whole per-batch recipe of the local backend: clean, filter, hash."""
    part = clean_batch(docs)
    texts = part["texts"]
    cp, lengths = charstats.codepoints(texts)
    counts = charstats.class_counts(cp, lengths)
    removed_by, fex = run_filters(texts, lengths, counts, _W["cfg"].filters, _W["cfg"].examples)
    return finish_batch(part, removed_by, fex)


# -- orchestration (main process) ---------------------------------------------------------------
def _batched(docs: Iterator, size: int) -> Iterator[list]:
    buf = []
    for d in docs:
        buf.append(d)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def _wait(res, ctx):
    while True:
        try:
            return res.get(timeout=0.5)
        except mp.TimeoutError:
            if ctx.should_stop:
                raise StopRequested(ctx.stop_reason) from None


def pmap(fn, items: Iterator, cfg, ctx, use_pool: bool, words_every: int = 1) -> Iterator:
    """fn over the items, in order; with a worker pool, at most 2 items per worker in flight (bounded memory)."""
    if not use_pool:
        init_worker(cfg, words_every=words_every)
        for b in items:
            yield fn(b)
        return
    init_worker(cfg, words_every=words_every)  # imports (datasketch, scipy), the character table once; forks inherit
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    pool = mp.get_context(method).Pool(cfg.num_proc, initializer=init_worker, initargs=(cfg, True, words_every))
    try:
        pending: deque = deque()
        for b in items:
            pending.append(pool.apply_async(fn, (b,)))
            if len(pending) >= 2 * cfg.num_proc:
                yield _wait(pending.popleft(), ctx)
        while pending:
            yield _wait(pending.popleft(), ctx)
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def input_bytes(cfg, ws) -> int:
    entries, _ = expand(list(cfg.inputs), ws)
    return sum(e.size for e in entries) + (cfg.hf.max_rows * 200 if cfg.hf.name else 0)


def _is_validation(doc_id: str, seed: int, fraction: float) -> bool:
    return fraction > 0 and zlib.crc32(f"{seed}/{doc_id}".encode("utf-8")) < fraction * 4294967296.0


def run_recipe(cfg, ctx, out_dir: Path) -> dict:
    """Run the whole recipe; writes <out_dir>/{train,validation}.parquet + report.json, and
    <run_dir>/report.json (also when the recipe leaves nothing). Returns the report."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    t0 = time.time()
    report_path = ctx.run_dir / "report.json"
    if cfg.backend == "nemo_curator":
        from .nemo import check_available
        check_available()
    size = input_bytes(cfg, ctx.ws)
    use_pool = cfg.num_proc > 1 and size > SMALL_INPUT
    words_every = words_every_for(size)  # the same rate before and after, and every document of a small corpus
    load = LoadReport()
    docs = iter_documents(list(cfg.inputs), text_field=cfg.text_field, unit=cfg.unit, hf=cfg.hf_source(),
                          ws=ctx.ws, report=load, limit=cfg.max_docs)
    out_dir.mkdir(parents=True, exist_ok=True)
    spill_path = out_dir / ".survivors.parquet"
    schema = pa.schema([("id", pa.string()), ("text", pa.string()), ("source", pa.string())])
    spill = pq.ParquetWriter(spill_path, schema, compression="none")
    clean_steps = [f"clean.{n}" for n, _ in build_steps(cfg.clean)]
    filter_steps = [f"filters.{s}" for s in enabled_filters(cfg.filters)]
    changed = Counter({s: 0 for s in clean_steps})
    removed = Counter({s: 0 for s in filter_steps})
    examples: dict[str, list] = {s: [] for s in clean_steps + filter_steps}
    before = TextStats(words_every)
    src_in: Counter = Counter()
    exact_parts, band_parts, val_parts = [], [], []
    docs_in = kept = 0
    stopped = False
    bi = 0
    ctx.progress(0, 1000, say("reading", "읽는 중"))
    if cfg.backend == "nemo_curator":
        from .nemo import nemo_results
        results = nemo_results(_batched(docs, cfg.batch_size), cfg, ctx, use_pool, out_dir / ".nemo",
                               words_every=words_every)
    else:
        results = pmap(process_batch, _batched(docs, cfg.batch_size), cfg, ctx, use_pool, words_every)
    try:
        for bi, res in enumerate(results, 1):
            docs_in += res["n"]
            kept += len(res["ids"])
            changed.update(res["changed"])
            removed.update(res["removed"])
            for step, ex in res["examples"].items():
                room = cfg.examples - len(examples.setdefault(step, []))
                if room > 0:
                    examples[step].extend(ex[:room])
            before.merge(res["before"])
            src_in.update(res["src_in"])
            if res["ids"]:
                spill.write_table(pa.table({"id": res["ids"], "text": res["texts"], "source": res["sources"]},
                                           schema=schema))
            val_parts.append(np.fromiter((_is_validation(i, cfg.seed, cfg.validation_fraction) for i in res["ids"]),
                                         dtype=bool, count=len(res["ids"])))
            if "exact" in res:
                exact_parts.append(res["exact"])
            if "bands" in res:
                band_parts.append(res["bands"])
            if cfg.backend == "local":  # the NeMo backend reports its own phases
                frac = load.position() / max(1, load.bytes_total)
                ctx.progress(int(900 * frac), 1000, say(f"{docs_in:,} documents read, {kept:,} passed the filters",
                                                        f"문서 {docs_in:,}개 읽음, {kept:,}개 필터 통과"))
            ctx.metrics(bi, {"docs_in": docs_in, "docs_kept": kept,
                             **{f"removed.{k}": v for k, v in removed.items()},
                             **{f"changed.{k}": v for k, v in changed.items()}})
            if ctx.should_stop:
                raise StopRequested(ctx.stop_reason)
    except StopRequested:
        stopped = True
    finally:
        results.close()  # ends the worker pool now, also on errors and stops
        spill.close()
        shutil.rmtree(out_dir / ".nemo", ignore_errors=True)  # the NeMo backend's shards (a copy of the corpus)
    for r in load.refused:  # the terminal's log names every file that was not read, and why
        log.warning("refused %s: %s", r.get("path") or r["source"], r["reason"])
    steps = [{"step": s, "kind": "clean", "changed": changed[s]} for s in clean_steps]
    left = docs_in
    for s in filter_steps:
        left -= removed[s]
        steps.append({"step": s, "kind": "filter", "removed": removed[s], "left": left})
    report = {"backend": _backend_label(cfg), "docs_in": docs_in, "run_id": ctx.run_id, "recipe": cfg.to_dict(),
              "sources": {**load.to_dict(), "docs_in": dict(src_in)}, "parents": sorted(set(load.parents)),
              "examples": examples, "clusters": [], "stats": {"before": before.to_dict()}}
    if stopped:
        spill_path.unlink(missing_ok=True)
        report.update(stopped=True, docs_out=0, splits={}, steps=steps, removed=dict(removed), changed=dict(changed),
                      seconds=round(time.time() - t0, 2), docs_per_second=round(docs_in / max(1e-9, time.time() - t0)))
        _write_json(report_path, report)
        return report
    if docs_in == 0:
        spill_path.unlink(missing_ok=True)
        reasons = join("; ", (r["source"] + ": " + r["reason"] for r in load.refused[:10]))
        raise UserError(say("no documents were read", "읽은 문서가 없습니다")
                        + (say(". Refused: ", ". 읽지 못한 파일: ") + reasons if reasons else
                           say(": the inputs hold no text", ": 입력에 텍스트가 없습니다"))
                        + say(". Check the files (or the text field/column) and try again.",
                              ". 파일(또는 텍스트 필드/열)을 확인하고 다시 시도하세요."))

    # -- global decisions: exact, then near duplicates ------------------------------------------
    t_read = time.time()
    ctx.progress(910, 1000, say("deduplicating", "중복 제거 중"))
    n = kept
    alive = np.ones(n, dtype=bool)
    same_as = np.arange(n)
    if cfg.dedup.exact:
        h = np.concatenate(exact_parts) if exact_parts else np.zeros(0, np.uint64)
        _, first, inv = np.unique(h, return_index=True, return_inverse=True)
        same_as = first[inv]
        alive &= same_as == np.arange(n)
        removed["dedup.exact"] = int(n - alive.sum())
        steps.append({"step": "dedup.exact", "kind": "dedup", "removed": removed["dedup.exact"],
                      "left": int(alive.sum())})
    keep_of = np.arange(n)
    if cfg.dedup.near:
        bands = np.concatenate(band_parts) if band_parts else np.zeros((0, 1), np.uint64)
        verify = None
        if cfg.dedup.verify:
            def verify(src, dst):
                texts = _texts_at(spill_path, np.union1d(src, dst))
                return true_jaccard_ok(src, dst, texts, cfg.dedup.shingle, cfg.dedup.threshold)
        keep_of = near_duplicate_components(bands, alive, verify)
        near_dup = alive & (keep_of != np.arange(n))
        if cfg.backend == "nemo_curator":
            from . import nemo
            if nemo.gpu_dedup_available():  # the cluster path: NeMo Curator's GPU fuzzy dedup decides
                b, r = lsh_params(cfg.dedup.threshold, cfg.dedup.num_perm)
                rows_out = nemo.gpu_fuzzy_duplicates(spill_path, out_dir / ".nemo" / "fuzzy", cfg.dedup, b, r)
                near_dup = np.zeros(n, dtype=bool)
                near_dup[rows_out[(rows_out >= 0) & (rows_out < n)]] = True
                near_dup &= alive
                # clusters shown are still our LSH components (NeMo reports removals, not clusters)
                keep_of = np.where(near_dup | (keep_of == np.arange(n)), keep_of, np.arange(n))
        removed["dedup.near"] = int(near_dup.sum())
        alive &= ~near_dup
        steps.append({"step": "dedup.near", "kind": "dedup", "removed": removed["dedup.near"],
                      "left": int(alive.sum()), "bands": int(bands.shape[1]),
                      "rows": lsh_params(cfg.dedup.threshold, cfg.dedup.num_perm)[1]})
    docs_out = int(alive.sum())
    report.update(removed=dict(removed), changed=dict(changed), steps=steps, docs_out=docs_out)

    if docs_out == 0:
        spill_path.unlink(missing_ok=True)
        culprit = next((s for s in steps if s.get("left") == 0), None)
        report.update(splits={}, seconds=round(time.time() - t0, 2), docs_per_second=0)
        _write_json(report_path, report)
        if culprit:
            raise UserError(f"the recipe left 0 of {docs_in} documents: step '{culprit['step']}' removed the last "
                            f"{culprit['removed']}. Loosen its thresholds or switch it off, then run again.",
                            ko=f"레시피를 거친 뒤 남은 문서가 없습니다 ({docs_in}개 중 0개): '{culprit['step']}' 단계가 "
                               f"마지막 {culprit['removed']}개를 지웠습니다. 이 단계의 기준을 느슨하게 하거나 끈 뒤 "
                               "다시 실행하세요.")
        raise UserError(f"the recipe left 0 of {docs_in} documents",
                        ko=f"레시피를 거친 뒤 남은 문서가 없습니다 ({docs_in}개 중 0개)")

    # -- clusters and examples to show -----------------------------------------------------------
    need: dict[int, str | None] = {}
    exact_ex = [int(i) for i in np.flatnonzero(same_as != np.arange(n))[:cfg.examples]] if cfg.dedup.exact else []
    near_ex: list[int] = []
    clusters_idx: list[tuple[int, list[int]]] = []
    sizes_of: dict[int, int] = {}
    if cfg.dedup.near:
        dup = np.flatnonzero((keep_of >= 0) & (keep_of != np.arange(n)))
        near_ex = [int(i) for i in dup[:cfg.examples]]
        if len(dup) and cfg.clusters:
            roots, sizes = np.unique(keep_of[dup], return_counts=True)
            order = np.lexsort((roots, -sizes))[:cfg.clusters]
            members = {int(r): [] for r in roots[order]}
            for i in dup:
                r = int(keep_of[i])
                if r in members and len(members[r]) < 8:
                    members[r].append(int(i))
            clusters_idx = [(int(r), members[int(r)]) for r in roots[order]]
            sizes_of = dict(zip(roots.tolist(), (sizes + 1).tolist()))
    for i in exact_ex:
        need[i] = need[int(same_as[i])] = None
    for i in near_ex:
        need[i] = need[int(keep_of[i])] = None
    for r, ms in clusters_idx:
        need[r] = None
        for i in ms:
            need[i] = None

    # -- second pass: write the splits -----------------------------------------------------------
    t_dedup = time.time()
    is_val = np.concatenate(val_parts) if val_parts else np.zeros(0, bool)
    n_val = int((alive & is_val).sum())
    after = TextStats(words_every)
    ctx.progress(930, 1000, say("writing the corpus", "말뭉치를 쓰는 중"))

    need_sorted = np.array(sorted(need), dtype=np.int64)

    def rows(split_val: bool, collect: bool):
        """Arrow batches of the kept documents of one split (no per-row Python work)."""
        g = 0
        for rb in pq.ParquetFile(spill_path).iter_batches(batch_size=20_000):
            m = alive[g:g + rb.num_rows]
            v = is_val[g:g + rb.num_rows]
            if collect:
                lo, hi = np.searchsorted(need_sorted, [g, g + rb.num_rows])
                for i in need_sorted[lo:hi]:
                    need[int(i)] = (rb.column(0)[int(i) - g].as_py(), rb.column(1)[int(i) - g].as_py())
                after.add(rb.column(1).filter(pa.array(m)).to_pylist())
            yield rb.filter(pa.array(m & (v if split_val else ~v)))
            g += rb.num_rows

    from workbench.artifacts import write_corpus_split
    splits = {"train": write_corpus_split(out_dir, "train", rows(False, True))}
    if n_val:
        splits["validation"] = write_corpus_split(out_dir, "validation", rows(True, False))
    spill_path.unlink(missing_ok=True)

    def doc(i: int) -> dict:
        did, text = need.get(i) or ("?", "")
        return {"id": did, "text": clip(text)}

    k = cfg.dedup.shingle
    if cfg.dedup.exact:
        examples["dedup.exact"] = [{**doc(i), "same_as": doc(int(same_as[i]))["id"]} for i in exact_ex]
    if cfg.dedup.near:
        examples["dedup.near"] = [{**doc(i), "kept": doc(int(keep_of[i])),
                                   "jaccard": round(jaccard(need[i][1], need[int(keep_of[i])][1], k), 3)}
                                  for i in near_ex]
        report["clusters"] = [{"size": sizes_of[r], "kept": doc(r),
                               "members": [{**doc(i), "jaccard": round(jaccard(need[i][1], need[r][1], k), 3)}
                                           for i in ms]} for r, ms in clusters_idx]
    seconds = time.time() - t0
    report.update(splits=splits, seconds=round(seconds, 2), docs_per_second=round(docs_in / max(seconds, 1e-9)),
                  phases={"read_clean_filter_hash": round(t_read - t0, 2), "dedup": round(t_dedup - t_read, 2),
                          "write": round(time.time() - t_dedup, 2)}, workers=cfg.num_proc if use_pool else 1,
                  stats={"before": before.to_dict(), "after": after.to_dict()})
    _write_json(report_path, report)
    _write_json(out_dir / "report.json", report)
    ctx.metrics(bi + 1, {"docs_in": docs_in, "docs_kept": kept, "docs_out": docs_out,
                         **{f"removed.{k2}": v for k2, v in removed.items()}}, flush=True)
    ctx.progress(1000, 1000, say(f"done: {docs_in:,} documents in, {docs_out:,} out",
                                 f"완료: 문서 {docs_in:,}개 입력, {docs_out:,}개 출력"))
    return report


def _backend_label(cfg) -> str:
    if cfg.backend == "nemo_curator":
        from .nemo import backend_label
        return backend_label()
    return "local"


def _texts_at(spill_path: Path, rows: np.ndarray) -> Iterator[tuple[int, str]]:
    """(row, text) for the given sorted spill rows, in order, reading only the text column."""
    import pyarrow.parquet as pq
    g = 0
    for rb in pq.ParquetFile(spill_path).iter_batches(batch_size=20_000, columns=["text"]):
        lo, hi = np.searchsorted(rows, [g, g + rb.num_rows])
        col = rb.column(0)
        for i in rows[lo:hi].tolist():
            yield i, col[i - g].as_py()
        g += rb.num_rows


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1, default=_json_default), encoding="utf-8")


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
