"""The corpus tab's figures and tables as pure functions (no browser): the job chart's one-off counts, and the
before/after table's top-word sample row."""
from tabs.corpus_figures import counts_html
from tabs.plots import metrics_figure
from workbench.corpus.stats import describe

GROUPS = [["docs_in", "docs_kept", "docs_out"], ["removed.filters.length", "removed.filters.hangul"]]


def rows(points: dict[str, list[tuple[int, float]]]) -> list[dict]:
    return [{"step": s, "name": n, "value": v, "time": 100.0 + s} for n, pts in points.items() for s, v in pts]


def test_one_off_counts_are_bars_and_series_stay_lines():
    # a corpus run of one batch: counts logged at steps 1 and 2 (docs_out only at the end)
    one_batch = rows({"docs_in": [(1, 2064), (2, 2064)], "docs_kept": [(1, 1164), (2, 1164)], "docs_out": [(2, 885)],
                      "removed.filters.length": [(1, 739), (2, 739)], "removed.filters.hangul": [(1, 5), (2, 5)]})
    fig = metrics_figure({"corpus-1": one_batch}, GROUPS)
    assert {t.type for t in fig.data} == {"bar"} and len(fig.data) == 2  # one bar chart per panel
    counts = fig.data[0]
    assert list(counts.x) == ["docs_in", "docs_kept", "docs_out"] and list(counts.y) == [2064, 1164, 885]
    assert list(counts.text) == ["2,064", "1,164", "885"] and not counts.showlegend
    # many batches: a real series over the batches, drawn as lines
    many = rows({"docs_in": [(i, 4000 * i) for i in range(1, 8)], "docs_kept": [(i, 3000 * i) for i in range(1, 8)]})
    fig = metrics_figure({"corpus-2": many}, GROUPS)
    assert {t.type for t in fig.data} == {"scatter"} and len(fig.data) == 2
    # two runs of one batch each: one bar trace per run, told apart by the legend
    fig = metrics_figure({"a": one_batch, "b": one_batch}, GROUPS[:1])
    assert [t.type for t in fig.data] == ["bar", "bar"] and [t.name for t in fig.data] == ["a", "b"]
    assert all(t.showlegend for t in fig.data)
    # a training curve keeps its lines from the third point on (fewer: bars until there is a curve)
    loss = rows({"train/loss": [(s, 3.0 / s) for s in range(1, 4)]})
    assert metrics_figure({"r": loss})["data"][0]["type"] == "scatter"


def test_top_word_row_names_what_it_counts_and_the_share():
    st = describe(["가나 다라", "마바 사아", "자차 카타"])
    html = counts_html({"before": st}, "ko")
    assert "상위 어절을 센 문서 수" in html and "3 (100%)" in html
    sampled = dict(st, sampled_docs=1, docs=4)  # a large run counts one document in 4
    html = counts_html({"before": st, "after": sampled}, "en")
    assert "Documents whose words were counted" in html and "1 (25%)" in html
