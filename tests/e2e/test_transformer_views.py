"""The transformer views in a real browser: a tiny masked-language-model run (trained in this process into
the app's store), then the Playground's fill-the-mask table and the attention heat map with its head
summary, clicked through headless Chromium against `streamlit run ui/app.py`. The console stays free of
errors; screenshots go to test-artifacts/e2e/."""

from __future__ import annotations

import pytest

from tests.e2e.test_browser import ARTIFACTS, chromium_page, main, server, wait_idle  # noqa: F401 (fixture)

# 5 min at load 40 (server start, a 3-step tiny run, two Playground views); so slow-only, not e2e-always.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def test_fill_mask_and_attention_map_in_a_real_browser(server, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from genlab.core.registry import FAMILIES
    from genlab.store.runs import RunStore
    from tests.helpers import train_tiny

    base, home = server
    monkeypatch.setenv("GENLAB_HOME", str(home))
    fam = FAMILIES["bert"]
    config = fam.tiny_config()
    config.model = config.model.model_copy(update={"task": "mlm"})
    store = RunStore(home)
    train_tiny(store, fam, config)
    store.close()

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium_page(base) as (page, problems):
        m = main(page)
        m.get_by_text("Presets").wait_for(timeout=60_000)
        page.locator("[data-testid='stSidebarNav']").get_by_text("Playground", exact=True).click()
        m.get_by_role("tab", name="Fill the mask", exact=True).wait_for(timeout=300_000)
        wait_idle(page)

        m.get_by_role("button", name="Fill the mask").click()
        m.locator("[data-testid='stDataFrame']").first.wait_for(timeout=300_000)  # the top-k words table
        page.screenshot(path=str(ARTIFACTS / "transformer-fill-mask.png"), full_page=True)

        m.get_by_role("tab", name="Attention", exact=True).click()
        m.locator(".js-plotly-plot").first.wait_for(timeout=300_000)  # the token-by-token heat map
        summary = m.locator("[data-testid='stDataFrame']").filter(visible=True)
        summary.first.wait_for(timeout=60_000)  # the head summary table
        page.screenshot(path=str(ARTIFACTS / "transformer-attention.png"), full_page=True)
    assert not problems, problems
