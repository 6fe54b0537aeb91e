"""The Playground's diffusion view in a real browser: headless Chromium on `streamlit run ui/app.py`, a tiny
class-conditional noise-prediction run trained for real into the app's home. Changing the sampler and then
the steps draws a new image each time; 0 steps and a negative guidance scale are refused with the words
`genlab sample` prints; the denoising strip and the path between two seeds are drawn.
"""

from __future__ import annotations

import pytest

from genlab.core.registry import FAMILIES
from genlab.store.runs import RunStore
from tests.e2e.test_browser import browser_page, main, server, shot, wait_idle
from tests.e2e.test_first_hour import nav
from tests.ui.conftest import train_in_process

__all__ = ["browser_page", "server"]  # the fixtures, shared with the first browser test

# Slow only: a real tiny training run, the app and a browser take minutes on the shared 2-core CPU.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def tiny_conditional_run(home):
    raw = FAMILIES["diffusion"].tiny_config().model_dump(mode="json")
    raw["name"] = "tiny-diffusion"
    raw["model"].update(objective="epsilon", conditional=True, sampling_steps=3)
    run = train_in_process(RunStore(home), FAMILIES["diffusion"].config_cls.model_validate(raw))
    assert run.status == "completed", run.error
    return run


def shown(page, key: str, caption: str | None = None) -> str:
    """The src of the first image in the keyed container (Streamlit serves each new image at a new URL), once the
    container shows `caption`: the image and its caption arrive together, so the src read is the new drawing's."""
    if caption:
        main(page).locator(f".st-key-{key}").get_by_text(caption).first.wait_for(timeout=60_000)
    img = main(page).locator(f".st-key-{key} [data-testid='stImage'] img").first
    img.wait_for(timeout=60_000)
    return img.get_attribute("src")


def change(page, label: str, value: float | str) -> None:
    box = main(page).get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    wait_idle(page)


def test_the_denoising_playground_redraws_with_each_sampler_and_step_count(browser_page, server, monkeypatch):
    page, problems = browser_page
    _, home = server
    monkeypatch.setenv("GENLAB_HOME", str(home))
    tiny_conditional_run(home)
    m = main(page)

    nav(page, "Playground")
    first = shown(page, "play-diff-samples")
    shot(page, "diffusion-01-playground")

    m.get_by_label("Sampler", exact=True).click()  # ddim (the run's default) -> ddpm
    page.get_by_role("option", name="ddpm", exact=True).click()
    wait_idle(page)
    after_sampler = shown(page, "play-diff-samples", caption="ddpm, 3 steps")
    assert after_sampler != first, "another sampler draws another image"

    change(page, "Steps", 5)
    after_steps = shown(page, "play-diff-samples", caption="ddpm, 5 steps")
    assert after_steps not in (first, after_sampler), "more steps draw another image"
    shot(page, "diffusion-02-ddpm-5-steps")

    change(page, "Steps", 0)  # the CLI's words, and no image
    m.get_by_text("steps must be between 1 and 50 (the run's noise levels), got 0").wait_for()
    assert m.locator(".st-key-play-diff-samples").count() == 0
    change(page, "Steps", 5)
    change(page, "Guidance scale", -1)
    m.get_by_text("guidance scale must be 0 or more (1: plain conditional), got -1.0").wait_for()
    change(page, "Guidance scale", 2)

    m.get_by_role("tab", name="Denoising strip", exact=True).click()
    assert shown(page, "play-diff-strip")
    m.get_by_text("after step 0 · ").first.wait_for()
    m.get_by_role("tab", name="Between two seeds", exact=True).click()
    assert shown(page, "play-diff-slerp")
    shot(page, "diffusion-03-between-two-seeds")
    assert not problems, problems
