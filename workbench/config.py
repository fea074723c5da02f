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


class ConfigError(ValueError):
    """One or more invalid config fields. `errors` is a list of (field, message)."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{f}: {m}" if f else m for f, m in errors))


def param(default: Any, *, ko: str, en: str, help_ko: str = "", help_en: str = "", choices: list | None = None,
          min: float | None = None, max: float | None = None, step: float | None = None, advanced: bool = False,
          multiline: bool = False) -> Any:
    """A config field with the metadata that the form, the CLI help and validation need."""
    meta = dict(ko=ko, en=en, help_ko=help_ko, help_en=help_en, choices=choices, min=min, max=max, step=step,
                advanced=advanced, multiline=multiline)
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
        raise ConfigError([(name, f"{value!r} is not one of {list(args)}")])
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ConfigError([(name, f"{value!r} is not true/false: use true or false")])
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError([(name, f"{value!r} is not a whole number")])
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
        raise ConfigError([(name, f"{value!r} is not a whole number: give an integer such as 8")])
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError([(name, f"{value!r} is not a number")])
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ConfigError([(name, f"{value!r} is not a number: give a value such as 0.5 or 3e-4")])
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
                    raise ConfigError([(name, f"cannot read the list {s!r}: {e.msg}")]) from None
            else:
                value = [v.strip() for v in s.replace("\n", ",").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError([(name, f"{value!r} is not a list")])
        return [coerce(v, inner, f"{name}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as e:
                raise ConfigError([(name, f"cannot read the mapping {value!r}: {e.msg}")]) from None
        if not isinstance(value, dict):
            raise ConfigError([(name, f"{value!r} is not a mapping")])
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
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else f"; valid fields: {', '.join(names)}"
            errors.append((prefix + k, f"unknown field{hint}"))
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
                raise ConfigError([("--config", f"file '{path}' does not exist")])
            text = p.read_text(encoding="utf-8")
            try:
                if p.suffix.lower() in (".yaml", ".yml"):
                    import yaml
                    loaded = yaml.safe_load(text) or {}
                else:
                    loaded = json.loads(text) if text.strip() else {}
            except Exception as e:  # noqa: BLE001 - any parse error is reported the same way
                raise ConfigError([("--config", f"cannot parse '{path}': {e}")]) from None
            if not isinstance(loaded, dict):
                raise ConfigError([("--config", f"'{path}' must hold a mapping of field: value")])
            data.update(loaded)
        cfg = cls.from_dict(data)
        for item in sets or []:
            cfg = cfg.with_set(item)
        cfg.validate()
        return cfg

    def with_set(self, item: str) -> "StageConfig":
        """Apply one `dotted.key=value` override; returns a new config."""
        if "=" not in item:
            raise ConfigError([("--set", f"'{item}' is not key=value (e.g. --set lr=3e-4)")])
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
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                errors.append((key, f"unknown field{hint}"))
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
        for f in dataclasses.fields(cls):
            tp = hints[f.name]
            if isinstance(tp, type) and issubclass(tp, StageConfig):
                yield from tp.field_infos(prefix=f"{prefix}{f.name}.")
                continue
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            yield FieldInfo(prefix + f.name, tp, default, dict(f.metadata))

    def fields(self) -> list[FieldInfo]:
        return list(self.field_infos())

    def get(self, path: str) -> Any:
        obj = self
        for p in path.split("."):
            obj = getattr(obj, p)
        return obj

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

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
                    errors.append((fi.path, f"{v} is below the minimum {lo}: use a value >= {lo}"))
                if hi is not None and v > hi:
                    errors.append((fi.path, f"{v} is above the maximum {hi}: use a value <= {hi}"))
            if choices and v is not None:
                vals = v if isinstance(v, list) else [v]
                bad = [x for x in vals if x not in choices]
                if bad:
                    errors.append((fi.path, f"{bad[0]!r} is not one of {choices}"))
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
