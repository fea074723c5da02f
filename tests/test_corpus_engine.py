"""Corpus engine: reading and decoding, cleaning, filters, dedup, stats, the recipe end to end (in-process)."""
import gzip
import json
import unicodedata
import zipfile

import numpy as np
import pytest

from conftest import shared_data
from workbench.artifacts import corpus_splits, iter_corpus, iter_corpus_texts, read_meta
from workbench.errors import UserError
from workbench.runtime import RunContext

REVIEW = "이 영화 정말 재미있어요 배우들 연기가 좋았고 음악도 훌륭했습니다"


def run_corpus(ws, **sets):
    from workbench.corpus.stage import CorpusConfig, run
    cfg = CorpusConfig().replace(**sets).validate()
    rid = ws.store.create_run("corpus", cfg.to_dict(), status="running")
    ctx = RunContext(ws, rid, "corpus")
    return run(cfg, ctx), ctx


def read_docs(specs, **kw):
    from workbench.corpus.sources import LoadReport, iter_documents
    rep = LoadReport()
    docs = list(iter_documents([str(s) for s in specs], report=rep, **kw))
    return docs, rep


# -- sources and decoding ----------------------------------------------------------------
def test_encodings_detected_and_binary_refused_rest_loads(tmp_path):
    (tmp_path / "utf8.txt").write_bytes("유니코드 문서입니다\n".encode("utf-8"))
    (tmp_path / "bom.txt").write_bytes("\ufeffBOM 달린 문서입니다\n".encode("utf-8"))
    (tmp_path / "cp949.txt").write_bytes("완성형 똠방각하 문서입니다\n".encode("cp949"))
    (tmp_path / "euckr.txt").write_bytes("한국어 EUC-KR 문서입니다\n".encode("euc-kr"))
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20)
    docs, rep = read_docs([tmp_path])
    texts = {t for _, t, _ in docs}
    assert texts == {"유니코드 문서입니다", "BOM 달린 문서입니다", "완성형 똠방각하 문서입니다", "한국어 EUC-KR 문서입니다"}
    enc = {f["source"].split("/")[-1]: f["encoding"] for f in rep.files}
    assert enc["bom.txt"] == "UTF-8 (BOM)" and enc["cp949.txt"] == "CP949/EUC-KR" and enc["utf8.txt"] == "UTF-8"
    assert len(rep.refused) == 1 and rep.refused[0]["source"].endswith("image.txt")
    assert "binary" in rep.refused[0]["reason"]


def test_zip_with_mixed_encodings_and_a_bad_member(tmp_path):
    z = tmp_path / "mixed.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a_utf8.txt", "첫째 문서\n".encode("utf-8"))
        zf.writestr("b_cp949.txt", "둘째 문서\n".encode("cp949"))
        zf.writestr("c.jsonl", json.dumps({"body": "셋째 문서"}, ensure_ascii=False).encode("utf-8-sig") + b"\n")
        zf.writestr("d_binary.txt", b"\x00\x01\x02" * 100)
        zf.writestr("e_empty.txt", b"")
    docs, rep = read_docs([z])
    assert [t for _, t, _ in docs] == ["첫째 문서", "둘째 문서", "셋째 문서"]
    assert docs[1][2] == "mixed.zip/b_cp949.txt" and docs[1][0] == "mixed.zip/b_cp949.txt#1"
    reasons = {r["source"]: r["reason"] for r in rep.refused}
    assert "NUL" in reasons["mixed.zip/d_binary.txt"] and "empty" in reasons["mixed.zip/e_empty.txt"]


