"""Architecture tab: configure model families with one depth dial, see their costs on paper,
measure them on this machine, race them on the same data, read their core code, save one.

The tab only builds a ArchCompareConfig and calls the engine: the on-paper table and saving run
in-process (arithmetic and a few small files); measurements and the race run as jobs.
"""
from __future__ import annotations

import html
import json

import gradio as gr

from state.i18n import pick, say

from .components import NONE_CHOICE, AppContext, JobPanel, artifact_choices
from .forms import ConfigForm
from .launch import error_markdown, launch
from .packed import on_form

T = {
    "intro": ("여러 모델 계열(트랜스포머, Mamba, RWKV, MoE, MLA)을 **깊이 다이얼 하나**로 같은 크기로 맞춰 설정하고, "
              "종이 위 비용(파라미터, FLOPs, KV 캐시/상태, 학습 메모리)을 계산한 뒤, 이 컴퓨터에서 실제로 재고, "
              "같은 데이터로 경주시킵니다. 모든 모델은 transformers의 기본 클래스라 사전학습·미세조정·채팅 탭에서 그대로 "
              "쓸 수 있습니다.",
              "Configure several model families (Transformer, Mamba, RWKV, MoE, MLA) at matched size with **one depth "
              "dial**, see what each costs on paper (parameters, FLOPs, KV cache / state, training memory), measure "
              "them on this machine and race them on the same data. Every model is a stock transformers class, so "
              "the pretraining, fine-tuning and chat tabs use it as is."),
    "families": ("비교할 계열", "Families to compare"),
    "size": ("### 1. 크기 (깊이 다이얼)", "### 1. Size (the depth dial)"),
    "size_note": ("깊이(층 수)를 정하면 폭 = 64 × 깊이, 헤드 = 폭 / 64, FFN 등이 따라옵니다. '고급 설정'의 값(0 = 자동)과 "
                  "계열별 세부 설정으로 바꿀 수 있고, 잘못된 조합은 필드 이름과 함께 알려 줍니다.",
                  "Depth (layers) sets width = 64 x depth, heads = width / 64, the FFN and the rest. Override any of "
                  "them under 'Advanced settings' (0 = automatic) or per family; invalid combinations are reported "
                  "with the field to fix."),
    "overrides": ("계열별 세부 설정 (JSON)", "Per-family overrides (JSON)"),
    "inputs": ("### 2. 데이터", "### 2. Data"),
    "tokenizer": ("토크나이저 (어휘 크기)", "Tokenizer (vocabulary size)"),
    "corpus": ("말뭉치 (경주 데이터)", "Corpus (race data)"),
    "tokenizer_info": ("가장 최근 산출물이 골라져 있습니다(다시 열면 마지막 실행이 쓴 것). — = 없음: 측정은 어휘 "
                       "8,000을 가정하고, 경주는 번들 텍스트로 작은 BPE를 즉석에서 학습합니다",
                       "the newest artifact is preselected (after a reload: what the latest run used). — = none: "
                       "measurements assume a vocabulary of 8,000; the race trains a small BPE on the bundled text"),
    "corpus_info": ("가장 최근 산출물이 골라져 있습니다(다시 열면 마지막 실행이 쓴 것). — = 없음: konlpy에 들어 있는 "
                    "한국어 법률 텍스트로 경주합니다",
                    "the newest artifact is preselected (after a reload: what the latest run used). — = none: the "
                    "race runs on the Korean statute text bundled with konlpy"),
    "refresh": ("목록 새로 고침", "Refresh lists"),
    "paper": ("### 3. 종이 위 계산", "### 3. On paper"),
    "paper_ctx": ("문맥 길이 (캐시·추론 FLOPs)", "Context length (cache, inference FLOPs)"),
    "paper_batch": ("학습 배치", "Training batch"),
    "paper_seq": ("학습 시퀀스 길이", "Training sequence length"),
    "paper_dtype": ("자료형", "Dtype"),
    "paper_btn": ("종이 위 계산", "Compute on paper"),
    "paper_note": ("FLOPs는 행렬곱 2×MAC, 어텐션은 전체 문맥(QKᵀ와 AV), 학습 = 3 × 순전파로 셉니다. '모델과 일치'는 같은 "
                   "설정의 모델을 meta 장치에 실제로 만들어 센 파라미터 수와 비교한 결과입니다.",
                   "FLOPs count 2 per multiply-accumulate, attention over the full context (QKᵀ and AV), training "
                   "= 3 x forward. 'Matches model' compares with the parameters counted on the same model "
                   "instantiated on the meta device."),
    "measure": ("### 4. 측정과 경주 (작업으로 실행)", "### 4. Measure and race (run as jobs)"),
    "slow": ("**느린 대체 구현 안내.** `mamba_ssm`(CUDA 전용)이 없으면 Mamba의 선택적 스캔은 토큰마다 도는 순수 PyTorch "
             "루프로 돌아 작은 학습 한 단계에도 약 0.6초가 걸리고, 그 역전파는 토큰마다 (내부 차원 × 상태 × 길이) 텐서를 "
             "다시 만들어 길이에 대해 선형보다 훨씬 빠르게 느려집니다(이 컴퓨터에서 길이 1024는 100초 이상). 이는 "
             "아키텍처가 아니라 대체 구현의 성질입니다. RWKV도 CPU에서는 Python 루프지만 길이에 선형입니다. 그래서 이 둘은 "
             "기본적으로 길이 256까지만 잽니다('느린 대체 구현 최대 길이'). GPU + `mamba_ssm`에서는 스캔이 선형이고 "
             "훨씬 빠릅니다.",
             "**Slow fallbacks, plainly.** Without `mamba_ssm` (CUDA only) Mamba's selective scan is a pure-PyTorch "
             "loop over tokens (~0.6 s even for a tiny training step), and its backward pass rebuilds an (inner x "
             "state x length) tensor at every token, so it slows down much faster than linearly (over 100 s at "
             "length 1024 on this machine): a property of the fallback, not of the architecture. RWKV is a Python "
             "loop on CPU too, but linear in length. Both are measured only up to length 256 by default ('Longest "
             "length on a slow fallback'). On a GPU with `mamba_ssm` the scan is linear and far faster."),
    "start_measure": ("측정 시작", "Start measuring"),
    "start_race": ("경주 시작", "Start the race"),
    "results": ("### 5. 결과 비교", "### 5. Comparison"),
    "exponents": ("스케일링 지수 (로그-로그 기울기: 1 = 선형, 2 = 제곱)",
                  "Scaling exponents (log-log slopes: 1 = linear, 2 = quadratic)"),
    "race_table": ("경주 결과: 같은 토큰, 같은 시간", "Race: at equal tokens and at equal wall time"),
    "learn": ("### 6. 배우기: 핵심 블록의 실제 코드", "### 6. Learn: the real code of each core block"),
    "learn_family": ("계열", "Family"),
    "learn_btn": ("코드 보기", "Show the code"),
    "source": ("설치된 transformers의 소스", "Source from the installed transformers"),
    "save": ("### 7. 아키텍처 저장 (사전학습 탭이 학습할 모델)", "### 7. Save the architecture (what the Pretrain tab trains)"),
    "save_family": ("저장할 계열", "Family to save"),
    "save_name": ("이름", "Name"),
    "overwrite": ("같은 이름 덮어쓰기", "Overwrite an existing one"),
    "save_btn": ("아키텍처 저장", "Save architecture"),
    "match_yes": ("✓ 일치", "✓ equal"),
    "match_no": ("✗ 다름", "✗ differs"),
    "constant": ("일정", "constant"),
    "paper_head": ("어휘 크기 {vocab:,} ({where}) · 문맥 {context:,} · 배치 {batch} × 길이 {seq} · {dtype}",
                   "vocabulary {vocab:,} ({where}) · context {context:,} · batch {batch} x length {seq} · {dtype}"),
    "vocab_default": ("토크나이저를 고르지 않아 가정한 값", "assumed: no tokenizer chosen"),
    "vocab_tokenizer": ("토크나이저 '{name}'", "tokenizer '{name}'"),
    "slow_fallback": ("느린 대체 구현", "slow fallback"),
    "equal_time": ("- 같은 시간 기준: 가장 빨리 끝난 계열의 학습 시간 {budget:.1f}초 안에 각 계열이 마지막으로 잰 검증 "
                   "손실 (같은 검증 텍스트).",
                   "- Equal wall time: each family's held-out loss at its last evaluation within the training time of "
                   "the fastest-finishing family ({budget:.1f} s), on the same held-out text."),
    "exp_few": ("{what} '–': 길이 {n}개만 재서 지수를 맞추지 않았습니다 (시간은 잡음이 있어 3개 이상 필요)",
                "{what} '–': only {n} lengths measured, and a timing exponent needs at least 3 (two noisy timings "
                "give any slope)"),
    "exp_uneven": ("{what}: 구간별 기울기가 {lo:.2f}~{hi:.2f}로 달라 지수 하나로 설명되지 않습니다 (짧은 길이는 고정 "
                   "비용이 지배하고, 바쁜 CPU는 잡음을 더합니다)",
                   "{what}: local slopes range from {lo:.2f} to {hi:.2f}, so one exponent does not describe it (fixed "
                   "costs dominate short lengths; a busy CPU adds noise)"),
    "no_equal_time": ("{label}의 '@같은 시간' '–': 가장 빨리 끝난 계열의 학습 시간 {budget:.1f}초 안에 끝난 검증이 "
                      "없습니다 (첫 검증은 {first:.1f}초: {steps}단계 중 {every}단계마다와 끝에서 잽니다). "
                      "race.eval_every를 줄이면 더 자주 잽니다.",
                      "{label} '@equal time' '–': no held-out evaluation finished within the fastest family's "
                      "training time of {budget:.1f} s (its first came at {first:.1f} s: it is evaluated every "
                      "{every} of its {steps} steps and at the end); a lower race.eval_every evaluates more often."),
    "tag_measure": ("측정", "Measurement"),
    "tag_race": ("경주", "Race"),
    "no_value": ("{label}: '–' = 값이 없습니다 (첫 단계 전에 멈췄습니다)",
                 "{label}: '–' = no value (it stopped before its first step)"),
    "saved": ("저장했습니다: **{name}** ({family}, 파라미터 {params}, 어휘 {vocab:,}) → `{path}`. 사전학습 탭에서 고를 수 "
              "있습니다.",
              "Saved **{name}** ({family}, {params} parameters, vocabulary {vocab:,}) → `{path}`. Pick it in the "
              "Pretrain tab."),
}

