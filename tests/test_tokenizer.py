"""Tokenizer stage: training every algorithm into a transformers folder, references, spans, metrics, bad input."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from conftest import last_json, run_cli, shared_data

KOLAW_SENTENCES = [
    "대한민국은 민주공화국이다.",
    "모든 국민은 법 앞에 평등하다.",
    "국회의원은 국회에서 직무상 행한 발언과 표결에 관하여 국회외에서 책임을 지지 아니한다.",
]
ROUNDTRIP = KOLAW_SENTENCES + ["햏햏 🙂 ㅋㅋㅋ  두 칸 띄어쓰기", "GPT-4는 2023년에 나왔다!"]


def _konlpy_rows(which: str) -> list[dict]:
    from workbench.tokenizer.sources import resolve_source
    src = resolve_source(f"konlpy:{which}")
    return [{"id": str(i), "text": t, "source": which} for i, t in enumerate(src.texts())]


@pytest.fixture
def corpus(ws):
    """A corpus artifact made directly (the Corpus stage is built elsewhere): kobill train, kolaw validation."""
    from workbench.artifacts import write_corpus_split, write_meta
    staging = ws.staging_dir("corpus", "bills")
    write_corpus_split(staging, "train", _konlpy_rows("kobill"))
    write_corpus_split(staging, "validation", _konlpy_rows("kolaw"))
    write_meta(staging, {"recipe": "test"})
    art_id = ws.publish(staging, "corpus", "bills", meta={"rows": 1})
    return art_id


def _train(ws, **kw):
    from workbench.runs import run_in_process
    from workbench.tokenizer.stage import TokenizerConfig
    cfg = TokenizerConfig().replace(**kw).validate()
    return run_in_process("tokenizer", cfg, ws)


@pytest.mark.parametrize("algorithm", ["hf-bpe-char", "hf-bpe-byte", "hf-unigram", "hf-wordpiece", "spm-bpe",
                                       "spm-unigram"])
def test_every_algorithm_saves_a_transformers_tokenizer(ws, corpus, algorithm):
    from transformers import AutoTokenizer
    res = _train(ws, corpus="bills", name=f"t-{algorithm}", algorithm=algorithm, vocab_size=1200)
    assert res["status"] == "succeeded", res["error"]
    art = ws.store.get_artifact(kind="tokenizer", name=f"t-{algorithm}")
    assert art.parents == [corpus]                                   # lineage to the corpus
    assert ws.store.get_run(res["run_id"]).config["algorithm"] == algorithm  # and to its config
    tok = AutoTokenizer.from_pretrained(art.path)                   # no project code
    assert len(tok) == 1200
    assert [tok.pad_token_id, tok.unk_token_id, tok.bos_token_id, tok.eos_token_id] == [0, 1, 2, 3]
    assert tok.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"]) == [4, 5]
    chat = tok.apply_chat_template([{"role": "user", "content": "안녕하세요?"},
                                    {"role": "assistant", "content": "네, 반갑습니다."}], tokenize=False)
    assert chat == "<|im_start|>user\n안녕하세요?<|im_end|>\n<|im_start|>assistant\n네, 반갑습니다.<|im_end|>\n"
    ids = tok.apply_chat_template([{"role": "user", "content": "안녕"}], add_generation_prompt=True)
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    assert ids[0] == 4 and 5 in ids
    meta = json.loads(Path(art.path, "workbench.json").read_text())
    assert meta["algorithm"] == algorithm and meta["vocab_size"] == 1200
    assert meta["corpus"]["artifact_name"] == "bills" and meta["special_tokens"]["ids"]["</s>"] == 3
    assert meta["heldout"]["split"] == "validation" and meta["heldout"]["fertility"] > 1.0
    if algorithm != "hf-wordpiece":  # WordPiece drops spacing and maps unseen characters to [UNK]
        for s in ROUNDTRIP:
            assert tok.decode(tok(s)["input_ids"]) == s, (algorithm, s)
    if algorithm in ("hf-bpe-char", "hf-unigram", "spm-bpe", "spm-unigram"):
        pieces = tok.convert_ids_to_tokens(tok("🙂")["input_ids"])
        assert [p for p in pieces if p.startswith("<0x")] == ["<0xF0>", "<0x9F>", "<0x99>", "<0x82>"]


def test_sentencepiece_saved_as_hf_matches_sentencepiece(ws, corpus):
    import sentencepiece as spm
    from transformers import AutoTokenizer
    for algo in ("spm-bpe", "spm-unigram"):
        assert _train(ws, corpus="bills", name=algo, algorithm=algo, vocab_size=1500)["status"] == "succeeded"
        path = Path(ws.store.get_artifact(kind="tokenizer", name=algo).path)
        sp = spm.SentencePieceProcessor(model_file=str(path / "spm.model"))
        tok = AutoTokenizer.from_pretrained(path)
        # Known difference: SentencePiece adds its "▁" even before a leading space, the HF Metaspace
        # (prepend_scheme="first", as transformers' non-legacy Llama tokenizer) does not; so compare stripped lines.
        texts = [r["text"].strip() for r in _konlpy_rows("kolaw")][:300]
        mismatched = [t for t in texts if sp.encode(t) != tok(t)["input_ids"]]
        assert not mismatched, (algo, mismatched[:3])


def test_kiwi_presegmentation_follows_morphemes_without_kiwi_at_run_time(ws, corpus):
    from transformers import AutoTokenizer
    from workbench.tokenizer.compare_stage import CompareConfig, compare
    for name, pre in (("plain", "whitespace"), ("morph", "kiwi")):
        res = _train(ws, corpus="bills", name=name, algorithm="hf-bpe-char", vocab_size=2000, pre_tokenization=pre)
        assert res["status"] == "succeeded", res["error"]
    tok = AutoTokenizer.from_pretrained(ws.store.get_artifact(kind="tokenizer", name="morph").path)
    assert "kiwi" not in json.dumps(json.loads(Path(tok.name_or_path, "tokenizer.json").read_text())["pre_tokenizer"])
    out = compare(CompareConfig(tokenizers=["plain", "morph", "char"], heldout="konlpy:kolaw", max_texts=150), ws)
    rows = {r["tokenizer"]: r for r in out["rows"]}
    assert rows["morph"]["boundary_f1"] > rows["plain"]["boundary_f1"] + 0.15, rows
    assert rows["char"]["boundary_recall"] == 1.0  # every character boundary is a token boundary
    assert rows["plain"]["fertility"] < rows["morph"]["fertility"] < rows["char"]["fertility"]


def test_sweep_logs_fertility_per_vocab_size(ws, corpus):
    res = _train(ws, corpus="bills", name="sw", vocab_size=1500, sweep=[800, 1100])
    assert res["status"] == "succeeded", res["error"]
    sweep = res["summary"]["sweep"]
    assert [r["vocab_size"] for r in sweep] == [800, 1100, 1500]
    fert = [r["fertility"] for r in sweep]
    assert fert[0] > fert[1] > fert[2]
    logged = sorted((m["step"], m["value"]) for m in ws.store.metrics(res["run_id"], ["heldout/fertility"]))
    assert logged == [(800, fert[0]), (1100, fert[1]), (1500, fert[2])]


def test_bad_input_gets_clear_messages(ws, corpus, tmp_path):
    from workbench.config import ConfigError
    from workbench.tokenizer.stage import TokenizerConfig
    with pytest.raises(ConfigError) as e:  # below specials + 256 bytes: known before reading anything
        TokenizerConfig(corpus="bills", vocab_size=100).validate()
    assert e.value.errors[0][0] == "vocab_size" and "alphabet plus special tokens" in e.value.errors[0][1]
    # Above that floor but below this corpus's alphabet: known after reading it, before training.
    res = _train(ws, corpus="bills", name="small", vocab_size=300, algorithm="spm-bpe")
    assert res["status"] == "failed" and "smaller than the alphabet plus special tokens" in res["error"]
    assert "at least" in res["error"] and ws.store.get_artifact(kind="tokenizer", name="small") is None
    with pytest.raises(ConfigError) as e:
        TokenizerConfig(corpus="bills").replace(**{"special_tokens.pad": "</s>"}).validate()
    assert e.value.errors[0][0] == "special_tokens.eos" and "same as special_tokens.pad" in e.value.errors[0][1]
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    res = _train(ws, corpus=str(empty), name="e")
    assert res["status"] == "failed" and "holds no text" in res["error"]
    res = _train(ws, corpus="no-such-corpus", name="e")
    assert res["status"] == "failed" and "neither an existing file" in res["error"]
    assert _train(ws, corpus="bills", name="dup", vocab_size=800)["status"] == "succeeded"
    res = _train(ws, corpus="bills", name="dup", vocab_size=800)
    assert res["status"] == "failed" and "already exists" in res["error"]
    assert _train(ws, corpus="bills", name="dup", vocab_size=900, overwrite=True)["status"] == "succeeded"
    assert ws.store.get_artifact(kind="tokenizer", name="dup").meta["vocab_size"] == 900


def test_references_and_unloadable_tokenizers(ws, corpus, tmp_path):
    from workbench.errors import UserError
    from workbench.tokenizer import backends
    assert _train(ws, corpus="bills", name="mine", vocab_size=1000)["status"] == "succeeded"
    path = ws.store.get_artifact(kind="tokenizer", name="mine").path
    by_path = backends.load(f"hf:{path}")                     # any HF tokenizer by local path
    assert by_path.kind == "hf" and by_path.vocab_size == 1000
    assert backends.load(path).kind == "trained"              # a folder path with workbench.json
    assert backends.load("mine", ws).name == "mine"           # an artifact by name
    with pytest.raises(UserError, match="Without internet only tokenizers already downloaded load"):
        backends.load("hf:nobody-here/no-such-tokenizer-xyz")
    (tmp_path / "notatok").mkdir()
    with pytest.raises(UserError, match="cannot load a tokenizer from the folder"):
        backends.load(f"hf:{tmp_path / 'notatok'}")
    with pytest.raises(UserError, match="unknown tokenizer 'gpt-9'"):
        backends.load("gpt-9", ws)
    from fixtures import make_corpus
    corpus_id = make_corpus(ws, "a-corpus", ["한 줄.", "두 줄."])
    with pytest.raises(UserError, match="is a corpus, not a tokenizer") as e:  # an id of another kind
        backends.load(str(corpus_id), ws)
    assert "토크나이저" in e.value.text.ko
    from workbench.tokenizer.compare_stage import CompareConfig, compare
    with pytest.raises(UserError, match="nobody/none-xyz"):  # before any long work starts
        compare(CompareConfig(tokenizers=["cl100k", "hf:nobody/none-xyz"], heldout="konlpy:kolaw"), ws)
    assert backends.load("cl100k").vocab_size == 100277


def test_spans_show_byte_pieces_as_syllables_and_flag_round_trips(ws, corpus):
    from workbench.tokenizer import backends
    from workbench.tokenizer.spans import segment, segment_all
    cache = backends.BackendCache()
    seg = segment(cache.get("cl100k"), "한국어")
    assert [s.text for s in seg.spans] == ["한", "국", "어"] and seg.count == 4
    assert seg.spans[1].kind == "byte" and len(seg.spans[1].ids) == 2 and seg.roundtrip == "exact"
    byte = segment(cache.get("byte"), "한 a")
    assert [s.text for s in byte.spans] == ["한", "▁", "a"] and byte.count == 5
    kiwi = segment(cache.get("kiwi"), "학교에 갔다")
    assert [s.text for s in kiwi.spans] == ["학교", "에", "갔", "다"] and kiwi.count == 5
    assert kiwi.spans[2].labels == ["가/VV", "었/EP"]  # 갔 = 가 + 었, one span
    assert _train(ws, corpus="bills", name="cov", vocab_size=1000, character_coverage=0.99)["status"] == "succeeded"
    rare = "햏"  # not in the bills: byte fallback, shown as the syllable with its 3 byte ids
    seg = segment(cache.get("cov", ws), f"국회 {rare}")
    span = next(s for s in seg.spans if s.kind == "byte")
    assert span.text == rare and span.labels == ["<0xED>", "<0x96>", "<0x8F>"] and seg.roundtrip == "exact"
    # The metrics' lighter encoding gives the same ids, offsets and kinds as the display's.
    texts = [f"국회 {rare} 🙂", "대한민국은 민주공화국이다."]
    light, full = cache.get("cov", ws).encode_for_metrics(texts), cache.get("cov", ws).encode_many(texts)
    assert [(e.ids, list(e.offsets), e.kinds) for e in light] == [(e.ids, e.offsets, e.kinds) for e in full]
    assert "byte" in light[0].kinds
    assert not any("\ufffd" in s.text for s in seg.spans)
    assert _train(ws, corpus="bills", name="wp", vocab_size=1000, algorithm="hf-wordpiece")["status"] == "succeeded"
    rows = segment_all(["wp", "hf:nobody/none-xyz"], "국회  의원 , 햏", cache, ws)
    assert rows[0].roundtrip == "lossy" and rows[1].kind == "error" and "cannot load" in rows[1].error


def test_metric_definitions_on_known_text():
    from workbench.tokenizer.backends import CharBackend
    from workbench.tokenizer.metrics import boundaries, classify_piece, evaluate, interior, kiwi_reference
    assert boundaries([(0, 1), (0, 1), (1, 2)]) == {0, 1, 2}          # 했다: 하+었 share 했, boundary at 1
    assert boundaries([(0, 2), (1, 2), (2, 3)]) == {0, 2, 3}          # 나왔다: 나오 spans 1, so no boundary at 1
    assert interior("ab cd") == {1, 4}
    ref = kiwi_reference(["학교에 갔다"])
    assert ref == [{2, 5}]                                            # 학교|에  갔|다
    row = evaluate(CharBackend(), ["학교에 갔다"], ref, throughput=False)
    assert row["fertility"] == 3.0 and row["words_split"] == 1.0     # 6 characters (space included) / 2 words
    assert row["boundary_recall"] == 1.0 and row["boundary_precision"] == 0.667
    assert [classify_piece(x) for x in ("▁학교", "에", "ㅋㅋ", "GPT", "2023", "!!", "漢字", None)] == \
        ["hangul_multi", "hangul_syllable", "jamo", "latin", "digit", "symbol", "other", "byte"]


def test_sources_read_files_folders_and_encodings(tmp_path):
    from workbench.tokenizer.sources import resolve_source
    d = tmp_path / "data"
    d.mkdir()
    (d / "a.txt").write_text("첫 줄\n\n둘째 줄\n", encoding="utf-8")
    with gzip.open(d / "b.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(json.dumps({"text": "제이슨 글", "source": "x"}, ensure_ascii=False) + "\n")
    (d / "c.tsv").write_text('sentence1\tsentence2\tgold_label\n전제 "문장"\t가설\tneutral\n전제 "문장"\t가설 둘\tx\n',
                             encoding="utf-8")
    (d / "d.txt").write_bytes("완성형 한국어 (CP949) 텍스트입니다. 한글 인코딩 감지.\n".encode("cp949") * 20)
    texts = list(resolve_source(str(d)).texts())
    assert texts[:5] == ["첫 줄", "둘째 줄", "제이슨 글", '전제 "문장"', "가설"]
    assert texts[-1] == "완성형 한국어 (CP949) 텍스트입니다. 한글 인코딩 감지."
    assert list(resolve_source(str(d / "c.tsv")).texts(unique=True)) == ['전제 "문장"', "가설", "가설 둘"]


def test_cli_train_from_a_file_and_compare_prints_one_json_table(tmp_path):
    ws = tmp_path / "ws"
    text = tmp_path / "bills.txt"
    text.write_text("\n".join(r["text"] for r in _konlpy_rows("kobill")), encoding="utf-8")
    r = run_cli("tokenizer", "--set", f"corpus={text}", "--set", "vocab_size=1000", "--set", "name=cli-tok",
                workspace=ws, timeout=300)
    out = last_json(r.stdout)
    assert r.returncode == 0 and out["ok"] and out["vocab_size"] == 1000, r.stderr[-2000:]
    r = run_cli("tokenizer-compare", "--set", "tokenizers=cli-tok,cl100k,char", "--set", "heldout=konlpy:kolaw",
                "--set", "max_texts=50", "--set", "morpheme_f1=false", workspace=ws, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1
    table = json.loads(lines[0])
    assert [row["tokenizer"] for row in table["rows"]] == ["cli-tok", "cl100k", "char"]
    assert table["rows"][0]["fertility"] < table["rows"][1]["fertility"]
    r = run_cli("tokenizer", "--set", f"corpus={text}", "--set", "special_tokens.bos=</s>", workspace=ws)
    assert r.returncode == 2 and "special_tokens.bos" in r.stderr


def test_real_data_korean_fertility_against_cl100k(ws):
    """On real text (../shared/data): a BPE trained on Korean needs far fewer tokens per word than cl100k."""
    src = shared_data("pretrain", "korean_parallel_corpora_ko.txt")
    held = shared_data("kor-nlu", "KorNLI", "xnli.dev.ko.tsv")
    from workbench.tokenizer.compare_stage import CompareConfig, compare
    res = _train(ws, corpus=str(src), name="par", vocab_size=8000, heldout=str(held))
    assert res["status"] == "succeeded", res["error"]
    out = compare(CompareConfig(tokenizers=["par", "cl100k"], heldout=str(held), max_texts=300,
                                morpheme_f1=False, composition=False), ws)
    fert = {r["tokenizer"]: r["fertility"] for r in out["rows"]}
    assert fert["par"] < 2.6 and fert["cl100k"] > 3.5, fert


def test_large_training_runs_as_a_job_with_progress(ws):
    """The path the tab takes for a large corpus: the job runner starts the stage's CLI in a child process."""
    from conftest import wait_for
    from workbench.jobs import JobManager
    from workbench.tokenizer.stage import TokenizerConfig
    jobs = JobManager(ws, poll_s=0.2).start()
    try:
        run_id = jobs.submit("tokenizer", TokenizerConfig(corpus="konlpy:kobill", name="as-job", vocab_size=1000,
                                                          sweep=[800]))
        run = wait_for(lambda: (r := ws.store.get_run(run_id)).status not in ("queued", "running") and r, 120,
                       what="the tokenizer job to end")
        assert run.status == "succeeded", run.error
        assert run.progress_done == run.progress_total == 1 and "saved tokenizer 'as-job'" in run.progress_msg
        assert [m["step"] for m in ws.store.metrics(run_id, ["heldout/fertility"])] == [800, 1000]
        assert ws.store.get_artifact(kind="tokenizer", name="as-job").run == run_id
    finally:
        jobs.shutdown()


