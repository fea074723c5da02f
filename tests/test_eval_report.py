"""The evaluation report: cross-run comparison, SVG charts, the HTML / Markdown files and the tab's plotly figures."""
from __future__ import annotations

import base64
import re

import pytest

from workbench.evaluate import report as R

EVIL = "<script>alert(1)</script>-lora"


def _model(label, metrics, **extra):
    return {"model": label, "ref": label.split(" ")[0], "artifact_id": None, "kind": "model", "metrics": metrics,
            "labels": None, "confusion": None, "calibration": None, "per_class": None, "seconds": 1.5,
            "examples_per_s": 1333.0, "samples": [], **extra}


def _reports():
    # given out of time order on purpose: r2 (later) must override r1 for "base" on nsmc
    r2 = {"name": "eval-nsmc-again", "run_id": "r2", "created": "2026-12-02T03:00:00", "task": "classify",
          "benchmark": "nsmc", "split": "test", "n": 2000, "seed": 13, "config": {"benchmark": "nsmc", "n": 2000},
          "models": [_model("base", {"accuracy": 0.9012, "macro_f1": 0.9001, "examples_per_s": 900.0})],
          "judge": None, "templates": None}
    r1 = {"name": "eval-nsmc", "run_id": "r1", "created": "2026-12-02T01:30:00", "task": "classify",
          "benchmark": "nsmc", "split": "test", "n": 2000, "seed": 13,
          "config": {"benchmark": "nsmc", "url_note": "see https://example.org/nsmc"},
          "models": [
              _model("base", {"macro_f1": 0.8123, "accuracy": 0.8234}),
              _model(EVIL, {"macro_f1": 0.8567, "accuracy": 0.8678},
                     labels=["부정", "긍정"], confusion=[[812, 188], [97, 903]],
                     calibration={"ece": 0.0512, "n_bins": 10,
                                  "bins": [{"confidence": 0.55, "accuracy": 0.5, "count": 12},
                                           {"confidence": 0.75, "accuracy": 0.7, "count": 40},
                                           {"confidence": 0.95, "accuracy": 0.93, "count": 300},
                                           {"confidence": 0.35, "accuracy": None, "count": 0}]},
                     per_class={"부정": {"precision": 0.8932, "recall": 0.812, "f1": 0.8507, "support": 1000},
                                "긍정": {"precision": 0.8277, "recall": 0.903, "f1": 0.8637, "support": 1000}},
                     samples=[{"input": f"영화 리뷰 {i} | 재밌다", "reference": "긍정", "prediction": "긍정",
                               "correct": True} for i in range(14)])],
          "judge": None, "templates": None}
    r3 = {"name": "ppl-corpus", "run_id": "r3", "created": "2026-12-02T02:00:00", "task": "perplexity",
          "benchmark": "corpus:mycorpus", "split": "validation", "n": 500, "seed": 13, "config": {"stride": 512},
          "models": [_model("base", {"ppl": 21.37, "loss": 3.062, "bpb": 1.234}),
                     _model(EVIL, {"ppl": 18.52, "loss": 2.919, "bpb": 1.111})],
          "judge": {"model": "judge-7b", "note": "채점 기준: 유창성"},
          "templates": [{"name": "plain", "text": "질문: {question}\n답변:"}]}
    return [r2, r1, r3]


def test_fmt():
    assert R.fmt(None) == "–"
    assert R.fmt(float("nan")) == "–"
    assert R.fmt(1234567) == "1,234,567"
    assert R.fmt(0.84123) == "0.8412"
    assert R.fmt(21.37) == "21.37"