CACHE_KIND = {"SSM state": ("SSM 상태 (일정)", "SSM state (constant)"),
              "RWKV state": ("RWKV 상태 (일정)", "RWKV state (constant)")}
PAPER_HEADERS = (  # (ko, en) column headers
    ["계열", "층 × 폭", "파라미터", "임베딩", "비임베딩", "토큰당 활성", "모델과 일치", "학습 FLOPs/토큰",
     "추론 FLOPs/토큰", "캐시 방식", "캐시/토큰", "캐시 @문맥", "학습 메모리"],
    ["family", "layers x width", "params", "embedding", "non-embedding", "active per token", "matches model",
     "train FLOPs/token", "inference FLOPs/token", "cache", "cache/token", "cache @context", "train memory"],
)
EXP_HEADERS = (
    ["계열", "단계 시간", "단계 시간 (긴 구간)", "최대 메모리", "토큰당 생성 시간", "캐시 크기", "잰 길이", "참고"],
    ["family", "step time", "step time (longest pair)", "peak memory", "decode time/token", "cache size",
     "lengths", "note"],
)
RACE_HEADERS = (
    ["계열", "파라미터 (활성)", "학습 토큰", "시간 (초)", "토큰/초", "학습 손실 (마지막 단계들)",
     "검증 손실 @같은 토큰", "검증 손실 @같은 시간", "그때까지 토큰"],
    ["family", "params (active)", "tokens", "seconds", "tokens/s", "train loss (last steps)",
     "held-out @equal tokens", "held-out @equal time", "tokens by then"],
)


