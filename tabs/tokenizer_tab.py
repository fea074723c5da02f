"""Tokenizer tab: train Korean tokenizers, see how each cuts a sentence, compare them on held-out text.

UI only: configs come from workbench.tokenizer.stage / compare_stage; training and comparing run in the
engine (in-process for small work, as a job for large), sentence spans come from workbench.tokenizer.spans.
"""
from __future__ import annotations

import html

import gradio as gr

from state.i18n import pick, say

from .components import AppContext, JobPanel, artifact_picker, fmt_time, refresh_picker
from .forms import ConfigForm
from .launch import launch
from .packed import on_form

T = {
    "intro": ("토크나이저는 글을 모델이 읽는 조각(토큰)으로 자릅니다. 말뭉치로 직접 학습하고, 문장 하나를 여러 토크나이저가 "
              "어떻게 자르는지 보고, 학습에 쓰지 않은 글에서 수치로 비교하세요.",
              "A tokenizer cuts text into the pieces (tokens) a model reads. Train your own on a corpus, see how "
              "every tokenizer cuts one sentence, and compare them with figures on text they were not trained on."),
    "train_h": ("### 1. 학습", "### 1. Train"),
    "corpus": ("말뭉치 산출물", "Corpus artifact"),
    "corpus_path": ("또는 파일·폴더 경로", "Or a file / folder path"),
    "corpus_path_info": ("채우면 위 선택 대신 사용. 예: konlpy:kobill (내장 예제), /data/ko.txt, 폴더",
                         "Used instead of the artifact when filled. E.g. konlpy:kobill (bundled sample), /data/ko.txt, a folder"),
    "train": ("학습 시작", "Train"),
    "view_h": ("### 2. 문장 하나를 잘라 보기", "### 2. See how a sentence is cut"),
    "select": ("비교할 토크나이저", "Tokenizers to compare"),
    "select_info": ("학습한 토크나이저와 기준: cl100k(GPT-4), Kiwi 형태소, 문자, 바이트",
                    "Your tokenizers and references: cl100k (GPT-4), Kiwi morphemes, characters, bytes"),
    "extra": ("다른 Hugging Face 토크나이저", "Other Hugging Face tokenizers"),
    "extra_info": ("허브 이름 또는 로컬 폴더, 쉼표로 구분 (오프라인이면 로컬 폴더만)",
                   "Hub names or local folders, comma-separated (offline: local folders only)"),
    "sentence": ("문장", "Sentence"),
    "tokenize": ("자르기", "Tokenize"),
    "refresh": ("목록 새로 고침", "Refresh lists"),
    "corpus_h": ("### 3. 평가용 글에서 비교", "### 3. Compare on held-out text"),
    "heldout": ("평가용 글 (토크나이저마다 학습 글과 겹치는지 확인)", "Held-out text (checked against each tokenizer's training text)"),
    "heldout_info": ("기본값: 가장 최근 말뭉치의 검증(validation) 분할. 파일·폴더 경로, 말뭉치 산출물 이름, konlpy:kolaw도 가능",
                     "Default: the newest corpus's validation split. Also a file / folder path, a corpus artifact "
                     "name, or konlpy:kolaw"),
    "max_texts": ("최대 글 수", "Max texts"),
    "f1": ("형태소 경계 F1 (Kiwi)", "Morpheme-boundary F1 (Kiwi)"),
    "compare": ("비교 실행", "Compare"),
    "table": ("비교표", "Comparison table"),
    "lengths": ("토큰 길이 분포", "Token length distribution"),
    "sweep": ("어휘 크기에 따른 어절당 토큰 수 (비교표와 같은 평가용 글)", "Fertility vs vocabulary size (same held-out text as the table)"),
    "composition": ("어휘 구성", "Vocabulary composition"),
    "result": ("결과", "Result"),
    "status_train": ("학습 실행 상태 (진행, 평가용 글의 어절당 토큰 수, 로그)",
                     "Training run (progress, held-out fertility, log)"),
    "status_compare": ("비교 실행 상태 (진행, 로그)", "Comparison run (progress, log)"),
    # sentence spans
    "tokens": ("토큰", "tokens"),
    "per_word": ("어절당", "per word"),
    "byte_tokens": ("ids {ids} · {n}개 바이트 토큰 ({labels})", "ids {ids} · {n} byte tokens ({labels})"),
    "legend": ("색 = 토큰 하나 · 점선 = 바이트 조각(음절로 표시) · 빨강 = UNK · ▁ = 공백 · 마우스를 올리면 id",
               "color = one token · dashed = byte pieces (shown as the syllable) · red = UNK · ▁ = space · "
               "hover for ids"),
    # figures
    "byte": ("바이트", "byte"),
    "len_x": ("토큰 길이 (글자)", "token length (characters)"),
    "len_y": ("토큰 비율", "share of tokens"),
    "sweep_x": ("어휘 크기", "vocabulary size"),
    "sweep_y": ("어절당 토큰 (평가용 글)", "tokens per word (held-out)"),
    "sweep_empty": ("비교를 실행하면 비교표와 같은 평가용 글에서 잰 값이 여기 그려집니다",
                    "Run a comparison: this plots the same held-out measurement as the table"),
    # results and messages
    "train_failed": ("학습 실패", "Training failed"),
    "train_stopped": ("학습 중지됨", "Training stopped"),
    "saved_line": ("**저장됨: `{name}`** · {algorithm} · 어휘 {vocab:,} · 학습 {seconds} s",
                   "**Saved: `{name}`** · {algorithm} · vocab {vocab:,} · training {seconds} s"),
    "heldout_line": ("평가용 글 ({what}: 글 {texts:,}개, {words:,} 어절): 어절당 토큰 {fertility}{se}, 글자/토큰 {cpt}",
                     "held-out ({what}: {texts:,} texts, {words:,} words): fertility {fertility}{se}, chars/token {cpt}"),
    "held_back": ("학습에서 뺀, 말뭉치의 100개 중 1개", "every 100th text of the corpus, held back from training"),
    "split_of": ("{label}의 {split} 분할", "{split} split of {label}"),
    "sweep_line": ("스윕: {points}", "sweep: {points}"),
    "train_job": ("큰 말뭉치라 작업으로 실행합니다 (아래 진행 상황).", "A large corpus: running as a job (progress below)."),
    "compare_job": ("작업으로 실행합니다 (아래 진행 상황).", "Running as a job (progress below)."),
    "compare_failed": ("비교 실패", "Comparison failed"),
    "compare_note": ("평가용 글: {label} · {texts:,} 개 글 · {words:,} 어절",
                     "Held-out text: {label} · {texts:,} texts · {words:,} words"),
    "trained_on": (": 이 글로 학습한 토크나이저 (수치가 낙관적)", ": trained on this text (optimistic figures)"),
}
ROUNDTRIP = {"exact": ("✓ 그대로 복원", "✓ round-trips"),
             "normalized": ("≈ 정규화 후 복원", "≈ round-trips after normalization"),
             "lossy": ("✗ 입력과 다르게 복원", "✗ does not reproduce the input"),
             "n/a": ("복원 없음", "no decoder")}

