"""Stage configs: one dataclass per stage is the single source of truth.

The same class drives the CLI (`--config FILE`, `--set a.b=value`), the saved run
config, the UI form (labels, help, choices, ranges come from field metadata) and
validation. Bad values raise ConfigError naming the field and the fix, before any
work starts.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal, get_args, get_origin

from .i18n import Text, join, say


class ConfigError(ValueError):
    """One or more invalid config fields. `errors` is a list of (field, message); a message is a Text (both
    languages, see workbench.i18n) or a plain string."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors
        self.text = join("; ", [(Text(f"{f}: ") + m) if f else m for f, m in errors])
        super().__init__(self.text)


def param(default: Any, *, ko: str, en: str, help_ko: str = "", help_en: str = "", choices: list | None = None,
          min: float | None = None, max: float | None = None, step: float | None = None, advanced: bool = False,
          multiline: bool = False, visible_when: tuple[str, Any] | None = None, above: float | None = None,
          secret: bool = False) -> Any:
    """A config field with the metadata that the form, the CLI help and validation need.

    visible_when=("family", {"mixtral", ...}): the form shows the field only while that sibling field (same
    section) has one of these values; the value still validates and saves either way.
    above=0: the value must be greater than this (a learning rate of 0 trains nothing).
    secret=True: a credential (a Hub token): to_dict()/to_json() blank it, so the saved run config, config.json and
    the store never hold it; the CLI's recorded command hides it too (workbench.__main__)."""
    if visible_when is not None:
        other, values = visible_when
        visible_when = (other, frozenset([values] if isinstance(values, (str, bool, int)) else values))
    meta = dict(ko=ko, en=en, help_ko=help_ko, help_en=help_en, choices=choices, min=min, max=max, step=step,
                advanced=advanced, multiline=multiline, visible_when=visible_when, above=above)
    if secret:
        meta["secret"] = True
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return field(default=default, metadata=meta)


def section(cls: type, *, ko: str, en: str) -> Any:
    """A nested config (a group of fields, e.g. one step of the corpus recipe)."""
    return field(default_factory=cls, metadata=dict(ko=ko, en=en, section=True))