def test_structured_formats_fields_columns_and_units(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    (tmp_path / "a.jsonl").write_text('{"id": 1, "body": "본문 하나"}\n{"id": 2, "body": "본문 둘"}\nnot json\n',
                                      encoding="utf-8")
    (tmp_path / "b.csv").write_text('label,review\n1,"좋아요, 정말"\n0,별로\n', encoding="utf-8")
    (tmp_path / "c.tsv").write_text('id\tdocument\tlabel\n9\t"따옴표" 그대로\t1\n', encoding="utf-8")
    pq.write_table(pa.table({"n": [1], "content": ["파케이 문서"]}), tmp_path / "d.parquet")
    (tmp_path / "e.html").write_text("<html><head><title>t</title><style>p{}</style></head><body><p>첫 문단</p>"
                                     "<script>var x;</script><p>둘째 &amp; 문단</p></body></html>", encoding="utf-8")
    with gzip.open(tmp_path / "f.txt.gz", "wt", encoding="utf-8") as f:
        f.write("줄 하나\n줄 둘\n")
    (tmp_path / "g.txt").write_text("문단 하나\n이어짐\n\n문단 둘\n", encoding="utf-8")
    docs, rep = read_docs([tmp_path])
    by_src: dict = {}
    for _, t, s in docs:
        by_src.setdefault(s.split("/")[-1], []).append(t)
    assert by_src["a.jsonl"] == ["본문 하나", "본문 둘"]           # field guessed ("body"), bad line skipped
    assert by_src["b.csv"] == ["좋아요, 정말", "별로"]              # the text column is the one with long text
    assert by_src["c.tsv"] == ['"따옴표" 그대로']                  # TSV: quotes are text (NSMC convention)
    assert by_src["d.parquet"] == ["파케이 문서"]
    assert by_src["e.html"] == ["첫 문단\n\n둘째 & 문단"]            # scripts/styles dropped
    assert by_src["f.txt.gz"] == ["줄 하나", "줄 둘"]              # no blank lines: one document per line
    assert by_src["g.txt"] == ["문단 하나\n이어짐", "문단 둘"]         # blank lines: paragraphs
    assert any("not JSON" in w for w in rep.warnings)
    docs, rep = read_docs([tmp_path / "a.jsonl"], text_field="text")
    assert docs == [] and "no field 'text'" in rep.refused[0]["reason"] and "body" in rep.refused[0]["reason"]


def test_bundled_konlpy_reads_without_java():
    import subprocess
    import sys
    # In a fresh interpreter: other tests import konlpy into this one.
    code = ("import sys; from workbench.corpus.sources import LoadReport, iter_documents; "
            "list(iter_documents(['bundled:konlpy'], report=LoadReport())); "
            "print('jpype' in sys.modules, 'konlpy' in sys.modules)")
    from conftest import ROOT
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "False"], out.stderr[-2000:]
    docs, rep = read_docs(["bundled:konlpy"])
    assert len(rep.files) == 11 and len(docs) > 1000
    assert docs[0][1].startswith("대한민국헌법") and docs[0][2] == "konlpy/kolaw/constitution.txt"


def test_bundled_everyday_is_the_team_written_text_one_paragraph_per_document():
    docs, rep = read_docs(["bundled:everyday"])
    assert [f["source"] for f in rep.files] == ["team/everyday_ko.txt"] and not rep.refused
    assert len(docs) >= 60 and docs[0][1].startswith("대한민국의 수도는 서울이다")
    assert all("\n\n" not in text for _, text, _ in docs)  # blank lines split paragraphs
    with pytest.raises(UserError, match="bundled:everyday"):  # named among the choices of a wrong key
        read_docs(["bundled:everything"])


def test_hf_dataset_saved_on_disk_and_offline_hub_message(tmp_path, monkeypatch):
    import datasets
    datasets.Dataset.from_dict({"label": [0, 1, 1], "sentence": ["첫 행", "둘째 행", "셋째 행"]}).save_to_disk(
        str(tmp_path / "ds"))
    from workbench.corpus.sources import HFSource
    docs, rep = read_docs([], hf=HFSource(name=str(tmp_path / "ds"), max_rows=2))
    assert [t for _, t, _ in docs] == ["첫 행", "둘째 행"] and rep.files[0]["field"] == "sentence"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    docs, rep = read_docs([], hf=HFSource(name="someone/korean-corpus-that-is-not-here"))
    assert docs == [] and "offline" in rep.refused[0]["reason"] and "save_to_disk" in rep.refused[0]["reason"]