def test_comparison_columns_rows_override_and_runs():
    columns, rows = R.comparison(_reports())
    # benchmarks in order of first appearance (by created), headline metrics first, speed left out
    assert columns == ["nsmc · accuracy", "nsmc · macro_f1",
                       "corpus:mycorpus · bpb", "corpus:mycorpus · ppl", "corpus:mycorpus · loss"]
    by = {r["model"]: r for r in rows}
    assert [r["model"] for r in rows] == ["base", EVIL]
    assert by["base"]["nsmc · accuracy"] == 0.9012      # r2 (later) overrides r1's 0.8234
    assert by["base"]["nsmc · macro_f1"] == 0.9001
    assert by["base"]["runs"] == ["r3", "r2"]            # r1's values were all replaced
    assert by[EVIL]["nsmc · accuracy"] == 0.8678
    assert by[EVIL]["runs"] == ["r1", "r3"]
    assert by["base"]["corpus:mycorpus · bpb"] == 1.234
    columns_speed, _ = R.comparison(_reports(), include_speed=True)
    assert columns_speed[:2] == ["nsmc · accuracy", "nsmc · macro_f1"]
    assert "nsmc · examples_per_s" in columns_speed and columns_speed.index("nsmc · examples_per_s") == 3


def test_same_benchmark_on_two_splits_are_two_columns():
    a, b = _reports()[1], _reports()[0]
    b["split"] = "validation"
    columns, rows = R.comparison([a, b])
    assert "nsmc (test) · accuracy" in columns and "nsmc (validation) · accuracy" in columns
    base = next(r for r in rows if r["model"] == "base")
    assert base["nsmc (test) · accuracy"] == 0.8234 and base["nsmc (validation) · accuracy"] == 0.9012


def test_best_in_column_direction():
    columns, rows = R.comparison(_reports())
    assert R.best_in_column(rows, "nsmc · accuracy") == "base"          # 0.9012 > 0.8678
    assert R.best_in_column(rows, "corpus:mycorpus · bpb") == EVIL      # lower is better: 1.111 < 1.234
    assert R.best_in_column(rows, "corpus:mycorpus · ppl") == EVIL
    assert R.best_in_column([{"model": "a", "x · bpb": None}], "x · bpb") is None
    assert R.higher_is_better("accuracy") and not R.higher_is_better("bpb")


def test_svg_charts():
    bars = R.svg_bars("정확도 <b>", {"a": 0.5, "b": None, "<c>": 0.75}, higher_is_better=True)
    assert bars.startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in bars
    assert "NanumGothic, 'Noto Sans KR', sans-serif" in bars
    assert re.search(r'width="\d+" height="\d+"', bars)
    assert "0.75" in bars and "–" in bars and "&lt;c&gt;" in bars and "<c>" not in bars and "<b>" not in bars
    assert bars.count(f'fill="{R.BEST}"') == 1
    low = R.svg_bars("bpb", {"a": 1.2, "b": 1.1}, higher_is_better=False)
    # the best (lowest) bar is b's: the orange rect's tooltip names it
    assert re.search(rf'fill="{R.BEST}"><title>b: 1.1</title>', low)

    conf = R.svg_confusion(["부정", "긍정"], [[812, 188], [97, 903]], "혼동", axes=("정답", "예측"))
    assert conf.startswith("<svg") and "812" in conf and "903" in conf and "정답" in conf and "예측" in conf
    assert conf.count("<rect x=") >= 4

    cal = R.svg_calibration([{"confidence": 0.55, "accuracy": 0.5, "count": 12},
                             {"confidence": 0.95, "accuracy": 0.93, "count": 300},
                             {"confidence": 0.35, "accuracy": None, "count": 0}], "보정")
    assert cal.startswith("<svg") and cal.count("<circle") == 2 and "stroke-dasharray" in cal


