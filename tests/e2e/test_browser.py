"""The app in a real browser: headless Chromium drives `streamlit run ui/app.py` against the real engine.

Home -> customise the VAE preset with tiny settings -> start -> the run page reaches `completed` and
shows a sample grid -> clone it with another learning rate -> compare the two runs -> upload a zip
without images on the Data page and see the error -> a 1-trial sweep from a run finishes. Screenshots go to test-artifacts/e2e/; the browser
console must stay free of errors. Navigation is by clicks (deep links make Streamlit's frontend probe
`<page>/_stcore/health` first, which logs a harmless 404 we do not want to whitelist).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RUN_TIMEOUT_MS = 150_000

import playwright.sync_api as playwright_api  # noqa: E402  (requirements-dev.txt)

# About 4-5 minutes on a busy 2-core CPU (two real training runs and a 2-trial sweep). CI runs it (`-m "not slow or e2e"`);
# it needs Debian's Chromium, which .ci/run installs: a missing browser fails loudly, never skips.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(autouse=True, scope="module")
def _chromium_present() -> None:
    assert Path(CHROMIUM).exists(), "the browser test needs Debian's Chromium: apt-get install -y chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("genlab_home")
    port = _free_port()
    env = dict(os.environ, GENLAB_HOME=str(home), GENLAB_MAX_JOBS="1")
    log = (tmp_path_factory.mktemp("log") / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "ui/app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail("streamlit did not start; see its log: " + Path(log.name).read_text()[-2000:])
    yield base, home
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    # stop any worker the test left behind (they run in their own session): sweeps first, then runs
    from genlab.store.runs import RunStore
    from genlab.sweeps import study as sweeps

    storage = f"sqlite:///{home / 'sweeps.db'}"
    for sweep in sweeps.list_sweeps(storage):
        sweeps.stop(sweep.name, storage)
    for run in RunStore(home).list_runs(status=("running",)):
        if run.pid:
            try:
                os.kill(run.pid, 15)
            except OSError:
                pass
    log.close()


@pytest.fixture(scope="module")
def browser_page(server):
    base, _ = server
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium_page(base) as opened:
        yield opened


@contextlib.contextmanager
def chromium_page(base: str) -> Iterator[tuple[Any, list[str]]]:
    """A headless Chromium tab on the app at `base`, and the list every console error and page error of it
    lands in (a test asserts it stays empty)."""
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            problems: list[str] = []
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.goto(base)
            yield page, problems
        finally:
            browser.close()


def shot(page, name: str) -> None:
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def main(page):
    return page.locator("[data-testid='stMain']")


def set_number(page, label: str, value: int | float) -> None:
    box = main(page).get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_timeout(300)


def open_tab(page, name: str) -> None:
    main(page).get_by_role("tab", name=name, exact=True).click()


def wait_idle(page) -> None:
    """Until Streamlit has finished the rerun a click started."""
    page.wait_for_timeout(300)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=60_000)


def wait_completed(page) -> None:
    page.locator(".st-key-run-status-completed").wait_for(timeout=RUN_TIMEOUT_MS)


def test_train_watch_compare_and_upload_in_a_real_browser(browser_page, server, tmp_path):
    page, problems = browser_page
    _, home = server
    m = main(page)

    # Home: presets are cards; customise the VAE MNIST preset
    m.get_by_text("Presets", exact=True).wait_for()
    wait_idle(page)
    shot(page, "01-home")
    page.locator(".st-key-home-edit-vae_mnist button").first.click()
    m.get_by_text("Loaded from preset vae_mnist.yaml").wait_for()

    # Train: tiny settings (data tab first, then training and logging)
    set_number(page, "Max items", 256)
    set_number(page, "Batch size", 32)
    open_tab(page, "Training")
    set_number(page, "Max epochs", 1)  # 7 steps of 32 images, then one validation
    m.get_by_text("Advanced training settings").click()  # folded away by default
    set_number(page, "Log every n steps", 2)
    open_tab(page, "Logging")
    set_number(page, "Sample every n steps", 3)
    set_number(page, "Number of samples", 16)
    wait_idle(page)
    assert m.locator("[data-testid='stAlertContentError']").count() == 0, "the tiny config should validate"
    shot(page, "02-train-form")
    m.get_by_role("button", name="Start training").click()

    # Run page: live progress until completed, then the sample grid
    m.get_by_text("All runs").wait_for(timeout=30_000)
    shot(page, "03-run-live")
    wait_completed(page)
    wait_idle(page)
    open_tab(page, "Samples")
    sample = m.locator("img.genlab-sample").first
    sample.wait_for(timeout=30_000)
    assert sample.evaluate("img => img.naturalWidth") > 50
    shot(page, "04-run-samples")
    open_tab(page, "Charts")
    m.locator("[data-testid='stPlotlyChart']").first.wait_for(timeout=30_000)
    shot(page, "05-run-charts")
    first_url = page.url

    # Clone and edit: a second run with another learning rate
    m.get_by_role("button", name="Clone and edit").click()
    m.get_by_text("Loaded from a clone of run").wait_for(timeout=30_000)
    open_tab(page, "Optimizer")
    set_number(page, "Learning rate", 0.005)
    wait_idle(page)
    m.get_by_role("button", name="Start training").click()
    m.get_by_text("All runs").wait_for(timeout=30_000)
    assert page.url != first_url
    wait_completed(page)
    wait_idle(page)

    # Compare: from the second run's page, add the first run
    m.get_by_role("link", name="Compare").first.click()  # a rerun may briefly keep the old row beside the new
    m.get_by_text("Runs to compare", exact=True).wait_for()
    m.locator(".st-key-compare-runs input").click()
    page.locator("[role='option']").first.click()
    page.keyboard.press("Escape")
    m.locator("[data-testid='stPlotlyChart']").first.wait_for(timeout=30_000)
    shot(page, "06-compare-curves")
    open_tab(page, "Config diff")
    m.get_by_text("optim.lr").first.wait_for(state="attached")  # a cell of the diff grid (canvas)
    open_tab(page, "Samples")
    m.locator("img.genlab-sample").nth(1).wait_for(timeout=30_000)
    shot(page, "07-compare-samples")

    # Data: a zip without images is refused with a message that says what to do
    bad_zip = tmp_path / "notes.zip"
    with zipfile.ZipFile(bad_zip, "w") as z:
        z.writestr("readme.txt", "not an image")
        z.writestr("data/table.csv", "a,b\n1,2\n")
    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Data").click()
    m.get_by_role("radio", name="Upload", exact=True).click()
    m.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(bad_zip))
    m.get_by_text("notes.zip").first.wait_for()
    wait_idle(page)
    m.get_by_role("button", name="Check and store").click()
    error = m.locator("[data-testid='stAlertContentError']")
    error.wait_for(timeout=30_000)
    assert "No usable images" in error.inner_text()
    shot(page, "08-data-upload-error")

    from genlab.store.runs import RunStore

    runs = RunStore(home).list_runs()
    assert [r.status for r in runs] == ["completed", "completed"]
    assert runs[0].parent_id == runs[1].id

    # Sweeps: a 1-trial sweep from a run's settings runs to the end and offers to train the best config
    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Sweeps").click()
    m.get_by_text("Knobs to search").wait_for(timeout=30_000)
    wait_idle(page)
    m.get_by_text("A past run", exact=True).click()
    m.get_by_text("Past run", exact=True).wait_for(timeout=30_000)  # the run picker replaced the preset's
    wait_idle(page)
    knobs = m.locator(".st-key-sweeps-knobs-vae input")  # keep only optim.lr: a trial as cheap as the run
    for knob in ("model.base_width", "model.latent_dim"):  # Backspace removes the last chosen knob
        knobs.click()
        knobs.press("Backspace")
        page.keyboard.press("Escape")
        wait_idle(page)
        m.get_by_text(f"{knob}: search").wait_for(state="detached", timeout=30_000)
    set_number(page, "Trials (budget)", 1)
    wait_idle(page)
    shot(page, "09-sweep-form")
    m.get_by_role("button", name="Start the sweep").click()
    m.locator("[data-testid='stMetricValue']").filter(has_text="finished").wait_for(timeout=RUN_TIMEOUT_MS * 3)
    m.get_by_role("button", name="Train the best config").wait_for(timeout=30_000)
    shot(page, "10-sweep-finished")
    trials = RunStore(home).list_runs(sweep_id=RunStore(home).sweep_ids()[0])
    assert [(r.trial_id, r.status) for r in trials] == [(0, "completed")]
    assert not problems, "browser console errors:\n" + "\n".join(problems)