# -- cleaning ----------------------------------------------------------------------------
def test_cleaning_steps():
    from workbench.corpus.clean import fix_whitespace, make_pii, make_squash, nfc, strip_markup
    decomposed = unicodedata.normalize("NFD", "한국어")
    assert len(decomposed) == 8 and nfc(decomposed) == "한국어"
    assert strip_markup("<div>가<b>나</b></div><script>x()</script>&lt;다&gt;") == "\n가나\n<다>"
    assert strip_markup('<doc id="7" title="법">본문</doc> <NumLock> 키, List<String>, <img src=x>') == \
        "본문 <NumLock> 키, List<String>, ", "markup goes; a key name or a code type in prose stays"
    assert fix_whitespace("  가\u200b나\t\t다\u3000라 \r\n\n\n\n마  ") == "가나 다 라\n\n마"
    squash = make_squash(3)
    assert squash("ㅋㅋㅋㅋㅋㅋ 좋아!!!!!! 1000000원") == "ㅋㅋㅋ 좋아!!! 1000000원"
    same = "보통 문장"
    assert squash(same) is same and fix_whitespace(same) is same  # unchanged texts are not counted as changed
    pii = make_pii(["url", "email", "phone", "rrn"])
    assert pii("문의 010-1234-5678, a.b@corp.co.kr, https://x.kr/a?b=1 참고, 주민번호 900101-1234567") == \
        "문의 <PHONE>, <EMAIL>, <URL> 참고, 주민번호 <RRN>"
    assert pii("2010. 11. 12. 제안, 1,234,567원") == "2010. 11. 12. 제안, 1,234,567원"
    assert make_pii(["email"])("010-1234-5678 a@b.com") == "010-1234-5678 <EMAIL>"


# -- filters -----------------------------------------------------------------------------
def test_filters_remove_with_reasons():
    from workbench.corpus import charstats
    from workbench.corpus.filters import FILTER_STEPS, run_filters
    from workbench.corpus.stage import FilterConfig
    texts = [REVIEW, "짧음", "English only sentence with many words here", "!!! ### $$$ %%% 가나다라",
             "좋아요 좋아요 좋아요 좋아요 좋아요 좋아요", "한국어 문장 안에 일본어 카나가 조금 섞여 있습니다 これはです", "2023 2024 2025 2026 한국"]
    cp, lengths = charstats.codepoints(texts)
    removed_by, ex = run_filters(texts, lengths, charstats.class_counts(cp, lengths), FilterConfig(), 10)
    got = [FILTER_STEPS[i] if i >= 0 else None for i in removed_by]
    assert got == [None, "length", "hangul", "symbols", "repetition", "script", "symbols"]
    assert ex["length"][0][1] == {"metric": "chars", "value": 2, "op": "<", "limit": 10}
    assert ex["symbols"][1][1]["metric"] == "digit_ratio"
    off = FilterConfig().replace(length=False, hangul=False, symbols=False, repetition=False, script=False)
    assert (run_filters(texts, lengths, charstats.class_counts(cp, lengths), off)[0] == -1).all()


# -- dedup -------------------------------------------------------------------------------
def test_minhash_equals_datasketch_and_lsh_candidates_match():
    from datasketch import MinHash, MinHashLSH
    from workbench.corpus.dedup import MinHasher, near_duplicate_components, shingle_hash, shingles
    base = "대한민국은 민주공화국이다 대한민국의 주권은 국민에게 있고 모든 권력은 국민으로부터 나온다"
    texts = [base, base.replace("모든", "모든 "), base + "!", "전혀 다른 내용의 문장입니다 영화가 재미있었어요",
             "짧다", "", "ABC Def 한국어", base[:30]]
    mh = MinHasher(num_perm=64, seed=3, shingle=5, threshold=0.7)
    sig = mh.signatures(texts)
    lsh = MinHashLSH(threshold=0.7, num_perm=64)
    assert (lsh.b, lsh.r) == (mh.bands, mh.rows)
    ms = []
    for i, t in enumerate(texts):
        m = MinHash(num_perm=64, seed=3, hashfunc=shingle_hash)
        m.update_batch(list(shingles(t, 5)))
        assert np.array_equal(m.hashvalues, sig[i]), f"signature {i} differs from datasketch"
        lsh.insert(i, m)
        ms.append(m)
    keep_of = near_duplicate_components(mh.band_hashes(sig), np.ones(len(texts), bool))
    for i, m in enumerate(ms):
        mine = {j for j in range(len(texts)) if keep_of[j] == keep_of[i]}
        assert set(lsh.query(m)) <= mine  # datasketch's candidates are in the same component
    assert keep_of[1] == 0 and keep_of[2] == 0 and keep_of[3] == 3  # spacing/punctuation variants join the first


