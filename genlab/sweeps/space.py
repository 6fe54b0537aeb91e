"""A sweep's search space: `--set` paths mapped to ranges or choices, checked against the config class.

A space is plain data so it lives in YAML, in a family's spec and in the UI alike:

    optim.lr: {low: 0.0001, high: 0.01, log: true}
    model.latent_dim: {choices: [8, 16, 32]}
    model.beta: {low: 0.5, high: 4, step: 0.5}

Every path must name a searchable field (a number, a bool or a fixed set of values) of the family's
config; bounds come from the pydantic field, and every end of a range and every choice is also run
through the same parsing as a run's config, so a sweep can never propose a value a run would reject.
Errors name the path.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, Union

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from genlab.core.config import ConfigError, RunConfig
from genlab.core.parsing import parse_config

Kind = Literal["float", "int", "categorical"]


@dataclass(frozen=True)
class FieldSpec:
    """What a config field allows, as a sweep sees it (also what the UI's knob picker offers)."""

    path: str
    kind: Kind
    description: str
    default: Any
    low: float | None = None  # inclusive numeric bounds from ge/gt/le/lt (gt/lt nudged inside)
    high: float | None = None
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Param:
    """One searched knob: a numeric range (optionally log-scaled or stepped) or a list of choices."""

    path: str
    kind: Kind
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def to_spec(self) -> dict[str, Any]:
        if self.kind == "categorical":
            return {"choices": list(self.choices)}
        spec: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            spec["log"] = True
        if self.step is not None:
            spec["step"] = self.step
        return spec

    def grid_values(self) -> list[Any]:
        """The values a grid search tries: the choices, or low..high by step (ints default to step 1)."""
        if self.kind == "categorical":
            return list(self.choices)
        step = self.step if self.step is not None else (1 if self.kind == "int" else None)
        if step is None:
            raise ConfigError(
                f"Invalid search space:\n  {self.path}: grid search needs choices or a step for a float range"
            )
        n = int(math.floor((self.high - self.low) / step + 1e-9)) + 1
        values = [self.low + i * step for i in range(n)]
        return [int(round(v)) for v in values] if self.kind == "int" else [round(v, 12) for v in values]

    def describe(self) -> str:
        if self.kind == "categorical":
            return f"{self.path} in {list(self.choices)}"
        extra = (" log" if self.log else "") + (f" step {self.step}" if self.step is not None else "")
        return f"{self.path} in [{self.low:g}, {self.high:g}]{extra}"


def _unwrap(annotation: Any) -> list[Any]:
    """The alternatives of a union (int | None -> [int]); None is dropped, a sweep never proposes it."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _bounds(info: FieldInfo, integer: bool) -> tuple[float | None, float | None]:
    low = high = None
    nudge = 1 if integer else 0.0
    for m in info.metadata:
        if isinstance(m, at.Ge):
            low = float(m.ge)
        elif isinstance(m, at.Gt):
            low = float(m.gt) + nudge if integer else math.nextafter(float(m.gt), math.inf)
        elif isinstance(m, at.Le):
            high = float(m.le)
        elif isinstance(m, at.Lt):
            high = float(m.lt) - nudge if integer else math.nextafter(float(m.lt), -math.inf)
    return low, high


def _field_spec(path: str, info: FieldInfo) -> FieldSpec | None:
    """A FieldSpec for a searchable field, None for text, lists and nested sections."""
    kinds: set[str] = set()
    choices: list[Any] = []
    text = False  # free text (a data set's name): searchable over the choices the user lists
    for alt in _unwrap(info.annotation):
        if typing.get_origin(alt) is Literal:
            choices += list(typing.get_args(alt))
        elif alt is bool:
            choices += [True, False]
        elif alt is int:
            kinds.add("int")
        elif alt is float:
            kinds.add("float")
        elif alt is str:
            text = True
        else:
            return None
    description = info.description or ""
    if kinds:
        kind: Kind = "float" if "float" in kinds else "int"
        low, high = _bounds(info, kind == "int")
        return FieldSpec(path, kind, description, info.default, low, high, tuple(choices))
    if choices or text:
        return FieldSpec(path, "categorical", description, info.default, choices=() if text else tuple(choices))
    return None


def _section_fields(cls: type[BaseModel]) -> dict[str, FieldInfo]:
    return dict(cls.model_fields)


def field_spec(config_cls: type[RunConfig], path: str) -> FieldSpec:
    """The searchable field at a dotted path, or a ConfigError naming the path and what exists there."""
    parts = [p for p in path.split(".") if p]
    current: Any = config_cls
    info: FieldInfo | None = None
    for i, part in enumerate(parts):
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            raise ConfigError(f"Invalid search space:\n  {path}: {'.'.join(parts[:i])} has no sub-keys")
        fields = _section_fields(current)
        if part not in fields:
            raise ConfigError(
                f"Invalid search space:\n  {path}: unknown key {part!r}; allowed keys here: {', '.join(fields)}"
            )
        info = fields[part]
        current = info.annotation
    if info is None or (isinstance(current, type) and issubclass(current, BaseModel)):
        raise ConfigError(f"Invalid search space:\n  {path}: is a section; name one of its fields")
    spec = _field_spec(".".join(parts), info)
    if spec is None or parts[0] in ("family", "name", "notes", "tags"):
        raise ConfigError(
            f"Invalid search space:\n  {path}: cannot be searched (only numbers, yes/no and fixed sets of values)"
        )
    return spec


def searchable_fields(config_cls: type[RunConfig]) -> list[FieldSpec]:
    """Every field a sweep can search, in form order (the UI's knob picker lists these)."""
    out: list[FieldSpec] = []
    for section, info in config_cls.model_fields.items():
        cls = info.annotation
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
            if section == "seed":
                out.append(FieldSpec("seed", "int", info.description or "", info.default, 0, 2**31 - 1))
            continue
        for name, sub in cls.model_fields.items():
            spec = _field_spec(f"{section}.{name}", sub)
            if spec is not None:
                out.append(spec)
    return out


def set_path(raw: dict[str, Any], path: str, value: Any) -> None:
    """Set `a.b.c` in nested plain data (what `--set a.b.c=value` does)."""
    node = raw
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _number(path: str, what: str, value: Any, kind: Kind) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"Invalid search space:\n  {path}: {what} must be a number (got {value!r})")
    if kind == "int" and float(value) != int(value):
        raise ConfigError(f"Invalid search space:\n  {path}: {what} must be a whole number (got {value!r})")
    return int(value) if kind == "int" else float(value)


def parse_param(config_cls: type[RunConfig], path: str, spec: Any) -> Param:
    """One entry of a space: `{low, high, log?, step?}`, `{choices: [...]}` or a bare list of choices."""
    field = field_spec(config_cls, path)
    path = field.path
    if isinstance(spec, list):
        spec = {"choices": spec}
    if not isinstance(spec, dict):
        raise ConfigError(
            f"Invalid search space:\n  {path}: expected {{low, high}} or {{choices: [...]}} (got {spec!r})"
        )
    unknown = set(spec) - {"low", "high", "log", "step", "choices"}
    if unknown:
        raise ConfigError(
            f"Invalid search space:\n  {path}: unknown key(s) {', '.join(sorted(unknown))}; use low, high, log, step or choices"
        )
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"Invalid search space:\n  {path}: choices must be a non-empty list")
        if len(set(map(repr, choices))) != len(choices):
            raise ConfigError(f"Invalid search space:\n  {path}: choices repeat a value")
        if field.kind == "categorical" and field.choices:
            bad = [c for c in choices if c not in field.choices]
            if bad:
                raise ConfigError(
                    f"Invalid search space:\n  {path}: {bad[0]!r} is not allowed; choose from {list(field.choices)}"
                )
        return Param(path, "categorical", choices=tuple(choices))
    if field.kind == "categorical":
        allowed = f" from {list(field.choices)}" if field.choices else ""
        raise ConfigError(f"Invalid search space:\n  {path}: takes a list of choices{allowed}, not a range")
    if "low" not in spec or "high" not in spec:
        raise ConfigError(f"Invalid search space:\n  {path}: a range needs both low and high")
    low = _number(path, "low", spec["low"], field.kind)
    high = _number(path, "high", spec["high"], field.kind)
    if not low < high:
        raise ConfigError(f"Invalid search space:\n  {path}: empty range (low {low:g} must be below high {high:g})")
    if field.low is not None and low < field.low:
        raise ConfigError(f"Invalid search space:\n  {path}: low {low:g} is below the field's minimum {field.low:g}")
    if field.high is not None and high > field.high:
        raise ConfigError(f"Invalid search space:\n  {path}: high {high:g} is above the field's maximum {field.high:g}")
    log = bool(spec.get("log", False))
    if log and low <= 0:
        raise ConfigError(f"Invalid search space:\n  {path}: a log range needs low > 0 (got {low:g})")
    step = spec.get("step")
    if step is not None:
        step = _number(path, "step", step, field.kind)
        if step <= 0 or step > high - low:
            raise ConfigError(f"Invalid search space:\n  {path}: step must be above 0 and at most high - low")
        if log:
            raise ConfigError(f"Invalid search space:\n  {path}: use either log or step, not both")
    return Param(path, field.kind, low=low, high=high, log=log, step=step)


