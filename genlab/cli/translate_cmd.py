"""`translate`: translate images with a trained translation run (the Playground's CLI twin): a direction
(AtoB/BtoA) for two-domain runs, a target domain (--domain) for multi-domain runs."""

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
        f"{names_that_can('Translator', '/')} run, or into a target domain of a multi-domain "
        f"({names_that_can('MultiDomainTranslator', '/')}) run (every domain when --domain is left out). Images of "
        "any size are padded to a square, resized to the model's size and restored to their own size.",
    )
    p.add_argument(
        "run_id", help=f"a {names_that_can('Translator')} run (see: python -m genlab runs list --family NAME)"
    )
    p.add_argument("images", nargs="+", help="image files to translate (PNG, JPEG, ...)")
    p.add_argument("--direction", choices=["AtoB", "BtoA"], help="which way to translate (default: the model's first)")
    p.add_argument(
        "--domain",
        metavar="NAME",
        help="multi-domain runs: the target domain's name (see `runs show`; default: every domain, one file each)",
    )
    p.add_argument("--out", default="translated", help="output folder (default: ./translated)")
    p.add_argument(
        "--checkpoint", choices=["best", "last"], default="best", help="which checkpoint to use (default best)"
    )
    p.set_defaults(handler=_translate)


def _translate(args: argparse.Namespace) -> int:
    from genlab.core.errors import GenLabError
    from genlab.core.registry import get_family
    from genlab.use.translate import translate_files

    store = RunStore()
    if args.domain is not None or args.direction is not None:
        multi = get_family(store.get(args.run_id).family).can("MultiDomainTranslator")
        if args.domain is not None and args.direction is not None:
            raise GenLabError("give --direction (two-domain runs) or --domain (multi-domain runs), not both")
        if args.domain is not None and not multi:
            raise GenLabError(f"run {args.run_id} translates between two domains: use --direction AtoB or BtoA")
        if args.direction is not None and multi:
            raise GenLabError(f"run {args.run_id} has several target domains: name one with --domain")
    target = args.domain if args.domain is not None else args.direction
    written = translate_files(store, args.run_id, [Path(p) for p in args.images], args.out, target, args.checkpoint)
    for path in written:
        print(path)
    return 0
