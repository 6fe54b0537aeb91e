"""Team reports: the HTML report (self-contained, opens in headless Chromium with curves and images), the
W&B Report's structure built without network, and the `report` CLI."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from genlab.cli.main import main
from genlab.core.errors import GenLabError
from genlab.share import report, wandb_report
from genlab.share.wandb_link import wandb_run_id
from tests.ui.conftest import record_run

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def two_runs(store):
    a = record_run(store, name="lr-2e-3", lr=2e-3, tags=("baseline",))
    b = record_run(store, name="lr-8e-3", lr=8e-3, seed=1)
    for run in (a, b):
        store.merge_wandb(run.id, mode="offline", project="genlab-team", id=wandb_run_id(run.id))
    return a, b


def test_the_wandb_report_has_a_plot_per_metric_the_samples_and_exactly_these_runs(store, two_runs):
    a, b = two_runs
    built = report.collect(store, [a.id, b.id], title="LR study", description="Two learning rates")
    entity, project = wandb_report.where(store, built)
    assert project == "genlab-team"
    wr_report = wandb_report.build(built, entity or "my-team", project)
    assert (wr_report.title, wr_report.description, wr_report.entity) == ("LR study", "Two learning rates", "my-team")
    grid = next(b for b in wr_report.blocks if type(b).__name__ == "PanelGrid")
    kinds = [type(p).__name__ for p in grid.panels]
    plots = [p for p in grid.panels if type(p).__name__ == "LinePlot"]
    assert [p.y for p in plots] == [[m] for m in built.metrics]
    assert set(built.metrics) == {"train/kl", "train/loss", "val/loss", "val/recon"}
    media = next(p for p in grid.panels if type(p).__name__ == "MediaBrowser")
    assert media.media_keys == ["samples/prior"]
    assert "RunComparer" in kinds
    (runset,) = grid.runsets
    assert (runset.entity, runset.project) == ("my-team", "genlab-team")
    assert wandb_run_id(a.id) in str(runset.filters) and wandb_run_id(b.id) in str(runset.filters)
    text = next(b for b in wr_report.blocks if type(b).__name__ == "P" and "val/loss" in str(b.text))
    assert "optim.lr" in str(text.text)


def test_a_wandb_report_needs_runs_that_logged_to_wandb_in_one_project(store, two_runs):
    a, b = two_runs
    plain = record_run(store, name="no-wandb")
    with pytest.raises(GenLabError, match="did not log to W&B"):
        wandb_report.where(store, report.collect(store, [a.id, plain.id]))
    store.merge_wandb(b.id, project="elsewhere")
    with pytest.raises(GenLabError, match="one project"):
        wandb_report.where(store, report.collect(store, [a.id, b.id]))
    with pytest.raises(GenLabError, match="needs your W&B API key"):
        wandb_report.publish(store, [a.id], None)


def test_the_html_report_is_self_contained_with_curves_samples_config_diff_and_metrics(store, two_runs):
    a, b = two_runs
    built = report.collect(store, [a.id, b.id], metrics=["val/loss", "train/loss"])
    page = report.render_html(built)
    assert "optim.lr" in built.config_diff and built.config_diff["optim.lr"] == {a.id: 2e-3, b.id: 8e-3}
    assert re.findall(r"data-metric='([^']+)'", page) == ["val/loss", "train/loss"]
    assert page.count("class='sample'") == 2 and "src='data:image/png;base64," in page
    assert report.PLOTLY_JS.read_text(encoding="utf-8") in page  # plotly.js inline, no CDN
    ours = page.replace(report.PLOTLY_JS.read_text(encoding="utf-8"), "")
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|<img[^>]+src='http", ours)  # nothing fetched
    assert "<td><code>optim.lr</code></td><td>0.002</td><td>0.008</td>" in page
    assert "best val/loss" in page


def test_text_samples_in_the_report_are_screened_and_flagged_ones_withheld(store, two_runs):
    a, _ = two_runs
    for step, text in ((10, "Shall I compare thee to a summer's day?"), (20, "you are a fucking idiot, shit")):
        path = a.folder / "samples" / f"text_step{step}.txt"
        path.write_text(text, encoding="utf-8")
        store.add_artifact(a.id, "text", path, name="text", step=step)
    built = report.collect(store, [a.id])
    (sample,) = built.runs[0].texts
    assert sample.step == 20 and sample.flagged and "fucking" not in sample.text
    page = report.render_html(built)
    assert "[withheld: This text was flagged" in page and "fucking" not in page


def test_report_cli_writes_the_html_and_refuses_bad_input_with_exit_code_2(store, two_runs, tmp_path, capsys):
    a, b = two_runs
    out = tmp_path / "team.html"
    assert main(["report", a.id, b.id, "--out", str(out), "--title", "LR study"]) == 0
    assert f"html: {out}" in capsys.readouterr().out
    assert "<title>LR study</title>" in out.read_text(encoding="utf-8")
    assert main(["report", "no-such-run"]) == 2
    assert "No run with id 'no-such-run'" in capsys.readouterr().err
    assert main(["report", a.id, "--metrics", "val/fid", "--out", str(out)]) == 2
    assert "No run in the report logged val/fid" in capsys.readouterr().err
    assert main(["report", a.id, "--out", str(tmp_path / "missing" / "r.html")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_html_report_opens_in_headless_chromium_with_curves_and_images(store, two_runs, tmp_path):
    import playwright.sync_api as pw

    assert Path(CHROMIUM).exists(), "needs Debian's Chromium: apt-get install -y chromium"
    a, b = two_runs
    out = report.write_html(report.collect(store, [a.id, b.id], title="LR study"), tmp_path / "report.html")
    artifacts = ROOT / "test-artifacts" / "report"
    artifacts.mkdir(parents=True, exist_ok=True)
    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.route(
            "**/*", lambda route: route.abort() if not route.request.url.startswith("file:") else route.continue_()
        )
        page.goto(out.as_uri())
        page.wait_for_selector(".plot .main-svg", timeout=30_000)
        plots = page.locator(".plot")
        assert plots.count() == 4
        for i in range(plots.count()):
            assert plots.nth(i).locator(".scatterlayer .trace").count() == 2  # one curve per run
        images = page.locator("img.sample")
        assert images.count() == 2
        assert all(images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0") for i in range(2))
        assert "optim.lr" in page.locator("#config").inner_text()
        page.screenshot(path=str(artifacts / "report_html.png"), full_page=True)
        browser.close()
    assert not errors, errors
    shutil.copy(artifacts / "report_html.png", tmp_path / "screenshot.png")
