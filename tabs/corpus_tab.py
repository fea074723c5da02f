"""Corpus tab: load Korean text, explore it, run a cleaning recipe as a job, see what each step did, save.

① sources (bundled konlpy corpus in one click, uploads, a local path, a Hugging Face dataset)
② explorer (counts, histograms, top words, syllable/jamo coverage, random samples with search)
③ recipe (the CorpusConfig form) -> ctx.jobs.submit("corpus", cfg) with the shared job panel
④ results of the run: counts per step, examples of what each step removed or changed, near-duplicate
   clusters side by side, every explorer figure before/after, and Save as a corpus artifact.
The tab builds configs and calls the engine (workbench.corpus); it holds no processing logic.
"""
from __future__ import annotations

import html
import json
import os
import shutil
import time
from pathlib import Path

import gradio as gr

from state.i18n import pick
from workbench.corpus.stage import CorpusConfig as _CFG  # light: no torch or pandas at import

from .components import AppContext, JobPanel, artifact_picker, refresh_picker
from .corpus_figures import counts_html, stats_figure
from .forms import ConfigForm
from .launch import error_markdown, launch
from .packed import on_form

T = {
    "intro": ("원본 글을 불러와 살펴보고, 정제 레시피(정제·필터·중복 제거)를 실행해 토크나이저와 사전학습이 쓸 "
              "**말뭉치 산출물**을 만듭니다. 처음이라면 **기본 말뭉치 불러오기** → **레시피 실행** → **저장** 순서로 "
              "눌러 보세요.",
              "Load raw text, look at it, run a cleaning recipe (cleaning, filters, deduplication) and save a "
              "**corpus artifact** for the tokenizer and pretraining tabs. New here? Click **Load the bundled corpus** "
              "→ **Run the recipe** → **Save**."),
    "h_sources": ("### ① 원본 불러오기", "### ① Load sources"),
    "bundled": ("기본 말뭉치 불러오기 (대한민국헌법 + 국회 의안 10건, konlpy)",
                "Load the bundled corpus (Korean constitution + 10 bills, konlpy)"),
    "upload": ("파일 올리기 (.txt .jsonl .csv .tsv .parquet .html .zip .gz)",
               "Upload files (.txt .jsonl .csv .tsv .parquet .html .zip .gz)"),
    "path": ("또는 이 컴퓨터의 파일·폴더 경로", "or a file/folder path on this machine"),
    "text_field": ("텍스트 필드/열 (비우면 자동)", "Text field/column (empty: guess)"),
    "unit": _CFG.field_info("unit").pair(),  # labels of config fields come from the config
    "unit_info": ("auto: 빈 줄이 있으면 문단, 없으면 줄마다 한 문서", "auto: blank lines -> paragraphs, else one per line"),
    "hf": ("Hugging Face 데이터셋 (앞 N행만 스트리밍)", "Hugging Face dataset (streams the first N rows)"),
    "hf_name": ("이름 또는 save_to_disk 폴더", "Name or save_to_disk folder"),
    "hf_config": _CFG.field_info("hf.config").pair(),
    "hf_split": _CFG.field_info("hf.split").pair(),
    "hf_col": ("텍스트 열 (비우면 자동)", "Text column (empty: guess)"),
    "hf_rows": _CFG.field_info("hf.max_rows").pair(),
    "load": ("선택한 원본 불러오기", "Load the selected sources"),
    "h_explore": ("### ② 살펴보기", "### ② Explore"),
    "art": ("저장된 말뭉치", "Saved corpus"),
    "show_art": ("이 말뭉치 살펴보기", "Explore this corpus"),
    "query": ("검색어 (비우면 무작위 표본)", "Search (empty: a random sample)"),
    "search": ("보기", "Show"),
    "resample": ("다른 표본", "Another sample"),
    "h_recipe": ("### ③ 정제 레시피", "### ③ Cleaning recipe"),
    "run": ("레시피 실행", "Run the recipe"),
    "h_results": ("### ④ 결과", "### ④ Results"),
    "step_pick": ("예시를 볼 단계", "Show examples of step"),
    "h_clusters": ("#### 유사 중복 묶음 (초록 테두리 = 남긴 문서)", "#### Near-duplicate clusters (green = kept)"),
    "h_compare": ("#### 정제 전후 비교", "#### Before / after"),
    "save_name": _CFG.field_info("name").pair(),
    "overwrite": _CFG.field_info("overwrite").pair(),
    "save": ("말뭉치로 저장", "Save as corpus"),
    "steps_cols": (["단계", "제거", "변경", "남은 문서"], ["Step", "Removed", "Changed", "Left"]),
}

