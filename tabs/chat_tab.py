"""Chat tab: talk to any model artifact, streaming; two models side by side; stop, regenerate, clear, copy.

UI only: replies come from the shared chat engine (workbench/chat/engine.py), in-process. Each browser
session keeps its own history in gr.State; the engine is shared (one cache of loaded models, fair slots),
and Gradio's queue runs at most `max_concurrent` chat events at once, first come first served.
"""
from __future__ import annotations

import html
import sys
import threading
import time

import gradio as gr

from workbench.chat.models import CHAT_KINDS

from state.i18n import LANGS, pick

from .components import AppContext, artifact_choices, artifact_picker
from .forms import ConfigForm
from .launch import error_markdown

T = {
    "quantized": ("양자화한 모델: {m} (최적화 탭에서 만듦)", "quantized model: {m} (made in the Optimize tab)"),
    "intro": ("프로젝트에서 만든 모델과 대화합니다. 기본(사전학습) 모델은 메시지를 이어 쓰고, 채팅 모델(미세조정·정렬)은 "
              "토크나이저의 채팅 템플릿으로 답합니다.",
              "Talk to the models this project made. A base (pretrained) model continues your message; a chat model "
              "(fine-tuned, aligned) answers through its tokenizer's chat template."),
    "model_a": ("모델", "Model"),
    "model_b": ("비교할 모델", "Model to compare"),
    "side": ("두 모델 나란히 비교", "Two models side by side"),
    "refresh": ("목록 새로 고침", "Refresh list"),
    "mode": ("모드", "Mode"),
    "mode_auto": ("자동", "Auto"),
    "mode_chat": ("채팅 템플릿", "Chat template"),
    "mode_continue": ("이어쓰기", "Continuation"),
    "settings": ("생성 설정", "Generation settings"),
    "msg": ("메시지", "Message"),
    "msg_ph": ("메시지를 입력하고 Enter (줄바꿈은 Shift+Enter)", "Type a message and press Enter (Shift+Enter: new line)"),
    "send": ("보내기", "Send"),
    "stop": ("중지", "Stop"),
    "regen": ("다시 생성", "Regenerate"),
    "clear": ("대화 지우기", "Clear"),
    "reply": ("답", "Reply"),
    "empty": ("메시지가 비어 있습니다. 보낼 내용을 입력하세요.", "The message is empty: type something to send."),
    "no_model": ("아직 모델이 없습니다. 사전학습 탭에서 모델을 먼저 만드세요.",
                 "No model yet: make one in the Pretrain tab first."),
    "pick_b": ("나란히 비교하려면 비교할 모델을 고르세요.", "Pick the model to compare for side by side."),
    "loading": ("모델을 불러오는 중… (처음 한 번만)", "Loading the model… (first time only)"),
    "waiting": ("생성 중…", "Generating…"),
    "stopping": ("중지 요청을 보냈습니다.", "Stop sent."),
    "nothing_regen": ("다시 생성할 답이 없습니다.", "There is no reply to regenerate."),
    "error": ("오류", "Error"),
    "cannot": ("답할 수 없습니다", "Cannot reply"),
    "stopped": ("중지됨", "stopped"),
    "load_s": ("모델 불러오기 {s}초", "model loaded in {s} s"),
    "queue_s": ("대기 {s}초", "waited {s} s"),
    "engine": ("메모리의 모델: {models} · 캐시 {used}/{limit} MB · 생성 중 {busy}/{slots}",
               "Models in memory: {models} · cache {used}/{limit} MB · generating {busy}/{slots}"),
    "none": ("없음", "none"),
    "info_chat": ("**{name}** · {arch} · 파라미터 {params} · 문맥 {ctx} 토큰 · {kind} → **{mode}** 모드",
                  "**{name}** · {arch} · {params} parameters · context {ctx} tokens · {kind} → **{mode}** mode"),
    "kind_chat": ("채팅 모델", "chat model"),
    "kind_base": ("기본 모델", "base model"),
    "no_template": ("채팅 템플릿 없음", "no chat template"),
    "continue_note": ("이어쓰기 모드는 마지막 메시지만 이어 씁니다 (이전 대화와 시스템 프롬프트는 쓰지 않음).",
                      "Continuation mode continues the latest message only (earlier turns and the system prompt "
                      "are not used)."),
    "broken": ("이 모델은 불러올 수 없습니다: {why}", "This model cannot be loaded: {why}"),
    # engine notices, by code (workbench/chat/generation.py)
    "turns_dropped": ("대화가 모델의 문맥 길이({context} 토큰)보다 길어 오래된 {turns}개 턴을 빼고 보냈습니다.",
                      "The conversation is longer than the model's context window ({context} tokens): the oldest "
                      "{turns} turn(s) were left out."),
    "prompt_cut": ("프롬프트가 {tokens} 토큰이라 문맥 길이({context} 토큰)에 다 들어가지 않아, 마지막 {kept} 토큰만 "
                   "썼습니다 (앞부분이 잘림).",
                   "The prompt is {tokens} tokens, more than fits in the context window ({context} tokens): only its "
                   "last {kept} tokens were used (the start was cut)."),
    "reply_shortened": ("프롬프트와 답이 문맥 길이({context} 토큰)에 들어가도록 답을 최대 {new} 토큰으로 줄였습니다 "
                        "(설정: {asked}).",
                        "The reply may be at most {new} tokens (setting: {asked}) so that prompt and reply fit in the "
                        "context window ({context} tokens)."),
    "no_template_notice": ("채팅 모델로 표시되었지만 토크나이저에 채팅 템플릿이 없어 이어쓰기로 답합니다.",
                           "Marked as a chat model, but its tokenizer has no chat template: answering by continuation."),
    "stats": ("첫 토큰 {ttft} · {tps} 토큰/초 · {n} 토큰 · {mode} · 시드 {seed}",
              "first token {ttft} · {tps} tokens/s · {n} tokens · {mode} · seed {seed}"),
}
MODE_NAMES = {"chat": T["mode_chat"], "continue": T["mode_continue"]}
SAMPLING_FIELDS = ["system", "temperature", "top_p", "top_k", "repetition_penalty", "max_new_tokens", "seed"]
CSS_CLASS = "wb-chat-stats"


