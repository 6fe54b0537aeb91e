"""CLI subcommands: one module per command group, each with `register(subparsers)`.

The list is closed and explicit (no plugin discovery). A new command group adds its module and its
command names to COMMANDS below (tests/test_cli_commands.py checks the two agree).

Only the module of the command being run is imported: `genlab runs list` need not load the model
families, pydantic configs and the training stack the other commands use (that import was most of the
command's time). Help, an unknown command, or no command load them all, so argparse lists every choice.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from types import ModuleType

# command name -> the module under genlab.cli that registers it; in the order `--help` lists them
COMMANDS: dict[str, str] = {
    "train": "train_cmd",
    "cancel": "train_cmd",
    "resume": "train_cmd",
    "worker": "train_cmd",
    "runs": "runs_cmd",
    "sample": "sample_cmd",
    "sweep": "sweep_cmd",
    "translate": "translate_cmd",
    "generate": "generate_cmd",
    "chat": "generate_cmd",
    "export-hf": "generate_cmd",
    "screen": "screen_cmd",
    "screen-data": "screen_cmd",
    "bias-report": "screen_cmd",
    "audit": "screen_cmd",
    "report": "report_cmd",
    "export": "export_cmd",
    "prune": "compress_cmd",
    "distill": "compress_cmd",
    "serve": "serve_cmd",
    "finetune-feedback": "feedback_cmd",
    "schedule": "schedule_cmd",
    "attention": "attention_cmd",
    "store": "store_cmd",
}


def command_modules(names: Sequence[str] | None = None) -> list[ModuleType]:
    """The modules registering `names` (every module when None), each once, in COMMANDS' order."""
    wanted = COMMANDS if names is None else {n: COMMANDS[n] for n in names}
    return [importlib.import_module(f"genlab.cli.{m}") for m in dict.fromkeys(wanted.values())]


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
    for module in command_modules(None if word is None else [word]):
        module.register(sub)
    return parser