EXAMPLE = "한국어 토크나이저는 형태소 경계를 얼마나 잘 지킬까요? 똠얌꿍도 먹었어요."

DEFS = (
    "**정의** · 어절 = 공백으로 나뉜 덩어리 · **어절당 토큰 수(fertility)** = 전체 토큰 ÷ 전체 어절 (낮을수록 짧은 입력) · "
    "글자/바이트당 토큰 = 공백 포함 글자 수(UTF-8 바이트) ÷ 토큰 · UNK = 미등록 토큰 비율 · 바이트 = 온전한 글자가 아닌 토큰 비율 "
    "(바이트 폴백 `<0xEA>`, 음절 일부) · 쪼개진 어절 = 토큰 둘 이상으로 잘린 어절 비율 · **형태소 경계 P/R/F1** = 어절 안의 토큰 경계를 "
    "Kiwi 형태소 경계와 비교 (음절 안의 경계, 예: 했=하+었, 는 세지 않음; 문자 단위는 재현율이 늘 1) · 어휘 구성 = 어휘 항목 중 "
    "한 음절·여러 음절·자모·라틴·숫자·기호 비율 · MB/s = 초당 인코딩한 UTF-8 메가바이트 (기계 부하에 따라 다름).",
    "**Definitions** · word = a whitespace-separated piece (eojeol) · **fertility** = all tokens ÷ all words (lower: "
    "shorter inputs) · chars/bytes per token = characters (UTF-8 bytes), spaces included, ÷ tokens · UNK = share of "
    "unknown tokens · byte = share of tokens that are not whole characters (byte fallback `<0xEA>`, part of a "
    "syllable) · words split = share of words cut into 2+ tokens · **morpheme-boundary P/R/F1** = token boundaries "
    "inside words against Kiwi's morpheme boundaries inside words (a boundary inside a syllable, e.g. 했 = 하+었, is "
    "not counted; characters always have recall 1) · composition = share of vocabulary entries that are one syllable, "
    "several syllables, jamo, Latin, digits, symbols · MB/s = UTF-8 megabytes encoded per second (depends on machine load).",
)

