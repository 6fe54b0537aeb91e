"""A config form generated from a family's pydantic JSON schema.

No family-specific code: every field of every registered family gets a widget chosen from its JSON
schema type (enum -> selectbox, boolean -> toggle, integer/number -> number input with the bounds,
optional -> may be left empty, anything else -> a YAML text box). Labels come from field names, help
from the field descriptions. A field may mark itself `json_schema_extra={"advanced": True}` (folded)
or `{"advanced": False}` (always shown); otherwise a short list of everyday fields of the shared
sections is shown and the rest is folded under "Advanced".

The form returns plain data; the caller validates it with genlab.core.config.parse_config, whose error
message names the field path, so the user sees exactly what to change.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import streamlit as st
import yaml

from genlab.core.config import ConfigError
from genlab.core.parsing import field_schema
from genlab.core.safe_yaml import load_yaml

# Everyday fields of the shared sections (declared in genlab/core/config.py, not per family).
BASIC_FIELDS: dict[str, list[str]] = {
    "": ["name", "tags"],
    "data": ["source", "name", "image_size", "batch_size", "max_items"],
    "optim": ["optimizer", "lr", "schedule"],
    "trainer": ["max_epochs", "max_steps", "accelerator", "precision"],
    "logging": ["sample_every_n_steps", "n_samples", "wandb"],
}
SECTION_TITLES = {
    "model": "Model",
    "data": "Data",
    "optim": "Optimizer",
    "trainer": "Training",
    "logging": "Logging",
    "": "Run",
}
SECTION_ORDER = ["data", "model", "optim", "trainer", "logging"]
HIDDEN = {("", "family")}
WORDS = {
    "lr": "learning rate",
    "hf": "HF",
    "kl": "KL",
    "val": "validation",
    "fid": "FID",
    "ema": "EMA",
    "gpu": "GPU",
    "lora": "LoRA",
    "ddp": "DDP",
    "wandb": "W&B",
    "id": "ID",
    "unet": "U-Net",
    "l1": "L1",
    "embd": "embedding dims",
    "bpe": "BPE",
    "rnn": "RNN",
    "lstm": "LSTM",
    "gru": "GRU",
}
UNSET = object()


def humanize(name: str) -> str:
    """A readable label from a field name: n_layer -> Number of layers, lr_d -> Learning rate d."""
    words = [WORDS.get(w, w) for w in name.split("_") if w]
    if len(words) > 1 and words[0] == "n":
        last = words[-1]
        words = ["number", "of", *words[1:-1], last if last.endswith("s") or last in WORDS.values() else last + "s"]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a $ref (and a one-item allOf, which pydantic emits for refs with extra keys)."""
    if "$ref" in node:
        target = node["$ref"].split("/")[-1]
        merged = dict(schema["$defs"][target])
        merged.update({k: v for k, v in node.items() if k != "$ref"})
        return merged
    if "allOf" in node and len(node["allOf"]) == 1:
        merged = _resolve(schema, node["allOf"][0])
        merged.update({k: v for k, v in node.items() if k != "allOf"})
        return merged
    return node


def _is_section(schema: dict[str, Any], node: dict[str, Any]) -> bool:
    return "properties" in _resolve(schema, node)


def _basic(section: str, name: str, node: dict[str, Any], props: dict[str, Any], position: int) -> bool:
    if "advanced" in node:
        return not node["advanced"]
    listed = BASIC_FIELDS.get(section)
    if listed is not None and sum(1 for f in listed if f in props) >= 2:
        return name in listed
    if section == "model":
        return True
    return position < 4


def _bounds(node: dict[str, Any], integer: bool) -> tuple[float | None, float | None]:
    lo = node.get("minimum")
    hi = node.get("maximum")
    if "exclusiveMinimum" in node and integer:
        lo = node["exclusiveMinimum"] + 1
    if "exclusiveMaximum" in node and integer:
        hi = node["exclusiveMaximum"] - 1
    return lo, hi


def _float_step(value: Any, lo: float | None, hi: float | None) -> float:
    ref = abs(value) if isinstance(value, (int, float)) and value else (hi or 1.0)
    if ref <= 0 or not math.isfinite(ref):
        ref = 1.0
    return float(10 ** math.floor(math.log10(ref)))


def _help(node: dict[str, Any]) -> str:
    text = node.get("description", "")
    lo, hi = node.get("minimum", node.get("exclusiveMinimum")), node.get("maximum", node.get("exclusiveMaximum"))
    if lo is not None or hi is not None:
        text += f" (from {lo if lo is not None else '−∞'} to {hi if hi is not None else '∞'})"
    return text


def _scalar_options(node: dict[str, Any]) -> tuple[str | None, bool]:
    """The JSON type of a plain or optional field, and whether None is allowed."""
    if "anyOf" in node:
        kinds = [o for o in node["anyOf"] if o.get("type") != "null"]
        nullable = len(kinds) < len(node["anyOf"])
        if len(kinds) == 1 and "const" not in kinds[0] and "enum" not in kinds[0]:
            return kinds[0].get("type"), nullable
        return None, nullable
    return node.get("type"), False


