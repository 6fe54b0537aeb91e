"""`report RUN_ID... [--out F] [--wandb]`: a team report of runs, as one HTML file and optionally on W&B."""

from __future__ import annotations

import argparse

from genlab.share import report, wandb_report
from genlab.store.runs import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="a shareable report of runs (self-contained HTML; --wandb also saves a W&B Report)",
        description="Write a self-contained HTML report of runs (interactive curves, sample grids, config "
        "diff, metric table, screened text samples) that opens with no server. With --wandb, also save a "
        "W&B Report with WANDB_API_KEY from the environment and record its URL on the runs.",
    )
    p.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="runs to include (see `runs list`)")
    p.add_argument("--out", help="HTML file to write (default: genlab-report.html in the current folder)")
    p.add_argument("--title", default="", help="report title (default: from the run names)")
    p.add_argument("--description", default="", help="a line or two on what the report shows")
    p.add_argument("--metrics", default="", help="comma-separated metrics to plot (default: those all runs logged)")
    p.add_argument("--wandb", action="store_true", help="also save a W&B Report (needs WANDB_API_KEY)")
    p.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    store = RunStore()
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] or None
    built = report.collect(store, args.run_ids, title=args.title, description=args.description, metrics=metrics)
    out = report.write_html(built, args.out or "genlab-report.html")
    print(f"html: {out}")
    if args.wandb:
        url = wandb_report.save(built, store)
        for entry in built.runs:
            store.merge_wandb(entry.id, reports=[url])
        print(f"report-url: {url}")
    return 0
