"""Explorer figures and tables of the corpus tab, from workbench.corpus.stats dictionaries.

One function draws one set of statistics or several side by side (before/after a curation run):
every panel gets one trace per set, so the comparison covers every figure.
"""
from __future__ import annotations

import html

from state.i18n import pick

COLORS = ["#8c8c8c", "#1f77b4", "#2ca02c", "#ff7f0e"]

T = {
    "len": ("문서 길이 (글자 수)", "Document length (characters)"),
    "ratio": ("한글 비율", "Hangul ratio"),
    "words": ("상위 어절 (문서 1,000개당 횟수)", "Top words (per 1,000 documents)"),
    "bigrams": ("상위 어절 bigram (문서 1,000개당)", "Top word bigrams (per 1,000 documents)"),
    "coverage": ("음절 누적 커버리지 (상위 N개 음절)", "Syllable coverage (top N syllables)"),
    "cho": ("초성 분포", "Initial consonants"),
    "jung": ("중성 분포", "Vowels"),
    "jong": ("종성 분포", "Final consonants"),
    "docs": ("문서 수", "Documents"),
    "chars": ("글자 수", "Characters"),
    "hangul": ("한글 음절 수", "Hangul syllables"),
    "jamo": ("낱자모 수 (ㅋ, ㅠ …)", "Standalone jamo (ㅋ, ㅠ …)"),
    "wordcount": ("어절 수", "Words (eojeol)"),
    "mean": ("평균 글자 수", "Mean characters"),
    "distinct": ("사용된 음절 종류 (전체 11,172)", "Distinct syllables (of 11,172)"),
    "ksx": ("KS X 1001 2,350자 중 사용", "Of the 2,350 KS X 1001 syllables"),
    "outside": ("KS X 1001 밖 음절 비율", "Share outside KS X 1001"),
    "need": ("음절 {p} 커버에 필요한 음절 수", "Syllables covering {p}"),
    # the explorer and a run count words the same way (workbench.corpus.stats): every document of a small
    # corpus, so both show the same number; a large one in a run: one in N, shown as a share of the documents
    "sampled": ("상위 어절을 센 문서 수 (문서 중 비율)", "Documents whose words were counted (share)"),
    "item": ("항목", "Item"),
}


def _len_labels(edges: list) -> list[str]:
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        out.append(f"{lo:,}+" if hi is None else f"{lo:,}–{hi - 1:,}")
    return out