def test_library_training_is_interruptible():
    import time
    from workbench.runtime import StopRequested
    from workbench.tokenizer.train import run_interruptible
    t0 = time.time()
    with pytest.raises(StopRequested):
        run_interruptible(lambda: time.sleep(30), lambda: time.time() - t0 > 0.5, poll=0.1)
    assert time.time() - t0 < 3
    assert run_interruptible(lambda: 42, lambda: False) == 42


def test_prepare_counts_every_character_and_line_exactly(tmp_path):
    """The batched numpy character count equals a plain Counter over the same lines (outside the BMP too)."""
    from collections import Counter

    from workbench.tokenizer.sources import resolve_source
    from workbench.tokenizer.train import Settings, prepare
    lines = ["한국어 문장입니다.", "ㅋㅋㅋ 😀 emoji", "두 줄\n세 줄", "e\u0301 NFC"] * 25000  # over 1M characters: more than one batch
    src = tmp_path / "c.txt"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    prep = prepare(resolve_source(str(src)), Settings(), tmp_path / "work")
    written = prep.path.read_text(encoding="utf-8").splitlines()
    assert prep.lines == len(written) == 125000
    expected = Counter("".join(written))
    for ch in (" ", "\n"):
        expected.pop(ch, None)
    assert dict(prep.char_counts) == dict(expected)
    assert prep.chars == sum(expected.values()) and prep.char_counts["é"] == 25000, "NFC composed e + accent"
    assert prep.bytes == prep.path.stat().st_size


