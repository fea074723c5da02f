"""Korean/English UI strings and the language switch.

Every translatable widget is registered once with its (ko, en) texts per
attribute; switching language is then one generic loop that returns an update
for each registered widget (the approach of LLaMA-Factory's web UI engine).
"""
from __future__ import annotations

import json
from typing import Any

import gradio as gr

from state.i18n import pick  # the one helper for (ko, en) pairs and engine Texts (state/i18n.py)

from .packed import on_form

LANGS = ("ko", "en")

# Shared strings: key -> (ko, en). Tab-specific strings live with their tab.
STRINGS: dict[str, tuple[str, str]] = {
    "title": ("# 한국어 LLM 워크벤치", "# Korean LLM Workbench"),
    "subtitle": ("말뭉치에서 챗봇까지, 한 단계씩 직접 만들어 보는 언어 모델의 일생.",
                 "The whole life of a language model, from raw Korean text to a chatbot, by hand."),
    "language": ("언어", "Language"),
    "run": ("실행", "Run"),
    "status": ("상태", "Status"),
    "stop": ("중지", "Stop"),
    "refresh": ("새로 고침", "Refresh"),
    "log": ("로그 (마지막 줄)", "Log (last lines)"),
    "metrics": ("지표", "Metrics"),
    "command": ("같은 작업을 하는 명령줄", "The same job from a terminal"),
    "latest": ("최근 실행", "latest run"),
    "no_run": ("아직 실행이 없습니다.", "No run yet."),
    "no_metrics": ("아직 기록된 지표가 없습니다.", "No metrics recorded yet."),
    "queued_at": ("대기 중: {pos}번째", "queued: position {pos}"),
    "other_jobs": ("다른 작업", "Other jobs"),
    "eta": ("남은 시간 약 {eta}", "about {eta} left"),
    "elapsed": ("경과 {t}", "elapsed {t}"),
    "error": ("오류", "Error"),
    "tab_runs": ("실행 기록", "Runs"),
    "runs_table": ("모든 실행", "All runs"),
    "run_detail": ("선택한 실행", "Selected run"),
    "config": ("설정", "Config"),
    "outputs": ("산출물", "Outputs"),
    "artifact": ("산출물", "Artifact"),
    "stop_sent": ("중지 요청을 보냈습니다: {what}", "Stop sent: {what}"),
    "queued": ("대기", "queued"),
    "running": ("실행 중", "running"),
    "succeeded": ("완료", "succeeded"),
    "failed": ("실패", "failed"),
    "stopped": ("중지됨", "stopped"),
    "interrupted": ("중단됨", "interrupted"),
}


def tr(key: str, lang: str, **kw) -> str:
    """A shared string by key, in `lang`, with {fields} filled."""
    s = pick(STRINGS.get(key, (key, key)), lang)
    return s.format(**kw) if kw else s




# The button of the top-level tab in view (the first selected tab button in the page: the top bar comes first).
SELECTED_TAB = "document.querySelector('button[role=tab][aria-selected=true]')"
# Its id, read a moment after the event so the click's re-render has landed.
TAB_IN_VIEW_JS = ("async () => { await new Promise(r => setTimeout(r, 50)); const t = " + SELECTED_TAB + "; "
                  "return t ? t.dataset.tabId || null : null; }")


