"""Forms generated from a stage's config dataclass.

The config class is the single source of truth: widget type, label, help, choices
and ranges come from its field metadata, and the form's values go back through the
same coercion and validation as the CLI's `--set`, so a bad value gets the same
message naming the field.
"""
from __future__ import annotations

import json
from typing import Any, Iterable, get_args, get_origin

import gradio as gr

from workbench.config import FieldInfo, StageConfig

from .components import AppContext


def _widget(fi: FieldInfo, value: Any, lang: str):
    label, info = fi.label(lang), fi.help(lang) or None
    meta = fi.meta
    choices = fi.choices
    origin = get_origin(fi.type)
    is_list = origin in (list, tuple)
    if choices:
        return gr.Dropdown(choices=choices, value=value, label=label, info=info, multiselect=is_list)
    if fi.type is bool:
        return gr.Checkbox(value=value, label=label, info=info)
    base = fi.type
    if origin is not None and type(None) in get_args(fi.type):  # Optional[x]
        base = next(a for a in get_args(fi.type) if a is not type(None))
    if base in (int, float):
        lo, hi = meta.get("min"), meta.get("max")
        if base is float and lo is not None and hi is not None and hi - lo <= 1.0:
            return gr.Slider(lo, hi, value=value, step=meta.get("step") or 0.01, label=label, info=info)
        # No minimum/maximum on the widget: gradio would refuse the value with a generic toast; our own
        # validation names the field and the allowed range instead.
        return gr.Number(value=value, label=label, info=info, precision=0 if base is int else None,
                         step=meta.get("step") or (1 if base is int else None))
    if is_list:
        return gr.Textbox(value=", ".join(map(str, value or [])), label=label, info=info,
                          lines=3 if meta.get("multiline") else 1)
    if base is dict or origin is dict:
        return gr.Code(value=json.dumps(value or {}, ensure_ascii=False, indent=2), language="json", label=label)
    return gr.Textbox(value="" if value is None else str(value), label=label, info=info,
                      lines=4 if meta.get("multiline") else 1)


