"""`translate`: translate images with a trained CycleGAN or pix2pix run (the Playground's CLI twin)."""

from __future__ import annotations

import argparse
from pathlib import Path

from genlab.core.registry import names_that_can
from genlab.store.runs import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "translate",
        help=f"translate images with a {names_that_can('Translator')} run",
        description="Translate one or more images A->B or B->A with a trained "
        f"{names_that_can('Translator', '/')} run. Images of any "
        "size are padded to a square, resized to the model's size and restored to their own size.",
    )
    p.add_argument(
        "run_id", help=f"a {names_that_can('Translator')} run (see: python -m genlab runs list --family NAME)"
    )
    p.add_argument("images", nargs="+", help="image files to translate (PNG, JPEG, ...)")
    p.add_argument("--direction", choices=["AtoB", "BtoA"], help="which way to translate (default: the model's first)")
    p.add_argument("--out", default="translated", help="output folder (default: ./translated)")
    p.add_argument(
        "--checkpoint", choices=["best", "last"], default="best", help="which checkpoint to use (default best)"
    )
    p.set_defaults(handler=_translate)


def _translate(args: argparse.Namespace) -> int:
    from genlab.use.translate import translate_files

    store = RunStore()
    written = translate_files(
        store, args.run_id, [Path(p) for p in args.images], args.out, args.direction, args.checkpoint
    )
    for path in written:
        print(path)
    return 0