COLUMNS = [  # (row key, Korean header, English header, format)
    ("tokenizer", "토크나이저", "tokenizer", "s"),
    ("vocab_size", "어휘", "vocab", "d"),
    ("fertility", "어절당 토큰", "fertility", ".3f"),
    ("chars_per_token", "글자/토큰", "chars/token", ".2f"),
    ("bytes_per_token", "바이트/토큰", "bytes/token", ".2f"),
    ("unk_rate", "UNK %", "UNK %", "%"),
    ("byte_rate", "바이트 %", "byte %", "%"),
    ("words_split", "쪼개진 어절 %", "words split %", "%"),
    ("boundary_precision", "경계 P", "boundary P", ".3f"),
    ("boundary_recall", "경계 R", "boundary R", ".3f"),
    ("boundary_f1", "경계 F1", "boundary F1", ".3f"),
    ("encode_mb_per_s", "MB/s", "MB/s", ".2f"),
]
COMPOSITION = [("hangul_syllable", "한 음절", "1 syllable"), ("hangul_multi", "여러 음절", "multi-syllable"),
               ("jamo", "자모", "jamo"), ("latin", "라틴", "Latin"), ("digit", "숫자", "digits"),
               ("symbol", "기호", "symbols"), ("other", "기타", "other"), ("byte", "바이트", "bytes")]

REFERENCE_CHOICES = [("cl100k (GPT-4)", "cl100k"), ("kiwi (형태소 morphemes)", "kiwi"),
                     ("char (문자 characters)", "char"), ("byte (바이트 bytes)", "byte")]
PALETTE = ["#ffd6a5", "#caffbf", "#9bf6ff", "#bdb2ff", "#ffc6ff", "#fdffb6", "#a0c4ff", "#ffadad"]

# Above this much text (MB, times 10 with Kiwi, times the number of sizes) training runs as a job.
INPROCESS_MB = 5.0
INPROCESS_COMPARE_TEXTS = 5000


# -- sentence spans as HTML ----------------------------------------------------------------------------
def spans_html(segs, lang: str) -> str:
    rows = []
    for seg in segs:
        name = html.escape(seg.name)
        if seg.kind == "error":
            rows.append(f"<div class='tok-row' data-name='{name}'><div class='tok-head'><b>{name}</b></div>"
                        f"<div class='wb-err'>{html.escape(pick(seg.error, lang))}</div></div>")
            continue
        per_word = f"{seg.count / seg.words:.2f}" if seg.words else "–"
        rt = ROUNDTRIP[seg.roundtrip]
        rt_color = {"exact": "#2ca02c", "normalized": "#b8860b", "lossy": "#d62728"}.get(seg.roundtrip, "#888")
        head = (f"<b>{name}</b> · <span class='tok-count'>{seg.count}</span> {pick(T['tokens'], lang)} · "
                f"{pick(T['per_word'], lang)} {per_word} · "
                f"<span class='tok-rt' data-rt='{seg.roundtrip}' style='color:{rt_color}'>{pick(rt, lang)}</span>")
        if seg.roundtrip == "lossy" and seg.decoded is not None:
            head += f" <span style='color:#888'>→ {html.escape(seg.decoded[:200])}</span>"
        parts = []
        for i, sp in enumerate(seg.spans):
            style = f"background:{PALETTE[i % len(PALETTE)]};"
            if sp.kind == "byte":
                style += "outline:1px dashed #555;"
            elif sp.kind == "unk":
                style = "background:#ff6b6b;color:white;"
            elif sp.kind == "special":
                style = "background:#ddd;color:#333;"
            ids = ", ".join(str(x) for x in sp.ids)
            if seg.kind == "kiwi":
                title = " + ".join(sp.labels)
            elif sp.kind == "byte" and len(sp.ids) > 1:
                title = pick(T["byte_tokens"], lang).format(ids=ids, n=len(sp.ids), labels=" ".join(sp.labels))
            else:
                title = f"id {ids} · {' '.join(sp.labels)}"
            parts.append(f"<span class='wb-tok tok-span' data-kind='{sp.kind}' style='{style}' "
                         f"title='{html.escape(title, quote=True)}'>{html.escape(sp.text)}</span>")
        rows.append(f"<div class='tok-row' data-name='{name}' style='margin:6px 0 10px 0'>"
                    f"<div class='tok-head' style='font-size:0.9em;margin-bottom:2px'>{head}</div>"
                    f"<div class='tok-spans' style='font-size:1.15em;line-height:2.0'>{''.join(parts)}</div></div>")
    legend = pick(T["legend"], lang)
    return f"<div class='tok-view'>{''.join(rows)}<div style='color:#777;font-size:0.8em'>{legend}</div></div>"


