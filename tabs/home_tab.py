"""Home tab: the machine this runs on and what of the stack is usable here (the same report as
`python -m workbench env`), a "Run a model" check, and the lifecycle of this workspace at a glance.

UI only: the engine is workbench/home/ (env.py, run_model.py, overview.py). Nothing heavy is imported when the tab
is built; the environment is checked when the page loads or the tab is opened, its import checks in child processes
in the background (the table fills in as they finish)."""
from __future__ import annotations

import html
import json

import gradio as gr

from state.i18n import pick

from .components import AppContext, fmt_time

T = {
    "intro": ("이 워크벤치에서는 한국어 언어 모델을 단계별로 직접 만듭니다: 말뭉치 → 토크나이저 → 아키텍처 → 사전학습 → "
              "미세조정 → 평가 → 최적화 → 정렬 → 채팅. 이 페이지는 지금 쓰는 컴퓨터에서 무엇이 돌아가는지, 그리고 이 "
              "작업 공간이 어디까지 왔는지와 다음에 할 일을 보여 줍니다.",
              "Build a Korean language model by hand, one stage at a time: corpus → tokenizer → architecture → "
              "pretrain → fine-tune → evaluate → optimize → align → chat. This page shows what runs on this machine, "
              "how far this workspace has come, and what to do next."),
    "next_h": ("### 다음 할 일", "### What next"),
    "overview_h": ("### 단계별 현황", "### The lifecycle at a glance"),
    "env_h": ("### 환경", "### The environment"),
    "env_cli": ("터미널에서 같은 점검: `python -m workbench env` (마지막 줄이 아래 JSON과 같은 내용입니다). 선택 패키지는 "
                "설치된 것만 별도 프로세스에서 가져오기(import)를 시험합니다.",
                "The same check from a terminal: `python -m workbench env` (its last line holds the JSON below). An "
                "optional package is import-tested, in a child process, only when it is installed."),
    "check_again": ("다시 점검", "Check again"),
    "json": ("JSON (python -m workbench env 가 출력하는 env 항목)", "JSON (the env field python -m workbench env prints)"),
    "run_h": ("### 모델 실행해 보기", "### Run a model"),
    "run_intro": ("첫 실습: `transformers` 의 텍스트 생성 파이프라인으로 이 작업 공간의 가장 최근 인과 언어 모델을 돌려 "
                  "봅니다. 모델이 아직 없으면 여기서 작은 무작위 모델을 만들어 돌립니다 (출력은 잡음이지만 스택이 돌아가는지 "
                  "확인됩니다). 터미널에서는 `python -m workbench env --set run_model=true`.",
                  "The first exercise: run the workspace's newest causal language model with a `transformers` "
                  "text-generation pipeline. Without a model yet, a tiny random one is built here (its text is noise, "
                  "but it proves the stack runs). From a terminal: `python -m workbench env --set run_model=true`."),
    "prompt": ("프롬프트", "Prompt"),
    "tokens": ("최대 생성 토큰", "Max new tokens"),
    "run": ("모델 실행", "Run a model"),
    # tables
    "package": ("패키지", "package"), "version": ("버전", "version"), "installed": ("설치", "installed"),
    "usable": ("여기서 사용", "usable here"), "why": ("안 되는 이유", "why not"),
    "enables": ("이 앱에서 가능해지는 것", "what it enables in this app"), "get": ("설치 방법", "how to get it"),
    "core_h": ("핵심 스택", "Core stack"), "optional_h": ("선택 패키지", "Optional packages"),
    "yes": ("예", "yes"), "no": ("아니오", "no"), "checking": ("확인 중…", "checking…"),
    "machine": ("컴퓨터", "Machine"), "gpus": ("GPU", "GPUs"), "gpu_none": ("CUDA GPU 없음", "no CUDA GPU"),
    "gpu_row": ("{name}: 메모리 {mem} GB, 연산 능력 {cc}, bf16 {bf}", "{name}: {mem} GB, compute capability {cc}, bf16 {bf}"),
    "machine_row": ("CPU {cores}코어 ({model}), 메모리 {mem} GB (사용 가능 {avail} GB), Python {py}, {plat}",
                    "{cores} CPU cores ({model}), {mem} GB memory ({avail} GB free), Python {py}, {plat}"),
    "stage": ("단계", "stage"), "does": ("하는 일", "what it does"), "made": ("산출물", "produced"),
    "runs": ("실행", "runs"), "latest": ("최근 결과", "latest result"), "nothing": ("아직 없음", "nothing yet"),
    "models_ready": ("대화할 수 있는 모델 {n}개", "{n} model(s) to chat with"),
    "chain_made": ("마지막 실행: 단계 {n}개 중 {ok}개 완료 (산출물은 각 단계 줄에)",
                   "last run: {ok} of {n} steps succeeded (their artifacts are in the stages' rows)"),
    "chain_last": ("마지막 산출물: {name}", "ends in: {name}"),
    "run_status": ("완료 {ok} · 실패 {failed} · 실행/대기 {active}", "{ok} succeeded · {failed} failed · {active} running/queued"),
    # the run-a-model result
    "model_random": ("모델: 여기서 만든 작은 무작위 Llama ({p} 파라미터)", "Model: a tiny random Llama built here ({p} parameters)"),
    "model_art": ("모델: 산출물 #{id} '{name}' ({p} 파라미터)", "Model: artifact #{id} '{name}' ({p} parameters)"),
    "speed": ("장치 {dev} ({dtype}, 스레드 {thr}): 토큰 {n}개를 {s:.2f}초에 생성 → {tps} 토큰/초 (불러오기 {load:.1f}초)",
              "Device {dev} ({dtype}, {thr} threads): {n} tokens in {s:.2f} s → {tps} tokens/s (loading took "
              "{load:.1f} s)"),
    "generated": ("생성된 텍스트", "Generated text"),
}