def _mark(lines, tmp_path, batch: int = 1_000_000):
    from workbench.tokenizer import train as tr
    marks = tr._KiwiMarks()
    for i in range(0, len(lines), batch):  # prepare counts ~1 MB of lines at a time
        marks.count(lines[i:i + batch])
    src = tmp_path / "plain.txt"
    src.write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
    out = marks.write_marked(src, tmp_path / "marked.txt").read_text(encoding="utf-8").splitlines()
    return out, marks.stats()


def test_kiwi_marks_each_distinct_word_once_and_keeps_the_text(tmp_path, monkeypatch):
    """Kiwi pre-segmentation analyses every distinct word once (on Kiwi's threads) and reuses its cuts; removing
    the marks gives the text back exactly (spacing included)."""
    from workbench.tokenizer import train as tr
    from workbench.tokenizer.backends import kiwi_tokens
    from workbench.tokenizer.metrics import boundaries, interior
    lines = ["학교에 갔다", "학교에  갔다 햏", "학교에 간다"] * 50 + ["국회의원은 법률안을 제출할 수 있다"]
    calls = []
    real = tr._marked_word
    monkeypatch.setattr(tr, "_marked_word", lambda w, toks: calls.append(w) or real(w, toks))
    out, stats = _mark(lines, tmp_path)
    assert [o.replace(tr.MARK, "") for o in out] == lines
    assert sorted(calls) == sorted({"학교에", "갔다", "간다", "국회의원은", "법률안을", "제출할", "있다"})  # once each
    assert stats["analysed_by_kiwi"] == 7 and stats["cut_by_kiwi_pieces"] == 0  # few words seen once: Kiwi all
    assert out[0] == f"학교{tr.MARK}에 갔{tr.MARK}다" and out[1].endswith(" 햏")
    # The cuts of a word are Kiwi's morpheme boundaries inside it (as boundary F1 defines them).
    for word in ("국회의원은", "법률안을", "했다", "GPT-4는"):
        toks = kiwi_tokens([word])[0]
        cuts = sorted(boundaries([(t.start, t.start + t.len) for t in toks]) & interior(word))
        got = real(word, toks).split(tr.MARK)
        assert [sum(map(len, got[:i + 1])) for i in range(len(got) - 1)] == cuts, word