class ConfigForm:
    """Widgets for (a subset of) a config's fields, grouped by section, advanced ones folded away."""

    def __init__(self, ctx: AppContext, cls: type[StageConfig], *, include: Iterable[str] | None = None,
                 exclude: Iterable[str] = (), defaults: StageConfig | None = None, columns: int = 3,
                 open_sections: bool = False, flatten_sections: bool = False):
        self.ctx, self.cls = ctx, cls
        cfg = defaults or cls()
        inc = list(include) if include is not None else None
        infos = [fi for fi in cls.field_infos()
                 if (inc is None or any(fi.path == p or fi.path.startswith(p + ".") for p in inc))
                 and not any(fi.path == p or fi.path.startswith(p + ".") for p in exclude)]
        if inc is not None:  # keep the caller's order
            infos.sort(key=lambda fi: next(i for i, p in enumerate(inc) if fi.path == p or fi.path.startswith(p + ".")))
        self.infos = infos
        self.widgets: dict[str, gr.components.Component] = {}
        lang = ctx.ui.lang
        sections: dict[str, list[FieldInfo]] = {}
        for fi in infos:
            sec = "" if flatten_sections or "." not in fi.path else fi.path.rsplit(".", 1)[0]
            sections.setdefault(sec, []).append(fi)
        for sec, fis in sections.items():
            if sec == "":
                self._group(fis, cfg, lang, columns)
            else:
                label = self._section_label(sec)
                with gr.Accordion(ctx.ui.text(label), open=open_sections) as acc:
                    self._group(fis, cfg, lang, columns)
                ctx.ui.reg(acc, label=label)
        # Widgets are laid out section by section, which can differ from field order (a plain field after a
        # section): keep infos in widget order so `components` and `to_config` values line up.
        by_path = {fi.path: fi for fi in infos}
        self.infos = [by_path[p] for p in self.widgets]
        self._wire_visibility(cfg)

    def _wire_visibility(self, cfg: StageConfig) -> None:
        """Fields the config declares `visible_when=(other, values)` show only while `other` has one of the
        values: set at build from the defaults, and followed when the person changes `other` in this form."""
        ruled: dict[str, list[FieldInfo]] = {}
        for fi in self.infos:
            rule = fi.meta.get("visible_when")
            if rule and rule[0] in self.widgets:
                ruled.setdefault(rule[0], []).append(fi)
                self.widgets[fi.path].visible = fi.visible({rule[0]: cfg.get(rule[0])})
        for other, fis in ruled.items():
            def follow(value, fis=fis, other=other):
                return [gr.update(visible=fi.visible({other: value})) for fi in fis]
            self.widgets[other].change(follow, [self.widgets[other]], [self.widgets[fi.path] for fi in fis],
                                       queue=False, show_progress="hidden")

    def _group(self, fis: list[FieldInfo], cfg: StageConfig, lang: str, columns: int) -> None:
        """Plain fields in a grid; fields marked advanced folded into an accordion of their own."""
        basic = [fi for fi in fis if not fi.meta.get("advanced")]
        advanced = [fi for fi in fis if fi.meta.get("advanced")]
        self._grid(basic, cfg, lang, columns)
        if advanced:
            label = ("고급 설정", "Advanced settings")
            with gr.Accordion(self.ctx.ui.text(label), open=False) as acc:
                self._grid(advanced, cfg, lang, columns)
            self.ctx.ui.reg(acc, label=label)

    def _section_label(self, sec: str) -> tuple[str, str]:
        import dataclasses
        import typing
        obj: Any = self.cls
        meta: dict = {}
        for part in sec.split("."):
            f = next(f for f in dataclasses.fields(obj) if f.name == part)
            meta = dict(f.metadata)
            obj = typing.get_type_hints(obj)[part]
        return (meta.get("ko", sec), meta.get("en", sec))

    def _grid(self, fis: list[FieldInfo], cfg: StageConfig, lang: str, columns: int) -> None:
        for i in range(0, len(fis), columns):
            with gr.Row():
                for fi in fis[i:i + columns]:
                    w = _widget(fi, cfg.get(fi.path), lang)
                    texts = field_texts(fi)
                    if isinstance(w, gr.Code):  # a code box has a label but no info line: an update with one fails
                        texts.pop("info", None)
                    self.ctx.ui.reg(w, **texts)
                    self.widgets[fi.path] = w

    @property
    def components(self) -> list:
        """Widgets in `infos` order (the order to_config and values_of use)."""
        return [self.widgets[fi.path] for fi in self.infos]

    def to_config(self, values: list | tuple, base: StageConfig | None = None, **extra) -> StageConfig:
        """Build and validate a config from widget values (in `components` order). Raises ConfigError."""
        updates = {}
        for fi, v in zip(self.infos, values):
            if isinstance(v, float) and fi.type is int and v is not None:
                v = int(v) if v.is_integer() else v
            updates[fi.path] = v
        updates.update(extra)
        cfg = (base or self.cls()).replace(**updates)
        return cfg.validate()

    def values_of(self, cfg: StageConfig) -> list:
        """Widget values for a config (to load a saved run's config into the form)."""
        out = []
        for fi in self.infos:
            v = cfg.get(fi.path)
            w = self.widgets[fi.path]
            if isinstance(w, gr.Textbox) and isinstance(v, list):
                v = ", ".join(map(str, v))
            elif isinstance(w, gr.Code):
                v = json.dumps(v, ensure_ascii=False, indent=2)
            out.append(v)
        return out


def field_texts(fi: FieldInfo) -> dict[str, tuple[str, str]]:
    """The (ko, en) label and help of a config field, to register a widget built from it (or by hand, e.g. an
    artifact picker for a config field) with the language switch: the config holds the words, once."""
    out = {"label": fi.pair("label")}
    if fi.meta.get("help_ko") or fi.meta.get("help_en"):
        out["info"] = fi.pair("help")
    return out