def _t(key: str, lang: str, **kw) -> str:
    s = pick(T[key], lang)
    return s.format(**kw) if kw else s


def _e(x) -> str:
    return html.escape("" if x is None else str(x))


TABLE = "style='border-collapse:collapse;width:100%;font-size:0.9em'"
CELL = "style='border-bottom:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top'"


def _table(head: list[str], rows: list[str], elem_id: str) -> str:
    th = "".join(f"<th {CELL}>{_e(h)}</th>" for h in head)
    return f"<table id='{elem_id}' {TABLE}><thead><tr>{th}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _mark(ok: bool | None, lang: str) -> str:
    if ok is None:
        return f"<span style='color:#888'>{_e(_t('checking', lang))}</span>"
    color, word = ("#2ca02c", "✓ " + _t("yes", lang)) if ok else ("#d62728", "✗ " + _t("no", lang))
    return f"<span style='color:{color}'>{_e(word)}</span>"


def env_html(rep: dict, lang: str) -> str:
    m, c = rep["machine"], rep["cuda"]
    parts = [f"<p id='home-machine'><b>{_e(_t('machine', lang))}</b>: " + _e(_t(
        "machine_row", lang, cores=m["cpu_cores_usable"], model=m["cpu_model"], mem=m["memory_gb"],
        avail=m["memory_available_gb"], py=m["python"], plat=m["platform"])) + "</p>"]
    if c.get("pending"):
        gpus = _e(_t("checking", lang))
    elif c["gpus"]:
        gpus = "<br>".join(_e(_t("gpu_row", lang, name=g["name"], mem=g["memory_gb"], cc=g["compute_capability"],
                                   bf=_t("yes" if g["bf16"] else "no", lang))) for g in c["gpus"])
    else:
        gpus = _e(_t("gpu_none", lang)) + (f" (torch CUDA {_e(c['torch_cuda'])})" if c.get("torch_cuda") else "")
    if c.get("error"):
        gpus += f" <span class='wb-err'>{_e(c['error'])}</span>"
    parts.append(f"<p id='home-gpus'><b>{_e(_t('gpus', lang))}</b>: {gpus}</p>")
    core = [f"<tr data-package='{_e(r['package'])}'><td {CELL}>{_e(r['package'])}</td>"
            f"<td {CELL}>{_e(r['version']) if r['installed'] else _mark(False, lang) + ' ' + _e(pick(r.get('why'), lang))}"
            "</td></tr>" for r in rep["core"]]
    parts.append(f"<details open><summary><b>{_e(_t('core_h', lang))}</b></summary>"
                 + _table([_t("package", lang), _t("version", lang)], core, "home-core") + "</details>")
    opt = []
    for r in rep["optional"]:
        inst = (_mark(True, lang) + (f" {_e(r['version'])}" if r["version"] else "")) if r["installed"] \
            else _mark(False, lang)
        state = "pending" if r["usable"] is None else ("true" if r["usable"] else "false")
        opt.append(f"<tr data-package='{_e(r['package'])}' data-usable='{state}'>"
                   f"<td {CELL}><code>{_e(r['package'])}</code></td><td {CELL}>{inst}</td>"
                   f"<td {CELL}>{_mark(r['usable'], lang)}</td><td {CELL}>{_e(pick(r.get('why'), lang))}</td>"
                   f"<td {CELL}>{_e(pick(r['enables'], lang))}</td>"
                   f"<td {CELL}><small>{'' if r['usable'] else _e(r['install'])}</small></td></tr>")
    parts.append(f"<p><b>{_e(_t('optional_h', lang))}</b></p>" + _table(
        [_t(k, lang) for k in ("package", "installed", "usable", "why", "enables", "get")], opt, "home-optional"))
    parts.append(f"<details id='home-env-json'><summary>{_e(_t('json', lang))}</summary><pre style='font-size:0.8em;"
                 f"max-height:400px;overflow:auto'>{_e(json.dumps(rep, ensure_ascii=False, indent=1, default=str))}"
                 "</pre></details>")
    return "".join(parts)


