"""No file outside a family's own two files names that family or imports its module: the engine, CLI,
server, UI, callbacks, data modules and the shared model and config files ask for capabilities.

A family's own files are genlab/families/<name>.py and lightning_modules/<name>.py; the registry's list
(genlab/core/registry.py) imports every spec. Everywhere else, a family's name used as a string or inside an
identifier (`family == "gpt"`, `GPTModule`, `default_gpt_student`), or an import of a family's spec or
module file, fails with file:line. Docstrings and comments may mention families (they explain, they do
not branch). The planted cases at the end prove the scanner catches each kind.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

from genlab.core.paths import PROJECT_ROOT
from genlab.core.registry import FAMILIES

SCANNED = ("genlab", "lightning_modules", "callbacks", "datamodules", "ui")
REGISTRY = Path("genlab/core/registry.py")
# (file, family): why the name there is not family knowledge. Keep this list short and say why.
ALLOWED: dict[tuple[str, str], str] = {
    ("datamodules/corpora.py", "gpt"): "ShareGPT's chat format names its assistant role 'gpt'",
    ("ui/widgets/config_form.py", "rnn"): "spells the abbreviation in field labels (rnn_type -> RNN type)",
    ("genlab/safety/screeners.py", "bert"): "the Detoxify screen's own Hugging Face model id (bert-base-uncased)",
    (
        "datamodules/labelled_text.py",
        "bert",
    ): "tokenizers' WordPiece pieces are called BertNormalizer and BertPreTokenizer",
}

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z0-9]+|[A-Z0-9]+")


def tokens(text: str) -> set[str]:
    """Lower-case words of an identifier or string, split at `_`, punctuation and camel case, with each
    pair of neighbours joined too (CycleGANModule -> cycle, gan, cyclegan, module, ...). A name with a
    version (GPT-2) is another name; a preset's path in an example (configs/<preset>.yaml) names a file."""
    text = re.sub(r"configs/[\w.-]+\.yaml", " ", text)
    text = re.sub(r"([A-Za-z])-(\d)", r"\1\2", text)
    out: set[str] = set()
    for chunk in re.findall(r"[A-Za-z0-9]+", text):
        words = [w.lower() for w in _WORD.findall(chunk)]
        out.update(words)
        out.update(a + b for a, b in zip(words, words[1:], strict=False))
    return out


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _names(node: ast.AST) -> Iterable[str]:
    """The identifiers a node introduces or uses."""
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.Attribute):
        yield node.attr
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        yield node.name
    elif isinstance(node, ast.arg):
        yield node.arg
    elif isinstance(node, ast.keyword) and node.arg:
        yield node.arg
    elif isinstance(node, ast.alias):
        yield node.asname or node.name.rpartition(".")[2]


def _imported_modules(node: ast.AST) -> Iterable[str]:
    if isinstance(node, ast.Import):
        yield from (a.name for a in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module:
        yield node.module
        yield from (f"{node.module}.{a.name}" for a in node.names)


def family_mentions(source: str, families: Iterable[str]) -> list[tuple[int, str, str]]:
    """(line, family, what) for every use of a family's name in `source` outside docstrings and comments."""
    names = set(families)
    family_files = {f"{pkg}.{name}" for name in names for pkg in ("lightning_modules", "genlab.families")}
    tree = ast.parse(source)
    docs = _docstrings(tree)
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        for module in _imported_modules(node):
            for target in family_files & {module, module.rpartition(".")[0]}:
                found.append((line, target.rpartition(".")[2], f"imports {target}"))
            if module.startswith("lightning_modules."):  # a family's split-out nets (lightning_modules/<name>_*.py)
                for name in names & tokens(module.split(".")[1]):
                    found.append((line, name, f"imports {module}"))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            for name in names & tokens(node.value):
                found.append((line, name, f"string {node.value[:60]!r}"))
        for ident in _names(node):
            for name in names & tokens(ident):
                found.append((line, name, f"identifier {ident}"))
    return sorted(set(found))


def own_files(name: str) -> set[Path]:
    """A family's own files: its spec, its module and nets split out of its module (lightning_modules/<name>_*.py)."""
    split = {p.relative_to(PROJECT_ROOT) for p in (PROJECT_ROOT / "lightning_modules").glob(f"{name}_*.py")}
    return {Path(f"genlab/families/{name}.py"), Path(f"lightning_modules/{name}.py"), *split}


def scanned_files() -> list[Path]:
    own = set().union(*(own_files(name) for name in FAMILIES))
    files = []
    for pkg in SCANNED:
        for path in sorted((PROJECT_ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(PROJECT_ROOT)
            if rel not in own:
                files.append(rel)
    return files


def test_no_file_outside_a_family_names_it() -> None:
    bad = []
    for rel in scanned_files():
        for line, family, what in family_mentions((PROJECT_ROOT / rel).read_text(encoding="utf-8"), FAMILIES):
            if rel == REGISTRY and what.startswith(("imports genlab.families.", "identifier ")):
                continue  # the registry's list: one import line per family
            if (rel.as_posix(), family) in ALLOWED:
                continue
            bad.append(f"{rel}:{line}: {family}: {what}")
    assert not bad, "family knowledge outside the family's own files (ask for a capability):\n" + "\n".join(bad)


def test_the_scan_covers_the_engine_cli_server_ui_and_shared_files() -> None:
    files = {p.as_posix() for p in scanned_files()}
    for expected in (
        "genlab/compress/distill.py",
        "genlab/use/feedback.py",
        "genlab/use/generate.py",
        "genlab/cli/generate_cmd.py",
        "genlab/serve/app.py",
        "ui/app.py",
        "callbacks/samples.py",
        "datamodules/text.py",
        "lightning_modules/gan_common.py",
        "genlab/families/gan_common.py",
        "genlab/runner/build.py",
    ):
        assert expected in files, expected
    assert "lightning_modules/gpt.py" not in files and "genlab/families/gpt.py" not in files


def test_a_planted_family_branch_import_and_class_are_caught() -> None:
    planted = '''
"""Docstrings may say GPT and DCGAN."""
from lightning_modules.gpt import GPTModule
from genlab.families import cyclegan
import lightning_modules.pix2pix
from lightning_modules.gpt_native import NativeGPT as Net

def can_finetune(run):
    # comments may say vae
    return run.family == "gpt" and isinstance(run, GPTModule)

def student(raw):
    return [f"needs a cgan run: {raw}"]

class CycleGANHelper:
    def use(self, tokenizer="gpt2", vocab="GPT-2", example="configs/vae_mnist.yaml"):
        return tokenizer
'''
    hits = family_mentions(planted, ["gpt", "dcgan", "cgan", "cyclegan", "pix2pix", "vae"])
    said = {(line, family) for line, family, _ in hits}
    assert (3, "gpt") in said, hits  # from lightning_modules.gpt import GPTModule
    assert (4, "cyclegan") in said, hits  # from genlab.families import cyclegan
    assert (5, "pix2pix") in said, hits  # import lightning_modules.pix2pix
    assert (6, "gpt") in said, hits  # a family's split-out nets, imported under another name
    assert (10, "gpt") in said, hits  # family == "gpt", GPTModule
    assert (13, "cgan") in said, hits  # an f-string's text
    assert (15, "cyclegan") in said, hits  # a class named after a family
    assert not {f for _, f in said} & {"dcgan", "vae"}, "docstrings and comments are not branches"
    assert (16, "gpt") not in said, "gpt2 and GPT-2 (a tokenizer) are not the gpt family; a preset path names a file"