def test_kiwi_words_seen_once_are_cut_by_the_pieces_kiwi_found(tmp_path, monkeypatch):
    """Beyond KIWI_ALL_BELOW words seen once, those (past the first KIWI_MIN_EXACT words) are cut by a unigram
    model of the pieces Kiwi cut in the other words: close to Kiwi's own cuts."""
    from workbench.tokenizer import train as tr
    from workbench.tokenizer.metrics import boundaries, interior
    from workbench.tokenizer.backends import kiwi_tokens
    from workbench.tokenizer.heldout import lines_of
    raw = [r["text"] for r in _konlpy_rows("kobill")] + [r["text"] for r in _konlpy_rows("kolaw")]
    texts = [ln for t in raw for ln in lines_of(t, "NFC")]  # as `prepare` writes them
    monkeypatch.setattr(tr, "KIWI_ALL_BELOW", 0)
    monkeypatch.setattr(tr, "KIWI_MIN_EXACT", 0)
    out, stats = _mark(texts, tmp_path)
    assert [o.replace(tr.MARK, "") for o in out] == texts
    assert stats["cut_by_kiwi_pieces"] > 2000 and stats["analysed_by_kiwi"] > 1000
    counts = __import__("collections").Counter(w for t in texts for w in t.split(" "))
    once = [w for w, c in counts.items() if c == 1 and len(w) > 1][:1500]
    mine = {w: m for t, o in zip(texts, out) for w, m in zip(t.split(" "), o.split(" ")) if w in set(once)}
    tp = fp = fn = 0
    for w, toks in zip(once, kiwi_tokens(once)):
        ref = boundaries([(t.start, t.start + t.len) for t in toks]) & interior(w)
        parts = mine[w].split(tr.MARK)
        got = {sum(map(len, parts[:i + 1])) for i in range(len(parts) - 1)}
        tp, fp, fn = tp + len(got & ref), fp + len(got - ref), fn + len(ref - got)
    f1 = 2 * tp / (2 * tp + fp + fn)
    assert f1 > 0.8, f1                                   # 0.94 on the 62 MB corpus (more words to learn from)
    # Past KIWI_MAX_WORDS distinct words, new words are still marked (by the pieces), and the text kept.
    monkeypatch.setattr(tr, "KIWI_MAX_WORDS", 500)
    capped, stats = _mark(texts, tmp_path, batch=20)
    assert [o.replace(tr.MARK, "") for o in capped] == texts
    assert sum(o.count(tr.MARK) for o in capped[-200:]) > 100 and stats["distinct_words"] < 700