def _picker_choices(ctx: AppContext, kind: str, lang: str) -> list[tuple[str, str]]:
    # the app's own "nothing chosen" choice (both languages in one label: choices are not re-rendered on a switch)
    return [NONE_CHOICE] + artifact_choices(ctx.store, kind)


def _newest(ctx: AppContext, kind: str) -> str:
    """The id of the newest artifact of a kind, or "" (none) when there is none."""
    arts = ctx.store.list_artifacts(kind)
    return str(arts[0].id) if arts else ""


def picker_start(ctx: AppContext, kind: str, run) -> tuple[str, bool]:
    """(value, pinned) of an artifact picker when a page loads: what the stage's latest run used when that
    artifact still exists (or "" when that run chose none while one existed), else the newest artifact."""
    store = ctx.store
    if run is not None:
        ref = str((run.config or {}).get(kind) or "")
        arts = store.list_artifacts(kind)
        if ref:
            by_id = {str(a.id) for a in arts}
            art = None if ref in by_id else store.get_artifact(kind=kind, name=ref)  # a CLI run names it
            if ref in by_id or art is not None:
                return (ref if ref in by_id else str(art.id)), True
        elif any(a.created <= run.created for a in arts):
            return "", True  # none was a choice: an artifact of this kind existed when the run started
    return _newest(ctx, kind), False


def form_updates(form: ConfigForm, values, prefix: str = "") -> dict:
    """Widget values -> {dotted field: value} (floats from number boxes back to ints where the field is int)."""
    out = {}
    for fi, v in zip(form.infos, values):
        if isinstance(v, float) and fi.type is int and v.is_integer():
            v = int(v)
        out[prefix + fi.path] = v
    return out


def _fmt(n, unit: str = "") -> str:
    from workbench.arch.paper import human
    return human(n, unit)


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and (x != x or x in (float("inf"), float("-inf"))))


def num(x, spec: str = "{:.3f}") -> str:
    """A number for a table cell; '–' for a missing one (None, nan, inf): never a raw 'nan'."""
    return "–" if _missing(x) else spec.format(x)


def exponent_cell(fit: dict) -> str:
    """A fitted exponent; with the range of local slopes when they disagree; '–' when not fitted."""
    from workbench.arch.measure import UNEVEN_SPREAD

    if _missing(fit.get("all")):
        return "–"
    r = lambda x: round(x, 2) + 0.0  # noqa: E731 - no "-0.00"
    if (fit.get("spread") or 0) > UNEVEN_SPREAD:
        return f"{r(fit['all']):.2f} ({r(min(fit['local'])):.2f}…{r(max(fit['local'])):.2f})"
    return f"{r(fit['all']):.2f}"