def test_false_positive_check_splits_candidates_below_the_threshold():
    """Documents that share an LSH bucket but overlap less than the threshold are not duplicates when the
    check is on; verified links still join a component."""
    from workbench.corpus.dedup import near_duplicate_components, true_jaccard_ok
    texts = {0: "너무 감동적인 영화입니다 ㅠㅠ", 1: "너무 감동적인 영화입니다 ㅠ", 2: "전혀 다른 이야기의 짧은 글",
             3: "대한민국은 민주공화국이다"}
    bands = np.array([[7], [7], [7], [9]], dtype=np.uint64)  # 0, 1, 2 share a bucket; 3 is alone
    alive = np.ones(4, bool)
    assert list(near_duplicate_components(bands, alive)) == [0, 0, 0, 3], "unchecked: the bucket is the cluster"
    seen = []

    def verify(src, dst):
        seen.append(sorted(zip(src.tolist(), dst.tolist())))
        return true_jaccard_ok(src, dst, sorted(texts.items()), 5, 0.8)
    keep_of = near_duplicate_components(bands, alive, verify)
    assert seen == [[(1, 0), (2, 0)]], "each candidate pair is checked once"
    assert list(keep_of) == [0, 0, 2, 3]


def test_exact_key_normalizes_case_space_punctuation():
    from workbench.corpus.dedup import exact_key
    assert exact_key("좋아요!! Movie") == exact_key("좋 아 요 movie") != exact_key("좋아요 영화")


# -- stats -------------------------------------------------------------------------------
def test_stats_counts_syllables_jamo():
    from workbench.corpus.stats import describe
    s = describe(["가나 가나 ㅋㅋ", "한국어 abc 12", "漢字"])
    assert s["docs"] == 3 and s["hangul_syllables"] == 7 and s["jamo"] == 2 and s["words"] == 7
    assert s["syllables"]["distinct"] == 5 and s["syllables"]["top"][0] == ["가", 2]
    assert s["jamo_coverage"]["initial"]["ㄱ"] == 3 and s["jamo_coverage"]["final"]["ㄴ"] == 1
    assert s["top_words"][0] == ["가나", 2] and s["top_bigrams"][0] == ["가나 가나", 1]
    assert sum(s["len_hist"]["counts"]) == 3 and s["syllables"]["ksx1001_total"] == 2350


# -- the recipe end to end -----------------------------------------------------------------
def test_default_recipe_on_bundled_corpus_publishes_artifact(ws):
    summary, ctx = run_corpus(ws, name="법령")
    assert summary["docs_in"] > 2000 and 0 < summary["docs_out"] < summary["docs_in"]
    removed = sum(summary["removed"].values())
    assert summary["docs_in"] - removed == summary["docs_out"]
    assert summary["removed"]["dedup.exact"] > 0 and summary["removed"]["filters.length"] > 0
    art = ws.store.get_artifact(summary["artifact"])
    assert art.kind == "corpus" and art.name == "법령" and art.run == ctx.run_id
    texts = list(iter_corpus_texts(art.path))
    assert set(corpus_splits(art.path)) == {"train", "validation"}
    assert len(texts) + sum(1 for _ in iter_corpus_texts(art.path, "validation")) == summary["docs_out"]
    meta = read_meta(art.path)
    assert meta["recipe"]["filters"]["min_chars"] == 10 and meta["docs_out"] == summary["docs_out"]
    assert len(meta["sources"]) == 11 and meta["backend"] == "local"
    assert art.meta["steps"] == meta["steps"]
    rep = json.loads((ctx.run_dir / "report.json").read_text())
    assert rep["clusters"] and rep["clusters"][0]["members"][0]["jaccard"] > 0.5
    assert rep["stats"]["after"]["docs"] == summary["docs_out"] < rep["stats"]["before"]["docs"]
    # same name again: refused before any work, the saved corpus is untouched
    with pytest.raises(UserError, match="already exists"):
        run_corpus(ws, name="법령")
    assert list(iter_corpus_texts(art.path)) == texts
    # a saved corpus is itself an input; the new one records where it came from
    again, _ = run_corpus(ws, inputs=["artifact:법령"], name="법령-재정제", **{"dedup.near": False})
    assert ws.store.get_artifact(again["artifact"]).parents == [art.id]
    assert again["docs_in"] == summary["docs_out"] and again["removed"]["dedup.exact"] == 0


