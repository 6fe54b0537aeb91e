"""CLI subcommands: one module per command group, each with `register(subparsers)`.

The list is closed and explicit (no plugin discovery). A new command group adds its module here.
"""

from __future__ import annotations

import argparse

from genlab.cli import (
    attention_cmd,
    compress_cmd,
    export_cmd,
    feedback_cmd,
    generate_cmd,
    report_cmd,
    runs_cmd,
    sample_cmd,
    schedule_cmd,
    screen_cmd,
    serve_cmd,
    store_cmd,
    sweep_cmd,
    train_cmd,
    translate_cmd,
)

COMMAND_MODULES = [
    train_cmd,
    runs_cmd,
    sample_cmd,
    sweep_cmd,
    translate_cmd,
    generate_cmd,
    screen_cmd,
    report_cmd,
    export_cmd,
    compress_cmd,
    serve_cmd,
    feedback_cmd,
    schedule_cmd,
    attention_cmd,
    store_cmd,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m genlab",
        description="GenLab: train, track and use generative models from the command line. "
        "Every command has --help; runs are kept in GENLAB_HOME (default ./genlab_home).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser
