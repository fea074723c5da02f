"""Korean/English UI strings and the language switch.

Every translatable widget is registered once with its (ko, en) texts per
attribute; switching language is then one generic loop that returns an update
for each registered widget (the approach of LLaMA-Factory's web UI engine).
"""
from __future__ import annotations

from typing import Any

import gradio as gr

from state.i18n import pick  # the one helper for (ko, en) pairs and engine Texts (state/i18n.py)

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




class UI:
    """Holds the current start-up language and every registered translatable widget."""

    def __init__(self, lang: str = "ko"):
        self.lang = lang if lang in LANGS else "ko"
        self._items: list[tuple[Any, dict[str, tuple[str, str]]]] = []
        self._hooks: list[tuple] = []
        self.lang_box: gr.Radio | None = None

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
        """Re-render something that depends on the language (a table, a figure) after a switch. These run once
        every registered label has changed (chained with .then): run together with the relabelling, a slow one
        (a torch import, a Kiwi start) held every label back for ~10 s."""
        self._hooks.append((fn, inputs, outputs, kw))

    def wire_switch(self) -> None:
        """Connect the language radio: relabel everything at once, then the language-dependent re-renders."""
        switched = self.lang_box.change(lambda lg: self.updates(lg), [self.lang_box], self.components(), queue=False,
                                        show_progress="hidden")
        for fn, inputs, outputs, kw in self._hooks:
            switched.then(fn, inputs, outputs, **kw)

    def updates(self, lang: str) -> list:
        out = []
        for comp, pairs in self._items:
            kw = {attr: pick(pair, lang) for attr, pair in pairs.items()}
            out.append(gr.update(**kw))
        return out

    def components(self) -> list:
        return [c for c, _ in self._items]
