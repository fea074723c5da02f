"""The corpus stage from a terminal: quick flags, a recipe file, bad input; and the NeMo Curator backend."""
import importlib.util
import json

import pytest

from conftest import last_json, run_cli
from state import Workspace
from workbench.artifacts import corpus_splits, iter_corpus_texts, read_meta


def write_inputs(d):
    d.mkdir()
    (d / "reviews.txt").write_text("\n".join([
        "이 영화 정말 재미있어요 ㅋㅋㅋㅋㅋㅋ 강력 추천합니다",
        "이 영화 정말 재미있어요 ㅋㅋㅋ 강력 추천합니다",       # exact duplicate after cleaning
        "배우들의 연기가 훌륭했고 음악도 아름다웠습니다",
        "짧음",
        "문의는 010-1234-5678 또는 movie@example.com 으로 해주세요",
    ]) + "\n", encoding="utf-8")
    (d / "news.jsonl").write_text("\n".join(json.dumps({"title": "t", "text": t}, ensure_ascii=False) for t in [
        "정부는 오늘 오전 서울 청사에서 새로운 경제 정책과 일자리 지원 방안을 발표했다고 밝혔습니다",
        "정부는 오늘 오전 서울 청사에서 새로운 경제 정책과 일자리 지원 방안을 발표했다고 밝혔다",  # near duplicate
    ]) + "\n", encoding="utf-8")
    (d / "legacy.txt").write_bytes("옛날 인코딩으로 저장된 한국어 문서도 읽을 수 있습니다\n".encode("cp949"))
    return d


def test_quick_flags_default_recipe_and_output_dir(tmp_path):
    inp = write_inputs(tmp_path / "in")
    r = run_cli("corpus", "--input", str(inp / "reviews.txt"), str(inp / "news.jsonl"), str(inp / "legacy.txt"),
                "--output", str(tmp_path / "out"), "--set", "name=cli-corpus", workspace=tmp_path / "ws")
    assert r.returncode == 0, r.stderr[-2000:]
    out = last_json(r.stdout)
    assert out["ok"] and out["docs_in"] == 8 and out["docs_out"] == 5
    assert out["removed"] == {"filters.length": 1, "filters.hangul": 0, "filters.symbols": 0, "filters.repetition": 0,
                              "filters.script": 0, "dedup.exact": 1, "dedup.near": 1}
    assert out["changed"]["clean.repeats"] == 1 and out["changed"]["clean.pii"] == 1
    texts = list(iter_corpus_texts(tmp_path / "out"))
    assert "문의는 <PHONE> 또는 <EMAIL> 으로 해주세요" in texts
    assert "옛날 인코딩으로 저장된 한국어 문서도 읽을 수 있습니다" in texts
    assert read_meta(tmp_path / "out")["docs_out"] == 5 and set(corpus_splits(tmp_path / "out")) == {"train"}
    art = Workspace(tmp_path / "ws").store.get_artifact(out["artifact"])
    assert art.name == "cli-corpus" and list(iter_corpus_texts(art.path)) == texts


def test_config_file_recipe(tmp_path):
    inp = write_inputs(tmp_path / "in")
    cfg = tmp_path / "recipe.yaml"
    cfg.write_text(f"inputs: [{inp}]\nclean:\n  pii: false\nfilters:\n  min_chars: 3\ndedup:\n  near: false\n"
                   "save: false\n", encoding="utf-8")
    r = run_cli("corpus", "--config", str(cfg), workspace=tmp_path / "ws")
    out = last_json(r.stdout)
    assert r.returncode == 0 and out["docs_in"] == 8
    assert "clean.pii" not in out["changed"] and "dedup.near" not in out["removed"]
    assert out["removed"]["filters.length"] == 1 and "artifact" not in out  # 짧음: 1 word
    # without PII masking the e-mail's Latin letters drop that review below the Hangul ratio
    assert out["removed"]["filters.hangul"] == 1 and out["docs_out"] == 5
    saved = json.loads((tmp_path / "ws" / "runs" / out["run_id"] / "config.json").read_text())
    assert saved["filters"]["min_chars"] == 3 and saved["clean"]["pii"] is False


def test_bad_inputs_exit_codes_and_messages(tmp_path):
    r = run_cli("corpus", "--set", "filters.min_hangul_ratio=1.5", workspace=tmp_path / "ws")
    assert r.returncode == 2 and "filters.min_hangul_ratio" in r.stderr and "<= 1.0" in r.stderr
    (tmp_path / "en.txt").write_text("english only text line one\nenglish only text line two\n", encoding="utf-8")
    r = run_cli("corpus", "--input", str(tmp_path / "en.txt"), workspace=tmp_path / "ws")
    out = last_json(r.stdout)
    assert r.returncode == 1 and "filters.hangul" in out["error"] and "left 0 of 2" in out["error"]
    assert Workspace(tmp_path / "ws").store.list_artifacts("corpus") == []


def test_refused_file_is_named_in_the_log_and_the_json(tmp_path):
    """A binary file next to a good text file: the run succeeds on the text, and both the log (stderr) and the
    final JSON line name the binary file and say why it was not read."""
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "good.txt").write_text("배우들의 연기가 훌륭했고 음악도 아름다웠습니다\n"
                                  "정부는 오늘 새로운 경제 정책과 일자리 지원 방안을 발표했습니다\n", encoding="utf-8")
    (inp / "photo.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20)
    r = run_cli("corpus", "--input", str(inp / "good.txt"), str(inp / "photo.bin"), "--set", "save=false",
                workspace=tmp_path / "ws")
    assert r.returncode == 0, r.stderr[-2000:]
    out = last_json(r.stdout)
    assert out["ok"] and out["docs_in"] == 2
    assert isinstance(out["refused"], list) and len(out["refused"]) == 1
    refused = out["refused"][0]
    assert refused["path"] == str(inp / "photo.bin") and "NUL bytes" in refused["reason"]
    lines = [ln for ln in r.stderr.splitlines() if "photo.bin" in ln]
    assert len(lines) == 1 and "refused" in lines[0] and "NUL bytes" in lines[0], r.stderr[-2000:]
    assert "good.txt" not in " ".join(ln for ln in r.stderr.splitlines() if "refused" in ln)


@pytest.mark.skipif(importlib.util.find_spec("nemo_curator") is None,
                    reason="nemo_curator is not installed (requirements-gpu.txt); the local backend is tested instead")
def test_nemo_curator_backend_matches_local(ws, tmp_path):
    """Same recipe through NeMo Curator's pipeline on Ray: same counts as the local backend, and it says so."""
    from tests.test_corpus_engine import run_corpus
    inp = write_inputs(tmp_path / "in")
    local, _ = run_corpus(ws, inputs=[str(inp)], save=False)
    nemo, _ = run_corpus(ws, inputs=[str(inp)], save=False, backend="nemo_curator")
    assert nemo["backend"].startswith("nemo_curator") and local["backend"] == "local"
    assert nemo["removed"] == local["removed"] and nemo["docs_out"] == local["docs_out"]


def test_nemo_backend_unavailable_is_a_config_error(tmp_path):
    if importlib.util.find_spec("nemo_curator") is not None:
        pytest.skip("nemo_curator is installed here")
    r = run_cli("corpus", "--set", "backend=nemo_curator", workspace=tmp_path / "ws")
    assert r.returncode == 2 and "nemo_curator is not installed" in r.stderr
