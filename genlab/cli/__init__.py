"""CLI subcommands: one module per command group, each with `register(subparsers)`.

The list is closed and explicit (no plugin discovery). A new command group adds its module's `register`
to COMMANDS below, once per command name it registers (tests/test_cli.py checks the two agree). The entries
are written in the loader form "module:function", which tests/test_layers.py reads as imports.

Only the module of the command being run is imported: `genlab runs list` need not load the model
families, pydantic configs and the training stack the other commands use (that import was most of the
command's time). Help, an unknown command, or no command load them all, so argparse lists every choice.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence
from typing import Any

# command name -> the function that registers it; in the order `--help` lists them
COMMANDS: dict[str, str] = {
    "train": "genlab.cli.train_cmd:register",
    "cancel": "genlab.cli.train_cmd:register",
    "resume": "genlab.cli.train_cmd:register",
    "worker": "genlab.cli.train_cmd:register",
    "runs": "genlab.cli.runs_cmd:register",
    "sample": "genlab.cli.sample_cmd:register",
    "sweep": "genlab.cli.sweep_cmd:register",
    "translate": "genlab.cli.translate_cmd:register",
    "generate": "genlab.cli.generate_cmd:register",
    "chat": "genlab.cli.generate_cmd:register",
    "export-hf": "genlab.cli.generate_cmd:register",
    "screen": "genlab.cli.screen_cmd:register",
    "screen-data": "genlab.cli.screen_cmd:register",
    "bias-report": "genlab.cli.screen_cmd:register",
    "audit": "genlab.cli.screen_cmd:register",
    "report": "genlab.cli.report_cmd:register",
    "export": "genlab.cli.export_cmd:register",
    "prune": "genlab.cli.compress_cmd:register",
    "distill": "genlab.cli.compress_cmd:register",
    "serve": "genlab.cli.serve_cmd:register",
    "finetune-feedback": "genlab.cli.feedback_cmd:register",
    "schedule": "genlab.cli.schedule_cmd:register",
    "attention": "genlab.cli.attention_cmd:register",
    "store": "genlab.cli.store_cmd:register",
}


def command_registrars(names: Sequence[str] | None = None) -> list[Callable[[Any], None]]:
    """The `register` functions of the modules behind `names` (every module when None), each once, in
    COMMANDS' order; only those modules are imported."""
    wanted = COMMANDS if names is None else {n: COMMANDS[n] for n in names}
    out = []
    for ref in dict.fromkeys(wanted.values()):
        module, _, function = ref.partition(":")
        out.append(getattr(importlib.import_module(module), function))
    return out


def _command_word(argv: Sequence[str]) -> str | None:
    """The command `argv` runs, when it names one and asks for no top-level help."""
    for arg in argv:
        if arg.startswith("-"):
            return None  # a top-level option (--help) comes before the command: argparse needs every choice
        return arg if arg in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The CLI's parser; given the arguments about to be parsed, only their command's module is loaded."""
    parser = argparse.ArgumentParser(
        prog="python -m genlab",
        description="GenLab: train, track and use generative models from the command line. "
        "Every command has --help; runs are kept in GENLAB_HOME (default ./genlab_home).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    word = None if argv is None else _command_word(argv)
    for register in command_registrars(None if word is None else [word]):
        register(sub)
    return parser
