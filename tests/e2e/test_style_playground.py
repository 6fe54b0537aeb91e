"""A style-based generator in a real browser: a tiny StyleGAN-lite run trained into the app's store, then
Playground -> Styles -> the truncation slider moved to 0 -> the samples change (every seed collapses to the
mean image), and the style-mixing grid draws. Headless Chromium against `streamlit run ui/app.py`."""

from __future__ import annotations

import pytest

from genlab.core.registry import FAMILIES
from genlab.store.runs import RunStore
from tests.e2e.test_browser import browser_page, main, server, shot, wait_idle  # noqa: F401 (fixtures)
from tests.helpers import train_tiny

# A tiny fit with its metrics, then the page: ~40 s on an idle 2-core CPU, minutes on a loaded one.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_the_truncation_slider_changes_the_samples(browser_page, server):  # noqa: F811
    page, problems = browser_page
    _, home = server
    store = RunStore(home)
    try:
        train_tiny(store, FAMILIES["stylegan"])
    finally:
        store.close()
    m = main(page)
    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Playground").click()
    wait_idle(page)
    styles_tab = m.get_by_role("tab", name="Styles", exact=True)  # the only run is picked; its model loads
    styles_tab.wait_for(timeout=180_000)
    styles_tab.click()
    wait_idle(page)
    grid = page.locator(".st-key-play-style-truncated img").first
    grid.wait_for(timeout=120_000)
    before = grid.get_attribute("src")
    shot(page, "style-01-psi-1")

    # the first "Truncation ψ" slider in the page is the Truncation tab's (the mixing and walk tabs come after)
    slider = m.locator("[data-testid='stSlider']").filter(has_text="Truncation ψ").first.get_by_role("slider")
    slider.focus()
    slider.press("Home")  # psi 0: the average image for every seed
    wait_idle(page)
    m.get_by_text("16 samples at ψ = 0.00").wait_for(timeout=120_000)
    after = page.locator(".st-key-play-style-truncated img").first.get_attribute("src")
    shot(page, "style-02-psi-0")
    assert after != before, "moving the truncation slider redraws the samples"

    m.get_by_role("tab", name="Style mixing", exact=True).click()
    m.get_by_text("row: coarse seed · column: fine seed").wait_for(timeout=120_000)
    assert m.locator("[data-testid='stAlertContentError']").count() == 0
    assert not problems, problems