def exponent_rows(m: dict, slow: dict, lang: str) -> list[list[str]]:
    """Rows of the exponents table from split metrics ({kind: {family: [(x, y)]}})."""
    from workbench.arch.families import FAMILIES
    from workbench.arch.measure import MIN_POINTS, UNEVEN_SPREAD, fit_exponent

    heads = pick(EXP_HEADERS, lang)
    out = []
    for fam in m.get("step_s", {}) or m.get("decode_tok_s", {}):
        st = m.get("step_s", {}).get(fam, [])
        series = {  # column -> (points, how many points its exponent needs)
            1: (st, MIN_POINTS["step_s"]),
            3: (m.get("peak_mib", {}).get(fam, []), MIN_POINTS["peak_mib"]),
            4: ([(x, 1 / y) for x, y in m.get("decode_tok_s", {}).get(fam, []) if not _missing(y) and y > 0],
                MIN_POINTS["decode_tok_s"]),
            5: (m.get("cache_kib", {}).get(fam, []), MIN_POINTS["cache_kib"]),
        }
        fits = {col: fit_exponent([p[0] for p in pts], [p[1] for p in pts], need)
                for col, (pts, need) in series.items()}
        notes = [slow[fam]] if fam in slow else []
        for col, fit in fits.items():
            pts, need = series[col]
            if fit["all"] is None and 0 < fit["n"] < need:
                notes.append(pick(T["exp_few"], lang).format(what=heads[col], n=fit["n"]))
            elif (fit.get("spread") or 0) > UNEVEN_SPREAD and col in (1, 4):
                notes.append(pick(T["exp_uneven"], lang).format(what=heads[col], lo=min(fit["local"]),
                                                                 hi=max(fit["local"])))
        step = fits[1]
        # the longest pair alone is two noisy timings: shown only next to a fit over enough lengths
        tail = num(step["tail"], "{:.2f}") if step["all"] is not None else "–"
        out.append([FAMILIES.get(fam, (fam,))[0], exponent_cell(step), tail, exponent_cell(fits[3]),
                    exponent_cell(fits[4]), exponent_cell(fits[5]), ", ".join(str(int(p[0])) for p in st),
                    " · ".join(notes)])
    return out


def race_rows(results: list[dict], lang: str, eval_every: int | None = None) -> tuple[list[list[str]], list[str]]:
    """Rows of the race table and, for every '–' in it, a line saying why."""
    from workbench.arch.race import table

    tab = table(results) if results else {"rows": [], "equal_time_budget_s": 0.0}
    by_fam = {r["family"]: r for r in results}
    rows, why = [], []
    for r in tab["rows"]:
        active = f" ({_fmt(r['active_params'])})" if r["active_params"] != r["params"] else ""
        lost = _missing(r["loss_equal_time"])
        rows.append([r["label"], _fmt(r["params"]) + active, f"{r['tokens']:,}", num(r["seconds"], "{:.1f}"),
                     num(r["tokens_per_s"] or None, "{:,.0f}"), num(r["loss_equal_tokens"]),
                     num(r["held_out_loss"]), num(r["loss_equal_time"]),
                     "–" if lost else f"{r['tokens_by_equal_time']:,}"])
        evals = by_fam.get(r["family"], {}).get("evals") or []
        if not r["tokens"] or not evals:
            why.append(pick(T["no_value"], lang).format(label=r["label"]))
        elif lost:
            why.append(pick(T["no_equal_time"], lang).format(label=r["label"], budget=tab["equal_time_budget_s"],
                                                             first=evals[0]["seconds"],
                                                             every=eval_every or by_fam[r["family"]]["steps"],
                                                             steps=by_fam[r["family"]]["steps"]))
    return rows, why