def stats_figure(sets: dict[str, dict], lang: str = "ko"):
    """An 8-panel plotly figure; `sets` maps a label (e.g. 'before', 'after') to a stats dict."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    titles = [pick(T[k], lang) for k in ("len", "ratio", "words", "coverage", "cho", "jung", "jong", "bigrams")]
    fig = make_subplots(rows=4, cols=2, subplot_titles=titles, vertical_spacing=0.07, horizontal_spacing=0.1)
    last = list(sets.values())[-1]
    top_words = [w for w, _ in last["top_words"][:15]][::-1]
    top_bi = [w for w, _ in last["top_bigrams"][:12]][::-1]
    for i, (label, st) in enumerate(sets.items()):
        c = COLORS[(i + (1 if len(sets) == 1 else 0)) % len(COLORS)]
        kw = dict(name=label, legendgroup=label, marker_color=c, showlegend=False)
        lh = st["len_hist"]
        fig.add_trace(go.Bar(x=_len_labels(lh["edges"]), y=lh["counts"], **{**kw, "showlegend": True}), 1, 1)
        rh = st["hangul_ratio_hist"]
        fig.add_trace(go.Bar(x=[f"{e:.2f}" for e in rh["edges"][:-1]], y=rh["counts"], **kw), 1, 2)
        # top words come from a sample whose size differs between sets: compare rates, not raw counts
        per = 1000.0 / max(1, st["sampled_docs"])
        words = dict((w, n) for w, n in st["top_words"])
        fig.add_trace(go.Bar(y=top_words, x=[round(words.get(w, 0) * per, 1) for w in top_words], orientation="h",
                             **kw), 2, 1)
        cc = st["syllables"]["coverage_curve"]
        fig.add_trace(go.Scatter(x=cc["ranks"], y=cc["share"], mode="lines+markers", line_color=c,
                                 name=label, legendgroup=label, showlegend=False), 2, 2)
        for (panel, key) in (((3, 1), "initial"), ((3, 2), "medial"), ((4, 1), "final")):
            d = st["jamo_coverage"][key]
            total = max(1, sum(d.values()))
            fig.add_trace(go.Bar(x=list(d), y=[v / total for v in d.values()], **kw), *panel)
        bis = dict((w, n) for w, n in st["top_bigrams"])
        fig.add_trace(go.Bar(y=top_bi, x=[round(bis.get(w, 0) * per, 1) for w in top_bi], orientation="h", **kw), 4, 2)
    fig.update_xaxes(type="log", row=2, col=2)
    fig.update_yaxes(tickformat=".0%", row=2, col=2)
    for r, c in ((3, 1), (3, 2), (4, 1)):
        fig.update_yaxes(tickformat=".0%", row=r, col=c)
    fig.update_layout(height=1250, barmode="group", template="plotly_white", margin=dict(l=40, r=10, t=50, b=30),
                      legend=dict(orientation="h", y=1.04, x=0), font=dict(family="NanumGothic, sans-serif"))
    return fig


def counts_html(sets: dict[str, dict], lang: str = "ko") -> str:
    """A table of the headline counts, one column per set (and the change when there are two)."""
    def fmt(v):
        return f"{v:,.1f}" if isinstance(v, float) and not float(v).is_integer() else f"{int(v):,}"

    rows = [("docs", lambda s: s["docs"]), ("chars", lambda s: s["chars"]),
            ("hangul", lambda s: s["hangul_syllables"]), ("jamo", lambda s: s["jamo"]),
            ("wordcount", lambda s: s["words"]), ("mean", lambda s: float(s["mean_chars"])),
            ("distinct", lambda s: s["syllables"]["distinct"]), ("ksx", lambda s: s["syllables"]["ksx1001_used"])]
    labels = list(sets)
    head = "".join(f"<th>{html.escape(x)}</th>" for x in [pick(T["item"], lang), *labels]
                   + (["Δ"] if len(labels) == 2 else []))
    body = []
    for key, get in rows:
        vals = [get(s) for s in sets.values()]
        cells = "".join(f"<td>{fmt(v)}</td>" for v in vals)
        if len(vals) == 2:
            d = vals[1] - vals[0]
            cells += f"<td>{'+' if d > 0 else ''}{fmt(d)}</td>"
        body.append(f"<tr><td>{html.escape(pick(T[key], lang))}</td>{cells}</tr>")
    no_delta = "<td></td>" if len(labels) == 2 else ""  # rows without a change column
    for p in ("90%", "99%", "99.9%"):
        cells = "".join(f"<td>{s['syllables']['needed_for_coverage'][p]:,}</td>" for s in sets.values())
        body.append(f"<tr><td>{html.escape(pick(T['need'], lang).format(p=p))}</td>{cells}{no_delta}</tr>")
    cells = "".join(f"<td>{s['syllables']['outside_ksx1001_share']:.3%}</td>" for s in sets.values())
    body.append(f"<tr><td>{html.escape(pick(T['outside'], lang))}</td>{cells}{no_delta}</tr>")
    cells = "".join(f"<td>{s['sampled_docs']:,} ({s['sampled_docs'] / max(1, s['docs']):.0%})</td>"
                    for s in sets.values())
    body.append(f"<tr><td>{html.escape(pick(T['sampled'], lang))}</td>{cells}{no_delta}</tr>")
    return f"<table class='wb-corpus-counts'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
