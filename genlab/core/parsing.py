"""From YAML, a form or `--set` overrides to a validated RunConfig of the right family.

It sits above the registry (it needs the family's config class) and below everything that reads a
config, so neither genlab/core/config.py nor a family file imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from genlab.core.config import ConfigError, RunConfig
from genlab.core.registry import FAMILIES, get_family


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
        shown = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
        lines.append(f"{path}: {msg}{shown}")
    return "Invalid config:\n  " + "\n  ".join(lines)


def parse_config(raw: dict[str, Any] | RunConfig) -> RunConfig:
    """Validate a plain dict (from YAML, a form, or --set) into the family's RunConfig subclass."""
    if isinstance(raw, RunConfig):
        return raw  # already parsed (and re-validated on every assignment)
    if not isinstance(raw, dict):
        raise ConfigError(f"Invalid config: expected a mapping of keys to values, got {type(raw).__name__}")
    if "family" not in raw:
        raise ConfigError(f"Invalid config:\n  family: missing; choose one of: {', '.join(FAMILIES)}")
    family = get_family(str(raw["family"]))
    try:
        return family.config_cls.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, family.config_cls)) from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """Read a YAML config file, apply `key.path=value` overrides, and validate it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None
    return parse_config(apply_overrides(raw or {}, overrides or []))


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `a.b.c=value` strings (value parsed as YAML, so 0.1, true, [1,2] keep their types)."""
    raw = yaml.safe_load(yaml.safe_dump(raw))  # deep copy of plain data
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects key.path=value, got {item!r}")
        key, _, text = item.partition("=")
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise ConfigError(f"--set expects key.path=value, got {item!r}")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        node = raw
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return raw


def field_schema(cls: type[BaseModel]) -> dict[str, Any]:
    """JSON schema of a config class: what the UI form generator reads (types, bounds, descriptions)."""
    return cls.model_json_schema()