def test_training_text_is_normalized_once_and_the_saved_tokenizer_still_normalizes(ws, corpus):
    """The trainer no longer normalizes text `prepare` already normalized; the saved tokenizer does (NFC)."""
    import unicodedata

    from transformers import AutoTokenizer
    res = _train(ws, corpus="bills", name="nfc", vocab_size=1200)
    assert res["status"] == "succeeded", res["error"]
    tok = AutoTokenizer.from_pretrained(ws.store.get_artifact(kind="tokenizer", name="nfc").path)
    text = "대한민국 국회의원은 법률안을 제출한다"
    decomposed = unicodedata.normalize("NFD", text)
    assert decomposed != text and tok(decomposed)["input_ids"] == tok(text)["input_ids"]
    assert json.loads(Path(tok.name_or_path, "tokenizer.json").read_text())["normalizer"]["type"] == "NFC"


def test_heldout_figures_say_what_they_rest_on_and_whether_it_was_trained_on(ws, corpus):
    from fixtures import make_corpus
    from workbench.tokenizer.compare_stage import CompareConfig, compare
    # The test corpus: kobill train, kolaw validation: disjoint, enough text, no warning.
    res = _train(ws, corpus="bills", name="honest", vocab_size=1200)
    held = res["summary"]["heldout"]
    assert held["split"] == "validation" and held["trained_share"] == 0.0 and held["warnings"] == []
    assert res["summary"]["heldout_texts"] == 344 and res["summary"]["heldout_words"] == 4178
    assert 0 < res["summary"]["heldout_fertility_se"] < 0.1
    # Held-out text that is training text (kolaw inside the corpus, as in the bundled corpus) says so, in both
    # languages; and a held-out split of 7 documents is too little text to trust.
    kolaw = [r["text"] for r in _konlpy_rows("kolaw")]
    kobill = [r["text"] for r in _konlpy_rows("kobill")]
    once = [t for t in kobill if kobill.count(t) == 1 and len(t) > 40][:7]  # bills repeat boilerplate lines
    make_corpus(ws, "bundled", once + kolaw + [t for t in kobill if t not in once], validation=7)
    res = _train(ws, corpus="bundled", name="on-kolaw", vocab_size=1200, heldout="konlpy:kolaw")
    held = res["summary"]["heldout"]
    assert held["trained_share"] > 0.95 and "also in the training text" in held["warnings"][0]["en"]
    assert "학습 글에도" in held["warnings"][0]["ko"]
    res = _train(ws, corpus="bundled", name="seven", vocab_size=1200)
    held = ws.store.get_artifact(kind="tokenizer", name="seven").meta["heldout"]
    assert held["split"] == "validation" and held["texts"] == 7 and held["trained_share"] == 0.0
    assert [w["en"] for w in held["warnings"]] == [f"the held-out figures rest on only 7 texts ({held['words']:,} words): "
                                                    "too little text to trust (another document can move them by "
                                                    "several percent); give more held-out text, e.g. a corpus with a "
                                                    "larger validation split or a text file"]
    # The comparison reads each tokenizer's training text: kolaw is training text of on-kolaw, not of honest.
    out = compare(CompareConfig(tokenizers=["honest", "on-kolaw", "cl100k"], heldout="konlpy:kolaw", max_texts=400,
                                morpheme_f1=False, composition=False), ws)
    rows = {r["tokenizer"]: r for r in out["rows"]}
    assert rows["on-kolaw"]["trained_share"] > 0.95 and "optimistic" in rows["on-kolaw"]["warning"]["en"]
    assert rows["honest"]["trained_share"] == 0.0 and "warning" not in rows["honest"]
    assert "trained_share" not in rows["cl100k"]                     # not trained here: unknown, not "clean"
    assert out["heldout"]["texts"] == 344 and out["heldout"]["warnings"] == []
    # A corpus's validation split is not its training text (the old path check called it training text).
    out = compare(CompareConfig(tokenizers=["seven"], heldout="bundled", morpheme_f1=False, composition=False), ws)
    assert out["rows"][0]["trained_share"] == 0.0 and "warning" not in out["rows"][0]
    assert out["heldout"]["split"] == "validation" and "rest on only 7 texts" in out["heldout"]["warnings"][0]["en"]