MSG = {
    "need_source": ("먼저 파일을 올리거나, 경로나 데이터셋 이름을 입력하세요.",
                    "Upload a file, or type a path or a dataset name first."),
    "loaded": ("문서 <b>{n:,}</b>개를 불러왔습니다{more}.", "Loaded <b>{n:,}</b> documents{more}."),
    "more": (" (처음 {n:,}개로 미리보기; 실행하면 전부 처리)", " (previewing the first {n:,}; a run processes all)"),
    "nothing": ("불러온 문서가 없습니다. 이전에 불러온 원본은 그대로입니다.",
                "No documents were loaded. The sources loaded before are kept."),
    "refused": ("읽지 못한 파일", "Files not read"),
    "warnings": ("참고", "Notes"),
    "file_cols": (["원본", "인코딩", "단위/필드", "문서 수"], ["Source", "Encoding", "Unit/field", "Documents"]),
    "need_load": ("먼저 ①에서 원본을 불러오세요 (기본 말뭉치는 버튼 하나로 불러옵니다).",
                  "Load sources in ① first (the bundled corpus is one click)."),
    "started": ("실행을 시작했습니다: `{run}`. 아래에서 진행 상황을 볼 수 있습니다.",
                "Started run `{run}`; progress is shown below."),
    "explore_preview": ("불러온 원본 {n:,}개 문서", "{n:,} loaded documents"),
    "explore_art": ("말뭉치 '{name}' ({n:,}개 문서{sample})", "corpus '{name}' ({n:,} documents{sample})"),
    "sampled": (", 고르게 뽑은 {n:,}개로 계산", ", computed on an even sample of {n:,}"),
    "matches": ("{m:,}개 일치, {k}개 표시", "{m:,} match, showing {k}"),
    "no_target": ("먼저 원본을 불러오거나 저장된 말뭉치를 고르세요.", "Load sources or pick a saved corpus first."),
    "res_head": ("실행 `{run}` · 백엔드: {backend} · 문서 {din:,} → **{dout:,}** · {sec:.1f}초 ({dps:,} 문서/초)",
                 "Run `{run}` · backend: {backend} · documents {din:,} → **{dout:,}** · {sec:.1f} s ({dps:,} docs/s)"),
    "splits": ("학습 {train:,} · 검증 {val:,}", "train {train:,} · validation {val:,}"),
    "zero": ("레시피가 문서를 하나도 남기지 않았습니다: **{step}** 단계가 마지막 {n:,}개를 지웠습니다. 이 단계의 기준을 "
             "느슨하게 하거나 끄고 다시 실행하세요. 저장된 것은 그대로입니다.",
             "The recipe left no documents: step **{step}** removed the last {n:,}. Loosen or switch off that step "
             "and run again. Nothing saved was changed."),
    "failed": ("실행 실패: {err}", "The run failed: {err}"),
    "running": ("실행 `{run}` 이(가) 진행 중입니다. 끝나면 결과가 여기에 나옵니다.",
                "Run `{run}` is in progress; its results appear here when it ends."),
    "stopped": ("실행이 중지되어 저장할 말뭉치가 없습니다.", "The run was stopped; there is no corpus to save."),
    "saved_as": ("이 실행의 말뭉치는 '{name}'(으)로 저장되어 있습니다.", "This run's corpus is saved as '{name}'."),
    "save_ok": ("말뭉치 **{name}** 을(를) 저장했습니다 ({n:,}개 문서). 토크나이저·사전학습 탭에서 고를 수 있습니다.",
                "Saved corpus **{name}** ({n:,} documents). Pick it in the tokenizer and pretraining tabs."),
    "save_none": ("저장할 실행 결과가 없습니다. 먼저 레시피를 실행하세요.", "No finished run to save yet. Run the recipe first."),
    "exists": ("'{name}' 이름의 말뭉치가 이미 있습니다. 다른 이름을 쓰거나 '덮어쓰기'를 켜세요.",
               "A corpus named '{name}' already exists: choose another name or tick 'Overwrite'."),
    "bad_name": ("이름을 쓸 수 없습니다: {err}", "That name cannot be used: {err}"),
    "kept": ("남김", "kept"),
    "removed": ("제거", "removed"),
    "cluster": ("묶음 {i}: 문서 {n}개", "Cluster {i}: {n} documents"),
    "no_clusters": ("유사 중복 묶음이 없습니다.", "No near-duplicate clusters."),
    "no_examples": ("이 단계에서 바뀌거나 지워진 문서가 없습니다.", "This step changed or removed no documents."),
    "before": ("정제 전", "before"),
    "after": ("정제 후", "after"),
    "loaded_label": ("불러온 원본", "loaded"),
    "corpus_label": ("말뭉치", "corpus"),
    "nemo_yes": ("NeMo Curator가 설치되어 있습니다: 백엔드 nemo_curator를 고르면 필터가 NeMo Curator 파이프라인(Ray)에서 "
                 "실행됩니다.", "NeMo Curator is installed: backend nemo_curator runs the filters in a NeMo Curator "
                                "pipeline (Ray)."),
    "nemo_no": ("NeMo Curator가 설치되어 있지 않아 local 백엔드만 쓸 수 있습니다 (GPU 서버: requirements-gpu.txt).",
                "NeMo Curator is not installed: only the local backend is available (GPU servers: requirements-gpu.txt)."),
    "upload_limit": ("업로드 한도: 파일당 {mb} MB. 더 큰 파일은 아래 경로 칸에 이 컴퓨터의 경로를 입력하세요.",
                     "Upload limit: {mb} MB per file. For larger files, type their path on this machine below."),
}