_TRUE = {"1", "true", "yes", "y", "on", "t"}
_FALSE = {"0", "false", "no", "n", "off", "f", ""}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp: Any, name: str) -> Any:
    """Convert a value (often a string from the CLI or a form) to the annotated type, or raise ConfigError."""
    origin, args = get_origin(tp), get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null")):
            if type(None) in args:
                return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(value, a, name)
            except ConfigError as e:
                errors.extend(e.errors)
        raise ConfigError(errors or [(name, f"cannot read {value!r}")])
    if origin is Literal:
        if value in args:
            return value
        raise ConfigError([(name, say("{v} is not one of {c}", "{v}: 다음 중 하나여야 합니다 {c}", v=repr(value),
                                      c=list(args)))])
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ConfigError([(name, say("{v} is not true/false: use true or false",
                                      "{v}: 참/거짓이 아닙니다. true 또는 false 로 쓰세요", v=repr(value)))])
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError([(name, say("{v} is not a whole number", "{v}: 정수가 아닙니다", v=repr(value)))])
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip().replace("_", ""))
            except ValueError:
                try:
                    f = float(value)
                    if f.is_integer():
                        return int(f)
                except ValueError:
                    pass
        raise ConfigError([(name, say("{v} is not a whole number: give an integer such as 8",
                                      "{v}: 정수가 아닙니다. 8 같은 정수를 쓰세요", v=repr(value)))])
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError([(name, say("{v} is not a number", "{v}: 숫자가 아닙니다", v=repr(value)))])
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ConfigError([(name, say("{v} is not a number: give a value such as 0.5 or 3e-4",
                                      "{v}: 숫자가 아닙니다. 0.5 나 3e-4 같은 값을 쓰세요", v=repr(value)))])
    if tp is str:
        if value is None:
            return ""
        return str(value)
    if origin in (list, tuple):
        inner = args[0] if args else str
        if isinstance(value, str):
            s = value.strip()
            if s.startswith("["):
                try:
                    value = json.loads(s)
                except json.JSONDecodeError as e:
                    raise ConfigError([(name, say("cannot read the list {s}: {m}", "목록 {s} 을(를) 읽을 수 없습니다: {m}",
                                                  s=repr(s), m=e.msg))]) from None
            else:
                value = [v.strip() for v in s.replace("\n", ",").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError([(name, say("{v} is not a list", "{v}: 목록이 아닙니다", v=repr(value)))])
        return [coerce(v, inner, f"{name}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as e:
                raise ConfigError([(name, say("cannot read the mapping {v}: {m}", "매핑 {v} 을(를) 읽을 수 없습니다: {m}",
                                              v=repr(value), m=e.msg))]) from None
        if not isinstance(value, dict):
            raise ConfigError([(name, say("{v} is not a mapping", "{v}: 매핑(JSON 객체)이 아닙니다", v=repr(value)))])
        return dict(value)
    if tp is Any:
        return value
    raise ConfigError([(name, f"unsupported type {_type_name(tp)}")])


@dataclass
class FieldInfo:
    path: str           # dotted path, e.g. "filters.min_chars"
    type: Any
    default: Any
    meta: dict

    def label(self, lang: str) -> str:
        return self.meta.get(lang) or self.meta.get("en") or self.path

    def help(self, lang: str) -> str:
        return self.meta.get(f"help_{lang}") or self.meta.get("help_en") or ""

    def pair(self, what: str = "label") -> tuple[str, str]:
        """(ko, en) of the field's label or help, as the UI registers it for the language switch."""
        if what == "label":
            return (self.meta.get("ko") or self.path, self.meta.get("en") or self.path)
        return (self.meta.get("help_ko") or self.meta.get("help_en") or "",
                self.meta.get("help_en") or self.meta.get("help_ko") or "")

    def visible(self, values: dict) -> bool:
        """Whether the form shows this field, given the current values of the others (path -> value)."""
        rule = self.meta.get("visible_when")
        return rule is None or values.get(rule[0]) in rule[1]

    def allowed(self) -> str:
        """What values are allowed, for --help: the choices, or the range of a number."""
        if self.choices:
            return "one of: " + ", ".join(map(str, self.choices))
        lo, hi = self.meta.get("min"), self.meta.get("max")
        if self.meta.get("above") is not None:
            return f"> {self.meta['above']}" + (f" and <= {hi}" if hi is not None else "")
        if lo is not None and hi is not None:
            return f"{lo} to {hi}"
        if lo is not None:
            return f">= {lo}"
        if hi is not None:
            return f"<= {hi}"
        return ""

    @property
    def choices(self) -> list | None:
        if self.meta.get("choices"):
            return list(self.meta["choices"])
        if get_origin(self.type) is Literal:
            return list(get_args(self.type))
        return None


def _hints(cls: type) -> dict:
    return typing.get_type_hints(cls)


class StageConfig:
    """Base of every stage config dataclass."""

    # -- building --------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict | None, prefix: str = "") -> "StageConfig":
        data = dict(data or {})
        hints = _hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in data if k not in names]
        errors: list[tuple[str, str]] = []
        for k in unknown:
            close = difflib.get_close_matches(k, names, n=1)
            if close:
                errors.append((prefix + k, say("unknown field (did you mean '{c}'?)", "없는 항목입니다 ('{c}' 인가요?)",
                                               c=prefix + close[0])))
            else:
                errors.append((prefix + k, say("unknown field; valid fields: {n}", "없는 항목입니다. 가능한 항목: {n}",
                                               n=", ".join(names))))
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            tp = hints[f.name]
            try:
                if isinstance(tp, type) and issubclass(tp, StageConfig):
                    kwargs[f.name] = tp.from_dict(data[f.name], prefix=f"{prefix}{f.name}.")
                else:
                    kwargs[f.name] = coerce(data[f.name], tp, prefix + f.name)
            except ConfigError as e:
                errors.extend(e.errors)
        if errors:
            raise ConfigError(errors)
        return cls(**kwargs)

    @classmethod
    def load(cls, path: str | Path | None = None, sets: list[str] | None = None, base: dict | None = None) -> "StageConfig":
        """Config from a JSON/YAML file, then `key=value` overrides, then validated."""
        data: dict = copy.deepcopy(base or {})
        if path:
            p = Path(path)
            if not p.is_file():
                raise ConfigError([("--config", say("file '{p}' does not exist", "파일 '{p}' 이(가) 없습니다", p=path))])
            text = p.read_text(encoding="utf-8")
            try:
                if p.suffix.lower() in (".yaml", ".yml"):
                    import yaml
                    loaded = yaml.safe_load(text) or {}
                else:
                    loaded = json.loads(text) if text.strip() else {}
            except Exception as e:  # noqa: BLE001 - any parse error is reported the same way
                raise ConfigError([("--config", say("cannot parse '{p}': {e}", "'{p}' 을(를) 읽을 수 없습니다: {e}",
                                                    p=path, e=e))]) from None
            if not isinstance(loaded, dict):
                raise ConfigError([("--config", say("'{p}' must hold a mapping of field: value",
                                                    "'{p}' 에는 항목: 값 매핑이 있어야 합니다", p=path))])
            data.update(loaded)
        cfg = cls.from_dict(data)
        for item in sets or []:
            cfg = cfg.with_set(item)
        cfg.validate()
        return cfg

    def with_set(self, item: str) -> "StageConfig":
        """Apply one `dotted.key=value` override; returns a new config."""
        if "=" not in item:
            raise ConfigError([("--set", say("'{i}' is not key=value (e.g. --set lr=3e-4)",
                                             "'{i}' 은(는) 키=값 형식이 아닙니다 (예: --set lr=3e-4)", i=item))])
        key, value = item.split("=", 1)
        return self.replace(**{key.strip(): value})

    def replace(self, **updates) -> "StageConfig":
        """A copy with dotted-path fields replaced (values coerced to the field type)."""
        new = copy.deepcopy(self)
        infos = {fi.path: fi for fi in new.fields()}
        errors = []
        for key, value in updates.items():
            if key not in infos:
                close = difflib.get_close_matches(key, list(infos), n=1)
                errors.append((key, say("unknown field (did you mean '{c}'?)", "없는 항목입니다 ('{c}' 인가요?)",
                                        c=close[0]) if close else say("unknown field", "없는 항목입니다")))
                continue
            try:
                v = coerce(value, infos[key].type, key)
            except ConfigError as e:
                errors.extend(e.errors)
                continue
            obj, *parts = [new] + key.split(".")
            for p in parts[:-1]:
                obj = getattr(obj, p)
            setattr(obj, parts[-1], v)
        if errors:
            raise ConfigError(errors)
        return new

    # -- reading ---------------------------------------------------------------
    @classmethod
    def field_infos(cls, prefix: str = "") -> Iterator[FieldInfo]:
        hints = _hints(cls)
        own = cls.__dict__.get("__annotations__", {})
        # A stage's own fields first, then those it inherits (e.g. the compute settings of training stages).
        for f in sorted(dataclasses.fields(cls), key=lambda f: f.name not in own):
            tp = hints[f.name]
            if isinstance(tp, type) and issubclass(tp, StageConfig):
                yield from tp.field_infos(prefix=f"{prefix}{f.name}.")
                continue
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            meta = dict(f.metadata)
            if meta.get("visible_when"):  # the controlling field is a sibling: give its full dotted path
                other, values = meta["visible_when"]
                meta["visible_when"] = (prefix + other, values)
            yield FieldInfo(prefix + f.name, tp, default, meta)

    @classmethod
    def field_info(cls, path: str) -> FieldInfo:
        """One field's info by dotted path (its label and help, for a widget built by hand)."""
        for fi in cls.field_infos():
            if fi.path == path:
                return fi
        raise KeyError(path)

    def fields(self) -> list[FieldInfo]:
        return list(self.field_infos())

    def get(self, path: str) -> Any:
        obj = self
        for p in path.split("."):
            obj = getattr(obj, p)
        return obj

    def to_dict(self) -> dict:
        """The config as saved (run config, config.json): secret fields (param(secret=True)) are blanked."""
        d = dataclasses.asdict(self)  # type: ignore[call-overload]
        for fi in self.field_infos():
            if fi.meta.get("secret"):
                obj, *parts = [d] + fi.path.split(".")
                for p in parts[:-1]:
                    obj = obj[p]
                if obj.get(parts[-1]):
                    obj[parts[-1]] = ""
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    def launcher_prefix(self) -> list[str]:
        """How a job of this config is started: the interpreter; training configs may ask for torchrun/accelerate
        (workbench.training.settings.ComputeSettings)."""
        import sys
        return [sys.executable]

    # -- validation ------------------------------------------------------------
    def check(self) -> list[tuple[str, str]]:
        """Cross-field rules of a stage; override. Return (field, message) pairs."""
        return []

    def validate(self) -> "StageConfig":
        errors: list[tuple[str, str]] = []
        for fi in self.fields():
            v = self.get(fi.path)
            lo, hi, choices = fi.meta.get("min"), fi.meta.get("max"), fi.choices
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                if lo is not None and v < lo:
                    errors.append((fi.path, say("{v} is below the minimum {lo}: use a value >= {lo}",
                                                "{v}: 최솟값 {lo}보다 작습니다. {lo} 이상으로 쓰세요", v=v, lo=lo)))
                above = fi.meta.get("above")
                if above is not None and v <= above:
                    errors.append((fi.path, say("{v} must be greater than {a}: at {a} nothing happens",
                                                "{v}: {a}보다 커야 합니다 ({a}이면 아무 일도 일어나지 않습니다)", v=v, a=above)))
                if hi is not None and v > hi:
                    errors.append((fi.path, say("{v} is above the maximum {hi}: use a value <= {hi}",
                                                "{v}: 최댓값 {hi}보다 큽니다. {hi} 이하로 쓰세요", v=v, hi=hi)))
            if choices and v is not None:
                vals = v if isinstance(v, list) else [v]
                bad = [x for x in vals if x not in choices]
                if bad:
                    errors.append((fi.path, say("{b} is not one of {c}", "{b}: 다음 중 하나여야 합니다 {c}",
                                                b=repr(bad[0]), c=choices)))
        errors.extend(self._checks())
        if errors:
            raise ConfigError(errors)
        return self

    def _checks(self, prefix: str = "") -> list[tuple[str, str]]:
        """check() of this config and of every nested section, with dotted field names."""
        out = [(prefix + f if f else f, m) for f, m in self.check()]
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, StageConfig):
                out.extend(v._checks(f"{prefix}{f.name}."))
        return out
