"""A really trained tiny diffusion run on the Run page and in the Playground (AppTest, the real engine): the
samples saved over training show step by step like the GANs'; the Playground's diffusion view draws new
images when the sampler or the steps change and refuses bad values with `genlab sample`'s words."""

from __future__ import annotations

import pytest

from genlab.core.registry import FAMILIES
from tests.ui.conftest import open_tab, train_in_process
from tests.ui.test_pages import sample_grids

pytestmark = pytest.mark.slow  # a real (tiny) training run


def images(at) -> list[bytes]:
    return [i.proto.imgs[0].url for i in at.get("image") if i.proto.imgs]


def test_run_page_and_playground_on_a_trained_diffusion_run(app, store):
    raw = FAMILIES["diffusion"].tiny_config().model_dump(mode="json")
    raw["model"].update(objective="epsilon", conditional=True)
    run = train_in_process(store, FAMILIES["diffusion"].config_cls.model_validate(raw))
    assert run.status == "completed", run.error
    saved = {a["step"] for a in store.artifacts(run.id, kind="samples")}
    assert saved == {2, 3}, "sample grids every 2 steps and at the end"

    at = open_tab(app("run", id=run.id), "Samples")
    assert sample_grids(at), "the saved grids show on the Run page"
    assert len(at.select_slider(key="run.step").options) == 2, "one position per saved step"

    at = app("playground", run=run.id)
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="play.diff.sampler").options == ["ddpm", "ddim", "dpmsolver++"]
    first = images(at)
    assert first, "new samples, the strip and the path between two seeds"
    at.selectbox(key="play.diff.sampler").set_value("dpmsolver++").run()
    assert not at.error and images(at)[0] != first[0], "another sampler, another image"
    at.number_input(key="play.diff.steps").set_value(10_000).run()
    assert [e.value for e in at.error] == [
        "Cannot sample with these settings: steps must be between 1 and 50 (the run's noise levels), got 10000"
    ]
    assert not images(at), "no image for a refused setting"
    at.number_input(key="play.diff.steps").set_value(5).run()
    at.number_input(key="play.diff.guidance").set_value(-0.5).run()
    assert "guidance scale must be 0 or more (1: plain conditional), got -0.5" in at.error[0].value