STEPS = {
    "clean.markup": ("정제: 마크업 제거", "clean: strip markup"),
    "clean.nfc": ("정제: 유니코드 NFC", "clean: Unicode NFC"),
    "clean.whitespace": ("정제: 공백·제어 문자", "clean: whitespace/control"),
    "clean.repeats": ("정제: 반복 문자 줄이기", "clean: squash repeats"),
    "clean.pii": ("정제: 개인정보 가리기", "clean: mask PII"),
    "filters.length": ("필터: 길이", "filter: length"),
    "filters.hangul": ("필터: 한글 비율", "filter: Hangul ratio"),
    "filters.symbols": ("필터: 기호·숫자 비율", "filter: symbol/digit ratio"),
    "filters.repetition": ("필터: 반복 줄·n-gram", "filter: repetition"),
    "filters.script": ("필터: 문자 체계 혼합", "filter: script mix"),
    "dedup.exact": ("중복 제거: 완전 중복", "dedup: exact"),
    "dedup.near": ("중복 제거: 유사 중복 (MinHash LSH)", "dedup: near (MinHash LSH)"),
}
METRICS = {
    "chars": ("글자 수", "characters"), "words": ("어절 수", "words"), "hangul_ratio": ("한글 비율", "Hangul ratio"),
    "symbol_ratio": ("기호 비율", "symbol ratio"), "digit_ratio": ("숫자 비율", "digit ratio"),
    "dup_line_ratio": ("중복 줄 비율", "repeated-line ratio"),
    "foreign_script_ratio": ("다른 문자 비율", "other-script ratio"),
}
REFUSED = {
    "empty": ("빈 파일입니다", "empty file"),
    "binary": ("텍스트가 아닌 바이너리 파일입니다", "a binary file, not text"),
    "encoding": ("인코딩을 알 수 없거나 섞여 있습니다 (UTF-8이나 CP949/EUC-KR로 저장해 주세요)",
                 "unknown or mixed encoding (save it as UTF-8 or CP949/EUC-KR)"),
    "no_field": ("텍스트 필드/열을 찾지 못했습니다", "no text field/column found"),
    "not_json": ("JSON 형식이 아닙니다", "not JSON"),
    "unsupported": ("지원하지 않는 파일 형식입니다", "unsupported file type"),
    "nested": ("압축 안의 압축은 읽지 않습니다", "nested archives are not read"),
    "encrypted": ("암호가 걸린 압축입니다", "password-protected archive"),
    "hf_offline": ("인터넷에 연결되어 있지 않아 Hub에서 받을 수 없습니다", "offline: cannot reach the Hugging Face Hub"),
    "hf_error": ("데이터셋을 불러오지 못했습니다", "could not load the dataset"),
    "unreadable": ("읽을 수 없습니다", "cannot be read"),
}
EXAMPLE_COLS = {  # the columns of a step's examples
    "before": ("전", "before"), "after": ("후", "after"), "removed": ("지운 문서", "removed document"),
    "why": ("이유", "why"), "same_as": ("같은 문서", "same as"), "kept": ("남긴 문서", "kept document"),
}
# Gradio draws the upload box's own words ("Drop File Here - or - Click to Upload", "Clear") in the locale its
# front end chose when the page loaded: the browser's (navigator.language), not our language switch, and
# gr.I18n / launch(i18n=) only translate strings we pass in, by that same browser locale. Its front end does
# export `changeLocale` (what gradio's own Settings > Language calls), but a mounted upload box keeps the
# words it mounted with. So this helper, given the UI language, sets gradio's locale to it and asks the server
# to re-mount the upload box (hidden and shown again), whose words then follow the UI: on page load when the
# browser's language differs from the UI's, and after every switch. If gradio renames its core module, it does
# nothing (the box stays in the browser's language) and tests/test_corpus_browser.py says so.
LOCALE_JS = """
const coreUrl = () => performance.getEntriesByType('resource').map(e => e.name)
  .find(n => /\/assets\/core-[^/]*\.js$/.test(n));
const current = () => (document.documentElement.lang || '').split('-')[0];
async function sync() {
  const lang = props.value;
  if (!lang || current() === lang) return;
  try {
    const url = coreUrl();
    if (!url) return;
    const core = await import(url);
    if (typeof core.changeLocale !== 'function') return;
    core.changeLocale(lang);
    for (let i = 0; i < 50 && current() !== lang; i++) await new Promise(r => setTimeout(r, 100));
    trigger('click');
  } catch (e) {
    console.warn('workbench: could not set the gradio locale', e);
  }
}
sync();
watch('value', sync);
"""
ACCEPT = [".txt", ".md", ".jsonl", ".json", ".csv", ".tsv", ".parquet", ".html", ".htm", ".zip", ".gz"]
CARD = ("display:inline-block;vertical-align:top;width:300px;margin:4px;padding:8px;border-radius:6px;"
        "white-space:pre-wrap;word-break:break-all;font-size:0.88em;background:#fafafa;")


def step_label(step: str, lang: str) -> str:
    return pick(STEPS.get(step, (step, step)), lang)


def esc(s) -> str:
    return html.escape(str(s))


