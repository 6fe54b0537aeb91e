"""The Playground's multi-domain row in a real browser: a tiny StarGAN run (trained in this process into the
app's GENLAB_HOME) is opened in the Playground; a validation image of the set, then an uploaded image, are
each shown translated into every one of the run's domains in one row. The console must stay free of errors.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from tests.e2e.test_browser import ARTIFACTS, ROOT, _free_port, chromium_page
from tests.helpers import train_tiny

# Over 40 s on the shared 2-core CPU (a tiny fit, the app's start, a model load): slow-only, per the brief.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
DOMAINS = ["twemoji", "openmoji", "openmoji_lines"]


@pytest.fixture(scope="module")
def app_with_run(tmp_path_factory: pytest.TempPathFactory):
    from genlab.core.registry import FAMILIES
    from genlab.store.runs import RunStore

    home = tmp_path_factory.mktemp("md_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_HOME", str(home))
        store = RunStore(home)
        run_id, _ = train_tiny(store, FAMILIES["stargan"])
        store.close()
    port = _free_port()
    log = (tmp_path_factory.mktemp("md_log") / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "ui/app.py", "--server.port", str(port)]
        + ["--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT,
        env=dict(os.environ, GENLAB_HOME=str(home)),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline:
                proc.terminate()
                pytest.fail("streamlit did not start; see its log: " + Path(log.name).read_text()[-2000:])
            time.sleep(0.5)
    yield base, run_id
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _row_captions(page) -> list[str]:
    main = page.locator("[data-testid='stMain']")
    return [c.strip() for c in main.locator("[data-testid='stImageCaption']").all_inner_texts()]


def _wait_for_row(page, first: str) -> list[str]:
    main = page.locator("[data-testid='stMain']")
    main.get_by_text(f"→ {DOMAINS[-1]}", exact=True).wait_for(timeout=120_000)
    main.get_by_text(first).first.wait_for(timeout=60_000)
    return _row_captions(page)


def test_the_playground_shows_one_image_in_every_domain(app_with_run, tmp_path: Path) -> None:
    base, run_id = app_with_run
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    upload = tmp_path / "red_square.png"
    buf = io.BytesIO()
    Image.new("RGB", (40, 28), (220, 30, 30)).save(buf, format="PNG")
    upload.write_bytes(buf.getvalue())
    with chromium_page(base) as (page, problems):
        page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Playground").click()
        main = page.locator("[data-testid='stMain']")
        main.get_by_text("This run translates into 3 domains: twemoji, openmoji, openmoji_lines.").wait_for(
            timeout=120_000
        )

        captions = _wait_for_row(page, "input: validation image 1 (twemoji)")
        assert captions[:4] == ["input: validation image 1 (twemoji)"] + [f"→ {d}" for d in DOMAINS]
        page.screenshot(path=str(ARTIFACTS / "multi_domain_from_set.png"), full_page=True)

        main.get_by_text("Upload an image", exact=True).click()
        main.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(upload))
        captions = _wait_for_row(page, "input: red_square.png")
        assert captions[:4] == ["input: red_square.png"] + [f"→ {d}" for d in DOMAINS]
        page.screenshot(path=str(ARTIFACTS / "multi_domain_upload.png"), full_page=True)
    assert not problems, problems
    assert run_id.startswith("stargan-")
