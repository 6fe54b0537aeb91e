"""YAML with limits, for every config a person hands us (CLI files, `--set` values, the Train page's
upload, search spaces, safety files): a 363-byte billion-laughs file must not cost gigabytes, and a
deeply nested one must not end in a RecursionError.

Limits are checked while composing, before any Python object is built: the text's size, the nesting
depth, the number of aliases, and the size of the document with every alias expanded (what a later
copy or print of the value would cost).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from genlab.core.config import ConfigError

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 40
MAX_ALIASES = 200
MAX_EXPANDED_NODES = 100_000


class _BoundedLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise ConfigError(f"uses more than {MAX_ALIASES} aliases (*name); write the values out")
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ConfigError(f"is nested more than {MAX_DEPTH} levels deep")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _expanded_size(node: Node, memo: dict[int, int]) -> int:
    """Nodes in the document once every alias is expanded (shared nodes counted each time they appear)."""
    if id(node) in memo:
        return memo[id(node)]
    memo[id(node)] = 1  # a node that contains itself counts once; the limit on depth stops the rest
    total = 1
    if isinstance(node, SequenceNode):
        total += sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, MappingNode):
        total += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    memo[id(node)] = min(total, MAX_EXPANDED_NODES + 1)
    return memo[id(node)]


def load_yaml(text: str, what: str = "the YAML") -> Any:
    """Parse `text` as YAML within the limits; ConfigError naming `what` otherwise."""
    if len(text) > MAX_BYTES:
        raise ConfigError(f"{what} is larger than {MAX_BYTES // 1024} KB; a config is a few KB")
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            raise ConfigError(f"expands to more than {MAX_EXPANDED_NODES:,} values through its aliases; write it out")
        return loader.construct_document(node)
    except ConfigError as err:
        raise ConfigError(f"{what} {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{what} is not valid YAML: {str(err)[:300]}") from None
    except RecursionError:
        raise ConfigError(f"{what} is nested too deeply") from None
    finally:
        loader.dispose()


def read_yaml_file(path: str | Path, what: str = "Config file") -> Any:
    """A YAML file read within the limits: a folder, a device or a missing file each get their own message."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{what} {path} is a folder; name a .yaml file")
    if not path.exists():
        raise ConfigError(f"{what} not found: {path}")
    if not path.is_file():
        raise ConfigError(f"{what} {path} is not a regular file (a device or a pipe); name a .yaml file")
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not valid YAML: it is not UTF-8 text") from None
    except OSError as err:
        raise ConfigError(f"{what} {path} cannot be read ({err.strerror or type(err).__name__})") from None
    return load_yaml(text, str(path))