# -- rendering (pure functions of engine results) -------------------------------------------------
def load_message(res: dict, lang: str, limit: int) -> str:
    rep = res["report"]
    n = len(res["docs"])
    more = pick(MSG["more"], lang).format(n=limit) if res["truncated"] else ""
    out = [f"<p>{pick(MSG['loaded'], lang).format(n=n, more=more)}</p>"
           if n else f"<p class='wb-err'>{pick(MSG['nothing'], lang)}</p>"]
    if rep["files"]:
        cols = pick(MSG["file_cols"], lang)
        rows = "".join(f"<tr><td>{esc(f['source'])}</td><td>{esc(f.get('encoding', ''))}</td>"
                       f"<td>{esc(f.get('unit') or f.get('field') or '')}</td><td>{f['docs']:,}</td></tr>"
                       for f in rep["files"][:200])
        out.append(f"<table class='wb-corpus-files'><tr>{''.join(f'<th>{c}</th>' for c in cols)}</tr>{rows}</table>")
    if rep["refused"]:
        items = "".join(f"<li><b>{esc(r['source'])}</b>: "
                        f"{esc(pick(REFUSED.get(r.get('code'), REFUSED['unreadable']), lang))}"
                        f" <small>({esc(pick(r['reason'], lang))})</small></li>" for r in rep["refused"][:100])
        out.append(f"<div class='wb-err corpus-refused'><b>{pick(MSG['refused'], lang)}</b><ul>{items}</ul></div>")
    if rep["warnings"]:
        out.append(f"<details><summary>{pick(MSG['warnings'], lang)} ({len(rep['warnings'])})</summary><ul>"
                   + "".join(f"<li>{esc(pick(w, lang))}</li>" for w in rep["warnings"][:50]) + "</ul></details>")
    return "\n".join(out)


def samples_html(docs: list[dict], query: str, matched: int, lang: str) -> str:
    q = query.strip()
    head = f"<p class='wb-msg'>{pick(MSG['matches'], lang).format(m=matched, k=len(docs))}</p>"
    cards = []
    for d in docs:
        text = d["text"] if len(d["text"]) <= 700 else d["text"][:700] + "…"
        body = esc(text)
        if q:
            body = body.replace(esc(q), f"<mark>{esc(q)}</mark>")
        cards.append(f"<div class='corpus-sample' style='border-bottom:1px solid #eee;padding:6px 0'>"
                     f"<small style='color:#888'>{esc(d['source'])} · {esc(d['id'])}</small>"
                     f"<div style='white-space:pre-wrap'>{body}</div></div>")
    return head + f"<div style='max-height:560px;overflow-y:auto'>{''.join(cards)}</div>"


def why_text(why: dict, lang: str) -> str:
    metric = why.get("metric", "")
    name = pick(METRICS.get(metric, (metric, metric)), lang)
    return f"{name} {why.get('value')} {why.get('op')} {why.get('limit')}"


def examples_html(report: dict, step: str | None, lang: str) -> str:
    ex = (report.get("examples") or {}).get(step or "", [])
    if not ex:
        return f"<p class='wb-msg'>{pick(MSG['no_examples'], lang)}</p>"
    rows = []
    if step.startswith("clean."):
        head = ["id", *(pick(EXAMPLE_COLS[k], lang) for k in ("before", "after"))]
        for e in ex:
            rows.append([e["id"], *diff_marked(e["before"], e["after"])])
    elif step.startswith("filters."):
        head = ["id", *(pick(EXAMPLE_COLS[k], lang) for k in ("removed", "why"))]
        for e in ex:
            rows.append([e["id"], e["text"], why_text(e["why"], lang)])
    elif step == "dedup.exact":
        head = ["id", *(pick(EXAMPLE_COLS[k], lang) for k in ("removed", "same_as"))]
        for e in ex:
            rows.append([e["id"], e["text"], e["same_as"]])
    else:
        head = ["id", *(pick(EXAMPLE_COLS[k], lang) for k in ("removed", "kept")), "Jaccard"]
        for e in ex:
            rows.append([e["id"], e["text"], e["kept"]["text"], e["jaccard"]])
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td style='white-space:pre-wrap;vertical-align:top'>"
                                    f"{c if isinstance(c, Marked) else esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return (f"<div style='max-height:520px;overflow-y:auto'><table class='corpus-examples-table'><tr>{th}</tr>"
            f"{body}</table></div>")


class Marked(str):
    """HTML that is already escaped."""


