"""From YAML, a form or `--set` overrides to a validated RunConfig of the right family.

It sits above the registry (it needs the family's config class) and below everything that reads a
config, so neither genlab/core/config.py nor a family file imports it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from genlab.core.config import ConfigError, RunConfig
from genlab.core.excerpt import short_repr
from genlab.core.registry import FAMILIES, get_family
from genlab.core.safe_yaml import load_yaml, read_yaml_file


def _allowed_keys(cls: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """Walk a model class along an error location to list the keys allowed where a bad key stood."""
    current: Any = cls
    for part in loc[:-1]:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = field.annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return None


def format_validation_error(err: ValidationError, cls: type[BaseModel]) -> str:
    """One line per problem: `field.path: what is wrong (got value)`."""
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        path = ".".join(str(p) for p in loc) or "(config)"
        if e["type"] == "extra_forbidden":
            allowed = _allowed_keys(cls, loc)
            msg = "unknown key" + (f"; allowed keys here: {', '.join(allowed)}" if allowed else "")
            lines.append(f"{path}: {msg}")
            continue
        msg = e["msg"].removeprefix("Value error, ")
        got = e.get("input")
        shown = "" if isinstance(got, dict) or got is None else f" (got {short_repr(got)})"
        lines.append(f"{path}: {msg}{shown}")
    return "Invalid config:\n  " + "\n  ".join(lines)


def parse_config(raw: dict[str, Any] | RunConfig) -> RunConfig:
    """Validate a plain dict (from YAML, a form, or --set) into the family's RunConfig subclass."""
    if isinstance(raw, RunConfig):
        return raw  # already parsed (and re-validated on every assignment)
    if not isinstance(raw, dict):
        raise ConfigError(f"Invalid config: expected a mapping of keys to values, got {type(raw).__name__}")
    if not all(isinstance(k, str) for k in raw):
        raise ConfigError("Invalid config: every top-level key must be text (e.g. family, model, optim)")
    if "family" not in raw:
        raise ConfigError(f"Invalid config:\n  family: missing; choose one of: {', '.join(FAMILIES)}")
    family = get_family(str(raw["family"]))
    try:
        return family.config_cls.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, family.config_cls)) from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """Read a YAML config file, apply `key.path=value` overrides, and validate it."""
    raw = read_yaml_file(path)
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(
            f"Invalid config: {path} holds a {type(raw).__name__}, not a mapping of keys to values (family: ..., optim: ...)"
        )
    return parse_config(apply_overrides(raw or {}, overrides or []))


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `a.b.c=value` strings (value parsed as YAML, so 0.1, true, [1,2] keep their types)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"Invalid config: expected a mapping of keys to values, got {type(raw).__name__}")
    raw = copy.deepcopy(raw)  # keeps shared values shared (a YAML dump would expand them)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects key.path=value, got {short_repr(item)}")
        key, _, text = item.partition("=")
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise ConfigError(f"--set expects key.path=value, got {short_repr(item)}")
        value = _override_value(key, text)
        node = raw
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return raw


def _override_value(key: str, text: str) -> Any:
    """A `--set` value as YAML (0.1, true, [1, 2] keep their types), within the same limits as a file;
    text that is not valid YAML stays text for the schema to judge."""
    if not text.strip():
        return ""
    try:
        return load_yaml(text, f"--set {key.strip()}")
    except ConfigError as err:
        if "is not valid YAML" in str(err):
            return text
        raise


def field_schema(cls: type[BaseModel]) -> dict[str, Any]:
    """JSON schema of a config class: what the UI form generator reads (types, bounds, descriptions)."""
    return cls.model_json_schema()