def overview_html(ov: dict, lang: str) -> str:
    nxt = ov["next"]["stage"]
    rows = []
    for r in ov["stages"]:
        made = ", ".join(f"{k} {n}" for k, n in sorted(r["artifacts"].items())) or _t("nothing", lang)
        if "models_ready" in r:
            made = _t("models_ready", lang, n=r["models_ready"])
        chain = r.get("chain")
        if chain:
            made = _t("chain_made", lang, ok=chain["succeeded"], n=chain["steps"])
        rc = r["runs"]
        runs = _t("run_status", lang, ok=rc.get("succeeded", 0), failed=rc.get("failed", 0),
                  active=rc.get("running", 0) + rc.get("queued", 0)) if r["run_count"] else "–"
        latest = "–"
        if r["latest"]:
            la = r["latest"]
            fig = la.get("figure")
            latest = f"<b>{_e(la['name'])}</b> <small>#{la['id']} · {_e(fmt_time(la['created']))}</small>"
            if fig:
                latest += f"<br>{_e(pick(fig['label'], lang))}: <b>{_e(fig['shown'])}</b>"
        if chain:
            run = r["last_run"]
            latest = f"<b>{_e(run['id'])}</b> <small>{_e(fmt_time(run['created']))}</small>"
            if chain["last"]:
                latest += "<br>" + _e(_t("chain_last", lang, name=chain["last"]))
        style = " style='background:#fff8e6'" if r["stage"] == nxt else ""
        rows.append(f"<tr data-stage='{r['stage']}' data-artifacts='{r['artifact_count']}' data-runs='{r['run_count']}'"
                    f"{style}><td {CELL}><b>{_e(pick(r['name'], lang))}</b></td><td {CELL}>{_e(pick(r['does'], lang))}"
                    f"</td><td {CELL}>{_e(made)}</td><td {CELL}>{_e(runs)}</td><td {CELL}>{latest}</td></tr>")
    return _table([_t(k, lang) for k in ("stage", "does", "made", "runs", "latest")], rows, "home-overview-table")


def next_html(ov: dict, lang: str) -> str:
    return (f"<div id='home-next-text' data-stage='{ov['next']['stage']}' style='padding:8px;border-radius:6px;"
            f"background:#eef6ff;font-size:1.05em'>▶ {_e(pick(ov['next']['text'], lang))}</div>")