def diff_marked(before: str, after: str, context: int = 80, span: int = 600) -> tuple[Marked, Marked]:
    """Both texts from a little before the first change, each changed piece highlighted (spaces made visible)
    and the unchanged text between changes left plain; about `span` characters of each are shown."""
    import difflib
    import re
    # Compared word by word (words, runs of spaces, single symbols), which reads better than characters;
    # autojunk off, else difflib treats frequent tokens of a long text as junk and marks everything after
    # the first change as changed.
    tok = re.compile(r"\s+|\w+|[^\w\s]")
    ta, tb = tok.findall(before), tok.findall(after)
    oa, ob = [0], [0]
    for t in ta:
        oa.append(oa[-1] + len(t))
    for t in tb:
        ob.append(ob[-1] + len(t))
    ops = [(tag, oa[i1], oa[i2], ob[j1], ob[j2])
           for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes()]
    changed = [op for op in ops if op[0] != "equal"]
    if not changed:
        return Marked(esc(before[:span])), Marked(esc(after[:span]))
    lo_a, lo_b = max(0, changed[0][1] - context), max(0, changed[0][3] - context)

    def show(text: str, lo: int, pieces: list[tuple[bool, int, int]]) -> Marked:
        out, shown, end = ["…" if lo else ""], 0, lo
        for is_change, i, j in pieces:
            i = max(i, lo)
            if j <= i and not is_change or shown >= span:
                continue
            part = text[i:min(j, i + span - shown)]
            shown += len(part)
            end = i + len(part)
            if is_change:
                vis = part.replace(" ", "␣").replace("\n", "↵\n").replace("\t", "⇥") or "∅"
                out.append(f"<mark>{esc(vis)}</mark>")
            else:
                out.append(esc(part))
        return Marked("".join(out) + ("…" if end < len(text) else ""))

    before_pieces = [(tag != "equal", i1, i2) for tag, i1, i2, _, _ in ops]
    after_pieces = [(tag != "equal", j1, j2) for tag, _, _, j1, j2 in ops]
    return show(before, lo_a, before_pieces), show(after, lo_b, after_pieces)


def clusters_html(report: dict, lang: str) -> str:
    cl = report.get("clusters") or []
    if not cl:
        return f"<p class='wb-msg'>{pick(MSG['no_clusters'], lang)}</p>"
    out = []
    for i, c in enumerate(cl, 1):
        kept = (f"<div class='corpus-kept' style='{CARD}border:2px solid #2ca02c'><b style='color:#2ca02c'>✓ "
                f"{pick(MSG['kept'], lang)}</b> <small>{esc(c['kept']['id'])}</small><br>{esc(c['kept']['text'])}</div>")
        members = "".join(f"<div class='corpus-dup' style='{CARD}border:1px solid #bbb'><b style='color:#d62728'>✗ "
                          f"{pick(MSG['removed'], lang)}</b> <small>{esc(d['id'])} · J={d['jaccard']}</small><br>"
                          f"{esc(d['text'])}</div>" for d in c["members"])
        out.append(f"<div class='corpus-cluster' style='margin:6px 0;overflow-x:auto;white-space:nowrap'>"
                   f"<div><b>{pick(MSG['cluster'], lang).format(i=i, n=c['size'])}</b></div>{kept}{members}</div>")
    return "".join(out)


def steps_rows(report: dict, lang: str) -> list[list]:
    rows = []
    for s in report.get("steps", []):
        rows.append([step_label(s["step"], lang), *(f"{s[k]:,}" if isinstance(s.get(k), int) else ""
                                                   for k in ("removed", "changed", "left"))])
    return rows