# -- per-session stop events (a Stop click reaches the reply running for the same browser tab) ----------
class _StopEvents:
    def __init__(self, limit: int = 2000):
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._limit = limit

    def get(self, session: str | None) -> threading.Event:
        key = session or "-"
        with self._lock:
            ev = self._events.get(key)
            if ev is None:
                if len(self._events) >= self._limit:  # forget the oldest sessions
                    for k in list(self._events)[: self._limit // 2]:
                        del self._events[k]
                ev = self._events[key] = threading.Event()
            return ev


def engine_of(ctx: AppContext):
    """The one chat engine of this app (created without loading torch; models load on first use)."""
    eng = getattr(ctx, "chat_engine", None)
    if eng is None:
        from workbench.chat.engine import ChatEngine
        from workbench.chat.stage import app_config
        eng = ctx.chat_engine = ChatEngine.from_config(app_config())
    return eng


# -- rendering -------------------------------------------------------------------------------------
def fmt_params(n: int | None) -> str:
    if not n:
        return "?"
    for unit, div in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return str(n)


def stats_line(stats: dict, lang: str) -> str:
    ttft = f"{stats['ttft_s'] * 1000:.0f} ms" if stats.get("ttft_s") is not None else "–"
    tps = f"{stats['tokens_per_s']:.1f}" if stats.get("tokens_per_s") else "–"
    mode = pick(MODE_NAMES.get(stats.get("mode"), ("?", "?")), lang)
    line = pick(T["stats"], lang).format(ttft=ttft, tps=tps, n=stats.get("tokens", 0), mode=mode,
                                         seed=stats.get("seed", "–"))
    if (stats.get("load_s") or 0) >= 0.05:
        line += " · " + pick(T["load_s"], lang).format(s=f"{stats['load_s']:.1f}")
    if (stats.get("queue_s") or 0) >= 0.05:
        line += " · " + pick(T["queue_s"], lang).format(s=f"{stats['queue_s']:.1f}")
    if stats.get("finish_reason") == "stopped":
        line += f" · {pick(T['stopped'], lang)}"
    return line


def display(hist: list[dict], lang: str) -> list[dict]:
    """Chatbot messages from a history: each finished reply is followed by a small message with its stats
    (a message of its own, so the reply's copy button copies the reply alone)."""
    out = []
    for m in hist:
        out.append({"role": m["role"], "content": m["content"]})
        if m["role"] == "assistant" and m.get("stats"):
            out.append({"role": "assistant", "content": f"<span class='{CSS_CLASS}' style='font-size:0.8em;"
                        f"color:#667'>{html.escape(stats_line(m['stats'], lang))}</span>"})
    return out


def notice_text(notices, lang: str, label: str = "") -> str:
    lines = []
    for n in notices:
        key = "no_template_notice" if n.code == "no_template" else n.code
        text = pick(T[key], lang).format(**n.values) if key in T else pick(n.text, lang)
        lines.append(f"- ℹ️ {label}{text}")
    return "\n".join(lines)


def model_info_markdown(ctx: AppContext, ids: list[str], mode: str, lang: str) -> str:
    from workbench.chat.models import describe, resolve
    from workbench.errors import UserError
    lines = []
    for art_id in ids:
        try:
            info = describe(resolve(ctx.ws, art_id))
        except UserError as e:
            lines.append(f"- ⚠️ {html.escape(pick(e.text, lang))}")
            continue
        eff = info.default_mode if mode == "auto" else mode
        kind = pick(T["kind_chat"], lang) if info.chat_model else pick(T["kind_base"], lang)
        if not info.chat_template:
            kind += f", {pick(T['no_template'], lang)}"
        lines.append("- " + pick(T["info_chat"], lang).format(
            name=html.escape(info.ref.name), arch=info.arch, params=fmt_params(info.params), ctx=info.context or "?",
            kind=kind, mode=pick(MODE_NAMES[eff], lang)))
        if info.problems:
            why = "; ".join(pick(x, lang) for x in info.problems)
            lines.append("  - ⚠️ " + pick(T["broken"], lang).format(why=html.escape(why)))
        quant = (info.ref.meta or {}).get("quantization") or {}
        if quant.get("method"):
            lines.append("  - " + pick(T["quantized"], lang).format(m=html.escape(str(quant["method"]))))
        if eff == "continue":
            lines.append(f"  - {pick(T['continue_note'], lang)}")
    return "\n".join(lines) if lines else pick(T["no_model"], lang)


def artifact_name(ctx: AppContext, art_id) -> str | None:
    art = ctx.store.get_artifact(int(art_id)) if art_id and str(art_id).isdigit() else None
    return art.name if art is not None else None


def pane_labels(ctx: AppContext, a, b, two: bool, lang: str) -> tuple[str, str]:
    """The chat panes are labelled with the models they show ("A · name" and "B · name" side by side, as the
    notices say "A:" and "B:"); a pane with no model picked keeps its generic label."""
    name_a, name_b = artifact_name(ctx, a), artifact_name(ctx, b)
    if not two:
        return name_a or pick(T["reply"], lang), pick(T["model_b"], lang)
    return (f"A · {name_a}" if name_a else f"A · {pick(T['reply'], lang)}",
            f"B · {name_b}" if name_b else f"B · {pick(T['model_b'], lang)}")


def engine_markdown(ctx: AppContext, lang: str) -> str:
    st = engine_of(ctx).status()
    models = ", ".join(f"{m['model']} ({m['mb']} MB, {m['device']})" for m in st["loaded"]) or pick(T["none"], lang)
    return pick(T["engine"], lang).format(models=html.escape(models), used=st["cache_mb"],
                                          limit=st["cache_limit_mb"], busy=st["busy"], slots=st["slots"])


# -- the tab -------------------------------------------------------------------------------------
def build(ctx: AppContext):
    from workbench.chat.stage import ChatConfig, app_config

    ui = ctx.ui
    lang_box = ui.lang_box
    engine_cfg = app_config()
    engine_of(ctx)
    stops = _StopEvents()
    kinds = list(CHAT_KINDS)

    ui.md(T["intro"])
    with gr.Row():
        model_a = artifact_picker(ctx, kinds, T["model_a"], elem_id="chat-model-a", scale=3)
        model_b = artifact_picker(ctx, kinds, T["model_b"], elem_id="chat-model-b", scale=3, visible=False)
        with gr.Column(scale=1, min_width=180):
            side = ui.reg(gr.Checkbox(False, label=ui.text(T["side"]), elem_id="chat-side"), label=T["side"])
            refresh = ui.button(T["refresh"], size="sm", elem_id="chat-refresh")
    with gr.Row():
        mode_choices = tuple([(pick(T[k], lg), v) for k, v in (("mode_auto", "auto"), ("mode_chat", "chat"),
                                                                  ("mode_continue", "continue"))] for lg in LANGS)
        mode = gr.Radio(ui.text(mode_choices), value="auto", label=ui.text(T["mode"]), elem_id="chat-mode", scale=1)
        ui.reg(mode, label=T["mode"], choices=mode_choices)
        info = gr.Markdown(model_info_markdown(ctx, [model_a.value] if model_a.value else [], "auto", ui.lang),
                           elem_id="chat-model-info")
    with gr.Accordion(ui.text(T["settings"]), open=False, elem_id="chat-settings") as acc:
        form = ConfigForm(ctx, ChatConfig, include=SAMPLING_FIELDS, columns=3)
    ui.reg(acc, label=T["settings"])
    hist_a, hist_b = gr.State([]), gr.State([])
    label_a, label_b = pane_labels(ctx, model_a.value, None, False, ui.lang)
    with gr.Row(equal_height=True):
        with gr.Column():  # labelled with the model's name (pane_labels), kept up to date by the handlers below
            bot_a = gr.Chatbot([], label=label_a, elem_id="chat-bot-a", height=420,
                               buttons=["copy", "copy_all"], allow_tags=False)
        with gr.Column(visible=False) as col_b:
            bot_b = gr.Chatbot([], label=label_b, elem_id="chat-bot-b", height=420,
                               buttons=["copy", "copy_all"], allow_tags=False)
    notice = gr.Markdown("", elem_id="chat-notice")
    with gr.Row(equal_height=True):
        msg = gr.Textbox(placeholder=ui.text(T["msg_ph"]), show_label=False, lines=1, max_lines=8, scale=6,
                         elem_id="chat-msg", submit_btn=False)
        ui.reg(msg, placeholder=T["msg_ph"])
        send = ui.button(T["send"], variant="primary", scale=1, elem_id="chat-send")
    with gr.Row():
        stop = ui.button(T["stop"], variant="stop", size="sm", elem_id="chat-stop")
        regen = ui.button(T["regen"], size="sm", elem_id="chat-regen")
        clear = ui.button(T["clear"], size="sm", elem_id="chat-clear")
    engine_md = gr.Markdown(engine_markdown(ctx, ui.lang), elem_id="chat-engine")
    timer = ui.timer(15)

    # -- handlers ----------------------------------------------------------------------------------
    def chosen(a, b, two):
        return [x for x in ([a, b] if two else [a]) if x]

    def update_info(a, b, two, mode_v, lang):
        return model_info_markdown(ctx, chosen(a, b, two), mode_v, lang)

    def labels(a, b, two, lang):
        la, lb = pane_labels(ctx, a, b, two, lang)
        return gr.update(label=la), gr.update(label=lb)

    def on_pick(a, b, two, mode_v, lang):
        return (update_info(a, b, two, mode_v, lang), *labels(a, b, two, lang))

    def toggle_side(two, a, b, mode_v, lang):
        return (gr.update(visible=two), gr.update(visible=two), update_info(a, b, two, mode_v, lang),
                *labels(a, b, two, lang))

    def refresh_lists(a, b, two, mode_v, lang):
        choices = artifact_choices(ctx.store, kinds)
        values = {v for _, v in choices}
        a2 = a if a in values else (choices[0][1] if choices else None)
        b2 = b if b in values else None
        return (gr.update(choices=choices, value=a2), gr.update(choices=choices, value=b2),
                update_info(a2, b2, two, mode_v, lang), engine_markdown(ctx, lang), *labels(a2, b2, two, lang))

    def poll(a, b, two, mode_v, lang, seen):
        # only touch the dropdowns when the artifacts changed (a re-render would close an open list)
        choices = artifact_choices(ctx.store, kinds)
        key = "|".join(v for _, v in choices)
        if key == seen:
            return gr.skip(), gr.skip(), gr.skip(), engine_markdown(ctx, lang), gr.skip(), gr.skip(), seen
        return (*refresh_lists(a, b, two, mode_v, lang), key)

    def outputs_now(ha, hb, lang, note, text=gr.skip(), *, streaming=False, two=True):
        """The tab's outputs; while a reply streams, only the chatbot(s) in view (and the note when it changed)."""
        return (text, ha, hb, display(ha, lang), display(hb, lang) if two else gr.skip(), note,
                gr.skip() if streaming else engine_markdown(ctx, lang))

    def run_turn(user_text, ha, hb, a, b, two, mode_v, lang, values, session, restore_text):
        """Stream one turn into one or two columns. Yields the tab's outputs as text arrives."""
        from workbench.chat.engine import messages_from, stream_together
        from workbench.chat.models import resolve
        from workbench.config import ConfigError
        from workbench.errors import UserError

        if not user_text or not user_text.strip():
            yield outputs_now(ha, hb, lang, f"⚠️ {pick(T['empty'], lang)}")
            return
        if not a:
            yield outputs_now(ha, hb, lang, f"⚠️ {pick(T['no_model'], lang)}", restore_text)
            return
        if two and not b:
            yield outputs_now(ha, hb, lang, f"⚠️ {pick(T['pick_b'], lang)}", restore_text)
            return
        try:
            cfg = form.to_config(values, model=a, message=user_text, mode=mode_v)
        except ConfigError as e:
            yield outputs_now(ha, hb, lang, error_markdown(e, lang), restore_text)
            return
        ids = [a, b] if two else [a]
        hists = [list(ha), list(hb)]
        stop_ev = stops.get(session)
        stop_ev.clear()
        in_memory = {str(m.ref.artifact_id) for m in engine_of(ctx).cache.loaded()}
        loading = any(str(i) not in in_memory for i in ids)
        yield outputs_now(ha, hb, lang, f"⏳ {pick(T['loading' if loading else 'waiting'], lang)}", "")
        gens, notes, errors = [], [], []
        shown: dict[int, int] = {}  # notices shown per column (a reply that ends empty adds one)

        def label_of(col):
            return f"{'AB'[col]}: " if two else ""
        for col, art_id in enumerate(ids):
            label = label_of(col)
            try:
                ref = resolve(ctx.ws, art_id)
                g = engine_of(ctx).chat(ref, messages_from(hists[col], user_text, cfg.system), mode=mode_v,
                                        params=cfg.sampling(), stop=stop_ev)
            except UserError as e:
                errors.append(f"- ⚠️ **{label}{pick(T['cannot'], lang)}**: {html.escape(pick(e.text, lang))}")
                continue
            gens.append((col, g))
            shown[col] = len(g.notices)
            hists[col] += [{"role": "user", "content": user_text}, {"role": "assistant", "content": ""}]
            if g.notices:
                notes.append(notice_text(g.notices, lang, label))
        if not gens:  # nothing could start: keep the history as it was and give the text back
            yield outputs_now(ha, hb, lang, "\n".join(errors), restore_text)
            return
        head = "\n".join(errors + notes)
        shown_note = head or f"⏳ {pick(T['waiting'], lang)}"
        yield outputs_now(hists[0], hists[1], lang, shown_note)
        last = 0.0
        failures = []
        for i, piece, err in stream_together([g for _, g in gens]):
            col, g = gens[i]
            if err is not None:
                why = pick(getattr(err, "text", err), lang)  # a UserError in the person's language
                failures.append(f"- ⚠️ **{pick(T['error'], lang)}**: {html.escape(why)}")
            if piece is not None:
                hists[col][-1]["content"] += piece
            else:
                hists[col][-1] = {"role": "assistant", "content": g.text, "stats": g.stats}
                if len(g.notices) > shown[col]:  # e.g. an empty reply: say why and what to try
                    notes.append(notice_text(g.notices[shown[col]:], lang, label_of(col)))
                    shown[col] = len(g.notices)
            now = time.monotonic()
            # at most ~2 screen updates a second, fewer as the replies grow (about 1 a second at 8,000 characters),
            # and only the parts that changed: the browser re-renders a whole reply at each update and walks the
            # app's whole layout tree for every output updated (1,200 components with every stage's tab), and a
            # long reply updated often froze the page on a 2-core machine (Stop could not be clicked: CI, twice)
            chars = sum(len(hists[c][-1]["content"]) for c, _ in gens)
            if piece is None or now - last > 0.4 + chars / 10_000:
                last = now
                note = "\n".join(errors + notes + failures) or ""
                yield outputs_now(hists[0], hists[1], lang, note if note != shown_note else gr.skip(), streaming=True,
                                  two=two)
                shown_note = note
        yield outputs_now(hists[0], hists[1], lang, "\n".join(errors + notes + failures))

    def send_fn(request: gr.Request, text, ha, hb, a, b, two, mode_v, lang, *values):
        yield from run_turn(text, ha, hb, a, b, two, mode_v, lang, values, request.session_hash, text)

    def regen_fn(request: gr.Request, ha, hb, a, b, two, mode_v, lang, *values):
        last_user = next((m["content"] for m in reversed(ha) if m["role"] == "user"), None)
        if last_user is None:
            yield outputs_now(ha, hb, lang, f"⚠️ {pick(T['nothing_regen'], lang)}")
            return

        def drop_last_turn(h):
            h = list(h)
            while h and h[-1]["role"] == "assistant":
                h.pop()
            if h and h[-1]["role"] == "user":
                h.pop()
            return h
        yield from run_turn(last_user, drop_last_turn(ha), drop_last_turn(hb), a, b, two, mode_v, lang, values,
                            request.session_hash, gr.skip())

    def stop_fn(request: gr.Request, lang):
        stops.get(request.session_hash).set()
        return f"⏹ {pick(T['stopping'], lang)}"

    def clear_fn(request: gr.Request, lang):
        stops.get(request.session_hash).set()
        return [], [], [], [], "", engine_markdown(ctx, lang)

    io = [msg, hist_a, hist_b, bot_a, bot_b, notice, engine_md]
    common = [model_a, model_b, side, mode, lang_box, *form.components]
    # One concurrency group for every event that generates: at most `max_concurrent` at once, first come first
    # served; a waiting user sees Gradio's "queue: n/m" on the outputs until their reply starts.
    gen_kw = dict(concurrency_limit=engine_cfg.max_concurrent, concurrency_id="chat-generate",
                  show_progress="minimal")
    ev_send = send.click(send_fn, [msg, hist_a, hist_b, *common], io, **gen_kw)
    ev_submit = msg.submit(send_fn, [msg, hist_a, hist_b, *common], io, **gen_kw)
    ev_regen = regen.click(regen_fn, [hist_a, hist_b, *common], io, **gen_kw)
    stop.click(stop_fn, [lang_box], [notice], queue=False)
    clear.click(clear_fn, [lang_box], [hist_a, hist_b, bot_a, bot_b, notice, engine_md], queue=False,
                cancels=[ev_send, ev_submit, ev_regen])

    pick_inputs = [model_a, model_b, side, mode, lang_box]
    # .input, not .change: a programmatic update (refresh, poll) already sets the info itself, and the change
    # it triggers could read the dropdown's value before the update landed and overwrite the info with
    # "no model yet" (seen when a model appeared while the tab was open).
    # the panes' labels name the picked models: set wherever the picks can change
    for comp in (model_a, model_b, mode):
        comp.input(on_pick, pick_inputs, [info, bot_a, bot_b], queue=False)
    side.change(toggle_side, [side, model_a, model_b, mode, lang_box], [model_b, col_b, info, bot_a, bot_b],
                queue=False)
    list_outputs = [model_a, model_b, info, engine_md, bot_a, bot_b]
    refresh.click(refresh_lists, pick_inputs, list_outputs, queue=False)
    seen = gr.State("|".join(v for _, v in artifact_choices(ctx.store, kinds)))
    timer.tick(poll, [*pick_inputs, seen], [*list_outputs, seen], queue=False, show_progress="hidden")

    def relabel(ha, hb, a, b, two, mode_v, lang):
        la, lb = pane_labels(ctx, a, b, two, lang)
        return (gr.update(value=display(ha, lang), label=la), gr.update(value=display(hb, lang), label=lb),
                update_info(a, b, two, mode_v, lang), engine_markdown(ctx, lang))
    ui.on_language(relabel, [hist_a, hist_b, model_a, model_b, side, mode, lang_box],
                   [bot_a, bot_b, info, engine_md], queue=False)
    return refresh_lists, pick_inputs, list_outputs  # on opening: models made meanwhile


def mount_openai_api(demo, ctx: AppContext) -> None:
    """Serve /v1/chat/completions and /v1/models from the app's own server, on the same engine as the tab."""
    from workbench.chat.api import api_key_from_env, create_router

    key = api_key_from_env()
    demo.app.include_router(create_router(engine_of(ctx), ctx.ws, api_key=key))
    args = getattr(ctx, "args", None)
    where = f"http://{args.host}:{args.port}" if args else ""
    print(f"OpenAI-compatible API: {where}/v1/chat/completions (models: {where}/v1/models)"
          + ("" if key else "; no API key (set WORKBENCH_API_KEY to require one)"), file=sys.stderr)
    if args is not None and getattr(args, "auth", None) and not key:
        print("warning: --auth protects the web UI only; set WORKBENCH_API_KEY to protect the API too",
              file=sys.stderr)
