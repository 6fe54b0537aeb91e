"""`sample`: draw images from a trained image run into a PNG grid (the Playground's CLI twin)."""

from __future__ import annotations

import argparse

from genlab.core.registry import names_that_can
from genlab.store.runs import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sample",
        help="draw images from a trained image run into a PNG grid",
        description="Sample new images from a run whose model generates images "
        f"({names_that_can('ImageSampler', ', ')}). The same seed gives the same images; --labels picks classes of a conditional model.",
    )
    p.add_argument("run_id", help="an image run (see: python -m genlab runs list)")
    p.add_argument("--n", type=int, default=16, help="how many images (1-256, default 16)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--labels",
        type=int,
        nargs="+",
        help="class index for all images, or one per image (conditional models only)",
    )
    p.add_argument("--sampler", help="denoising runs: ddpm, ddim, dpmsolver++ or euler (default: the run's)")
    p.add_argument("--steps", type=int, help="denoising runs: sampling steps (default: the run's)")
    p.add_argument("--guidance", type=float, help="conditional denoising runs: classifier-free guidance scale")
    p.add_argument(
        "--truncation",
        type=float,
        help=f"truncation trick, 0 to 1 (1: none; smaller: less variety, closer to the average image); "
        f"{names_that_can('Truncatable', ', ')} runs (default: the run's)",
    )
    p.add_argument("--out", default="samples.png", help="the PNG grid to write (default ./samples.png)")
    p.add_argument("--checkpoint", choices=["best", "last"], help="which checkpoint (default: the family's choice)")
    p.set_defaults(handler=_sample)


def _sample(args: argparse.Namespace) -> int:
    from genlab.use.sample import sample_grid

    labels = None if args.labels is None else (args.labels[0] if len(args.labels) == 1 else args.labels)
    out = sample_grid(
        RunStore(),
        args.run_id,
        args.out,
        n=args.n,
        seed=args.seed,
        labels=labels,
        which=args.checkpoint,
        options={"sampler": args.sampler, "steps": args.steps, "guidance_scale": args.guidance},
        truncation=args.truncation,
    )
    print(out)
    return 0