def parse_space(config: RunConfig, raw: dict[str, Any] | None) -> list[Param]:
    """Validate a whole space against a base config; each end and choice must make a valid run config."""
    if not isinstance(raw, dict) or not raw:
        raise ConfigError("Invalid search space: it is empty; name at least one `--set` path to search")
    cls = type(config)
    params = [parse_param(cls, str(path), spec) for path, spec in raw.items()]
    base = config.model_dump(mode="json")
    for p in params:
        for value in p.choices if p.kind == "categorical" else (p.low, p.high):
            trial = _deep_copy(base)
            set_path(trial, p.path, value)
            try:
                parse_config(trial)
            except ConfigError as err:
                detail = str(err).removeprefix("Invalid config:").strip()
                raise ConfigError(
                    f"Invalid search space:\n  {p.path}: the value {value!r} gives an invalid run: {detail}"
                ) from None
    return params


def _deep_copy(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        k: _deep_copy(v) if isinstance(v, dict) else (list(v) if isinstance(v, list) else v) for k, v in raw.items()
    }


def apply_params(config: RunConfig, params: dict[str, Any]) -> RunConfig:
    """The base config with a trial's values set at their paths, parsed like any run config."""
    raw = config.model_dump(mode="json")
    for path, value in params.items():
        set_path(raw, path, value)
    return parse_config(raw)