def test_top_words_are_counted_the_same_way_in_the_explorer_and_a_run(ws, tmp_path, monkeypatch):
    """The before/after table once said 688 "documents sampled for top words" where the explorer said 2,064 for
    the same bundled corpus (the run sampled at most 1,000 documents per batch of 4,000; the explorer all)."""
    from workbench.corpus import pipeline, stats
    from workbench.corpus.preview import corpus_overview, load_preview
    summary, ctx = run_corpus(ws, name="법령")
    rep = json.loads((ctx.run_dir / "report.json").read_text())
    before, after = rep["stats"]["before"], rep["stats"]["after"]
    explorer = load_preview(["bundled:konlpy"])["stats"]
    assert before["sampled_docs"] == before["docs"] == explorer["sampled_docs"] == explorer["docs"] == 2064
    assert before["top_words"] == explorer["top_words"] and before["words_every"] == 1
    saved = corpus_overview(ws.store.get_artifact(summary["artifact"]).path)  # every split, as "after" counts
    assert saved["docs_total"] == saved["stats"]["docs"] == saved["stats"]["sampled_docs"] == summary["docs_out"]
    assert after["docs"] == after["sampled_docs"] == summary["docs_out"]
    assert after["top_words"] == saved["stats"]["top_words"]
    # a large input (the limit lowered here): one document in 4, before and after alike, in worker processes too
    monkeypatch.setattr(stats, "ALL_WORDS_BYTES", 0)
    monkeypatch.setattr(pipeline, "SMALL_INPUT", 0)
    lines = [f"{REVIEW} {i}번째 리뷰 {'정말 ' * (i % 5)}끝" for i in range(3000)]
    (tmp_path / "r.txt").write_text("\n".join(lines), encoding="utf-8")
    big, ctx = run_corpus(ws, inputs=[str(tmp_path / "r.txt")], num_proc=2, batch_size=500, name="big")
    rep = json.loads((ctx.run_dir / "report.json").read_text())
    before, after = rep["stats"]["before"], rep["stats"]["after"]
    assert rep["workers"] == 2 and before["words_every"] == after["words_every"] == stats.LARGE_WORDS_EVERY == 4
    assert before["docs"] == 3000 and before["sampled_docs"] == 6 * 125  # every 4th of each batch of 500
    assert after["docs"] == big["docs_out"] and after["sampled_docs"] == -(-big["docs_out"] // 4)


def test_parallel_equals_serial_and_validation_split_is_stable(ws, tmp_path, monkeypatch):
    from workbench.corpus import pipeline
    lines = [f"{REVIEW} {i % 700}번째 리뷰 {'정말 ' * (i % 5)}끝" for i in range(3000)]
    (tmp_path / "r.txt").write_text("\n".join(lines), encoding="utf-8")
    a, _ = run_corpus(ws, inputs=[str(tmp_path / "r.txt")], num_proc=1, batch_size=500, name="serial",
                      validation_fraction=0.1)
    monkeypatch.setattr(pipeline, "SMALL_INPUT", 0)  # force the worker pool on this small input
    b, ctx = run_corpus(ws, inputs=[str(tmp_path / "r.txt")], num_proc=2, batch_size=500, name="parallel",
                        validation_fraction=0.1)
    assert json.loads((ctx.run_dir / "report.json").read_text())["workers"] == 2
    assert a["removed"] == b["removed"] and a["splits"] == b["splits"]
    assert a["removed"]["dedup.exact"] == 3000 - 700  # 700 distinct texts
    ids = lambda art, split: [r["id"] for r in iter_corpus(ws.store.get_artifact(art).path, split)]  # noqa: E731
    assert ids(a["artifact"], "validation") == ids(b["artifact"], "validation") and 0 < a["splits"]["validation"]


def test_recipe_leaving_nothing_names_the_step_and_keeps_saved_work(ws, tmp_path):
    first, _ = run_corpus(ws, name="keep-me")
    (tmp_path / "en.txt").write_text("only english words here\nanother english line\n", encoding="utf-8")
    with pytest.raises(UserError, match="filters.hangul"):
        run_corpus(ws, inputs=[str(tmp_path / "en.txt")], name="keep-me", overwrite=True)
    assert ws.store.get_artifact(first["artifact"]).name == "keep-me"
    assert sum(1 for _ in iter_corpus_texts(ws.store.get_artifact(first["artifact"]).path)) > 0


def test_no_documents_read_lists_refused_files(ws, tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "bin.txt").write_bytes(b"\x00" * 50)
    with pytest.raises(UserError, match=r"no documents were read.*empty.txt: it is empty.*bin.txt"):
        run_corpus(ws, inputs=[str(tmp_path / "empty.txt"), str(tmp_path / "bin.txt")])
    from workbench.config import ConfigError
    from workbench.corpus.stage import CorpusConfig
    with pytest.raises(ConfigError, match="filters.min_chars"):
        CorpusConfig().replace(**{"filters.min_chars": 50, "filters.max_chars": 10}).validate()
    with pytest.raises(UserError, match="does not exist"):
        run_corpus(ws, inputs=[str(tmp_path / "nope.txt")])


def test_messages_carry_korean(ws, tmp_path):
    """A UserError, a refused file's reason and a config check message each carry a Korean wording (the English,
    what str() gives, is unchanged)."""
    import re

    from state.names import NameError_, check_name
    from workbench.config import ConfigError
    from workbench.corpus.stage import CorpusConfig
    hangul = re.compile("[\uac00-\ud7a3]")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "bin.txt").write_bytes(b"\x00" * 50)
    with pytest.raises(UserError) as ei:
        run_corpus(ws, inputs=[str(tmp_path / "empty.txt"), str(tmp_path / "bin.txt")])
    text = ei.value.text
    assert str(ei.value).startswith("no documents were read") and text.en == str(ei.value)
    assert hangul.search(text.ko) and text.ko != text.en and "읽은 문서가 없습니다" in text.ko
    assert "empty.txt" in text.ko and "bin.txt" in text.ko and "NUL 바이트" in text.ko  # each file's reason, in Korean
    _, rep = read_docs([tmp_path / "bin.txt"])
    reason = rep.refused[0]["reason"]
    assert "NUL bytes" in reason and hangul.search(reason.ko) and rep.refused[0]["path"] == str(tmp_path / "bin.txt")
    with pytest.raises(ConfigError) as ci:
        CorpusConfig().replace(**{"filters.min_chars": 50, "filters.max_chars": 10, "name": "a/b"}).validate()
    msgs = dict(ci.value.errors)
    assert "is above max_chars 10" in msgs["filters.min_chars"] and "max_chars 10보다 큽니다" in msgs["filters.min_chars"].ko
    assert "contains '/'" in msgs["name"] and msgs["name"].ko.startswith("말뭉치 이름 'a/b'")
    with pytest.raises(NameError_) as ni:
        check_name("", "corpus name")
    assert str(ni.value).startswith("corpus name is empty") and ni.value.text.ko.startswith("말뭉치 이름: 비어 있습니다")


