"""The online twin of the HTML report: a W&B Report built with wandb-workspaces from the same `Report`.

`build` makes the report object (title, description, a run set of exactly these runs, a line plot per
chosen metric, a media panel of the sample grids, a run comparer for config and metrics) without any
network. `publish` saves it with the user's key: it runs `python -m genlab report --wandb` in a child
process whose environment alone holds the key (wandb-workspaces reads it from the environment, which
the app process shares between users), then stores the report's URL on every run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

from genlab.core.errors import GenLabError
from genlab.core.paths import PROJECT_ROOT
from genlab.share.report import Report
from genlab.share.wandb_link import needs_sync, sync, wandb_env, wandb_run_id
from genlab.store.runs import RunStore

PUBLISH_TIMEOUT_S = 300
_REPORT_URL = re.compile(r"^report-url: (\S+)$", flags=re.M)


def where(store: RunStore, report: Report) -> tuple[str | None, str]:
    """(entity, project) shared by the report's runs; runs in several projects are a clear error."""
    places = set()
    for entry in report.runs:
        run = store.get(entry.id)
        if not run.wandb:
            raise GenLabError(
                f"Run {entry.id} did not log to W&B (its logging.wandb was off); the HTML report still covers it."
            )
        cfg = run.config.get("logging", {})
        places.add((run.wandb.get("entity") or cfg.get("wandb_entity") or None, run.wandb.get("project") or "genlab"))
    if len(places) > 1:
        raise GenLabError(
            "A W&B report covers runs of one project; these are in "
            + ", ".join(f"{e or 'default'}/{p}" for e, p in sorted(places, key=str))
        )
    return places.pop()


def build(report: Report, entity: str, project: str) -> Any:
    """The W&B Report object, a wandb_workspaces.reports.v2.Report (no network until it is saved)."""
    # wandb-workspaces takes seconds to import; only building a W&B report needs it, not the pages.
    import wandb_workspaces.reports.v2 as wr
    from wandb_workspaces import expr

    ids = [wandb_run_id(r.id) for r in report.runs]
    runset = wr.Runset(
        entity=entity,
        project=project,
        name="GenLab runs",
        filters=[expr.Metric("ID").isin(ids)],
    )
    panels: list[Any] = [wr.LinePlot(title=m, x="Step", y=[m]) for m in report.metrics]
    media = [f"samples/{n}" for n in report.sample_names]
    if media:
        panels.append(wr.MediaBrowser(title="Samples", media_keys=media, num_columns=min(4, len(report.runs))))
    panels.append(wr.RunComparer(diff_only="split"))
    blocks: list[Any] = [wr.H1("Curves and samples")]
    if report.description:
        blocks.insert(0, wr.P(report.description))
    blocks.append(wr.PanelGrid(runsets=[runset], panels=panels))
    blocks.append(wr.H1("Config and metrics"))
    blocks.append(wr.P(_config_and_metrics_text(report)))
    return wr.Report(
        entity=entity, project=project, title=report.title[:128], description=report.description, blocks=blocks
    )


def _config_and_metrics_text(report: Report) -> str:
    lines = []
    if report.config_diff:
        lines.append(
            "Settings that differ: "
            + "; ".join(
                f"{k}: " + ", ".join(f"{r.label}={v.get(r.id)}" for r in report.runs)
                for k, v in report.config_diff.items()
            )
        )
    for row in report.metric_table():
        values = ", ".join(f"{r.label}={row[r.label]:.4g}" for r in report.runs if row[r.label] is not None)
        lines.append(f"{row['metric']}: {values}")
    return "\n".join(lines) or "No metrics logged."


def save(report: Report, store: RunStore) -> str:
    """Save the report to W&B with the key in this process's environment; returns its URL."""
    entity, project = where(store, report)
    if entity is None:
        import wandb

        entity = wandb.Api().default_entity
    saved = build(report, entity, project).save()
    return saved.url


def publish(
    store: RunStore,
    run_ids: list[str],
    api_key: str | None,
    *,
    title: str = "",
    description: str = "",
    metrics: list[str] | None = None,
) -> str:
    """Sync offline runs, then save the W&B Report in a child process holding only this user's key."""
    if not api_key:
        raise GenLabError("Publishing to W&B needs your W&B API key: paste it on the Settings page.")
    for run_id in run_ids:
        if needs_sync(store.get(run_id)):
            sync(store, run_id, api_key)
    cmd = [
        sys.executable,
        "-m",
        "genlab",
        "report",
        *run_ids,
        "--wandb",
        "--title",
        title,
        "--description",
        description,
    ]
    if metrics:
        cmd += ["--metrics", ",".join(metrics)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(wandb_env(store.home), WANDB_API_KEY=api_key, WANDB_SILENT="true", GENLAB_HOME=str(store.home))
    try:
        proc = subprocess.run(
            cmd,
            env=env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=PUBLISH_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise GenLabError(f"W&B did not answer within {PUBLISH_TIMEOUT_S} s; check the network and retry.") from None
    found = _REPORT_URL.search(proc.stdout or "")
    if proc.returncode != 0 or not found:
        tail = "\n".join(((proc.stderr or "") + (proc.stdout or "")).strip().splitlines()[-4:])
        raise GenLabError(f"The W&B report was not saved: {tail or f'exit code {proc.returncode}'}")
    return found.group(1)