def _widget(path: str, name: str, node: dict[str, Any], value: Any, key: str, choices: list[Any] | None) -> Any:
    label = humanize(name)
    help_text = _help(node)
    wkey = f"{key}.{path}"
    if choices is not None:
        # the suggestions depend on other fields (data.source): a new list is a new widget
        wkey += "@" + hashlib.sha1(repr(choices).encode()).hexdigest()[:8]
        options = list(dict.fromkeys([*choices, *([value] if value not in (None, "") else [])]))
        # a value the suggestions lack (a built-in's name after switching to an upload) is kept as an option,
        # but the first suggestion (the newest upload) is what a new list opens on
        index = choices.index(value) if value in choices else (0 if options else None)
        return st.selectbox(
            label,
            options,
            index=index,
            key=wkey,
            help=help_text + " — pick one or type a new one",
            accept_new_options=True,
        )
    if "enum" in node:
        options = list(node["enum"])
        index = options.index(value) if value in options else 0
        return st.selectbox(label, options, index=index, key=wkey, help=help_text)
    kind, nullable = _scalar_options(node)
    inner = node
    if "anyOf" in node and kind:
        inner = next(o for o in node["anyOf"] if o.get("type") == kind)
    if kind == "boolean" and not nullable:
        return st.toggle(label, value=bool(value), key=wkey, help=help_text)
    if kind in ("integer", "number"):
        integer = kind == "integer"
        lo, hi = _bounds(inner, integer)
        if integer:
            v = None if value is None else int(value)
            return st.number_input(
                label,
                min_value=None if lo is None else int(lo),
                max_value=None if hi is None else int(hi),
                value=v,
                step=1,
                key=wkey,
                help=help_text + (" Leave empty for none." if nullable else ""),
                placeholder="empty" if nullable else None,
            )
        v = None if value is None else float(value)
        return st.number_input(
            label,
            min_value=None if lo is None else float(lo),
            max_value=None if hi is None else float(hi),
            value=v,
            step=_float_step(v, lo, hi),
            format="%g",
            key=wkey,
            help=help_text + (" Leave empty for none." if nullable else ""),
            placeholder="empty" if nullable else None,
        )
    if kind == "string":
        text = st.text_input(
            label, value="" if value is None else str(value), key=wkey, help=help_text, max_chars=inner.get("maxLength")
        )
        return None if nullable and text.strip() == "" else text
    if kind == "array" and node.get("items", {}).get("type") == "string":
        text = st.text_area(
            label, value="\n".join(value or []), key=wkey, help=help_text + " (one per line)", height="content"
        )
        return [t.strip() for t in text.splitlines() if t.strip()]
    # Mixed or structured types (int | "auto", lists of numbers ...): a YAML value.
    shown = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
    text = st.text_input(label, value=shown, key=wkey, help=help_text + " (a YAML value, e.g. auto, 2 or [1, 2])")
    try:
        return load_yaml(text, label) if text.strip() else None
    except ConfigError:
        return text


def _fields(
    schema: dict[str, Any],
    section_node: dict[str, Any],
    section: str,
    values: dict[str, Any],
    key: str,
    choices: dict[str, list[Any]],
    prefix: str,
) -> dict[str, Any]:
    props = section_node.get("properties", {})
    out: dict[str, Any] = {}
    basic, advanced = [], []
    for i, (name, raw) in enumerate(props.items()):
        if (section, name) in HIDDEN:
            continue
        node = _resolve(schema, raw)
        if "const" in node or "properties" in node:
            continue
        (basic if _basic(section, name, node, props, i) else advanced).append((name, node))

    def render(items: list[tuple[str, dict[str, Any]]]) -> None:
        cols = st.columns(3)
        for j, (name, node) in enumerate(items):
            path = f"{prefix}{name}"
            value = values.get(name, node.get("default"))
            with cols[j % 3]:
                out[name] = _widget(path, name, node, value, key, choices.get(path))

    render(basic)
    if advanced:
        with st.expander(
            f"Advanced {SECTION_TITLES.get(section, humanize(section)).lower()} settings ({len(advanced)})",
            icon=":material/tune:",
        ):
            render(advanced)
    # keep values of hidden/const fields (family) so the dict validates
    for name, raw in props.items():
        node = _resolve(schema, raw)
        if name not in out and "properties" not in node and name in values:
            out[name] = values[name]
    return out


def config_form(
    config_cls: type, values: dict[str, Any], *, key: str, choices: dict[str, list[Any]] | None = None
) -> dict[str, Any]:
    """Render the form for a RunConfig class prefilled with `values`; return the edited plain dict.

    `choices` maps a dotted field path (e.g. "data.name") to suggested values shown as a selectbox
    that also accepts a typed value.
    """
    schema = field_schema(config_cls)
    choices = choices or {}
    props = schema["properties"]
    sections = [n for n in props if _is_section(schema, props[n])]
    ordered = [s for s in SECTION_ORDER if s in sections] + [s for s in sections if s not in SECTION_ORDER]
    result: dict[str, Any] = {}
    tabs = st.tabs([SECTION_TITLES.get(s, humanize(s)) for s in ordered] + ["Run"])
    for tab, section in zip(tabs, ordered, strict=False):
        node = _resolve(schema, props[section])
        with tab:
            if node.get("description"):
                st.caption(node["description"])
            result[section] = _fields(
                schema, node, section, values.get(section) or {}, key, choices, prefix=f"{section}."
            )
    with tabs[-1]:
        st.caption("Name, tags, seed and notes of the run")
        result.update(_fields(schema, schema, "", values, key, choices, prefix=""))
    return result


def reset_form(key: str) -> None:
    """Forget the widgets' state so the next render shows freshly loaded values."""
    for k in [k for k in st.session_state if isinstance(k, str) and k.startswith(f"{key}.")]:
        del st.session_state[k]
