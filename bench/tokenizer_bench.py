"""Benchmark: training through the workbench vs the plain library, same corpus and settings, same run;
Kiwi pre-segmentation vs plain training on the same corpus and vocabulary; encode throughput. Prints
exactly one JSON line.

    python bench/tokenizer_bench.py [--corpus PATH] [--max-texts N] [--algorithm hf-bpe-char] [--vocab-size N]
                                    [--repeats 3] [--kiwi-repeats 1] [--heldout SPEC]
    python bench/tokenizer_bench.py --max-texts 0 --vocab-size 32000      # the whole 62 MB corpus, 32k pieces

The workbench call is the Tokenizer stage run in-process (reading the source, counting characters,
training, building the transformers tokenizer, measuring held-out fertility, saving and registering
the artifact). The plain call reads the same texts with a few lines of Python and trains the same
model with the library directly (train_from_iterator / SentencePieceTrainer with a sentence iterator),
then saves tokenizer.json / the .model. Runs alternate and the fastest of --repeats is kept, since
the machine may be shared; process CPU seconds (all threads) are reported beside wall seconds, as they
move much less with other people's load. The Kiwi run is the same workbench call with
pre_tokenization=kiwi (Kiwi's model is loaded before the clock starts; its load time is reported apart).

Default corpus: ../shared/data/pretrain (first --max-texts texts; 0 = all), held-out text KorNLI's dev set
(not part of that corpus); without ../shared/data: konlpy's bundled bills, held-out the constitution.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
SHARED = ROOT.parent / "shared" / "data"


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process (Rust, Kiwi, SentencePiece)
    return r.ru_utime + r.ru_stime


def plain_texts(spec: str, limit: int):
    """The same texts the workbench reads, with plain Python (txt, txt.gz, jsonl 'text', konlpy:*)."""
    if spec.startswith("konlpy:"):
        import konlpy
        files = sorted((Path(konlpy.__file__).parent / "data" / "corpus" / spec.split(":")[1]).glob("*.txt"))
    else:
        p = Path(spec)
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    n = 0
    for f in files:
        opener = gzip.open if f.name.endswith(".gz") else open
        with opener(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                text = json.loads(line)["text"] if ".jsonl" in f.name else line.rstrip("\n")
                if not text.strip():
                    continue
                yield text
                n += 1
                if limit and n >= limit:
                    return


def plain_train(algorithm: str, spec: str, limit: int, vocab_size: int, alphabet: int, out: Path) -> float:
    from workbench.tokenizer.specials import Specials
    specials = Specials().ordered
    t0 = time.perf_counter()
    if algorithm.startswith("spm-"):
        import sentencepiece as spm

        def sentences():
            for t in plain_texts(spec, limit):
                for line in unicodedata.normalize("NFC", t).splitlines():
                    if line.strip():
                        yield line
        spm.SentencePieceTrainer.train(
            sentence_iterator=sentences(), model_prefix=str(out / "plain"), model_type=algorithm.split("-")[1],
            vocab_size=vocab_size, character_coverage=0.9995, byte_fallback=True, normalization_rule_name="identity",
            add_dummy_prefix=True, remove_extra_whitespaces=False, split_by_unicode_script=False, split_by_number=False,
            pad_id=0, unk_id=1, bos_id=2, eos_id=3, pad_piece=specials[0], unk_piece=specials[1], bos_piece=specials[2],
            eos_piece=specials[3], control_symbols=specials[4:], max_sentence_length=1 << 16,
            num_threads=os.cpu_count() or 1, minloglevel=2)
    else:
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
        if algorithm == "hf-bpe-byte":
            tok = Tokenizer(models.BPE())
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            tok.decoder = decoders.ByteLevel()
            trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=specials,
                                          initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        else:
            tok = Tokenizer(models.BPE(byte_fallback=True, unk_token=specials[1]))
            tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
            tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                             decoders.Strip(" ", 1, 0)])
            trainer = trainers.BpeTrainer(vocab_size=vocab_size - 256, min_frequency=2, special_tokens=specials,
                                          limit_alphabet=alphabet, show_progress=False)
        tok.normalizer = normalizers.NFC()
        tok.train_from_iterator(plain_texts(spec, limit), trainer)
        tok.save(str(out / "tokenizer.json"))
    return time.perf_counter() - t0


def _boundary_f1(ws, texts: list[str], names: dict[str, str]) -> dict:
    """Morpheme-boundary F1 against Kiwi on the held-out text (after the timings): what Kiwi training buys."""
    from workbench.tokenizer.backends import load
    from workbench.tokenizer.metrics import evaluate, kiwi_reference
    ref = kiwi_reference(texts)
    return {k: evaluate(load(name, ws), texts, ref, throughput=False)["boundary_f1"] for k, name in names.items()}


def main() -> None:
    default = SHARED / "pretrain"
    default_held = SHARED / "kor-nlu" / "KorNLI" / "xnli.dev.ko.tsv"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=str(default) if default.is_dir() else "konlpy:kobill")
    ap.add_argument("--heldout", default=None, help="held-out text (default: KorNLI dev, else konlpy:kolaw)")
    ap.add_argument("--max-texts", type=int, default=100_000, help="first N texts of the corpus; 0 = all")
    ap.add_argument("--algorithm", default="hf-bpe-char", choices=["hf-bpe-char", "hf-bpe-byte", "spm-bpe", "spm-unigram"])
    ap.add_argument("--vocab-size", type=int, default=16_000)
    ap.add_argument("--repeats", type=int, default=3, help="at least 1")
    ap.add_argument("--kiwi-repeats", type=int, default=1, help="workbench runs with pre_tokenization=kiwi (0: none)")
    args = ap.parse_args()
    args.repeats = max(1, args.repeats)
    heldout_spec = args.heldout or (str(default_held) if default_held.is_file() and args.corpus == str(default)
                                    else "konlpy:kolaw")

    from state import Workspace
    from workbench.runs import run_in_process
    from workbench.tokenizer.backends import HFBackend, TiktokenBackend
    from workbench.tokenizer.metrics import encode_throughput
    from workbench.tokenizer.sources import resolve_source
    from workbench.tokenizer.spans import segment
    from workbench.tokenizer.stage import TokenizerConfig

    import tokenizers  # noqa: F401 - imports are paid before any timing, for both sides
    from transformers import PreTrainedTokenizerFast  # noqa: F401
    tmp = Path(tempfile.mkdtemp(prefix="tokbench-"))
    ws = Workspace(tmp / "ws")
    heldout = list(resolve_source(heldout_spec).texts(limit=2000, unique=True))
    (tmp / "heldout.txt").write_text("\n".join(heldout), encoding="utf-8")
    texts = list(plain_texts(args.corpus, args.max_texts))
    mb, n_texts = sum(len(t.encode("utf-8")) for t in texts) / 1e6, len(texts)
    del texts

    def workbench(name: str, **kw) -> tuple[float, float, dict]:
        cfg = TokenizerConfig(corpus=args.corpus, name=name, algorithm=args.algorithm, vocab_size=args.vocab_size,
                              max_texts=args.max_texts, heldout=str(tmp / "heldout.txt"), **kw).validate()
        t0, c0 = time.perf_counter(), cpu_seconds()
        res = run_in_process("tokenizer", cfg, ws)
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        if res["status"] != "succeeded":
            print(json.dumps({"bench": "tokenizer", "ok": False, "error": str(res["error"])}, ensure_ascii=False))
            sys.exit(1)
        return wall, cpu, res["summary"]

    kiwi_load = None
    if args.kiwi_repeats > 0:
        from workbench.tokenizer import backends
        kiwi_workers = getattr(backends, "kiwi_workers", lambda: min(4, os.cpu_count() or 1))
        t0 = time.perf_counter()
        backends.kiwi().tokenize("모델을 불러옵니다.")  # Kiwi starts lazily: its model is loaded by the first analysis
        kiwi_load = time.perf_counter() - t0

    # Runs alternate (workbench, plain library, workbench with Kiwi), so all three see the same machine load.
    load0 = round(os.getloadavg()[0], 2)  # a load above the core count means other work shared the machine
    wb_times, wb_cpu, raw_times, raw_cpu, summary = [], [], [], [], {}
    k_times, k_cpu, k_summary = [], [], {}
    for r in range(max(args.repeats, args.kiwi_repeats)):
        if r < args.repeats:
            wall, cpu, summary = workbench(f"bench-{r}")
            wb_times.append(wall)
            wb_cpu.append(cpu)
            meta = ws.store.get_artifact(kind="tokenizer", name=f"bench-{r}").meta
            alphabet = meta["training"]["alphabet_at_coverage"] + 1
            out = tmp / f"plain-{r}"
            out.mkdir()
            c0 = cpu_seconds()
            raw_times.append(plain_train(args.algorithm, args.corpus, args.max_texts, args.vocab_size, alphabet, out))
            raw_cpu.append(cpu_seconds() - c0)
        if r < args.kiwi_repeats:
            wall, cpu, k_summary = workbench(f"bench-kiwi-{r}", pre_tokenization="kiwi")
            k_times.append(wall)
            k_cpu.append(cpu)

    kiwi = None
    if args.kiwi_repeats > 0:
        k_meta = ws.store.get_artifact(kind="tokenizer", name="bench-kiwi-0").meta
        kiwi = {"workbench_kiwi_s": round(min(k_times), 2), "workbench_plain_s": round(min(wb_times), 2),
                "ratio": round(min(k_times) / min(wb_times), 3),
                "ratio_to_plain_library": round(min(k_times) / min(raw_times), 3),
                "kiwi_cpu_s": round(min(k_cpu), 2), "plain_cpu_s": round(min(wb_cpu), 2),
                "cpu_ratio": round(min(k_cpu) / min(wb_cpu), 3),
                "kiwi_read_and_mark_s": k_summary.get("read_seconds"), "kiwi_train_s": k_summary.get("train_seconds"),
                "kiwi_threads": kiwi_workers(), "kiwi_model_load_s": round(kiwi_load, 2),
                "words": {k: v for k, v in (k_meta["training"].get("kiwi") or {}).items() if k != "unit"},
                "heldout_fertility_kiwi": k_summary.get("heldout_fertility"),
                "boundary_f1": _boundary_f1(ws, heldout, {"plain": "bench-0", "kiwi": "bench-kiwi-0"}),
                "all_kiwi_s": [round(x, 2) for x in k_times],
                "paired_ratios": [round(k / w, 3) for k, w in zip(k_times, wb_times)]}  # same repeat, same load

    # Encode throughput on held-out text: the workbench backend, the raw tokenizers call, transformers, cl100k.
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer
    path = ws.store.get_artifact(kind="tokenizer", name="bench-0").path
    fast = AutoTokenizer.from_pretrained(path)
    backend = HFBackend(fast, "bench-0")
    n_bytes = sum(len(t.encode("utf-8")) for t in heldout)
    raw_tok = Tokenizer.from_file(str(Path(path) / "tokenizer.json"))

    class _Raw:
        def count_batch(self, xs):
            return sum(len(e.ids) for e in raw_tok.encode_batch(xs, add_special_tokens=False))

    class _Transformers:
        def count_batch(self, xs):
            return sum(len(x) for x in fast(xs, add_special_tokens=False)["input_ids"])

    enc = {"workbench_backend": encode_throughput(backend, heldout, n_bytes),
           "tokenizers_raw": encode_throughput(_Raw(), heldout, n_bytes),
           "transformers_call": encode_throughput(_Transformers(), heldout, n_bytes),
           "cl100k_tiktoken": encode_throughput(TiktokenBackend(), heldout, n_bytes)}
    sentence = "한국어 토크나이저는 형태소 경계를 얼마나 잘 지킬까요? 똠얌꿍도 먹었어요."
    t0 = time.perf_counter()
    for _ in range(200):
        segment(backend, sentence)
    span_ms = (time.perf_counter() - t0) / 200 * 1000
    wb, raw = min(wb_times), min(raw_times)
    print(json.dumps({
        "bench": "tokenizer", "ok": True, "corpus": args.corpus, "texts": n_texts, "corpus_mb": round(mb, 2),
        "algorithm": args.algorithm, "vocab_size": args.vocab_size,
        "train": {"workbench_s": round(wb, 2), "plain_library_s": round(raw, 2), "ratio": round(wb / raw, 3),
                  "ratio_of_medians": round(statistics.median(wb_times) / statistics.median(raw_times), 3),
                  "workbench_cpu_s": round(min(wb_cpu), 2), "plain_library_cpu_s": round(min(raw_cpu), 2),
                  "cpu_ratio": round(min(wb_cpu) / min(raw_cpu), 3),
                  "workbench_read_s": summary.get("read_seconds"), "workbench_train_s": summary.get("train_seconds"),
                  "all_workbench_s": [round(x, 2) for x in wb_times], "all_plain_s": [round(x, 2) for x in raw_times]},
        "kiwi": kiwi,
        "encode_mb_per_s": {k: round(v, 2) for k, v in enc.items()},
        "heldout": heldout_spec, "heldout_texts": len(heldout), "heldout_mb": round(n_bytes / 1e6, 3),
        "segment_ms_per_sentence": round(span_ms, 3),
        "heldout_fertility": summary.get("heldout_fertility"),
        "machine": {"cpus": os.cpu_count(), "loadavg_1m_at_start": load0, "loadavg_1m_at_end": round(os.getloadavg()[0], 2)},
    }, ensure_ascii=False))
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
