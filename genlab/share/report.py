"""Team reports: what a set of runs did, gathered once from the run store and rendered as one HTML file.

The HTML report needs no server and no network: plotly.js is embedded inline (interactive curves),
sample grids are data URIs, and the config diff, metric table and text samples are plain tables.
Text samples go through genlab.safety.gate first; a flagged one is withheld, with the screener's verdict.
The same gathered `Report` feeds the W&B Report (genlab/share/wandb_report.py) when a user publishes online.
"""

from __future__ import annotations

import base64
import html
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plotly

from genlab.core.errors import GenLabError
from genlab.safety.gate import stored_text
from genlab.store.runs import Run, RunNotFound, RunStore

MAX_RUNS = 12
MAX_POINTS = 2000  # per curve: longer series are thinned evenly (first and last points kept)
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@dataclass
class TextSample:
    name: str
    step: int | None
    text: str  # withheld when flagged
    flagged: bool
    verdict: str


@dataclass
class RunEntry:
    id: str
    label: str
    family: str
    status: str
    steps: int
    monitor: str | None
    best_value: float | None
    config: dict[str, Any]
    series: dict[str, tuple[list[int], list[float | None]]]
    last: dict[str, float | None]
    samples: dict[str, tuple[int | None, Path]]  # name -> (step, PNG) of the latest grid
    texts: list[TextSample]
    wandb_url: str | None = None


@dataclass
class Report:
    title: str
    description: str
    runs: list[RunEntry]
    metrics: list[str]  # the curves shown, in order
    config_diff: dict[str, dict[str, Any]]  # setting -> run id -> value (only settings that differ)
    created_at: float = field(default_factory=time.time)

    @property
    def sample_names(self) -> list[str]:
        return sorted({n for r in self.runs for n in r.samples})

    def metric_table(self) -> list[dict[str, Any]]:
        """One row per metric: the latest value of each run (plus each run's best monitored value)."""
        keys = sorted({k for r in self.runs for k in r.last})
        rows = [{"metric": k, **{r.label: r.last.get(k) for r in self.runs}} for k in keys]
        monitors = {r.monitor for r in self.runs if r.monitor}
        for mon in sorted(monitors):
            rows.append(
                {"metric": f"best {mon}", **{r.label: r.best_value if r.monitor == mon else None for r in self.runs}}
            )
        return rows