def _external(doc: str) -> list[str]:
    return re.findall(r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//', doc, flags=re.I)


def test_to_html():
    doc = R.to_html(_reports(), lang="ko", title="내 <과제>", generated="2026-12-03 10:00")
    assert doc.startswith("<!DOCTYPE html>") and "<style>" in doc
    assert "내 &lt;과제&gt;" in doc and "2026-12-03 10:00" in doc
    for value in ("0.9012", "0.9001", "0.8678", "1.234", "1.111", "18.52", "812", "0.8932"):
        assert value in doc, value
    assert "0.8234" not in doc.split("eval-nsmc — ")[0]   # the overridden value is not in the comparison
    assert "<strong>0.9012</strong>" in doc and "<strong>1.111</strong>" in doc
    assert "base" in doc and "&lt;script&gt;alert(1)&lt;/script&gt;-lora" in doc
    assert "<script" not in doc.lower()
    assert doc.count("<svg") >= 5 + 2                      # a bar chart per column + confusion + calibration
    assert not _external(doc)
    assert "<details>" in doc and "https://example.org/nsmc" in doc   # config text, not a link
    assert "로컬 모델 심판" in doc and "judge-7b" in doc and "채점 기준: 유창성" in doc
    assert "질문: {question}" in doc
    assert doc.count("영화 리뷰 ") == 10                    # at most 10 samples per model
    en = R.to_html(_reports(), lang="en")
    assert "Comparison across runs" in en and "Local model judge" in en and "실행 간 비교" not in en


def test_to_markdown():
    md = R.to_markdown(_reports(), lang="en", generated="2026-12-03")
    lines = md.splitlines()
    header = next(l for l in lines if l.startswith("| Model |"))
    assert f"nsmc · {R.metric_name('accuracy', 'en')} ↑" in header
    assert f"corpus:mycorpus · {R.metric_name('bpb', 'en')} ↓" in header
    base_row = next(l for l in lines if l.startswith("| base |"))
    assert "**0.9012**" in base_row and "1.234" in base_row
    assert "&lt;script&gt;" in md and "<script" not in md
    assert "영화 리뷰 0 \\| 재밌다" in md                     # a | inside a cell is escaped
    uris = re.findall(r"!\[[^\]]*\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", md)
    assert len(uris) >= 7
    for u in uris:
        assert base64.b64decode(u).decode("utf-8").startswith("<svg")
    assert "Local model judge" in md and "<details>" in md
    assert not _external(md)


@pytest.fixture(scope="module")
def plots():
    pytest.importorskip("plotly")
    from tabs import eval_plots
    return eval_plots


def test_plotly_figures(plots):
    columns, rows = R.comparison(_reports())
    fig = plots.metric_bars(columns, rows, "ko")
    assert len(fig.data) == len(columns) * len(rows)
    assert {t.name for t in fig.data} == {"base", EVIL}
    assert sum(t.showlegend for t in fig.data) == len(rows)
    assert plots.metric_bars([], rows, "ko") is None
    assert plots.metric_bars(columns, [], "ko") is None
    many = [f"b · m{i}" for i in range(12)]
    assert len(plots.metric_bars(many, [{"model": "a", **{c: 1.0 for c in many}}], "en").data) == plots.MAX_PANELS

    heat = plots.confusion_heatmap(["부정", "긍정"], [[812, 188], [97, 903]], "혼동 행렬", "ko")
    assert len(heat.data) == 1 and heat.data[0].type == "heatmap"
    assert heat.data[0].text[0][0] == "812" and heat.data[0].z[1][1] == pytest.approx(903 / 1000)

    cal = plots.calibration_figure({"a": _reports()[1]["models"][1]["calibration"]["bins"],
                                    "b": [{"confidence": 0.9, "accuracy": 0.8, "count": 5}]}, "en")
    assert len(cal.data) == 3
    assert list(cal.data[0].x) == [0.55, 0.75, 0.95]        # the empty bin is left out, points sorted
    assert list(cal.data[-1].x) == [0, 1] and cal.data[-1].line.dash == "dash"


def test_without_metric_info_and_without_direction(monkeypatch):
    monkeypatch.setattr(R, "_metric_info", lambda: {})
    assert R.metric_name("bpb", "ko") == "bpb"
    assert not R.higher_is_better("bpb") and R.higher_is_better("accuracy")   # the built-in fallback
    columns, rows = R.comparison(_reports())
    assert R.best_in_column(rows, "corpus:mycorpus · bpb") == EVIL
    monkeypatch.setattr(R, "_no_direction", lambda: frozenset({"ppl"}))
    assert R.best_in_column(rows, "corpus:mycorpus · ppl") is None
    doc = R.to_html(_reports(), lang="en")
    assert "<strong>18.52</strong>" not in doc and "<strong>1.111</strong>" in doc