def run_html(res: dict | None, lang: str) -> str:
    if not res:
        return ""
    if "error" in res:
        from .launch import error_markdown
        return error_markdown(res["error"], lang)
    m = res["model"]
    head = (_t("model_random", lang, p=f"{res['params']:,}") if m["kind"] == "random" else
            _t("model_art", lang, id=m["id"] if m["id"] is not None else "–", name=m["name"], p=f"{res['params']:,}"))
    speed = _t("speed", lang, dev=res["device"], dtype=res["dtype"], thr=res["torch_threads"], n=res["new_tokens"],
               s=res["seconds"], tps=res["tokens_per_s"], load=res["load_seconds"])
    note = f"<p class='wb-msg'>⚠ {_e(pick(res['note'], lang))}</p>" if res.get("note") else ""
    speed_html = html.escape(speed)
    for word in (res["device"], f"{res['tokens_per_s']}"):  # the two figures in bold (escaped text, no markdown)
        speed_html = speed_html.replace(html.escape(str(word)), f"<b>{html.escape(str(word))}</b>", 1)
    return (f"<div id='home-run-out' data-tokens='{res['new_tokens']}' data-tps='{res['tokens_per_s']}' "
            f"data-device='{_e(res['device'])}'><p>{_e(head)}</p>{note}<p>{speed_html}</p>"
            f"<p><b>{_e(_t('generated', lang))}</b>:</p><pre style='white-space:pre-wrap'>"
            f"<span style='color:#888'>{_e(res['prompt'])}</span>{_e(res['text'])}</pre></div>")


def _progress_key(rep: dict) -> str:
    """Which checks are done: the table is redrawn only when this changes."""
    if rep["complete"]:
        return "complete"
    return "pending:" + ",".join(r["package"] for r in rep["optional"] if r["usable"] is None) + \
        (":gpus" if rep["cuda"].get("pending") else "")


def build(ctx: AppContext):
    ui = ctx.ui
    lang0 = ui.lang
    ui.md(T["intro"])
    ui.md(T["next_h"])
    nxt = gr.HTML(elem_id="home-next")
    ui.md(T["overview_h"])
    ov_table = gr.HTML(elem_id="home-overview")
    ui.md(T["run_h"])
    ui.md(T["run_intro"])
    with gr.Row():
        prompt = ui.reg(gr.Textbox(value="대한민국 헌법은", label=pick(T["prompt"], lang0), scale=3,
                                   elem_id="home-prompt"), label=T["prompt"])
        tokens = ui.reg(gr.Slider(1, 256, value=32, step=1, label=pick(T["tokens"], lang0), scale=2,
                                  elem_id="home-tokens"), label=T["tokens"])
        run_btn = ui.button(T["run"], variant="primary", scale=1, elem_id="home-run")
    run_out = gr.HTML(elem_id="home-run-result")
    run_state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=5):
            ui.md(T["env_h"])
        check_btn = ui.button(T["check_again"], size="sm", scale=0, elem_id="home-check")
    ui.md(T["env_cli"])
    env_out = gr.HTML(elem_id="home-env")
    shown = gr.State("")  # what the environment table shows: redrawn by the timer only when a check finished

    def render_env(lang, fresh=False):
        from workbench.home import env
        rep = env.report(wait=False, fresh=fresh)
        return env_html(rep, lang), _progress_key(rep)

    def render_overview(lang):
        from workbench.home.overview import overview
        ov = overview(ctx.ws)
        return next_html(ov, lang), overview_html(ov, lang)

    def render_all(lang, res):
        return (*render_overview(lang), *render_env(lang), run_html(res, lang))

    outputs = [nxt, ov_table, env_out, shown, run_out]
    ctx.on_page_load(render_all, [ui.lang_box, run_state], outputs)  # each page load (this tab opens first)
    ui.on_language(render_all, [ui.lang_box, run_state], outputs)
    check_btn.click(lambda lang: render_env(lang, fresh=True), [ui.lang_box], [env_out, shown])

    timer = ui.timer(2.0)  # the import checks finish in the background: fill the table in as they do

    def on_tick(lang, key):
        if key.startswith("complete"):
            return gr.skip(), gr.skip()
        from workbench.home import env
        rep = env.report(wait=False)
        now = _progress_key(rep)
        return (gr.skip(), key) if now == key else (env_html(rep, lang), now)

    timer.tick(on_tick, [ui.lang_box, shown], [env_out, shown], show_progress="hidden", queue=False)

    def on_run(lang, text, n):
        from workbench.errors import describe_exception
        from workbench.home.run_model import run_model
        from workbench.i18n import both
        try:
            res = run_model(ctx.ws, prompt=text or "", max_new_tokens=int(n))
        except Exception as e:  # noqa: BLE001 - a UserError reads as it is; anything else as one paragraph
            res = {"error": both(describe_exception(e))}
        return run_html(res, lang), res, *render_overview(lang)

    run_btn.click(on_run, [ui.lang_box, prompt, tokens], [run_out, run_state, nxt, ov_table])
    return render_all, [ui.lang_box, run_state], outputs