def test_sweep_plot_and_table_are_one_measurement(ws, corpus):
    """The vocabulary-size plot showed the training run's held-out figures (other texts) beside the table's:
    now both come from the comparison, every sweep size measured on the comparison's texts."""
    from tabs.tokenizer_tab import sweep_figure, sweep_points, table_value
    from workbench.tokenizer.backends import load_hf
    from workbench.tokenizer.compare_stage import CompareConfig, compare
    from workbench.tokenizer.metrics import evaluate
    res = _train(ws, corpus="bills", name="sw", vocab_size=1500, sweep=[800, 1100])
    assert res["status"] == "succeeded", res["error"]
    art = ws.store.get_artifact(kind="tokenizer", name="sw")
    assert [r["path"] for r in art.meta["sweep"]] == ["sweep/800", "sweep/1100", "."]
    out = compare(CompareConfig(tokenizers=["sw", "cl100k", "char"], heldout="konlpy:kolaw", max_texts=300,
                                morpheme_f1=False, composition=False), ws)
    row = next(r for r in out["rows"] if r["tokenizer"] == "sw")
    pts = sweep_points(out)
    assert [p[0] for p in pts["sw"]] == [800, 1100, 1500]
    assert dict(pts["sw"])[1500] == row["fertility"]                  # the table's figure is a point of the plot
    texts = list(__import__("workbench.tokenizer.sources", fromlist=["x"]).resolve_source("konlpy:kolaw")
                 .texts(limit=300, unique=True))
    again = evaluate(load_hf(str(Path(art.path) / "sweep" / "800")), texts, throughput=False)["fertility"]
    assert dict(pts["sw"])[800] == again                             # the other sizes, measured on the same texts
    assert pts["cl100k"] == [(100277, next(r for r in out["rows"] if r["tokenizer"] == "cl100k")["fertility"])]
    assert "char" not in pts                                          # the baselines are in the table only
    fig = sweep_figure(out, "en")
    trace = next(t for t in fig.data if t.name == "sw")
    table = table_value(out, "en")
    shown = table.loc[table["tokenizer"] == "sw", "fertility"].iloc[0]
    assert f"{trace.y[list(trace.x).index(1500)]:.3f}" == shown      # the same number, plot and table
    # The training run's own held-out figure is another text (the validation split): not what the plot shows.
    assert res["summary"]["heldout"]["split"] == "validation"


def test_fertility_standard_error():
    from workbench.tokenizer.metrics import ratio_se
    assert ratio_se([2, 4], [1, 2]) == 0.0                            # every text has the same ratio
    assert ratio_se([1], [1]) is None
    se = ratio_se([3, 1, 2, 2], [1, 1, 1, 1])
    assert abs(se - (4 / 3 * 2 / 4 * 4) ** 0.5 / 4) < 1e-12 and se > 0


def test_default_heldout_of_the_tab_is_not_training_text(ws, corpus):
    """The tab's held-out default: the newest corpus's validation split (its train split is what the tokenizer
    tab trains on), else the constitution (the training default, the bundled bills, does not hold it)."""
    from types import SimpleNamespace

    from fixtures import make_corpus
    from tabs.tokenizer_tab import _default_heldout
    ctx = SimpleNamespace(store=ws.store)
    assert _default_heldout(ctx) == "bills"                      # kobill train, kolaw validation
    make_corpus(ws, "no-validation", ["한 줄.", "두 줄."])
    assert _default_heldout(ctx) == "bills"                      # the newest one *with* a validation split
    assert _default_heldout(SimpleNamespace(store=type("S", (), {"list_artifacts": lambda self, k: []})())) \
        == "konlpy:kolaw"