# -- table and figures ---------------------------------------------------------------------------------
def table_value(result: dict | None, lang: str):
    import pandas as pd
    headers = [pick((ko, en), lang) for _, ko, en, _ in COLUMNS] + [pick((ko, en), lang) for _, ko, en in COMPOSITION]
    if not result or not result.get("rows"):
        return pd.DataFrame(columns=headers)
    out = []
    for r in result["rows"]:
        line = []
        for key, _, _, fmt in COLUMNS:
            v = r.get(key)
            if v is None:
                line.append("–")
            elif fmt == "%":
                line.append(f"{100 * v:.2f}")
            elif fmt == "s":
                line.append(str(v) + (" ⚠" if r.get("warning") else ""))
            elif fmt == "d":
                line.append(f"{v:,}")
            else:
                line.append(format(v, fmt))
        comp = r.get("composition") or {}
        line += [f"{100 * comp[k]:.1f}" if k in comp else "–" for k, _, _ in COMPOSITION]
        out.append(line)
    return pd.DataFrame(out, columns=headers)


def lengths_figure(result: dict | None, lang: str):
    import plotly.graph_objects as go
    fig = go.Figure()
    for r in (result or {}).get("rows", []):
        tl = r.get("token_lengths") or {}
        total = sum(tl.values()) or 1
        buckets = list(tl)
        labels = [pick(T["byte"], lang) if b == "byte" else b for b in buckets]
        fig.add_trace(go.Bar(name=r["tokenizer"], x=labels, y=[tl[b] / total for b in buckets]))
    fig.update_layout(barmode="group", height=340, margin=dict(l=40, r=10, t=40, b=40), template="plotly_white",
                      xaxis_title=pick(T["len_x"], lang), yaxis_title=pick(T["len_y"], lang), yaxis_tickformat=".0%")
    return fig


def composition_figure(result: dict | None, lang: str):
    import plotly.graph_objects as go
    rows = [r for r in (result or {}).get("rows", []) if r.get("composition")]
    fig = go.Figure()
    for key, ko, en in COMPOSITION:
        fig.add_trace(go.Bar(name=pick((ko, en), lang), y=[r["tokenizer"] for r in rows],
                             x=[r["composition"].get(key, 0) for r in rows], orientation="h"))
    fig.update_layout(barmode="stack", height=120 + 30 * max(1, len(rows)), margin=dict(l=10, r=10, t=30, b=30),
                      template="plotly_white", xaxis_tickformat=".0%",
                      legend=dict(orientation="h", y=-0.25))
    return fig


def sweep_points(result: dict | None) -> dict[str, list[tuple[int, float]]]:
    """(vocabulary size, fertility) per tokenizer of a comparison: the table's own row and, for a tokenizer
    trained with a sweep, its other sizes measured on the same held-out text (compare_stage)."""
    out = {}
    for r in (result or {}).get("rows", []):
        if r.get("kind") in ("char", "byte"):  # the baselines (in the table) would squash the curves
            continue
        pts = [(p["vocab_size"], p["fertility"]) for p in r.get("sweep") or []
               if p.get("vocab_size") and p.get("fertility") is not None]
        if not pts and r.get("vocab_size") and r.get("fertility") is not None:
            pts = [(r["vocab_size"], r["fertility"])]
        if pts:
            out[r["tokenizer"]] = sorted(pts)
    return out