# -- the tab ------------------------------------------------------------------------------------
def build(ctx: AppContext):
    ui = ctx.ui
    lang_box = ui.lang_box
    from workbench.corpus.stage import CorpusConfig
    limit_mb = getattr(getattr(ctx, "args", None), "max_upload_mb", None)

    ui.md(T["intro"])
    # ① sources ------------------------------------------------------------------------------
    ui.md(T["h_sources"])
    sources = gr.State(None)     # what a run will read: {"specs", "text_field", "unit", "hf"}
    preview = gr.State(None)     # the loaded documents (first PREVIEW_LIMIT) for the sample viewer
    target = gr.State(None)      # what the explorer shows: {"kind": "preview"} or {"kind": "artifact", ...}
    seed = gr.State(0)
    bundled = ui.button(T["bundled"], variant="primary", elem_id="corpus-load-bundled")
    upload = gr.File(label=ui.text(T["upload"]), file_count="multiple", file_types=ACCEPT, elem_id="corpus-upload")
    ui.reg(upload, label=T["upload"])
    # gradio's own words in the upload box follow the UI language (see LOCALE_JS)
    locale = gr.HTML(ui.lang, html_template="<span data-lang='${value}'></span>", js_on_load=LOCALE_JS,
                     elem_id="corpus-locale", padding=False, container=False)
    locale.click(lambda: gr.update(visible=False), None, [upload], queue=False, show_progress="hidden").then(
        lambda: gr.update(visible=True), None, [upload], queue=False, show_progress="hidden")
    ui.on_language(lambda lg: lg, [lang_box], [locale], queue=False, show_progress="hidden")
    if limit_mb:
        lim = tuple(s.format(mb=limit_mb) for s in MSG["upload_limit"])
        ui.md(lim, elem_classes=["wb-msg"])
    with gr.Row():
        path = ui.reg(gr.Textbox(label=ui.text(T["path"]), elem_id="corpus-path", scale=3), label=T["path"])
        text_field = ui.reg(gr.Textbox(label=ui.text(T["text_field"]), elem_id="corpus-text-field", scale=1),
                            label=T["text_field"])
        unit = ui.reg(gr.Dropdown(["auto", "document", "paragraph", "line"], value="auto", label=ui.text(T["unit"]),
                                  info=ui.text(T["unit_info"]), elem_id="corpus-unit", scale=1),
                      label=T["unit"], info=T["unit_info"])
    with gr.Accordion(ui.text(T["hf"]), open=False) as hf_acc:
        with gr.Row():
            hf_name = ui.reg(gr.Textbox(label=ui.text(T["hf_name"]), elem_id="corpus-hf-name", scale=2), label=T["hf_name"])
            hf_config = ui.reg(gr.Textbox(label=ui.text(T["hf_config"])), label=T["hf_config"])
            hf_split = ui.reg(gr.Textbox("train", label=ui.text(T["hf_split"])), label=T["hf_split"])
            hf_col = ui.reg(gr.Textbox(label=ui.text(T["hf_col"])), label=T["hf_col"])
            hf_rows = ui.reg(gr.Number(10_000, precision=0, label=ui.text(T["hf_rows"])), label=T["hf_rows"])
    ui.reg(hf_acc, label=T["hf"])
    load_btn = ui.button(T["load"], elem_id="corpus-load")
    load_msg = gr.HTML(elem_id="corpus-load-msg")

    # ② explorer -----------------------------------------------------------------------------
    ui.md(T["h_explore"])
    with gr.Row():
        art_pick = artifact_picker(ctx, "corpus", T["art"], elem_id="corpus-art-pick", scale=3)
        art_btn = ui.button(T["show_art"], elem_id="corpus-explore-art", scale=1)
    explore_title = gr.Markdown(elem_id="corpus-explore-title")
    counts = gr.HTML(elem_id="corpus-counts")
    explore_plot = gr.Plot(elem_id="corpus-explore-plot", show_label=False)
    with gr.Row():
        query = ui.reg(gr.Textbox(label=ui.text(T["query"]), elem_id="corpus-query", scale=4), label=T["query"])
        search_btn = ui.button(T["search"], elem_id="corpus-search", scale=1)
        resample_btn = ui.button(T["resample"], elem_id="corpus-resample", scale=1)
    samples = gr.HTML(elem_id="corpus-samples")

    # ③ recipe ---------------------------------------------------------------------------------
    ui.md(T["h_recipe"])
    import importlib.util
    nemo_note = MSG["nemo_yes"] if importlib.util.find_spec("nemo_curator") else MSG["nemo_no"]
    ui.md(nemo_note, elem_classes=["wb-msg"])
    form = ConfigForm(ctx, CorpusConfig, include=["clean", "filters", "dedup", "validation_fraction", "backend",
                                                  "num_proc"])
    run_btn = ui.button(T["run"], variant="primary", elem_id="corpus-run")
    run_msg = gr.Markdown(elem_id="corpus-run-msg")
    # A run of one batch logs its counts once or twice: plots.metrics_figure draws such panels as bars
    panel = JobPanel(ctx, "corpus", groups=[["docs_in", "docs_kept", "docs_out"],
                                            ["removed.filters.length", "removed.filters.hangul"],
                                            ["removed.filters.symbols", "removed.filters.repetition"],
                                            ["removed.dedup.exact", "removed.dedup.near"]])
    panel.restore([form])  # after a reload the recipe shows what the latest corpus run used

    # ④ results --------------------------------------------------------------------------------
    ui.md(T["h_results"])
    shown = gr.State("")
    result_run = gr.State(None)
    results_head = gr.Markdown(elem_id="corpus-results")
    steps_table = gr.Dataframe(headers=pick(T["steps_cols"], ui.lang), interactive=False, elem_id="corpus-steps",
                               wrap=True)
    step_pick = ui.reg(gr.Dropdown([], label=ui.text(T["step_pick"]), elem_id="corpus-step-pick"), label=T["step_pick"])
    examples = gr.HTML(elem_id="corpus-examples")
    ui.md(T["h_clusters"])
    clusters = gr.HTML(elem_id="corpus-clusters")
    ui.md(T["h_compare"])
    compare_counts = gr.HTML(elem_id="corpus-compare-counts")
    compare_plot = gr.Plot(elem_id="corpus-compare-plot", show_label=False)
    with gr.Row():
        save_name = ui.reg(gr.Textbox(label=ui.text(T["save_name"]), elem_id="corpus-save-name", scale=3),
                           label=T["save_name"])
        overwrite = ui.reg(gr.Checkbox(False, label=ui.text(T["overwrite"]), elem_id="corpus-overwrite", scale=1),
                           label=T["overwrite"])
        save_btn = ui.button(T["save"], variant="primary", elem_id="corpus-save", scale=1)
    save_msg = gr.Markdown(elem_id="corpus-save-msg")
    timer = ui.timer(2.0)

    # -- handlers ----------------------------------------------------------------------------
    explore_outputs = [explore_title, counts, explore_plot, samples]

    def show_stats(title: str, stats: dict, label: str, lang: str):
        return title, counts_html({label: stats}, lang), stats_figure({label: stats}, lang)

    def do_load(specs, tf, un, hf, lang):
        from workbench.corpus.preview import PREVIEW_LIMIT, load_preview, search_docs
        from workbench.errors import UserError
        try:
            res = load_preview(specs, text_field=tf, unit=un, hf=hf, ws=ctx.ws)
        except UserError as e:
            return (f"<p>{error_markdown(e, lang)}</p>", *[gr.skip()] * 3, *[gr.skip()] * len(explore_outputs))
        msg = load_message(res, lang, PREVIEW_LIMIT)
        for r in res["report"]["refused"]:  # keep only accepted uploads in the workspace
            for spec in specs:
                up = Path(spec)
                if up.is_file() and up.parent.parent == ctx.ws.upload_dir() and up.name == r["source"]:
                    up.unlink(missing_ok=True)
        if not res["docs"]:  # keep what was loaded before
            return (msg, *[gr.skip()] * 3, *[gr.skip()] * len(explore_outputs))
        src = {"specs": specs, "text_field": tf, "unit": un, "hf": hf.__dict__ if hf else None}
        title = pick(MSG["explore_preview"], lang).format(n=len(res["docs"]))
        shown_docs, matched = search_docs(res["docs"], "", 10, 0)
        return (msg, src, res["docs"], {"kind": "preview"},
                *show_stats(f"**{title}**", res["stats"], pick(MSG["loaded_label"], lang), lang),
                samples_html(shown_docs, "", matched, lang))

    load_outputs = [load_msg, sources, preview, target, *explore_outputs]

    def load_bundled(lang):
        return do_load(["bundled:konlpy"], "", "auto", None, lang)

    def load_selected(files, path_v, tf, un, hn, hc, hs, hcol, hrows, lang):
        from workbench.corpus.sources import HFSource
        specs = []
        if files:
            dest = ctx.ws.upload_dir() / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(2).hex()}"
            dest.mkdir(parents=True, exist_ok=True)
            for f in files:  # copied, so a run (a separate process) can read them again later
                src = Path(f if isinstance(f, str) else f.name)
                target_path = dest / src.name
                shutil.copyfile(src, target_path)
                specs.append(str(target_path))
        if (path_v or "").strip():
            specs.append(path_v.strip())
        hf = None
        if (hn or "").strip():
            hf = HFSource(hn.strip(), (hc or "").strip(), (hs or "train").strip() or "train", (hcol or "").strip(),
                          int(hrows or 10_000))
        if not specs and hf is None:
            return (f"<p class='wb-err'>{pick(MSG['need_source'], lang)}</p>",
                    *[gr.skip()] * (len(load_outputs) - 1))
        return do_load(specs, (tf or "").strip(), un or "auto", hf, lang)

    bundled.click(load_bundled, [lang_box], load_outputs)
    on_form(load_btn.click, load_selected, [upload, path, text_field, unit, hf_name, hf_config, hf_split, hf_col, hf_rows,
                                   lang_box], load_outputs)

    def explore_artifact(art_id, lang):
        from workbench.corpus.preview import corpus_overview, search_corpus
        art = ctx.store.get_artifact(int(art_id)) if art_id else None
        if art is None:
            return (pick(MSG["no_target"], lang), *[gr.skip()] * 3, gr.skip())
        ov = corpus_overview(art.path)
        sample = pick(MSG["sampled"], lang).format(n=ov["stats"]["docs"]) if ov["sampled"] else ""
        title = f"**{pick(MSG['explore_art'], lang).format(name=art.name, n=ov['docs_total'], sample=sample)}**"
        docs, matched = search_corpus(art.path, "", 10, 0)
        return (*show_stats(title, ov["stats"], art.name, lang), samples_html(docs, "", matched, lang),
                {"kind": "artifact", "path": art.path, "name": art.name})

    art_btn.click(explore_artifact, [art_pick, lang_box], [*explore_outputs, target])

    def do_search(q, tgt, docs, sd, lang):
        from workbench.corpus.preview import search_corpus, search_docs
        if not tgt:
            return f"<p class='wb-msg'>{pick(MSG['no_target'], lang)}</p>"
        if tgt["kind"] == "artifact":
            found, matched = search_corpus(tgt["path"], q or "", 20, sd)
        else:
            found, matched = search_docs(docs or [], q or "", 20, sd)
        return samples_html(found, q or "", matched, lang)

    search_btn.click(do_search, [query, target, preview, seed, lang_box], [samples])
    query.submit(do_search, [query, target, preview, seed, lang_box], [samples])
    resample_btn.click(lambda s: s + 1, [seed], [seed]).then(do_search, [query, target, preview, seed, lang_box],
                                                              [samples])

    def start(lang, src, *values):
        if not src:
            return gr.skip(), pick(MSG["need_load"], lang)
        hf = src.get("hf") or {}
        base = CorpusConfig().replace(
            inputs=src["specs"], text_field=src["text_field"], unit=src["unit"], save=False,
            **{"hf.name": hf.get("name", ""), "hf.config": hf.get("config", ""), "hf.split": hf.get("split", "train"),
               "hf.text_column": hf.get("text_column", ""), "hf.max_rows": hf.get("max_rows", 10_000)})
        return launch(ctx, "corpus", lambda: form.to_config(values, base=base), lang,
                      started=MSG["started"]).outputs()

    on_form(run_btn.click, start, [lang_box, sources, *form.components], [panel.run_id, run_msg])

    # results: rendered once a run has ended (and again when the language changes)
    result_outputs = [shown, result_run, results_head, steps_table, step_pick, examples, clusters, compare_counts,
                      compare_plot, save_name]

    def read_report(run_id: str) -> dict | None:
        path_ = ctx.ws.run_dir(run_id) / "report.json"
        return json.loads(path_.read_text(encoding="utf-8")) if path_.is_file() else None

    def render(run_id, key_seen, lang):
        run = panel.current(run_id)
        if run is None:
            return [gr.skip()] * len(result_outputs)
        key = f"{run.id}:{run.status}:{lang}"
        if key == key_seen:
            return [gr.skip()] * len(result_outputs)
        cols = pick(T["steps_cols"], lang)
        if run.status in ("queued", "running"):  # clear the previous run's results while this one works
            return [key, None, pick(MSG["running"], lang).format(run=run.id), gr.update(value=[], headers=cols),
                    gr.update(choices=[], value=None), "", "", "", None, gr.skip()]
        rep = read_report(run.id)
        if rep is None:
            err = (pick(MSG["failed"], lang).format(err=pick(run.error, lang) or run.status)
                   if run.status == "failed" else pick(MSG["stopped"], lang))
            return [key, run.id, err, gr.update(value=[], headers=cols), gr.update(choices=[], value=None), "", "", "",
                    None, gr.skip()]
        head = pick(MSG["res_head"], lang).format(run=run.id, backend=rep["backend"], din=rep["docs_in"],
                                                  dout=rep.get("docs_out", 0), sec=rep.get("seconds", 0),
                                                  dps=rep.get("docs_per_second", 0))
        sp = rep.get("splits") or {}
        if sp:
            head += " · " + pick(MSG["splits"], lang).format(train=sp.get("train", 0), val=sp.get("validation", 0))
        if rep.get("stopped"):
            head += "\n\n" + pick(MSG["stopped"], lang)
        elif rep.get("docs_out", 0) == 0:
            culprit = next((s for s in rep.get("steps", []) if s.get("left") == 0), None)
            if culprit:
                zero = pick(MSG["zero"], lang).format(step=step_label(culprit["step"], lang), n=culprit["removed"])
                head += f"\n\n**{zero}**"
        saved = [a for a in ctx.store.list_artifacts("corpus", run=run.id)]
        if saved:
            head += "\n\n" + pick(MSG["saved_as"], lang).format(name=saved[0].name)
        choices = [(step_label(s["step"], lang), s["step"]) for s in rep.get("steps", [])]
        first = next((s["step"] for s in rep.get("steps", []) if rep.get("examples", {}).get(s["step"])), None)
        st = rep.get("stats", {})
        sets = {pick(MSG["before"], lang): st["before"]}
        if "after" in st:
            sets[pick(MSG["after"], lang)] = st["after"]
        from workbench.corpus.stage import default_name
        name = saved[0].name if saved else default_name(CorpusConfig.from_dict(
            {k: v for k, v in rep["recipe"].items() if k in ("inputs",)}))
        return [key, run.id, head, gr.update(value=steps_rows(rep, lang), headers=cols),
                gr.update(choices=choices, value=first), examples_html(rep, first, lang), clusters_html(rep, lang),
                counts_html(sets, lang), stats_figure(sets, lang), name if key_seen.split(":")[0] != run.id else gr.skip()]

    timer.tick(render, [panel.run_id, shown, lang_box], result_outputs, show_progress="hidden")

    def pick_step(step, run_id, lang):
        rep = read_report(run_id) if run_id else None
        return examples_html(rep, step, lang) if rep else ""

    step_pick.change(pick_step, [step_pick, result_run, lang_box], [examples])

    def save(run_id, name, ow, lang, current_art):
        from state import ArtifactExists, NameError_
        from workbench.corpus.stage import save_run_output
        from workbench.errors import UserError
        if not run_id:
            return pick(MSG["save_none"], lang), gr.skip()
        try:
            art_id = save_run_output(ctx.ws, run_id, (name or "").strip(), overwrite=bool(ow))
        except ArtifactExists:
            return pick(MSG["exists"], lang).format(name=(name or "").strip()), gr.skip()
        except NameError_ as e:
            return pick(MSG["bad_name"], lang).format(err=pick(e.text, lang)), gr.skip()
        except UserError:
            return pick(MSG["save_none"], lang), gr.skip()
        art = ctx.store.get_artifact(art_id)
        n = sum(art.meta.get("splits", {}).values())
        return pick(MSG["save_ok"], lang).format(name=art.name, n=n), refresh_picker(ctx, art_pick, str(art_id))

    save_btn.click(save, [result_run, save_name, overwrite, lang_box, art_pick], [save_msg, art_pick])
    # on opening the tab: corpora saved meanwhile (another browser, a terminal) join the explore list
    return (lambda current: refresh_picker(ctx, art_pick, current)), [art_pick], [art_pick]