def build(ctx: AppContext):
    ui = ctx.ui
    from workbench.arch.families import FAMILIES
    from workbench.arch.stage import ArchCompareConfig

    defaults = ArchCompareConfig()
    ui.md(T["intro"])
    families = ui.reg(gr.CheckboxGroup(choices=[(v[0], k) for k, v in FAMILIES.items()], value=defaults.families,
                                       label=ui.text(T["families"]), elem_id="arch-families"), label=T["families"])

    # 1. size
    ui.md(T["size"])
    ui.md(T["size_note"], elem_classes=["wb-msg"])
    with gr.Group(elem_id="arch-size"):  # the model section of the stage config (model.depth, ...), one grid
        arch_form = ConfigForm(ctx, ArchCompareConfig, include=["model"], exclude=["model.family"], columns=4,
                               flatten_sections=True)
    overrides = ui.reg(gr.Code(value="{}", language="json", label=ui.text(T["overrides"]), max_lines=8,
                               elem_id="arch-overrides"), label=T["overrides"])

    # 2. data
    ui.md(T["inputs"])
    with gr.Row():  # the newest artifact of each kind is preselected; "—" (none) stays a choice
        tok_dd = ui.reg(gr.Dropdown(choices=_picker_choices(ctx, "tokenizer", ui.lang), value=_newest(ctx, "tokenizer"),
                                    label=ui.text(T["tokenizer"]), info=ui.text(T["tokenizer_info"]),
                                    elem_id="arch-tokenizer"), label=T["tokenizer"], info=T["tokenizer_info"])
        corpus_dd = ui.reg(gr.Dropdown(choices=_picker_choices(ctx, "corpus", ui.lang), value=_newest(ctx, "corpus"),
                                       label=ui.text(T["corpus"]), info=ui.text(T["corpus_info"]),
                                       elem_id="arch-corpus"), label=T["corpus"], info=T["corpus_info"])
        refresh = ui.button(T["refresh"], size="sm", scale=0)
    tok_dd.kind, corpus_dd.kind = "tokenizer", "corpus"
    # which pickers hold a choice to keep (the person picked it, or the latest run used it); the others follow
    # the newest artifact when the lists are refreshed
    pinned = gr.State({})

    # 3. on paper
    ui.md(T["paper"])
    with gr.Row():
        p_ctx = ui.reg(gr.Number(value=4096, precision=0, label=ui.text(T["paper_ctx"]), elem_id="arch-paper-ctx"),
                       label=T["paper_ctx"])
        p_batch = ui.reg(gr.Number(value=8, precision=0, label=ui.text(T["paper_batch"])), label=T["paper_batch"])
        p_seq = ui.reg(gr.Number(value=512, precision=0, label=ui.text(T["paper_seq"])), label=T["paper_seq"])
        p_dtype = ui.reg(gr.Dropdown(["float32", "bfloat16"], value="float32", label=ui.text(T["paper_dtype"])),
                         label=T["paper_dtype"])
    paper_btn = ui.button(T["paper_btn"], variant="secondary", elem_id="arch-paper-btn")
    paper_msg = gr.Markdown(elem_id="arch-paper-msg")
    paper_table = gr.Dataframe(headers=pick(PAPER_HEADERS, ui.lang), interactive=False, wrap=True,
                               elem_id="arch-paper-table")
    with gr.Row():
        cache_plot = gr.Plot(elem_id="arch-cache-plot", show_label=False)
        mem_plot = gr.Plot(elem_id="arch-memory-plot", show_label=False)
    ui.md(T["paper_note"], elem_classes=["wb-msg"])

    # 4. jobs
    ui.md(T["measure"])
    ui.md(T["slow"], elem_id="arch-slow-note")
    with gr.Group(elem_id="arch-measure-form"):
        measure_form = ConfigForm(ctx, ArchCompareConfig, include=["measure"], columns=4)
    with gr.Group(elem_id="arch-race-form"):
        race_form = ConfigForm(ctx, ArchCompareConfig, include=["race"], columns=3)
    run_form = ConfigForm(ctx, ArchCompareConfig, include=["device", "dtype", "threads", "seed"], columns=4)
    with gr.Row():
        measure_btn = ui.button(T["start_measure"], variant="primary", elem_id="arch-measure-btn")
        race_btn = ui.button(T["start_race"], variant="primary", elem_id="arch-race-btn")
    job_msg = gr.Markdown(elem_id="arch-job-msg")
    panel = JobPanel(ctx, "arch", groups=[[f"loss/{f}" for f in FAMILIES], [f"step_s/{f}" for f in FAMILIES]])

    # 5. results
    ui.md(T["results"])
    measure_plot = gr.Plot(elem_id="arch-measure-plot", show_label=False)
    ui.reg(gr.Markdown(f"**{ui.text(T['exponents'])}**"),
           value=tuple(f"**{s}**" for s in T["exponents"]))
    exp_table = gr.Dataframe(headers=pick(EXP_HEADERS, ui.lang), interactive=False, wrap=True, elem_id="arch-exp-table")
    race_plot = gr.Plot(elem_id="arch-race-plot", show_label=False)
    ui.reg(gr.Markdown(f"**{ui.text(T['race_table'])}**"),
           value=tuple(f"**{s}**" for s in T["race_table"]))
    race_table = gr.Dataframe(headers=pick(RACE_HEADERS, ui.lang), interactive=False, wrap=True,
                              elem_id="arch-race-table")
    notes = gr.Markdown(elem_id="arch-notes")
    seen = gr.State("")
    timer = ui.timer(2.5)

    # 6. learn
    ui.md(T["learn"])
    with gr.Row():
        learn_fam = ui.reg(gr.Dropdown(choices=[(v[0], k) for k, v in FAMILIES.items()], value="mamba",
                                       label=ui.text(T["learn_family"]), elem_id="arch-learn-family", scale=2),
                           label=T["learn_family"])
        learn_btn = ui.button(T["learn_btn"], size="sm", scale=0, elem_id="arch-learn-btn")
    learn_md = gr.Markdown(elem_id="arch-learn-text")
    learn_code = ui.reg(gr.Code(language="python", label=ui.text(T["source"]), max_lines=40, interactive=False,
                                elem_id="arch-learn-code"), label=T["source"])

    # 7. save
    ui.md(T["save"])
    with gr.Row():
        save_fam = ui.reg(gr.Dropdown(choices=[(v[0], k) for k, v in FAMILIES.items()], value="llama",
                                      label=ui.text(T["save_family"]), elem_id="arch-save-family"),
                          label=T["save_family"])
        save_name = ui.reg(gr.Textbox(value="", label=ui.text(T["save_name"]), placeholder="llama-d4",
                                      elem_id="arch-save-name"), label=T["save_name"])
        overwrite = ui.reg(gr.Checkbox(value=False, label=ui.text(T["overwrite"])), label=T["overwrite"])
        save_btn = ui.button(T["save_btn"], variant="primary", elem_id="arch-save-btn", scale=0)
    save_msg = gr.Markdown(elem_id="arch-save-msg")

    # -- building the config ------------------------------------------------------------
    n_arch, n_meas, n_race = len(arch_form.components), len(measure_form.components), len(race_form.components)
    config_inputs = [families, overrides, tok_dd, corpus_dd, *arch_form.components, *measure_form.components,
                     *race_form.components, *run_form.components]

    def make_cfg(task: str, fams, overrides_text, tok, corpus, *values, **extra) -> ArchCompareConfig:
        from workbench.config import ConfigError

        v = list(values)
        arch_v, v = v[:n_arch], v[n_arch:]
        meas_v, v = v[:n_meas], v[n_meas:]
        race_v, run_v = v[:n_race], v[n_race:]
        updates = form_updates(arch_form, arch_v)
        updates.update(form_updates(measure_form, meas_v))
        updates.update(form_updates(race_form, race_v))
        updates.update(form_updates(run_form, run_v))
        try:
            ov = json.loads(overrides_text or "{}")
        except json.JSONDecodeError as e:
            raise ConfigError([("overrides", say('not valid JSON ({msg} at line {line}): write e.g. '
                                                 '{{"mamba": {{"depth": 2}}}}',
                                                 'JSON 형식이 아닙니다 ({line}번째 줄: {msg}). 예: '
                                                 '{{"mamba": {{"depth": 2}}}}', msg=e.msg, line=e.lineno))]) from None
        cfg = ArchCompareConfig(task=task, families=list(fams or []), overrides=ov, tokenizer=tok or "", corpus=corpus or "")
        return cfg.replace(**updates, **extra).validate()

    # -- handlers ---------------------------------------------------------------------------
    def paper_cfg(lang, ctx_len, batch, seq, cfg_values) -> ArchCompareConfig:
        from workbench.config import ConfigError

        cfg = make_cfg("measure", *cfg_values)
        for name, val in (("paper_ctx", ctx_len), ("paper_batch", batch), ("paper_seq", seq)):
            if val is None or int(val) < 1:
                raise ConfigError([(pick(T[name], lang), say("use a whole number of at least 1",
                                                             "1 이상의 정수를 쓰세요"))])
        return cfg

    def check_paper(lang, ctx_len, batch, seq, dtype, *cfg_values):
        """A wrong setting is named at once: the computation waits in its lane behind earlier ones (the first
        imports torch, 20-40 s on a slow machine), and the person would wait that long to learn of a typo."""
        from workbench.config import ConfigError
        try:
            paper_cfg(lang, ctx_len, batch, seq, cfg_values)
        except ConfigError as e:
            return error_markdown(e, lang)
        return gr.skip()

    def on_paper(lang, ctx_len, batch, seq, dtype, *cfg_values):
        from workbench.config import ConfigError
        from workbench.errors import UserError

        from .arch_plots import cache_figure, memory_figure
        try:
            cfg = paper_cfg(lang, ctx_len, batch, seq, cfg_values)
            from workbench.arch.report import paper_table as compute
            res = compute(cfg, ctx.ws, context=int(ctx_len), batch=int(batch), seq=int(seq), dtype=dtype)
        except (ConfigError, UserError) as e:
            return error_markdown(e, lang), gr.skip(), gr.skip(), gr.skip()
        rows = []
        yes, no = pick(T["match_yes"], lang), pick(T["match_no"], lang)
        for r in res["rows"]:
            p, c, mem = r["params"], r["cache"], r["train_memory"]
            rows.append([r["label"], f"{r['depth']} × {r['dims']['width']}", _fmt(p["total"]), _fmt(p["embedding"]),
                         _fmt(p["non_embedding"]), _fmt(p["active"]), yes if r["match"] else no,
                         _fmt(r["flops_train"]), _fmt(r["flops_infer"]),
                         pick(CACHE_KIND.get(c["kind"], c["kind"]), lang),
                         _fmt(c["per_token"], "B") if c["per_token"] else pick(T["constant"], lang),
                         _fmt(c["at_context"], "B"), _fmt(mem["total"], "B")])
        import pandas as pd
        df = pd.DataFrame(rows, columns=pick(PAPER_HEADERS, lang))
        src = res["vocab_source"]
        where = {"tokenizer": pick(T["vocab_tokenizer"], lang).format(name=src.get("name")),
                 "model.vocab_size": "model.vocab_size",
                 "default": pick(T["vocab_default"], lang)}[src["from"]]
        head = pick(T["paper_head"], lang).format(vocab=res["vocab_size"], where=where, context=res["context"],
                                                  batch=res["batch"], seq=res["seq"], dtype=res["dtype"])
        return head, df, cache_figure(res["cache_curves"], res["context"], lang), memory_figure(res["rows"], lang)

    paper_inputs = [ui.lang_box, p_ctx, p_batch, p_seq, p_dtype, *config_inputs]
    paper_outputs = [paper_msg, paper_table, cache_plot, mem_plot]
    # one at a time, in order: a slow first call (torch import) must not overwrite a later answer
    one_lane = dict(concurrency_limit=1, concurrency_id="arch-paper")
    checked = on_form(paper_btn.click, check_paper, paper_inputs, [paper_msg], queue=False, show_progress="hidden")
    on_form(checked.then, on_paper, paper_inputs, paper_outputs, **one_lane)
    # .input: a person's clicks; restoring the latest run's families on a page load must not start a computation
    families.input(on_paper, paper_inputs, paper_outputs, trigger_mode="always_last", **one_lane)
    ui.on_language(on_paper, paper_inputs, paper_outputs, **one_lane)

    def submit(task):
        def go(lang, *cfg_values):
            return launch(ctx, "arch", lambda: make_cfg(task, *cfg_values), lang).outputs()
        return go

    on_form(measure_btn.click, submit("measure"), [ui.lang_box, *config_inputs], [panel.run_id, job_msg])
    on_form(race_btn.click, submit("race"), [ui.lang_box, *config_inputs], [panel.run_id, job_msg])

    def refresh_lists(lang, tok, corpus, pins):
        """New choices; a pinned value is kept while it exists, the others move to the newest artifact."""
        out = []
        for kind, cur in (("tokenizer", tok), ("corpus", corpus)):
            ch = _picker_choices(ctx, kind, lang)
            keep = (pins or {}).get(kind) and (cur or "") in {c[1] for c in ch}
            out.append(gr.update(choices=ch, value=(cur or "") if keep else _newest(ctx, kind)))
        return tuple(out)

    picker_io = ([ui.lang_box, tok_dd, corpus_dd, pinned], [tok_dd, corpus_dd])
    refresh.click(refresh_lists, *picker_io)
    for kind, dd in (("tokenizer", tok_dd), ("corpus", corpus_dd)):  # the person's own pick is kept
        dd.input(lambda pins, kind=kind: {**(pins or {}), kind: True}, [pinned], [pinned], queue=False,
                 show_progress="hidden")

    # -- after a page load (a reload, another browser): the forms and pickers show the latest arch run's config
    class _Widgets:  # restore's form interface for widgets the ConfigForms do not hold
        def __init__(self, components, values_of):
            self.components, self.values_of = components, values_of

    panel.restore([arch_form, measure_form, race_form, run_form,
                   _Widgets([families, overrides], lambda cfg: [list(cfg.families),
                                                                json.dumps(cfg.overrides or {}, ensure_ascii=False)])])

    def load_pickers(lang):
        run = panel.latest()
        out, pins = [], {}
        for kind in ("tokenizer", "corpus"):
            value, pins[kind] = picker_start(ctx, kind, run)
            out.append(gr.update(choices=_picker_choices(ctx, kind, lang), value=value))
        return (*out, pins)

    ctx.on_page_load(load_pickers, [ui.lang_box], [tok_dd, corpus_dd, pinned])

    def latest_with(run_id, prefix: str):
        """The session's run if it has `prefix` metrics, else the newest arch run that has them."""
        store = ctx.store
        cands = []
        if run_id:
            r = store.get_run(run_id)
            if r is not None:
                cands.append(r)
        cands += store.list_runs(stage="arch", limit=20)
        for r in cands:
            if r.status == "queued":
                continue
            if any(k.startswith(prefix) for k in store.last_metrics(r.id)):
                return r
        return None

    def on_tick(run_id, lang, seen_key):
        from .arch_plots import measure_figure, race_figure
        store = ctx.store
        mrun = latest_with(run_id, "step_s/") or latest_with(run_id, "decode_tok_s/")
        rrun = latest_with(run_id, "loss/")
        key = "|".join(f"{r.id}:{store.metric_count(r.id)}:{r.status}" if r else "-" for r in (mrun, rrun)) + lang
        if key == seen_key:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), seen_key
        m_rows = store.metrics(mrun.id) if mrun else []
        r_rows = store.metrics(rrun.id) if rrun else []
        return (measure_figure(m_rows, lang), exponents_df(mrun, m_rows, lang), race_figure(r_rows, lang),
                race_df(rrun, lang), notes_md(mrun, rrun, lang), key)

    def exponents_df(run, rows, lang):
        import pandas as pd

        from .arch_plots import split_metrics
        slow = {}
        if run is not None:
            for ev in store_events(run.id):
                res = ev["payload"].get("result", {})
                if ev["payload"].get("kind") == "measure" and res.get("slow_path"):
                    slow[res["family"]] = "⚠ " + pick(T["slow_fallback"], lang)
        return pd.DataFrame(exponent_rows(split_metrics(rows), slow, lang), columns=pick(EXP_HEADERS, lang))

    def store_events(run_id):
        return ctx.store.events(run_id, kind="arch_result", limit=200)

    def race_results(run):
        return [ev["payload"]["result"] for ev in store_events(run.id) if ev["payload"].get("kind") == "race"]

    def race_df(run, lang):
        import pandas as pd

        if run is None:
            return pd.DataFrame([], columns=pick(RACE_HEADERS, lang))
        rows, _ = race_rows(race_results(run), lang, (run.config.get("race") or {}).get("eval_every"))
        return pd.DataFrame(rows, columns=pick(RACE_HEADERS, lang))

    def notes_md(mrun, rrun, lang):
        lines = []
        for run in {r.id: r for r in (mrun, rrun) if r is not None}.values():  # what each run used, once
            shown = {"measure"} if mrun is not None and run.id == mrun.id else set()
            if rrun is not None and run.id == rrun.id:
                shown.add("race")
            for ev in ctx.store.events(run.id, kind="arch_note", limit=10):
                task = ev["payload"].get("task", "race")
                if task in shown:
                    tag = pick(T[f"tag_{task}"], lang)
                    lines += [f"- **{tag}**: {html.escape(pick(n, lang))}" for n in ev["payload"].get("notes", [])]
        if mrun is not None:
            for ev in store_events(mrun.id):
                res = ev["payload"].get("result", {})
                if ev["payload"].get("kind") == "measure" and res.get("slow_path"):
                    lines.append(f"- **{res['label']}**: {pick(res['slow_path'], lang)}")
        if rrun is not None:
            if rrun.summary and rrun.summary.get("race"):
                budget = rrun.summary["race"]["table"]["equal_time_budget_s"]
                lines.append(pick(T["equal_time"], lang).format(budget=budget))
            _, why = race_rows(race_results(rrun), lang, (rrun.config.get("race") or {}).get("eval_every"))
            lines += [f"- {html.escape(w)}" for w in why]
        return "\n".join(lines)

    timer.tick(on_tick, [panel.run_id, ui.lang_box, seen], [measure_plot, exp_table, race_plot, race_table, notes,
                                                            seen], show_progress="hidden")

    def on_learn(fam, device, lang):
        """Text read from the installed transformers' file, no import (see workbench/arch/learn.py)."""
        from workbench.arch.learn import EXPLAIN, core_source_text
        from workbench.arch.measure import pick_device, slow_path
        from workbench.errors import UserError
        text = pick(EXPLAIN[fam], lang)
        try:  # where a measurement would run, as the form says (no torch import on a CPU-only install)
            where = pick_device(device or "auto")
        except UserError:
            where = "cpu"
        note = slow_path(fam, where)
        if note:
            text += "\n\n⚠ " + pick(note, lang)
        return text, core_source_text(fam)

    learn_inputs = [learn_fam, run_form.widgets["device"], ui.lang_box]
    # queue=False: a few file reads now (no import), answered directly rather than after a trip through the queue
    learn_btn.click(on_learn, learn_inputs, [learn_md, learn_code], queue=False)
    learn_fam.change(on_learn, learn_inputs, [learn_md, learn_code], queue=False)

    def on_save(lang, fam, name, over, *cfg_values):
        from workbench.config import ConfigError
        from workbench.errors import UserError
        try:
            cfg = make_cfg("save", *cfg_values, name=name or "", overwrite=bool(over), **{"model.family": fam})
            from workbench.arch.save import save_architecture
            res = save_architecture(ctx.ws, cfg.arch_for(fam), cfg.tokenizer, cfg.name, overwrite=cfg.overwrite)
        except (ConfigError, UserError) as e:
            return error_markdown(e, lang)
        return pick(T["saved"], lang).format(name=res["name"], family=FAMILIES[fam][0], params=_fmt(res["params"]),
                                             vocab=res["vocab_size"], path=res["path"])

    on_form(save_btn.click, on_save, [ui.lang_box, save_fam, save_name, overwrite, *config_inputs], [save_msg])
    return (refresh_lists, *picker_io)  # on opening the tab