def flatten_config(data: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config as {"a.b.c": value}: what config diffs compare."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(flatten_config(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): data}


def _labels(runs: list[Run]) -> dict[str, str]:
    out: dict[str, str] = {}
    for r in runs:
        label = r.name if r.name != r.id else r.id
        out[r.id] = label if label not in out.values() else f"{label} ({r.id[-4:]})"
    return out


def _thin(steps: list[int], values: list[float | None]) -> tuple[list[int], list[float | None]]:
    if len(steps) <= MAX_POINTS:
        return steps, values
    idx = sorted({round(i * (len(steps) - 1) / (MAX_POINTS - 1)) for i in range(MAX_POINTS)})
    return [steps[i] for i in idx], [values[i] for i in idx]


def _texts(store: RunStore, run_id: str) -> list[TextSample]:
    """The latest text sample of each name, screened."""
    latest: dict[str, dict[str, Any]] = {}
    for art in store.artifacts(run_id, kind="text"):
        latest[art["name"]] = art
    out = []
    for name, art in sorted(latest.items()):
        path = Path(art["path"])
        if not path.exists():
            continue
        sample = stored_text(path.read_text(encoding="utf-8", errors="replace")[:4000], art["meta"])
        out.append(TextSample(name, art["step"], sample.text, sample.flagged, sample.summary))
    return out


def collect(
    store: RunStore,
    run_ids: list[str],
    *,
    title: str | None = None,
    description: str = "",
    metrics: list[str] | None = None,
) -> Report:
    """Gather what a report shows; unknown ids and empty selections are clear errors."""
    ids = list(dict.fromkeys(i.strip() for i in run_ids if i.strip()))
    if not ids:
        raise GenLabError("Name at least one run for the report (see `python -m genlab runs list`).")
    if len(ids) > MAX_RUNS:
        raise GenLabError(f"A report holds at most {MAX_RUNS} runs; {len(ids)} were given.")
    runs = []
    for i in ids:
        try:
            runs.append(store.get(i))
        except RunNotFound as err:
            raise GenLabError(str(err)) from None
    labels = _labels(runs)
    last = store.last_metrics(ids)
    entries = []
    for r in runs:
        series: dict[str, tuple[list[int], list[float | None]]] = {}
        for row in store.metrics(r.id):
            s, v = series.setdefault(row["key"], ([], []))
            s.append(row["step"])
            v.append(row["value"])
        samples = {a["name"]: (a["step"], Path(a["path"])) for a in store.artifacts(r.id, kind="samples")}
        entries.append(
            RunEntry(
                id=r.id,
                label=labels[r.id],
                family=r.family,
                status=r.status,
                steps=r.step,
                monitor=r.monitor,
                best_value=r.best_value,
                config=r.config,
                series={k: _thin(*v) for k, v in series.items()},
                last=last.get(r.id, {}),
                samples={n: (s, p) for n, (s, p) in samples.items() if p.exists()},
                texts=_texts(store, r.id),
                wandb_url=r.wandb.get("url"),
            )
        )
    available = sorted({k for e in entries for k in e.series})
    if metrics:
        unknown = [m for m in metrics if m not in available]
        if unknown:
            raise GenLabError(
                f"No run in the report logged {', '.join(unknown)}; metrics available: {', '.join(available) or 'none'}"
            )
        chosen = list(dict.fromkeys(metrics))
    else:
        shared = [k for k in available if all(k in e.series for e in entries) and not k.startswith("lr")]
        chosen = shared or available
    flat = {e.id: flatten_config(e.config) for e in entries}
    keys = sorted(set().union(*flat.values()))
    diff = {
        k: {e.id: flat[e.id].get(k) for e in entries}
        for k in keys
        if k != "name" and len({json.dumps(flat[e.id].get(k), sort_keys=True, default=str) for e in entries}) > 1
    }
    default_title = "GenLab report: " + ", ".join(e.label for e in entries[:3]) + ("…" if len(entries) > 3 else "")
    return Report(
        title=(title or "").strip() or default_title,
        description=description.strip(),
        runs=entries,
        metrics=chosen,
        config_diff=diff,
    )


# -- HTML ----------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} .meta{color:#666;font-size:.9rem} section{margin-top:2rem}
table{border-collapse:collapse;font-size:.9rem} th,td{border:1px solid #ddd;padding:.3rem .6rem;text-align:left}
th{background:#f5f5f5} .plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:1rem}
.plot{height:340px;border:1px solid #eee} .grid{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0} figure img{image-rendering:pixelated;max-width:360px;border:1px solid #ddd}
figcaption{font-size:.85rem;color:#555} pre{white-space:pre-wrap;background:#fafafa;border:1px solid #eee;padding:.6rem}
.flagged{color:#a00}
"""


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.5g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(data, default=str).replace("</", "<\\/")


def render_html(report: Report) -> str:
    """One self-contained HTML document (about 5 MB, most of it plotly.js)."""
    e = html.escape
    runs = report.runs
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(report.title)}</title><style>{_CSS}</style>",
        f"<script>{PLOTLY_JS.read_text(encoding='utf-8')}</script></head><body>",
        f"<h1>{e(report.title)}</h1>",
        f"<p class='meta'>Made with GenLab on {time.strftime('%Y-%m-%d %H:%M', time.localtime(report.created_at))}"
        f" · {len(runs)} run(s)</p>",
    ]
    if report.description:
        parts.append(f"<p class='description'>{e(report.description)}</p>")
    parts.append("<section id='runs'><h2>Runs</h2><table><tr><th>run</th><th>id</th><th>family</th>")
    parts.append("<th>status</th><th>steps</th><th>W&amp;B</th></tr>")
    for r in runs:
        link = f"<a href='{e(r.wandb_url)}'>open</a>" if r.wandb_url else "–"
        parts.append(
            f"<tr><td>{e(r.label)}</td><td><code>{e(r.id)}</code></td><td>{e(r.family)}</td>"
            f"<td>{e(r.status)}</td><td>{r.steps}</td><td>{link}</td></tr>"
        )
    parts.append("</table></section>")

    parts.append("<section id='curves'><h2>Curves</h2><div class='plots'>")
    figures = []
    for i, key in enumerate(report.metrics):
        parts.append(f"<div class='plot' id='plot-{i}' data-metric='{e(key)}'></div>")
        traces = [
            {"type": "scatter", "mode": "lines", "name": r.label, "x": r.series[key][0], "y": r.series[key][1]}
            for r in runs
            if key in r.series
        ]
        layout = {
            "title": {"text": key},
            "xaxis": {"title": {"text": "step"}},
            "margin": {"l": 50, "r": 10, "t": 40, "b": 40},
            "legend": {"orientation": "h"},
        }
        figures.append({"id": f"plot-{i}", "data": traces, "layout": layout})
    if not report.metrics:
        parts.append("<p>These runs logged no metrics.</p>")
    parts.append("</div></section>")

    parts.append("<section id='metrics'><h2>Metrics (latest values)</h2><table><tr><th>metric</th>")
    parts += [f"<th>{e(r.label)}</th>" for r in runs] + ["</tr>"]
    for row in report.metric_table():
        parts.append(f"<tr><td>{e(row['metric'])}</td>" + "".join(f"<td>{_fmt(row[r.label])}</td>" for r in runs))
        parts.append("</tr>")
    parts.append("</table></section>")

    parts.append("<section id='config'><h2>Config diff</h2>")
    if report.config_diff:
        parts.append("<table><tr><th>setting</th>" + "".join(f"<th>{e(r.label)}</th>" for r in runs) + "</tr>")
        for key, values in report.config_diff.items():
            cells = "".join(f"<td>{e(_fmt(values.get(r.id)))}</td>" for r in runs)
            parts.append(f"<tr><td><code>{e(key)}</code></td>{cells}</tr>")
        parts.append("</table>")
    else:
        parts.append("<p>The configs are identical (apart from the names).</p>")
    parts.append("</section>")

    parts.append("<section id='samples'><h2>Samples (latest grid of each run)</h2>")
    for name in report.sample_names:
        parts.append(f"<h3>{e(name)}</h3><div class='grid'>")
        for r in runs:
            if name not in r.samples:
                continue
            step, path = r.samples[name]
            alt = f"{name} sample grid of {r.label}, step {step}"
            parts.append(
                f"<figure><img class='sample' alt='{e(alt)}' src='{_data_uri(path)}'>"
                f"<figcaption>{e(r.label)} · step {step}</figcaption></figure>"
            )
        parts.append("</div>")
    if not report.sample_names:
        parts.append("<p>None of these runs saved a sample grid.</p>")
    parts.append("</section>")

    texts = [(r, t) for r in runs for t in r.texts]
    if texts:
        parts.append("<section id='texts'><h2>Text samples (screened)</h2>")
        for r, t in texts:
            cls = " class='flagged'" if t.flagged else ""
            parts.append(
                f"<h3>{e(r.label)} · {e(t.name)} · step {t.step}</h3><pre{cls}>{e(t.text)}</pre>"
                f"<p class='meta'>{e(t.verdict)}</p>"
            )
        parts.append("</section>")

    parts.append(
        "<script>const FIGURES = "
        + _script_json(figures)
        + ";\nfor (const f of FIGURES) Plotly.newPlot(f.id, f.data, f.layout, {responsive: true});</script>"
    )
    parts.append("</body></html>")
    return "".join(parts)


def write_html(report: Report, out: str | Path) -> Path:
    """Write the report; the parent folder must exist (a typo should not create folders)."""
    out = Path(out).expanduser()
    if out.is_dir():
        out = out / "genlab-report.html"
    if not out.parent.is_dir():
        raise GenLabError(f"The folder {out.parent} does not exist; pick an existing folder for the report.")
    tmp = out.with_suffix(".tmp")
    tmp.write_text(render_html(report), encoding="utf-8")
    tmp.replace(out)
    return out