class UI:
    """Holds the current start-up language and every registered translatable widget."""

    def __init__(self, lang: str = "ko"):
        self.lang = lang if lang in LANGS else "ko"
        self._items: list[tuple[Any, dict[str, tuple[str, str]]]] = []
        self._hooks: list[tuple] = []
        self.lang_box: gr.Radio | None = None
        self.tab: str | None = None  # the tab being built (app.py sets it), for on_language and timer
        self.first_tab: str | None = None  # the tab a page opens on (app.py sets it)
        self._timers: list[tuple[str | None, gr.Timer]] = []

    def t(self, key: str, **kw) -> str:
        return tr(key, self.lang, **kw)

    def text(self, pair: tuple[str, str] | str) -> str:
        return pick(pair, self.lang)

    def reg(self, component, **attrs: tuple[str, str] | str):
        """Register a widget; attrs map attribute -> (ko, en) pair or a STRINGS key."""
        pairs = {a: (STRINGS[v] if isinstance(v, str) and v in STRINGS else v) for a, v in attrs.items()}
        self._items.append((component, pairs))
        return component

    def md(self, pair: tuple[str, str] | str, **kw) -> gr.Markdown:
        """A Markdown block with a (ko, en) text, registered for the language switch."""
        return self.reg(gr.Markdown(self.text(pair), **kw), value=pair)

    def button(self, pair: tuple[str, str] | str, **kw) -> gr.Button:
        """A Button with a (ko, en) caption, registered for the language switch."""
        return self.reg(gr.Button(self.text(pair), **kw), value=pair)

    def on_language(self, fn, inputs, outputs, **kw) -> None:
        """Re-render something of the tab being built that depends on the language (a table, a figure): after a
        switch if that tab is in view, else when it is next opened. Run with the relabelling, such re-renders (a
        torch import, a Kiwi start, plotly figures in hidden tabs) held every label back for 10 s and more."""
        self._hooks.append((self.tab, fn, inputs, outputs, kw))

    def timer(self, every: float) -> gr.Timer:
        """A gr.Timer that ticks only while its tab is in view (wire_timers): every tab's polling at once (job panels,
        the runs table) kept the browser so busy that a click took seconds to be sent."""
        t = gr.Timer(every, active=self.tab in (None, self.first_tab))  # a page opens on the first tab
        self._timers.append((self.tab, t))
        return t

    def wire_timers(self, tabs: dict) -> None:
        """Opening a tab starts its timers and stops every other tab's. tabs: id -> gr.Tab, in order.

        The tab in view is read in the browser when the event is sent, not taken from the event: gradio fires the
        first tab's select once the page has mounted, and on a busy machine that event's handlers were sent after
        those of a tab the person had clicked meanwhile, so the first tab's timers ran and the open tab's stopped
        (its job panel never updated)."""
        timers = [t for tab, t in self._timers if tab in tabs]
        owners = [tab for tab, _ in self._timers if tab in tabs]
        if not timers:
            return
        in_view = gr.Textbox(visible=False)
        for tab_id, tab in tabs.items():
            tab.select(lambda shown, t=tab_id: [gr.update(active=o == (shown if shown in tabs else t)) for o in owners],
                       [in_view], timers, js=TAB_IN_VIEW_JS, queue=False, show_progress="hidden")

    def wire_switch(self, tabs: dict) -> None:
        """Connect the language radio: relabel everything that has two wordings at once, in the browser; then the
        tab in view re-renders its language-dependent parts (through a hidden button the browser clicks), and every
        other tab does when it is next opened. tabs: id -> gr.Tab.

        The relabelling is a browser-side function (both wordings of every widget travel in the page): gradio's
        front end keeps a loading status for every widget a server event has ever output and, on each later
        event, walks its whole component tree once per such widget. The ~650 labels sent by the server made every
        timer tick after a switch cost seconds on a slow machine (a click waited 30 s). Events for the hooks of
        hidden tabs, even ones that change nothing, held the labels back (plotly figures re-render)."""
        items = [(c, {a: v for a, v in p.items() if isinstance(v, tuple)}) for c, p in self._items
                 if any(isinstance(v, tuple) and v[0] != v[1] for v in p.values())]
        switched = self.lang_box.change(None, [self.lang_box], [c for c, _ in items], js=relabel_js(items),
                                        show_progress="hidden")
        # gradio fires a tab's select only when another tab is clicked, so the tab in view is re-rendered through
        # a hidden button of its own, which the browser clicks once the labels have changed
        hooked = {t for t, *_ in self._hooks if t in tabs}
        again = {t: gr.Button(visible="hidden", elem_id=f"wb-relang-{t}") for t in sorted(hooked)}
        switched.then(None, None, None, js="() => { const t = " + SELECTED_TAB + "; const b = t && "
                                            "document.getElementById('wb-relang-' + t.dataset.tabId); "
                                            "if (b) b.click(); }")
        # hook number -> the language it last rendered in, in this browser session (a page starts in self.lang)
        rendered = gr.State({i: self.lang for i in range(len(self._hooks))})
        for i, (tab_id, fn, inputs, outputs, kw) in enumerate(self._hooks):
            if tab_id in tabs:
                wrapped = guarded(i, fn, len(outputs))
                for event in (tabs[tab_id].select, again[tab_id].click):  # a tab reads its form: packed
                    on_form(event, wrapped, [rendered, self.lang_box, *inputs], [*outputs, rendered], **kw)
            else:  # built outside any tab: always in view
                switched.then(fn, inputs, outputs, **kw)


def relabel_js(items) -> str:
    """A browser-side function of the language giving gradio an update per widget: its attributes in that
    language. items: (widget, {attribute: (ko, en)}). A value goes through the widget's own postprocess, as it
    would coming from the server (Markdown strips indentation)."""
    table = json.dumps([{a: [c.postprocess(t) for t in pair] if a == "value" else pair for a, pair in pairs.items()}
                        for c, pairs in items], ensure_ascii=False)
    return ("(lang) => { const i = lang === 'en' ? 1 : 0; const table = " + table + "; "
            "const ups = table.map(pairs => { const u = {__type__: 'update'}; "
            "for (const [attr, pair] of Object.entries(pairs)) u[attr] = pair[i]; return u; }); return ups; }")


def guarded(key, fn, n_out: int, by_lang: bool = True):
    """Wrap fn (n_out outputs) to run only when `key` is not yet marked in a per-page gr.State of marks, then mark
    it; else nothing changes. The wrapper takes that State first, then (by_lang) the language, then fn's inputs, and
    returns fn's outputs and the State. by_lang: the mark is the language fn last rendered in (a language hook runs
    again after a switch); else fn runs once per page."""
    def run(marks, *args):
        mark = args[0] if by_lang else True
        if (marks or {}).get(key) == mark:
            return [gr.skip()] * n_out + [gr.skip()]
        out = fn(*(args[1:] if by_lang else args))
        out = list(out) if isinstance(out, (list, tuple)) and n_out > 1 else [out]
        marks = marks if marks is not None else {}
        marks[key] = mark  # in place: the page's hooks run at once, and each must keep the others' marks
        return [*out, marks]
    return run