def test_stop_saves_nothing(ws, tmp_path):
    from workbench.corpus.stage import CorpusConfig, run
    (tmp_path / "r.txt").write_text("\n".join(f"{REVIEW} {i}" for i in range(2000)), encoding="utf-8")
    cfg = CorpusConfig().replace(inputs=[str(tmp_path / "r.txt")], batch_size=100, num_proc=1).validate()
    ctx = RunContext(ws, ws.store.create_run("corpus", cfg.to_dict(), status="running"), "corpus")
    ctx.request_stop("test")
    summary = run(cfg, ctx)
    assert summary.get("stopped") and summary["docs_in"] == 100 and ws.store.list_artifacts("corpus") == []


def test_nsmc_tsv_column_from_shared_data():
    path = shared_data("nsmc", "train.tsv")
    docs, rep = read_docs([path], text_field="document", limit=2000)
    assert len(docs) == 2000 and rep.files[0]["field"] == "document"
    assert not any(t.isdigit() for _, t, _ in docs[:50])  # the review column, not the id column


def test_examples_mark_only_what_a_step_changed():
    """The before/after view marks each changed word, not everything after the first change (a long
    text with two masked URLs keeps its unchanged middle plain)."""
    from tabs.corpus_tab import diff_marked
    middle = "데비안 설치 안내서의 내용을 여기에 길게 씁니다. " * 12
    before, after = f"자세한 내용은 https://a.org/x 보세요. {middle}또 https://b.org/y 참조.", \
        f"자세한 내용은 <URL> 보세요. {middle}또 <URL> 참조."
    b, a = diff_marked(before, after)
    assert b.count("<mark>") == a.count("<mark>") == 2
    assert "<mark>https://a.org/x</mark>" in b and "<mark>&lt;URL&gt;</mark>" in a
    assert middle in a.split("</mark>")[1].split("<mark>")[0], "the unchanged middle is shown plain"
    b, a = diff_marked("ㅋㅋㅋㅋㅋ 재밌다", "ㅋㅋ 재밌다")
    assert (b, a) == ("<mark>ㅋㅋㅋㅋㅋ</mark> 재밌다", "<mark>ㅋㅋ</mark> 재밌다")