def sweep_figure(result: dict | None, lang: str):
    """Held-out fertility against vocabulary size, from the comparison result: the same texts and the same
    definition as the table (a trained tokenizer's table value is one of its points)."""
    import plotly.graph_objects as go
    fig = go.Figure()
    sizes: set[int] = set()
    held = (result or {}).get("heldout") or {}
    for name, pts in sweep_points(result).items():
        sizes.update(p[0] for p in pts)
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], name=name,
                                 mode="lines+markers" if len(pts) > 1 else "markers"))
    fig.update_layout(height=340, margin=dict(l=40, r=10, t=40, b=40), template="plotly_white",
                      xaxis_type="log", legend=dict(orientation="h", y=-0.3, font=dict(size=10)),
                      xaxis_title=pick(T["sweep_x"], lang), yaxis_title=pick(T["sweep_y"], lang),
                      title=dict(text=html.escape(heldout_label(held, lang)) if held else "", font=dict(size=12)))
    ticks = sorted(sizes)
    if ticks and all(b / a >= 1.4 for a, b in zip(ticks, ticks[1:])):  # the sizes themselves, while they fit
        fig.update_xaxes(tickvals=ticks, ticktext=[f"{v // 1000}k" if v >= 1000 and v % 1000 == 0 else f"{v:,}"
                                                   for v in ticks])
    if not ticks:
        fig.add_annotation(text=pick(T["sweep_empty"], lang), showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    return fig


def train_result_markdown(run, lang: str) -> str:
    if run is None:
        return ""
    if run.status != "succeeded":
        if run.status in ("failed", "stopped", "interrupted"):
            head = pick(T["train_failed" if run.status == "failed" else "train_stopped"], lang)
            return f"**{head}**: {html.escape(pick(run.error, lang))}"
        return ""
    s = run.summary or {}
    lines = [pick(T["saved_line"], lang).format(name=s.get("name"), algorithm=s.get("algorithm"),
                                                vocab=s.get("vocab_size", 0), seconds=s.get("train_seconds"))]
    if s.get("heldout_fertility") is not None:
        held = s.get("heldout") or {}
        se = s.get("heldout_fertility_se")
        lines.append(pick(T["heldout_line"], lang).format(
            what=html.escape(heldout_label(held, lang)), texts=s.get("heldout_texts") or 0,
            words=s.get("heldout_words") or held.get("words") or 0, fertility=s["heldout_fertility"],
            se=f" ±{se:.3f}" if se is not None else "", cpt=s.get("heldout_chars_per_token")))
        lines += [f"⚠ {html.escape(pick(w, lang))}" for w in held.get("warnings") or []]
    if s.get("sweep"):
        lines.append(pick(T["sweep_line"], lang).format(
            points=", ".join(f"{r['vocab_size']:,} → {r.get('fertility')}" for r in s["sweep"])))
    lines.append(f"`AutoTokenizer.from_pretrained(\"{s.get('path')}\")`")
    return "  \n".join(lines)


def heldout_label(held: dict, lang: str) -> str:
    """Which text a training run's held-out figures were measured on, in words."""
    if held.get("kind") == "holdback":
        return pick(T["held_back"], lang)
    label = held.get("label") or held.get("spec") or "?"
    if held.get("kind") == "corpus" and held.get("split"):
        return pick(T["split_of"], lang).format(label=label, split=held["split"])
    return str(label)


# -- the tab -----------------------------------------------------------------------------------------
def build(ctx: AppContext):
    from workbench.tokenizer.compare_stage import CompareConfig
    from workbench.tokenizer.stage import TokenizerConfig

    ui = ctx.ui
    lang_box = ui.lang_box
    cache_holder: dict = {}

    def cache():
        if "c" not in cache_holder:
            from workbench.tokenizer.backends import BackendCache
            cache_holder["c"] = BackendCache()
        return cache_holder["c"]

    ui.md(T["intro"])

    # ---- 1. train ------------------------------------------------------------------------------
    ui.md(T["train_h"])
    has_corpus = bool(ctx.store.list_artifacts("corpus"))
    with gr.Row():
        corpus_dd = artifact_picker(ctx, "corpus", T["corpus"], elem_id="tok-corpus")
        corpus_path = ui.reg(gr.Textbox(value="" if has_corpus else BUNDLED_DEFAULT, label=ui.text(T["corpus_path"]),
                                        info=ui.text(T["corpus_path_info"]), elem_id="tok-corpus-path"),
                             label=T["corpus_path"], info=T["corpus_path_info"])
    form = ConfigForm(ctx, TokenizerConfig, exclude=["corpus"], columns=4)
    with gr.Row():
        train_btn = ui.button(T["train"], variant="primary", elem_id="tok-train", scale=0)
        train_msg = gr.Markdown(elem_id="tok-train-msg")
    with gr.Accordion(ui.text(T["status_train"]), open=True) as acc:
        train_panel = JobPanel(ctx, "tokenizer", groups=[["heldout/fertility"], ["heldout/chars_per_token"]])
    ui.reg(acc, label=T["status_train"])
    # After a reload the form shows the config of the latest training run (the corpus picker and path box are
    # set by `on_load` below, with the picker's choices refreshed).
    train_panel.restore([form])
    train_seen = gr.State("")

    # ---- 2. one sentence ------------------------------------------------------------------------
    ui.md(T["view_h"])
    with gr.Row():
        select = gr.Dropdown(choices=_tokenizer_choices(ctx), value=_default_selection(ctx), multiselect=True,
                             label=ui.text(T["select"]), info=ui.text(T["select_info"]), elem_id="tok-select", scale=3)
        ui.reg(select, label=T["select"], info=T["select_info"])
        extra = ui.reg(gr.Textbox(label=ui.text(T["extra"]), info=ui.text(T["extra_info"]), elem_id="tok-extra",
                                  scale=2), label=T["extra"], info=T["extra_info"])
        refresh_btn = ui.button(T["refresh"], size="sm", scale=0)
    with gr.Row():
        sentence = ui.reg(gr.Textbox(value=EXAMPLE, label=ui.text(T["sentence"]), lines=2, elem_id="tok-sentence",
                                     scale=5), label=T["sentence"])
        tokenize_btn = ui.button(T["tokenize"], variant="primary", elem_id="tok-go", scale=0)
    spans_out = gr.HTML(elem_id="tok-spans")

    # ---- 3. held-out comparison ------------------------------------------------------------------
    ui.md(T["corpus_h"])
    with gr.Row():
        heldout = ui.reg(gr.Textbox(value=_default_heldout(ctx), label=ui.text(T["heldout"]),
                                    info=ui.text(T["heldout_info"]), elem_id="tok-heldout", scale=4),
                         label=T["heldout"], info=T["heldout_info"])
        heldout_auto = gr.State(_default_heldout(ctx))  # the default the box was given (replaced while untouched)
        max_texts = ui.reg(gr.Number(value=2000, precision=0, label=ui.text(T["max_texts"]), elem_id="tok-max-texts",
                                     scale=1), label=T["max_texts"])
        use_f1 = ui.reg(gr.Checkbox(value=True, label=ui.text(T["f1"]), elem_id="tok-f1", scale=1), label=T["f1"])
        compare_btn = ui.button(T["compare"], variant="primary", elem_id="tok-compare", scale=0)
    compare_msg = gr.Markdown(elem_id="tok-compare-msg")
    with gr.Accordion(ui.text(T["status_compare"]), open=False) as acc:
        compare_panel = JobPanel(ctx, "tokenizer-compare", groups=[])
    ui.reg(acc, label=T["status_compare"])
    compare_result = gr.State(None)
    compare_seen = gr.State("")
    table = ui.reg(gr.Dataframe(value=table_value(None, ui.lang), label=ui.text(T["table"]), interactive=False,
                                elem_id="tok-table", wrap=True, max_height=420), label=T["table"])
    with gr.Row():
        lengths_plot = ui.reg(gr.Plot(label=ui.text(T["lengths"]), elem_id="tok-lengths"), label=T["lengths"])
        sweep_plot = ui.reg(gr.Plot(value=sweep_figure(None, ui.lang), label=ui.text(T["sweep"]), elem_id="tok-sweep"),
                            label=T["sweep"])
    comp_plot = ui.reg(gr.Plot(label=ui.text(T["composition"]), elem_id="tok-composition"), label=T["composition"])
    ui.md(DEFS, elem_id="tok-defs")
    timer = ui.timer(2.0)

    # ---- handlers ---------------------------------------------------------------------------------
    def specs_of(selected, extra_text):
        specs = list(selected or [])
        for s in (extra_text or "").replace("\n", ",").split(","):
            s = s.strip()
            if s and s not in specs:
                specs.append(s if ("/" in s or s.startswith("hf:")) else f"hf:{s}")
        return specs

    def show_spans(text, selected, extra_text, lang):
        from workbench.tokenizer.spans import segment_all
        specs = specs_of(selected, extra_text)
        if not text or not specs:
            return ""
        return spans_html(segment_all(specs, text, cache(), ctx.ws), lang)

    view_inputs = [sentence, select, extra, lang_box]
    tokenize_btn.click(show_spans, view_inputs, [spans_out])
    sentence.submit(show_spans, view_inputs, [spans_out])
    sentence.input(show_spans, view_inputs, [spans_out], trigger_mode="always_last", show_progress="hidden")
    # .input: the person's own picks. When code changes the selection (a new tokenizer joins it), the same
    # code repaints the spans: a .change it triggered could read the old selection (see DEVELOPING.md).
    select.input(show_spans, view_inputs, [spans_out], show_progress="hidden")

    def small_training(cfg) -> bool:
        """Train here when the work is small: MB of text, times 10 with Kiwi, times the number of sizes."""
        from workbench.errors import UserError
        from workbench.tokenizer.sources import resolve_source
        try:
            size_mb = resolve_source(cfg.corpus, ctx.ws).size_bytes() / 1e6
        except UserError as e:
            raise UserError(say("**Corpus**: {e}", "**말뭉치**: {e}", e=e.text)) from None
        work = size_mb * (10 if cfg.pre_tokenization == "kiwi" else 1) * (1 + len(set(cfg.sweep) - {cfg.vocab_size}))
        return work <= INPROCESS_MB

    def start_train(lang, corpus_id, path, *values):
        corpus = (path or "").strip() or (str(corpus_id) if corpus_id else "")
        run = launch(ctx, "tokenizer", lambda: form.to_config(values, corpus=corpus), lang,
                     in_process=small_training, started=T["train_job"])
        if run.result is not None:  # trained here: its result (or how it failed) right away
            return run.run_id, train_result_markdown(ctx.store.get_run(run.run_id), lang)
        return run.outputs()

    on_form(train_btn.click, start_train, [lang_box, corpus_dd, corpus_path, *form.components], [train_panel.run_id, train_msg])

    def start_compare(lang, selected, extra_text, heldout_text, n, f1):
        def build():
            return CompareConfig().replace(tokenizers=specs_of(selected, extra_text), heldout=heldout_text or "",
                                           max_texts=int(n or 0), morpheme_f1=bool(f1))
        run = launch(ctx, "tokenizer-compare", build, lang, started=T["compare_job"],
                     in_process=lambda cfg: cfg.max_texts <= INPROCESS_COMPARE_TEXTS)
        unchanged = (gr.skip(),) * 5
        if run.result is None:  # queued as a job, or nothing started
            return (*run.outputs(), *unchanged)
        if not run.ok:
            failed = f"**{pick(T['compare_failed'], lang)}**: {html.escape(pick(run.result['error'], lang))}"
            return (run.run_id, failed, *unchanged)
        result = run.result["summary"]
        return (run.run_id, _compare_note(result, lang), result, table_value(result, lang),
                lengths_figure(result, lang), composition_figure(result, lang), sweep_figure(result, lang))

    on_form(compare_btn.click, start_compare, [lang_box, select, extra, heldout, max_texts, use_f1],
                      [compare_panel.run_id, compare_msg, compare_result, table, lengths_plot, comp_plot, sweep_plot])

    def refresh_lists(corpus_current, selected, path, held, held_auto):
        new_choices = _tokenizer_choices(ctx)
        values = {v for _, v in new_choices}
        keep = [v for v in (selected or []) if v in values]
        # The bundled sample stands in only while the workspace has no corpus: once one is saved, it is used
        # (unless the latest training run chose it, as the restored form then shows).
        if path == BUNDLED_DEFAULT and ctx.store.list_artifacts("corpus") and _last_corpus(train_panel) != path:
            path = ""
        # The held-out default follows the newest corpus's validation split while the person has not typed over it.
        if (held or "") == (held_auto or ""):
            held = held_auto = _default_heldout(ctx)
        return (refresh_picker(ctx, corpus_dd, corpus_current), gr.update(choices=new_choices, value=keep), path,
                held, held_auto)

    lists = [corpus_dd, select, corpus_path, heldout, heldout_auto]
    refresh_btn.click(refresh_lists, lists, lists, queue=False)
    corpus_dd.select(lambda: "", None, [corpus_path], queue=False)  # picking an artifact means: train on it

    def poll(train_run_id, t_seen, cmp_run_id, c_seen, selected, lang, text, extra_text):
        """Show results of runs that finished as jobs (and add a newly trained tokenizer to the selection)."""
        out = [gr.skip()] * 11
        run = train_panel.current(train_run_id)
        done = run is not None and run.status not in ("queued", "running")
        key = f"{run.id}:{run.status}" if done else (t_seen or "none")
        if not t_seen:  # first tick after the page loaded: show the last result, change no selection
            out[1] = key
            out[0] = train_result_markdown(run, lang) if done else gr.skip()
        elif done and key != t_seen:  # a run finished since: show it, add its tokenizer to the selection
            out[0], out[1] = train_result_markdown(run, lang), key
            name = (run.summary or {}).get("name")
            choices = _tokenizer_choices(ctx)
            sel = list(selected or [])
            if run.status == "succeeded" and name and name not in sel:
                sel.insert(0, name)
            sel = [v for v in sel if v in {c[1] for c in choices}]
            out[2] = gr.update(choices=choices, value=sel)
            out[10] = show_spans(text, sel, extra_text, lang)  # the sentence, cut by the new one too
        crun = compare_panel.current(cmp_run_id)
        if crun is not None and crun.status not in ("queued", "running") and f"{crun.id}:{crun.status}" != c_seen:
            out[3] = f"{crun.id}:{crun.status}"
            if crun.status == "succeeded" and crun.summary and crun.summary.get("rows"):
                result = crun.summary
                out[4], out[5], out[6], out[7] = result, table_value(result, lang), lengths_figure(result, lang), \
                    composition_figure(result, lang)
                out[8] = _compare_note(result, lang)
                out[9] = sweep_figure(result, lang)  # the same measurement as the table
        return out

    timer.tick(poll, [train_panel.run_id, train_seen, compare_panel.run_id, compare_seen, select, lang_box,
                      sentence, extra],
               [train_msg, train_seen, select, compare_seen, compare_result, table, lengths_plot, comp_plot,
                compare_msg, sweep_plot, spans_out], show_progress="hidden", queue=False)

    def relabel(lang, result, text, selected, extra_text, train_run_id):
        return (table_value(result, lang), lengths_figure(result, lang), composition_figure(result, lang),
                sweep_figure(result, lang), show_spans(text, selected, extra_text, lang),
                train_result_markdown(train_panel.current(train_run_id), lang),
                _compare_note(result, lang) if result else "")

    ui.on_language(relabel, [lang_box, compare_result, sentence, select, extra, train_panel.run_id],
                   [table, lengths_plot, comp_plot, sweep_plot, spans_out, train_msg, compare_msg], queue=False)

    def on_load():
        """Each page load (a reload, a second browser): the pickers offer what exists now and preselect the newest
        (the corpus of the latest training run when there is one, as the restored form shows; its path otherwise),
        the tokenizers to compare are the newest ones, and the comparison's fields are those of the latest
        comparison (else the honest default)."""
        corpus = _last_corpus(train_panel)
        art = _corpus_artifact(ctx, corpus) if corpus else None
        if art is not None:
            dd, path = refresh_picker(ctx, corpus_dd, str(art.id)), ""
        else:
            dd = refresh_picker(ctx, corpus_dd, None)
            path = corpus or ("" if ctx.store.list_artifacts("corpus") else BUNDLED_DEFAULT)
        sel = gr.update(choices=_tokenizer_choices(ctx), value=_default_selection(ctx))
        auto = _default_heldout(ctx)
        crun = compare_panel.latest()
        cfg = (crun.config or {}) if crun is not None else {}
        held = cfg.get("heldout") or auto
        n = cfg.get("max_texts") or gr.skip()
        f1 = cfg["morpheme_f1"] if "morpheme_f1" in cfg else gr.skip()
        return dd, path, sel, held, auto, n, f1

    ctx.on_page_load(on_load, [], [corpus_dd, corpus_path, select, heldout, heldout_auto, max_texts, use_f1])
    # on opening the tab: corpora made meanwhile
    return refresh_lists, lists, lists


def _compare_note(result: dict, lang: str) -> str:
    h = result.get("heldout") or {}
    warn = [r["tokenizer"] for r in result.get("rows", []) if r.get("warning")]
    s = pick(T["compare_note"], lang).format(label=html.escape(heldout_label(h, lang)), texts=h.get("texts", 0),
                                             words=h.get("words", 0))
    if warn:
        s += " · ⚠ " + ", ".join(warn) + pick(T["trained_on"], lang)
    for w in h.get("warnings") or []:  # too little held-out text to trust the figures
        s += f"  \n⚠ {html.escape(pick(w, lang))}"
    return s


def _tokenizer_choices(ctx: AppContext) -> list[tuple[str, str]]:
    out = []
    for a in ctx.store.list_artifacts("tokenizer"):
        m = a.meta or {}
        pre = (m.get("settings") or {}).get("pre_tokenization", "")
        out.append((f"{a.name} · {m.get('algorithm', '?')} {m.get('vocab_size', '?')}"
                    + (f" · {pre}" if pre else "") + f" · {fmt_time(a.created)}", a.name))
    return out + list(REFERENCE_CHOICES)


def _default_selection(ctx: AppContext) -> list[str]:
    mine = [a.name for a in ctx.store.list_artifacts("tokenizer")][:3]
    return mine + [v for _, v in REFERENCE_CHOICES]


BUNDLED_DEFAULT = "konlpy:kobill"  # what the training source box holds while the workspace has no corpus


def _default_heldout(ctx: AppContext) -> str:
    """Held-out text that is not training text: the newest corpus's own validation split (the Corpus stage keeps
    those documents out of train), else the bundled constitution, which the training default (the bundled bills)
    does not contain. Either way the comparison checks each tokenizer's training text and warns on overlap."""
    from workbench.artifacts import corpus_splits
    from pathlib import Path
    for a in ctx.store.list_artifacts("corpus"):
        if Path(a.path).is_dir() and "validation" in corpus_splits(a.path):
            return a.name
    return "konlpy:kolaw"


def _last_corpus(panel: JobPanel) -> str:
    run = panel.latest()
    return str((run.config or {}).get("corpus") or "") if run is not None else ""


def _corpus_artifact(ctx: AppContext, ref: str):
    """The corpus artifact a config's corpus names (an id from the picker, or a name from the CLI), or None."""
    if ref.isdigit():
        a = ctx.store.get_artifact(int(ref))
        return a if a is not None and a.kind == "corpus" else None
    return ctx.store.get_artifact(kind="corpus", name=ref)


__all__ = ["build", "spans_html", "table_value"]
