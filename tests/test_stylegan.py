"""StyleGAN-lite as a user meets it: the growth schedule and the resolution the Run page shows, truncation
toward the mean w, style mixing that keeps one seed's coarse styles and another's fine ones, a walk in W,
and the bad inputs (a truncation outside [0, 1], a growth that cannot reach the image size) refused with
the same words by the config loader, the CLI and the engine. The always-on tests use tiny, untrained nets;
the family contract, checkpoint and export tests cover the trained tiny run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genlab.cli.main import main
from genlab.core.config import ConfigError
from genlab.core.errors import GenLabError
from genlab.core.parsing import parse_config
from genlab.core.registry import FAMILIES
from genlab.core.truncation import TRUNCATION_RULE
from genlab.runner.train import fit_module
from genlab.store.runs import RunStore
from genlab.use import styles
from genlab.use.sample import sample
from lightning_modules.stylegan import StyleGANModule, growth_state

ROOT = Path(__file__).resolve().parent.parent
FAM = FAMILIES["stylegan"]


def tiny_module(**model: object) -> StyleGANModule:
    raw = FAM.tiny_config().model_dump(mode="json")
    raw["model"].update(model)
    config = parse_config(raw)
    return StyleGANModule(config, {"image_size": config.data.image_size, "channels": 1})


def test_growth_doubles_from_the_start_size_with_a_fade_in() -> None:
    model = parse_config(
        {
            "family": "stylegan",
            "data": {"image_size": 32},
            "model": {"progressive": True, "start_size": 8, "stable_steps": 10, "fade_steps": 4},
        }
    ).model
    seen = [growth_state(t, 32, model) for t in range(0, 40)]
    assert seen[0] == (1, 1.0) and seen[9] == (1, 1.0), "8 px (level 1) for stable_steps"
    assert seen[10] == (2, 0.0) and seen[12] == (2, 0.5), "16 px fades in over fade_steps"
    assert seen[14] == (2, 1.0) and seen[23] == (2, 1.0)
    assert seen[24] == (3, 0.0) and seen[26] == (3, 0.5) and seen[28:] == [(3, 1.0)] * 12, "then 32 px for good"
    still = model.model_copy(update={"progressive": False})
    assert growth_state(0, 32, still) == (3, 1.0), "without growing, the full size from the first step"


@pytest.mark.slow  # a Lightning fit with its FID: ~15 s idle, minutes at load 30
def test_a_growing_run_logs_its_resolution_for_the_run_page(store: RunStore) -> None:
    """The tiny run grows 8 -> 16 px in its 4 steps; train/resolution and train/alpha say so step by step."""
    run = store.create_run(FAM.tiny_config(), status="running", monitor=FAM.monitor)
    status, module = fit_module(store, run.id)
    assert status == "completed"
    resolution = [v for _, v in store.metric_series(run.id, "train/resolution")]
    alpha = [v for _, v in store.metric_series(run.id, "train/alpha")]
    assert resolution == [8.0, 16.0, 16.0, 16.0] and alpha == [1.0, 0.0, 0.5, 1.0]
    assert module.resolution == 16 and module.sample_images()["samples"].shape[-1] == 16


def test_truncation_pulls_every_seed_to_the_mean_image() -> None:
    module = tiny_module()
    module.generator.mapping.w_avg.normal_()  # a trained run's tracked mean is not zero
    module.g_ema.load_state_dict(module.generator.state_dict())
    at_zero = styles.truncated(module, 4, seed=1, psi=0.0)
    assert np.abs(at_zero - at_zero[:1]).max() < 1e-6, "psi 0: every seed draws the mean w's image"
    full = styles.truncated(module, 4, seed=1, psi=1.0)
    half = styles.truncated(module, 4, seed=1, psi=0.5)
    assert np.abs(full - full[:1]).max() > 1e-3, "psi 1 keeps the variety"
    assert not np.allclose(half, full) and np.array_equal(half, styles.truncated(module, 4, seed=1, psi=0.5))
    # the shared truncation door (CLI/REST `--truncation`, the New samples slider) draws the same images
    np.testing.assert_allclose(sample(module, 4, seed=1, truncation=0.5), half, atol=1e-6)


def test_style_mixing_takes_coarse_styles_from_rows_and_fine_ones_from_columns() -> None:
    module = tiny_module(progressive=False)
    layers = styles.style_layers(module)
    assert layers == 6, "16 px: 4, 8 and 16 px, two style layers each"
    grid = styles.style_mix(module, [1, 2], [3, 4, 5], crossover=layers // 2)
    assert grid.shape == (6, 1, 16, 16)
    all_coarse = styles.style_mix(module, [1], [3], crossover=layers)  # every layer styled by the row seed
    all_fine = styles.style_mix(module, [1], [3], crossover=0)  # every layer styled by the column seed
    np.testing.assert_allclose(all_coarse, styles.truncated(module, 1, seed=1), atol=1e-6)
    np.testing.assert_allclose(all_fine, styles.truncated(module, 1, seed=3), atol=1e-6)
    assert not np.allclose(grid[0], grid[1]), "same coarse seed, other fine seed: the image changes"
    assert not np.allclose(grid[0], grid[3]), "same fine seed, other coarse seed: the image changes"


def test_a_walk_in_w_runs_from_one_seed_to_the_other() -> None:
    module = tiny_module()
    strip = styles.w_walk(module, 1, 2, 5, psi=1.0)
    ends = styles.style_mix(module, [1, 2], [1, 2], crossover=0)  # (1,1), (1,2), (2,1), (2,2): pure seeds
    assert strip.shape[0] == 5
    np.testing.assert_allclose(strip[0], ends[0], atol=1e-6)
    np.testing.assert_allclose(strip[-1], ends[3], atol=1e-6)


@pytest.mark.parametrize("psi", [-0.1, 1.5])
def test_a_truncation_outside_0_1_is_refused_with_the_same_words_everywhere(psi: float, home, capsys) -> None:
    raw = FAM.tiny_config().model_dump(mode="json")
    raw["model"]["truncation_psi"] = psi
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert f"model.truncation_psi: {TRUNCATION_RULE}" in str(err.value), str(err.value)
    code = main(
        ["train", "--config", str(ROOT / "configs" / "stylegan_mnist.yaml"), "--set", f"model.truncation_psi={psi}"]
    )
    err = capsys.readouterr().err
    assert code == 2 and f"model.truncation_psi: {TRUNCATION_RULE}" in err and "Traceback" not in err
    assert not (home / "runs").exists() or not any((home / "runs").iterdir()), "no run is created"
    module = tiny_module()
    for door in (lambda: styles.truncated(module, 2, psi=psi), lambda: sample(module, 2, truncation=psi)):
        with pytest.raises(GenLabError) as err:
            door()
        assert TRUNCATION_RULE in str(err.value) and str(psi) in str(err.value)


@pytest.mark.parametrize(
    ("data", "model", "says"),
    [
        (
            {"image_size": 32},
            {"progressive": True, "start_size": 12},
            "starts at a power of two (4, 8, 16 ...); got 12",
        ),
        ({"image_size": 16}, {"progressive": True, "start_size": 16}, "16 is not 16 x 2^k. Use a start_size of 4, 8"),
        ({"image_size": 16}, {"progressive": True, "start_size": 32}, "16 is not 32 x 2^k"),
        ({"image_size": 28}, {"progressive": False}, "must be a power of two (16, 32 or 64); got 28"),
    ],
)
def test_a_growth_that_cannot_reach_the_image_size_is_refused(data: dict, model: dict, says: str) -> None:
    with pytest.raises(ConfigError, match=None) as err:
        parse_config({"family": "stylegan", "data": data, "model": model})
    assert says in str(err.value), str(err.value)


def test_the_growing_cli_config_error_exits_2(home, capsys) -> None:
    code = main(["train", "--config", str(ROOT / "configs" / "stylegan_emoji.yaml"), "--set", "model.start_size=64"])
    err = capsys.readouterr().err
    assert code == 2 and "32 is not 64 x 2^k" in err and "Traceback" not in err
